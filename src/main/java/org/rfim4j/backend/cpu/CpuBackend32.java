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
import org.rfim4j.backend.cpu.CpuBackend.GemmPath;

/**
 * The float32 CPU engine: arrays are {@code float[]} slices on the Java heap, and every operation
 * finishes before the method returns ({@link #synchronize} is a no-op). It mirrors the float64 {@link
 * CpuBackend} (same argument checks, threads, GEMM paths and kernels' structure, one class per concern:
 * {@code GemmKernels32}, {@code MetricUpdates32}, {@code CholeskyInverse32}, {@code Preconditioner32},
 * {@code VectorOps32}, {@code LayerOps32}, {@code OptimizerOps32}) and shares {@code CpuArgs}, {@code
 * ParallelBlocks} and {@code SplitBlas} with it.
 *
 * <p>Numerics: {@link #upload(DeviceArray, double[])} rounds to float, {@link #download} widens. GEMM-shaped
 * work (gemm, the Gram products of the metric updates, the Cholesky factorisation and inverse, the per-neuron
 * preconditioning) runs in float32: netlib's {@code sgemm}, {@code sgemv}, {@code spotrf} and
 * {@code spotri} when a native BLAS and LAPACK load (the default then), otherwise the Java GEMM kernel (float
 * fused multiply-adds in 4 x 4 register tiles), Java dot products accumulated in double, and netlib's Java
 * LAPACK. axpy, scale, the SGD and Adam updates and the metrics' moving averages run in float arithmetic
 * (fused multiply-adds, scalar factors rounded to float once: loops that C2 vectorises). The layer operations
 * are evaluated in double from their float inputs and rounded once, and the reductions ({@link #dot}, column
 * sums, the softmax normaliser and loss, batch-norm statistics, traces and damping) accumulate in double. The
 * contract tolerances derived from this are in the test class {@code Float32Tolerances}; speed in {@code
 * docs/cpu-performance.md}, RNGD in float32 in {@code docs/rngd.md}.
 *
 * <p>One instance is meant to be used from one thread at a time. Results are deterministic for a given
 * thread count and BLAS: the split across threads never changes the order of a sum.
 */
public final class CpuBackend32 implements Backend {

  private final GemmPath gemmPath;
  /** Native BLAS for the metric updates (NETLIB path and netlib loaded a native BLAS). */
  private final boolean nativeBlas;
  /** Native LAPACK for the batched inverse (NETLIB path and netlib loaded a native LAPACK). */
  private final boolean nativeLapack;
  private final AtomicInteger live = new AtomicInteger();
  private volatile boolean closed;

  private final ParallelBlocks parallel;
  /** Scratch buffers, reused across calls. */
  private final Scratch32 scratch;
  private final SplitBlas splitBlas;
  private final GemmKernels32 gemmKernels;
  private final MetricUpdates32 metricUpdates;
  private final CholeskyInverse32 inverse;
  private final Preconditioner32 preconditioner;

  /** A backend with one worker per available processor and the default GEMM path. */
  public CpuBackend32() {
    this(Runtime.getRuntime().availableProcessors(), CpuBackend.defaultGemmPath());
  }

  /**
   * @param threads number of threads used by the parallel operations (1 = run on the caller only)
   * @param gemmPath the GEMM implementation
   */
  public CpuBackend32(int threads, GemmPath gemmPath) {
    this(threads, gemmPath, SplitBlas.blasSingleThreaded());
  }

  /**
   * @param split split large native BLAS calls over the threads (see {@link #splitsBlas()}); the public
   *     constructors take it from {@code OPENBLAS_NUM_THREADS} and {@code rfim4j.cpu.splitBlas}
   */
  CpuBackend32(int threads, GemmPath gemmPath, boolean split) {
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
    this.scratch = new Scratch32(threads);
    this.splitBlas = new SplitBlas(parallel, nativeBlas && split);
    this.gemmKernels = new GemmKernels32(gemmPath, parallel, scratch, splitBlas);
    this.metricUpdates = new MetricUpdates32(gemmKernels, parallel, scratch, splitBlas);
    this.inverse = new CholeskyInverse32(nativeLapack, parallel, scratch, splitBlas.splits());
    this.preconditioner = new Preconditioner32(parallel, scratch, nativeBlas);
  }

  /**
   * {@code cpu float32 (native BLAS, 2 threads)} and so on, as {@link CpuBackend#name()}: what this
   * instance uses.
   */
  @Override
  public String name() {
    boolean nativeBlas = gemmPath == GemmPath.NETLIB && NetlibNative.NATIVE;
    return "cpu float32 (" + (nativeBlas ? (splitsBlas() ? "native BLAS split over threads" : "native BLAS")
        : gemmPath == GemmPath.NETLIB ? "netlib Java BLAS" : "Java kernels")
        + ", " + threads() + (threads() == 1 ? " thread)" : " threads)");
  }

  @Override
  public int precisionBits() {
    return 32;
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
      throw new IllegalStateException("CpuBackend32 is closed");
    }
  }

  private CpuArray32 arr(DeviceArray a, String op, String name) {
    return CpuArgs.arr(this, a, op, name);
  }

  /** The upload target, checked against the length of src ({@code srcNull}: src is null). */
  private CpuArray32 uploadDst(DeviceArray dst, boolean srcNull, int srcLength) {
    CpuArray32 d = arr(dst, "upload", "dst");
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
    CpuArray32 a = new CpuArray32(this, new float[(int) n], 0, shape, null);
    live.incrementAndGet();
    return a;
  }

  void released() {
    live.decrementAndGet();
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    CpuArray32 b = arr(base, "rows", "base");
    int[] s = b.shapeRef();
    if (from < 0 || to > s[0] || from >= to) {
      throw new IllegalArgumentException("rows: range [" + from + ", " + to + ") is not a non-empty range"
          + " within the leading dimension of base " + Arrays.toString(s));
    }
    int[] vs = s.clone();
    vs[0] = to - from;
    int stride = b.size / s[0];
    return new CpuArray32(this, b.data, b.offset + from * stride, vs, b.isView() ? b.rootArray() : b);
  }

  /** Rounds every element to float (round to nearest). */
  @Override
  public void upload(DeviceArray dst, double[] src) {
    CpuArray32 d = uploadDst(dst, src == null, src == null ? 0 : src.length);
    float[] x = d.data;
    int o = d.offset;
    for (int i = 0; i < src.length; i++) {
      x[o + i] = (float) src[i];
    }
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    CpuArray32 d = uploadDst(dst, src == null, src == null ? 0 : src.length);
    System.arraycopy(src, 0, d.data, d.offset, d.size);
  }

  /** Widens every element to double (exact). */
  @Override
  public double[] download(DeviceArray src) {
    CpuArray32 s = arr(src, "download", "src");
    double[] out = new double[s.size];
    float[] x = s.data;
    int o = s.offset;
    for (int i = 0; i < out.length; i++) {
      out[i] = x[o + i];
    }
    return out;
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    CpuArray32 s = arr(src, "copy", "src");
    CpuArray32 d = arr(dst, "copy", "dst");
    sameSize("copy", "src", s, "dst", d);
    System.arraycopy(s.data, s.offset, d.data, d.offset, s.size);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    CpuArray32 d = arr(dst, "fill", "dst");
    Arrays.fill(d.data, d.offset, d.offset + d.size, (float) value);
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
    CpuArray32 A = arr(a, "gemm", "a");
    CpuArray32 B = arr(b, "gemm", "b");
    CpuArray32 C = arr(c, "gemm", "c");
    int k = gemmArgs(transA, transB, A, B, C);
    int m = C.rows();
    int n = C.cols();
    gemmKernels.gemmRaw(transA, transB, m, n, k, (float) alpha, A.data, A.offset, A.cols(), B.data, B.offset,
        B.cols(), (float) beta, C.data, C.offset, n);
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    CpuArray32 X = arr(x, "axpy", "x");
    CpuArray32 Y = arr(y, "axpy", "y");
    sameSize("axpy", "x", X, "y", Y);
    VectorOps32.axpy(alpha, X, Y);
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    CpuArray32 X = arr(x, "scale", "x");
    VectorOps32.scale(alpha, X);
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    CpuArray32 X = arr(x, "dot", "x");
    CpuArray32 Y = arr(y, "dot", "y");
    sameSize("dot", "x", X, "y", Y);
    return VectorOps32.dot(X, Y);
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    CpuArray32 A = arr(a, "columnSums", "a");
    CpuArray32 O = arr(out, "columnSums", "out");
    int n = A.cols();
    vectorOf("columnSums", "out", O, n, "a.cols() of a " + shp(A));
    VectorOps32.columnSums(A, alpha, beta, O, scratch.doubles(n));
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    CpuArray32 S = arr(src, "gatherRows", "src");
    CpuArray32 I = arr(indices, "gatherRows", "indices");
    CpuArray32 D = arr(dst, "gatherRows", "dst");
    gatherArgs(S, I, offset, D);
    int rows = D.rows();
    if ((long) rows * S.cols() >= GATHER_PARALLEL && parallel.hasPool()) {
      // Rows scattered over a large dataset: the copy waits on memory; two threads keep twice as many
      // cache misses in flight.
      int parts = Math.min(parallel.threads(), rows);
      parallel.run(parts, Long.MAX_VALUE, (p, slot) ->
          VectorOps32.gatherRows(S, I, offset, D, rows * p / parts, rows * (p + 1) / parts));
    } else {
      VectorOps32.gatherRows(S, I, offset, D, 0, rows);
    }
  }

  /** Gathers of at least this many elements are split over the threads. */
  static final long GATHER_PARALLEL = 1L << 14;

  // =============================================================== layers

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    CpuArray32 Z = arr(z, "biasActivationForward", "z");
    CpuArray32 Bi = arr(bias, "biasActivationForward", "bias");
    notNull("biasActivationForward", "act", act);
    int n = Z.cols();
    vectorOf("biasActivationForward", "bias", Bi, n, "z.cols() of z " + shp(Z));
    CpuArray32 H = null;
    if (h != null) {
      H = arr(h, "biasActivationForward", "h");
      sameShape("biasActivationForward", "z", Z, "h", H);
    }
    LayerOps32.biasActivationForward(Z, Bi, act, H);
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    notNull("activationBackward", "act", act);
    CpuArray32 A = arr(a, "activationBackward", "a");
    CpuArray32 DH = arr(dH, "activationBackward", "dH");
    CpuArray32 DA = arr(dA, "activationBackward", "dA");
    sameShape("activationBackward", "a", A, "dH", DH);
    sameShape("activationBackward", "a", A, "dA", DA);
    LayerOps32.activationBackward(act, A, DH, DA);
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs,
      DeviceArray dLogits, double scale, DeviceArray stats) {
    String op = "softmaxCrossEntropy";
    CpuArray32 L = arr(logits, op, "logits");
    CpuArray32 Y = arr(labels, op, "labels");
    CpuArray32 P = arr(probs, op, "probs");
    CpuArray32 G = dLogits == null ? null : arr(dLogits, op, "dLogits");
    CpuArray32 S = arr(stats, op, "stats");
    softmaxArgs(op, L, Y, P, G, S);
    LayerOps32.softmaxCrossEntropy(L, Y, P, G, scale, S, scratch.doubles(L.cols()));
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    String op = "batchNormForward";
    CpuArray32 X = arr(x, op, "x");
    CpuArray32 Ga = arr(gamma, op, "gamma");
    CpuArray32 Be = arr(beta, op, "beta");
    CpuArray32 Rm = arr(runningMean, op, "runningMean");
    CpuArray32 Rv = arr(runningVar, op, "runningVar");
    CpuArray32 Me = mean == null && !training ? null : arr(mean, op, "mean");
    CpuArray32 Is = invStd == null && !training ? null : arr(invStd, op, "invStd");
    CpuArray32 Yo = arr(y, op, "y");
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
    LayerOps32.batchNormForward(X, Ga, Be, Rm, Rv, momentum, eps, training, Me, Is, Yo);
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    String op = "batchNormBackward";
    CpuArray32 X = arr(x, op, "x");
    CpuArray32 DY = arr(dY, op, "dY");
    CpuArray32 Ga = arr(gamma, op, "gamma");
    CpuArray32 Me = arr(mean, op, "mean");
    CpuArray32 Is = arr(invStd, op, "invStd");
    CpuArray32 DX = arr(dX, op, "dX");
    CpuArray32 DG = arr(dGamma, op, "dGamma");
    CpuArray32 DB = arr(dBeta, op, "dBeta");
    int n = X.cols();
    String w = "one per column of x " + shp(X);
    sameShape(op, "x", X, "dY", DY);
    sameShape(op, "x", X, "dX", DX);
    vectorOf(op, "gamma", Ga, n, w);
    vectorOf(op, "mean", Me, n, w);
    vectorOf(op, "invStd", Is, n, w);
    vectorOf(op, "dGamma", DG, n, w);
    vectorOf(op, "dBeta", DB, n, w);
    LayerOps32.batchNormBackward(X, DY, Ga, Me, Is, DX, DG, DB);
  }

  // =============================================================== first-order optimizers

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr,
      double momentum) {
    CpuArray32[] a = sgdArgs(param, grad, velocity, "sgdUpdate");
    OptimizerOps32.sgdRange(a[0], a[1], a[2], lr, momentum, 0, a[0].size);
  }

  private CpuArray32[] sgdArgs(DeviceArray param, DeviceArray grad, DeviceArray velocity, String op) {
    CpuArray32 P = arr(param, op, "param");
    CpuArray32 G = arr(grad, op, "grad");
    sameSize(op, "param", P, "grad", G);
    CpuArray32 V = null;
    if (velocity != null) {
      V = arr(velocity, op, "velocity");
      sameSize(op, "param", P, "velocity", V);
    }
    return new CpuArray32[] {P, G, V};
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
    CpuArray32[][] a = tensors(n, k -> sgdArgs(params.get(k), grads.get(k),
        velocities == null ? null : velocities.get(k), "sgdUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    // Memory-bound (one multiply-add per element): threads pay only for very large models.
    parallel.run(ch.count(), elements(a) * 2L, (c, slot) -> {
      CpuArray32[] t = a[ch.tensor[c]];
      OptimizerOps32.sgdRange(t[0], t[1], t[2], lr, momentum, ch.from[c], ch.to[c]);
    });
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    CpuArray32[] a = adamArgs(param, grad, m, v, t, "adamUpdate");
    OptimizerOps32.adamRange(a[0], a[1], a[2], a[3], lr, beta1, beta2, eps, t, 0, a[0].size);
  }

  private CpuArray32[] adamArgs(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, long t,
      String op) {
    CpuArray32 P = arr(param, op, "param");
    CpuArray32 G = arr(grad, op, "grad");
    CpuArray32 M = arr(m, op, "m");
    CpuArray32 V = arr(v, op, "v");
    sameSize(op, "param", P, "grad", G);
    sameSize(op, "param", P, "m", M);
    sameSize(op, "param", P, "v", V);
    if (t < 1) {
      throw new IllegalArgumentException(op + ": step t must be >= 1 (1-based), got " + t);
    }
    return new CpuArray32[] {P, G, M, V};
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
    CpuArray32[][] a = tensors(n, k -> adamArgs(params.get(k), grads.get(k), m.get(k), v.get(k), t,
        "adamUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    parallel.run(ch.count(), elements(a) * 16L, (c, slot) -> {
      CpuArray32[] x = a[ch.tensor[c]];
      OptimizerOps32.adamRange(x[0], x[1], x[2], x[3], lr, beta1, beta2, eps, t, ch.from[c], ch.to[c]);
    });
  }

  /** The checked arrays of each of the n tensors of a multi-tensor update; an error names the tensor. */
  private static CpuArray32[][] tensors(int n, java.util.function.IntFunction<CpuArray32[]> checked) {
    CpuArray32[][] a = new CpuArray32[n][];
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

  private static long elements(CpuArray32[][] a) {
    long n = 0;
    for (CpuArray32[] t : a) {
      n += t[0].size;
    }
    return n;
  }

  /** The last chunking, reused while the tensor sizes stay the same (no allocation per step). */
  private int[] chunkSizes = new int[0];
  private OptimizerOps.Chunks chunkCache;

  private OptimizerOps.Chunks chunks(CpuArray32[][] a) {
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
    CpuArray32 A = arr(a, "nuCoefficients", "a");
    CpuArray32 N = arr(nu, "nuCoefficients", "nu");
    sameShape("nuCoefficients", "a", A, "nu", N);
    LayerOps32.nuCoefficients(act, A, omega, N, scratch.doubles(A.size));
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    CpuArray32 H = arr(h, "sharedMetricUpdate", "h");
    CpuArray32 G = arr(g, "sharedMetricUpdate", "g");
    sharedMetricArgs(H, G);
    metricUpdates.shared(H, lambda, G);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    CpuArray32 H = arr(h, "perNeuronMetricUpdate", "h");
    CpuArray32 N = arr(nu, "perNeuronMetricUpdate", "nu");
    CpuArray32 G = arr(g, "perNeuronMetricUpdate", "g");
    perNeuronMetricArgs(H, N, G);
    metricUpdates.perNeuron(H, N, lambda, G);
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    CpuArray32 G = arr(g, "addDiagonal", "g");
    int d = G.cols();
    int m = stackCount("addDiagonal", "g", G, d);
    MetricUpdates32.addDiagonal(G, m, value);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    CpuArray32 G = arr(g, "batchedInverse", "g");
    CpuArray32 Gi = arr(ginv, "batchedInverse", "ginv");
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
    CpuArray32 G = arr(g, op, "g");
    CpuArray32 Gi = arr(ginv, op, "ginv");
    CpuArray32 E = arr(epsRel, op, "epsRel");
    CpuArray32 F = arr(failures, op, "failures");
    int d = G.cols();
    int m = refreshArgs(op, G, Gi, E, F);
    double[] eps = new double[m];
    for (int i = 0; i < m; i++) {
      eps[i] = E.data[E.offset + i];
    }
    int[] status = inverse.invert(G, Gi, d, m, eps, epsAbs);
    for (int i = 0; i < m; i++) {
      if (status[i] != 0) {
        E.data[E.offset + i] = (float) (eps[i] > 0 ? 2 * eps[i] : 1e-8);
        F.data[F.offset] += 1;
      }
    }
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    String op = "perNeuronPrecondition";
    CpuArray32 Gi = arr(ginv, op, "ginv");
    CpuArray32 Gr = arr(grad, op, "grad");
    CpuArray32 O = arr(out, op, "out");
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
