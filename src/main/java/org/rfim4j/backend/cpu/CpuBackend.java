package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.CpuArgs.bad;
import static org.rfim4j.backend.cpu.CpuArgs.gatherArgs;
import static org.rfim4j.backend.cpu.CpuArgs.gemmArgs;
import static org.rfim4j.backend.cpu.CpuArgs.inverseStack;
import static org.rfim4j.backend.cpu.CpuArgs.perNeuronMetricArgs;
import static org.rfim4j.backend.cpu.CpuArgs.preconditionArgs;
import static org.rfim4j.backend.cpu.CpuArgs.refreshArgs;
import static org.rfim4j.backend.cpu.CpuArgs.sharedMetricArgs;
import static org.rfim4j.backend.cpu.CpuArgs.notNull;
import static org.rfim4j.backend.cpu.CpuArgs.softmaxArgs;
import static org.rfim4j.backend.cpu.CpuArgs.sameShape;
import static org.rfim4j.backend.cpu.CpuArgs.sameSize;
import static org.rfim4j.backend.cpu.CpuArgs.shp;
import static org.rfim4j.backend.cpu.CpuArgs.stackCount;
import static org.rfim4j.backend.cpu.CpuArgs.vectorOf;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * The float64 reference backend: arrays are {@code double[]} slices on the Java heap, every operation is
 * computed in double precision and finishes before the method returns ({@link #synchronize} is a no-op).
 *
 * <p>GEMM-shaped work (gemm, the metric updates, the batched inverse and the preconditioning) runs in
 * Java kernels: operands are packed so that the summation index is contiguous and 4 x 4 output tiles are
 * accumulated in registers; the metric updates compute only the upper triangle of each Gram matrix and
 * mirror it. Work is split over a small private pool of worker threads (the caller and one more thread
 * per further processor) when it is large enough to pay for the hand-off. {@code gemm} uses netlib BLAS
 * ({@code dev.ludovic.netlib}) instead when netlib finds a native BLAS; see {@link #defaultGemmPath()}.
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

  private final GemmPath gemmPath;
  /** Native BLAS for the metric updates (NETLIB path and netlib loaded a native BLAS). */
  private final boolean nativeBlas;
  /** Native LAPACK for the batched inverse (NETLIB path and netlib loaded a native LAPACK). */
  private final boolean nativeLapack;
  private final AtomicInteger live = new AtomicInteger();
  private volatile boolean closed;

  private final ParallelBlocks parallel;
  /** Scratch buffers, reused across calls. */
  private final Scratch scratch;
  private final SplitBlas splitBlas;
  private final GemmKernels gemmKernels;
  private final MetricUpdates metricUpdates;
  private final CholeskyInverse inverse;
  private final Preconditioner preconditioner;

  /** A backend with one worker per available processor and the default GEMM path. */
  public CpuBackend() {
    this(Runtime.getRuntime().availableProcessors(), defaultGemmPath());
  }

  /**
   * @param threads number of threads used by the parallel operations (1 = run on the caller only)
   * @param gemmPath the GEMM implementation
   */
  public CpuBackend(int threads, GemmPath gemmPath) {
    this(threads, gemmPath, SplitBlas.blasSingleThreaded());
  }

  /**
   * @param split split large native BLAS calls over the threads (see {@link #splitsBlas()}); the public
   *     constructors take it from {@code OPENBLAS_NUM_THREADS} and {@code rfim4j.cpu.splitBlas}
   */
  CpuBackend(int threads, GemmPath gemmPath, boolean split) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    if (gemmPath == null) {
      throw new IllegalArgumentException("gemmPath must not be null");
    }
    this.gemmPath = gemmPath;
    this.nativeBlas = gemmPath == GemmPath.NETLIB && NetlibNative.NATIVE;
    this.nativeLapack = gemmPath == GemmPath.NETLIB && NetlibNative.NATIVE_LAPACK;
    this.parallel = new ParallelBlocks(threads);
    this.scratch = new Scratch(threads);
    this.splitBlas = new SplitBlas(parallel, nativeBlas && split);
    this.gemmKernels = new GemmKernels(gemmPath, parallel, scratch, splitBlas);
    this.metricUpdates = new MetricUpdates(nativeBlas, parallel, scratch, splitBlas);
    this.inverse = new CholeskyInverse(nativeLapack, parallel, scratch, splitBlas.splits());
    this.preconditioner = new Preconditioner(parallel, scratch);
  }

  /**
   * The default GEMM path: the system property {@code rfim4j.cpu.gemm} ({@code java} or {@code netlib})
   * when set; otherwise netlib when it found a native BLAS (such as OpenBLAS) and the Java kernels when
   * netlib would fall back to its own Java implementation, which measured slower.
   */
  public static GemmPath defaultGemmPath() {
    String prop = System.getProperty("rfim4j.cpu.gemm");
    if (prop == null || prop.isBlank()) {
      return NetlibNative.NATIVE ? GemmPath.NETLIB : GemmPath.JAVA;
    }
    String p = prop.trim().toUpperCase(Locale.ROOT);
    try {
      return GemmPath.valueOf(p);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "system property rfim4j.cpu.gemm must be 'java' or 'netlib', got '" + p + "'", e);
    }
  }

  /**
   * {@code cpu (native BLAS, 2 threads)}, {@code cpu (native BLAS split over threads, 2 threads)} or
   * {@code cpu (Java kernels, 2 threads)}: what this instance uses.
   */
  @Override
  public String name() {
    boolean nativeBlas = gemmPath == GemmPath.NETLIB && NetlibNative.NATIVE;
    return "cpu (" + (nativeBlas ? (splitsBlas() ? "native BLAS split over threads" : "native BLAS")
        : gemmPath == GemmPath.NETLIB ? "netlib Java BLAS" : "Java kernels")
        + ", " + threads() + (threads() == 1 ? " thread)" : " threads)");
  }

  @Override
  public int precisionBits() {
    return 64;
  }

  /** The number of threads used by parallel operations. */
  public int threads() {
    return parallel.threads();
  }

  /** The GEMM implementation in use. */
  public GemmPath gemmPath() {
    return gemmPath;
  }

  /** Whether the metric updates run on a native BLAS (the NETLIB path with a native BLAS loaded). */
  public boolean nativeMetricUpdates() {
    return nativeBlas;
  }

  /**
   * Whether large native BLAS calls (GEMMs, the metric updates' GEMMs) are split into blocks
   * run on this backend's threads, and the batched inverse's LAPACK calls run one matrix per thread: the
   * case when the BLAS itself is single-threaded, {@code OPENBLAS_NUM_THREADS=1} (which the {@code
   * ./rfim4j} launcher sets unless told otherwise) or the system property {@code
   * rfim4j.cpu.splitBlas=true}. With a multi-threaded BLAS every call goes to it whole.
   */
  public boolean splitsBlas() {
    return splitBlas.splits();
  }

  /** Whether {@link #batchedInverse} factorises with a native LAPACK (NETLIB path, native LAPACK loaded). */
  public boolean nativeInverse() {
    return nativeLapack;
  }

  // =============================================================== validation

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CpuBackend is closed");
    }
  }

  private CpuArray arr(DeviceArray a, String op, String name) {
    return CpuArgs.arr(this, a, op, name);
  }

  /** The upload target, checked against the length of src ({@code srcNull}: src is null). */
  private CpuArray uploadDst(DeviceArray dst, boolean srcNull, int srcLength) {
    CpuArray d = arr(dst, "upload", "dst");
    if (srcNull || srcLength != d.size) {
      throw new IllegalArgumentException("upload: src has length " + (srcNull ? "null" : srcLength)
          + " but dst " + shp(d) + " has " + d.size + " elements");
    }
    return d;
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
    CpuArray d = uploadDst(dst, src == null, src == null ? 0 : src.length);
    if (roundUploads) {
      for (int i = 0; i < src.length; i++) {
        d.data[d.offset + i] = (float) src[i];
      }
      return;
    }
    System.arraycopy(src, 0, d.data, d.offset, d.size);
  }

  /**
   * Diagnostic ({@code -Drfim4j.cpu.roundUploads=float32}): every value uploaded from a {@code double[]} is
   * first rounded to float32, so this float64 engine starts from exactly what the float32 engine stores (the
   * initial weights, above all; datasets arrive as float[] and are exact either way) and what remains between
   * the two is float32 arithmetic. {@code benchmarks/precision-spread} uses it to separate the two.
   */
  private final boolean roundUploads = roundUploads(System.getProperty("rfim4j.cpu.roundUploads"));

  static boolean roundUploads(String prop) {
    if (prop == null || prop.isBlank() || prop.trim().equals("none")) {
      return false;
    }
    if (prop.trim().equals("float32")) {
      return true;
    }
    throw new IllegalArgumentException(
        "system property rfim4j.cpu.roundUploads must be 'float32' or 'none', got '" + prop.trim() + "'");
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    CpuArray d = uploadDst(dst, src == null, src == null ? 0 : src.length);
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
    int k = gemmArgs(transA, transB, A, B, C);
    int m = C.rows();
    int n = C.cols();
    gemmKernels.gemmRaw(transA, transB, m, n, k, alpha, A.data, A.offset, A.cols(), B.data, B.offset,
        B.cols(), beta, C.data, C.offset, n);
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    CpuArray X = arr(x, "axpy", "x");
    CpuArray Y = arr(y, "axpy", "y");
    sameSize("axpy", "x", X, "y", Y);
    VectorOps.axpy(alpha, X, Y);
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    CpuArray X = arr(x, "scale", "x");
    VectorOps.scale(alpha, X);
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    CpuArray X = arr(x, "dot", "x");
    CpuArray Y = arr(y, "dot", "y");
    sameSize("dot", "x", X, "y", Y);
    return VectorOps.dot(X, Y);
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    CpuArray A = arr(a, "columnSums", "a");
    CpuArray O = arr(out, "columnSums", "out");
    int n = A.cols();
    vectorOf("columnSums", "out", O, n, "a.cols() of a " + shp(A));
    VectorOps.columnSums(A, alpha, beta, O, scratch.sharedA(n));
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    CpuArray S = arr(src, "gatherRows", "src");
    CpuArray I = arr(indices, "gatherRows", "indices");
    CpuArray D = arr(dst, "gatherRows", "dst");
    gatherArgs(S, I, offset, D);
    int rows = D.rows();
    if ((long) rows * S.cols() >= GATHER_PARALLEL && parallel.hasPool()) {
      // Rows scattered over a large dataset: the copy waits on memory; two threads keep twice as many
      // cache misses in flight.
      int parts = Math.min(parallel.threads(), rows);
      parallel.run(parts, Long.MAX_VALUE, (p, slot) ->
          VectorOps.gatherRows(S, I, offset, D, rows * p / parts, rows * (p + 1) / parts));
    } else {
      VectorOps.gatherRows(S, I, offset, D, 0, rows);
    }
  }

  /** Gathers of at least this many elements are split over the threads. */
  static final long GATHER_PARALLEL = 1L << 14;

  // =============================================================== layers

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    CpuArray Z = arr(z, "biasActivationForward", "z");
    CpuArray Bi = arr(bias, "biasActivationForward", "bias");
    notNull("biasActivationForward", "act", act);
    int n = Z.cols();
    vectorOf("biasActivationForward", "bias", Bi, n, "z.cols() of z " + shp(Z));
    CpuArray H = null;
    if (h != null) {
      H = arr(h, "biasActivationForward", "h");
      sameShape("biasActivationForward", "z", Z, "h", H);
    }
    LayerOps.biasActivationForward(Z, Bi, act, H);
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    notNull("activationBackward", "act", act);
    CpuArray A = arr(a, "activationBackward", "a");
    CpuArray DH = arr(dH, "activationBackward", "dH");
    CpuArray DA = arr(dA, "activationBackward", "dA");
    sameShape("activationBackward", "a", A, "dH", DH);
    sameShape("activationBackward", "a", A, "dA", DA);
    LayerOps.activationBackward(act, A, DH, DA);
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
    softmaxArgs(op, L, Y, P, G, S);
    LayerOps.softmaxCrossEntropy(L, Y, P, G, scale, S);
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
    LayerOps.batchNormForward(X, Ga, Be, Rm, Rv, momentum, eps, training, Me, Is, Yo);
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
    int n = X.cols();
    String w = "one per column of x " + shp(X);
    sameShape(op, "x", X, "dY", DY);
    sameShape(op, "x", X, "dX", DX);
    vectorOf(op, "gamma", Ga, n, w);
    vectorOf(op, "mean", Me, n, w);
    vectorOf(op, "invStd", Is, n, w);
    vectorOf(op, "dGamma", DG, n, w);
    vectorOf(op, "dBeta", DB, n, w);
    LayerOps.batchNormBackward(X, DY, Ga, Me, Is, DX, DG, DB);
  }

  // =============================================================== first-order optimizers

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr,
      double momentum) {
    CpuArray[] a = sgdArgs(param, grad, velocity, "sgdUpdate");
    OptimizerOps.sgd(a[0], a[1], a[2], lr, momentum);
  }

  private CpuArray[] sgdArgs(DeviceArray param, DeviceArray grad, DeviceArray velocity, String op) {
    CpuArray P = arr(param, op, "param");
    CpuArray G = arr(grad, op, "grad");
    sameSize(op, "param", P, "grad", G);
    CpuArray V = null;
    if (velocity != null) {
      V = arr(velocity, op, "velocity");
      sameSize(op, "param", P, "velocity", V);
    }
    return new CpuArray[] {P, G, V};
  }

  /**
   * All parameters in one call: every tensor is checked first (nothing is updated when one is bad), then
   * the elements are updated in chunks on the backend's threads, with the same result as one
   * {@link #sgdUpdate} per tensor.
   */
  @Override
  public void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities,
      double lr, double momentum) {
    int n = listSizes("sgdUpdateAll", params, grads, velocities == null ? null : velocities, null);
    CpuArray[][] a = tensors(n, k -> sgdArgs(params.get(k), grads.get(k),
        velocities == null ? null : velocities.get(k), "sgdUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    // Memory-bound (one multiply-add per element): threads pay only for very large models.
    parallel.run(ch.count(), elements(a) * 2L, (c, slot) -> {
      CpuArray[] t = a[ch.tensor[c]];
      OptimizerOps.sgdRange(t[0], t[1], t[2], lr, momentum, ch.from[c], ch.to[c]);
    });
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    CpuArray[] a = adamArgs(param, grad, m, v, t, "adamUpdate");
    OptimizerOps.adam(a[0], a[1], a[2], a[3], lr, beta1, beta2, eps, t);
  }

  private CpuArray[] adamArgs(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, long t,
      String op) {
    CpuArray P = arr(param, op, "param");
    CpuArray G = arr(grad, op, "grad");
    CpuArray M = arr(m, op, "m");
    CpuArray V = arr(v, op, "v");
    sameSize(op, "param", P, "grad", G);
    sameSize(op, "param", P, "m", M);
    sameSize(op, "param", P, "v", V);
    if (t < 1) {
      throw new IllegalArgumentException(op + ": step t must be >= 1 (1-based), got " + t);
    }
    return new CpuArray[] {P, G, M, V};
  }

  /**
   * All parameters in one call: every tensor is checked first (nothing is updated when one is bad), then
   * the elements are updated in chunks on the backend's threads, with the same result as one
   * {@link #adamUpdate} per tensor.
   */
  @Override
  public void adamUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> m,
      List<DeviceArray> v, double lr, double beta1, double beta2, double eps, long t) {
    int n = listSizes("adamUpdateAll", params, grads, m, v);
    CpuArray[][] a = tensors(n, k -> adamArgs(params.get(k), grads.get(k), m.get(k), v.get(k), t,
        "adamUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    parallel.run(ch.count(), elements(a) * 16L, (c, slot) -> {
      CpuArray[] x = a[ch.tensor[c]];
      OptimizerOps.adamRange(x[0], x[1], x[2], x[3], lr, beta1, beta2, eps, t, ch.from[c], ch.to[c]);
    });
  }

  /** The checked arrays of each of the n tensors of a multi-tensor update; an error names the tensor. */
  private static CpuArray[][] tensors(int n, java.util.function.IntFunction<CpuArray[]> checked) {
    CpuArray[][] a = new CpuArray[n][];
    for (int k = 0; k < n; k++) {
      try {
        a[k] = checked.apply(k);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("tensor " + k + " of " + n + ": " + e.getMessage(), e);
      }
    }
    return a;
  }

  /** The common length of the lists of a multi-tensor update (null lists are skipped). */
  private static int listSizes(String op, List<DeviceArray> params, List<DeviceArray> grads,
      List<DeviceArray> s1, List<DeviceArray> s2) {
    if (params == null || grads == null) {
      throw new IllegalArgumentException(op + ": params and grads must not be null");
    }
    int n = params.size();
    for (List<DeviceArray> l : Arrays.asList(grads, s1, s2)) {
      if (l != null && l.size() != n) {
        throw new IllegalArgumentException(op + ": the lists differ in length: " + n + " params but "
            + l.size() + " in another list");
      }
    }
    return n;
  }

  private static long elements(CpuArray[][] a) {
    long n = 0;
    for (CpuArray[] t : a) {
      n += t[0].size;
    }
    return n;
  }

  /** The last chunking, reused while the tensor sizes stay the same (no allocation per step). */
  private int[] chunkSizes = new int[0];
  private OptimizerOps.Chunks chunkCache;

  private OptimizerOps.Chunks chunks(CpuArray[][] a) {
    boolean same = chunkCache != null && chunkSizes.length == a.length;
    for (int k = 0; same && k < a.length; k++) {
      same = chunkSizes[k] == a[k][0].size;
    }
    if (!same) {
      int[] sizes = new int[a.length];
      for (int k = 0; k < a.length; k++) {
        sizes[k] = a[k][0].size;
      }
      chunkSizes = sizes;
      chunkCache = OptimizerOps.Chunks.of(sizes);
    }
    return chunkCache;
  }

  // =============================================================== RNGD

  @Override
  public void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    notNull("nuCoefficients", "act", act);
    CpuArray A = arr(a, "nuCoefficients", "a");
    CpuArray N = arr(nu, "nuCoefficients", "nu");
    sameShape("nuCoefficients", "a", A, "nu", N);
    LayerOps.nuCoefficients(act, A, omega, N);
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    CpuArray H = arr(h, "sharedMetricUpdate", "h");
    CpuArray G = arr(g, "sharedMetricUpdate", "g");
    sharedMetricArgs(H, G);
    metricUpdates.shared(H, lambda, G);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    CpuArray H = arr(h, "perNeuronMetricUpdate", "h");
    CpuArray N = arr(nu, "perNeuronMetricUpdate", "nu");
    CpuArray G = arr(g, "perNeuronMetricUpdate", "g");
    perNeuronMetricArgs(H, N, G);
    metricUpdates.perNeuron(H, N, lambda, G);
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    CpuArray G = arr(g, "addDiagonal", "g");
    int d = G.cols();
    int m = stackCount("addDiagonal", "g", G, d);
    MetricUpdates.addDiagonal(G, m, value);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    CpuArray G = arr(g, "batchedInverse", "g");
    CpuArray Gi = arr(ginv, "batchedInverse", "ginv");
    int d = G.cols();
    int m = inverseStack("batchedInverse", G, Gi);
    if (epsRel == null || epsRel.length != m) {
      throw new IllegalArgumentException("batchedInverse: epsRel has length "
          + (epsRel == null ? "null" : epsRel.length) + " but g " + shp(G) + " holds " + m + " matrices");
    }
    return inverse.invert(G, Gi, d, m, epsRel, epsAbs);
  }


  /** The A11 failure rule over host memory: no copies, the damping factors updated in place. */
  @Override
  public void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv,
      DeviceArray failures) {
    String op = "refreshInverses";
    CpuArray G = arr(g, op, "g");
    CpuArray Gi = arr(ginv, op, "ginv");
    CpuArray E = arr(epsRel, op, "epsRel");
    CpuArray F = arr(failures, op, "failures");
    int d = G.cols();
    int m = refreshArgs(op, G, Gi, E, F);
    double[] eps = Arrays.copyOfRange(E.data, E.offset, E.offset + m);
    int[] status = inverse.invert(G, Gi, d, m, eps, epsAbs);
    for (int i = 0; i < m; i++) {
      if (status[i] != 0) {
        E.data[E.offset + i] = eps[i] > 0 ? 2 * eps[i] : 1e-8;
        F.data[F.offset] += 1;
      }
    }
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    String op = "perNeuronPrecondition";
    CpuArray Gi = arr(ginv, op, "ginv");
    CpuArray Gr = arr(grad, op, "grad");
    CpuArray O = arr(out, op, "out");
    preconditionArgs(op, Gi, Gr, O);
    preconditioner.apply(Gi, Gr, alpha, beta, O);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    parallel.shutdown();
  }
}
