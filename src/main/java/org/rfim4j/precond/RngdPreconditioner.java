package org.rfim4j.precond;

import java.lang.System.Logger.Level;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;
import org.rfim4j.io.StateFile;
import org.rfim4j.io.StateFile.ArrayEntry;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.RngdConfig;

/**
 * Relative natural gradient preconditioning (Sun and Nielsen 2017; MATH.md section 8) for any training code:
 * the caller runs its own forward and backward passes and, per step and layer, hands over the layer's input
 * activations and pre-activations ({@link #observe}) and its gradient ({@link #precondition}); the
 * preconditioner keeps each layer's relative Fisher metric as a moving average, refreshes its inverse every T
 * steps and returns {@code G^-1 grad}. Updating the weights (learning rate, momentum, anything else) stays
 * with the caller.
 *
 * <h2>One step</h2>
 * For every configured layer, in the configuration's order ({@link RngdConfig#order()}):
 * <ul>
 *   <li><b>METRIC_FIRST</b> (canonical): {@code observe} with this step's forward pass, then
 *       {@code precondition} the gradient of the same pass;</li>
 *   <li><b>STEP_FIRST</b> (the reference code): {@code precondition} with the stored inverse, update the
 *       weights, run a forward pass at the new weights, then {@code observe} it;</li>
 * </ul>
 * then {@link #endStep()} once. {@code observe} adds the batch's metric to the moving average
 * {@code G = (1 - lambda) G + lambda M} (plus {@code epsAdd I} with the paper's damping) and, when the step
 * counter t (from 0) is a multiple of T, refreshes that layer's inverse right away: so in metric-first order
 * the refreshed inverse preconditions the same step's gradient, and in step-first order the next step's,
 * exactly as MATH.md 8.2 and A6 specify. A layer's gradient is (fan-in + 1) x fan-out with the bias as its
 * last row; it must include any L2 term (A5). Shared layers use {@code G^-1 grad}, per-neuron layers
 * {@code G_i^-1 grad[:, i]} for each column.
 *
 * <h2>Inversion failures</h2>
 * The inverse of {@code G + (epsRel tr G + epsAbs) I} is formed by Cholesky; a matrix that is not positive
 * definite or not finite keeps its previous inverse and its relative damping doubles (A11). Damping and
 * failure counts live in backend memory, so a refresh needs no host synchronisation and a GPU backend can
 * capture it in a graph; {@link #inversionFailures()} reads the counts (and synchronises).
 *
 * <h2>Data</h2>
 * Device entry points take {@link DeviceArray}s of this preconditioner's backend. Host entry points take
 * {@code double[]}, {@code float[]} or {@link FloatBuffer}s (heap or direct), row-major, from an offset;
 * they copy through staging arrays owned by the preconditioner. For frameworks that keep W as fan-in x
 * fan-out and the bias apart, {@link Layouts} packs and unpacks the gradient.
 *
 * <h2>Errors</h2>
 * An unknown layer id, an array whose shape disagrees with the layer, a host buffer too small, a batch larger
 * than {@code maxBatch}, a step protocol violation (observing twice in one step, preconditioning before
 * observing in metric-first order) and any use after {@link #close()} throw {@link IllegalArgumentException}
 * or {@link IllegalStateException} naming the layer, the argument and the expected shape, before any state
 * changes.
 *
 * <p>Not thread-safe: one training loop drives one preconditioner.
 */
public final class RngdPreconditioner implements AutoCloseable {
  /** Magic of a saved preconditioner state (the container of {@link StateFile}). */
  public static final String MAGIC = "RFIM4JPC";
  /** Format version of a saved preconditioner state. */
  public static final int VERSION = 1;
  private static final System.Logger LOG = System.getLogger(RngdPreconditioner.class.getName());

  private final Backend backend;
  private final RngdConfig config;
  private final int maxBatch;
  private final Map<String, Layer> layers = new LinkedHashMap<>();
  private final List<LayerSpec> specs;
  /** Metric and inverse stacks shared by per-neuron layers of one shape (the layers hold views). */
  private final List<DeviceArray> stacks = new ArrayList<>();
  private long t;
  private long restoredFailures;
  private boolean closed;

  /** State of one layer. */
  private static final class Layer {
    final LayerSpec spec;
    final DeviceArray g;
    final DeviceArray ginv;
    final DeviceArray epsRel;
    final DeviceArray failures;
    /** nu scratch (maxBatch x fan-out) for per-neuron layers, else null. */
    final DeviceArray nu;
    /** Staging for the host entry points, allocated on first use. */
    DeviceArray stageInput;
    DeviceArray stageSecond;
    DeviceArray stageGrad;
    DeviceArray stageOut;
    /** The bias-corrected metric inverted at a refresh (allocated on first use). */
    DeviceArray corrected;
    boolean observed;
    boolean preconditioned;
    boolean warned;

    Layer(LayerSpec spec, DeviceArray g, DeviceArray ginv, DeviceArray epsRel, DeviceArray failures,
        DeviceArray nu) {
      this.spec = spec;
      this.g = g;
      this.ginv = ginv;
      this.epsRel = epsRel;
      this.failures = failures;
      this.nu = nu;
    }

    List<DeviceArray> owned() {
      List<DeviceArray> l = new ArrayList<>(List.of(g, ginv, epsRel, failures));
      for (DeviceArray a : new DeviceArray[] {nu, stageInput, stageSecond, stageGrad, stageOut, corrected}) {
        if (a != null) {
          l.add(a);
        }
      }
      return l;
    }
  }

  /**
   * A preconditioner for {@code layers} on {@code backend}, with metrics initialised to the identity (so are
   * the inverses) as MATH.md 8.2.
   *
   * @param backend where metrics, inverses and the work live (CPU float64 or a GPU)
   * @param config the RNGD hyper-parameters; its learning rate and metric kinds are not used here (the caller
   *     applies its own rate, the layers carry their kinds)
   * @param maxBatch the largest mini-batch that will be observed
   * @param layers the layers, ids unique
   */
  public RngdPreconditioner(Backend backend, RngdConfig config, int maxBatch, List<LayerSpec> layers) {
    if (backend == null || config == null || layers == null) {
      throw new IllegalArgumentException("RngdPreconditioner needs a backend, a configuration and layers");
    }
    if (maxBatch < 1) {
      throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
    }
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("RngdPreconditioner needs at least one layer");
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (LayerSpec s : layers) {
      if (s == null) {
        throw new IllegalArgumentException("layer specs must not be null");
      }
      if (!ids.add(s.id())) {
        throw new IllegalArgumentException("layer id '" + s.id() + "' is used twice");
      }
      long nuElems = (long) maxBatch * s.fanOut();
      if (s.kind() == MetricKind.PER_NEURON && nuElems > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("layer '" + s.id() + "': maxBatch " + maxBatch + " x fan-out "
            + s.fanOut() + " is more than one array can hold");
      }
    }
    this.backend = backend;
    this.config = config;
    this.maxBatch = maxBatch;
    this.specs = List.copyOf(layers);
    try {
      // Per-neuron layers of one shape share one stack for their metrics, one for their inverses, one damping vector
      // and one failure-counter vector (each layer holds views), so that a GPU backend updates and inverts them with
      // one batched call each (metricUpdates, refreshInversesAll).
      Map<String, List<LayerSpec>> groups = new LinkedHashMap<>();
      for (LayerSpec s : specs) {
        if (s.kind() == MetricKind.PER_NEURON) {
          groups.computeIfAbsent(s.fanIn() + "x" + s.fanOut(), k -> new ArrayList<>()).add(s);
        }
      }
      Map<String, DeviceArray[]> views = new java.util.HashMap<>();
      for (List<LayerSpec> group : groups.values()) {
        if (group.size() < 2) {
          continue;
        }
        LayerSpec first = group.get(0);
        int m = first.fanOut();
        int d = first.dim();
        DeviceArray g = backend.allocate(group.size() * m, d, d);
        stacks.add(g);
        DeviceArray ginv = backend.allocate(group.size() * m, d, d);
        stacks.add(ginv);
        DeviceArray eps = backend.allocate(group.size() * m);
        stacks.add(eps);
        DeviceArray failures = backend.allocate(group.size());
        stacks.add(failures);
        for (int j = 0; j < group.size(); j++) {
          views.put(group.get(j).id(), new DeviceArray[] {backend.rows(g, j * m, (j + 1) * m),
              backend.rows(ginv, j * m, (j + 1) * m), backend.rows(eps, j * m, (j + 1) * m),
              backend.rows(failures, j, j + 1)});
        }
      }
      for (LayerSpec s : specs) {
        this.layers.put(s.id(), allocate(s, views.get(s.id())));
      }
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /**
   * The layer's state; {@code stackViews} (null: allocate its own) are its metric, inverse, damping vector and
   * failure counter as views of its group's arrays.
   */
  private Layer allocate(LayerSpec s, DeviceArray[] stackViews) {
    int d = s.dim();
    List<DeviceArray> made = new ArrayList<>();
    try {
      DeviceArray g = stackViews != null ? stackViews[0] : keep(made, s.kind() == MetricKind.SHARED
          ? backend.allocate(d, d) : backend.allocate(s.fanOut(), d, d));
      DeviceArray ginv = stackViews != null ? stackViews[1] : keep(made, backend.allocate(g.shape()));
      DeviceArray eps = stackViews != null ? stackViews[2] : keep(made, backend.allocate(s.matrices()));
      DeviceArray failures = stackViews != null ? stackViews[3] : keep(made, backend.allocate(1));
      DeviceArray nu = s.kind() == MetricKind.PER_NEURON ? keep(made, backend.allocate(maxBatch, s.fanOut()))
          : null;
      backend.addDiagonal(g, 1.0);
      backend.addDiagonal(ginv, 1.0);
      backend.fill(eps, config.damping() == RngdConfig.Damping.CANONICAL ? config.epsRel() : 0.0);
      return new Layer(s, g, ginv, eps, failures, nu);
    } catch (RuntimeException | Error e) {
      made.forEach(DeviceArray::close);
      throw e;
    }
  }

  private static DeviceArray keep(List<DeviceArray> made, DeviceArray a) {
    made.add(a);
    return a;
  }

  // ------------------------------------------------------------------ description

  public Backend backend() {
    return backend;
  }

  public RngdConfig config() {
    return config;
  }

  public int maxBatch() {
    return maxBatch;
  }

  /** The layers, in configuration order. */
  public List<LayerSpec> layers() {
    return specs;
  }

  /** The layer of this id. */
  public LayerSpec layer(String id) {
    return layerState(id).spec;
  }

  /** The step counter t: completed {@link #endStep()} calls (plus a restored count). */
  public long iteration() {
    return t;
  }

  /** Whether the current step refreshes the inverses (t mod T == 0), when each layer is observed. */
  public boolean refreshDue() {
    return t % config.refreshPeriod() == 0;
  }

  // ------------------------------------------------------------------ device entry points

  /**
   * Adds this step's metric of layer {@code id} to its moving average from the layer's input (B x fan-in,
   * without the constant 1) and pre-activations (B x fan-out; may be {@code null} for a shared layer), and
   * refreshes the layer's inverse when {@link #refreshDue()}. Not for layers with {@link Nu#supplied()}.
   */
  public void observe(String id, DeviceArray input, DeviceArray preActivations) {
    Layer l = beginObserve(id, false);
    int b = checkInput(l, input);
    if (preActivations != null || l.spec.kind() == MetricKind.PER_NEURON) {
      checkBatchMatrix(l, "preActivations", preActivations, b, l.spec.fanOut());
    }
    update(l, input, preActivations);
  }

  /**
   * {@link #observe} for a per-neuron layer whose coefficients the caller computed: {@code nu} is B x fan-out
   * with {@code nu[k][i]} the coefficient of sample k at neuron i (MATH.md 4.2).
   */
  public void observeCoefficients(String id, DeviceArray input, DeviceArray nu) {
    Layer l = beginObserve(id, true);
    int b = checkInput(l, input);
    checkBatchMatrix(l, "nu", nu, b, l.spec.fanOut());
    update(l, input, nu);
  }

  /** {@code out = G^-1 grad} for layer {@code id}; grad and out are (fan-in + 1) x fan-out and may be one array. */
  public void precondition(String id, DeviceArray grad, DeviceArray out) {
    precondition(id, grad, 1.0, 0.0, out);
  }

  /**
   * {@code out = alpha G^-1 grad + beta out} for layer {@code id}: with {@code alpha = -lr, beta = 1} and
   * {@code out} the weights this is the RNGD update in one call. {@code out} may be {@code grad} itself but
   * must not otherwise overlap it. {@code beta == 0} ignores out's prior contents.
   */
  public void precondition(String id, DeviceArray grad, double alpha, double beta, DeviceArray out) {
    Layer l = beginPrecondition(id);
    checkGradient(l, "grad", grad);
    checkGradient(l, "out", out);
    apply(l, grad, alpha, beta, out);
  }

  /**
   * {@link #observe} of several layers at once, in order: {@code inputs.get(i)} and {@code preActivations.get(i)}
   * (an element may be null for a shared layer) for layer {@code ids.get(i)}. Every check is made before any
   * state changes; the metric updates then go to the backend as one {@link Backend#metricUpdates} call (a GPU
   * backend issues one workspace launch and one batched GEMM per run of same-shape layers), then any due refresh.
   */
  public void observeAll(List<String> ids, List<DeviceArray> inputs, List<DeviceArray> preActivations) {
    checkOpen();
    if (ids == null || inputs == null || preActivations == null || inputs.size() != ids.size()
        || preActivations.size() != ids.size()) {
      throw new IllegalArgumentException("observeAll needs one input and one pre-activation array (or null) per"
          + " layer id");
    }
    List<Layer> ls = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (int i = 0; i < ids.size(); i++) {
      if (!seen.add(ids.get(i))) {
        throw new IllegalArgumentException("observeAll: layer '" + ids.get(i) + "' is listed twice");
      }
      Layer l = beginObserve(ids.get(i), false);
      int b = checkInput(l, inputs.get(i));
      DeviceArray pre = preActivations.get(i);
      if (pre != null || l.spec.kind() == MetricKind.PER_NEURON) {
        checkBatchMatrix(l, "preActivations", pre, b, l.spec.fanOut());
      }
      ls.add(l);
    }
    List<MetricUpdate> ups = new ArrayList<>();
    for (int i = 0; i < ls.size(); i++) {
      ups.add(updateOf(ls.get(i), inputs.get(i), preActivations.get(i)));
    }
    backend.metricUpdates(ups, config.lambda());
    for (Layer l : ls) {
      markUpdated(l);
    }
    if (refreshDue()) {  // one backend call: same-shape layers are inverted as one batch on a GPU
      List<DeviceArray> targets = new ArrayList<>();
      List<DeviceArray> eps = new ArrayList<>();
      List<DeviceArray> inverses = new ArrayList<>();
      List<DeviceArray> counters = new ArrayList<>();
      for (Layer l : ls) {
        targets.add(refreshTarget(l));
        eps.add(l.epsRel);
        inverses.add(l.ginv);
        counters.add(l.failures);
      }
      backend.refreshInversesAll(targets, eps, refreshEpsAbs(), inverses, counters);
    }
  }

  /**
   * {@link #precondition(String, DeviceArray, double, double, DeviceArray)} of several layers at once, in order:
   * {@code outs.get(i) = alpha G^-1 grads.get(i) + beta outs.get(i)} for layer {@code ids.get(i)}, as one
   * {@link Backend#preconditionLayers} call (a GPU backend runs the small layers as one batched matrix-vector
   * launch). Every check is made before any work is issued.
   */
  public void preconditionAll(List<String> ids, List<DeviceArray> grads, double alpha, double beta,
      List<DeviceArray> outs) {
    checkOpen();
    if (ids == null || grads == null || outs == null || grads.size() != ids.size() || outs.size() != ids.size()) {
      throw new IllegalArgumentException("preconditionAll needs one gradient and one output array per layer id");
    }
    List<Layer> ls = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (int i = 0; i < ids.size(); i++) {
      if (!seen.add(ids.get(i))) {
        throw new IllegalArgumentException("preconditionAll: layer '" + ids.get(i) + "' is listed twice");
      }
      Layer l = beginPrecondition(ids.get(i));
      checkGradient(l, "grad", grads.get(i));
      checkGradient(l, "out", outs.get(i));
      ls.add(l);
    }
    List<DeviceArray> ginvs = new ArrayList<>();
    List<DeviceArray> srcs = new ArrayList<>();
    for (int i = 0; i < ls.size(); i++) {
      Layer l = ls.get(i);
      DeviceArray src = grads.get(i);
      if (l.spec.kind() == MetricKind.SHARED && src == outs.get(i)) {  // gemm's C must not overlap B
        src = gradientStage(l)[0];
        backend.copy(grads.get(i), src);
      }
      ginvs.add(l.ginv);
      srcs.add(src);
    }
    backend.preconditionLayers(ginvs, srcs, alpha, beta, outs);
    for (Layer l : ls) {
      l.preconditioned = true;
    }
  }

  /**
   * Ends the step: every layer must have been observed; the counter t advances.
   *
   * @throws IllegalStateException naming the layers not observed in this step
   */
  public void endStep() {
    checkOpen();
    List<String> missing = new ArrayList<>();
    for (Layer l : layers.values()) {
      if (!l.observed) {
        missing.add(l.spec.id());
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException("endStep: layers " + missing + " were not observed in step " + t
          + " (every layer's metric is updated once per step)");
    }
    for (Layer l : layers.values()) {
      l.observed = false;
      l.preconditioned = false;
    }
    t++;
  }

  // ------------------------------------------------------------------ host entry points

  /** {@link #observe} from host arrays: input B x fan-in at {@code inputOffset}, pre-activations B x fan-out. */
  public void observe(String id, double[] input, int inputOffset, double[] preActivations, int preOffset,
      int batch) {
    observeHost(id, false, Host.of(input), inputOffset, preActivations == null ? null : Host.of(preActivations),
        preOffset, batch);
  }

  /** {@link #observe} from host float arrays. */
  public void observe(String id, float[] input, int inputOffset, float[] preActivations, int preOffset,
      int batch) {
    observeHost(id, false, Host.of(input), inputOffset, preActivations == null ? null : Host.of(preActivations),
        preOffset, batch);
  }

  /** {@link #observe} from float buffers (heap or direct; absolute offsets, positions untouched). */
  public void observe(String id, FloatBuffer input, int inputOffset, FloatBuffer preActivations, int preOffset,
      int batch) {
    observeHost(id, false, Host.of(input), inputOffset, preActivations == null ? null : Host.of(preActivations),
        preOffset, batch);
  }

  /** {@link #observeCoefficients} from host arrays. */
  public void observeCoefficients(String id, double[] input, int inputOffset, double[] nu, int nuOffset,
      int batch) {
    observeHost(id, true, Host.of(input), inputOffset, Host.of(nu), nuOffset, batch);
  }

  /** {@link #observeCoefficients} from host float arrays. */
  public void observeCoefficients(String id, float[] input, int inputOffset, float[] nu, int nuOffset,
      int batch) {
    observeHost(id, true, Host.of(input), inputOffset, Host.of(nu), nuOffset, batch);
  }

  /** {@code out = G^-1 grad} from and into host arrays ((fan-in + 1) x fan-out each, row-major). */
  public void precondition(String id, double[] grad, int gradOffset, double[] out, int outOffset) {
    preconditionHost(id, Host.of(grad), gradOffset, Host.of(out), outOffset);
  }

  /** {@code out = G^-1 grad} from and into host float arrays. */
  public void precondition(String id, float[] grad, int gradOffset, float[] out, int outOffset) {
    preconditionHost(id, Host.of(grad), gradOffset, Host.of(out), outOffset);
  }

  /** {@code out = G^-1 grad} from and into float buffers (heap or direct; absolute offsets). */
  public void precondition(String id, FloatBuffer grad, int gradOffset, FloatBuffer out, int outOffset) {
    preconditionHost(id, Host.of(grad), gradOffset, Host.of(out), outOffset);
  }

  private void observeHost(String id, boolean coefficients, Host input, int inputOffset, Host second,
      int secondOffset, int batch) {
    Layer l = beginObserve(id, coefficients);
    if (batch < 1 || batch > maxBatch) {
      throw new IllegalArgumentException("layer '" + id + "': batch " + batch + " must be in [1, maxBatch "
          + maxBatch + "]");
    }
    String secondName = coefficients ? "nu" : "preActivations";
    checkHost(l, "input", input, inputOffset, batch, l.spec.fanIn());
    boolean needSecond = coefficients || l.spec.kind() == MetricKind.PER_NEURON;
    if (second == null && needSecond) {
      throw new IllegalArgumentException("layer '" + id + "': " + secondName + " (" + batch + " x "
          + l.spec.fanOut() + ") must be given");
    }
    if (second != null) {
      checkHost(l, secondName, second, secondOffset, batch, l.spec.fanOut());
    }
    if (l.stageInput == null) {
      l.stageInput = backend.allocate(maxBatch, l.spec.fanIn());
      l.stageSecond = backend.allocate(maxBatch, l.spec.fanOut());
    }
    DeviceArray x = backend.rows(l.stageInput, 0, batch);
    backend.upload(x, input.read(inputOffset, batch * l.spec.fanIn()));
    DeviceArray s = null;
    if (second != null) {
      s = backend.rows(l.stageSecond, 0, batch);
      backend.upload(s, second.read(secondOffset, batch * l.spec.fanOut()));
    }
    update(l, x, s);  // every check was made above; the staged arrays have the layer's shapes
  }

  private void preconditionHost(String id, Host grad, int gradOffset, Host out, int outOffset) {
    Layer l = beginPrecondition(id);
    int n = l.spec.dim() * l.spec.fanOut();
    checkHost(l, "grad", grad, gradOffset, l.spec.dim(), l.spec.fanOut());
    checkHost(l, "out", out, outOffset, l.spec.dim(), l.spec.fanOut());
    DeviceArray[] stage = gradientStage(l);
    backend.upload(stage[0], grad.read(gradOffset, n));
    apply(l, stage[0], 1.0, 0.0, stage[1]);
    out.write(outOffset, backend.download(stage[1]));
  }

  /** The layer's two gradient-shaped staging arrays (allocated on first use): {grad, out}. */
  private DeviceArray[] gradientStage(Layer l) {
    if (l.stageGrad == null) {
      l.stageGrad = backend.allocate(l.spec.dim(), l.spec.fanOut());
      l.stageOut = backend.allocate(l.spec.dim(), l.spec.fanOut());
    }
    return new DeviceArray[] {l.stageGrad, l.stageOut};
  }

  // ------------------------------------------------------------------ the work

  private void update(Layer l, DeviceArray input, DeviceArray second) {
    updateOf(l, input, second).runOn(backend, config.lambda());
    afterUpdate(l);
  }

  /**
   * The backend metric update of layer l for this input and pre-activations (or supplied nu); a softmax layer's
   * coefficients are computed here first.
   */
  private MetricUpdate updateOf(Layer l, DeviceArray input, DeviceArray second) {
    LayerSpec s = l.spec;
    if (s.kind() == MetricKind.SHARED) {
      return MetricUpdate.shared(input, l.g);
    }
    DeviceArray nu = backend.rows(l.nu, 0, input.rows());
    switch (s.nu().source()) {
      case ACTIVATION:
        // nu_f + weighted Gram update (fused into one workspace kernel on a GPU)
        return MetricUpdate.fromPreActivations(input, s.nu().activation(), second, s.nu().omegaOr(config.omega()),
            nu, l.g);
      case SOFTMAX:
        backend.softmaxNuCoefficients(second, nu);
        return MetricUpdate.perNeuron(input, nu, l.g);
      default:
        return MetricUpdate.perNeuron(input, second, l.g);
    }
  }

  /** After layer l's metric update: the paper's additive damping, the observed mark, a due refresh. */
  private void afterUpdate(Layer l) {
    markUpdated(l);
    if (refreshDue()) {
      backend.refreshInverses(refreshTarget(l), l.epsRel, refreshEpsAbs(), l.ginv, l.failures);
    }
  }

  /** The paper's additive damping and the observed mark, after layer l's metric update. */
  private void markUpdated(Layer l) {
    if (config.damping() == RngdConfig.Damping.PAPER && config.epsAdd() > 0) {
      backend.addDiagonal(l.g, config.epsAdd());
    }
    l.observed = true;
  }

  private double refreshEpsAbs() {
    return config.damping() == RngdConfig.Damping.CANONICAL ? config.epsAbs() : 0.0;
  }

  /** The matrix a refresh inverts: G, or with the bias correction (G - c I) / (1 - c), computed here. */
  private DeviceArray refreshTarget(Layer l) {
    double c = identityWeight();
    if (c <= 0) {
      return l.g;
    }
    // bias-corrected start (docs/rngd.md): invert (G - c I) / (1 - c), c = (1 - lambda)^(t + 1)
    if (l.corrected == null) {
      l.corrected = backend.allocate(l.g.shape());
    }
    backend.copy(l.g, l.corrected);
    backend.addDiagonal(l.corrected, -c);
    backend.scale(1 / (1 - c), l.corrected);
    return l.corrected;
  }

  /**
   * With {@link RngdConfig#biasCorrection()}, the weight {@code (1 - lambda)^n} of the identity start in the
   * metric after this step's update (n = t + 1 updates); 0 without the correction, and once it is below 1e-16
   * (then (G - cI) / (1 - c) equals G to double precision and the plain path runs).
   */
  private double identityWeight() {
    if (!config.biasCorrection()) {
      return 0;
    }
    double c = Math.pow(1 - config.lambda(), t + 1);
    return c > 1e-16 ? c : 0;
  }

  /**
   * Whether the current step issues the same backend calls with the same scalars as every other step of its
   * kind (normal or refresh), so that a GPU backend may replay a captured graph for it: always, except refresh
   * steps while the bias correction's scalars still change from refresh to refresh.
   */
  public boolean stepReplayable() {
    return !(refreshDue() && identityWeight() > 0);
  }

  private void apply(Layer l, DeviceArray grad, double alpha, double beta, DeviceArray out) {
    if (l.spec.kind() == MetricKind.SHARED) {
      DeviceArray src = grad;
      if (grad == out) {  // gemm's C must not overlap B: precondition a copy
        src = gradientStage(l)[0];
        backend.copy(grad, src);
      }
      backend.gemm(false, false, alpha, l.ginv, src, beta, out);
    } else {
      backend.perNeuronPrecondition(l.ginv, grad, alpha, beta, out);
    }
    l.preconditioned = true;
  }

  // ------------------------------------------------------------------ checks

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("RngdPreconditioner is closed");
    }
  }

  private Layer layerState(String id) {
    checkOpen();
    Layer l = layers.get(id);
    if (l == null) {
      throw new IllegalArgumentException("unknown layer id '" + id + "' (layers: " + layers.keySet() + ")");
    }
    return l;
  }

  private Layer beginObserve(String id, boolean coefficients) {
    Layer l = layerState(id);
    boolean supplied = l.spec.kind() == MetricKind.PER_NEURON && l.spec.nu().source() == Nu.Source.SUPPLIED;
    if (supplied && !coefficients) {
      throw new IllegalStateException("layer '" + id + "' takes caller-supplied nu: use observeCoefficients");
    }
    if (!supplied && coefficients) {
      throw new IllegalStateException("layer '" + id + "' computes its own coefficients (" + l.spec.describe()
          + "): use observe with pre-activations");
    }
    checkProtocolObserve(l);
    return l;
  }

  private Layer beginPrecondition(String id) {
    Layer l = layerState(id);
    checkProtocolPrecondition(l);
    return l;
  }

  private void checkProtocolObserve(Layer l) {
    if (l.observed) {
      throw new IllegalStateException("layer '" + l.spec.id() + "' was already observed in step " + t
          + "; call endStep() before observing it again");
    }
    if (config.order() == RngdConfig.Order.STEP_FIRST && !l.preconditioned) {
      throw new IllegalStateException("layer '" + l.spec.id() + "': in step-first order a step preconditions "
          + "the gradient first and observes the forward pass at the new weights after (MATH.md A6)");
    }
  }

  private void checkProtocolPrecondition(Layer l) {
    if (config.order() == RngdConfig.Order.METRIC_FIRST && !l.observed) {
      throw new IllegalStateException("layer '" + l.spec.id() + "': in metric-first order observe the layer "
          + "before preconditioning its gradient in step " + t + " (MATH.md 8.2)");
    }
    if (config.order() == RngdConfig.Order.STEP_FIRST && l.observed) {
      throw new IllegalStateException("layer '" + l.spec.id() + "': in step-first order precondition before "
          + "observing in step " + t + "; call endStep() first");
    }
  }

  private int checkInput(Layer l, DeviceArray input) {
    if (input == null) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': input (B x " + l.spec.fanIn()
          + ") must be given");
    }
    int b = input.rows();
    checkBatchMatrix(l, "input", input, b, l.spec.fanIn());
    if (b > maxBatch) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': input has " + b
          + " rows, more than maxBatch " + maxBatch);
    }
    return b;
  }

  private static void checkBatchMatrix(Layer l, String name, DeviceArray a, int b, int cols) {
    if (a == null || a.shape().length > 2 || a.rows() != b || a.cols() != cols) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': " + name + " is "
          + (a == null ? "null" : Arrays.toString(a.shape())) + ", expected " + b + " x " + cols);
    }
  }

  private static void checkGradient(Layer l, String name, DeviceArray a) {
    if (a == null || a.shape().length > 2 || a.rows() != l.spec.dim() || a.cols() != l.spec.fanOut()) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': " + name + " is "
          + (a == null ? "null" : Arrays.toString(a.shape())) + ", expected (fan-in + 1) x fan-out = "
          + l.spec.dim() + " x " + l.spec.fanOut() + " (bias as the last row)");
    }
  }

  private static void checkHost(Layer l, String name, Host h, int offset, int rows, int cols) {
    long need = (long) rows * cols;
    if (h == null) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': " + name + " (" + rows + " x " + cols
          + ") must be given");
    }
    if (offset < 0 || offset + need > h.length()) {
      throw new IllegalArgumentException("layer '" + l.spec.id() + "': " + name + " buffer has " + h.length()
          + " elements, too small for " + rows + " x " + cols + " = " + need + " from offset " + offset);
    }
  }

  // ------------------------------------------------------------------ failures, state, persistence

  /**
   * Matrices whose inversion failed so far, over all layers (reads the device counters: synchronises).
   * Logs a warning the first time a layer's count is non-zero.
   */
  public long inversionFailures() {
    long total = restoredFailures;
    for (Layer l : layers.values()) {
      total += inversionFailures(l);
    }
    return total;
  }

  /** Matrices of layer {@code id} whose inversion failed since construction or the last restore. */
  public long inversionFailures(String id) {
    return inversionFailures(layerState(id));
  }

  private long inversionFailures(Layer l) {
    checkOpen();
    long n = Math.round(backend.download(l.failures)[0]);
    if (n > 0 && !l.warned) {
      l.warned = true;
      LOG.log(Level.WARNING, "RNGD: " + n + " metric inversion(s) of layer '" + l.spec.id() + "' failed by step "
          + t + "; those matrices kept their previous inverses and doubled their damping (logged once per layer)");
    }
    return n;
  }

  /** The relative damping factor of each of layer {@code id}'s matrices (downloads). */
  public double[] damping(String id) {
    return backend.download(layerState(id).epsRel);
  }

  /** The metric G of layer {@code id} (d x d, or fan-out x d x d), for inspection; do not write to it. */
  public DeviceArray metric(String id) {
    return layerState(id).g;
  }

  /** The inverse of layer {@code id}'s metric from the last refresh, for inspection; do not write to it. */
  public DeviceArray inverse(String id) {
    return layerState(id).ginv;
  }

  /**
   * Restores the scalar state: the step counter, each layer's damping factors (by id; layers not in the map
   * keep theirs) and a number of earlier inversion failures; the device failure counters restart at 0.
   */
  public void restoreScalars(long iteration, Map<String, double[]> damping, long inversionFailures) {
    checkOpen();
    if (iteration < 0 || inversionFailures < 0) {
      throw new IllegalArgumentException("iteration and inversionFailures must be >= 0, got " + iteration
          + " and " + inversionFailures);
    }
    for (Map.Entry<String, double[]> e : damping.entrySet()) {
      Layer l = layerState(e.getKey());
      double[] v = e.getValue();
      if (v == null || v.length != l.spec.matrices()) {
        throw new IllegalArgumentException("layer '" + e.getKey() + "': damping needs " + l.spec.matrices()
            + " values, got " + (v == null ? "null" : v.length));
      }
      for (double x : v) {
        if (!(x >= 0) || Double.isInfinite(x)) {
          throw new IllegalArgumentException("layer '" + e.getKey() + "': damping values must be finite and"
              + " >= 0, got " + x);
        }
      }
    }
    for (Map.Entry<String, double[]> e : damping.entrySet()) {
      backend.upload(layers.get(e.getKey()).epsRel, e.getValue());
    }
    for (Layer l : layers.values()) {
      backend.fill(l.failures, 0);
      l.observed = false;
      l.preconditioned = false;
    }
    t = iteration;
    restoredFailures = inversionFailures;
  }

  /** The header of a saved state. */
  record Header(String format, int version, long iteration, long inversionFailures, List<LayerSpecJson> layers,
      List<ArrayEntry> arrays) {}

  /** A layer as saved: what must match on restore. */
  record LayerSpecJson(String id, int fanIn, int fanOut, String kind, String nu) {
    static LayerSpecJson of(LayerSpec s) {
      return new LayerSpecJson(s.id(), s.fanIn(), s.fanOut(), s.kind().name(),
          s.nu() == null ? null : s.nu().toString());
    }
  }

  private Map<String, DeviceArray> stateArrays() {
    Map<String, DeviceArray> m = new LinkedHashMap<>();
    for (Layer l : layers.values()) {
      m.put(l.spec.id() + ".G", l.g);
      m.put(l.spec.id() + ".Ginv", l.ginv);
      m.put(l.spec.id() + ".epsRel", l.epsRel);
    }
    return m;
  }

  /**
   * Saves the whole state (metrics, inverses, damping factors, step counter, failure count) atomically to
   * {@code file}, in the container of {@link StateFile} (magic {@value #MAGIC}, version {@value #VERSION}).
   * Call between steps.
   */
  public void save(Path file) {
    checkOpen();
    Map<String, DeviceArray> arrays = stateArrays();
    List<ArrayEntry> entries = StateFile.entries(arrays);
    List<double[]> values = new ArrayList<>();
    arrays.values().forEach(a -> values.add(backend.download(a)));
    Header h = new Header("rfim4j-preconditioner", VERSION, t, inversionFailures(), layerJson(), entries);
    StateFile.write(file, MAGIC, VERSION, h, values, "preconditioner state");
  }

  /**
   * Restores a state written by {@link #save} into this preconditioner, whose layers must be the saved ones
   * (ids, shapes, metric kinds and nu, in order); hyper-parameters come from this preconditioner's
   * configuration. Nothing changes unless the whole file is valid.
   *
   * @throws IllegalArgumentException naming the file and the first difference
   */
  public void restore(Path file) {
    checkOpen();
    String what = "preconditioner state";
    StateFile.Contents c = StateFile.read(file, MAGIC, VERSION, what);
    Header h = c.header(Header.class);
    if (h.layers() == null || h.arrays() == null || h.iteration() < 0 || h.inversionFailures() < 0) {
      throw new IllegalArgumentException(what + " " + file + " header lacks layers, arrays or counters");
    }
    List<LayerSpecJson> mine = layerJson();
    if (!h.layers().equals(mine)) {
      throw new IllegalArgumentException(what + " " + file + " was saved for layers " + describe(h.layers())
          + " but this preconditioner has " + describe(mine));
    }
    Map<String, DeviceArray> targets = stateArrays();
    Map<String, double[]> values = c.arrays(h.arrays());
    StateFile.checkEntries(targets, h.arrays(), "preconditioner", file, what);
    Map<String, double[]> damping = new LinkedHashMap<>();
    for (LayerSpec s : specs) {
      damping.put(s.id(), values.get(s.id() + ".epsRel"));
    }
    restoreScalars(h.iteration(), damping, h.inversionFailures());
    targets.forEach((name, a) -> backend.upload(a, values.get(name)));
  }

  private List<LayerSpecJson> layerJson() {
    List<LayerSpecJson> ls = new ArrayList<>();
    specs.forEach(s -> ls.add(LayerSpecJson.of(s)));
    return ls;
  }

  private static String describe(List<LayerSpecJson> ls) {
    List<String> out = new ArrayList<>();
    for (LayerSpecJson l : ls) {
      out.add(l.id() + " (" + l.fanIn() + "+1)x" + l.fanOut() + " " + l.kind().toLowerCase(java.util.Locale.ROOT)
          + (l.nu() == null ? "" : " " + l.nu()));
    }
    return out.toString();
  }

  /** Frees every array. Idempotent; any later use throws {@link IllegalStateException}. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Layer l : layers.values()) {
      if (l != null) {
        l.owned().forEach(DeviceArray::close);
      }
    }
    stacks.forEach(DeviceArray::close);
  }

  /** Views of host data as rows of doubles, for the host entry points. */
  private interface Host {
    int length();

    double[] read(int offset, int n);

    void write(int offset, double[] v);

    static Host of(double[] a) {
      return a == null ? null : new Host() {
        public int length() {
          return a.length;
        }

        public double[] read(int offset, int n) {
          return offset == 0 && n == a.length ? a : Arrays.copyOfRange(a, offset, offset + n);
        }

        public void write(int offset, double[] v) {
          System.arraycopy(v, 0, a, offset, v.length);
        }
      };
    }

    static Host of(float[] a) {
      return a == null ? null : of(FloatBuffer.wrap(a));
    }

    static Host of(FloatBuffer b) {
      return b == null ? null : new Host() {
        public int length() {
          return b.limit();
        }

        public double[] read(int offset, int n) {
          double[] v = new double[n];
          for (int i = 0; i < n; i++) {
            v[i] = b.get(offset + i);
          }
          return v;
        }

        public void write(int offset, double[] v) {
          for (int i = 0; i < v.length; i++) {
            b.put(offset + i, (float) v[i]);
          }
        }
      };
    }
  }

}
