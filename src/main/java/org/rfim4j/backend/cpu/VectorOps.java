package org.rfim4j.backend.cpu;

import java.util.Arrays;

/**
 * The vector and row operations of the {@link CpuBackend}: axpy, scale, dot, column sums and row gather,
 * sequential loops over the {@code double[]} slices. Arguments are checked by the facade.
 */
final class VectorOps {

  private VectorOps() {}

  /** y += alpha x (same size). */
  static void axpy(double alpha, CpuArray X, CpuArray Y) {
    double[] xd = X.data;
    double[] yd = Y.data;
    int xo = X.offset;
    int yo = Y.offset;
    if (xo == yo) {
      // One index for both arrays: the loop shape C2 compiles to SIMD code (same result).
      for (int i = xo, e = xo + X.size; i < e; i++) {
        yd[i] += alpha * xd[i];
      }
      return;
    }
    for (int i = 0; i < X.size; i++) {
      yd[yo + i] += alpha * xd[xo + i];
    }
  }

  /** Elements [from, from + len) of X (from its offset) through {@link OptimizerOps#ftz}: no subnormal stays. */
  static void ftz(CpuArray X, int from, int len) {
    double[] xd = X.data;
    for (int i = X.offset + from, e = i + len; i < e; i++) {
      xd[i] = OptimizerOps.ftz(xd[i]);
    }
  }

  /** x *= alpha. */
  static void scale(double alpha, CpuArray X) {
    double[] xd = X.data;
    for (int i = X.offset, e = X.offset + X.size; i < e; i++) {
      xd[i] *= alpha;
    }
  }

  /** The sequential sum of x[i] y[i] (same size). */
  static double dot(CpuArray X, CpuArray Y) {
    double s = 0;
    double[] xd = X.data;
    double[] yd = Y.data;
    int xo = X.offset;
    int yo = Y.offset;
    for (int i = 0; i < X.size; i++) {
      s += xd[xo + i] * yd[yo + i];
    }
    return s;
  }

  /** out = alpha (column sums of a) + beta out, summed row by row into {@code acc} (at least a.cols()). */
  static void columnSums(CpuArray A, double alpha, double beta, CpuArray O, double[] acc) {
    int r = A.rows();
    int n = A.cols();
    Arrays.fill(acc, 0, n, 0.0);
    double[] ad = A.data;
    for (int i = 0; i < r; i++) {
      int row = A.offset + i * n;
      for (int j = 0; j < n; j++) {
        acc[j] += ad[row + j];
      }
    }
    double[] od = O.data;
    int oo = O.offset;
    for (int j = 0; j < n; j++) {
      od[oo + j] = beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * od[oo + j];
    }
  }

  /** Row k of dst = row indices[offset + k] of src, for k in [from, to) (indices already checked). */
  static void gatherRows(CpuArray S, CpuArray I, int offset, CpuArray D, int from, int to) {
    int n = S.cols();
    for (int k = from; k < to; k++) {
      int r = (int) I.data[I.offset + offset + k];
      System.arraycopy(S.data, S.offset + r * n, D.data, D.offset + k * n, n);
    }
  }

  /**
   * For each of the {@code rows} rows of A (leading dimension and width {@code cols}): 1 in {@code flags}
   * if every entry is finite, else 0. Returns {@code flags}.
   */
  static int[] finiteRows(double[] a, int aOff, int rows, int cols, int[] flags) {
    for (int k = 0; k < rows; k++) {
      double probe = 0;
      for (int i = aOff + k * cols, e = i + cols; i < e; i++) {
        probe += a[i] * 0;  // NaN exactly when an entry is NaN or infinite
      }
      flags[k] = probe == probe ? 1 : 0;
    }
    return flags;
  }

  /**
   * Writes to {@code support} the ascending indices of the columns of A (rows x cols, leading dimension
   * lda) holding a non-zero (or NaN) entry, and returns their number; or returns -1 as soon as more than
   * {@code limit} columns do (checked after the first row, so dense data costs one row's scan, and at the
   * end). support holds 2 cols entries; the second half marks the columns seen. Branch-free: in a batch
   * of images zero and non-zero pixels alternate unpredictably.
   */
  static int supportColumns(double[] a, int aOff, int lda, int rows, int cols, int[] support, int limit) {
    int seen = cols;
    Arrays.fill(support, seen, seen + cols, 0);
    for (int r = 0; r < rows; r++) {
      int toA = aOff + r * lda - seen;
      // the mark is 1 when the bits without the sign are non-zero: anything but +0 and -0
      for (int q = seen, e = seen + cols; q < e; q++) {
        long bits = Double.doubleToRawLongBits(a[q + toA]) << 1;
        support[q] |= (int) ((bits | -bits) >>> 63);
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

  /**
   * dst[r][q] = a[r][cols[q]] for rows r < rows and q < count: the columns {@code cols} of A (leading
   * dimension lda) packed side by side into dst (leading dimension ldd).
   */
  static void gatherColumns(double[] a, int aOff, int lda, int rows, int[] cols, int count, double[] dst,
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
