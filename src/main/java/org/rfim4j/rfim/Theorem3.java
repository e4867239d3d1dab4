package org.rfim4j.rfim;

import java.util.ArrayList;
import java.util.List;
import org.rfim4j.backend.ActivationMath;

/**
 * Theorem 3 (MATH.md section 6) on a small stochastic network, all units Bernoulli-sigmoid:
 * x = row k of X with probability pi_k (no parameters); h_i ~ Bernoulli(sigm(w_i . x~)) independently;
 * y_l ~ Bernoulli(sigm(c_l . h~)) independently. Parameters Theta = [vec W; vec C] are disjoint, so the
 * joint (complete-data) FIM of (x, h, y) is block-diagonal: diag[E_x g_h(W|x), E_h g_y(C|h)].
 */
public final class Theorem3 {
  private final double[][] xs;
  private final double[] pi;
  private final double[][] w;
  private final double[][] c;

  /**
   * @param xs the support of x (n x D)
   * @param pi probabilities of the rows (sum 1)
   * @param w (D+1) x Dh hidden weights
   * @param c (Dh+1) x Dy output weights
   */
  public Theorem3(double[][] xs, double[] pi, double[][] w, double[][] c) {
    if (xs.length != pi.length) {
      throw new IllegalArgumentException("X has " + xs.length + " rows but pi has " + pi.length + " entries");
    }
    if (c.length != w[0].length + 1) {
      throw new IllegalArgumentException("C must have " + (w[0].length + 1) + " rows");
    }
    this.xs = xs;
    this.pi = pi;
    this.w = w;
    this.c = c;
  }

  /** All h in {0,1}^Dh, h_0 varying slowest (order 00, 01, 10, 11 for Dh = 2, as the vectors). */
  public double[][] hValues() {
    int dh = w[0].length;
    double[][] r = new double[1 << dh][dh];
    for (int code = 0; code < r.length; code++) {
      for (int i = 0; i < dh; i++) {
        r[code][i] = (code >> (dh - 1 - i)) & 1;
      }
    }
    return r;
  }

  private double pH(double[] h, double[] x) {
    double[] a = Mat.mulTransposed(w, Mat.augment(x));
    double p = 1;
    for (int i = 0; i < a.length; i++) {
      double s = ActivationMath.sigm(a[i]);
      p *= h[i] == 1 ? s : 1 - s;
    }
    return p;
  }

  /** Marginal p(h) in the order of {@link #hValues()}. */
  public double[] marginalH() {
    double[][] hv = hValues();
    double[] r = new double[hv.length];
    for (int j = 0; j < hv.length; j++) {
      for (int k = 0; k < xs.length; k++) {
        r[j] += pi[k] * pH(hv[j], xs[k]);
      }
    }
    return r;
  }

  /** E_x g_h(W | x) = sum_k pi_k diag[s_i(1-s_i) x~_k x~_k^T]. */
  public double[][] expectedHiddenRfim() {
    NeuronFamily sig = NeuronFamily.of("sigmoid");
    double[][] acc = null;
    for (int k = 0; k < xs.length; k++) {
      double[][] g = ClosedForms.nonlinearLayer(sig, w, xs[k]);
      acc = acc == null ? Mat.scale(pi[k], g) : Mat.addScaledInPlace(acc, pi[k], g);
    }
    return acc;
  }

  /** E_h g_y(C | h) = sum_h p(h) diag[sigma_l(1-sigma_l) h~h~^T]. */
  public double[][] expectedOutputRfim() {
    NeuronFamily sig = NeuronFamily.of("sigmoid");
    double[][] hv = hValues();
    double[] ph = marginalH();
    double[][] acc = null;
    for (int j = 0; j < hv.length; j++) {
      double[][] g = ClosedForms.nonlinearLayer(sig, c, hv[j]);
      acc = acc == null ? Mat.scale(ph[j], g) : Mat.addScaledInPlace(acc, ph[j], g);
    }
    return acc;
  }

  /** Theorem 3's prediction blockdiag(E_x g_h(W|x), E_h g_y(C|h)). */
  public double[][] jointFimClosedForm() {
    return Mat.blockDiag(expectedHiddenRfim(), expectedOutputRfim());
  }

  /**
   * Definition 1 for the complete-data FIM of (x, h, y), by exact enumeration of all configurations
   * with finite-difference scores of log p(x) + log p(h|x;W) + log p(y|h;C).
   */
  public double[][] jointFimByEnumeration() {
    int d1 = w.length, dh = w[0].length, dh1 = c.length, dy = c[0].length;
    double[] theta = FisherByDefinition.concat(Mat.vec(w), Mat.vec(c));
    NeuronFamily sig = NeuronFamily.of("sigmoid");
    List<double[]> outcomes = new ArrayList<>();
    for (int k = 0; k < xs.length; k++) {
      for (int hc = 0; hc < (1 << dh); hc++) {
        for (int yc = 0; yc < (1 << dy); yc++) {
          double[] v = new double[1 + dh + dy];
          v[0] = k;
          for (int i = 0; i < dh; i++) {
            v[1 + i] = (hc >> i) & 1;
          }
          for (int l = 0; l < dy; l++) {
            v[1 + dh + l] = (yc >> l) & 1;
          }
          outcomes.add(v);
        }
      }
    }
    FisherByDefinition.LogLikelihood lp = (th, v) -> {
      double[][] ww = Mat.unvec(th, 0, d1, dh);
      double[][] cc = Mat.unvec(th, d1 * dh, dh1, dy);
      int k = (int) v[0];
      double[] a = Mat.mulTransposed(ww, Mat.augment(xs[k]));
      double[] h = new double[dh];
      double s = Math.log(pi[k]);
      for (int i = 0; i < dh; i++) {
        h[i] = v[1 + i];
        s += sig.logLikelihood(h[i], a[i]);
      }
      double[] b = Mat.mulTransposed(cc, Mat.augment(h));
      for (int l = 0; l < dy; l++) {
        s += sig.logLikelihood(v[1 + dh + l], b[l]);
      }
      return s;
    };
    return FisherByDefinition.discrete(lp, theta, outcomes, FisherByDefinition.DEFAULT_STEP);
  }
}
