package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.lapack.LAPACK;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.ActivationMath;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.netlib.util.intW;

/**
 * The float64 reference backend: arrays are {@code double[]} slices on the Java heap, every operation is
 * computed in double precision and finishes before the method returns ({@link #synchronize} is a no-op).
 *
 * <p>GEMM-shaped work (gemm, the metric updates, the batched inverse and the preconditioning) runs in
 * Java kernels: operands are packed so that the summation index is contiguous and 4 x 4 output tiles are
 * accumulated in registers; the metric updates compute only the upper triangle of each Gram matrix and
 * mirror it. Work is split over a small private fork-join pool (one worker per available processor) when
 * it is large enough to pay for the hand-off. {@code gemm} uses netlib BLAS ({@code dev.ludovic.netlib})
 * instead when netlib finds a native BLAS; see {@link #defaultGemmPath()}.
 *
 * <p>One instance is meant to be used from one thread at a time: scratch buffers are reused across calls.
 * Results are deterministic: the split across threads never changes the order of any floating-point sum.
 */
public final class CpuBackend implements Backend {

  /** Which GEMM implementation {@link #gemm} uses. */
  public enum GemmPath {
    /**
     * Packed, register-tiled Java loops: the default without a native BLAS, measured 1.2 to 3 times faster
     * than netlib's Java fallback at the paper's shapes.
     */
    JAVA,
    /**
     * {@code dev.ludovic.netlib.blas.BLAS.getInstance().dgemm}: the default when netlib finds a native BLAS
     * (e.g. Debian's libopenblas0), otherwise its Java fallback.
     */
    NETLIB
  }

  /** Below this many multiply-adds an operation runs on the calling thread. */
  private static final long PARALLEL_FLOPS = 1L << 20;

  private final int threads;
  private final ForkJoinPool pool;
  private final GemmPath gemmPath;
  /** Native BLAS for the metric updates (NETLIB path and netlib loaded a native BLAS). */
  private final boolean nativeBlas;
  /** Native LAPACK for the batched inverse (NETLIB path and netlib loaded a native LAPACK). */
  private final boolean nativeLapack;
  private final AtomicInteger live = new AtomicInteger();
  private volatile boolean closed;

  // Scratch buffers, reused across calls; index = chunk (thread slot).
  private final double[][] scratch1;
  private final double[][] scratch2;
  private final double[][] scratch3;
  private double[] shared1 = new double[0];
  private double[] shared2 = new double[0];
  private final double[][] tiles;

  /** A backend with one worker per available processor and the default GEMM path. */
  public CpuBackend() {
    this(Runtime.getRuntime().availableProcessors(), defaultGemmPath());
  }

  /**
   * @param threads number of threads used by the parallel operations (1 = run on the caller only)
   * @param gemmPath the GEMM implementation
   */
  public CpuBackend(int threads, GemmPath gemmPath) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    if (gemmPath == null) {
      throw new IllegalArgumentException("gemmPath must not be null");
    }
    this.threads = threads;
    this.gemmPath = gemmPath;
    this.nativeBlas = gemmPath == GemmPath.NETLIB && NativeCheck.NATIVE;
    this.nativeLapack = gemmPath == GemmPath.NETLIB && NativeCheck.NATIVE_LAPACK;
    this.pool = threads > 1 ? new ForkJoinPool(threads - 1) : null;
    this.scratch1 = new double[threads][];
    this.scratch2 = new double[threads][];
    this.scratch3 = new double[threads][];
    this.tiles = new double[threads][16];
    for (int i = 0; i < threads; i++) {
      scratch1[i] = new double[0];
      scratch2[i] = new double[0];
      scratch3[i] = new double[0];
    }
  }

  /**
   * The default GEMM path: the system property {@code rfim4j.cpu.gemm} ({@code java} or {@code netlib})
   * when set; otherwise netlib when it found a native BLAS (such as OpenBLAS) and the Java kernels when
   * netlib would fall back to its own Java implementation, which measured slower.
   */
  public static GemmPath defaultGemmPath() {
    String prop = System.getProperty("rfim4j.cpu.gemm");
    if (prop == null || prop.isBlank()) {
      return NativeCheck.NATIVE ? GemmPath.NETLIB : GemmPath.JAVA;
    }
    String p = prop.trim().toUpperCase(Locale.ROOT);
    try {
      return GemmPath.valueOf(p);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "system property rfim4j.cpu.gemm must be 'java' or 'netlib', got '" + p + "'", e);
    }
  }

  /** Whether netlib loaded a native BLAS; checked once, on first use. */
  private static final class NativeCheck {
    static final boolean NATIVE = isNative();
    static final boolean NATIVE_LAPACK = isNativeLapack();

    private static boolean isNative() {
      try {
        return BLAS.getInstance() instanceof dev.ludovic.netlib.blas.NativeBLAS;
      } catch (LinkageError | RuntimeException e) {
        return false;
      }
    }

    private static boolean isNativeLapack() {
      try {
        return LAPACK.getInstance() instanceof dev.ludovic.netlib.lapack.NativeLAPACK;
      } catch (LinkageError | RuntimeException e) {
        return false;
      }
    }
  }

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public int precisionBits() {
    return 64;
  }

  /** The number of threads used by parallel operations. */
  public int threads() {
    return threads;
  }

  /** The GEMM implementation in use. */
  public GemmPath gemmPath() {
    return gemmPath;
  }

  /** Whether the metric updates run on a native BLAS (the NETLIB path with a native BLAS loaded). */
  public boolean nativeMetricUpdates() {
    return nativeBlas;
  }

  /** Whether {@link #batchedInverse} factorises with a native LAPACK (NETLIB path, native LAPACK loaded). */
  public boolean nativeInverse() {
    return nativeLapack;
  }

  // =============================================================== validation helpers

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CpuBackend is closed");
    }
  }

  private CpuArray arr(DeviceArray a, String op, String name) {
    if (a == null) {
      throw new IllegalArgumentException(op + ": " + name + " must not be null");
    }
    if (!(a instanceof CpuArray) || ((CpuArray) a).owner != this) {
      throw new IllegalArgumentException(op + ": " + name + " was not allocated by this CpuBackend");
    }
    CpuArray c = (CpuArray) a;
    if (c.isClosed()) {
      throw new IllegalArgumentException(op + ": " + name + " " + Arrays.toString(c.shapeRef())
          + " has been closed");
    }
    return c;
  }

  private static boolean overlaps(CpuArray x, CpuArray y) {
    return x.data == y.data && x.offset < y.offset + y.size && y.offset < x.offset + x.size;
  }

  private static String shp(CpuArray a) {
    return Arrays.toString(a.shapeRef());
  }

  private static IllegalArgumentException bad(String op, String name, CpuArray a, String expected) {
    return new IllegalArgumentException(
        op + ": " + name + " has shape " + shp(a) + " but " + expected);
  }

  private static void sameSize(String op, String nameA, CpuArray a, String nameB, CpuArray b) {
    if (a.size != b.size) {
      throw new IllegalArgumentException(op + ": " + nameB + " has shape " + shp(b) + " (size " + b.size
          + ") but must have the size of " + nameA + " " + shp(a) + " (size " + a.size + ")");
    }
  }

  private static void sameShape(String op, String nameA, CpuArray a, String nameB, CpuArray b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) {
      throw new IllegalArgumentException(op + ": " + nameB + " has shape " + shp(b) + " but must be "
          + a.rows() + " x " + a.cols() + " like " + nameA + " " + shp(a));
    }
  }

  private static void vectorOf(String op, String name, CpuArray a, int n, String what) {
    if (a.size != n) {
      throw new IllegalArgumentException(op + ": " + name + " has shape " + shp(a) + " but must have "
          + n + " elements (" + what + ")");
    }
  }

  /** Number of matrices in a square stack of D x D matrices (m x D x D, or one D x D). */
  private static int stackCount(String op, String name, CpuArray a, int d) {
    int[] s = a.shapeRef();
    boolean ok;
    int m;
    if (s.length == 3) {
      ok = s[1] == d && s[2] == d;
      m = s[0];
    } else if (s.length == 2) {
      ok = s[0] == d && s[1] == d;
      m = 1;
    } else {
      ok = false;
      m = 0;
    }
    if (!ok) {
      throw new IllegalArgumentException(op + ": " + name + " has shape " + Arrays.toString(s)
          + " but must be a stack of " + d + " x " + d + " matrices (m x " + d + " x " + d + ", or "
          + d + " x " + d + ")");
    }
    return m;
  }

  // =============================================================== parallel helpers

  /** Work on one block; {@code slot} in [0, threads) identifies the scratch buffers to use. */
  private interface BlockBody {
    void run(int block, int slot);
  }

  /**
   * Runs {@code body} for blocks 0..n-1. Blocks are handed out dynamically: the calling thread and up to
   * threads-1 pool workers take the next unclaimed block until none is left, so a worker that the OS does
   * not schedule (other load on the machine) never holds up the call by more than the block it is in.
   */
  private void parallelBlocks(int n, long flops, BlockBody body) {
    int helpers = pool == null || flops < PARALLEL_FLOPS || n < 2 ? 0 : Math.min(threads, n) - 1;
    if (helpers == 0) {
      for (int i = 0; i < n; i++) {
        body.run(i, 0);
      }
      return;
    }
    Job job = new Job(n, body);
    for (int h = 1; h <= helpers; h++) {
      final int slot = h;
      pool.execute(() -> job.work(slot));
    }
    job.work(0);
    job.awaitAll();
    Throwable f = job.failure.get();
    if (f instanceof RuntimeException) {
      throw (RuntimeException) f;
    } else if (f instanceof Error) {
      throw (Error) f;
    } else if (f != null) {
      throw new IllegalStateException(f);
    }
  }

  private static final class Job {
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger done = new AtomicInteger();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final int n;
    final BlockBody body;

    Job(int n, BlockBody body) {
      this.n = n;
      this.body = body;
    }

    void work(int slot) {
      int i;
      while ((i = next.getAndIncrement()) < n) {
        try {
          body.run(i, slot);
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.incrementAndGet();
        }
      }
    }

    void awaitAll() {
      int spins = 0;
      while (done.get() < n) {
        if (++spins < 2000) {
          Thread.onSpinWait();
        } else {
          Thread.yield();
        }
      }
    }
  }

  private static double[] grow(double[][] slots, int slot, int len) {
    double[] s = slots[slot];
    if (s.length < len) {
      s = new double[len];
      slots[slot] = s;
    }
    return s;
  }

  private double[] growShared(int len) {
    if (shared1.length < len) {
      shared1 = new double[len];
    }
    return shared1;
  }

  private double[] growShared2(int len) {
    if (shared2.length < len) {
      shared2 = new double[len];
    }
    return shared2;
  }

  // =============================================================== memory

  @Override
  public DeviceArray allocate(int... shape) {
    checkOpen();
    if (shape == null || shape.length < 1 || shape.length > 3) {
      throw new IllegalArgumentException("allocate: shape must have 1 to 3 dimensions, got "
          + (shape == null ? "null" : Arrays.toString(shape)));
    }
    long n = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(
            "allocate: shape dimensions must be positive, got " + Arrays.toString(shape));
      }
      n *= d;
    }
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("allocate: shape " + Arrays.toString(shape) + " has " + n
          + " elements, more than a Java array holds");
    }
    CpuArray a = new CpuArray(this, new double[(int) n], 0, shape, null);
    live.incrementAndGet();
    return a;
  }

  void released() {
    live.decrementAndGet();
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    CpuArray b = arr(base, "rows", "base");
    int[] s = b.shapeRef();
    if (from < 0 || to > s[0] || from >= to) {
      throw new IllegalArgumentException("rows: range [" + from + ", " + to + ") is not a non-empty range"
          + " within the leading dimension of base " + Arrays.toString(s));
    }
    int[] vs = s.clone();
    vs[0] = to - from;
    int stride = b.size / s[0];
    return new CpuArray(this, b.data, b.offset + from * stride, vs, b.isView() ? b.rootArray() : b);
  }

  @Override
  public void upload(DeviceArray dst, double[] src) {
    CpuArray d = arr(dst, "upload", "dst");
    if (src == null || src.length != d.size) {
      throw new IllegalArgumentException("upload: src has length " + (src == null ? "null" : src.length)
          + " but dst " + shp(d) + " has " + d.size + " elements");
    }
    System.arraycopy(src, 0, d.data, d.offset, d.size);
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    CpuArray d = arr(dst, "upload", "dst");
    if (src == null || src.length != d.size) {
      throw new IllegalArgumentException("upload: src has length " + (src == null ? "null" : src.length)
          + " but dst " + shp(d) + " has " + d.size + " elements");
    }
    double[] x = d.data;
    int o = d.offset;
    for (int i = 0; i < src.length; i++) {
      x[o + i] = src[i];
    }
  }

  @Override
  public double[] download(DeviceArray src) {
    CpuArray s = arr(src, "download", "src");
    return Arrays.copyOfRange(s.data, s.offset, s.offset + s.size);
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    CpuArray s = arr(src, "copy", "src");
    CpuArray d = arr(dst, "copy", "dst");
    sameSize("copy", "src", s, "dst", d);
    System.arraycopy(s.data, s.offset, d.data, d.offset, s.size);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    CpuArray d = arr(dst, "fill", "dst");
    Arrays.fill(d.data, d.offset, d.offset + d.size, value);
  }

  @Override
  public int liveArrays() {
    return live.get();
  }

  @Override
  public void synchronize() {
    // Every operation completes before returning.
  }

  // =============================================================== dense algebra

  @Override
  public void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta,
      DeviceArray c) {
    CpuArray A = arr(a, "gemm", "a");
    CpuArray B = arr(b, "gemm", "b");
    CpuArray C = arr(c, "gemm", "c");
    int m = transA ? A.cols() : A.rows();
    int k = transA ? A.rows() : A.cols();
    int kb = transB ? B.cols() : B.rows();
    int n = transB ? B.rows() : B.cols();
    if (kb != k) {
      throw new IllegalArgumentException("gemm: inner dimensions differ: op(a) is " + m + " x " + k
          + " (a " + shp(A) + (transA ? " transposed" : "") + ") but op(b) is " + kb + " x " + n + " (b "
          + shp(B) + (transB ? " transposed" : "") + ")");
    }
    if (C.rows() != m || C.cols() != n) {
      throw bad("gemm", "c", C, "op(a) op(b) is " + m + " x " + n);
    }
    if (overlaps(C, A) || overlaps(C, B)) {
      throw new IllegalArgumentException("gemm: c " + shp(C) + " shares storage with "
          + (overlaps(C, A) ? "a " + shp(A) : "b " + shp(B)) + "; the output must not overlap an input");
    }
    gemmRaw(transA, transB, m, n, k, alpha, A.data, A.offset, A.cols(), B.data, B.offset, B.cols(), beta,
        C.data, C.offset, n);
  }

  /** Row-major GEMM on raw storage. C must not overlap A or B. */
  void gemmRaw(boolean transA, boolean transB, int m, int n, int k, double alpha, double[] a, int aOff,
      int lda, double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    if (gemmPath == GemmPath.NETLIB) {
      // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a row-major X is a
      // column-major X^T with the same leading dimension: swap the operands, keep the flags.
      BLAS.getInstance().dgemm(transB ? "T" : "N", transA ? "T" : "N", n, m, k, alpha, b, bOff, ldb, a,
          aOff, lda, beta, c, cOff, ldc);
      return;
    }
    // Java path: C[i][j] = alpha * dot(op(A) row i, op(B) column j) + beta * C[i][j], with both operands
    // laid out so that the summation index p is contiguous: op(A) as m x k rows, op(B)^T as n x k rows.
    final double[] ap;
    final int apOff;
    final int ldap;
    if (transA) {
      ap = growShared(m * k);
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
      bp = growShared2(n * k);
      transpose(b, bOff, ldb, k, n, bp);
      bpOff = 0;
      ldbp = k;
    }
    int blocks = (m + 3) / 4;
    parallelBlocks(blocks, (long) m * n * k, (blk, slot) -> {
      double[] tile = tiles[slot];
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

  /** dst (cols x rows, row-major) = src^T for src rows x cols with leading dimension ld. */
  private static void transpose(double[] src, int off, int ld, int rows, int cols, double[] dst) {
    for (int p = 0; p < rows; p++) {
      int sp = off + p * ld;
      for (int j = 0; j < cols; j++) {
        dst[j * rows + p] = src[sp + j];
      }
    }
  }

  /**
   * tile[r * 4 + q] = sum_{p < k} x[xo + r * ldx + p] * y[yo + q * ldy + p] for r < nr, q < nq (both at
   * most 4). Every entry is the same sequential fused multiply-add chain over p whatever the tile position,
   * so results do not depend on the split into tiles or threads.
   */
  static void dotTile(double[] x, int xo, int ldx, int nr, double[] y, int yo, int ldy, int nq, int k,
      double[] tile) {
    if (nr == 4 && nq == 4) {
      int x0 = xo;
      int x1 = xo + ldx;
      int x2 = x1 + ldx;
      int x3 = x2 + ldx;
      int y0 = yo;
      int y1 = yo + ldy;
      int y2 = y1 + ldy;
      int y3 = y2 + ldy;
      double s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      double s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      double s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      double s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (int p = 0; p < k; p++) {
        double a0 = x[x0 + p];
        double a1 = x[x1 + p];
        double a2 = x[x2 + p];
        double a3 = x[x3 + p];
        double b0 = y[y0 + p];
        double b1 = y[y1 + p];
        double b2 = y[y2 + p];
        double b3 = y[y3 + p];
        s00 = Math.fma(a0, b0, s00);
        s01 = Math.fma(a0, b1, s01);
        s02 = Math.fma(a0, b2, s02);
        s03 = Math.fma(a0, b3, s03);
        s10 = Math.fma(a1, b0, s10);
        s11 = Math.fma(a1, b1, s11);
        s12 = Math.fma(a1, b2, s12);
        s13 = Math.fma(a1, b3, s13);
        s20 = Math.fma(a2, b0, s20);
        s21 = Math.fma(a2, b1, s21);
        s22 = Math.fma(a2, b2, s22);
        s23 = Math.fma(a2, b3, s23);
        s30 = Math.fma(a3, b0, s30);
        s31 = Math.fma(a3, b1, s31);
        s32 = Math.fma(a3, b2, s32);
        s33 = Math.fma(a3, b3, s33);
      }
      tile[0] = s00;
      tile[1] = s01;
      tile[2] = s02;
      tile[3] = s03;
      tile[4] = s10;
      tile[5] = s11;
      tile[6] = s12;
      tile[7] = s13;
      tile[8] = s20;
      tile[9] = s21;
      tile[10] = s22;
      tile[11] = s23;
      tile[12] = s30;
      tile[13] = s31;
      tile[14] = s32;
      tile[15] = s33;
      return;
    }
    if (nr == 4) {
      // 4 x 1 strips: four independent sums share each load of y
      int x0 = xo;
      int x1 = xo + ldx;
      int x2 = x1 + ldx;
      int x3 = x2 + ldx;
      for (int q = 0; q < nq; q++) {
        int yq = yo + q * ldy;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int p = 0; p < k; p++) {
          double b = y[yq + p];
          s0 = Math.fma(x[x0 + p], b, s0);
          s1 = Math.fma(x[x1 + p], b, s1);
          s2 = Math.fma(x[x2 + p], b, s2);
          s3 = Math.fma(x[x3 + p], b, s3);
        }
        tile[q] = s0;
        tile[4 + q] = s1;
        tile[8 + q] = s2;
        tile[12 + q] = s3;
      }
      return;
    }
    if (nq == 4) {
      // 1 x 4 strips
      int y0 = yo;
      int y1 = yo + ldy;
      int y2 = y1 + ldy;
      int y3 = y2 + ldy;
      for (int r = 0; r < nr; r++) {
        int xr = xo + r * ldx;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int p = 0; p < k; p++) {
          double a = x[xr + p];
          s0 = Math.fma(a, y[y0 + p], s0);
          s1 = Math.fma(a, y[y1 + p], s1);
          s2 = Math.fma(a, y[y2 + p], s2);
          s3 = Math.fma(a, y[y3 + p], s3);
        }
        tile[r * 4] = s0;
        tile[r * 4 + 1] = s1;
        tile[r * 4 + 2] = s2;
        tile[r * 4 + 3] = s3;
      }
      return;
    }
    for (int r = 0; r < nr; r++) {
      int xr = xo + r * ldx;
      for (int q = 0; q < nq; q++) {
        int yq = yo + q * ldy;
        double sum = 0;
        for (int p = 0; p < k; p++) {
          sum = Math.fma(x[xr + p], y[yq + p], sum);
        }
        tile[r * 4 + q] = sum;
      }
    }
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    CpuArray X = arr(x, "axpy", "x");
    CpuArray Y = arr(y, "axpy", "y");
    sameSize("axpy", "x", X, "y", Y);
    double[] xd = X.data;
    double[] yd = Y.data;
    int xo = X.offset;
    int yo = Y.offset;
    for (int i = 0; i < X.size; i++) {
      yd[yo + i] += alpha * xd[xo + i];
    }
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    CpuArray X = arr(x, "scale", "x");
    double[] xd = X.data;
    for (int i = X.offset, e = X.offset + X.size; i < e; i++) {
      xd[i] *= alpha;
    }
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    CpuArray X = arr(x, "dot", "x");
    CpuArray Y = arr(y, "dot", "y");
    sameSize("dot", "x", X, "y", Y);
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

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    CpuArray A = arr(a, "columnSums", "a");
    CpuArray O = arr(out, "columnSums", "out");
    int r = A.rows();
    int n = A.cols();
    vectorOf("columnSums", "out", O, n, "a.cols() of a " + shp(A));
    double[] acc = growShared(n);
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

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    CpuArray S = arr(src, "gatherRows", "src");
    CpuArray I = arr(indices, "gatherRows", "indices");
    CpuArray D = arr(dst, "gatherRows", "dst");
    if (D.cols() != S.cols()) {
      throw bad("gatherRows", "dst", D, "its rows must have src's " + S.cols() + " columns (src "
          + shp(S) + ")");
    }
    int rows = D.rows();
    if (offset < 0 || (long) offset + rows > I.size) {
      throw new IllegalArgumentException("gatherRows: indices has shape " + shp(I) + " but offset "
          + offset + " + dst rows " + rows + " (dst " + shp(D) + ") exceeds its " + I.size + " elements");
    }
    int sr = S.rows();
    for (int k = 0; k < rows; k++) {
      double v = I.data[I.offset + offset + k];
      if (!(v >= 0 && v < sr && v == Math.rint(v))) {
        throw new IllegalArgumentException("gatherRows: indices[" + (offset + k) + "] = " + v
            + " is not a row index of src " + shp(S));
      }
    }
    int n = S.cols();
    for (int k = 0; k < rows; k++) {
      int r = (int) I.data[I.offset + offset + k];
      System.arraycopy(S.data, S.offset + r * n, D.data, D.offset + k * n, n);
    }
  }

  // =============================================================== layers

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    CpuArray Z = arr(z, "biasActivationForward", "z");
    CpuArray Bi = arr(bias, "biasActivationForward", "bias");
    if (act == null) {
      throw new IllegalArgumentException("biasActivationForward: act must not be null");
    }
    int n = Z.cols();
    vectorOf("biasActivationForward", "bias", Bi, n, "z.cols() of z " + shp(Z));
    CpuArray H = null;
    if (h != null) {
      H = arr(h, "biasActivationForward", "h");
      sameShape("biasActivationForward", "z", Z, "h", H);
    }
    int r = Z.rows();
    double[] zd = Z.data;
    double[] bd = Bi.data;
    int bo = Bi.offset;
    boolean relu = act.kind() == Activation.Kind.RELU;
    // One pass per row: bias, then the activation while the row is in cache (ReLU inlined).
    for (int i = 0; i < r; i++) {
      int row = Z.offset + i * n;
      for (int j = 0; j < n; j++) {
        zd[row + j] += bd[bo + j];
      }
      if (H == null) {
        continue;
      }
      double[] hd = H.data;
      int hrow = H.offset + i * n;
      if (relu) {
        for (int j = 0; j < n; j++) {
          double a = zd[row + j];
          hd[hrow + j] = a > 0 ? a : 0.0;
        }
      } else {
        for (int j = 0; j < n; j++) {
          hd[hrow + j] = ActivationMath.f(act, zd[row + j]);
        }
      }
    }
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    if (act == null) {
      throw new IllegalArgumentException("activationBackward: act must not be null");
    }
    CpuArray A = arr(a, "activationBackward", "a");
    CpuArray DH = arr(dH, "activationBackward", "dH");
    CpuArray DA = arr(dA, "activationBackward", "dA");
    sameShape("activationBackward", "a", A, "dH", DH);
    sameShape("activationBackward", "a", A, "dA", DA);
    double[] ad = A.data;
    double[] hd = DH.data;
    double[] od = DA.data;
    int ao = A.offset;
    int ho = DH.offset;
    int oo = DA.offset;
    if (act.kind() == Activation.Kind.RELU) {
      // dH * (a > 0 ? 1 : 0), the same values (NaN and signed zeros included) without the call.
      for (int i = 0, n = A.size; i < n; i++) {
        double g = hd[ho + i];
        od[oo + i] = ad[ao + i] > 0 ? g : g * 0.0;
      }
      return;
    }
    for (int i = 0, n = A.size; i < n; i++) {
      od[oo + i] = hd[ho + i] * ActivationMath.df(act, ad[ao + i]);
    }
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs,
      DeviceArray dLogits, double scale, DeviceArray stats) {
    String op = "softmaxCrossEntropy";
    CpuArray L = arr(logits, op, "logits");
    CpuArray Y = arr(labels, op, "labels");
    CpuArray P = arr(probs, op, "probs");
    CpuArray G = dLogits == null ? null : arr(dLogits, op, "dLogits");
    CpuArray S = arr(stats, op, "stats");
    int b = L.rows();
    int n = L.cols();
    vectorOf(op, "labels", Y, b, "one label per row of logits " + shp(L));
    sameShape(op, "logits", L, "probs", P);
    if (G != null) {
      sameShape(op, "logits", L, "dLogits", G);
    }
    vectorOf(op, "stats", S, 2, "loss sum and error count");
    for (int k = 0; k < b; k++) {
      double v = Y.data[Y.offset + k];
      if (!(v >= 0 && v < n && v == Math.rint(v))) {
        throw new IllegalArgumentException(op + ": labels[" + k + "] = " + v + " is not a class index of "
            + n + " classes (logits " + shp(L) + ")");
      }
    }
    double lossSum = 0;
    double errors = 0;
    double[] ld = L.data;
    double[] pd = P.data;
    for (int k = 0; k < b; k++) {
      int row = L.offset + k * n;
      int prow = P.offset + k * n;
      int y = (int) Y.data[Y.offset + k];
      double max = ld[row];
      int arg = 0;
      for (int j = 1; j < n; j++) {
        if (ld[row + j] > max) {
          max = ld[row + j];
          arg = j;
        }
      }
      double sum = 0;
      for (int j = 0; j < n; j++) {
        double e = Math.exp(ld[row + j] - max);
        pd[prow + j] = e;
        sum += e;
      }
      double inv = 1.0 / sum;
      for (int j = 0; j < n; j++) {
        pd[prow + j] *= inv;
      }
      lossSum += Math.log(sum) - (ld[row + y] - max);
      if (arg != y) {
        errors += 1;
      }
      if (G != null) {
        int grow = G.offset + k * n;
        for (int j = 0; j < n; j++) {
          G.data[grow + j] = scale * (pd[prow + j] - (j == y ? 1.0 : 0.0));
        }
      }
    }
    S.data[S.offset] += lossSum;
    S.data[S.offset + 1] += errors;
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    String op = "batchNormForward";
    CpuArray X = arr(x, op, "x");
    CpuArray Ga = arr(gamma, op, "gamma");
    CpuArray Be = arr(beta, op, "beta");
    CpuArray Rm = arr(runningMean, op, "runningMean");
    CpuArray Rv = arr(runningVar, op, "runningVar");
    CpuArray Me = mean == null && !training ? null : arr(mean, op, "mean");
    CpuArray Is = invStd == null && !training ? null : arr(invStd, op, "invStd");
    CpuArray Yo = arr(y, op, "y");
    int b = X.rows();
    int n = X.cols();
    String w = "one per column of x " + shp(X);
    vectorOf(op, "gamma", Ga, n, w);
    vectorOf(op, "beta", Be, n, w);
    vectorOf(op, "runningMean", Rm, n, w);
    vectorOf(op, "runningVar", Rv, n, w);
    if (Me != null) {
      vectorOf(op, "mean", Me, n, w);
    }
    if (Is != null) {
      vectorOf(op, "invStd", Is, n, w);
    }
    sameShape(op, "x", X, "y", Yo);
    double[] xd = X.data;
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
        Rm.data[Rm.offset + j] = momentum * Rm.data[Rm.offset + j] + (1 - momentum) * mu;
        Rv.data[Rv.offset + j] = momentum * Rv.data[Rv.offset + j] + (1 - momentum) * unbiased;
      } else {
        mu = Rm.data[Rm.offset + j];
        is = 1.0 / Math.sqrt(Rv.data[Rv.offset + j] + eps);
      }
      if (Me != null) {
        Me.data[Me.offset + j] = mu;
      }
      if (Is != null) {
        Is.data[Is.offset + j] = is;
      }
      double g = Ga.data[Ga.offset + j];
      double bb = Be.data[Be.offset + j];
      for (int k = 0; k < b; k++) {
        Yo.data[Yo.offset + k * n + j] = g * (xd[X.offset + k * n + j] - mu) * is + bb;
      }
    }
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    String op = "batchNormBackward";
    CpuArray X = arr(x, op, "x");
    CpuArray DY = arr(dY, op, "dY");
    CpuArray Ga = arr(gamma, op, "gamma");
    CpuArray Me = arr(mean, op, "mean");
    CpuArray Is = arr(invStd, op, "invStd");
    CpuArray DX = arr(dX, op, "dX");
    CpuArray DG = arr(dGamma, op, "dGamma");
    CpuArray DB = arr(dBeta, op, "dBeta");
    int b = X.rows();
    int n = X.cols();
    String w = "one per column of x " + shp(X);
    sameShape(op, "x", X, "dY", DY);
    sameShape(op, "x", X, "dX", DX);
    vectorOf(op, "gamma", Ga, n, w);
    vectorOf(op, "mean", Me, n, w);
    vectorOf(op, "invStd", Is, n, w);
    vectorOf(op, "dGamma", DG, n, w);
    vectorOf(op, "dBeta", DB, n, w);
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
        DX.data[DX.offset + k * n + j] = f * (b * dy - sumDy - xh * sumDyXhat);
      }
      DG.data[DG.offset + j] = sumDyXhat;
      DB.data[DB.offset + j] = sumDy;
    }
  }

  // =============================================================== first-order optimizers

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr,
      double momentum) {
    CpuArray P = arr(param, "sgdUpdate", "param");
    CpuArray G = arr(grad, "sgdUpdate", "grad");
    sameSize("sgdUpdate", "param", P, "grad", G);
    if (velocity == null) {
      for (int i = 0; i < P.size; i++) {
        P.data[P.offset + i] -= lr * G.data[G.offset + i];
      }
      return;
    }
    CpuArray V = arr(velocity, "sgdUpdate", "velocity");
    sameSize("sgdUpdate", "param", P, "velocity", V);
    for (int i = 0; i < P.size; i++) {
      double v = momentum * V.data[V.offset + i] + G.data[G.offset + i];
      V.data[V.offset + i] = v;
      P.data[P.offset + i] -= lr * v;
    }
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    CpuArray P = arr(param, "adamUpdate", "param");
    CpuArray G = arr(grad, "adamUpdate", "grad");
    CpuArray M = arr(m, "adamUpdate", "m");
    CpuArray V = arr(v, "adamUpdate", "v");
    sameSize("adamUpdate", "param", P, "grad", G);
    sameSize("adamUpdate", "param", P, "m", M);
    sameSize("adamUpdate", "param", P, "v", V);
    if (t < 1) {
      throw new IllegalArgumentException("adamUpdate: step t must be >= 1 (1-based), got " + t);
    }
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    double a1 = 1 - beta1;
    double a2 = 1 - beta2;
    double[] pd = P.data;
    double[] gd = G.data;
    double[] md = M.data;
    double[] vd = V.data;
    int po = P.offset;
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = 0, n = P.size; i < n; i++) {
      double g = gd[go + i];
      double mi = beta1 * md[mo + i] + a1 * g;
      double vi = beta2 * vd[vo + i] + a2 * g * g;
      md[mo + i] = mi;
      vd[vo + i] = vi;
      pd[po + i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
    }
  }

  // =============================================================== RNGD

  @Override
  public void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    if (act == null) {
      throw new IllegalArgumentException("nuCoefficients: act must not be null");
    }
    CpuArray A = arr(a, "nuCoefficients", "a");
    CpuArray N = arr(nu, "nuCoefficients", "nu");
    sameShape("nuCoefficients", "a", A, "nu", N);
    for (int i = 0; i < A.size; i++) {
      N.data[N.offset + i] = ActivationMath.nu(act, A.data[A.offset + i], omega);
    }
  }

  /** Writes H~^T = [h, 1]^T ((n+1) x B, row-major) for h (B x n) into a shared buffer. */
  private double[] augmentTransposed(CpuArray h) {
    int b = h.rows();
    int n = h.cols();
    double[] ut = growShared((n + 1) * b);
    transpose(h.data, h.offset, n, b, n, ut);
    Arrays.fill(ut, n * b, (n + 1) * b, 1.0);
    return ut;
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    CpuArray H = arr(h, "sharedMetricUpdate", "h");
    CpuArray G = arr(g, "sharedMetricUpdate", "g");
    int b = H.rows();
    int d = H.cols() + 1;
    if (G.size != d * d || G.cols() != d) {
      throw bad("sharedMetricUpdate", "g", G, "must be " + d + " x " + d + " for h " + shp(H));
    }
    double keep = 1 - lambda;
    double add = lambda / b;
    if (nativeBlas) {
      sharedMetricNative(H, b, d, keep, add, G);
      return;
    }
    double[] ut = augmentTransposed(H);
    int blocks = (d + 3) / 4;
    parallelBlocks(blocks, (long) b * d * d / 2,
        (ab, slot) -> gramEmaRowBlock(ab, d, b, ut, ut, keep, add, G.data, G.offset, tiles[slot]));
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    CpuArray H = arr(h, "perNeuronMetricUpdate", "h");
    CpuArray N = arr(nu, "perNeuronMetricUpdate", "nu");
    CpuArray G = arr(g, "perNeuronMetricUpdate", "g");
    int b = H.rows();
    int d = H.cols() + 1;
    if (N.rows() != b) {
      throw bad("perNeuronMetricUpdate", "nu", N, "must have h's " + b + " rows (h " + shp(H) + ")");
    }
    int m = N.cols();
    int gm = stackCount("perNeuronMetricUpdate", "g", G, d);
    if (gm != m) {
      throw bad("perNeuronMetricUpdate", "g", G, "must be " + m + " x " + d + " x " + d + " (one "
          + d + " x " + d + " matrix per column of nu " + shp(N) + ", h " + shp(H) + ")");
    }
    double keep = 1 - lambda;
    double add = lambda / b;
    if (nativeBlas) {
      perNeuronMetricNative(H, N, b, d, m, keep, add, G);
      return;
    }
    double[] ut = augmentTransposed(H);
    int blocks = (d + 3) / 4;
    parallelBlocks(m, (long) m * b * d * d / 2, (i, slot) -> {
      double[] tile = tiles[slot];
      double[] tt = grow(scratch1, slot, d * b);
      double[] nd = N.data;
      {
        // S^T = (diag(nu_i) H~)^T: column k of H~^T scaled by nu[k][i].
        for (int a = 0; a < d; a++) {
          int ra = a * b;
          for (int k = 0; k < b; k++) {
            tt[ra + k] = ut[ra + k] * nd[N.offset + k * m + i];
          }
        }
        int gOff = G.offset + i * d * d;
        for (int ab = 0; ab < blocks; ab++) {
          gramEmaRowBlock(ab, d, b, tt, ut, keep, add, G.data, gOff, tile);
        }
      }
    });
  }

  /**
   * Native shared update: M = H~^T H~ by one dsyrk into a scratch upper triangle, then G = keep G + add M
   * on both triangles from that one triangle (so a symmetric G stays exactly symmetric, as on the Java
   * path, which uses the same expression).
   */
  private void sharedMetricNative(CpuArray h, int b, int d, double keep, double add, CpuArray g) {
    int n = d - 1;
    double[] ht = growShared(b * d);
    for (int k = 0; k < b; k++) {
      System.arraycopy(h.data, h.offset + k * n, ht, k * d, n);
      ht[k * d + n] = 1.0;
    }
    double[] s = growShared2(d * d);
    // Row-major H~ (B x D) is the column-major D x B matrix X = H~^T; X X^T column-major lower is the
    // row-major upper triangle of M. beta = 0 ignores the scratch's prior contents (NaN included).
    BLAS.getInstance().dsyrk("L", "N", d, b, 1.0, ht, 0, d, 0.0, s, 0, d);
    emaFromUpper(s, 0, d, keep, add, g.data, g.offset);
  }

  /**
   * Native per-neuron update in Khatri-Rao form: Q (B x P, P = D(D+1)/2) holds the packed upper triangle
   * of h~_k h~_k^T in row k; one dgemm gives M (m x P) = nu^T Q, the packed upper triangles of every
   * neuron's sum_k nu[k][i] h~_k h~_k^T; then G[i] = keep G[i] + add M[i] on both triangles.
   */
  private void perNeuronMetricNative(CpuArray h, CpuArray nu, int b, int d, int m, double keep,
      double add, CpuArray g) {
    int n = d - 1;
    int p = d * (d + 1) / 2;
    double[] q = growShared(b * p);
    double[] hd = h.data;
    for (int k = 0; k < b; k++) {
      int row = h.offset + k * n;
      int o = k * p;
      for (int x = 0; x < n; x++) {
        double hx = hd[row + x];
        for (int y = x; y < n; y++) {
          q[o++] = hx * hd[row + y];
        }
        q[o++] = hx;
      }
      q[o] = 1.0;
    }
    double[] mp = growShared2(m * p);
    // Row-major M (m x P) = nu^T (m x B) Q (B x P) is column-major M^T = Q^T nu: Q^T is row-major Q read
    // column-major (ld P), nu is row-major nu (ld m) read column-major and transposed.
    BLAS.getInstance().dgemm("N", "T", p, m, b, 1.0, q, 0, p, nu.data, nu.offset, m, 0.0, mp, 0, p);
    int dd = d * d;
    parallelBlocks(m, (long) m * dd, (i, slot) -> {
      double[] gd = g.data;
      int gOff = g.offset + i * dd;
      int o = i * p;
      for (int x = 0; x < d; x++) {
        int gx = gOff + x * d;
        double v = add * mp[o++];
        gd[gx + x] = keep * gd[gx + x] + v;
        for (int y = x + 1; y < d; y++) {
          v = add * mp[o++];
          gd[gx + y] = keep * gd[gx + y] + v;
          int gy = gOff + y * d + x;
          gd[gy] = keep * gd[gy] + v;
        }
      }
    });
  }

  /** Square blocks of the EMA pass over a large matrix, so that the mirrored writes stay in cache. */
  private static final int EMA_BLOCK = 64;

  /**
   * G[x][y] and G[y][x] = keep * G + add * M[x][y] for y >= x, from the upper triangle of M (row-major d x
   * d at mOff), in EMA_BLOCK x EMA_BLOCK blocks.
   */
  private static void emaFromUpper(double[] mt, int mOff, int d, double keep, double add, double[] g,
      int gOff) {
    for (int x0 = 0; x0 < d; x0 += EMA_BLOCK) {
      int x1 = Math.min(d, x0 + EMA_BLOCK);
      for (int y0 = x0; y0 < d; y0 += EMA_BLOCK) {
        int y1 = Math.min(d, y0 + EMA_BLOCK);
        for (int x = x0; x < x1; x++) {
          int gx = gOff + x * d;
          int mx = mOff + x * d;
          for (int y = Math.max(y0, x); y < y1; y++) {
            double v = add * mt[mx + y];
            g[gx + y] = keep * g[gx + y] + v;
            if (y != x) {
              int gy = gOff + y * d + x;
              g[gy] = keep * g[gy] + v;
            }
          }
        }
      }
    }
  }

  /**
   * For row block {@code ab} (rows 4ab..4ab+3) of the upper triangle: M_xy = dot(left[x], right[y]) over
   * k < bsz (left, right: d x bsz row-major), then G_xy and G_yx = keep * G + add * M_xy for y >= x.
   */
  private static void gramEmaRowBlock(int ab, int d, int bsz, double[] left, double[] right, double keep,
      double add, double[] g, int gOff, double[] tile) {
    int a0 = ab * 4;
    int na = Math.min(4, d - a0);
    for (int b0 = a0; b0 < d; b0 += 4) {
      int nb = Math.min(4, d - b0);
      dotTile(left, a0 * bsz, bsz, na, right, b0 * bsz, bsz, nb, bsz, tile);
      for (int r = 0; r < na; r++) {
        int x = a0 + r;
        int gx = gOff + x * d;
        for (int q = 0; q < nb; q++) {
          int y = b0 + q;
          if (y < x) {
            continue;
          }
          double v = add * tile[r * 4 + q];
          g[gx + y] = keep * g[gx + y] + v;
          if (y != x) {
            int gy = gOff + y * d + x;
            g[gy] = keep * g[gy] + v;
          }
        }
      }
    }
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    CpuArray G = arr(g, "addDiagonal", "g");
    int d = G.cols();
    int m = stackCount("addDiagonal", "g", G, d);
    for (int i = 0; i < m; i++) {
      int off = G.offset + i * d * d;
      for (int j = 0; j < d; j++) {
        G.data[off + j * d + j] += value;
      }
    }
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    CpuArray G = arr(g, "batchedInverse", "g");
    CpuArray Gi = arr(ginv, "batchedInverse", "ginv");
    int d = G.cols();
    int m = stackCount("batchedInverse", "g", G, d);
    if (!Arrays.equals(G.shapeRef(), Gi.shapeRef())) {
      throw bad("batchedInverse", "ginv", Gi, "must have the shape of g " + shp(G));
    }
    if (epsRel == null || epsRel.length != m) {
      throw new IllegalArgumentException("batchedInverse: epsRel has length "
          + (epsRel == null ? "null" : epsRel.length) + " but g " + shp(G) + " holds " + m + " matrices");
    }
    int[] status = new int[m];
    if (nativeLapack) {
      inverseNative(G, Gi, d, m, epsRel, epsAbs, status);
      return status;
    }
    long flops = (long) d * d * d / 2;
    if (m >= threads || pool == null || flops < PARALLEL_FLOPS) {
      // One matrix per block.
      parallelBlocks(m, m * flops, (i, slot) -> {
        double[] l = grow(scratch1, slot, d * d);
        double[] x = grow(scratch2, slot, d * d);
        status[i] = cholesky(G.data, G.offset + i * d * d, d, epsRel[i], epsAbs, l);
        if (status[i] == 0) {
          invertLower(l, x, d, 0, d);
          transpose(x, 0, d, d, d, l);
          for (int ab = 0, blocks = (d + 3) / 4; ab < blocks; ab++) {
            upperProductRowBlock(l, d, ab, tiles[slot], Gi.data, Gi.offset + i * d * d);
          }
        }
      });
    } else {
      // Few large matrices: each phase after the (sequential) factorisation is split across threads.
      double[] l = grow(scratch1, 0, d * d);
      double[] x = grow(scratch2, 0, d * d);
      int colBlocks = (d + INV_COLS - 1) / INV_COLS;
      int rowBlocks = (d + 3) / 4;
      for (int i = 0; i < m; i++) {
        status[i] = cholesky(G.data, G.offset + i * d * d, d, epsRel[i], epsAbs, l);
        if (status[i] != 0) {
          continue;
        }
        parallelBlocks(colBlocks, flops / 3, (cb, slot) ->
            invertLower(l, x, d, cb * INV_COLS, Math.min(d, (cb + 1) * INV_COLS)));
        transpose(x, 0, d, d, d, l);
        int oOff = Gi.offset + i * d * d;
        parallelBlocks(rowBlocks, flops / 3, (ab, slot) ->
            upperProductRowBlock(l, d, ab, tiles[slot], Gi.data, oOff));
      }
    }
    return status;
  }

  /**
   * LAPACK inversion: the symmetrised, damped lower triangle (as {@link #cholesky} builds it) is the
   * column-major upper triangle, factorised by dpotrf and inverted by dpotri in place in scratch, then
   * mirrored into ginv. A failing dpotrf reports its info (the 1-based pivot) and leaves ginv untouched.
   * A matrix with a non-finite entry goes through the Java routines, whose pivot test also catches NaN.
   */
  private void inverseNative(CpuArray g, CpuArray gi, int d, int m, double[] epsRel, double epsAbs,
      int[] status) {
    LAPACK lapack = LAPACK.getInstance();
    double[] l = grow(scratch1, 0, d * d);
    intW info = new intW(0);
    for (int i = 0; i < m; i++) {
      int gOff = g.offset + i * d * d;
      int oOff = gi.offset + i * d * d;
      if (!lowerDamped(g.data, gOff, d, epsRel[i], epsAbs, l)) {
        status[i] = cholesky(g.data, gOff, d, epsRel[i], epsAbs, l);
        if (status[i] == 0) {
          double[] x = grow(scratch2, 0, d * d);
          invertLower(l, x, d, 0, d);
          transpose(x, 0, d, d, d, l);
          for (int ab = 0, blocks = (d + 3) / 4; ab < blocks; ab++) {
            upperProductRowBlock(l, d, ab, tiles[0], gi.data, oOff);
          }
        }
        continue;
      }
      info.val = 0;
      lapack.dpotrf("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        continue;
      }
      lapack.dpotri("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        continue;
      }
      double[] o = gi.data;
      for (int x0 = 0; x0 < d; x0 += EMA_BLOCK) {
        int x1 = Math.min(d, x0 + EMA_BLOCK);
        for (int y0 = 0; y0 <= x0; y0 += EMA_BLOCK) {
          for (int x = x0; x < x1; x++) {
            for (int y = y0, e = Math.min(x + 1, y0 + EMA_BLOCK); y < e; y++) {
              double v = l[x * d + y];
              o[oOff + x * d + y] = v;
              o[oOff + y * d + x] = v;
            }
          }
        }
      }
    }
  }

  /**
   * Writes the lower triangle of sym(G) + (epsRel tr G + epsAbs) I into {@code l} (row-major d x d), as
   * {@link #cholesky} does; returns false if an entry written or the damping is not finite.
   */
  private static boolean lowerDamped(double[] g, int gOff, int d, double epsRel, double epsAbs,
      double[] l) {
    double trace = 0;
    for (int j = 0; j < d; j++) {
      trace += g[gOff + j * d + j];
    }
    double damp = epsRel * trace + epsAbs;
    double check = damp;
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < i; j++) {
        double v = 0.5 * (g[gOff + i * d + j] + g[gOff + j * d + i]);
        l[i * d + j] = v;
        check += v * 0;
      }
      double v = g[gOff + i * d + i] + damp;
      l[i * d + i] = v;
      check += v * 0;
    }
    return check == check && !Double.isInfinite(damp);
  }

  /** Column block width of the parallel triangular inverse. */
  private static final int INV_COLS = 16;

  /**
   * Cholesky factor L (lower triangle of {@code l}, row-major d x d) of sym(G) + (epsRel tr G + epsAbs) I.
   * Returns 0 or the 1-based failing pivot.
   */
  private static int cholesky(double[] g, int gOff, int d, double epsRel, double epsAbs, double[] l) {
    double trace = 0;
    for (int j = 0; j < d; j++) {
      trace += g[gOff + j * d + j];
    }
    double damp = epsRel * trace + epsAbs;
    // Lower triangle of the symmetrised, damped matrix into l.
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < i; j++) {
        l[i * d + j] = 0.5 * (g[gOff + i * d + j] + g[gOff + j * d + i]);
      }
      l[i * d + i] = g[gOff + i * d + i] + damp;
    }
    // Row-oriented, in place in the lower triangle.
    for (int j = 0; j < d; j++) {
      int rj = j * d;
      double s = l[rj + j] - dot4(l, rj, l, rj, j);
      if (!(s > 0)) {
        return j + 1;
      }
      double ljj = Math.sqrt(s);
      l[rj + j] = ljj;
      double inv = 1.0 / ljj;
      int i = j + 1;
      // Four rows per pass share each load of row j.
      for (; i + 4 <= d; i += 4) {
        int r0 = i * d;
        int r1 = r0 + d;
        int r2 = r1 + d;
        int r3 = r2 + d;
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int p = 0; p < j; p++) {
          double v = l[rj + p];
          s0 = Math.fma(l[r0 + p], v, s0);
          s1 = Math.fma(l[r1 + p], v, s1);
          s2 = Math.fma(l[r2 + p], v, s2);
          s3 = Math.fma(l[r3 + p], v, s3);
        }
        l[r0 + j] = (l[r0 + j] - s0) * inv;
        l[r1 + j] = (l[r1 + j] - s1) * inv;
        l[r2 + j] = (l[r2 + j] - s2) * inv;
        l[r3 + j] = (l[r3 + j] - s3) * inv;
      }
      for (; i < d; i++) {
        int ri = i * d;
        l[ri + j] = (l[ri + j] - dot4(l, ri, l, rj, j)) * inv;
      }
    }
    return 0;
  }

  /**
   * Columns [c0, c1) of X = L^-1 (lower triangular; entries above the diagonal set to 0), row by row:
   * X[i][q] = -(sum_{q <= p < i} L[i][p] X[p][q]) / L[i][i] for q < i, X[i][i] = 1 / L[i][i]. Column
   * ranges are independent.
   */
  private static void invertLower(double[] l, double[] x, int d, int c0, int c1) {
    for (int i = 0; i < d; i++) {
      int ri = i * d;
      Arrays.fill(x, ri + c0, ri + c1, 0.0);
      if (i < c0) {
        continue;
      }
      int p = c0;
      // Four rows of X per pass: one load and store of X[i][q] per four multiply-adds. Entries of X[p]
      // right of its diagonal are zero, so the common column range of the four rows is safe.
      for (; p + 4 <= i; p += 4) {
        double w0 = -l[ri + p];
        double w1 = -l[ri + p + 1];
        double w2 = -l[ri + p + 2];
        double w3 = -l[ri + p + 3];
        int rp0 = p * d;
        int rp1 = rp0 + d;
        int rp2 = rp1 + d;
        int rp3 = rp2 + d;
        for (int q = c0, e = Math.min(c1, p + 4); q < e; q++) {
          double t = Math.fma(w0, x[rp0 + q], x[ri + q]);
          t = Math.fma(w1, x[rp1 + q], t);
          t = Math.fma(w2, x[rp2 + q], t);
          x[ri + q] = Math.fma(w3, x[rp3 + q], t);
        }
      }
      for (; p < i; p++) {
        double w = -l[ri + p];
        int rp = p * d;
        for (int q = c0, e = Math.min(c1, p + 1); q < e; q++) {
          x[ri + q] = Math.fma(w, x[rp + q], x[ri + q]);
        }
      }
      double inv = 1.0 / l[ri + i];
      for (int q = c0, e = Math.min(c1, i); q < e; q++) {
        x[ri + q] *= inv;
      }
      if (i < c1) {
        x[ri + i] = inv;
      }
    }
  }

  /**
   * Row block {@code ab} of out = X^T X given XT = X^T (upper triangular, row-major): out[a][b] = out[b][a]
   * = sum_{p >= b} XT[a][p] XT[b][p] for b >= a.
   */
  private static void upperProductRowBlock(double[] xt, int d, int ab, double[] tile, double[] out,
      int oOff) {
    int a0 = ab * 4;
    int na = Math.min(4, d - a0);
    for (int b0 = a0; b0 < d; b0 += 4) {
      int nb = Math.min(4, d - b0);
      dotTile(xt, a0 * d + b0, d, na, xt, b0 * d + b0, d, nb, d - b0, tile);
      for (int r = 0; r < na; r++) {
        int a = a0 + r;
        for (int q = 0; q < nb; q++) {
          int b = b0 + q;
          if (b >= a) {
            double v = tile[r * 4 + q];
            out[oOff + a * d + b] = v;
            out[oOff + b * d + a] = v;
          }
        }
      }
    }
  }

  /** sum_{p < n} x[xo + p] * y[yo + p] with four partial sums. */
  private static double dot4(double[] x, int xo, double[] y, int yo, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int p = 0;
    for (; p + 4 <= n; p += 4) {
      s0 = Math.fma(x[xo + p], y[yo + p], s0);
      s1 = Math.fma(x[xo + p + 1], y[yo + p + 1], s1);
      s2 = Math.fma(x[xo + p + 2], y[yo + p + 2], s2);
      s3 = Math.fma(x[xo + p + 3], y[yo + p + 3], s3);
    }
    for (; p < n; p++) {
      s0 = Math.fma(x[xo + p], y[yo + p], s0);
    }
    return (s0 + s1) + (s2 + s3);
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    String op = "perNeuronPrecondition";
    CpuArray Gi = arr(ginv, op, "ginv");
    CpuArray Gr = arr(grad, op, "grad");
    CpuArray O = arr(out, op, "out");
    int d = Gr.rows();
    int m = Gr.cols();
    int gm = stackCount(op, "ginv", Gi, d);
    if (gm != m) {
      throw bad(op, "ginv", Gi, "must be " + m + " x " + d + " x " + d + " (one matrix per column of grad "
          + shp(Gr) + ")");
    }
    sameShape(op, "grad", Gr, "out", O);
    parallelBlocks(m, (long) m * d * d, (i, slot) -> {
      double[] xv = grow(scratch3, slot, d);
      double[] gd = Gi.data;
      {
        for (int p = 0; p < d; p++) {
          xv[p] = Gr.data[Gr.offset + p * m + i];
        }
        int base = Gi.offset + i * d * d;
        for (int a = 0; a < d; a++) {
          double y = dot4(gd, base + a * d, xv, 0, d);
          int o = O.offset + a * m + i;
          O.data[o] = beta == 0 ? alpha * y : alpha * y + beta * O.data[o];
        }
      }
    });
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (pool != null) {
      pool.shutdown();
      try {
        pool.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
