package org.rfim4j.precond;

import java.util.Objects;
import org.rfim4j.backend.Activation;

/**
 * Where the per-neuron RFIM coefficient {@code nu} of a layer comes from (MATH.md sections 3 and 4): the
 * neuron family of the layer's outputs, or the caller. A per-neuron metric of neuron i is the moving average
 * of {@code mean_k nu(a_ki) h~_k h~_k^T}; a shared (linear-layer) metric uses no nu.
 *
 * <ul>
 *   <li>{@link #identity()} (linear neurons, Gaussian noise): nu = 1;</li>
 *   <li>{@link #tanh()}: sech^2 a; {@link #sigmoid()}: s (1 - s) (Bernoulli models);</li>
 *   <li>{@link #relu()}, {@link #prelu(double)}: the smoothed (P)ReLU coefficient
 *       {@code [iota + (1 - iota) sigm((1 - iota) a / omega)]^2}, with omega from the {@code RngdConfig} unless
 *       {@link #withOmega} sets it for this layer;</li>
 *   <li>{@link #elu(double)}: 1 for a &ge; 0, alpha^2 e^{2a} otherwise;</li>
 *   <li>{@link #softmax()}: a softmax output layer's diagonal blocks, eta_i (1 - eta_i) with eta = softmax(a)
 *       row by row (MATH.md 4.3; RNGD itself uses a shared metric for the softmax layer, A8);</li>
 *   <li>{@link #supplied()}: the caller computes nu (B x fan-out) and passes it to
 *       {@link RngdPreconditioner#observeCoefficients}. The coefficients are weights: a negative one counts
 *       as 0 on every backend ({@link org.rfim4j.backend.Backend#perNeuronMetricUpdate}).</li>
 * </ul>
 *
 * <p>Instances are immutable values.
 */
public final class Nu {
  /** How nu is obtained. */
  public enum Source {
    /** Element-wise from the pre-activations through an activation family. */
    ACTIVATION,
    /** Row-wise softmax of the pre-activations: eta (1 - eta). */
    SOFTMAX,
    /** Given by the caller with each observation. */
    SUPPLIED
  }

  private final Source source;
  private final Activation activation;
  private final double omega;

  private Nu(Source source, Activation activation, double omega) {
    this.source = source;
    this.activation = activation;
    this.omega = omega;
  }

  /** The family of a hidden activation of the training engine (omega from the RNGD configuration). */
  public static Nu of(Activation activation) {
    return new Nu(Source.ACTIVATION, Objects.requireNonNull(activation, "activation"), Double.NaN);
  }

  /** Linear neurons: nu = 1. */
  public static Nu identity() {
    return of(Activation.IDENTITY);
  }

  /** tanh neurons: nu = sech^2 a. */
  public static Nu tanh() {
    return of(Activation.TANH);
  }

  /** Sigmoid neurons: nu = s (1 - s). */
  public static Nu sigmoid() {
    return of(Activation.SIGMOID);
  }

  /** ReLU neurons with the smoothed coefficient sigm(a / omega)^2. */
  public static Nu relu() {
    return of(Activation.RELU);
  }

  /** PReLU neurons of negative slope iota in [0, 1), smoothed coefficient. */
  public static Nu prelu(double iota) {
    return of(Activation.prelu(iota));
  }

  /** ELU neurons of scale alpha &gt; 0. */
  public static Nu elu(double alpha) {
    return of(Activation.elu(alpha));
  }

  /** A softmax output layer: nu_i = eta_i (1 - eta_i), eta = softmax(a) per row. */
  public static Nu softmax() {
    return new Nu(Source.SOFTMAX, null, Double.NaN);
  }

  /** The caller passes nu (B x fan-out) to {@link RngdPreconditioner#observeCoefficients}. */
  public static Nu supplied() {
    return new Nu(Source.SUPPLIED, null, Double.NaN);
  }

  /**
   * The same family with its own (P)ReLU smoothing omega &gt; 0 instead of the configuration's.
   *
   * @throws IllegalArgumentException if omega is not positive and finite, or the family has no omega
   */
  public Nu withOmega(double omega) {
    if (!(omega > 0) || Double.isInfinite(omega)) {
      throw new IllegalArgumentException("nu smoothing omega must be positive and finite, got " + omega);
    }
    if (source != Source.ACTIVATION) {
      throw new IllegalArgumentException("nu " + this + " has no smoothing omega");
    }
    return new Nu(source, activation, omega);
  }

  public Source source() {
    return source;
  }

  /** The activation family ({@link Source#ACTIVATION} only, else null). */
  public Activation activation() {
    return activation;
  }

  /** This layer's omega, or {@code fallback} (the configuration's) when none was set. */
  public double omegaOr(double fallback) {
    return Double.isNaN(omega) ? fallback : omega;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Nu && ((Nu) o).source == source && Objects.equals(((Nu) o).activation, activation)
        && Double.compare(((Nu) o).omega, omega) == 0;
  }

  @Override
  public int hashCode() {
    return Objects.hash(source, activation, omega);
  }

  /** "relu", "prelu(iota=0.25), omega=0.3", "softmax", "supplied". */
  @Override
  public String toString() {
    switch (source) {
      case SOFTMAX:
        return "softmax";
      case SUPPLIED:
        return "supplied";
      default:
        return activation + (Double.isNaN(omega) ? "" : ", omega=" + omega);
    }
  }
}
