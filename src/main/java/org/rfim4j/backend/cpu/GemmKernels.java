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
}
