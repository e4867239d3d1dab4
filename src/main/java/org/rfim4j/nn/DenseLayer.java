package org.rfim4j.nn;

import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.optim.Trainable;

/**
 * One dense layer {@code A = [X, 1] W}, followed (hidden layers) by the activation and, in BNA networks, by
 * batch normalisation. W is (fan-in + 1) x fan-out, column i is neuron i and the last row holds the
 * biases (MATH.md section 1). The layer owns its forward caches, sized for the model's largest batch.
 */
public final class DenseLayer implements Trainable.Dense, AutoCloseable {
  private final Backend backend;
  final int index;
  final int fanIn;
  final int fanOut;
  final Activation activation;
  final Parameter weights;
  final BatchNorm batchNorm;

  /** Forward caches (maxBatch rows); the views used in a step cover the first B rows. */
  final DeviceArray preActivation;
  final DeviceArray output;
  /** Gradient with respect to the pre-activation (the backward "Delta"). */
  final DeviceArray delta;

  DeviceArray input;
  int batch;

  DenseLayer(Backend backend, int index, int fanIn, int fanOut, Activation activation, boolean batchNorm,
      int maxBatch, double bnMomentum, double bnEps) {
    this.backend = backend;
    this.index = index;
    this.fanIn = fanIn;
    this.fanOut = fanOut;
    this.activation = activation;
    this.weights = new Parameter("W" + (index + 1), ParameterRole.DENSE_WEIGHTS, index,
        backend.allocate(fanIn + 1, fanOut), backend.allocate(fanIn + 1, fanOut));
    this.preActivation = backend.allocate(maxBatch, fanOut);
    this.output = activation == null ? null : backend.allocate(maxBatch, fanOut);
    this.delta = backend.allocate(maxBatch, fanOut);
    this.batchNorm = batchNorm ? new BatchNorm(backend, index, fanOut, maxBatch, bnMomentum, bnEps) : null;
  }

  /** 0-based layer index, input layer first. */
  public int index() {
    return index;
  }

  @Override
  public int fanIn() {
    return fanIn;
  }

  @Override
  public int fanOut() {
    return fanOut;
  }

  /** The hidden activation, or {@code null} for the softmax (output) layer. */
  @Override
  public Activation activation() {
    return activation;
  }

  public boolean isOutput() {
    return activation == null;
  }

  public Parameter weights() {
    return weights;
  }

  /** Batch norm after the activation, or null. */
  public BatchNorm batchNorm() {
    return batchNorm;
  }

  /** The weight tensor's name (W1, W2, ...). */
  @Override
  public String id() {
    return weights.name();
  }

  @Override
  public DeviceArray weightValues() {
    return weights.value();
  }

  @Override
  public DeviceArray weightGradient() {
    return weights.grad();
  }

  /** The input X (B x fanIn) of the most recent forward pass (without the augmented 1 column). */
  @Override
  public DeviceArray lastInput() {
    return input;
  }

  /** Pre-activations A (B x fanOut) of the most recent forward pass. */
  @Override
  public DeviceArray lastPreActivation() {
    return backend.rows(preActivation, 0, batch);
  }

  /** Pre-activations A (B x fanOut) of the most recent forward pass, as a view made by {@code backend}. */
  public DeviceArray lastPreActivation(Backend backend) {
    return backend.rows(preActivation, 0, batch);
  }

  /** Rows of the most recent forward pass. */
  public int lastBatch() {
    return batch;
  }

  @Override
  public void close() {
    weights.value().close();
    weights.grad().close();
    preActivation.close();
    if (output != null) {
      output.close();
    }
    delta.close();
    if (batchNorm != null) {
      batchNorm.close();
    }
  }
}
