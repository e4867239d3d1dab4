package org.rfim4j.optim;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.DenseLayer;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.Parameter;
import org.rfim4j.nn.ParameterRole;

/**
 * Relative Natural Gradient Descent (Sun and Nielsen 2017; MATH.md section 8). Every dense layer keeps
 * an EMA of its relative Fisher metric, either one shared linear-layer metric or one metric per neuron,
 * refreshes the inverses every T steps and steps {@code W -= gamma * Ginv grad} (per neuron: column i by
 * its own inverse). The gradient includes the L2 term (A5); the bias is preconditioned jointly (A3).
 * Batch-norm parameters take plain SGD steps with the same learning rate.
 *
 * <p>Inversion failures (MATH.md A11): the backend symmetrises and Cholesky-factorises; a matrix that is
 * not positive definite keeps its previous inverse, its relative damping doubles (or becomes 1e-8 when it
 * was 0) and a warning is logged once per layer.
 *
 * <p>All work is backend operations: one metric call per layer, one batched inversion per layer every T
 * steps, one preconditioning call per layer.
 */
public final class Rngd implements Optimizer {
  private static final System.Logger LOG = System.getLogger(Rngd.class.getName());

  private final Backend backend;
  private final Mlp model;
  private final RngdConfig config;
  private final List<LayerState> layers = new ArrayList<>();
  private final List<Parameter> bnParameters = new ArrayList<>();
  private final List<DeviceArray> bnValues = new ArrayList<>();
  private final List<DeviceArray> bnGrads = new ArrayList<>();
  private long t;
  private long inversionFailures;

  /** Metric state of one dense layer. */
  private static final class LayerState {
    final DenseLayer layer;
    final MetricKind kind;
    final DeviceArray g;
    final DeviceArray ginv;
    final DeviceArray nu;
    final double[] epsRel;
    boolean warned;

    LayerState(DenseLayer layer, MetricKind kind, DeviceArray g, DeviceArray ginv, DeviceArray nu, double[] epsRel) {
      this.layer = layer;
      this.kind = kind;
      this.g = g;
      this.ginv = ginv;
      this.nu = nu;
      this.epsRel = epsRel;
    }
  }

  public Rngd(Mlp model, RngdConfig config) {
    this.backend = model.backend();
    this.model = model;
    this.config = config;
    List<DenseLayer> dense = model.layers();
    for (DenseLayer layer : dense) {
      MetricKind kind = config.kindOf(layer.index(), dense.size());
      int d = layer.fanIn() + 1;
      int m = layer.fanOut();
      DeviceArray g;
      DeviceArray ginv;
      DeviceArray nu = null;
      double[] eps;
      if (kind == MetricKind.SHARED) {
        g = backend.allocate(d, d);
        ginv = backend.allocate(d, d);
        eps = new double[1];
      } else {
        g = backend.allocate(m, d, d);
        ginv = backend.allocate(m, d, d);
        nu = backend.allocate(model.maxBatch(), m);
        eps = new double[m];
      }
      backend.addDiagonal(g, 1.0);
      backend.addDiagonal(ginv, 1.0);
      Arrays.fill(eps, config.damping() == RngdConfig.Damping.CANONICAL ? config.epsRel() : 0.0);
      layers.add(new LayerState(layer, kind, g, ginv, nu, eps));
    }
    for (Parameter p : model.parameters()) {
      if (p.role() != ParameterRole.DENSE_WEIGHTS) {
        bnParameters.add(p);
        bnValues.add(p.value());
        bnGrads.add(p.grad());
      }
    }
  }

  public RngdConfig config() {
    return config;
  }

  @Override
  public String name() {
    return "rngd";
  }

  @Override
  public double learningRate() {
    return config.learningRate();
  }

  /** Metric kind of each dense layer. */
  public List<MetricKind> metricKinds() {
    List<MetricKind> k = new ArrayList<>();
    layers.forEach(s -> k.add(s.kind));
    return k;
  }

  /** Number of matrices whose inversion failed so far. */
  public long inversionFailures() {
    return inversionFailures;
  }

  @Override
  public void step() {
    if (config.order() == RngdConfig.Order.METRIC_FIRST) {
      updateMetrics();
      if (t % config.refreshPeriod() == 0) {
        refreshInverses();
      }
      applyStep();
    } else {
      applyStep();
      model.forward(model.lastInput(), true, false);
      updateMetrics();
      if (t % config.refreshPeriod() == 0) {
        refreshInverses();
      }
    }
    t++;
  }

  private void updateMetrics() {
    for (LayerState s : layers) {
      DenseLayer layer = s.layer;
      if (s.kind == MetricKind.SHARED) {
        backend.sharedMetricUpdate(layer.lastInput(), config.lambda(), s.g);
      } else {
        DeviceArray nu = backend.rows(s.nu, 0, layer.lastBatch());
        Activation act = layer.activation() == null ? Activation.IDENTITY : layer.activation();
        // nu_f + weighted Gram update (fused into one workspace kernel on a GPU)
        backend.perNeuronMetricUpdateFromPreActivations(layer.lastInput(), act, layer.lastPreActivation(backend),
            config.omega(), config.lambda(), nu, s.g);
      }
      if (config.damping() == RngdConfig.Damping.PAPER && config.epsAdd() > 0) {
        backend.addDiagonal(s.g, config.epsAdd());
      }
    }
  }

  private void refreshInverses() {
    double epsAbs = config.damping() == RngdConfig.Damping.CANONICAL ? config.epsAbs() : 0.0;
    for (LayerState s : layers) {
      int[] status = backend.batchedInverse(s.g, s.epsRel, epsAbs, s.ginv);
      int failed = 0;
      for (int i = 0; i < status.length; i++) {
        if (status[i] != 0) {
          failed++;
          s.epsRel[i] = s.epsRel[i] > 0 ? 2 * s.epsRel[i] : 1e-8;
        }
      }
      if (failed > 0) {
        inversionFailures += failed;
        if (!s.warned) {
          s.warned = true;
          LOG.log(Level.WARNING, "RNGD: metric inversion failed for " + failed + " of " + status.length
              + " matrices of layer " + (s.layer.index() + 1) + " at step " + t
              + "; keeping their previous inverses and doubling their damping (logged once per layer)");
        }
      }
    }
  }

  private void applyStep() {
    double lr = config.learningRate();
    for (LayerState s : layers) {
      Parameter w = s.layer.weights();
      if (s.kind == MetricKind.SHARED) {
        backend.gemm(false, false, -lr, s.ginv, w.grad(), 1.0, w.value());
      } else {
        backend.perNeuronPrecondition(s.ginv, w.grad(), -lr, 1.0, w.value());
      }
    }
    if (!bnValues.isEmpty()) {
      backend.sgdUpdateAll(bnValues, bnGrads, null, lr, 0);  // one launch on a GPU
    }
  }

  /**
   * A step that refreshes the inverses reads the inversion status back to the host (exact failure handling,
   * as on the CPU), so it cannot be captured into a CUDA graph; the other steps can.
   */
  @Override
  public boolean nextStepCapturable() {
    return t % config.refreshPeriod() != 0;
  }

  @Override
  public long iterations() {
    return t;
  }

  @Override
  public Map<String, DeviceArray> state() {
    Map<String, DeviceArray> m = new LinkedHashMap<>();
    for (LayerState s : layers) {
      String name = s.layer.weights().name();
      m.put(name + ".G", s.g);
      m.put(name + ".Ginv", s.ginv);
    }
    return m;
  }

  @Override
  public Map<String, Double> scalars() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("iterations", (double) t);
    m.put("inversionFailures", (double) inversionFailures);
    for (LayerState s : layers) {
      for (int i = 0; i < s.epsRel.length; i++) {
        m.put(s.layer.weights().name() + ".epsRel." + i, s.epsRel[i]);
      }
    }
    return m;
  }

  @Override
  public void restoreScalars(Map<String, Double> scalars) {
    t = Hyper.iterations(scalars);
    inversionFailures = scalars.getOrDefault("inversionFailures", 0.0).longValue();
    for (LayerState s : layers) {
      for (int i = 0; i < s.epsRel.length; i++) {
        String key = s.layer.weights().name() + ".epsRel." + i;
        Double v = scalars.get(key);
        if (v == null || !(v >= 0)) {
          throw new IllegalArgumentException("RNGD state lacks a valid '" + key + "'");
        }
        s.epsRel[i] = v;
      }
    }
  }

  @Override
  public void close() {
    for (LayerState s : layers) {
      s.g.close();
      s.ginv.close();
      if (s.nu != null) {
        s.nu.close();
      }
    }
  }
}
