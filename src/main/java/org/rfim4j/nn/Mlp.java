package org.rfim4j.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.optim.Trainable;

/**
 * A multi-layer perceptron with softmax cross-entropy, written once against {@link Backend}.
 *
 * <p>Objective (MATH.md 8.1): {@code E = (1/B) sum_k -log P[k, y_k] + (beta/2) sum_l ||W_l[0:fanIn, :]||^2};
 * biases (the last row of each W) are not regularised. A step is {@link #forward}, {@link #lossAndGradient}
 * (which runs the backward pass), then an optimizer step over {@link #parameters()}.
 *
 * <p>Initialisation: every weight, bias row included, is drawn from a normal distribution with standard
 * deviation {@code initStd} truncated at two standard deviations (TensorFlow's truncated_normal, as the
 * paper's reference code), from a {@link SplittableRandom} seeded with the config's seed, layer by layer
 * in row-major order. Batch-norm scales start at 1, shifts at 0.
 */
public final class Mlp implements Trainable, AutoCloseable {
  private final Backend backend;
  private final MlpConfig config;
  private final int maxBatch;
  private final List<DenseLayer> layers = new ArrayList<>();
  private final List<Parameter> parameters = new ArrayList<>();
  private final DeviceArray probs;
  private DeviceArray lastInput;
  private int batch;

  /** Builds the network for mini-batches of at most {@code maxBatch} rows and initialises it. */
  public Mlp(Backend backend, MlpConfig config, int maxBatch) {
    if (maxBatch <= 0) {
      throw new IllegalArgumentException("maxBatch must be positive, got " + maxBatch);
    }
    this.backend = backend;
    this.config = config;
    this.maxBatch = maxBatch;
    int[] w = config.widths();
    for (int l = 0; l + 1 < w.length; l++) {
      boolean output = l + 2 == w.length;
      DenseLayer layer = new DenseLayer(backend, l, w[l], w[l + 1], output ? null : config.activation(),
          !output && config.architecture() == Architecture.BNA, maxBatch, config.bnMomentum(), config.bnEps());
      layers.add(layer);
      parameters.add(layer.weights);
      if (layer.batchNorm != null) {
        parameters.add(layer.batchNorm.scale);
        parameters.add(layer.batchNorm.shift);
      }
    }
    this.probs = backend.allocate(maxBatch, config.classes());
    initialise();
  }

  /**
   * Truncated-normal weights of std {@code initStd}, drawn in double and rounded to float32 on every backend:
   * the float32 engine, CUDA and the float64 reference then start from the same weights for one seed, so what
   * differs between them afterwards is their arithmetic alone (a float64 run from the unrounded draws ends up
   * to 0.14 points of validation error away after 3 epochs from a 6e-8 change of its start alone:
   * {@code benchmarks/results/2026-12-06-precision-start/}).
   */
  private void initialise() {
    SplittableRandom rng = new SplittableRandom(config.seed());
    for (DenseLayer layer : layers) {
      double[] v = new double[(layer.fanIn + 1) * layer.fanOut];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (truncatedNormal(rng) * config.initStd());
      }
      backend.upload(layer.weights.value(), v);
    }
  }

  /** Standard normal truncated to [-2, 2] by redrawing (Marsaglia polar method). */
  static double truncatedNormal(SplittableRandom rng) {
    while (true) {
      double u = 2 * rng.nextDouble() - 1;
      double v = 2 * rng.nextDouble() - 1;
      double s = u * u + v * v;
      if (s >= 1 || s == 0) {
        continue;
      }
      double z = u * Math.sqrt(-2 * Math.log(s) / s);
      if (Math.abs(z) <= 2) {
        return z;
      }
    }
  }

  @Override
  public Backend backend() {
    return backend;
  }

  public MlpConfig config() {
    return config;
  }

  @Override
  public int maxBatch() {
    return maxBatch;
  }

  /** Dense layers, input layer first. */
  public List<DenseLayer> layers() {
    return Collections.unmodifiableList(layers);
  }

  @Override
  public List<DenseLayer> denseLayers() {
    return layers();
  }

  /** The parameters as optimizers see them: name, value, gradient, and whether they are dense weights. */
  @Override
  public List<Trainable.Tensor> tensors() {
    List<Trainable.Tensor> t = new ArrayList<>();
    for (Parameter p : parameters) {
      t.add(new Trainable.Tensor(p.name(), p.value(), p.grad(), p.role() == ParameterRole.DENSE_WEIGHTS));
    }
    return t;
  }

  /** The last forward pass again, training mode, running statistics untouched (RNGD step-first). */
  @Override
  public void forwardAgain() {
    if (lastInput == null) {
      throw new IllegalStateException("forwardAgain: no forward pass yet");
    }
    forward(lastInput, true, false);
  }

  /** All trainable parameters in a fixed order (layer by layer: W, then BN scale and shift). */
  public List<Parameter> parameters() {
    return Collections.unmodifiableList(parameters);
  }

  /** The input of the most recent forward pass. */
  public DeviceArray lastInput() {
    return lastInput;
  }

  /**
   * Forward pass on x (B x inputs, B &lt;= maxBatch). In training mode batch norm uses batch statistics
   * and, if {@code updateRunningStats}, updates its running averages. Returns the logits (a view).
   */
  public DeviceArray forward(DeviceArray x, boolean training, boolean updateRunningStats) {
    return forward(x, training, updateRunningStats, Double.NaN);
  }

  /**
   * A training-mode forward pass (batch statistics) that folds this batch's statistics into every batch-norm
   * layer's running ones with weight {@code 1 - keep}: {@code running = keep * running + (1 - keep) * batch}
   * (the variance unbiased, as in training). With {@code keep = k / (k + 1)} for the k-th batch (from 0) the
   * running statistics become the equally weighted average of the batches' (a "precise BN" pass,
   * {@link org.rfim4j.train.PreciseBatchNorm}). Parameters are unchanged; the model's own decay is not used.
   */
  public DeviceArray forwardAccumulatingStatistics(DeviceArray x, double keep) {
    if (!(keep >= 0 && keep <= 1)) {
      throw new IllegalArgumentException("keep must be in [0, 1], got " + keep);
    }
    return forward(x, true, true, keep);
  }

  private DeviceArray forward(DeviceArray x, boolean training, boolean updateRunningStats, double keepOverride) {
    int b = x.rows();
    if (b > maxBatch || b <= 0) {
      throw new IllegalArgumentException("batch of " + b + " rows does not fit this model (maxBatch " + maxBatch + ")");
    }
    if (x.cols() != config.inputs()) {
      throw new IllegalArgumentException("input has " + x.cols() + " columns, the model expects " + config.inputs());
    }
    this.batch = b;
    this.lastInput = x;
    DeviceArray in = x;
    DeviceArray logits = null;
    for (DenseLayer layer : layers) {
      layer.input = in;
      layer.batch = b;
      DeviceArray a = backend.rows(layer.preActivation, 0, b);
      backend.gemm(false, false, 1.0, in, backend.rows(layer.weights.value(), 0, layer.fanIn), 0.0, a);
      DeviceArray bias = backend.rows(layer.weights.value(), layer.fanIn, layer.fanIn + 1);
      if (layer.isOutput()) {
        backend.biasActivationForward(a, bias, org.rfim4j.backend.Activation.IDENTITY, null);
        logits = a;
      } else {
        DeviceArray h = backend.rows(layer.output, 0, b);
        backend.biasActivationForward(a, bias, layer.activation, h);
        in = h;
        BatchNorm bn = layer.batchNorm;
        if (bn != null) {
          DeviceArray z = backend.rows(bn.output, 0, b);
          backend.batchNormForward(h, bn.scale.value(), bn.shift.value(), bn.runningMean, bn.runningVar,
              !updateRunningStats ? 1.0 : Double.isNaN(keepOverride) ? bn.momentum : keepOverride, bn.eps, training, bn.mean, bn.invStd, z);
          in = z;
        }
      }
    }
    return logits;
  }

  /**
   * Softmax cross-entropy of the last forward pass against labels (B values), accumulating
   * (sum of -log p, error count) into {@code stats} (2 elements), then the backward pass: fills every
   * parameter's gradient of E (mean cross-entropy + L2). Requires a training-mode forward pass.
   */
  public void lossAndGradient(DeviceArray labels, DeviceArray stats) {
    DenseLayer last = layers.get(layers.size() - 1);
    DeviceArray logits = backend.rows(last.preActivation, 0, batch);
    DeviceArray delta = backend.rows(last.delta, 0, batch);
    backend.softmaxCrossEntropy(logits, labels, backend.rows(probs, 0, batch), delta, 1.0 / batch, stats);
    for (int l = layers.size() - 1; l >= 0; l--) {
      DenseLayer layer = layers.get(l);
      DeviceArray d = backend.rows(layer.delta, 0, batch);
      DeviceArray gTop = backend.rows(layer.weights.grad(), 0, layer.fanIn);
      DeviceArray gBias = backend.rows(layer.weights.grad(), layer.fanIn, layer.fanIn + 1);
      DeviceArray wTop = backend.rows(layer.weights.value(), 0, layer.fanIn);
      backend.gemm(true, false, 1.0, layer.input, d, 0.0, gTop);
      backend.columnSums(d, 1.0, 0.0, gBias);
      if (config.l2() != 0) {
        backend.axpy(config.l2(), wTop, gTop);
      }
      if (l > 0) {
        DenseLayer prev = layers.get(l - 1);
        DeviceArray prevDelta = backend.rows(prev.delta, 0, batch);
        BatchNorm bn = prev.batchNorm;
        if (bn == null) {
          backend.gemm(false, true, 1.0, d, wTop, 0.0, prevDelta);
        } else {
          DeviceArray dz = backend.rows(bn.dInput, 0, batch);
          backend.gemm(false, true, 1.0, d, wTop, 0.0, dz);
          backend.batchNormBackward(backend.rows(prev.output, 0, batch), dz, bn.scale.value(), bn.mean,
              bn.invStd, prevDelta, bn.scale.grad(), bn.shift.grad());
        }
        backend.activationBackward(prev.activation, backend.rows(prev.preActivation, 0, batch), prevDelta,
            prevDelta);
      }
    }
  }

  /** Softmax cross-entropy statistics of the last forward pass without a backward pass. */
  public void loss(DeviceArray labels, DeviceArray stats) {
    DenseLayer last = layers.get(layers.size() - 1);
    backend.softmaxCrossEntropy(backend.rows(last.preActivation, 0, batch), labels,
        backend.rows(probs, 0, batch), null, 1.0, stats);
  }

  /** Softmax probabilities of the last {@link #loss}/{@link #lossAndGradient} call (B x classes view). */
  public DeviceArray probabilities() {
    return backend.rows(probs, 0, batch);
  }

  /** (beta/2) * sum of squared non-bias weights (synchronises). */
  public double l2Penalty() {
    if (config.l2() == 0) {
      return 0;
    }
    double s = 0;
    for (DenseLayer layer : layers) {
      DeviceArray wTop = backend.rows(layer.weights.value(), 0, layer.fanIn);
      s += backend.dot(wTop, wTop);
    }
    return 0.5 * config.l2() * s;
  }

  /**
   * Every array that defines the model's state, by stable name: parameter values, then batch-norm running
   * statistics ({@code bnL.runningMean}, {@code bnL.runningVar}). Checkpoints save exactly these.
   */
  public java.util.Map<String, DeviceArray> namedArrays() {
    java.util.Map<String, DeviceArray> m = new java.util.LinkedHashMap<>();
    for (Parameter p : parameters) {
      m.put(p.name(), p.value());
    }
    for (DenseLayer layer : layers) {
      if (layer.batchNorm != null) {
        m.put("bn" + (layer.index + 1) + ".runningMean", layer.batchNorm.runningMean);
        m.put("bn" + (layer.index + 1) + ".runningVar", layer.batchNorm.runningVar);
      }
    }
    return m;
  }

  /** Replaces the weights of dense layer {@code layer} ((fanIn+1) x fanOut values, row-major, bias last). */
  public void setWeights(int layer, double[] values) {
    DenseLayer l = layers.get(layer);
    if (values.length != (l.fanIn + 1) * l.fanOut) {
      throw new IllegalArgumentException("layer " + (layer + 1) + " weights need " + (l.fanIn + 1) + " x "
          + l.fanOut + " values, got " + values.length);
    }
    backend.upload(l.weights.value(), values);
  }

  /** Weights of every parameter, downloaded (for inspection, tests and checkpoints). */
  public List<double[]> downloadParameters() {
    List<double[]> out = new ArrayList<>();
    for (Parameter p : parameters) {
      out.add(backend.download(p.value()));
    }
    return out;
  }

  @Override
  public void close() {
    for (DenseLayer layer : layers) {
      layer.close();
    }
    probs.close();
  }
}
