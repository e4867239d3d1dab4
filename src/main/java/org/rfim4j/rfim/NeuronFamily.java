package org.rfim4j.rfim;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.rfim4j.backend.ActivationMath;

/**
 * A neuron family of MATH.md section 3 / {@code vectors/README.md}: mean function {@code f}, its
 * derivative {@code f'}, the noise model of the output, and the Fisher coefficient of the pre-activation
 * {@code nu(a) = f'(a)^2 / V(a)}.
 *
 * <table>
 * <caption>Families (names exactly as in the test vectors)</caption>
 * <tr><th>name</th><th>params</th><th>f</th><th>noise model</th><th>nu</th></tr>
 * <tr><td>tanh</td><td>-</td><td>tanh a</td><td>Bernoulli +-1, P(+1)=(1+tanh a)/2</td><td>sech^2 a</td></tr>
 * <tr><td>sigmoid</td><td>-</td><td>sigm a</td><td>Bernoulli 0/1, P(1)=sigm a</td><td>s(1-s)</td></tr>
 * <tr><td>relu_smooth / prelu_smooth</td><td>iota (relu: 0), omega</td>
 *   <td>f_omega(a) = iota a + omega softplus((1-iota) a / omega)</td><td>N(f_omega(a), 1)</td>
 *   <td>[iota + (1-iota) sigm((1-iota) a/omega)]^2</td></tr>
 * <tr><td>elu</td><td>alpha</td><td>a if a &ge; 0, alpha(e^a - 1) else</td><td>N(f(a), 1)</td>
 *   <td>1 if a &ge; 0, alpha^2 e^{2a} else (paper convention nu(0) = 1)</td></tr>
 * <tr><td>relu_exact / prelu_exact</td><td>iota (relu: 0)</td><td>a if a &ge; 0, iota a else</td>
 *   <td>N(f(a), 1)</td><td>f'^2 with f' in {1 (a &ge; 0), iota}</td></tr>
 * <tr><td>identity (output only)</td><td>-</td><td>a</td><td>N(a, 1)</td><td>1</td></tr>
 * <tr><td>tanh_gauss (output only)</td><td>-</td><td>tanh a</td><td>N(tanh a, 1)</td><td>sech^4 a</td></tr>
 * </table>
 *
 * <p>A Gaussian family may carry a noise standard deviation {@code sigma} (default 1, as the paper
 * assumes); then {@code nu = f'^2 / sigma^2}. The smoothed (P)ReLU nu is exact for the smoothed mean; it
 * is only an approximation of the true (P)ReLU Fisher (MATH.md section 3, item 2).
 */
public final class NeuronFamily {
  private static final Map<String, Set<String>> REQUIRED = new LinkedHashMap<>();
  private static final Map<String, Set<String>> ALLOWED = new LinkedHashMap<>();

  static {
    def("tanh", Set.of(), Set.of());
    def("sigmoid", Set.of(), Set.of());
    def("relu_smooth", Set.of("omega"), Set.of("iota", "omega"));
    def("prelu_smooth", Set.of("iota", "omega"), Set.of("iota", "omega"));
    def("elu", Set.of("alpha"), Set.of("alpha"));
    def("relu_exact", Set.of(), Set.of("iota"));
    def("prelu_exact", Set.of("iota"), Set.of("iota"));
    def("identity", Set.of(), Set.of());
    def("tanh_gauss", Set.of(), Set.of());
  }

  private static void def(String name, Set<String> required, Set<String> allowed) {
    REQUIRED.put(name, required);
    ALLOWED.put(name, allowed);
  }

  private final String name;
  private final double iota;
  private final double omega;
  private final double alpha;
  private final double sigma;
  private final NoiseModel noise;

  private NeuronFamily(String name, double iota, double omega, double alpha, double sigma) {
    this.name = name;
    this.iota = iota;
    this.omega = omega;
    this.alpha = alpha;
    this.sigma = sigma;
    switch (name) {
      case "tanh":
        noise = NoiseModel.BERNOULLI_PM1;
        break;
      case "sigmoid":
        noise = NoiseModel.BERNOULLI_01;
        break;
      default:
        noise = NoiseModel.GAUSSIAN;
    }
  }

  /** All recognised family names, in a stable order. */
  public static Set<String> names() {
    return Collections.unmodifiableSet(REQUIRED.keySet());
  }

  /**
   * Builds a family from its vector-file name and parameter map.
   *
   * @throws IllegalArgumentException naming an unknown family, a missing or unexpected parameter, or an
   *     out-of-range value (omega &gt; 0, alpha &gt; 0, 0 &le; iota &lt; 1; relu_* need iota = 0)
   */
  public static NeuronFamily of(String name, Map<String, Double> params) {
    if (name == null || !REQUIRED.containsKey(name)) {
      throw new IllegalArgumentException(
          "unknown activation '" + name + "' (expected one of " + String.join(", ", names()) + ")");
    }
    Map<String, Double> p = params == null ? Map.of() : params;
    for (String req : REQUIRED.get(name)) {
      if (!p.containsKey(req) || p.get(req) == null) {
        throw new IllegalArgumentException("activation '" + name + "' needs parameter '" + req + "'");
      }
    }
    for (Map.Entry<String, Double> e : p.entrySet()) {
      if (!ALLOWED.get(name).contains(e.getKey())) {
        throw new IllegalArgumentException(
            "activation '" + name + "' does not take parameter '" + e.getKey() + "'");
      }
      if (e.getValue() == null || !Double.isFinite(e.getValue())) {
        throw new IllegalArgumentException(
            "activation '" + name + "' parameter '" + e.getKey() + "' must be finite");
      }
    }
    double iota = p.getOrDefault("iota", 0.0);
    double omega = p.getOrDefault("omega", 1.0);
    double alpha = p.getOrDefault("alpha", 1.0);
    if (!(iota >= 0 && iota < 1)) {
      throw new IllegalArgumentException("activation '" + name + "' parameter 'iota' must be in [0, 1), got " + iota);
    }
    if (name.startsWith("relu_") && iota != 0) {
      throw new IllegalArgumentException("activation '" + name + "' parameter 'iota' must be 0 (use prelu_*)");
    }
    if (!(omega > 0)) {
      throw new IllegalArgumentException("activation '" + name + "' parameter 'omega' must be > 0, got " + omega);
    }
    if (!(alpha > 0)) {
      throw new IllegalArgumentException("activation '" + name + "' parameter 'alpha' must be > 0, got " + alpha);
    }
    return new NeuronFamily(name, iota, omega, alpha, 1.0);
  }

  /** Family without parameters (tanh, sigmoid, identity, tanh_gauss, relu_exact). */
  public static NeuronFamily of(String name) {
    return of(name, Map.of());
  }

  /** Same family with Gaussian noise standard deviation {@code sigma} (Gaussian families only). */
  public NeuronFamily withSigma(double sigma) {
    if (noise != NoiseModel.GAUSSIAN) {
      throw new IllegalArgumentException("activation '" + name + "' has Bernoulli noise; sigma does not apply");
    }
    if (!(sigma > 0) || !Double.isFinite(sigma)) {
      throw new IllegalArgumentException("sigma must be finite and > 0, got " + sigma);
    }
    return new NeuronFamily(name, iota, omega, alpha, sigma);
  }

  public String name() {
    return name;
  }

  public NoiseModel noise() {
    return noise;
  }

  public double iota() {
    return iota;
  }

  public double omega() {
    return omega;
  }

  public double alpha() {
    return alpha;
  }

  /** Gaussian noise standard deviation (1 unless {@link #withSigma}); meaningless for Bernoulli. */
  public double sigma() {
    return sigma;
  }

  /** True for identity and tanh_gauss, which the vectors use only as output models. */
  public boolean isOutputOnly() {
    return name.equals("identity") || name.equals("tanh_gauss");
  }

  /** Numerically stable softplus log(1 + e^t). */
  public static double softplus(double t) {
    return Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
  }

  /** Mean function f(a) (the deterministic forward function when used as a hidden unit). */
  public double f(double a) {
    switch (name) {
      case "tanh":
      case "tanh_gauss":
        return Math.tanh(a);
      case "sigmoid":
        return ActivationMath.sigm(a);
      case "relu_smooth":
      case "prelu_smooth":
        return iota * a + omega * softplus((1 - iota) * a / omega);
      case "elu":
        return a >= 0 ? a : alpha * Math.expm1(a);
      case "relu_exact":
      case "prelu_exact":
        return a >= 0 ? a : iota * a;
      case "identity":
        return a;
      default:
        throw new AssertionError(name);
    }
  }

  /** f'(a). At a = 0: ELU and exact (P)ReLU use 1 (the vectors' convention, a &ge; 0 branch). */
  public double df(double a) {
    switch (name) {
      case "tanh":
      case "tanh_gauss":
        return ActivationMath.sech2(a);
      case "sigmoid": {
        double s = ActivationMath.sigm(a);
        return s * (1 - s);
      }
      case "relu_smooth":
      case "prelu_smooth":
        return iota + (1 - iota) * ActivationMath.sigm((1 - iota) * a / omega);
      case "elu":
        return a >= 0 ? 1.0 : alpha * Math.exp(a);
      case "relu_exact":
      case "prelu_exact":
        return a >= 0 ? 1.0 : iota;
      case "identity":
        return 1.0;
      default:
        throw new AssertionError(name);
    }
  }

  /** Var(y | a) under the noise model. */
  public double variance(double a) {
    switch (noise) {
      case BERNOULLI_PM1:
        return ActivationMath.sech2(a);
      case BERNOULLI_01: {
        double s = ActivationMath.sigm(a);
        return s * (1 - s);
      }
      default:
        return sigma * sigma;
    }
  }

  /** Fisher information of the pre-activation, nu(a) = f'(a)^2 / V(a), in closed form. */
  public double nu(double a) {
    switch (noise) {
      case BERNOULLI_PM1:
        return ActivationMath.sech2(a); // f' = V = sech^2
      case BERNOULLI_01: {
        double s = ActivationMath.sigm(a);
        return s * (1 - s); // f' = V = s(1-s)
      }
      default: {
        double d = df(a);
        return d * d / (sigma * sigma);
      }
    }
  }

  /** log p(y | a) under the noise model (used by the by-definition estimator). */
  public double logLikelihood(double y, double a) {
    switch (noise) {
      case BERNOULLI_PM1:
        // P(y) = sigm(2 y a) for y in {-1, +1}
        return -softplus(-2 * y * a);
      case BERNOULLI_01:
        return y == 1.0 ? -softplus(-a) : -softplus(a);
      default: {
        double r = (y - f(a)) / sigma;
        return -0.5 * r * r - Math.log(sigma) - 0.5 * Math.log(2 * Math.PI);
      }
    }
  }

  /** Outcome set of a Bernoulli model ({-1,+1} or {0,1}); null for Gaussian. */
  public double[] outcomes() {
    switch (noise) {
      case BERNOULLI_PM1:
        return new double[] {-1.0, 1.0};
      case BERNOULLI_01:
        return new double[] {0.0, 1.0};
      default:
        return null;
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(name);
    switch (name) {
      case "relu_smooth":
      case "prelu_smooth":
        sb.append("{iota=").append(iota).append(", omega=").append(omega).append('}');
        break;
      case "elu":
        sb.append("{alpha=").append(alpha).append('}');
        break;
      case "relu_exact":
      case "prelu_exact":
        sb.append("{iota=").append(iota).append('}');
        break;
      default:
        break;
    }
    if (noise == NoiseModel.GAUSSIAN && sigma != 1.0) {
      sb.append("[sigma=").append(sigma).append(']');
    }
    return sb.toString();
  }
}
