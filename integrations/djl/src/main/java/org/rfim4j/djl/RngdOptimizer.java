package org.rfim4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Nu;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * A DJL {@link Optimizer} that takes relative natural gradient steps (MATH.md section 8, metric-first order)
 * for the {@code Linear} layers of the network an {@link RngdDjl} was built for. Obtain it from
 * {@link RngdDjl#optimizer()}.
 *
 * <h2>How a step runs inside DJL</h2>
 * DJL's {@code Trainer.step()} calls {@link #update} once per parameter, weight and bias of each layer
 * separately, in an order of its choosing. This optimizer treats one round of calls as one RNGD step:
 * <ol>
 *   <li>the first call of a step checks that every layer recorded this step's training forward pass
 *       ({@link RecordingLinear}), then adds every layer's metric to its moving average from the recorded input
 *       and pre-activations (and refreshes the inverses when t mod T == 0): MATH.md 8.2 steps 3 and 4;</li>
 *   <li>each call copies its gradient to the host; when both the weight and the bias gradient of a layer have
 *       arrived, the layer's gradient is packed as rfim4j's (fan-in + 1) x fan-out matrix (DJL's weight is
 *       fan-out x fan-in: transposed; the bias is the last row), {@code beta * W} is added to the non-bias
 *       rows (the L2 term, A5), the whole matrix is preconditioned jointly ({@code G^-1 grad}, A3) and both
 *       parameters step {@code -= lr * G^-1 grad} (step 5), which also zeroes their gradients as DJL's own
 *       optimizers do;</li>
 *   <li>when every layer has stepped, the preconditioner's step counter advances.</li>
 * </ol>
 * A problem found in the first call (no forward pass recorded, a shape that disagrees with the network, a
 * batch larger than {@code maxBatch}) throws before any parameter or metric changes.
 *
 * <p>Not thread-safe, and for one device: a parameter updated twice in one step (DJL's multi-device
 * training) is an error.
 */
public final class RngdOptimizer extends Optimizer {
  private final RngdConfig config;
  private final double l2;
  private final int maxBatchSetting;
  private final Backend backend;
  private final StepTimings timings;
  private final List<LayerState> layers = new ArrayList<>();
  private final Map<String, Target> targets = new HashMap<>();
  private RngdPreconditioner preconditioner;
  private boolean inStep;
  private int layersDone;
  private RuntimeException failure;

  /** One parameter: which layer, weight or bias. */
  private record Target(LayerState layer, boolean bias) {}

  /** A layer's recorder, metric and this step's buffers. */
  private static final class LayerState {
    final NetworkPlan.Layer plan;
    final RecordingLinear recorder;
    final Parameter weight;
    final Parameter bias;
    int fanIn;
    int fanOut;
    long consumed;
    NDArray weightArr;
    NDArray biasArr;
    /** This step's gradients as DJL returned them, fan-out x fan-in and fan-out. */
    float[] gradW;
    float[] gradB;
    /** rfim4j's layout: (fan-in + 1) x fan-out, bias last. */
    double[] grad;
    double[] step;
    /** The step in DJL's layout. */
    float[] stepW;
    float[] stepB;
    /** The step in DJL's layout, in direct buffers handed to DJL without another copy. */
    ByteBuffer stepWOut;
    ByteBuffer stepBOut;

    LayerState(NetworkPlan.Layer plan, RecordingLinear recorder) {
      this.plan = plan;
      this.recorder = recorder;
      this.weight = plan.linear().getDirectParameters().get("weight");
      this.bias = plan.linear().getDirectParameters().get("bias");
    }

    String id() {
      return plan.id();
    }

    void allocate(int in, int out) {
      fanIn = in;
      fanOut = out;
      int n = (in + 1) * out;
      grad = new double[n];
      step = new double[n];
      stepW = new float[in * out];
      stepB = new float[out];
      stepWOut = ByteBuffer.allocateDirect(in * out * Float.BYTES).order(ByteOrder.nativeOrder());
      stepBOut = ByteBuffer.allocateDirect(out * Float.BYTES).order(ByteOrder.nativeOrder());
    }

    void clearStep() {
      weightArr = null;
      biasArr = null;
      gradW = null;
      gradB = null;
    }
  }

  /** The builder DJL's base class requires; nothing of it is configurable from outside. */
  static final class Builder extends OptimizerBuilder<Builder> {
    @Override
    protected Builder self() {
      return this;
    }
  }

  RngdOptimizer(RngdConfig config, double l2, int maxBatch, Backend backend, StepTimings timings,
      List<NetworkPlan.Layer> plan, List<RecordingLinear> recorders) {
    super(new Builder());
    this.config = config;
    this.l2 = l2;
    this.maxBatchSetting = maxBatch;
    this.backend = backend;
    this.timings = timings;
    for (int l = 0; l < plan.size(); l++) {
      LayerState s = new LayerState(plan.get(l), recorders.get(l));
      layers.add(s);
      targets.put(s.weight.getId(), new Target(s, false));
      targets.put(s.bias.getId(), new Target(s, true));
    }
  }

  /** The preconditioner, once the first step has created it (layer ids L1, L2, ...), else null. */
  public RngdPreconditioner preconditioner() {
    return preconditioner;
  }

  /** RNGD steps completed. */
  public long iterations() {
    return preconditioner == null ? 0 : preconditioner.iteration();
  }

  /** The learning rate gamma that multiplies {@code G^-1 grad}. */
  public double learningRate() {
    return config.learningRate();
  }

  @Override
  public void update(String parameterId, NDArray weight, NDArray grad) {
    if (failure != null) {
      throw new IllegalStateException("RNGD: an earlier step failed part-way (" + failure.getMessage()
          + "); the parameters and metrics are no longer consistent, start again from a saved model", failure);
    }
    Target t = targets.get(parameterId);
    if (t == null) {
      throw new IllegalStateException("RNGD for DJL: parameter " + parameterId + " (" + weight.getName()
          + ", shape " + weight.getShape() + ") belongs to no Linear block of the network RngdDjl was built for;"
          + " train the block from RngdDjl.block() and nothing else with this optimizer");
    }
    if (!inStep) {
      beginStep();  // throws before any change
    }
    try {
      accept(t, weight, grad);
    } catch (RuntimeException | Error e) {
      failure = e instanceof RuntimeException ? (RuntimeException) e : new IllegalStateException(e);
      throw e;
    }
  }

  /** Checks every layer's recording and shapes, then observes every layer (MATH.md 8.2 steps 3-4). */
  private void beginStep() {
    int batch = -1;
    for (LayerState s : layers) {
      RecordingLinear r = s.recorder;
      if (r.recordings() == s.consumed) {
        throw new IllegalStateException("RNGD for DJL: layer " + s.id() + " (Linear block " + s.plan.childName()
            + ") recorded no training forward pass since the last step. Train the block returned by "
            + "RngdDjl.block() (model.setBlock(rngd.block())) and run trainer.forward(...) before trainer.step()");
      }
      if (batch < 0) {
        batch = r.recordedBatch();
      } else if (r.recordedBatch() != batch) {
        throw new IllegalStateException("RNGD for DJL: layer " + s.id() + " recorded a batch of "
            + r.recordedBatch() + " rows, layer " + layers.get(0).id() + " one of " + batch
            + " (one forward pass of the whole network per step)");
      }
      Shape ws = s.weight.getArray().getShape();
      if (ws.dimension() != 2 || ws.get(0) != r.recordedFanOut() || ws.get(1) != r.recordedFanIn()) {
        throw new IllegalStateException("RNGD for DJL: layer " + s.id() + " has weights " + ws
            + " but recorded input " + r.recordedFanIn() + " and output " + r.recordedFanOut() + " wide");
      }
      if (s.fanIn != 0 && (s.fanIn != r.recordedFanIn() || s.fanOut != r.recordedFanOut())) {
        throw new IllegalStateException("RNGD for DJL: layer " + s.id() + " changed shape from (" + s.fanIn
            + "+1) x " + s.fanOut + " to (" + r.recordedFanIn() + "+1) x " + r.recordedFanOut());
      }
    }
    if (preconditioner == null) {
      createPreconditioner(batch);
    }
    if (batch > preconditioner.maxBatch()) {
      throw new IllegalArgumentException("RNGD for DJL: a batch of " + batch + " rows is larger than maxBatch "
          + preconditioner.maxBatch() + (maxBatchSetting == 0 ? " (taken from the first batch)" : "")
          + "; set RngdDjl.Builder.maxBatch to the largest batch you train on");
    }
    long t0 = System.nanoTime();
    try {
      for (LayerState s : layers) {
        RecordingLinear r = s.recorder;
        preconditioner.observe(s.id(), r.recordedInput(), 0, r.recordedPreActivations(), 0, batch);
        s.consumed = r.recordings();
      }
    } catch (RuntimeException | Error e) {
      failure = e instanceof RuntimeException ? (RuntimeException) e : new IllegalStateException(e);
      throw e;
    }
    timings.add(StepTimings.Part.METRIC, System.nanoTime() - t0);
    inStep = true;
    layersDone = 0;
  }

  private void createPreconditioner(int firstBatch) {
    List<LayerSpec> specs = new ArrayList<>();
    int n = layers.size();
    for (int l = 0; l < n; l++) {
      LayerState s = layers.get(l);
      int in = s.recorder.recordedFanIn();
      int out = s.recorder.recordedFanOut();
      MetricKind kind = config.kindOf(l, n);
      if (kind == MetricKind.SHARED) {
        specs.add(LayerSpec.shared(s.id(), in, out));
      } else {
        // hidden layers: the activation after them; the output layer (softmax follows) as rfim4j's Rngd: identity
        Nu nu = s.plan.activation() == null ? Nu.identity() : Nu.of(s.plan.activation());
        specs.add(LayerSpec.perNeuron(s.id(), in, out, nu));
      }
    }
    int maxBatch = maxBatchSetting > 0 ? maxBatchSetting : firstBatch;
    RngdPreconditioner p = new RngdPreconditioner(backend, config, maxBatch, specs);
    for (int l = 0; l < n; l++) {
      LayerState s = layers.get(l);
      s.allocate(specs.get(l).fanIn(), specs.get(l).fanOut());
    }
    preconditioner = p;
  }

  private void accept(Target t, NDArray param, NDArray grad) {
    long t0 = System.nanoTime();
    LayerState s = t.layer();
    if (grad.getDataType() != DataType.FLOAT32) {
      throw new IllegalArgumentException("RNGD for DJL: layer " + s.id() + " " + (t.bias() ? "bias" : "weight")
          + " gradient is " + grad.getDataType() + ", float32 expected");
    }
    long expected = t.bias() ? s.fanOut : (long) s.fanIn * s.fanOut;
    if (grad.size() != expected) {
      throw new IllegalArgumentException("RNGD for DJL: layer " + s.id() + " " + (t.bias() ? "bias" : "weight")
          + " gradient has shape " + grad.getShape() + ", expected " + expected + " values");
    }
    if (t.bias()) {
      if (s.biasArr != null) {
        throw twice(s, "bias");
      }
      s.biasArr = param;
      s.gradB = grad.toFloatArray();  // a copy: valid after DJL closes grad
    } else {
      if (s.weightArr != null) {
        throw twice(s, "weight");
      }
      s.weightArr = param;
      s.gradW = grad.toFloatArray();
    }
    timings.add(StepTimings.Part.GRADIENTS, System.nanoTime() - t0);
    if (s.weightArr != null && s.biasArr != null) {
      stepLayer(s);
      s.clearStep();
      if (++layersDone == layers.size()) {
        preconditioner.endStep();
        inStep = false;
        timings.countStep();
      }
    }
  }

  private static IllegalStateException twice(LayerState s, String what) {
    return new IllegalStateException("RNGD for DJL: layer " + s.id() + " " + what + " updated twice in one step "
        + "(training on several devices is not supported)");
  }

  /** Packs, adds L2, preconditions jointly and applies one layer's step (MATH.md 8.2 steps 2 and 5). */
  private void stepLayer(LayerState s) {
    long t0 = System.nanoTime();
    int in = s.fanIn;
    int out = s.fanOut;
    int top = in * out;
    // DJL's weight is fan-out x fan-in, row-major: rfim4j's fan-in x fan-out in column-major order (what
    // Layouts.pack(..., COLUMN_MAJOR, ...) converts); transposed here in one pass with the L2 term added.
    float[] gw = s.gradW;
    double[] g = s.grad;
    if (l2 != 0) {
      float[] w = s.weightArr.toFloatArray();
      for (int j = 0; j < out; j++) {
        int row = j * in;
        for (int i = 0; i < in; i++) {
          g[i * out + j] = gw[row + i] + l2 * (double) w[row + i];  // L2 on non-bias rows only
        }
      }
    } else {
      for (int j = 0; j < out; j++) {
        int row = j * in;
        for (int i = 0; i < in; i++) {
          g[i * out + j] = gw[row + i];
        }
      }
    }
    for (int j = 0; j < out; j++) {
      g[top + j] = s.gradB[j];  // the bias: last row
    }
    long t1 = System.nanoTime();
    preconditioner.precondition(s.id(), g, 0, s.step, 0);
    long t2 = System.nanoTime();
    double[] st = s.step;
    float[] sw = s.stepW;
    for (int j = 0; j < out; j++) {
      int row = j * in;
      for (int i = 0; i < in; i++) {
        sw[row + i] = (float) st[i * out + j];
      }
    }
    for (int j = 0; j < out; j++) {
      s.stepB[j] = (float) st[top + j];
    }
    s.stepWOut.asFloatBuffer().put(sw);
    s.stepBOut.asFloatBuffer().put(s.stepB);
    float lr = (float) config.learningRate();
    apply(s.weightArr, s.stepWOut, lr);
    apply(s.biasArr, s.stepBOut, lr);
    long t3 = System.nanoTime();
    timings.add(StepTimings.Part.GRADIENTS, t1 - t0);
    timings.add(StepTimings.Part.PRECONDITION, t2 - t1);
    timings.add(StepTimings.Part.APPLY, t3 - t2);
  }

  /**
   * {@code param -= lr * step} through the engine's own in-place SGD update (no weight decay, no rescaling,
   * no clipping), which runs without autograd and zeroes the parameter's gradient as DJL's optimizers do.
   */
  private static void apply(NDArray param, ByteBuffer step, float lr) {
    try (NDArray s = param.getManager().create(step, param.getShape(), DataType.FLOAT32)) {
      param.getNDArrayInternal().sgdUpdate(new NDList(param, s), new NDList(param), lr, 0f, 1f, -1f, 0f, true);
    }
  }
}
