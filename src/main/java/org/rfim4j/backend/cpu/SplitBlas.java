package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import java.util.Locale;

/**
 * Native BLAS calls of one {@link CpuBackend}, split across the backend's threads when the BLAS itself
 * runs on one thread.
 *
 * <p>A multi-threaded OpenBLAS hands every call to its own threads, which then spin waiting for the next
 * call while the backend's Java work runs: on a small machine the two sets of threads compete for the
 * cores, and at the paper's shapes (a 50 x 784 x 80 GEMM is 3 million multiply-adds) the hand-off costs
 * more than it saves. Measured on 2 cores, an Adam epoch ran 25-40% faster with
 * {@code OPENBLAS_NUM_THREADS=1}, but RNGD's large products then ran on one core. So when the BLAS is
 * single-threaded ({@link #blasSingleThreaded()}), large calls are split here into independent
 * sub-calls (column blocks of C) run on the backend's
 * threads; otherwise each call goes to the BLAS whole. Every entry of C still sums the same products;
 * only the BLAS kernel's blocking, and so the rounding, can differ from the whole call (as it does
 * between OpenBLAS thread counts). The split depends on the thread count only, never on timing.
 */
final class SplitBlas {

  /** Calls below this many multiply-adds are never split. */
  static final long SPLIT_FLOPS = 1L << 22;

  private final ParallelBlocks parallel;
  private final boolean split;

  SplitBlas(ParallelBlocks parallel, boolean split) {
    this.parallel = parallel;
    this.split = split && parallel.hasPool();
  }

  /** Whether large calls are split across the backend's threads. */
  boolean splits() {
    return split;
  }

  /**
   * Whether the native BLAS runs each call on the calling thread only: {@code OPENBLAS_NUM_THREADS} (or,
   * when unset, {@code OMP_NUM_THREADS}) is 1; the system property {@code rfim4j.cpu.splitBlas}
   * ({@code true} / {@code false}) overrides.
   */
  static boolean blasSingleThreaded() {
    String prop = System.getProperty("rfim4j.cpu.splitBlas");
    if (prop != null && !prop.isBlank()) {
      String p = prop.trim().toLowerCase(Locale.ROOT);
      if (!p.equals("true") && !p.equals("false")) {
        throw new IllegalArgumentException(
            "system property rfim4j.cpu.splitBlas must be 'true' or 'false', got '" + prop + "'");
      }
      return p.equals("true");
    }
    String env = System.getenv("OPENBLAS_NUM_THREADS");
    if (env == null || env.isBlank()) {
      env = System.getenv("OMP_NUM_THREADS");
    }
    return env != null && env.trim().equals("1");
  }

  /**
   * Column-major {@code C = alpha op(A) op(B) + beta C} (BLAS dgemm); when large, split into column blocks
   * of op(B) and C. netlib checks every operand as if it were {@code ld x (columns)} from its offset, so a
   * block of a transposed B (which starts inside the leading dimension) needs {@code from} spare entries
   * after the array's last element; without them the call is not split.
   */
  void dgemm(String ta, String tb, int m, int n, int k, double alpha, double[] a, int aOff, int lda,
      double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    int parts = gemmParts(tb, m, n, k, bOff, ldb, b.length);
    if (parts < 2) {
      BLAS.getInstance().dgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
      return;
    }
    parallel.run(parts, Long.MAX_VALUE, (part, slot) -> dgemmPart(part, parts, ta, tb, m, n, k, alpha, a, aOff,
        lda, b, bOff, ldb, beta, c, cOff, ldc));
  }

  /**
   * Column block {@code part} of {@code parts} of {@link #dgemm}'s split ({@code parts} from {@link #gemmParts}),
   * for callers that run the blocks of several products in one parallel call.
   */
  static void dgemmPart(int part, int parts, String ta, String tb, int m, int n, int k, double alpha, double[] a,
      int aOff, int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    int from = (int) ((long) n * part / parts);
    int to = (int) ((long) n * (part + 1) / parts);
    int bo = bOff + (tb.equals("N") ? from * ldb : from);
    BLAS.getInstance().dgemm(ta, tb, m, to - from, k, alpha, a, aOff, lda, b, bo, ldb, beta, c, cOff + from * ldc,
        ldc);
  }

  /** {@link #dgemm} in float32 ({@code sgemm}), split the same way. */
  void sgemm(String ta, String tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
      float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    sgemm(BLAS.getInstance(), ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
  }

  /** {@link #sgemm} on the given BLAS implementation (the float32 engine's Java path passes netlib's Java one). */
  void sgemm(BLAS blas, String ta, String tb, int m, int n, int k, float alpha, float[] a, int aOff, int lda,
      float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    int parts = gemmParts(tb, m, n, k, bOff, ldb, b.length);
    if (parts < 2) {
      blas.sgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
      return;
    }
    parallel.run(parts, Long.MAX_VALUE, (part, slot) -> sgemmPart(blas, part, parts, ta, tb, m, n, k, alpha, a,
        aOff, lda, b, bOff, ldb, beta, c, cOff, ldc));
  }

  /** {@link #dgemmPart} in float32, on the given BLAS implementation. */
  static void sgemmPart(BLAS blas, int part, int parts, String ta, String tb, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    int from = (int) ((long) n * part / parts);
    int to = (int) ((long) n * (part + 1) / parts);
    int bo = bOff + (tb.equals("N") ? from * ldb : from);
    blas.sgemm(ta, tb, m, to - from, k, alpha, a, aOff, lda, b, bo, ldb, beta, c, cOff + from * ldc, ldc);
  }

  /**
   * Column blocks a GEMM of op(B) (m x n x k) is split into: 1 unless splitting is on and the product is large;
   * also 1 when B is transposed and its array lacks the spare entries a block inside the leading dimension needs.
   */
  int gemmParts(String tb, int m, int n, int k, int bOff, int ldb, int bLength) {
    int parts = split && (long) m * n * k >= SPLIT_FLOPS ? Math.min(parallel.threads(), n / 8) : 1;
    if (parts >= 2 && !tb.equals("N") && (long) bOff + n + (long) k * ldb > bLength) {
      return 1;
    }
    return parts;
  }
}
