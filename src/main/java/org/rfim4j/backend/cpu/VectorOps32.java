package org.rfim4j.backend.cpu;

import java.util.Arrays;

/**
 * The vector and row operations of the {@link CpuBackend32}: axpy and scale in float arithmetic, dot and
 * column sums accumulated in double, row gather. Arguments are checked by the facade.
 */
final class VectorOps32 {

  private VectorOps32() {}

  /**
   * y += alpha x (same size) in float: {@code alpha} rounded to float once, then one fused multiply-add
   * per element (one rounding). A float loop, which C2 compiles to SIMD code; the same loop evaluated in
   * double and rounded measured ten times slower (JDK 17 does not vectorise the conversions).
   */
  static void axpy(double alpha, CpuArray32 X, CpuArray32 Y) {
    float a = (float) alpha;
    float[] xd = X.data;
    float[] yd = Y.data;
    int xo = X.offset;
    int yo = Y.offset;
    if (xo == yo) {
      for (int i = xo, e = xo + X.size; i < e; i++) {
        yd[i] = Math.fma(a, xd[i], yd[i]);
      }
      return;
    }
    for (int i = 0; i < X.size; i++) {
      yd[yo + i] = Math.fma(a, xd[xo + i], yd[yo + i]);
    }
  }

  /** Elements [from, from + len) of X (from its offset) through {@link OptimizerOps32#ftz}: no subnormal stays. */
  static void ftz(CpuArray32 X, int from, int len) {
    float[] xd = X.data;
    for (int i = X.offset + from, e = i + len; i < e; i++) {
      xd[i] = OptimizerOps32.ftz(xd[i]);
    }
  }

  /** x *= alpha in float ({@code alpha} rounded to float once, one rounding per element). */
  static void scale(double alpha, CpuArray32 X) {
    float a = (float) alpha;
    float[] xd = X.data;
    for (int i = X.offset, e = X.offset + X.size; i < e; i++) {
      xd[i] *= a;
    }
  }

  /** The sum of x[i] y[i] accumulated in double (four partial sums). */
  static double dot(CpuArray32 X, CpuArray32 Y) {
    return TileKernels32.dot4Double(X.data, X.offset, Y.data, Y.offset, X.size);
  }

  /** out = alpha (column sums of a) + beta out, summed in double row by row into {@code acc}. */
  static void columnSums(CpuArray32 A, double alpha, double beta, CpuArray32 O, double[] acc) {
    int r = A.rows();
    int n = A.cols();
    Arrays.fill(acc, 0, n, 0.0);
    float[] ad = A.data;
    for (int i = 0; i < r; i++) {
      int row = A.offset + i * n;
      for (int j = 0; j < n; j++) {
        acc[j] += ad[row + j];
      }
    }
    float[] od = O.data;
    int oo = O.offset;
    for (int j = 0; j < n; j++) {
      od[oo + j] = (float) (beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * od[oo + j]);
    }
  }

  /** Row k of dst = row indices[offset + k] of src, for k in [from, to) (indices already checked). */
  static void gatherRows(CpuArray32 S, CpuArray32 I, int offset, CpuArray32 D, int from, int to) {
    int n = S.cols();
    for (int k = from; k < to; k++) {
      int r = (int) I.data[I.offset + offset + k];
      System.arraycopy(S.data, S.offset + r * n, D.data, D.offset + k * n, n);
    }
  }

  /** {@link VectorOps#finiteRows} on float data. */
  static int[] finiteRows(float[] a, int aOff, int rows, int cols, int[] flags) {
    for (int k = 0; k < rows; k++) {
      float probe = 0;
      for (int i = aOff + k * cols, e = i + cols; i < e; i++) {
        probe += a[i] * 0;
      }
      flags[k] = probe == probe ? 1 : 0;
    }
    return flags;
  }

  /** {@link VectorOps#supportColumns} on float data. */
  static int supportColumns(float[] a, int aOff, int lda, int rows, int cols, int[] support, int limit) {
    int seen = cols;
    Arrays.fill(support, seen, seen + cols, 0);
    for (int r = 0; r < rows; r++) {
      int toA = aOff + r * lda - seen;
      // the mark is 1 when the bits without the sign are non-zero: anything but +0 and -0
      for (int q = seen, e = seen + cols; q < e; q++) {
        int bits = Float.floatToRawIntBits(a[q + toA]) << 1;
        support[q] |= (bits | -bits) >>> 31;
      }
      if (r == 0) {
        int count = 0;
        for (int q = seen, e = seen + cols; q < e; q++) {
          count += support[q];
        }
        if (count > limit) {
          return -1;
        }
      }
    }
    int u = 0;
    for (int q = 0; q < cols; q++) {
      if (support[seen + q] != 0) {
        support[u++] = q;
      }
    }
    return u > limit ? -1 : u;
  }

  /** {@link VectorOps#gatherColumns} on float data. */
  static void gatherColumns(float[] a, int aOff, int lda, int rows, int[] cols, int count, float[] dst,
      int ldd) {
    for (int r = 0; r < rows; r++) {
      int src = aOff + r * lda;
      int o = r * ldd;
      for (int q = 0; q < count; q++) {
        dst[o + q] = a[src + cols[q]];
      }
    }
  }
}
