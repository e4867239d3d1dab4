package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels.dotTile;
import static org.rfim4j.backend.cpu.TileKernels.transpose;

import org.rfim4j.backend.cpu.CpuBackend.GemmPath;

/**
 * GEMM of one {@link CpuBackend}: netlib's {@code dgemm} on the {@link GemmPath#NETLIB} path, otherwise
 * the Java kernel: operands packed so that the summation index is contiguous, 4 x 4 output tiles
 * accumulated in registers ({@link TileKernels#dotTile}), row blocks of 4 split over the threads.
 */
final class GemmKernels {
  private final GemmPath gemmPath;
  private final ParallelBlocks parallel;
  private final Scratch scratch;
  private final SplitBlas blas;

  GemmKernels(GemmPath gemmPath, ParallelBlocks parallel, Scratch scratch, SplitBlas blas) {
    this.gemmPath = gemmPath;
    this.parallel = parallel;
    this.scratch = scratch;
    this.blas = blas;
  }

  /** Row-major GEMM on raw storage. C must not overlap A or B. */
  void gemmRaw(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff,
      int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    if (gemmPath == GemmPath.NETLIB) {
      if (!transA && !transB
          && sparseColumns(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)) {
        return;
      }
      // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major X is a
      // column-major X^T with the same leading dimension: swap the operands, keep the flags.
      blas.dgemm(transB ? "T" : "N", transA ? "T" : "N", n, m, k, alpha, b, bOff, ldb, a, aOff, lda, beta, c,
          cOff, ldc);
      return;
    }
    // Java path: C[i][j] = alpha * dot(op(A) row i, op(B) column j) + beta * C[i][j], with both operands
    // laid out so that the summation index p is contiguous: op(A) as m x k rows, op(B)^T as n x k rows.
    final double[] ap;
    final int apOff;
    final int ldap;
    if (transA) {
      ap = scratch.sharedA(m * k);
      transpose(a, aOff, lda, k, m, ap);
      apOff = 0;
      ldap = k;
    } else {
      ap = a;
      apOff = aOff;
      ldap = lda;
    }
    final double[] bp;
    final int bpOff;
    final int ldbp;
    if (transB) {
      bp = b;
      bpOff = bOff;
      ldbp = ldb;
    } else {
      bp = scratch.sharedB(n * k);
      transpose(b, bOff, ldb, k, n, bp);
      bpOff = 0;
      ldbp = k;
    }
    int blocks = (m + 3) / 4;
    parallel.run(blocks, (long) m * n * k, (blk, slot) -> {
      double[] tile = scratch.tile(slot);
      {
        int i0 = blk * 4;
        int ni = Math.min(4, m - i0);
        for (int j0 = 0; j0 < n; j0 += 4) {
          int nj = Math.min(4, n - j0);
          dotTile(ap, apOff + i0 * ldap, ldap, ni, bp, bpOff + j0 * ldbp, ldbp, nj, k, tile);
          for (int r = 0; r < ni; r++) {
            int co = cOff + (i0 + r) * ldc + j0;
            for (int q = 0; q < nj; q++) {
              double v = alpha * tile[r * 4 + q];
              c[co + q] = beta == 0 ? v : v + beta * c[co + q];
            }
          }
        }
      }
    });
  }

  /** A's rows at most this many (a mini-batch) and columns at least this many (wide inputs). */
  static final int SPARSE_MAX_ROWS = 256;
  static final int SPARSE_MIN_COLS = 256;
  /** The compressed product runs when at most this fraction of A's columns has a non-zero. */
  static final double SPARSE_SUPPORT = 0.8;

  /**
   * The input layer's forward GEMM {@code C = alpha X W + beta C} on a mini-batch X (a few rows, many
   * columns) whose columns are zero in every row for many features (MNIST: about 310 of 784 pixels in a
   * batch of 50). Those columns add exact zeros, so the product runs on X's other columns and the
   * matching rows of W only: every entry of C sums the same non-zero products (measured 160 -> 133 µs for
   * 50 x 784 x 80). Returns false (nothing written) when A is not shaped so or not sparse enough. (The
   * transposed product of the weight gradient, {@code X^T delta}, measured no faster this way.)
   */
  private boolean sparseColumns(int m, int n, int k, double alpha, double[] a, int aOff, int lda, double[] b,
      int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    if (m > SPARSE_MAX_ROWS || k < SPARSE_MIN_COLS || n < 8) {
      return false;
    }
    int[] support = scratch.ints(2 * k);
    int u = VectorOps.supportColumns(a, aOff, lda, m, k, support, (int) (SPARSE_SUPPORT * k));
    if (u < 0) {
      return false;
    }
    if (u == 0) {
      scaleRows(c, cOff, ldc, m, n, beta);
      return true;
    }
    double[] au = scratch.sharedA(m * u);
    VectorOps.gatherColumns(a, aOff, lda, m, support, u, au, u);
    double[] bu = scratch.sharedB(u * n);
    for (int q = 0; q < u; q++) {
      System.arraycopy(b, bOff + support[q] * ldb, bu, q * n, n);
    }
    // row-major C (m x n) = alpha A_U (m x u) B_U (u x n) + beta C, as column-major C^T = B_U^T A_U^T
    blas.dgemm("N", "N", n, m, u, alpha, bu, 0, n, au, 0, u, beta, c, cOff, ldc);
    return true;
  }

  /** C = beta C on rows x n (beta = 0 writes zeros, as BLAS does). */
  private static void scaleRows(double[] c, int cOff, int ldc, int rows, int n, double beta) {
    for (int r = 0; r < rows; r++) {
      int o = cOff + r * ldc;
      if (beta == 0) {
        java.util.Arrays.fill(c, o, o + n, 0.0);
      } else {
        for (int j = o; j < o + n; j++) {
          c[j] *= beta;
        }
      }
    }
  }
}
