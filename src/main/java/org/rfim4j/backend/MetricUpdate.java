package org.rfim4j.backend;

/**
 * One layer's RNGD metric update for {@link Backend#metricUpdates}, in one of three forms (MATH.md 8.1):
 * a shared (linear-layer) metric {@link #shared}, per-neuron metrics with given coefficients
 * {@link #perNeuron}, or per-neuron metrics whose coefficients come from the pre-activations
 * {@link #fromPreActivations}.
 *
 * @param h the layer's input, B x n (without the constant 1)
 * @param g the metric: (n+1) x (n+1) for a shared metric, m x (n+1) x (n+1) per neuron
 * @param coefficients nu (B x m) for {@link #perNeuron}, the pre-activations (B x m) for
 *     {@link #fromPreActivations}, null for {@link #shared}
 * @param act the activation whose nu_f is used ({@link #fromPreActivations} only, else null)
 * @param omega the variance factor of nu_f ({@link #fromPreActivations} only)
 * @param nu scratch for the coefficients, B x m ({@link #fromPreActivations} only; a backend may not write it)
 */
public record MetricUpdate(DeviceArray h, DeviceArray g, DeviceArray coefficients, Activation act, double omega,
    DeviceArray nu) {

  /** {@link Backend#sharedMetricUpdate}{@code (h, lambda, g)}. */
  public static MetricUpdate shared(DeviceArray h, DeviceArray g) {
    return new MetricUpdate(h, g, null, null, 0, null);
  }

  /** {@link Backend#perNeuronMetricUpdate}{@code (h, nu, lambda, g)}. */
  public static MetricUpdate perNeuron(DeviceArray h, DeviceArray nu, DeviceArray g) {
    if (nu == null) {
      throw new IllegalArgumentException("a per-neuron metric update needs its coefficients nu");
    }
    return new MetricUpdate(h, g, nu, null, 0, null);
  }

  /** {@link Backend#perNeuronMetricUpdateFromPreActivations}{@code (h, act, a, omega, lambda, nu, g)}. */
  public static MetricUpdate fromPreActivations(DeviceArray h, Activation act, DeviceArray a, double omega,
      DeviceArray nu, DeviceArray g) {
    if (act == null || a == null) {
      throw new IllegalArgumentException("a metric update from pre-activations needs the activation and the"
          + " pre-activations");
    }
    return new MetricUpdate(h, g, a, act, omega, nu);
  }

  /** Whether this is a shared (linear-layer) metric update. */
  public boolean isShared() {
    return coefficients == null;
  }

  /** Runs this update on {@code backend} with the per-layer operation it stands for. */
  public void runOn(Backend backend, double lambda) {
    if (isShared()) {
      backend.sharedMetricUpdate(h, lambda, g);
    } else if (act == null) {
      backend.perNeuronMetricUpdate(h, coefficients, lambda, g);
    } else {
      backend.perNeuronMetricUpdateFromPreActivations(h, act, coefficients, omega, lambda, nu, g);
    }
  }
}
