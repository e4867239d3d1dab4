package org.rfim4j.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Nu;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * Relative Natural Gradient Descent (Sun and Nielsen 2017; MATH.md section 8) for a {@link Trainable} model
 * (rfim4j's {@code Mlp}): a client of {@link RngdPreconditioner} that passes each dense layer's input,
 * pre-activations and gradient (L2 term included, A5; bias preconditioned jointly, A3) through the public API
 * and steps
 * {@code W -= gamma * Ginv grad}. Every dense layer keeps one shared linear-layer metric or one metric per
 * neuron ({@link RngdConfig#kindOf}); hidden layers take nu from their activation, the softmax layer (when
 * per-neuron) the identity. Batch-norm parameters take plain SGD steps with the same learning rate.
 *
 * <p>In step-first order (A6) the step runs the model's forward pass again at the updated weights, on the
 * same input, before the metrics are observed, as the reference code does.
 *
 * <p>Inversion failures (A11) keep the previous inverse and double the damping on the device; every step,
 * refresh steps included, issues only device work, so a GPU backend can capture both kinds
 * ({@link #nextStepKind()}) into graphs. {@link #inversionFailures()} reads the count (synchronises) and logs
 * a warning once per layer.
 */
public final class Rngd implements Optimizer {
  private final Backend backend;
  private final Trainable model;
  private final RngdConfig config;
  private final RngdPreconditioner preconditioner;
  private final List<? extends Trainable.Dense> dense;
  private final List<MetricKind> kinds = new ArrayList<>();
  /** The dense layers' ids, in order. */
  private final List<String> ids = new ArrayList<>();
  private final List<DeviceArray> bnValues = new ArrayList<>();
  private final List<DeviceArray> bnGrads = new ArrayList<>();

  public Rngd(Trainable model, RngdConfig config) {
    this.backend = model.backend();
    this.model = model;
    this.config = config;
    this.dense = List.copyOf(model.denseLayers());
    List<LayerSpec> specs = new ArrayList<>();
    for (int l = 0; l < dense.size(); l++) {
      Trainable.Dense layer = dense.get(l);
      MetricKind kind = config.kindOf(l, dense.size());
      kinds.add(kind);
      String id = id(layer);
      ids.add(id);
      specs.add(kind == MetricKind.SHARED ? LayerSpec.shared(id, layer.fanIn(), layer.fanOut())
          : LayerSpec.perNeuron(id, layer.fanIn(), layer.fanOut(),
              layer.activation() == null ? Nu.identity() : Nu.of(layer.activation())));
    }
    this.preconditioner = new RngdPreconditioner(backend, config, model.maxBatch(), specs);
    for (Trainable.Tensor p : model.tensors()) {
      if (!p.denseWeights()) {
        bnValues.add(p.value());
        bnGrads.add(p.grad());
      }
    }
  }

  /** The layer's id in the preconditioner: its weight tensor's name (W1, W2, ...). */
  private static String id(Trainable.Dense layer) {
    return layer.id();
  }

  public RngdConfig config() {
    return config;
  }

  /** The preconditioner that holds the metrics (layer ids W1, W2, ...). */
  public RngdPreconditioner preconditioner() {
    return preconditioner;
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
    return List.copyOf(kinds);
  }

  /** Number of matrices whose inversion failed so far (synchronises). */
  public long inversionFailures() {
    return preconditioner.inversionFailures();
  }

  @Override
  public void step() {
    if (config.order() == RngdConfig.Order.METRIC_FIRST) {
      observeAll();
      applyStep();
    } else {
      applyStep();
      model.forwardAgain();
      observeAll();
    }
    preconditioner.endStep();
  }

  /** Every layer's metric update in one preconditioner call (one backend call: fused on a GPU). */
  private void observeAll() {
    List<DeviceArray> inputs = new ArrayList<>(dense.size());
    List<DeviceArray> pre = new ArrayList<>(dense.size());
    for (Trainable.Dense layer : dense) {
      inputs.add(layer.lastInput());
      pre.add(layer.lastPreActivation());
    }
    preconditioner.observeAll(ids, inputs, pre);
  }

  private void applyStep() {
    double lr = config.learningRate();
    List<DeviceArray> grads = new ArrayList<>(dense.size());
    List<DeviceArray> weights = new ArrayList<>(dense.size());
    for (Trainable.Dense layer : dense) {
      grads.add(layer.weightGradient());
      weights.add(layer.weightValues());
    }
    preconditioner.preconditionAll(ids, grads, -lr, 1.0, weights);
    if (!bnValues.isEmpty()) {
      backend.sgdUpdateAll(bnValues, bnGrads, null, lr, 0);  // one launch on a GPU
    }
  }

  /**
   * Every step is device work only (the refresh included; refresh steps are their own kind), so every step is
   * capturable, except refresh steps while a bias-corrected start still changes their scalars.
   */
  @Override
  public boolean nextStepCapturable() {
    return preconditioner.stepReplayable();
  }

  /** {@code rngd-refresh} when the next step refreshes the inverses (t mod T == 0), else {@code rngd}. */
  @Override
  public String nextStepKind() {
    return preconditioner.refreshDue() ? "rngd-refresh" : "rngd";
  }

  @Override
  public long iterations() {
    return preconditioner.iteration();
  }

  @Override
  public Map<String, DeviceArray> state() {
    Map<String, DeviceArray> m = new LinkedHashMap<>();
    for (Trainable.Dense layer : dense) {
      m.put(id(layer) + ".G", preconditioner.metric(id(layer)));
      m.put(id(layer) + ".Ginv", preconditioner.inverse(id(layer)));
    }
    return m;
  }

  /** The step counter, the failure count and every matrix's damping ({@code W2.epsRel.17}); synchronises. */
  @Override
  public Map<String, Double> scalars() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("iterations", (double) preconditioner.iteration());
    m.put("inversionFailures", (double) preconditioner.inversionFailures());
    for (Trainable.Dense layer : dense) {
      double[] eps = preconditioner.damping(id(layer));
      for (int i = 0; i < eps.length; i++) {
        m.put(id(layer) + ".epsRel." + i, eps[i]);
      }
    }
    return m;
  }

  @Override
  public void restoreScalars(Map<String, Double> scalars) {
    long t = Hyper.iterations(scalars);
    Double f = scalars.getOrDefault("inversionFailures", 0.0);
    if (!(f >= 0) || Double.isInfinite(f)) {
      throw new IllegalArgumentException("RNGD state has an invalid 'inversionFailures' " + f);
    }
    Map<String, double[]> damping = new LinkedHashMap<>();
    for (Trainable.Dense layer : dense) {
      double[] eps = new double[preconditioner.layer(id(layer)).matrices()];
      for (int i = 0; i < eps.length; i++) {
        String key = id(layer) + ".epsRel." + i;
        Double v = scalars.get(key);
        if (v == null || !(v >= 0)) {
          throw new IllegalArgumentException("RNGD state lacks a valid '" + key + "'");
        }
        eps[i] = v;
      }
      damping.put(id(layer), eps);
    }
    preconditioner.restoreScalars(t, damping, f.longValue());
  }

  @Override
  public void close() {
    preconditioner.close();
  }
}
