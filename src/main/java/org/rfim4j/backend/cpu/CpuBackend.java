package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.ActivationMath;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * The float64 reference backend: arrays are {@code double[]} slices on the Java heap, every operation is
 * computed in double precision and finishes before the method returns ({@link #synchronize} is a no-op).
 *
 * <p>GEMM-shaped work (gemm, the metric updates, the batched inverse and the preconditioning) runs in
 * blocked Java loops that the JIT vectorises, split over a small private fork-join pool (one worker per
 * available processor) when the work is large enough to pay for the hand-off. {@code gemm} can instead
 * use netlib BLAS ({@code dev.ludovic.netlib}; native when a system BLAS is installed) by constructing the
 * backend with {@link GemmPath#NETLIB} or setting the system property {@code rfim4j.cpu.gemm=netlib}.
 *
 * <p>One instance is meant to be used from one thread at a time: scratch buffers are reused across calls.
 * Results are deterministic: the split across threads never changes the order of any floating-point sum.
 */
public final class CpuBackend implements Backend {

  /** Which GEMM implementation {@link #gemm} uses. */
  public enum GemmPath {
    /** Blocked row-major Java loops (the default: faster than netlib's Java BLAS at the paper's shapes). */
    JAVA,
    /** {@code dev.ludovic.netlib.blas.BLAS.getInstance().dgemm}, native if a system BLAS is present. */
    NETLIB
  }

  /** Below this many multiply-adds an operation runs on the calling thread. */
  private static final long PARALLEL_FLOPS = 1L << 17;

  private final int threads;
  private final ForkJoinPool pool;
  private final GemmPath gemmPath;
  private final AtomicInteger live = new AtomicInteger();
  private volatile boolean closed;

  // Scratch buffers, reused across calls; index = chunk (thread slot).
  private final double[][] scratch1;
  private final double[][] scratch2;
  private final double[][] scratch3;
  private double[] shared1 = new double[0];

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
    this.pool = threads > 1 ? new ForkJoinPool(threads - 1) : null;
    this.scratch1 = new double[threads][];
    this.scratch2 = new double[threads][];
    this.scratch3 = new double[threads][];
    for (int i = 0; i < threads; i++) {
      scratch1[i] = new double[0];
      scratch2[i] = new double[0];
      scratch3[i] = new double[0];
    }
  }

  private static GemmPath defaultGemmPath() {
    String p = System.getProperty("rfim4j.cpu.gemm", "java").trim().toUpperCase(Locale.ROOT);
    try {
      return GemmPath.valueOf(p);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "system property rfim4j.cpu.gemm must be 'java' or 'netlib', got '" + p + "'", e);
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

  /** A body run once per chunk: {@code chunk} in [0, chunks). */
  private interface ChunkBody {
    void run(int chunk, int chunks);
  }

  private int chunksFor(int n, long flops) {
    if (pool == null || flops < PARALLEL_FLOPS || n < 2) {
      return 1;
    }
    return Math.min(threads, n);
  }

  /** Runs {@code body} for chunks 0..chunks-1, chunk 0 on the calling thread. */
  private void runChunks(int chunks, ChunkBody body) {
    if (chunks <= 1) {
      body.run(0, 1);
      return;
    }
    ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
    for (int c = 1; c < chunks; c++) {
      final int cc = c;
      tasks[c - 1] = pool.submit(() -> body.run(cc, chunks));
    }
    Throwable failure = null;
    try {
      body.run(0, chunks);
    } catch (RuntimeException | Error e) {
      failure = e;
    }
    for (ForkJoinTask<?> t : tasks) {
      try {
        t.join();
      } catch (RuntimeException | Error e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    if (failure instanceof RuntimeException) {
      throw (RuntimeException) failure;
    } else if (failure != null) {
      throw (Error) failure;
    }
  }

  private static int lo(int n, int chunk, int chunks) {
    return (int) ((long) n * chunk / chunks);
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
    // Java path: make op(B) available as a row-major k x n matrix (transpose into scratch if needed).
    final double[] bn;
    final int bnOff;
    final int ldbn;
    if (transB) {
      bn = growShared(k * n);
      for (int j = 0; j < n; j++) {
        int src = bOff + j * ldb;
        for (int p = 0; p < k; p++) {
          bn[p * n + j] = b[src + p];
        }
      }
      bnOff = 0;
      ldbn = n;
    } else {
      bn = b;
      bnOff = bOff;
      ldbn = ldb;
    }
    int chunks = chunksFor(m, (long) m * n * k);
    runChunks(chunks, (chunk, cs) -> gemmRows(lo(m, chunk, cs), lo(m, chunk + 1, cs), transA, n, k, alpha,
        a, aOff, lda, bn, bnOff, ldbn, beta, c, cOff, ldc));
  }

  /** Rows [i0, i1) of C = alpha op(A) Bn + beta C, with Bn row-major k x n. */
  private static void gemmRows(int i0, int i1, boolean transA, int n, int k, double alpha, double[] a,
      int aOff, int lda, double[] bn, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
    // a(i, p) = transA ? a[p * lda + i] : a[i * lda + p]
    int sI = transA ? 1 : lda;
    int sP = transA ? lda : 1;
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
      int c0 = cOff + i * ldc;
      int c1 = c0 + ldc;
      int c2 = c1 + ldc;
      int c3 = c2 + ldc;
      scaleRow(c, c0, n, beta);
      scaleRow(c, c1, n, beta);
      scaleRow(c, c2, n, beta);
      scaleRow(c, c3, n, beta);
      int ai = aOff + i * sI;
      for (int p = 0; p < k; p++) {
        int ap = ai + p * sP;
        double w0 = alpha * a[ap];
        double w1 = alpha * a[ap + sI];
        double w2 = alpha * a[ap + 2 * sI];
        double w3 = alpha * a[ap + 3 * sI];
        int bp = bOff + p * ldb;
        for (int j = 0; j < n; j++) {
          double bv = bn[bp + j];
          c[c0 + j] += w0 * bv;
          c[c1 + j] += w1 * bv;
          c[c2 + j] += w2 * bv;
          c[c3 + j] += w3 * bv;
        }
      }
    }
    for (; i < i1; i++) {
      int c0 = cOff + i * ldc;
      scaleRow(c, c0, n, beta);
      int ai = aOff + i * sI;
      for (int p = 0; p < k; p++) {
        double w0 = alpha * a[ai + p * sP];
        int bp = bOff + p * ldb;
        for (int j = 0; j < n; j++) {
          c[c0 + j] += w0 * bn[bp + j];
        }
      }
    }
  }

  private static void scaleRow(double[] c, int off, int n, double beta) {
    if (beta == 0) {
      Arrays.fill(c, off, off + n, 0.0);
    } else if (beta != 1) {
      for (int j = 0; j < n; j++) {
        c[off + j] *= beta;
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
    for (int i = 0; i < r; i++) {
      int row = Z.offset + i * n;
      for (int j = 0; j < n; j++) {
        zd[row + j] += bd[Bi.offset + j];
      }
    }
    if (H != null) {
      double[] hd = H.data;
      for (int i = 0; i < Z.size; i++) {
        hd[H.offset + i] = ActivationMath.f(act, zd[Z.offset + i]);
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
    for (int i = 0; i < A.size; i++) {
      DA.data[DA.offset + i] = DH.data[DH.offset + i] * ActivationMath.df(act, A.data[A.offset + i]);
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
    for (int i = 0; i < P.size; i++) {
      double g = G.data[G.offset + i];
      double mi = beta1 * M.data[M.offset + i] + (1 - beta1) * g;
      double vi = beta2 * V.data[V.offset + i] + (1 - beta2) * g * g;
      M.data[M.offset + i] = mi;
      V.data[V.offset + i] = vi;
      P.data[P.offset + i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
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

  /** Copies h (B x n) into a B x (n+1) buffer with a trailing column of ones. */
  private double[] augment(CpuArray h) {
    int b = h.rows();
    int n = h.cols();
    int d = n + 1;
    double[] ht = growShared(b * d);
    for (int k = 0; k < b; k++) {
      System.arraycopy(h.data, h.offset + k * n, ht, k * d, n);
      ht[k * d + n] = 1.0;
    }
    return ht;
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
    double[] ht = augment(H);
    double keep = 1 - lambda;
    double add = lambda / b;
    int blocks = (d + 3) / 4;
    int chunks = chunksFor(blocks, (long) b * d * d / 2);
    runChunks(chunks, (chunk, cs) -> {
      double[] rows = grow(scratch1, chunk, 4 * d);
      for (int blk = chunk; blk < blocks; blk += cs) {
        gramRows(blk * 4, Math.min(4, d - blk * 4), ht, b, d, null, 0, 0, rows);
        emaRows(blk * 4, Math.min(4, d - blk * 4), d, rows, keep, add, G.data, G.offset);
      }
    });
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
    double[] ht = augment(H);
    double keep = 1 - lambda;
    double add = lambda / b;
    int chunks = chunksFor(m, (long) m * b * d * d / 2);
    runChunks(chunks, (chunk, cs) -> {
      double[] rows = grow(scratch1, chunk, 4 * d);
      for (int i = lo(m, chunk, cs), e = lo(m, chunk + 1, cs); i < e; i++) {
        int gOff = G.offset + i * d * d;
        for (int a0 = 0; a0 < d; a0 += 4) {
          int nr = Math.min(4, d - a0);
          gramRows(a0, nr, ht, b, d, N.data, N.offset + i, m, rows);
          emaRows(a0, nr, d, rows, keep, add, G.data, gOff);
        }
      }
    });
  }

  /**
   * Rows a0..a0+nr-1 (nr <= 4), columns b >= a0, of M = sum_k w_k ht_k ht_k^T with w_k = nu[nuOff + k *
   * nuStride] (or 1 when nu is null), into rows[r * d + b].
   */
  private static void gramRows(int a0, int nr, double[] ht, int bsz, int d, double[] nu, int nuOff,
      int nuStride, double[] rows) {
    Arrays.fill(rows, 0, 4 * d, 0.0);
    int r0 = 0;
    int r1 = d;
    int r2 = 2 * d;
    int r3 = 3 * d;
    for (int k = 0; k < bsz; k++) {
      int hk = k * d;
      double wk = nu == null ? 1.0 : nu[nuOff + k * nuStride];
      if (nr == 4) {
        double w0 = wk * ht[hk + a0];
        double w1 = wk * ht[hk + a0 + 1];
        double w2 = wk * ht[hk + a0 + 2];
        double w3 = wk * ht[hk + a0 + 3];
        if (w0 == 0 && w1 == 0 && w2 == 0 && w3 == 0) {
          continue; // frequent with ReLU inputs
        }
        for (int j = a0; j < d; j++) {
          double x = ht[hk + j];
          rows[r0 + j] += w0 * x;
          rows[r1 + j] += w1 * x;
          rows[r2 + j] += w2 * x;
          rows[r3 + j] += w3 * x;
        }
      } else {
        for (int r = 0; r < nr; r++) {
          double w = wk * ht[hk + a0 + r];
          if (w == 0) {
            continue;
          }
          int ro = r * d;
          for (int j = a0 + r; j < d; j++) {
            rows[ro + j] += w * ht[hk + j];
          }
        }
      }
    }
  }

  /** G[a][b] and G[b][a] = keep * G + add * rows for a in a0..a0+nr-1, b >= a. */
  private static void emaRows(int a0, int nr, int d, double[] rows, double keep, double add, double[] g,
      int gOff) {
    for (int r = 0; r < nr; r++) {
      int a = a0 + r;
      int ro = r * d;
      int ga = gOff + a * d;
      g[ga + a] = keep * g[ga + a] + add * rows[ro + a];
      for (int j = a + 1; j < d; j++) {
        double v = add * rows[ro + j];
        g[ga + j] = keep * g[ga + j] + v;
        int gb = gOff + j * d + a;
        g[gb] = keep * g[gb] + v;
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
    int chunks = chunksFor(m, (long) m * d * d * d / 2);
    runChunks(chunks, (chunk, cs) -> {
      double[] l = grow(scratch1, chunk, d * d);
      double[] x = grow(scratch2, chunk, d * d);
      for (int i = lo(m, chunk, cs), e = lo(m, chunk + 1, cs); i < e; i++) {
        status[i] = invertOne(G.data, G.offset + i * d * d, d, epsRel[i], epsAbs, l, x, Gi.data,
            Gi.offset + i * d * d);
      }
    });
    return status;
  }

  /**
   * Inverts one matrix: L L^T = sym(G) + (epsRel tr G + epsAbs) I, then G^-1 = L^-T L^-1. Returns 0 or the
   * 1-based failing pivot; on failure {@code out} is not written.
   */
  private static int invertOne(double[] g, int gOff, int d, double epsRel, double epsAbs, double[] l,
      double[] x, double[] out, int oOff) {
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
    // Cholesky (row-oriented, in place in the lower triangle).
    for (int j = 0; j < d; j++) {
      int rj = j * d;
      double s = l[rj + j];
      for (int p = 0; p < j; p++) {
        s -= l[rj + p] * l[rj + p];
      }
      if (!(s > 0)) {
        return j + 1;
      }
      double ljj = Math.sqrt(s);
      l[rj + j] = ljj;
      double inv = 1.0 / ljj;
      for (int i = j + 1; i < d; i++) {
        int ri = i * d;
        double t = l[ri + j];
        for (int p = 0; p < j; p++) {
          t -= l[ri + p] * l[rj + p];
        }
        l[ri + j] = t * inv;
      }
    }
    // X = L^-1 (lower triangular), row by row: X[i][:] = -(sum_{p<i} L[i][p] X[p][:]) / L[i][i].
    for (int i = 0; i < d; i++) {
      int ri = i * d;
      Arrays.fill(x, ri, ri + d, 0.0);
      for (int p = 0; p < i; p++) {
        double w = l[ri + p];
        int rp = p * d;
        for (int q = 0; q <= p; q++) {
          x[ri + q] -= w * x[rp + q];
        }
      }
      double inv = 1.0 / l[ri + i];
      for (int q = 0; q < i; q++) {
        x[ri + q] *= inv;
      }
      x[ri + i] = inv;
    }
    // out = X^T X: out[a][b] = sum_{p >= max(a,b)} X[p][a] X[p][b]; upper triangle then mirror.
    for (int a = 0; a < d; a++) {
      Arrays.fill(out, oOff + a * d, oOff + a * d + d, 0.0);
    }
    for (int p = 0; p < d; p++) {
      int rp = p * d;
      for (int a = 0; a <= p; a++) {
        double w = x[rp + a];
        int oa = oOff + a * d;
        for (int q = a; q <= p; q++) {
          out[oa + q] += w * x[rp + q];
        }
      }
    }
    for (int a = 0; a < d; a++) {
      for (int q = a + 1; q < d; q++) {
        out[oOff + q * d + a] = out[oOff + a * d + q];
      }
    }
    return 0;
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
    int chunks = chunksFor(m, (long) m * d * d);
    runChunks(chunks, (chunk, cs) -> {
      double[] xv = grow(scratch3, chunk, d);
      double[] gd = Gi.data;
      for (int i = lo(m, chunk, cs), e = lo(m, chunk + 1, cs); i < e; i++) {
        for (int p = 0; p < d; p++) {
          xv[p] = Gr.data[Gr.offset + p * m + i];
        }
        int base = Gi.offset + i * d * d;
        for (int a = 0; a < d; a++) {
          int ra = base + a * d;
          double s0 = 0;
          double s1 = 0;
          double s2 = 0;
          double s3 = 0;
          int p = 0;
          for (; p + 4 <= d; p += 4) {
            s0 += gd[ra + p] * xv[p];
            s1 += gd[ra + p + 1] * xv[p + 1];
            s2 += gd[ra + p + 2] * xv[p + 2];
            s3 += gd[ra + p + 3] * xv[p + 3];
          }
          for (; p < d; p++) {
            s0 += gd[ra + p] * xv[p];
          }
          double y = (s0 + s1) + (s2 + s3);
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
