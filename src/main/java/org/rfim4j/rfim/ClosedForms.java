package org.rfim4j.rfim;

/**
 * Closed-form Relative Fisher Information Metrics (MATH.md sections 3-5, paper sections 3.1-3.3).
 *
 * <p>Conventions: {@code x~ = (x, 1)} (bias last); a layer's weights {@code W} are (D+1) x m with column i
 * the weights of neuron i; metrics are over {@code vec(W) = [w_1; ...; w_m]} so block (i,j) covers rows
 * {@code i(D+1)..(i+1)(D+1)-1}. Batch means average the single-sample metric over the rows of {@code X}
 * (n x D raw inputs, without the trailing 1).
 *
 * <p>Noise models (each formula is exact only under its model):
 *
 * <ul>
 *   <li>{@link #neuron}: y ~ the family's model around f(a) (see {@link NeuronFamily}); g = nu(a) x~x~^T.
 *   <li>{@link #linearLayer}: y ~ N(W^T x~, sigma^2 I); g = sigma^-2 I_m (x) x~x~^T (the paper omits
 *       1/sigma^2, i.e. sigma = 1).
 *   <li>{@link #nonlinearLayer}: outputs conditionally independent, each with its family's noise model;
 *       g = diag(nu(a)) (x) x~x~^T.
 *   <li>{@link #softmaxLayer}: y categorical with P(y=i) = softmax(W^T x~)_i; g = (diag(eta) - eta
 *       eta^T) (x) x~x~^T. Always singular: the kernel contains 1_m (x) v for every v.
 *   <li>{@link #twoLayer}: deterministic hidden h = f(W^T x~), output pre-activations b = C^T h~,
 *       outputs conditionally independent with the output family's noise model; reference (x, C).
 * </ul>
 */
public final class ClosedForms {
  private ClosedForms() {}

  // ------------------------------------------------------------------ helpers

  static double[] preActivations(double[][] w, double[] xt) {
    return Mat.mulTransposed(w, xt);
  }

  /** Mean over rows of X of a per-sample metric. */
  private interface PerSample {
    double[][] at(double[] x);
  }

  private static double[][] batchMean(double[][] xs, PerSample f) {
    if (xs.length == 0) {
      throw new IllegalArgumentException("X must have at least one row");
    }
    double[][] acc = null;
    for (double[] x : xs) {
      double[][] g = f.at(x);
      if (acc == null) {
        acc = Mat.zeros(g.length, g.length);
      }
      Mat.addScaledInPlace(acc, 1.0 / xs.length, g);
    }
    return acc;
  }

  // ------------------------------------------------------------------ single neuron (sec. 3)

  /** Single-neuron RFIM g_y(w | x) = nu(a) x~x~^T, a = w . x~. */
  public static double[][] neuron(NeuronFamily fam, double[] w, double[] x) {
    double[] xt = Mat.augment(x);
    return Mat.scale(fam.nu(Mat.dot(w, xt)), Mat.outer(xt, xt));
  }

  /** (1/n) sum_k nu(a_k) x~_k x~_k^T over the rows of X. */
  public static double[][] neuronBatchMean(NeuronFamily fam, double[] w, double[][] xs) {
    return batchMean(xs, x -> neuron(fam, w, x));
  }

  // ------------------------------------------------------------------ linear layer (sec. 4.1)

  /** The shared block x~x~^T (one matrix for the whole linear layer, sigma = 1). */
  public static double[][] sharedBlock(double[] x) {
    double[] xt = Mat.augment(x);
    return Mat.outer(xt, xt);
  }

  /** (1/n) sum_k x~_k x~_k^T: the single matrix RNGD stores for a "shared" layer. */
  public static double[][] sharedBlockBatchMean(double[][] xs) {
    return batchMean(xs, ClosedForms::sharedBlock);
  }

  /** Linear layer RFIM sigma^-2 I_m (x) x~x~^T for y ~ N(W^T x~, sigma^2 I). */
  public static double[][] linearLayer(int m, double[] x, double sigma) {
    if (!(sigma > 0) || !Double.isFinite(sigma)) {
      throw new IllegalArgumentException("sigma must be finite and > 0, got " + sigma);
    }
    return Mat.kron(Mat.scale(1.0 / (sigma * sigma), Mat.identity(m)), sharedBlock(x));
  }

  /** Batch mean of {@link #linearLayer}. */
  public static double[][] linearLayerBatchMean(int m, double[][] xs, double sigma) {
    return batchMean(xs, x -> linearLayer(m, x, sigma));
  }

  // ------------------------------------------------------------------ non-linear layer (sec. 4.2)

  /** Non-linear layer RFIM diag(nu(a)) (x) x~x~^T, a = W^T x~. */
  public static double[][] nonlinearLayer(NeuronFamily fam, double[][] w, double[] x) {
    double[] xt = Mat.augment(x);
    double[] a = preActivations(w, xt);
    double[][] d = new double[a.length][a.length];
    for (int i = 0; i < a.length; i++) {
      d[i][i] = fam.nu(a[i]);
    }
    return Mat.kron(d, Mat.outer(xt, xt));
  }

  /** Batch mean of {@link #nonlinearLayer}. */
  public static double[][] nonlinearLayerBatchMean(NeuronFamily fam, double[][] w, double[][] xs) {
    return batchMean(xs, x -> nonlinearLayer(fam, w, x));
  }

  // ------------------------------------------------------------------ softmax layer (sec. 4.3)

  /** Numerically stable softmax. */
  public static double[] softmax(double[] z) {
    double mx = Double.NEGATIVE_INFINITY;
    for (double v : z) {
      mx = Math.max(mx, v);
    }
    double[] e = new double[z.length];
    double s = 0;
    for (int i = 0; i < z.length; i++) {
      e[i] = Math.exp(z[i] - mx);
      s += e[i];
    }
    for (int i = 0; i < z.length; i++) {
      e[i] /= s;
    }
    return e;
  }

  /** eta = softmax(W^T x~). */
  public static double[] softmaxProbabilities(double[][] w, double[] x) {
    return softmax(preActivations(w, Mat.augment(x)));
  }

  /**
   * Softmax layer RFIM (diag(eta) - eta eta^T) (x) x~x~^T. Singular: one sample has rank m-1 and the
   * kernel always contains {1_m (x) v}; invert with {@link Rank#pseudoInverse}, damping or a reference
   * class.
   */
  public static double[][] softmaxLayer(double[][] w, double[] x) {
    double[] xt = Mat.augment(x);
    double[] eta = softmax(preActivations(w, xt));
    int m = eta.length;
    double[][] k = new double[m][m];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < m; j++) {
        k[i][j] = (i == j ? eta[i] : 0.0) - eta[i] * eta[j];
      }
    }
    return Mat.kron(k, Mat.outer(xt, xt));
  }

  /** Batch mean of {@link #softmaxLayer}. */
  public static double[][] softmaxLayerBatchMean(double[][] w, double[][] xs) {
    return batchMean(xs, x -> softmaxLayer(w, x));
  }

  /**
   * Orthonormal basis (columns) of the structural kernel {1_m (x) v : v in R^{D+1}} of the softmax
   * RFIM: column p is (1/sqrt m) 1_m (x) e_p. Shape m(D+1) x (D+1).
   */
  public static double[][] softmaxNullSpaceBasis(int dPlus1, int m) {
    double[][] b = new double[m * dPlus1][dPlus1];
    double s = 1.0 / Math.sqrt(m);
    for (int i = 0; i < m; i++) {
      for (int p = 0; p < dPlus1; p++) {
        b[i * dPlus1 + p][p] = s;
      }
    }
    return b;
  }

  /**
   * Gradient of mean_k -log eta_{y_k}(x_k) w.r.t. W, shape (D+1) x m: (1/n) sum_k x~_k (eta_k -
   * e_{y_k})^T. Its vec is orthogonal to the softmax kernel.
   */
  public static double[][] crossEntropyGradient(double[][] w, double[][] xs, int[] labels) {
    int d1 = w.length, m = w[0].length;
    double[][] g = new double[d1][m];
    for (int k = 0; k < xs.length; k++) {
      double[] xt = Mat.augment(xs[k]);
      double[] eta = softmax(preActivations(w, xt));
      for (int i = 0; i < m; i++) {
        double r = (eta[i] - (i == labels[k] ? 1.0 : 0.0)) / xs.length;
        for (int p = 0; p < d1; p++) {
          g[p][i] += xt[p] * r;
        }
      }
    }
    return g;
  }

  // ------------------------------------------------------------------ two layers (sec. 5)

  /** Forward quantities of the two-layer model at one input. */
  public static final class TwoLayerForward {
    /** x~. */
    public final double[] xTilde;
    /** a = W^T x~ (hidden pre-activations). */
    public final double[] a;
    /** h = f(a), deterministic. */
    public final double[] h;
    /** h~ = (h, 1). */
    public final double[] hTilde;
    /** b = C^T h~ (output pre-activations). */
    public final double[] b;

    TwoLayerForward(NeuronFamily hidden, double[][] w, double[][] c, double[] x) {
      if (c.length != w[0].length + 1) {
        throw new IllegalArgumentException(
            "C must have " + (w[0].length + 1) + " rows (hidden units + bias), got " + c.length);
      }
      xTilde = Mat.augment(x);
      a = preActivations(w, xTilde);
      h = new double[a.length];
      for (int i = 0; i < a.length; i++) {
        h[i] = hidden.f(a[i]);
      }
      hTilde = Mat.augment(h);
      b = preActivations(c, hTilde);
    }
  }

  /** Forward pass of the two-layer model. */
  public static TwoLayerForward twoLayerForward(NeuronFamily hidden, double[][] w, double[][] c, double[] x) {
    return new TwoLayerForward(hidden, w, c, x);
  }

  /** K_ij = sum_l c_il c_jl nu_out(b_l) (Dh x Dh; C's bias row excluded). */
  public static double[][] twoLayerK(NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x) {
    TwoLayerForward fw = twoLayerForward(hidden, w, c, x);
    return kOf(output, c, fw);
  }

  private static double[][] kOf(NeuronFamily output, double[][] c, TwoLayerForward fw) {
    int dh = fw.a.length, dy = fw.b.length;
    double[] nuOut = new double[dy];
    for (int l = 0; l < dy; l++) {
      nuOut[l] = output.nu(fw.b[l]);
    }
    double[][] k = new double[dh][dh];
    for (int i = 0; i < dh; i++) {
      for (int j = 0; j < dh; j++) {
        double s = 0;
        for (int l = 0; l < dy; l++) {
          s += c[i][l] * c[j][l] * nuOut[l];
        }
        k[i][j] = s;
      }
    }
    return k;
  }

  /**
   * Two-layer RFIM g_y(W | x, C) = (K o f'f'^T) (x) x~x~^T ({@link TwoLayerVariant#CORRECTED}) or with
   * nu(a_i) nu(a_j) in place of f'(a_i) f'(a_j) ({@link TwoLayerVariant#AS_PRINTED}). Model:
   * deterministic hidden layer h = f(W^T x~), b = C^T h~, outputs independent with {@code output}'s
   * noise model. Rank &le; D_y per sample.
   */
  public static double[][] twoLayer(
      NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x, TwoLayerVariant variant) {
    TwoLayerForward fw = twoLayerForward(hidden, w, c, x);
    double[][] k = kOf(output, c, fw);
    int dh = fw.a.length;
    double[] d = new double[dh];
    for (int i = 0; i < dh; i++) {
      d[i] = variant == TwoLayerVariant.CORRECTED ? hidden.df(fw.a[i]) : hidden.nu(fw.a[i]);
    }
    double[][] kk = new double[dh][dh];
    for (int i = 0; i < dh; i++) {
      for (int j = 0; j < dh; j++) {
        kk[i][j] = k[i][j] * d[i] * d[j];
      }
    }
    return Mat.kron(kk, Mat.outer(fw.xTilde, fw.xTilde));
  }

  /** Corrected two-layer RFIM. */
  public static double[][] twoLayer(NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x) {
    return twoLayer(hidden, output, w, c, x, TwoLayerVariant.CORRECTED);
  }

  /** Batch mean of {@link #twoLayer}. */
  public static double[][] twoLayerBatchMean(
      NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[][] xs, TwoLayerVariant variant) {
    return batchMean(xs, x -> twoLayer(hidden, output, w, c, x, variant));
  }

  /**
   * Jacobian J[l, :] = d b_l / d [vec W; vec C] of the two-layer model (D_y x (|W| + |C|)).
   */
  public static double[][] twoLayerJacobian(NeuronFamily hidden, double[][] w, double[][] c, double[] x) {
    TwoLayerForward fw = twoLayerForward(hidden, w, c, x);
    int dx1 = w.length, dh = w[0].length, dh1 = c.length, dy = c[0].length;
    int nw = dx1 * dh;
    double[][] j = new double[dy][nw + dh1 * dy];
    for (int l = 0; l < dy; l++) {
      for (int i = 0; i < dh; i++) {
        double s = c[i][l] * hidden.df(fw.a[i]);
        for (int p = 0; p < dx1; p++) {
          j[l][i * dx1 + p] = s * fw.xTilde[p];
        }
      }
      for (int p = 0; p < dh1; p++) {
        j[l][nw + l * dh1 + p] = fw.hTilde[p];
      }
    }
    return j;
  }

  /**
   * Full RFIM of [vec W; vec C] given x: J^T diag(nu_out(b)) J (Lemma C). W-block = {@link #twoLayer};
   * C-block = diag[nu_out(b_l) h~h~^T]; cross block (w_i, c_l) = nu_out(b_l) c_il f'(a_i) x~h~^T.
   */
  public static double[][] twoLayerFull(NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[] x) {
    TwoLayerForward fw = twoLayerForward(hidden, w, c, x);
    double[][] j = twoLayerJacobian(hidden, w, c, x);
    int p = j[0].length;
    double[][] g = new double[p][p];
    for (int l = 0; l < j.length; l++) {
      double nu = output.nu(fw.b[l]);
      for (int r = 0; r < p; r++) {
        double s = nu * j[l][r];
        if (s == 0) {
          continue;
        }
        for (int q = 0; q < p; q++) {
          g[r][q] += s * j[l][q];
        }
      }
    }
    return g;
  }

  /** Batch mean of {@link #twoLayerFull}. */
  public static double[][] twoLayerFullBatchMean(
      NeuronFamily hidden, NeuronFamily output, double[][] w, double[][] c, double[][] xs) {
    return batchMean(xs, x -> twoLayerFull(hidden, output, w, c, x));
  }
}
