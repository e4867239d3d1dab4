package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels32.dotTile;
import static org.rfim4j.backend.cpu.TileKernels32.transpose;

import org.rfim4j.backend.cpu.CpuBackend.GemmPath;

/**
 * GEMM of one {@link CpuBackend32}, the float32 twin of {@link GemmKernels}: netlib's {@code sgemm} on the
 * {@link GemmPath#NETLIB} path (with the same sparse-column shortcut for image batches), otherwise the Java
 * kernel: operands packed so that the summation index is contiguous, 4 x 4 output tiles accumulated in
 * float registers by fused multiply-adds ({@link TileKernels32#dotTile}), row blocks of 4 split over the
 * threads. The metric updates use the same entry point for their Gram products.
 */
final class GemmKernels32 {
  private final GemmPath gemmPath;
  private final ParallelBlocks parallel;
  private final Scratch32 scratch;
  private final SplitBlas blas;

  GemmKernels32(GemmPath gemmPath, ParallelBlocks parallel, Scratch32 scratch, SplitBlas blas) {
    this.gemmPath = gemmPath;
    this.parallel = parallel;
    this.scratch = scratch;
    this.blas = blas;
  }

  /** Row-major GEMM on raw storage. C must not overlap A or B. */
  void gemmRaw(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
      int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    if (gemmPath == GemmPath.NETLIB) {
      if (!transA && !transB
          && sparseColumns(m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)) {
        return;
      }
      // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T (see GemmKernels).
      blas.sgemm(transB ? "T" : "N", transA ? "T" : "N", n, m, k, alpha, b, bOff, ldb, a, aOff, lda, beta, c,
          cOff, ldc);
      return;
    }
    javaGemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc, false);
  }

  /**
   * The Java kernel; with {@code upperOnly} only the tiles on or above the diagonal of C are computed
   * (for a Gram matrix whose lower triangle is mirrored by the caller; m == n then).
   */
  void javaGemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOff,
      int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc, boolean upperOnly) {
    final float[] ap;
    final int apOff;
    final int ldap;
    if (transA) {
      ap = scratch.slotA(0, m * k);
      transpose(a, aOff, lda, k, m, ap);
      apOff = 0;
      ldap = k;
    } else {
      ap = a;
      apOff = aOff;
      ldap = lda;
    }
    final float[] bp;
    final int bpOff;
    final int ldbp;
    if (transB) {
      bp = b;
      bpOff = bOff;
      ldbp = ldb;
    } else {
      bp = scratch.slotB(0, n * k);
      transpose(b, bOff, ldb, k, n, bp);
      bpOff = 0;
      ldbp = k;
    }
    int blocks = (m + 3) / 4;
    parallel.run(blocks, (long) m * n * k, (blk, slot) -> {
      float[] tile = scratch.tile(slot);
      int i0 = blk * 4;
      int ni = Math.min(4, m - i0);
      for (int j0 = upperOnly ? i0 : 0; j0 < n; j0 += 4) {
        int nj = Math.min(4, n - j0);
        dotTile(ap, apOff + i0 * ldap, ldap, ni, bp, bpOff + j0 * ldbp, ldbp, nj, k, tile);
        for (int r = 0; r < ni; r++) {
          int co = cOff + (i0 + r) * ldc + j0;
          for (int q = 0; q < nj; q++) {
            float v = alpha * tile[r * 4 + q];
            c[co + q] = beta == 0 ? v : v + beta * c[co + q];
          }
        }
      }
    });
  }

  /** Whether products go to netlib (native or its Java fallback) rather than the Java kernel. */
  boolean netlib() {
    return gemmPath == GemmPath.NETLIB;
  }

  /**
   * {@link GemmKernels}'s sparse-column shortcut in float32: the input layer's forward product on a batch
   * of images runs on the columns of X holding a non-zero and the matching rows of W only.
   */
  private boolean sparseColumns(int m, int n, int k, float alpha, float[] a, int aOff, int lda, float[] b,
      int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    if (m > GemmKernels.SPARSE_MAX_ROWS || k < GemmKernels.SPARSE_MIN_COLS || n < 8) {
      return false;
    }
    int[] support = scratch.ints(2 * k);
    int u = VectorOps32.supportColumns(a, aOff, lda, m, k, support, (int) (GemmKernels.SPARSE_SUPPORT * k));
    if (u < 0) {
      return false;
    }
    if (u == 0) {
      for (int r = 0; r < m; r++) {
        int o = cOff + r * ldc;
        for (int j = o; j < o + n; j++) {
          c[j] = beta == 0 ? 0f : c[j] * beta;
        }
      }
      return true;
    }
    float[] au = scratch.sharedA(m * u);
    VectorOps32.gatherColumns(a, aOff, lda, m, support, u, au, u);
    float[] bu = scratch.sharedB(u * n);
    for (int q = 0; q < u; q++) {
      System.arraycopy(b, bOff + support[q] * ldb, bu, q * n, n);
    }
    blas.sgemm("N", "N", n, m, u, alpha, bu, 0, n, au, 0, u, beta, c, cOff, ldc);
    return true;
  }
}
