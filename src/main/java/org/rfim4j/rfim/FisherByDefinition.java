package org.rfim4j.rfim;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * "By definition" Fisher information (Definition 1): {@code g = E_p[s s^T]} with the score {@code s =
 * d/dtheta log p(y | theta)} computed by central finite differences of log p (no closed forms used), and
 * the expectation computed
 *
 * <ul>
 *   <li>exactly, by summing over a finite outcome set (Bernoulli +-1, Bernoulli 0/1, categorical,
 *       enumerated stochastic networks);
 *   <li>by Gauss-Hermite quadrature for Gaussian outputs with fixed variance: the score is then linear in
 *       y, so s s^T is quadratic and a rule with &ge; 2 nodes per output is exact up to the
 *       finite-difference error;
 *   <li>or by Monte Carlo sampling (statistical error ~ 1/sqrt(n)).
 * </ul>
 *
 * <p>With the default step {@code 1e-5} the finite-difference error is about 1e-10 relative for
 * well-scaled problems, so closed forms should agree to ~1e-8 or better.
 */
public final class FisherByDefinition {
  /** Default central-difference step. */
  public static final double DEFAULT_STEP = 1e-5;
  /** Default Gauss-Hermite nodes per Gaussian output. */
  public static final int DEFAULT_GH_NODES = 6;

  private FisherByDefinition() {}

  /** log p(y | theta) for an outcome y (encoded as a double vector). */
  @FunctionalInterface
  public interface LogLikelihood {
    double logp(double[] theta, double[] y);
  }

  /** Draws one outcome y from p(. | theta0). */
  @FunctionalInterface
  public interface Sampler {
    double[] sample(Random rng);
  }

  /** Central finite-difference score d/dtheta log p(y | theta). */
  public static double[] score(LogLikelihood lp, double[] theta, double[] y, double step) {
    double[] s = new double[theta.length];
    double[] t = theta.clone();
    for (int k = 0; k < theta.length; k++) {
      double orig = t[k];
      t[k] = orig + step;
      double up = lp.logp(t, y);
      t[k] = orig - step;
      double dn = lp.logp(t, y);
      t[k] = orig;
      s[k] = (up - dn) / (2 * step);
    }
    return s;
  }

  private static void addOuter(double[][] acc, double w, double[] s) {
    for (int i = 0; i < s.length; i++) {
      double a = w * s[i];
      for (int j = 0; j < s.length; j++) {
        acc[i][j] += a * s[j];
      }
    }
  }

  /**
   * Exact expectation over a finite outcome set: sum_y p(y|theta) s(y) s(y)^T with p = exp(logp).
   *
   * @throws IllegalStateException if the probabilities do not sum to 1 within 1e-9
   */
  public static double[][] discrete(LogLikelihood lp, double[] theta, List<double[]> outcomes, double step) {
    double[][] g = new double[theta.length][theta.length];
    double total = 0;
    for (double[] y : outcomes) {
      double p = Math.exp(lp.logp(theta, y));
      total += p;
      addOuter(g, p, score(lp, theta, y, step));
    }
    if (Math.abs(total - 1) > 1e-9) {
      throw new IllegalStateException("outcome probabilities sum to " + total + ", not 1");
    }
    return g;
  }

  /**
   * Expectation by a weighted point set: sum_q weight_q s(y_q) s(y_q)^T (weights are not checked).
   */
  public static double[][] weighted(LogLikelihood lp, double[] theta, List<double[]> points, double[] weights, double step) {
    double[][] g = new double[theta.length][theta.length];
    for (int q = 0; q < points.size(); q++) {
      addOuter(g, weights[q], score(lp, theta, points.get(q), step));
    }
    return g;
  }

  /** Monte Carlo: (1/n) sum of s s^T over n draws from {@code sampler}. */
  public static double[][] monteCarlo(LogLikelihood lp, double[] theta, Sampler sampler, int n, Random rng, double step) {
    double[][] g = new double[theta.length][theta.length];
    for (int k = 0; k < n; k++) {
      addOuter(g, 1.0 / n, score(lp, theta, sampler.sample(rng), step));
    }
    return g;
  }

  /**
   * Gauss-Hermite rule for E_{z ~ N(0,1)}[g(z)] with n nodes, by Golub-Welsch (eigen-decomposition of the
   * Jacobi matrix with LAPACK's {@code dstev}). Returns {nodes, weights}, nodes ascending; the weights sum to 1.
   */
  public static double[][] gaussHermiteStandardNormal(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("need at least one node");
    }
    // Probabilists' Hermite: x He_k = He_{k+1} + k He_{k-1}; symmetric tridiagonal Jacobi matrix, diagonal 0,
    // off-diagonal sqrt(k). LAPACK dstev gives its eigenvalues (the nodes, ascending) and eigenvectors.
    double[] nodes = new double[n];
    double[] off = new double[Math.max(1, n - 1)];
    for (int k = 1; k < n; k++) {
      off[k - 1] = Math.sqrt(k);
    }
    double[] z = new double[n * n];
    org.netlib.util.intW info = new org.netlib.util.intW(0);
    dev.ludovic.netlib.lapack.LAPACK.getInstance().dstev("V", n, nodes, off, z, n,
        new double[Math.max(1, 2 * n - 2)], info);
    if (info.val != 0) {
      throw new IllegalStateException("dstev failed for " + n + " Gauss-Hermite nodes (info " + info.val + ")");
    }
    double[] w = new double[n];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      w[i] = z[i * n] * z[i * n]; // first component of eigenvector i (column-major)
      sum += w[i];
    }
    for (int i = 0; i < n; i++) {
      w[i] /= sum;
    }
    return new double[][] {nodes, w};
  }

  // ------------------------------------------------------------------ independent outputs

  /**
   * Definition-1 RFIM of theta for K conditionally independent outputs, output l following {@code
   * outputs[l]}'s noise model around pre-activation {@code b(theta)[l]}: log p = sum_l log q_l(y_l |
   * b_l(theta)). The expectation is a tensor product over outputs of the exact outcome sum (Bernoulli)
   * and {@code ghNodes}-point Gauss-Hermite quadrature around f(b_l) with the family's sigma (Gaussian).
   */
  public static double[][] independentOutputs(
      Function<double[], double[]> preActivations, NeuronFamily[] outputs, double[] theta, int ghNodes, double step) {
    double[] b0 = preActivations.apply(theta);
    if (b0.length != outputs.length) {
      throw new IllegalArgumentException("pre-activation count " + b0.length + " != outputs " + outputs.length);
    }
    int k = outputs.length;
    double[][] vals = new double[k][];
    double[][] wts = new double[k][];
    double[][] gh = gaussHermiteStandardNormal(ghNodes);
    for (int l = 0; l < k; l++) {
      NeuronFamily fam = outputs[l];
      if (fam.noise().isDiscrete()) {
        vals[l] = fam.outcomes();
        wts[l] = new double[vals[l].length];
        for (int q = 0; q < vals[l].length; q++) {
          wts[l][q] = Math.exp(fam.logLikelihood(vals[l][q], b0[l]));
        }
      } else {
        double mean = fam.f(b0[l]);
        vals[l] = new double[ghNodes];
        wts[l] = gh[1].clone();
        for (int q = 0; q < ghNodes; q++) {
          vals[l][q] = mean + fam.sigma() * gh[0][q];
        }
      }
    }
    List<double[]> points = new ArrayList<>();
    List<Double> weights = new ArrayList<>();
    int[] idx = new int[k];
    while (true) {
      double[] y = new double[k];
      double w = 1;
      for (int l = 0; l < k; l++) {
        y[l] = vals[l][idx[l]];
        w *= wts[l][idx[l]];
      }
      points.add(y);
      weights.add(w);
      int l = 0;
      while (l < k && ++idx[l] == vals[l].length) {
        idx[l] = 0;
        l++;
      }
      if (l == k) {
        break;
      }
    }
    double[] wa = weights.stream().mapToDouble(Double::doubleValue).toArray();
    return weighted(independentLogLikelihood(preActivations, outputs), theta, points, wa, step);
  }

  /** log p(y | theta) = sum_l outputs[l].logLikelihood(y_l, b_l(theta)). */
  public static LogLikelihood independentLogLikelihood(Function<double[], double[]> preActivations, NeuronFamily[] outputs) {
    return (th, y) -> {
      double[] b = preActivations.apply(th);
      double s = 0;
      for (int l = 0; l < outputs.length; l++) {
        s += outputs[l].logLikelihood(y[l], b[l]);
      }
      return s;
    };
  }

  /** Monte Carlo version of {@link #independentOutputs}: n joint draws of y at theta. */
  public static double[][] independentOutputsMonteCarlo(
      Function<double[], double[]> preActivations, NeuronFamily[] outputs, double[] theta, int n, Random rng, double step) {
    double[] b0 = preActivations.apply(theta);
    Sampler sampler = r -> {
      double[] y = new double[outputs.length];
      for (int l = 0; l < outputs.length; l++) {
        NeuronFamily fam = outputs[l];
        switch (fam.noise()) {
          case BERNOULLI_PM1:
            y[l] = r.nextDouble() < Math.exp(fam.logLikelihood(1.0, b0[l])) ? 1.0 : -1.0;
            break;
          case BERNOULLI_01:
            y[l] = r.nextDouble() < Math.exp(fam.logLikelihood(1.0, b0[l])) ? 1.0 : 0.0;
            break;
          default:
            y[l] = fam.f(b0[l]) + fam.sigma() * r.nextGaussian();
        }
      }
      return y;
    };
    return monteCarlo(independentLogLikelihood(preActivations, outputs), theta, sampler, n, rng, step);
  }

  /**
   * Definition-1 RFIM for a categorical output with P(y = i) = softmax(z(theta))_i, by exact sum over
   * the classes.
   */
  public static double[][] categorical(Function<double[], double[]> logits, double[] theta, double step) {
    int m = logits.apply(theta).length;
    List<double[]> outcomes = new ArrayList<>();
    for (int i = 0; i < m; i++) {
      outcomes.add(new double[] {i});
    }
    LogLikelihood lp = (th, y) -> {
      double[] z = logits.apply(th);
      double mx = Double.NEGATIVE_INFINITY;
      for (double v : z) {
        mx = Math.max(mx, v);
      }
      double s = 0;
      for (double v : z) {
        s += Math.exp(v - mx);
      }
      return z[(int) y[0]] - mx - Math.log(s);
    };
    return discrete(lp, theta, outcomes, step);
  }

  // ------------------------------------------------------------------ the models of ClosedForms

  private static NeuronFamily[] repeat(NeuronFamily f, int k) {
    NeuronFamily[] r = new NeuronFamily[k];
    java.util.Arrays.fill(r, f);
    return r;
  }

  private static double[][] mean(double[][] xs, Function<double[], double[][]> at) {
    double[][] acc = null;
    for (double[] x : xs) {
      double[][] g = at.apply(x);
      if (acc == null) {
        acc = new double[g.length][g.length];
      }
      Mat.addScaledInPlace(acc, 1.0 / xs.length, g);
    }
    return acc;
  }

  /** g_y(w | x) of one neuron by definition. */
  public static double[][] neuron(NeuronFamily fam, double[] w, double[] x) {
    double[] xt = Mat.augment(x);
    return independentOutputs(th -> new double[] {Mat.dot(th, xt)}, new NeuronFamily[] {fam}, w, DEFAULT_GH_NODES, DEFAULT_STEP);
  }

  /** Batch mean of {@link #neuron}. */
  public static double[][] neuronBatchMean(NeuronFamily fam, double[] w, double[][] xs) {
    return mean(xs, x -> neuron(fam, w, x));
  }

  /** g_y(W | x) for a layer of conditionally independent units of one family, over vec(W). */
  public static double[][] layer(NeuronFamily fam, double[][] w, double[] x) {
    double[] xt = Mat.augment(x);
    int d1 = w.length, m = w[0].length;
    return independentOutputs(
        th -> Mat.mulTransposed(Mat.unvec(th, 0, d1, m), xt), repeat(fam, m), Mat.vec(w), DEFAULT_GH_NODES, DEFAULT_STEP);
  }

  /** Linear layer y ~ N(W^T x~, sigma^2 I) by definition. */
  public static double[][] linearLayer(double[][] w, double[] x, double sigma) {
    return layer(NeuronFamily.of("identity").withSigma(sigma), w, x);
  }

  /** Softmax layer by definition (exact sum over the m classes). */
  public static double[][] softmaxLayer(double[][] w, double[] x) {
    double[] xt = Mat.augment(x);
    int d1 = w.length, m = w[0].length;
    return categorical(th -> Mat.mulTransposed(Mat.unvec(th, 0, d1, m), xt), Mat.vec(w), DEFAULT_STEP);
  }

  /** Two-layer g_y(W | x, C) by definition (deterministic hidden layer, C held fixed). */
  public static double[][] twoLayer(NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x) {
    int d1 = w.length, dh = w[0].length;
    return independentOutputs(
        th -> ClosedForms.twoLayerForward(hidden, Mat.unvec(th, 0, d1, dh), c, x).b,
        repeat(output, c[0].length), Mat.vec(w), DEFAULT_GH_NODES, DEFAULT_STEP);
  }

  /** Full g_y([vec W; vec C] | x) by definition. */
  public static double[][] twoLayerFull(NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x) {
    int d1 = w.length, dh = w[0].length, dh1 = c.length, dy = c[0].length;
    double[] theta = concat(Mat.vec(w), Mat.vec(c));
    return independentOutputs(
        th -> ClosedForms.twoLayerForward(hidden, Mat.unvec(th, 0, d1, dh), Mat.unvec(th, d1 * dh, dh1, dy), x).b,
        repeat(output, dy), theta, DEFAULT_GH_NODES, DEFAULT_STEP);
  }

  /** Batch mean of {@link #twoLayerFull}; with a sigmoid output this is the eq. (3) MLP FIM. */
  public static double[][] twoLayerFullBatchMean(
      NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[][] xs) {
    return mean(xs, x -> twoLayerFull(hidden, output, w, c, x));
  }

  static double[] concat(double[] a, double[] b) {
    double[] r = new double[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
