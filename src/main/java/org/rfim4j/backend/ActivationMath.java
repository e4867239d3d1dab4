package org.rfim4j.backend;

/**
 * Scalar activation math in float64: the single definition every backend and the tests follow.
 * Formulas from MATH.md section 3 and 8.1: forward and backward use the exact activation; the RNGD
 * coefficient of (P)ReLU is the smoothed {@code nu = [iota + (1-iota) sigm((1-iota) a / omega)]^2}.
 */
public final class ActivationMath {
  private ActivationMath() {}

  /** Logistic sigmoid, stable for large |t|. */
  public static double sigm(double t) {
    if (t >= 0) {
      return 1.0 / (1.0 + Math.exp(-t));
    }
    double e = Math.exp(t);
    return e / (1.0 + e);
  }

  /** sech^2(t) = 4 e^{-2|t|} / (1 + e^{-2|t|})^2, accurate everywhere. */
  public static double sech2(double t) {
    double e = Math.exp(-2 * Math.abs(t));
    return 4 * e / ((1 + e) * (1 + e));
  }

  /** f(a). */
  public static double f(Activation act, double a) {
    switch (act.kind()) {
      case IDENTITY:
        return a;
      case TANH:
        return Math.tanh(a);
      case SIGMOID:
        return sigm(a);
      case RELU:
        return a > 0 ? a : 0.0;
      case PRELU:
        return a > 0 ? a : act.iota() * a;
      case ELU:
        return a >= 0 ? a : act.alpha() * Math.expm1(a);
      default:
        throw new AssertionError(act);
    }
  }

  /**
   * f'(a). At a = 0 the (P)ReLU derivative is the negative slope (0 for ReLU, as TensorFlow), ELU's is 1.
   */
  public static double df(Activation act, double a) {
    switch (act.kind()) {
      case IDENTITY:
        return 1.0;
      case TANH:
        return sech2(a);
      case SIGMOID: {
        double s = sigm(a);
        return s * (1 - s);
      }
      case RELU:
        return a > 0 ? 1.0 : 0.0;
      case PRELU:
        return a > 0 ? 1.0 : act.iota();
      case ELU:
        return a >= 0 ? 1.0 : act.alpha() * Math.exp(a);
      default:
        throw new AssertionError(act);
    }
  }

  /**
   * The RNGD per-neuron coefficient for a hidden unit: for (P)ReLU the omega-smoothed
   * {@code [iota + (1-iota) sigm((1-iota) a / omega)]^2}; tanh sech^2(a); sigmoid s(1-s); ELU 1 or
   * alpha^2 e^{2a}; identity 1.
   */
  public static double nu(Activation act, double a, double omega) {
    switch (act.kind()) {
      case IDENTITY:
        return 1.0;
      case TANH:
        return sech2(a);
      case SIGMOID: {
        double s = sigm(a);
        return s * (1 - s);
      }
      case RELU:
      case PRELU: {
        double iota = act.negativeSlope();
        double d = iota + (1 - iota) * sigm((1 - iota) * a / omega);
        return d * d;
      }
      case ELU: {
        if (a >= 0) {
          return 1.0;
        }
        double al = act.alpha();
        return al * al * Math.exp(2 * a);
      }
      default:
        throw new AssertionError(act);
    }
  }
}
