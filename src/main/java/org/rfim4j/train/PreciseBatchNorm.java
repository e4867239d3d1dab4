package org.rfim4j.train;

import java.util.ArrayList;
import java.util.List;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.BatchNorm;
import org.rfim4j.nn.DenseLayer;
import org.rfim4j.nn.Mlp;

/**
 * Population batch-norm statistics recomputed over a training set ("precise BN", Wu and Johnson 2021): the
 * training set is passed forward in training mode in consecutive mini-batches of the training batch size
 * (a last, smaller batch is left out), and every batch-norm layer's running mean and variance become the
 * equally weighted average of the batches' means and (unbiased) variances, as if the decay of the running
 * averages were {@code k / (k + 1)} at batch k. Parameters do not change.
 *
 * <p>Evaluating with these statistics measures the weights the optimizer has reached, not the lag of the
 * exponential running averages (TensorFlow's decay 0.999 averages over about the last 1000 steps' weights).
 * {@link #recompute} saves the running statistics the model had, {@link #restore} puts them back, so that
 * training continues exactly as without the pass. The training set is uploaded once, when this is built.
 */
public final class PreciseBatchNorm implements AutoCloseable {
  private final Mlp model;
  private final Backend backend;
  private final DeviceDataset train;
  private final int batch;
  private final List<BatchNorm> layers = new ArrayList<>();
  private List<double[]> saved;

  /**
   * @param model the network (a model without batch norm is allowed: the pass then does nothing)
   * @param train the training set whose population statistics are computed
   * @param batch rows per forward pass (the training batch size), at most the model's maxBatch and the
   *     training set's size
   */
  public PreciseBatchNorm(Mlp model, Dataset train, int batch) {
    if (batch < 1 || batch > model.maxBatch()) {
      throw new IllegalArgumentException("precise BN batch must be in [1, " + model.maxBatch() + "], got " + batch);
    }
    if (train.n() < batch) {
      throw new IllegalArgumentException("precise BN needs at least one batch of " + batch + " rows; "
          + train.name() + " has " + train.n());
    }
    this.model = model;
    this.backend = model.backend();
    this.batch = batch;
    for (DenseLayer l : model.layers()) {
      if (l.batchNorm() != null) {
        layers.add(l.batchNorm());
      }
    }
    this.train = layers.isEmpty() ? null : new DeviceDataset(backend, train);
  }

  /** Whether the model has batch-norm layers (otherwise recompute and restore do nothing). */
  public boolean active() {
    return !layers.isEmpty();
  }

  /**
   * Saves every batch-norm layer's running statistics, then replaces them by the training set's population
   * statistics. Call {@link #restore} before training goes on.
   */
  public void recompute() {
    if (layers.isEmpty()) {
      return;
    }
    if (saved != null) {
      throw new IllegalStateException("precise BN: recompute called twice without restore");
    }
    List<double[]> s = new ArrayList<>();
    for (BatchNorm bn : layers) {
      s.add(backend.download(bn.runningMean()));
      s.add(backend.download(bn.runningVar()));
    }
    saved = s;
    int batches = train.size() / batch;
    for (int k = 0; k < batches; k++) {
      model.forwardAccumulatingStatistics(backend.rows(train.features, k * batch, (k + 1) * batch),
          (double) k / (k + 1));
    }
    backend.synchronize();
  }

  /** Puts back the running statistics saved by {@link #recompute}. */
  public void restore() {
    if (layers.isEmpty()) {
      return;
    }
    if (saved == null) {
      throw new IllegalStateException("precise BN: restore without recompute");
    }
    for (int i = 0; i < layers.size(); i++) {
      backend.upload(layers.get(i).runningMean(), saved.get(2 * i));
      backend.upload(layers.get(i).runningVar(), saved.get(2 * i + 1));
    }
    backend.synchronize();
    saved = null;
  }

  @Override
  public void close() {
    if (train != null) {
      train.close();
    }
  }
}
