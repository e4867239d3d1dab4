package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Mlp;
import org.rfim4j.optim.Optimizer;

/**
 * Mini-batch training of an {@link Mlp} with an {@link Optimizer}. Data is uploaded to the backend once
 * per {@link #fit}; each epoch shuffles an index array on the host (seeded by epoch) and the backend
 * gathers every mini-batch from it. Listeners receive progress, learning-curve rows and the end of the
 * run.
 *
 * <p>By default each {@code fit} releases its device data when it returns. A caller that trains in
 * several {@code fit} calls (a few epochs at a time, as the optimizer race does) can ask the trainer to
 * {@link #retainDeviceData keep} the uploaded datasets, mini-batch buffers and captured step between
 * calls, and then {@link #close} it; the run is the same bit for bit either way.
 */
public final class Trainer implements AutoCloseable {
  private final Mlp model;
  private final Optimizer optimizer;
  private final TrainerConfig config;
  private final Backend backend;
  private final List<TrainingListener> listeners = new ArrayList<>();
  private final List<EpochResult> curve = new ArrayList<>();
  private int completedEpochs;
  private int stepFrom;
  private double seconds;
  private boolean retain;
  /** Device data kept between fit calls (retainDeviceData), or null. */
  private Resources kept;

  public Trainer(Mlp model, Optimizer optimizer, TrainerConfig config) {
    if (config.batchSize() > model.maxBatch() || config.evalBatch() > model.maxBatch()) {
      throw new IllegalArgumentException("batch size " + Math.max(config.batchSize(), config.evalBatch())
          + " exceeds the model's maxBatch " + model.maxBatch());
    }
    this.model = model;
    this.optimizer = optimizer;
    this.config = config;
    this.backend = model.backend();
  }

  public Trainer addListener(TrainingListener listener) {
    listeners.add(listener);
    return this;
  }

  /** Continues a resumed run: the next epoch is {@code completed + 1}, elapsed seconds carry on. */
  public Trainer resumeAt(int completed, double elapsedSeconds, List<EpochResult> previousCurve) {
    this.completedEpochs = completed;
    this.seconds = elapsedSeconds;
    curve.clear();
    curve.addAll(previousCurve);
    return this;
  }

  /**
   * Keeps the uploaded training and validation data, the mini-batch buffers and the captured training
   * step after {@link #fit} returns, for the next {@code fit} on the same {@link Dataset} objects (other
   * datasets replace them). Release them with {@link #close}.
   */
  public Trainer retainDeviceData() {
    this.retain = true;
    return this;
  }

  /** Releases device data kept by {@link #retainDeviceData} (nothing otherwise); idempotent. */
  @Override
  public void close() {
    if (kept != null) {
      Resources r = kept;
      kept = null;
      r.close();
    }
  }

  public int completedEpochs() {
    return completedEpochs;
  }

  public double elapsedSeconds() {
    return seconds;
  }

  /** The learning curve so far. */
  public List<EpochResult> curve() {
    return Collections.unmodifiableList(curve);
  }

  /**
   * Trains until {@code config.epochs()} epochs are complete, evaluating on {@code validation} after each.
   *
   * @throws TrainingStoppedException if a listener stops the run (e.g. divergence)
   */
  public List<EpochResult> fit(Dataset train, Dataset validation) {
    return fit(train, validation, config.epochs());
  }

  /**
   * Trains until {@code untilEpoch} epochs are complete (at least the completed count), evaluating on
   * {@code validation} after each; the other settings come from the trainer's config.
   *
   * @throws TrainingStoppedException if a listener stops the run (e.g. divergence)
   */
  public List<EpochResult> fit(Dataset train, Dataset validation, int untilEpoch) {
    checkCompatible(train);
    checkCompatible(validation);
    if (untilEpoch < 1) {
      throw new IllegalArgumentException("untilEpoch must be >= 1, got " + untilEpoch);
    }
    int n = train.n();
    int b = config.batchSize();
    int steps = (n + b - 1) / b;
    TrainingInfo info = new TrainingInfo(optimizer.name() + " lr=" + optimizer.learningRate(),
        model.config().describe() + " " + model.config().activation() + " " + model.config().architecture(),
        backend.name(), untilEpoch, steps, b, n, validation.n());
    listeners.forEach(l -> l.onStart(info));
    Resources res = kept != null && kept.serves(train, validation, b) ? kept : null;
    if (res == null) {
      close();
      res = new Resources(train, validation, b);
    }
    kept = retain ? res : null;
    try {
      train(res, n, b, steps, untilEpoch);
    } catch (RuntimeException | Error e) {
      if (!retain) {
        try {
          res.close();
        } catch (RuntimeException c) {
          e.addSuppressed(c);
        }
      }
      throw e;
    }
    if (!retain) {
      res.close();
    }
    listeners.forEach(l -> l.onEnd(curve));
    return curve();
  }

  /** The device side of a fit: datasets, index, mini-batch buffers, loss statistics, captured step. */
  private final class Resources implements AutoCloseable {
    final Dataset trainSrc;
    final Dataset valSrc;
    final int batch;
    final List<AutoCloseable> owned = new ArrayList<>();
    final DeviceDataset dTrain;
    final DeviceDataset dVal;
    final DeviceArray index;
    final DeviceArray xb;
    final DeviceArray yb;
    final DeviceArray stats;
    /** One captured step per {@link Optimizer#nextStepKind() kind}, created when a kind first runs. */
    final Map<String, ReplayableStep> graphSteps = new HashMap<>();

    Resources(Dataset train, Dataset validation, int b) {
      this.trainSrc = train;
      this.valSrc = validation;
      this.batch = b;
      try {
        dTrain = own(new DeviceDataset(backend, train));
        dVal = own(new DeviceDataset(backend, validation));
        index = own(backend.allocate(train.n(), 1));
        xb = own(backend.allocate(b, train.d()));
        yb = own(backend.allocate(b, 1));
        stats = own(backend.allocate(2));
      } catch (RuntimeException | Error e) {
        close();
        throw e;
      }
    }

    /**
     * The replayable full-batch step of the optimizer's next step kind: full-batch steps that the optimizer
     * says are capturable may become one CUDA graph launch each, one graph per kind.
     */
    ReplayableStep graphStep(String kind) {
      ReplayableStep r = graphSteps.get(kind);
      if (r == null) {
        r = own(backend.captureStep(kind, () -> {
          backend.gatherBatch(dTrain.features, dTrain.labels, index, stepFrom, xb, yb);
          model.forward(xb, true, true);
          model.lossAndGradient(yb, stats);
          optimizer.step();
        }));
        graphSteps.put(kind, r);
      }
      return r;
    }

    private <T extends AutoCloseable> T own(T x) {
      owned.add(x);
      return x;
    }

    boolean serves(Dataset train, Dataset validation, int b) {
      return train == trainSrc && validation == valSrc && b == batch;
    }

    @Override
    public void close() {
      RuntimeException first = null;
      for (int i = owned.size() - 1; i >= 0; i--) {
        try {
          owned.get(i).close();
        } catch (Exception e) {
          if (first == null) {
            first = e instanceof RuntimeException ? (RuntimeException) e : new IllegalStateException(e);
          }
        }
      }
      owned.clear();
      graphSteps.clear();
      if (first != null) {
        throw first;
      }
    }
  }

  private void train(Resources res, int n, int b, int steps, int untilEpoch) {
    DeviceDataset dTrain = res.dTrain;
    DeviceDataset dVal = res.dVal;
    DeviceArray index = res.index;
    DeviceArray xb = res.xb;
    DeviceArray yb = res.yb;
    DeviceArray stats = res.stats;
    {
      int[] perm = new int[n];
      double[] permD = new double[n];
      for (int epoch = completedEpochs + 1; epoch <= untilEpoch; epoch++) {
        shuffle(perm, config.shuffleSeed(), epoch);
        for (int i = 0; i < n; i++) {
          permD[i] = perm[i];
        }
        backend.upload(index, permD);
        backend.fill(stats, 0);
        backend.synchronize();
        long t0 = System.nanoTime();
        int seen = 0;
        for (int s = 0; s < steps; s++) {
          int from = s * b;
          int rows = Math.min(b, n - from);
          if (rows == b && config.cudaGraphs() && optimizer.nextStepCapturable()) {
            stepFrom = from;
            res.graphStep(optimizer.nextStepKind()).run();
          } else {
            DeviceArray x = rows == b ? xb : backend.rows(xb, 0, rows);
            DeviceArray y = rows == b ? yb : backend.rows(yb, 0, rows);
            backend.gatherBatch(dTrain.features, dTrain.labels, index, from, x, y);
            model.forward(x, true, true);
            model.lossAndGradient(y, stats);
            optimizer.step();
          }
          seen += rows;
          if ((s + 1) % config.checkEvery() == 0 && s + 1 < steps) {
            double running = backend.download(stats)[0] / seen;
            progress(epoch, optimizer.iterations(), s + 1, running);
          }
        }
        backend.synchronize();
        seconds += (System.nanoTime() - t0) * 1e-9;
        double[] st = backend.download(stats);
        progress(epoch, optimizer.iterations(), steps, st[0] / n);
        Evaluation val = evaluate(dVal);
        // The epoch is checked before any listener sees it: a diverged epoch must not reach the checkpoint
        // saver or the curve writers, so that they keep the last good epoch.
        String diverged = divergence(st[0] / n, val.loss());
        if (diverged != null) {
          stop("training diverged: " + diverged + " after epoch " + epoch + "; try a smaller learning rate");
        }
        EpochResult r = new EpochResult(epoch, st[0] / n, st[1] / n, val.loss(), val.error(), seconds);
        curve.add(r);
        completedEpochs = epoch;
        listeners.forEach(l -> l.onEpochEnd(r));
      }
    }
  }

  private void progress(int epoch, long step, int inEpoch, double running) {
    for (TrainingListener l : listeners) {
      String reason = l.onProgress(epoch, step, inEpoch, running);
      if (reason != null) {
        stop(reason);
      }
    }
  }

  /**
   * Stops the run. The reason gains which epoch was kept: the last one the listeners saw (the epoch in
   * progress never reaches them).
   */
  private void stop(String reason) {
    String full = reason + (completedEpochs > 0 ? "; kept epoch " + completedEpochs + ", the last complete one"
        : "; no epoch was kept (none completed)");
    listeners.forEach(l -> l.onStop(full));
    throw new TrainingStoppedException(full, completedEpochs);
  }

  /**
   * Why the epoch just trained diverged, or null: a non-finite training or validation loss, or a non-finite
   * value in the model's arrays or the optimizer's state (a ReLU maps NaN pre-activations to 0, so NaN
   * weights can leave every loss finite).
   */
  private String divergence(double trainLoss, double valLoss) {
    if (!Double.isFinite(trainLoss)) {
      return "training loss is " + trainLoss;
    }
    if (!Double.isFinite(valLoss)) {
      return "validation loss is " + valLoss;
    }
    List<String> bad = FiniteCheck.nonFinite(backend, model.namedArrays());
    if (!bad.isEmpty()) {
      return "non-finite values in the model's " + String.join(", ", bad);
    }
    bad = FiniteCheck.nonFinite(backend, optimizer.state());
    if (!bad.isEmpty()) {
      return "non-finite values in the optimizer's " + String.join(", ", bad);
    }
    return null;
  }

  /** Mean cross-entropy and error on a dataset, in inference mode. */
  public Evaluation evaluate(Dataset data) {
    checkCompatible(data);
    try (DeviceDataset d = new DeviceDataset(backend, data)) {
      return evaluate(d);
    }
  }

  /** Mean cross-entropy and error on a dataset already on the backend, in inference mode. */
  public Evaluation evaluate(DeviceDataset d) {
    int n = d.size();
    try (DeviceArray stats = backend.allocate(2)) {
      for (int from = 0; from < n; from += config.evalBatch()) {
        int to = Math.min(n, from + config.evalBatch());
        model.forward(backend.rows(d.features, from, to), false, false);
        model.loss(backend.rows(d.labels, from, to), stats);
      }
      double[] s = backend.download(stats);
      return new Evaluation(s[0] / n, s[1] / n, n);
    }
  }

  private void checkCompatible(Dataset data) {
    if (data.d() != model.config().inputs()) {
      throw new IllegalArgumentException("dataset " + data.name() + " has " + data.d()
          + " features per example, the model expects " + model.config().inputs());
    }
    if (data.classes() > model.config().classes()) {
      throw new IllegalArgumentException("dataset " + data.name() + " has " + data.classes()
          + " classes, the model has " + model.config().classes() + " outputs");
    }
  }

  /**
   * The order in which epoch {@code epoch} visits the training examples: a Fisher-Yates shuffle of
   * {@code 0..perm.length-1} from a {@code SplittableRandom} seeded with {@code seed * 0x9E3779B97F4A7C15 + epoch}.
   * Public so that code outside the trainer (the framework integrations' examples) can visit the data in
   * exactly rfim4j's order.
   */
  public static void shuffle(int[] perm, long seed, int epoch) {
    for (int i = 0; i < perm.length; i++) {
      perm[i] = i;
    }
    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
    for (int i = perm.length - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
}
