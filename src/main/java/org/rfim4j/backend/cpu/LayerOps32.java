package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Activation;
import org.rfim4j.backend.ActivationMath;

/**
 * The layer operations of the {@link CpuBackend32}, the float32 twins of {@link LayerOps}. Every element
 * is evaluated in double from its float inputs (through {@link ActivationMath}, the one definition all
 * backends follow) and rounded to float once; the reductions (softmax normaliser, loss sum, batch-norm
 * mean, variance and the backward sums) are accumulated in double. The bias add and ReLU are exact float
 * operations (one rounding, or none). Arguments are checked by the facade.
 */
final class LayerOps32 {

  private LayerOps32() {}

  /**
   * All ones when the float with these bits is {@code > 0} (positive, finite or +infinity; not +0, -0,
   * NaN or negative), otherwise 0, without a branch (see {@link LayerOps#positiveMask}).
   */
  static int positiveMask(int bits) {
    return ((-bits) & (bits - 0x7F800001)) >> 31;
  }

  /** z += bias (per column), then h = act(z) when h is not null. */
  static void biasActivationForward(CpuArray32 Z, CpuArray32 Bi, Activation act, CpuArray32 H) {
    int n = Z.cols();
    int r = Z.rows();
    float[] zd = Z.data;
    float[] bd = Bi.data;
    int bo = Bi.offset;
    boolean relu = act.kind() == Activation.Kind.RELU;
    for (int i = 0; i < r; i++) {
      int row = Z.offset + i * n;
      int end = row + n;
      int toBias = bo - row;
      for (int j = row; j < end; j++) {
        zd[j] += bd[j + toBias];
      }
      if (H == null) {
        continue;
      }
      float[] hd = H.data;
      int hrow = H.offset + i * n;
      if (relu) {
        int toH = hrow - row;
        for (int j = row; j < end; j++) {
          int bits = Float.floatToRawIntBits(zd[j]);
          hd[j + toH] = Float.intBitsToFloat(bits & positiveMask(bits));  // a > 0 ? a : 0.0f
        }
      } else {
        for (int j = 0; j < n; j++) {
          hd[hrow + j] = (float) ActivationMath.f(act, zd[row + j]);
        }
      }
    }
  }

  /** dA = dH * act'(a). */
  static void activationBackward(Activation act, CpuArray32 A, CpuArray32 DH, CpuArray32 DA) {
    float[] ad = A.data;
    float[] hd = DH.data;
    float[] od = DA.data;
    int ao = A.offset;
    int ho = DH.offset;
    int oo = DA.offset;
    if (act.kind() == Activation.Kind.RELU) {
      for (int i = 0, n = A.size; i < n; i++) {
        float g = hd[ho + i];
        int mask = positiveMask(Float.floatToRawIntBits(ad[ao + i]));
        int keep = Float.floatToRawIntBits(g) & mask;
        int zero = Float.floatToRawIntBits(g * 0.0f) & ~mask;
        od[oo + i] = Float.intBitsToFloat(keep | zero);
      }
      return;
    }
    for (int i = 0, n = A.size; i < n; i++) {
      od[oo + i] = (float) (hd[ho + i] * ActivationMath.df(act, ad[ao + i]));
    }
  }

  /**
   * nu = ActivationMath.nu(act, a, omega), element-wise, in double through {@code buf} (at least a.size):
   * the inputs are widened into it, the float64 engine's loop runs on it, and the results are rounded
   * back. Calling ActivationMath.nu on each float directly measured four times slower than the float64
   * engine's loop on JDK 17.
   */
  static void nuCoefficients(Activation act, CpuArray32 A, double omega, CpuArray32 N, double[] buf) {
    float[] ad = A.data;
    float[] nd = N.data;
    int ao = A.offset;
    int no = N.offset;
    int n = A.size;
    for (int i = 0; i < n; i++) {
      buf[i] = ad[ao + i];
    }
    for (int i = 0; i < n; i++) {
      buf[i] = ActivationMath.nu(act, buf[i], omega);
    }
    for (int i = 0; i < n; i++) {
      nd[no + i] = (float) buf[i];
    }
  }

  /**
   * Row-wise softmax of logits into probs, the cross-entropy loss sum and error count added to stats, and
   * dLogits = scale (probs - onehot(labels)) when G is not null (labels already checked). Each row is
   * computed in double (exponentials, normaliser, loss) and rounded once per output.
   */
  static void softmaxCrossEntropy(CpuArray32 L, CpuArray32 Y, CpuArray32 P, CpuArray32 G, double scale,
      CpuArray32 S, double[] row) {
    int b = L.rows();
    int n = L.cols();
    double lossSum = 0;
    double errors = 0;
    float[] ld = L.data;
    float[] pd = P.data;
    for (int k = 0; k < b; k++) {
      int lo = L.offset + k * n;
      int po = P.offset + k * n;
      int y = (int) Y.data[Y.offset + k];
      // The row widened into the double buffer first: the exponentials then run in a pure double loop
      // (Math.exp on widened floats measured several times slower on JDK 17; see nuCoefficients).
      for (int j = 0; j < n; j++) {
        row[j] = ld[lo + j];
      }
      double max = row[0];
      int arg = 0;
      for (int j = 1; j < n; j++) {
        if (row[j] > max) {
          max = row[j];
          arg = j;
        }
      }
      double ly = row[y];
      double sum = 0;
      for (int j = 0; j < n; j++) {
        double e = Math.exp(row[j] - max);
        row[j] = e;
        sum += e;
      }
      double inv = 1.0 / sum;
      for (int j = 0; j < n; j++) {
        row[j] *= inv;
        pd[po + j] = (float) row[j];
      }
      lossSum += Math.log(sum) - (ly - max);
      if (arg != y) {
        errors += 1;
      }
      if (G != null) {
        int go = G.offset + k * n;
        for (int j = 0; j < n; j++) {
          G.data[go + j] = (float) (scale * (row[j] - (j == y ? 1.0 : 0.0)));
        }
      }
    }
    S.data[S.offset] = (float) (S.data[S.offset] + lossSum);
    S.data[S.offset + 1] = (float) (S.data[S.offset + 1] + errors);
  }

  /**
   * Batch normalisation per column of x (see {@link LayerOps#batchNormForward}), the statistics
   * accumulated in double.
   */
  static void batchNormForward(CpuArray32 X, CpuArray32 Ga, CpuArray32 Be, CpuArray32 Rm, CpuArray32 Rv,
      double momentum, double eps, boolean training, CpuArray32 Me, CpuArray32 Is, CpuArray32 Yo) {
    int b = X.rows();
    int n = X.cols();
    float[] xd = X.data;
    for (int j = 0; j < n; j++) {
      double mu;
      double is;
      if (training) {
        double s = 0;
        for (int k = 0; k < b; k++) {
          s += xd[X.offset + k * n + j];
        }
        mu = s / b;
        double v = 0;
        for (int k = 0; k < b; k++) {
          double d = xd[X.offset + k * n + j] - mu;
          v += d * d;
        }
        double var = v / b;
        is = 1.0 / Math.sqrt(var + eps);
        double unbiased = b > 1 ? v / (b - 1) : var;
        Rm.data[Rm.offset + j] = (float) (momentum * Rm.data[Rm.offset + j] + (1 - momentum) * mu);
        Rv.data[Rv.offset + j] = (float) (momentum * Rv.data[Rv.offset + j] + (1 - momentum) * unbiased);
      } else {
        mu = Rm.data[Rm.offset + j];
        is = 1.0 / Math.sqrt(Rv.data[Rv.offset + j] + eps);
      }
      if (Me != null) {
        Me.data[Me.offset + j] = (float) mu;
      }
      if (Is != null) {
        Is.data[Is.offset + j] = (float) is;
      }
      double g = Ga.data[Ga.offset + j];
      double bb = Be.data[Be.offset + j];
      for (int k = 0; k < b; k++) {
        Yo.data[Yo.offset + k * n + j] = (float) (g * (xd[X.offset + k * n + j] - mu) * is + bb);
      }
    }
  }

  /** The gradients of {@link #batchNormForward} in training mode: dX, dGamma and dBeta (sums in double). */
  static void batchNormBackward(CpuArray32 X, CpuArray32 DY, CpuArray32 Ga, CpuArray32 Me, CpuArray32 Is,
      CpuArray32 DX, CpuArray32 DG, CpuArray32 DB) {
    int b = X.rows();
    int n = X.cols();
    for (int j = 0; j < n; j++) {
      double mu = Me.data[Me.offset + j];
      double is = Is.data[Is.offset + j];
      double sumDy = 0;
      double sumDyXhat = 0;
      for (int k = 0; k < b; k++) {
        double dy = DY.data[DY.offset + k * n + j];
        double xh = (X.data[X.offset + k * n + j] - mu) * is;
        sumDy += dy;
        sumDyXhat += dy * xh;
      }
      double g = Ga.data[Ga.offset + j];
      double f = g * is / b;
      for (int k = 0; k < b; k++) {
        double dy = DY.data[DY.offset + k * n + j];
        double xh = (X.data[X.offset + k * n + j] - mu) * is;
        DX.data[DX.offset + k * n + j] = (float) (f * (b * dy - sumDy - xh * sumDyXhat));
      }
      DG.data[DG.offset + j] = (float) sumDyXhat;
      DB.data[DB.offset + j] = (float) sumDy;
    }
  }
}
