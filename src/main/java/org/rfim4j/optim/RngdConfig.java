package org.rfim4j.optim;

import java.util.Arrays;

/**
 * Hyper-parameters of RNGD (MATH.md 8.3 and 8.5), defaults as the paper and its reference code.
 *
 * @param learningRate gamma, multiplies G^-1 grad (A2)
 * @param lambda metric EMA rate (0.005)
 * @param refreshPeriod T: inverses are recomputed when t mod T == 0, t the global step from 0 (A7)
 * @param omega nu smoothing of (P)ReLU (1)
 * @param epsRel relative damping at inversion: G + (epsRel * trace G + epsAbs) I (canonical, A1; 1e-4)
 * @param epsAbs absolute damping at inversion (0)
 * @param damping CANONICAL (damping at inversion) or PAPER (eps added to G at every EMA step)
 * @param epsAdd the PAPER damping's per-step eps (5e-6 gives a steady ridge of 1e-3 at lambda 0.005)
 * @param order METRIC_FIRST (canonical) or STEP_FIRST (reference code order, A6)
 * @param metricKinds per dense layer; {@code null} means the paper's default: SHARED for the input and
 *     softmax layers, PER_NEURON for the hidden-to-hidden layers
 * @param biasCorrection opt-in (default false, the paper): invert the bias-corrected metric
 *     {@code (G - (1 - lambda)^n I) / (1 - (1 - lambda)^n)} after n metric updates, the moving average as if it
 *     had started from zero (docs/rngd.md), instead of G, whose identity start dominates the first few hundred
 *     steps
 */
public record RngdConfig(double learningRate, double lambda, int refreshPeriod, double omega, double epsRel,
    double epsAbs, Damping damping, double epsAdd, Order order, MetricKind[] metricKinds, boolean biasCorrection) {

  /** Where damping enters (A1). */
  public enum Damping {
    /** Invert G + (epsRel * trace(G) + epsAbs) I every T steps; no eps in the EMA. */
    CANONICAL,
    /** The paper text: G = (1 - lambda) G + lambda M + epsAdd I at every step; invert G as is. */
    PAPER
  }

  /** Order of metric update and step within an iteration (A6). */
  public enum Order {
    /** forward, gradient, EMA from the same forward pass, refresh if t mod T == 0, step. */
    METRIC_FIRST,
    /** step with the stored inverse, forward at the new weights, EMA, refresh if t mod T == 0. */
    STEP_FIRST
  }

  public RngdConfig {
    Hyper.positive("learning rate", learningRate);
    if (!(lambda > 0 && lambda <= 1)) {
      throw new IllegalArgumentException("RNGD lambda must be in (0, 1], got " + lambda);
    }
    if (refreshPeriod < 1) {
      throw new IllegalArgumentException("RNGD refresh period T must be >= 1, got " + refreshPeriod);
    }
    Hyper.positive("RNGD omega", omega);
    if (!(epsRel >= 0) || !(epsAbs >= 0) || !(epsAdd >= 0) || Double.isInfinite(epsRel + epsAbs + epsAdd)) {
      throw new IllegalArgumentException("RNGD damping values must be finite and >= 0");
    }
    if (damping == null || order == null) {
      throw new IllegalArgumentException("RNGD damping and order must be given");
    }
    metricKinds = metricKinds == null ? null : metricKinds.clone();
  }

  /** The paper's metric (no bias correction): the constructor of earlier versions. */
  public RngdConfig(double learningRate, double lambda, int refreshPeriod, double omega, double epsRel,
      double epsAbs, Damping damping, double epsAdd, Order order, MetricKind[] metricKinds) {
    this(learningRate, lambda, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, order, metricKinds, false);
  }

  /** The paper's settings with the given learning rate. */
  public static RngdConfig defaults(double learningRate) {
    return new RngdConfig(learningRate, 0.005, 100, 1.0, 1e-4, 0.0, Damping.CANONICAL, 5e-6, Order.METRIC_FIRST,
        null);
  }

  public RngdConfig withLambda(double v) {
    return new RngdConfig(learningRate, v, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, order,
        metricKinds, biasCorrection);
  }

  public RngdConfig withRefreshPeriod(int v) {
    return new RngdConfig(learningRate, lambda, v, omega, epsRel, epsAbs, damping, epsAdd, order, metricKinds,
        biasCorrection);
  }

  public RngdConfig withOmega(double v) {
    return new RngdConfig(learningRate, lambda, refreshPeriod, v, epsRel, epsAbs, damping, epsAdd, order,
        metricKinds, biasCorrection);
  }

  /** Sets the damping value of the chosen mode: epsRel for CANONICAL, epsAdd for PAPER. */
  public RngdConfig withDamping(Damping mode, double eps) {
    boolean canonical = mode == Damping.CANONICAL;
    return new RngdConfig(learningRate, lambda, refreshPeriod, omega, canonical ? eps : epsRel, epsAbs, mode,
        canonical ? epsAdd : eps, order, metricKinds, biasCorrection);
  }

  public RngdConfig withOrder(Order v) {
    return new RngdConfig(learningRate, lambda, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, v,
        metricKinds, biasCorrection);
  }

  public RngdConfig withMetricKinds(MetricKind... v) {
    return new RngdConfig(learningRate, lambda, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, order, v,
        biasCorrection);
  }

  /** The same configuration with the bias-corrected metric start on or off. */
  public RngdConfig withBiasCorrection(boolean v) {
    return new RngdConfig(learningRate, lambda, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, order,
        metricKinds, v);
  }

  /** The same configuration with another learning rate. */
  public RngdConfig withLearningRate(double v) {
    return new RngdConfig(v, lambda, refreshPeriod, omega, epsRel, epsAbs, damping, epsAdd, order, metricKinds,
        biasCorrection);
  }

  @Override
  public MetricKind[] metricKinds() {
    return metricKinds == null ? null : metricKinds.clone();
  }

  /** The metric kind of layer {@code l} of {@code layers}: explicit, else the paper's default. */
  public MetricKind kindOf(int l, int layers) {
    if (metricKinds != null) {
      if (metricKinds.length != layers) {
        throw new IllegalArgumentException("RNGD metric kinds given for " + metricKinds.length
            + " layers, the model has " + layers + ": " + Arrays.toString(metricKinds));
      }
      return metricKinds[l];
    }
    return l == 0 || l == layers - 1 ? MetricKind.SHARED : MetricKind.PER_NEURON;
  }
}
