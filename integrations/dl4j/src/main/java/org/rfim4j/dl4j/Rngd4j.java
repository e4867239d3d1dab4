package org.rfim4j.dl4j;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Layouts;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * RNGD (Sun and Nielsen 2017; rfim4j's MATH.md section 8) for a Deeplearning4j {@link MultiLayerNetwork}: a
 * {@link TrainingListener} that, every training iteration, hands each layer's input and pre-activations to
 * rfim4j's {@link RngdPreconditioner} and replaces the layer's gradient (weights and bias jointly, L2 term
 * included) by {@code G^-1 grad} in DL4J's gradient view, in place, before DL4J's updater runs. DL4J's plain
 * {@code Sgd} then applies the learning rate once. Two lines:
 *
 * <pre>{@code
 * try (Rngd4j rngd = Rngd4j.attach(net, RngdConfig.defaults(0.03), Rngd4j.options().l2(1e-3))) {
 *   net.fit(trainIterator, epochs);
 * }
 * }</pre>
 *
 * <h2>What the network must be</h2>
 * {@code DenseLayer}s with relu, leakyrelu (as prelu), tanh, sigmoid, identity or elu (alpha 1), then one softmax
 * {@code OutputLayer} with MCXENT or NEGATIVELOGLIKELIHOOD loss; every layer with a bias, no dropout, weight
 * noise, constraints, layer norm or preprocessors; data type FLOAT; {@code updater(new Sgd(rate))} with the
 * {@link RngdConfig}'s rate for weights and biases; <b>no DL4J l1/l2/weightDecay</b> (give the L2 coefficient to
 * {@link Options#l2}: RNGD must precondition the L2 term, DL4J would add its own after the preconditioning);
 * no gradient normalisation; DL4J's defaults for optimisation algorithm (SGD), mini-batch averaging, step
 * function and minimisation. {@link #attach} checks all of this and refuses anything else with an
 * {@link IllegalArgumentException} naming the layer, before it changes anything.
 *
 * <h2>One iteration</h2>
 * DL4J's {@code fit} calls {@code onForwardPass} with every layer's input: the listener copies them into its
 * own row-major staging arrays (the activations live in a DL4J workspace) and recomputes the pre-activations
 * {@code X W + b} of per-neuron layers (DL4J does not keep them). In {@code onGradientCalculation}, after the
 * backward pass and before the updater, it checks the batch, then (metric-first order, canonical) observes every
 * layer, reads each layer's gradient from DL4J's flat gradient array (W column-major, then b; one bulk copy from a
 * FloatBuffer over DL4J's memory), packs it into rfim4j's layout (bias as the last row, {@link Layouts}) adding
 * {@code B * beta * W} (DL4J's gradient is the mini-batch sum
 * at this point and its updater divides by B), preconditions it and unpacks the result into the same memory. In
 * step-first order it preconditions with the stored inverse there and observes a forward pass at the updated
 * weights in {@code iterationDone}. Each {@code fit} iteration is one RNGD step.
 *
 * <h2>Errors</h2>
 * Attaching to a network that already has an RNGD listener, the listener registered twice, events from another
 * network, a batch larger than {@link Options#maxBatch} or whose size changed between the forward pass and the
 * gradient: {@link IllegalStateException} or {@link IllegalArgumentException} naming the layer and the reason,
 * thrown from DL4J's {@code fit} before the updater runs, so the parameters are unchanged. A failure after the
 * preconditioner's state changed leaves this handle unusable (every later iteration says why).
 *
 * <p>Not thread-safe, as DL4J's training loop. {@link #close()} removes the listener and frees the metrics.
 */
public final class Rngd4j implements AutoCloseable {

  /**
   * Options of the integration.
   *
   * @param l2 beta of the L2 term {@code (beta/2) sum ||W||^2} on the weights (not the biases), added to the
   *     gradient before preconditioning (MATH.md A5); 0 for none
   * @param device rfim4j backend for the metrics when {@code backend} is null: {@code cpu}, {@code cuda} or
   *     {@code auto}
   * @param backend a backend the caller owns (not closed by {@link Rngd4j#close()}), or null to open
   *     {@code device}
   * @param maxBatch the largest mini-batch that will be trained
   * @param notices where backend notices go (the auto device's CPU fallback)
   */
  public record Options(double l2, String device, Backend backend, int maxBatch, Consumer<String> notices) {
    public Options {
      if (!(l2 >= 0) || Double.isInfinite(l2)) {
        throw new IllegalArgumentException("l2 must be finite and >= 0, got " + l2);
      }
      if (maxBatch < 1) {
        throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
      }
      device = device == null ? "auto" : device;
      notices = notices == null ? msg -> System.err.println("rfim4j-dl4j: " + msg) : notices;
    }

    public Options l2(double beta) {
      return new Options(beta, device, backend, maxBatch, notices);
    }

    public Options device(String name) {
      return new Options(l2, name, backend, maxBatch, notices);
    }

    public Options backend(Backend b) {
      return new Options(l2, device, b, maxBatch, notices);
    }

    public Options maxBatch(int rows) {
      return new Options(l2, device, backend, rows, notices);
    }

    public Options notices(Consumer<String> sink) {
      return new Options(l2, device, backend, maxBatch, sink);
    }
  }

  /** Defaults: no L2, device {@code auto}, mini-batches up to 1024 rows, notices to standard error. */
  public static Options options() {
    return new Options(0.0, "auto", null, 1024, null);
  }

  /**
   * Where the listener's time went since {@link #resetTimings()}, in nanoseconds (the DL4J phases are the
   * intervals between DL4J's listener calls).
   *
   * @param steps RNGD steps taken
   * @param stage copying DL4J's layer inputs into the staging arrays (onForwardPass)
   * @param preActivations recomputing pre-activations {@code X W + b} (and, step-first, the forward pass at the
   *     updated weights)
   * @param observe rfim4j: metric moving averages and inverse refreshes, host-to-backend copies included
   * @param gradientCopies packing DL4J's gradient view into rfim4j's layout (L2 term added) and unpacking the
   *     result into it
   * @param precondition rfim4j: {@code G^-1 grad}, copies to and from the backend included
   * @param dl4jBackward DL4J between onForwardPass and onGradientCalculation: output layer, loss, backward pass
   * @param dl4jUpdate DL4J between onGradientCalculation and iterationDone: updater and parameter step
   */
  public record Timings(long steps, long stage, long preActivations, long observe, long gradientCopies,
      long precondition, long dl4jBackward, long dl4jUpdate) {
    /** Time spent in the listener (everything but the DL4J phases). */
    public long listener() {
      return stage + preActivations + observe + gradientCopies + precondition;
    }

    /** "steps=1000 listener=5.12s (stage 0.03, pre-activations 0.05, ...)". */
    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT,
          "steps=%d listener=%.3fs (stage %.3f, pre-activations %.3f, observe %.3f, gradient copies %.3f, "
              + "precondition %.3f) dl4j backward %.3fs, dl4j update %.3fs",
          steps, listener() / 1e9, stage / 1e9, preActivations / 1e9, observe / 1e9, gradientCopies / 1e9,
          precondition / 1e9, dl4jBackward / 1e9, dl4jUpdate / 1e9);
    }
  }

  /** Staging of one layer: row-major maxBatch x fan-in input and maxBatch x fan-out pre-activations. */
  private static final class Stage {
    final NetworkCheck.Dense layer;
    final INDArray x;
    final FloatBuffer xBuf;
    final INDArray pre;
    final FloatBuffer preBuf;
    /** rfim4j layout: the packed gradient and G^-1 of it, (fan-in + 1) x fan-out. */
    final float[] packed;
    final float[] step;
    /** DL4J layout: the layer's flat gradient (W column-major, then b) and its weights. */
    final float[] flat;
    final float[] flatW;
    INDArray xRows;
    INDArray preRows;
    int rows = -1;

    Stage(NetworkCheck.Dense layer, int maxBatch, boolean needsPre) {
      this.layer = layer;
      this.x = Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', maxBatch, layer.fanIn());
      this.xBuf = x.data().asNioFloat();
      this.pre = needsPre
          ? Nd4j.createUninitializedDetached(DataType.FLOAT, 'c', maxBatch, layer.fanOut()) : null;
      this.preBuf = pre == null ? null : pre.data().asNioFloat();
      int n = (layer.fanIn() + 1) * layer.fanOut();
      this.packed = new float[n];
      this.step = new float[n];
      this.flat = new float[n];
      this.flatW = new float[layer.fanIn() * layer.fanOut()];
    }

    /** Views of the first {@code b} rows (contiguous from offset 0). */
    void rows(int b) {
      if (b != rows) {
        xRows = x.get(NDArrayIndex.interval(0, b), NDArrayIndex.all());
        preRows = pre == null ? null : pre.get(NDArrayIndex.interval(0, b), NDArrayIndex.all());
        rows = b;
      }
    }
  }

  private final MultiLayerNetwork net;
  private final RngdConfig config;
  private final Options options;
  private final Backend backend;
  private final boolean ownsBackend;
  private final RngdPreconditioner preconditioner;
  private final List<Stage> stages = new ArrayList<>();
  private final Listener listener = new Listener();
  private final boolean stepFirst;
  private final float l2;
  private boolean staged;
  private int stagedRows;
  private boolean awaitingObserve;
  private boolean closed;
  private RuntimeException broken;
  private long tStage;
  private long tPre;
  private long tObserve;
  private long tCopies;
  private long tPrecondition;
  private long tBackward;
  private long tUpdate;
  private long steps;
  private long markForward;
  private long markGradient;

  /**
   * Attaches RNGD to {@code net} with {@link #options()} (no L2, device auto).
   *
   * @see #attach(MultiLayerNetwork, RngdConfig, Options)
   */
  public static Rngd4j attach(MultiLayerNetwork net, RngdConfig config) {
    return attach(net, config, options());
  }

  /**
   * Checks {@code net} (see the class comment), opens the backend, creates the preconditioner with the paper's
   * metric kinds (or the configuration's {@link RngdConfig#metricKinds()}) and adds the listener to the network.
   *
   * @throws IllegalArgumentException naming the layer, for a network, layer, activation, loss or training
   *     configuration RNGD for DL4J does not support; nothing is changed
   * @throws IllegalStateException if the network already has an RNGD listener
   */
  public static Rngd4j attach(MultiLayerNetwork net, RngdConfig config, Options options) {
    return attach(net, config, options, true);
  }

  /** {@code checkTraining = false} skips the updater/regularisation checks: for tests of wrong set-ups only. */
  static Rngd4j attach(MultiLayerNetwork net, RngdConfig config, Options options, boolean checkTraining) {
    Objects.requireNonNull(options, "options");
    if (net != null && net.getListeners() != null) {
      for (TrainingListener l : net.getListeners()) {
        if (l instanceof Listener) {
          throw new IllegalStateException("the network already has an RNGD listener (from an earlier "
              + "Rngd4j.attach): close that handle before attaching again");
        }
      }
    }
    List<NetworkCheck.Dense> layers = NetworkCheck.inspect(net, config, checkTraining);
    return new Rngd4j(net, config, options, layers);
  }

  private Rngd4j(MultiLayerNetwork net, RngdConfig config, Options options, List<NetworkCheck.Dense> layers) {
    this.net = net;
    this.config = config;
    this.options = options;
    this.stepFirst = config.order() == RngdConfig.Order.STEP_FIRST;
    this.l2 = (float) options.l2();
    this.ownsBackend = options.backend() == null;
    List<LayerSpec> specs = new ArrayList<>();
    for (NetworkCheck.Dense d : layers) {
      specs.add(d.spec());
    }
    Backend opened = ownsBackend ? BackendSelector.open(options.device(), options.notices()) : options.backend();
    try {
      opened = BackendCheck.checked(opened, ownsBackend, specs, options.notices());
    } catch (RuntimeException | Error e) {
      if (ownsBackend) {
        opened.close();
      }
      throw e;
    }
    this.backend = opened;
    RngdPreconditioner p = null;
    try {
      p = new RngdPreconditioner(backend, config, options.maxBatch(), specs);
      try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
        for (NetworkCheck.Dense d : layers) {
          boolean needsPre = stepFirst || d.spec().kind() == MetricKind.PER_NEURON;
          stages.add(new Stage(d, options.maxBatch(), needsPre));
        }
      }
      if (net.getGradientsViewArray() == null) {
        net.initGradientsView();
      }
      checkFlat(net.params(), "parameters");
      checkFlat(net.getGradientsViewArray(), "gradients");
    } catch (RuntimeException | Error e) {
      if (p != null) {
        p.close();
      }
      if (ownsBackend) {
        backend.close();
      }
      throw e;
    }
    this.preconditioner = p;
    net.addListeners(listener);
  }

  private void checkFlat(INDArray a, String what) {
    if (a == null || a.length() != net.numParams() || a.data().offset() != 0
        || a.data().length() != net.numParams() || a.dataType() != DataType.FLOAT) {
      throw new IllegalArgumentException("the network's flat " + what + " array is not one contiguous FLOAT "
          + "buffer of " + net.numParams() + " values; RNGD for DL4J cannot map its layers");
    }
  }

  // ------------------------------------------------------------------ accessors

  public MultiLayerNetwork network() {
    return net;
  }

  public RngdConfig config() {
    return config;
  }

  /** The preconditioner (layer ids {@code layer0}, {@code layer1}, ...): metrics, inverses, save/restore. */
  public RngdPreconditioner preconditioner() {
    return preconditioner;
  }

  /** The backend that holds the metrics. */
  public Backend backend() {
    return backend;
  }

  /** RNGD steps taken (the preconditioner's counter). */
  public long iteration() {
    return preconditioner.iteration();
  }

  /** Matrices whose inversion failed so far (reads the counts from the backend). */
  public long inversionFailures() {
    return preconditioner.inversionFailures();
  }

  /** The preconditioned layers: {@code "layer1 (80+1) x 80, per-neuron relu"} per layer. */
  public List<String> describeLayers() {
    List<String> out = new ArrayList<>();
    for (Stage s : stages) {
      out.add(s.layer.describe() + ": " + s.layer.spec().describe());
    }
    return out;
  }

  public Timings timings() {
    return new Timings(steps, tStage, tPre, tObserve, tCopies, tPrecondition, tBackward, tUpdate);
  }

  public void resetTimings() {
    steps = 0;
    tStage = tPre = tObserve = tCopies = tPrecondition = tBackward = tUpdate = 0;
  }

  /** Removes the listener from the network and frees the metrics (and the backend if this handle opened it). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    Collection<TrainingListener> current = net.getListeners();
    if (current != null && current.contains(listener)) {
      List<TrainingListener> keep = new ArrayList<>(current);
      keep.removeIf(l -> l == listener);
      net.setListeners(keep);
    }
    preconditioner.close();
    if (ownsBackend) {
      backend.close();
    }
  }

  // ------------------------------------------------------------------ the listener

  private final class Listener extends BaseTrainingListener {
    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
      guard(model);
      long t0 = System.nanoTime();
      stage(activations);
      markForward = System.nanoTime();
      tStage += markForward - t0;
    }

    @Override
    public void onGradientCalculation(Model model) {
      guard(model);
      long t0 = System.nanoTime();
      if (markForward != 0) {
        tBackward += t0 - markForward;
      }
      step();
      markGradient = System.nanoTime();
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
      guard(model);
      if (markGradient != 0) {
        tUpdate += System.nanoTime() - markGradient;
        markGradient = 0;
      }
      markForward = 0;
      if (awaitingObserve) {
        observeAfterStep();
      }
    }

    @Override
    public String toString() {
      return "Rngd4j listener (" + stages.size() + " layers, " + config.order() + ")";
    }
  }

  private void guard(Model model) {
    if (closed) {
      throw new IllegalStateException("this RNGD handle is closed but its listener is still registered with "
          + "the network");
    }
    if (broken != null) {
      throw new IllegalStateException("RNGD for this network failed in an earlier step and cannot continue: "
          + broken.getMessage(), broken);
    }
    if (model != net) {
      throw new IllegalStateException("the RNGD listener of one network received events from another ("
          + (model == null ? "null" : model.getClass().getSimpleName()) + "); attach RNGD to each network "
          + "with its own Rngd4j.attach");
    }
    int count = 0;
    for (TrainingListener l : net.getListeners()) {
      if (l instanceof Listener) {
        count++;
      }
    }
    if (count > 1) {
      throw new IllegalStateException("an RNGD listener is registered " + count + " times with the network "
          + "(attached twice, or added again by hand): every step would be preconditioned " + count
          + " times; keep one");
    }
  }

  /** onForwardPass: copy each layer's input (and per-neuron pre-activations) out of DL4J's workspace. */
  private void stage(List<INDArray> activations) {
    int layers = stages.size();
    if (activations == null || activations.size() < layers) {
      throw new IllegalStateException("layer " + (activations == null ? 0 : activations.size())
          + ": DL4J passed " + (activations == null ? 0 : activations.size()) + " activations, RNGD needs the "
          + "input of each of the " + layers + " layers");
    }
    staged = false;
    long b = activations.get(0).rank() == 2 ? activations.get(0).size(0) : -1;
    for (Stage s : stages) {
      INDArray a = activations.get(s.layer.index());
      if (a.rank() != 2 || a.size(1) != s.layer.fanIn() || a.size(0) != b) {
        throw new IllegalStateException(s.layer.describe() + ": input of shape " + java.util.Arrays.toString(
            a.shape()) + ", expected " + b + " x " + s.layer.fanIn() + " (all layers see one mini-batch)");
      }
    }
    if (b < 1 || b > options.maxBatch()) {
      throw new IllegalArgumentException(stages.get(0).layer.describe() + ": mini-batch of " + b
          + " rows; RNGD was attached with maxBatch " + options.maxBatch()
          + " (Rngd4j.options().maxBatch(rows))");
    }
    int rows = (int) b;
    try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
      for (Stage s : stages) {
        s.rows(rows);
        s.xRows.assign(activations.get(s.layer.index()));
      }
      long t0 = System.nanoTime();
      if (!stepFirst) {
        for (Stage s : stages) {
          if (s.pre != null) {
            preActivations(s);
          }
        }
      }
      tPre += System.nanoTime() - t0;
      tStage -= System.nanoTime() - t0;
    }
    stagedRows = rows;
    staged = true;
  }

  /** pre = x W + b for the staged rows, from the network's current parameters. */
  private void preActivations(Stage s) {
    org.deeplearning4j.nn.api.Layer layer = net.getLayer(s.layer.index());
    s.xRows.mmuli(layer.getParam("W"), s.preRows);
    s.preRows.addiRowVector(layer.getParam("b"));
  }

  /** onGradientCalculation: the RNGD step on DL4J's gradient view, before DL4J's updater. */
  private void step() {
    if (awaitingObserve) {
      throw new IllegalStateException(stages.get(0).layer.describe() + ": a new gradient arrived before the "
          + "step-first observation of the previous step (iterationDone was not called)");
    }
    if (!staged) {
      throw new IllegalStateException(stages.get(0).layer.describe() + ": no forward pass was seen before this "
          + "gradient; RNGD needs DL4J's onForwardPass of the same iteration (fit a MultiLayerNetwork)");
    }
    INDArray input = net.getInput();
    INDArray labels = net.getLabels();
    long inRows = input == null ? -1 : input.size(0);
    long labelRows = labels == null ? -1 : labels.size(0);
    if (inRows != stagedRows || labelRows != stagedRows) {
      throw new IllegalStateException(stages.get(0).layer.describe() + ": the batch changed between the forward "
          + "pass and the gradient (observed " + stagedRows + " rows, the gradient is of " + inRows + " inputs and "
          + labelRows + " labels); nothing was changed");
    }
    if (net.getMask() != null || net.getOutputLayer().getMaskArray() != null) {
      throw new IllegalStateException(stages.get(0).layer.describe() + ": masked mini-batches are not supported "
          + "by RNGD for DL4J");
    }
    staged = false;
    try {
      FloatBuffer grad = net.getGradientsViewArray().data().asNioFloat();
      FloatBuffer params = net.params().data().asNioFloat();
      if (!stepFirst) {
        long t0 = System.nanoTime();
        observeStaged(stagedRows);
        tObserve += System.nanoTime() - t0;
      }
      float scale = l2 * stagedRows;  // DL4J's gradient is the mini-batch sum here; its updater divides by B
      for (Stage s : stages) {
        preconditionLayer(s, grad, params, scale);
      }
      if (stepFirst) {
        awaitingObserve = true;
      } else {
        preconditioner.endStep();
        steps++;
      }
    } catch (RuntimeException e) {
      broken = e;
      throw e;
    }
  }

  private void observeStaged(int rows) {
    for (Stage s : stages) {
      String id = s.layer.spec().id();
      preconditioner.observe(id, s.xBuf, 0, s.layer.spec().kind() == MetricKind.PER_NEURON ? s.preBuf : null, 0,
          rows);
    }
  }

  /**
   * One layer: its flat DL4J gradient (W column-major, then b) and weights are read with one bulk copy each,
   * packed into rfim4j's layout with the L2 term added, preconditioned, unpacked and written back in place.
   */
  private void preconditionLayer(Stage s, FloatBuffer grad, FloatBuffer params, float scale) {
    NetworkCheck.Dense d = s.layer;
    int fanIn = d.fanIn();
    int fanOut = d.fanOut();
    int wOff = (int) d.wOffset();
    int n = (fanIn + 1) * fanOut;
    int nw = fanIn * fanOut;
    long t0 = System.nanoTime();
    grad.get(wOff, s.flat, 0, n);
    Layouts.pack(s.flat, 0, Layouts.Order.COLUMN_MAJOR, s.flat, nw, fanIn, fanOut, s.packed, 0);
    if (scale != 0) {
      params.get(wOff, s.flatW, 0, nw);
      float[] g = s.packed;
      float[] w = s.flatW;
      for (int j = 0; j < fanOut; j++) {
        int col = j * fanIn;
        for (int i = 0; i < fanIn; i++) {
          g[i * fanOut + j] += scale * w[col + i];
        }
      }
    }
    long t1 = System.nanoTime();
    preconditioner.precondition(d.spec().id(), s.packed, 0, s.step, 0);
    long t2 = System.nanoTime();
    Layouts.unpack(s.step, 0, fanIn, fanOut, s.flat, 0, Layouts.Order.COLUMN_MAJOR, s.flat, nw);
    grad.put(wOff, s.flat, 0, n);
    long t3 = System.nanoTime();
    tCopies += (t1 - t0) + (t3 - t2);
    tPrecondition += t2 - t1;
  }

  /** iterationDone, step-first order: forward pass at the updated weights on the same input, then observe. */
  private void observeAfterStep() {
    awaitingObserve = false;
    try {
      long t0 = System.nanoTime();
      try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
        for (int l = 0; l < stages.size(); l++) {
          Stage s = stages.get(l);
          preActivations(s);
          if (l + 1 < stages.size()) {
            Stage next = stages.get(l + 1);
            next.rows(stagedRows);
            next.xRows.assign(s.preRows);
            INDArray h = s.layer.activation().getActivation(next.xRows, true);
            if (h != next.xRows) {
              next.xRows.assign(h);
            }
          }
        }
      }
      long t1 = System.nanoTime();
      observeStaged(stagedRows);
      preconditioner.endStep();
      steps++;
      tPre += t1 - t0;
      tObserve += System.nanoTime() - t1;
    } catch (RuntimeException e) {
      broken = e;
      throw e;
    }
  }
}
