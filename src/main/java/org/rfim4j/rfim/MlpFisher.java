package org.rfim4j.rfim;

import java.util.ArrayList;
import java.util.List;

/**
 * Exact FIM of a one-hidden-layer MLP with Bernoulli outputs (paper eq. 3, MATH.md section 7).
 *
 * <p>Model: x (D) -&gt; h = f(W1^T x~) (deterministic hidden family f) -&gt; mu = sigm(W2^T h~), with
 * y_j ~ Bernoulli(mu_j) independently. Theta = [vec W1; vec W2]. Averaged over the n rows of X:
 * {@code I = (1/n) sum_i sum_j dmu_j dmu_j^T / (mu_j (1 - mu_j))}. Rank &le; n m.
 */
public final class MlpFisher {
  private MlpFisher() {}

  /** Eq. (3) evaluated literally with d mu_j / d Theta = mu_j (1 - mu_j) d b_j / d Theta. */
  public static double[][] eq3(NeuronFamily hidden, double[][] w1, double[][] w2, double[][] xs) {
    int p = w1.length * w1[0].length + w2.length * w2[0].length;
    double[][] fim = new double[p][p];
    for (double[] x : xs) {
      ClosedForms.TwoLayerForward fw = ClosedForms.twoLayerForward(hidden, w1, w2, x);
      double[][] jb = ClosedForms.twoLayerJacobian(hidden, w1, w2, x);
      for (int j = 0; j < fw.b.length; j++) {
        double mu = org.rfim4j.backend.ActivationMath.sigm(fw.b[j]);
        double v = mu * (1 - mu);
        double[] dmu = new double[p];
        for (int k = 0; k < p; k++) {
          dmu[k] = v * jb[j][k];
        }
        for (int r = 0; r < p; r++) {
          for (int c = 0; c < p; c++) {
            fim[r][c] += dmu[r] * dmu[c] / v / xs.length;
          }
        }
      }
    }
    return fim;
  }

  /**
   * The same FIM by Definition 1: exact enumeration of y in {0,1}^m with finite-difference scores,
   * averaged over the rows of X.
   */
  public static double[][] byEnumeration(NeuronFamily hidden, double[][] w1, double[][] w2, double[][] xs) {
    int d1 = w1.length, dh = w1[0].length, dh1 = w2.length, m = w2[0].length;
    double[] theta = FisherByDefinition.concat(Mat.vec(w1), Mat.vec(w2));
    NeuronFamily out = NeuronFamily.of("sigmoid");
    List<double[]> ys = new ArrayList<>();
    for (int code = 0; code < (1 << m); code++) {
      double[] y = new double[m];
      for (int j = 0; j < m; j++) {
        y[j] = (code >> j) & 1;
      }
      ys.add(y);
    }
    double[][] acc = new double[theta.length][theta.length];
    for (double[] x : xs) {
      FisherByDefinition.LogLikelihood lp = (th, y) -> {
        double[] b = ClosedForms.twoLayerForward(hidden, Mat.unvec(th, 0, d1, dh), Mat.unvec(th, d1 * dh, dh1, m), x).b;
        double s = 0;
        for (int j = 0; j < m; j++) {
          s += out.logLikelihood(y[j], b[j]);
        }
        return s;
      };
      Mat.addScaledInPlace(acc, 1.0 / xs.length, FisherByDefinition.discrete(lp, theta, ys, FisherByDefinition.DEFAULT_STEP));
    }
    return acc;
  }

  /** The averaged one-layer RFIM of W1 with the hidden family's own noise model (not a FIM block). */
  public static double[][] firstLayerOneLayerRfim(NeuronFamily hidden, double[][] w1, double[][] xs) {
    return ClosedForms.nonlinearLayerBatchMean(hidden, w1, xs);
  }
}
