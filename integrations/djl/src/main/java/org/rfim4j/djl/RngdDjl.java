package org.rfim4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import java.util.ArrayList;
import java.util.List;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * RNGD (Sun and Nielsen 2017; rfim4j's relative natural gradient, MATH.md section 8) for a DJL network: a
 * {@link SequentialBlock} of {@link Linear} blocks and activations trained with softmax cross-entropy.
 *
 * <pre>{@code
 * SequentialBlock net = new SequentialBlock()
 *     .add(Linear.builder().setUnits(80).build()).add(Activation.reluBlock())
 *     .add(Linear.builder().setUnits(80).build()).add(Activation.reluBlock())
 *     .add(Linear.builder().setUnits(10).build());
 * try (RngdDjl rngd = RngdDjl.builder(RngdConfig.defaults(0.03)).l2(1e-3).maxBatch(50).build(net);
 *      Model model = Model.newInstance("mlp")) {
 *   model.setBlock(rngd.block());                       // each Linear wrapped to record its input and output
 *   try (Trainer trainer = model.newTrainer(rngd.trainingConfig(Loss.softmaxCrossEntropyLoss()))) {
 *     trainer.initialize(new Shape(50, 784));
 *     ... EasyTrain.fit(trainer, epochs, train, validation) or your own loop: forward, backward, trainer.step()
 *   }
 * }
 * }</pre>
 *
 * <p>What it does (MATH.md 8.2, metric-first order): each training forward pass records every layer's input
 * and pre-activations ({@link RecordingLinear}); {@code trainer.step()} then updates every layer's relative
 * Fisher metric, refreshes the inverses every T steps, and steps each layer's weights and bias jointly
 * ({@code W -= lr G^-1 (grad + beta W)}, bias as the last row and not regularised) through
 * {@link RngdOptimizer}. The metrics live on an rfim4j backend (the float64 CPU engine by default).
 *
 * <p><b>L2:</b> the L2 term {@code (beta/2) ||W||^2} on non-bias weights belongs in {@link Builder#l2}: it is
 * added inside the preconditioned gradient (MATH.md A5). Do not add it anywhere else (not to the loss, not as
 * DJL weight decay): it would be counted twice, and outside the preconditioning.
 *
 * <p>Refused with an {@link IllegalArgumentException} naming the block, before anything changes: other blocks
 * (dropout, batch norm, convolutions, anything with parameters), unnamed or unknown activations, Linear blocks
 * without bias, an activation after the last Linear block ({@link NetworkPlan} lists what is accepted), and
 * losses other than softmax cross-entropy on logits with sparse labels ({@link #checkLoss}).
 *
 * <p>Closing releases the metrics (and the backend, when this object opened it).
 */
public final class RngdDjl implements AutoCloseable {
  private final RngdConfig config;
  private final double l2;
  private final Backend backend;
  private final boolean ownsBackend;
  private final SequentialBlock block;
  private final List<RecordingLinear> recorders;
  private final List<NetworkPlan.Layer> layers;
  private final RngdOptimizer optimizer;
  private final StepTimings timings = new StepTimings();
  private boolean closed;

  private RngdDjl(Builder b, NetworkPlan plan) {
    this.config = b.config;
    this.l2 = b.l2;
    this.layers = plan.layers();
    List<RecordingLinear> recs = new ArrayList<>();
    SequentialBlock wrapped = new SequentialBlock();
    int l = 0;
    for (Block child : plan.children()) {
      if (child instanceof Linear) {
        RecordingLinear r = new RecordingLinear(layers.get(l).id(), (Linear) child, timings);
        recs.add(r);
        wrapped.add(r);
        l++;
      } else {
        wrapped.add(child);
      }
    }
    this.recorders = List.copyOf(recs);
    this.block = wrapped;
    this.ownsBackend = b.backend == null;
    this.backend = b.backend != null ? b.backend : BackendSelector.open(b.device, System.err::println);
    this.optimizer = new RngdOptimizer(config, l2, b.maxBatch, backend, timings, layers, recorders);
  }

  /** A builder with the RNGD hyper-parameters (learning rate, lambda, T, damping, metric kinds). */
  public static Builder builder(RngdConfig config) {
    return new Builder(config);
  }

  /** Settings of an {@link RngdDjl}. */
  public static final class Builder {
    private final RngdConfig config;
    private double l2;
    private int maxBatch;
    private String device = "cpu";
    private Backend backend;

    private Builder(RngdConfig config) {
      if (config == null) {
        throw new IllegalArgumentException("RNGD for DJL needs an RngdConfig (e.g. RngdConfig.defaults(0.03))");
      }
      if (config.order() != RngdConfig.Order.METRIC_FIRST) {
        throw new IllegalArgumentException("RNGD for DJL runs the canonical metric-first order (MATH.md 8.2); "
            + "step-first order needs a second forward pass at the new weights inside the step, which DJL's "
            + "optimizer interface cannot run");
      }
      this.config = config;
    }

    /** beta of the L2 term (beta/2) ||W||^2 on non-bias weights (default 0; the paper uses 1e-3). */
    public Builder l2(double beta) {
      if (!(beta >= 0) || Double.isInfinite(beta)) {
        throw new IllegalArgumentException("L2 beta must be finite and >= 0, got " + beta);
      }
      this.l2 = beta;
      return this;
    }

    /** The largest mini-batch that will be trained on (default: the first batch's size). */
    public Builder maxBatch(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("maxBatch must be >= 1, got " + rows);
      }
      this.maxBatch = rows;
      return this;
    }

    /** Where the metrics live when no backend is given: {@code cpu} (default), {@code cuda} or {@code auto}. */
    public Builder device(String device) {
      this.device = device;
      return this;
    }

    /** An rfim4j backend to keep the metrics on; the caller keeps ownership (not closed by RngdDjl). */
    public Builder backend(Backend backend) {
      this.backend = backend;
      return this;
    }

    /**
     * Checks the network and builds the integration. The network's blocks are reused, not copied: train
     * {@link RngdDjl#block()}, which holds them.
     *
     * @throws IllegalArgumentException naming the first unsupported block
     */
    public RngdDjl build(SequentialBlock net) {
      return new RngdDjl(this, NetworkPlan.of(net));
    }
  }

  /**
   * The network to train: the original children in order, each {@code Linear} wrapped in a
   * {@link RecordingLinear}. Its parameters are the original blocks' parameters.
   */
  public SequentialBlock block() {
    return block;
  }

  /** The optimizer to put into the training configuration. */
  public RngdOptimizer optimizer() {
    return optimizer;
  }

  /**
   * A training configuration with {@code loss} (checked by {@link #checkLoss}) and this optimizer; add
   * evaluators, listeners and devices to it as usual.
   */
  public DefaultTrainingConfig trainingConfig(Loss loss) {
    checkLoss(loss);
    return new DefaultTrainingConfig(loss).optOptimizer(optimizer);
  }

  /** The recorded layers, input layer first (their ids L1, L2, ... are the preconditioner's layer ids). */
  public List<RecordingLinear> layers() {
    return recorders;
  }

  /** The activation after each layer ({@code null} for the output layer), as recognised. */
  public List<org.rfim4j.backend.Activation> activations() {
    List<org.rfim4j.backend.Activation> a = new ArrayList<>();
    layers.forEach(l -> a.add(l.activation()));
    return a;
  }

  public RngdConfig config() {
    return config;
  }

  public double l2() {
    return l2;
  }

  public Backend backend() {
    return backend;
  }

  /** The preconditioner (metrics, inverses, step counter), or null before the first step. */
  public RngdPreconditioner preconditioner() {
    return optimizer.preconditioner();
  }

  /** Where the integration's time went (recording, copies, rfim4j's metric work). */
  public StepTimings timings() {
    return timings;
  }

  /**
   * Refuses any loss but DJL's softmax cross-entropy on logits with sparse (class index) labels and weight 1,
   * the loss RNGD's metrics are derived for (MATH.md 8.1). The loss is checked by class and by evaluating it
   * on a small batch against the formula, which catches {@code fromLogit=false}, one-hot labels and weights.
   *
   * @throws IllegalArgumentException naming the loss
   */
  public static void checkLoss(Loss loss) {
    if (loss == null) {
      throw new IllegalArgumentException("RNGD for DJL needs a loss: Loss.softmaxCrossEntropyLoss()");
    }
    String name = "loss '" + loss.getName() + "' (" + loss.getClass().getName() + ")";
    if (!(loss instanceof SoftmaxCrossEntropyLoss)) {
      throw new IllegalArgumentException("RNGD for DJL does not support " + name + ": only softmax cross-entropy "
          + "on the last Linear block's outputs (Loss.softmaxCrossEntropyLoss()); add L2 through RngdDjl.Builder.l2,"
          + " not through the loss");
    }
    float[][] logits = {{1.0f, 2.0f, 0.5f}, {0.25f, -1.0f, 1.5f}};
    int[] labels = {1, 2};
    double expected = 0;
    for (int k = 0; k < logits.length; k++) {
      double z = 0;
      for (float v : logits[k]) {
        z += Math.exp(v);
      }
      expected += -(logits[k][labels[k]] - Math.log(z)) / logits.length;
    }
    double got;
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray pred = m.create(new float[] {1.0f, 2.0f, 0.5f, 0.25f, -1.0f, 1.5f}, new ai.djl.ndarray.types.Shape(2, 3));
      NDArray lab = m.create(new float[] {labels[0], labels[1]});
      got = loss.evaluate(new NDList(lab), new NDList(pred)).getFloat();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("RNGD for DJL does not support " + name + ": evaluating it on logits with "
          + "class-index labels failed (" + e.getMessage() + "); use Loss.softmaxCrossEntropyLoss()", e);
    }
    if (!(Math.abs(got - expected) <= 1e-5 * Math.max(1, Math.abs(expected)))) {
      throw new IllegalArgumentException("RNGD for DJL does not support " + name + ": on a probe batch it gives "
          + got + ", mean softmax cross-entropy of the logits is " + expected + " (fromLogit must be true, labels "
          + "sparse, weight 1); use Loss.softmaxCrossEntropyLoss()");
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (optimizer.preconditioner() != null) {
      optimizer.preconditioner().close();
    }
    if (ownsBackend) {
      backend.close();
    }
  }
}
