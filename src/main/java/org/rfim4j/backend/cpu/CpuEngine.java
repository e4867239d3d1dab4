package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.CpuArgs.gatherArgs;
import static org.rfim4j.backend.cpu.CpuArgs.gemmArgs;
import static org.rfim4j.backend.cpu.CpuArgs.inverseStack;
import static org.rfim4j.backend.cpu.CpuArgs.notNull;
import static org.rfim4j.backend.cpu.CpuArgs.perNeuronMetricArgs;
import static org.rfim4j.backend.cpu.CpuArgs.preconditionArgs;
import static org.rfim4j.backend.cpu.CpuArgs.refreshArgs;
import static org.rfim4j.backend.cpu.CpuArgs.sameShape;
import static org.rfim4j.backend.cpu.CpuArgs.sameSize;
import static org.rfim4j.backend.cpu.CpuArgs.sharedMetricArgs;
import static org.rfim4j.backend.cpu.CpuArgs.shp;
import static org.rfim4j.backend.cpu.CpuArgs.softmaxArgs;
import static org.rfim4j.backend.cpu.CpuArgs.stackCount;
import static org.rfim4j.backend.cpu.CpuArgs.vectorOf;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;
import org.rfim4j.backend.cpu.CpuBackend.GemmPath;

/**
 * What the two CPU engines share: the {@link Backend} facade over heap arrays of one element type
 * ({@link CpuBackend}: {@code double[]}, {@link CpuBackend32}: {@code float[]}). Every public operation is
 * here once, with its argument checks (through {@link CpuArgs}) and its split over the threads; the
 * engine supplies the kernels, one small method per operation, on its own array type {@code A}. The
 * kernels themselves stay separate per precision (Java has no generics over primitive arrays, and the
 * loops must be on {@code double[]} or {@code float[]} to be vectorised).
 *
 * <p>One instance is meant to be used from one thread at a time: scratch buffers are reused across calls.
 * Results are deterministic for a given thread count and BLAS: the split across threads never changes the
 * order of a sum.
 *
 * @param <A> the engine's array type
 */
abstract class CpuEngine<A extends CpuArrayBase> implements Backend {

  /** Gathers of at least this many elements are split over the threads. */
  static final long GATHER_PARALLEL = 1L << 14;

  final GemmPath gemmPath;
  /** Native BLAS for the metric updates (NETLIB path and netlib loaded a native BLAS). */
  final boolean nativeBlas;
  /** Native LAPACK for the batched inverse (NETLIB path and netlib loaded a native LAPACK). */
  final boolean nativeLapack;
  final ParallelBlocks parallel;
  final SplitBlas splitBlas;
  private final Class<A> arrayType;
  private final String label;
  private final AtomicInteger live = new AtomicInteger();
  private volatile boolean closed;

  /**
   * @param split split large native BLAS calls over the threads (see {@link #splitsBlas()})
   * @param arrayType the engine's array class (checked on every argument)
   * @param label the start of {@link #name()}, such as {@code "cpu"}
   */
  CpuEngine(int threads, GemmPath gemmPath, boolean split, Class<A> arrayType, String label) {
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
    this.splitBlas = new SplitBlas(parallel, nativeBlas && split);
    this.arrayType = arrayType;
    this.label = label;
  }

  // =============================================================== the engine's kernels

  /** A new array of n elements and this shape, owned by this engine. */
  abstract A newArray(int n, int[] shape);

  /** A view of base's storage from offset with this shape. */
  abstract A view(A base, int offset, int[] shape, CpuArrayBase root);

  abstract void uploadKernel(A dst, double[] src);

  abstract void uploadKernel(A dst, float[] src);

  abstract double[] downloadKernel(A src);

  abstract void fillKernel(A dst, double value);

  abstract void gemmKernel(boolean transA, boolean transB, int m, int n, int k, double alpha, A a, A b,
      double beta, A c);

  abstract void axpyKernel(double alpha, A x, A y);

  abstract void scaleKernel(double alpha, A x);

  abstract double dotKernel(A x, A y);

  abstract void columnSumsKernel(A a, double alpha, double beta, A out);

  /** Rows [from, to) of the gather. */
  abstract void gatherRange(A src, A indices, int offset, A dst, int from, int to);

  abstract void biasActivationKernel(A z, A bias, Activation act, A h);

  abstract void activationBackwardKernel(Activation act, A a, A dH, A dA);

  abstract void softmaxCrossEntropyKernel(A logits, A labels, A probs, A dLogits, double scale, A stats);

  abstract void batchNormForwardKernel(A x, A gamma, A beta, A runningMean, A runningVar, double momentum,
      double eps, boolean training, A mean, A invStd, A y);

  abstract void batchNormBackwardKernel(A x, A dY, A gamma, A mean, A invStd, A dX, A dGamma, A dBeta);

  /** SGD on elements [from, to) of the slices (velocity may be null). */
  abstract void sgdRange(A param, A grad, A velocity, double lr, double momentum, int from, int to);

  /** Adam on elements [from, to) of the slices. */
  abstract void adamRange(A param, A grad, A m, A v, double lr, double beta1, double beta2, double eps, long t,
      int from, int to);

  abstract void nuKernel(Activation act, A a, double omega, A nu);

  abstract void sharedMetricKernel(A h, double lambda, A g);

  abstract void perNeuronMetricKernel(A h, A nu, double lambda, A g);

  /**
   * The shared metric update as the {@code layer}-th layer of a cross-layer call ({@link #metricUpdates}), on the
   * native BLAS; called only when the engine splits BLAS calls over its threads (which implies a native BLAS).
   */
  abstract LayerWork sharedMetricWork(A h, double lambda, A g, int layer);

  /** The per-neuron metric update as the {@code layer}-th layer of a cross-layer call (as above). */
  abstract LayerWork perNeuronMetricWork(A h, A nu, double lambda, A g, int layer);

  abstract void addDiagonalKernel(A g, int m, double value);

  /** Inverts the m matrices (d x d) of g into ginv; per matrix 0 or the 1-based failing pivot. */
  abstract int[] invertKernel(A g, A ginv, int d, int m, double[] epsRel, double epsAbs);

  /**
   * The inverse of one matrix i of g (d x d) into ginv as a block on any thread, writing status[i] as
   * {@link #invertKernel} does; null where the engine inverts a stack only as a whole (its Java kernels).
   */
  abstract ParallelBlocks.BlockBody invertMatrixWork(A g, A ginv, int d, double[] epsRel, double epsAbs,
      int[] status);

  abstract void preconditionKernel(A ginv, A grad, double alpha, double beta, A out);

  /**
   * Elements [from, from + len) of a (from its offset): magnitudes below the optimizer updates' flush threshold
   * become 0 ({@code OptimizerOps.ftz}, {@code OptimizerOps32.ftz}).
   */
  abstract void ftzKernel(A a, int from, int len);

  /** An array of n of the engine's arrays (Java cannot create {@code new A[n]}). */
  abstract A[] arrays(int n);

  // =============================================================== configuration

  /**
   * {@code cpu (native BLAS, 2 threads)}, {@code cpu float32 (native BLAS split over threads, 2 threads)},
   * {@code cpu (Java kernels, 1 thread)} and so on: what this instance uses.
   */
  @Override
  public String name() {
    return label + " (" + (nativeBlas ? (splitsBlas() ? "native BLAS split over threads" : "native BLAS")
        : gemmPath == GemmPath.NETLIB ? "netlib Java BLAS" : "Java kernels")
        + ", " + threads() + (threads() == 1 ? " thread)" : " threads)");
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
      throw new IllegalStateException(getClass().getSimpleName() + " is closed");
    }
  }

  /** {@code a} as a live array allocated by this engine; otherwise "op: name ..." names the problem. */
  final A arr(DeviceArray a, String op, String name) {
    notNull(op, name, a);
    if (!arrayType.isInstance(a) || ((CpuArrayBase) a).owner() != this) {
      throw new IllegalArgumentException(op + ": " + name + " was not allocated by this "
          + getClass().getSimpleName());
    }
    A c = arrayType.cast(a);
    if (c.isClosed()) {
      throw new IllegalArgumentException(op + ": " + name + " " + Arrays.toString(c.shapeRef())
          + " has been closed");
    }
    return c;
  }

  /** The upload target, checked against the length of src ({@code srcNull}: src is null). */
  private A uploadDst(DeviceArray dst, boolean srcNull, int srcLength) {
    A d = arr(dst, "upload", "dst");
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
    A a = newArray((int) n, shape);
    live.incrementAndGet();
    return a;
  }

  void released() {
    live.decrementAndGet();
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    A b = arr(base, "rows", "base");
    int[] s = b.shapeRef();
    if (from < 0 || to > s[0] || from >= to) {
      throw new IllegalArgumentException("rows: range [" + from + ", " + to + ") is not a non-empty range"
          + " within the leading dimension of base " + Arrays.toString(s));
    }
    int[] vs = s.clone();
    vs[0] = to - from;
    int stride = b.size / s[0];
    return view(b, b.offset + from * stride, vs, b.isView() ? b.rootArray() : b);
  }

  @Override
  public void upload(DeviceArray dst, double[] src) {
    uploadKernel(uploadDst(dst, src == null, src == null ? 0 : src.length), src);
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    uploadKernel(uploadDst(dst, src == null, src == null ? 0 : src.length), src);
  }

  @Override
  public double[] download(DeviceArray src) {
    return downloadKernel(arr(src, "download", "src"));
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    A s = arr(src, "copy", "src");
    A d = arr(dst, "copy", "dst");
    sameSize("copy", "src", s, "dst", d);
    System.arraycopy(s.storage(), s.offset, d.storage(), d.offset, s.size);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    fillKernel(arr(dst, "fill", "dst"), value);
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
    A ma = arr(a, "gemm", "a");
    A mb = arr(b, "gemm", "b");
    A mc = arr(c, "gemm", "c");
    int k = gemmArgs(transA, transB, ma, mb, mc);
    gemmKernel(transA, transB, mc.rows(), mc.cols(), k, alpha, ma, mb, beta, mc);
    if (beta != 0) {
      ftzKernel(mc, 0, mc.size);  // c is state updated in place (an RNGD weight step): see sgdUpdate's note
    }
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    A mx = arr(x, "axpy", "x");
    A my = arr(y, "axpy", "y");
    sameSize("axpy", "x", mx, "y", my);
    axpyKernel(alpha, mx, my);
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    scaleKernel(alpha, arr(x, "scale", "x"));
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    A mx = arr(x, "dot", "x");
    A my = arr(y, "dot", "y");
    sameSize("dot", "x", mx, "y", my);
    return dotKernel(mx, my);
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    A ma = arr(a, "columnSums", "a");
    A mo = arr(out, "columnSums", "out");
    vectorOf("columnSums", "out", mo, ma.cols(), "a.cols() of a " + shp(ma));
    columnSumsKernel(ma, alpha, beta, mo);
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    A s = arr(src, "gatherRows", "src");
    A idx = arr(indices, "gatherRows", "indices");
    A d = arr(dst, "gatherRows", "dst");
    gatherArgs(s, idx, offset, d);
    int rows = d.rows();
    if ((long) rows * s.cols() >= GATHER_PARALLEL && parallel.hasPool()) {
      // Rows scattered over a large dataset: the copy waits on memory; two threads keep twice as many
      // cache misses in flight.
      int parts = Math.min(parallel.threads(), rows);
      parallel.run(parts, Long.MAX_VALUE, (p, slot) ->
          gatherRange(s, idx, offset, d, rows * p / parts, rows * (p + 1) / parts));
    } else {
      gatherRange(s, idx, offset, d, 0, rows);
    }
  }

  // =============================================================== layers

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    String op = "biasActivationForward";
    A mz = arr(z, op, "z");
    A mb = arr(bias, op, "bias");
    notNull(op, "act", act);
    vectorOf(op, "bias", mb, mz.cols(), "z.cols() of z " + shp(mz));
    A mh = null;
    if (h != null) {
      mh = arr(h, op, "h");
      sameShape(op, "z", mz, "h", mh);
    }
    biasActivationKernel(mz, mb, act, mh);
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    String op = "activationBackward";
    notNull(op, "act", act);
    A ma = arr(a, op, "a");
    A mdh = arr(dH, op, "dH");
    A mda = arr(dA, op, "dA");
    sameShape(op, "a", ma, "dH", mdh);
    sameShape(op, "a", ma, "dA", mda);
    activationBackwardKernel(act, ma, mdh, mda);
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs,
      DeviceArray dLogits, double scale, DeviceArray stats) {
    String op = "softmaxCrossEntropy";
    A l = arr(logits, op, "logits");
    A y = arr(labels, op, "labels");
    A p = arr(probs, op, "probs");
    A g = dLogits == null ? null : arr(dLogits, op, "dLogits");
    A s = arr(stats, op, "stats");
    softmaxArgs(op, l, y, p, g, s);
    softmaxCrossEntropyKernel(l, y, p, g, scale, s);
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    String op = "batchNormForward";
    A mx = arr(x, op, "x");
    A ga = arr(gamma, op, "gamma");
    A be = arr(beta, op, "beta");
    A rm = arr(runningMean, op, "runningMean");
    A rv = arr(runningVar, op, "runningVar");
    A me = mean == null && !training ? null : arr(mean, op, "mean");
    A is = invStd == null && !training ? null : arr(invStd, op, "invStd");
    A my = arr(y, op, "y");
    int n = mx.cols();
    String w = "one per column of x " + shp(mx);
    vectorOf(op, "gamma", ga, n, w);
    vectorOf(op, "beta", be, n, w);
    vectorOf(op, "runningMean", rm, n, w);
    vectorOf(op, "runningVar", rv, n, w);
    if (me != null) {
      vectorOf(op, "mean", me, n, w);
    }
    if (is != null) {
      vectorOf(op, "invStd", is, n, w);
    }
    sameShape(op, "x", mx, "y", my);
    batchNormForwardKernel(mx, ga, be, rm, rv, momentum, eps, training, me, is, my);
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    String op = "batchNormBackward";
    A mx = arr(x, op, "x");
    A dy = arr(dY, op, "dY");
    A ga = arr(gamma, op, "gamma");
    A me = arr(mean, op, "mean");
    A is = arr(invStd, op, "invStd");
    A dx = arr(dX, op, "dX");
    A dg = arr(dGamma, op, "dGamma");
    A db = arr(dBeta, op, "dBeta");
    int n = mx.cols();
    String w = "one per column of x " + shp(mx);
    sameShape(op, "x", mx, "dY", dy);
    sameShape(op, "x", mx, "dX", dx);
    vectorOf(op, "gamma", ga, n, w);
    vectorOf(op, "mean", me, n, w);
    vectorOf(op, "invStd", is, n, w);
    vectorOf(op, "dGamma", dg, n, w);
    vectorOf(op, "dBeta", db, n, w);
    batchNormBackwardKernel(mx, dy, ga, me, is, dx, dg, db);
  }

  // =============================================================== first-order optimizers

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr,
      double momentum) {
    A[] a = sgdArgs(param, grad, velocity, "sgdUpdate");
    sgdRange(a[0], a[1], a[2], lr, momentum, 0, a[0].size);
  }

  private A[] sgdArgs(DeviceArray param, DeviceArray grad, DeviceArray velocity, String op) {
    A[] a = arrays(3);
    a[0] = arr(param, op, "param");
    a[1] = arr(grad, op, "grad");
    sameSize(op, "param", a[0], "grad", a[1]);
    if (velocity != null) {
      a[2] = arr(velocity, op, "velocity");
      sameSize(op, "param", a[0], "velocity", a[2]);
    }
    return a;
  }

  /**
   * All parameters in one call: every tensor is checked first (nothing is updated when one is bad), then
   * the elements are updated in chunks on the backend's threads, with the same result as one
   * {@link #sgdUpdate} per tensor.
   */
  @Override
  public void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities,
      double lr, double momentum) {
    int n = listSizes("sgdUpdateAll", params, grads, velocities, null);
    A[][] a = tensors(n, k -> sgdArgs(params.get(k), grads.get(k),
        velocities == null ? null : velocities.get(k), "sgdUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    // Memory-bound (one multiply-add per element): threads pay only for very large models.
    parallel.run(ch.count(), elements(a) * 2L, (c, slot) -> {
      A[] t = a[ch.tensor[c]];
      sgdRange(t[0], t[1], t[2], lr, momentum, ch.from[c], ch.to[c]);
    });
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    A[] a = adamArgs(param, grad, m, v, t, "adamUpdate");
    adamRange(a[0], a[1], a[2], a[3], lr, beta1, beta2, eps, t, 0, a[0].size);
  }

  private A[] adamArgs(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, long t, String op) {
    A[] a = arrays(4);
    a[0] = arr(param, op, "param");
    a[1] = arr(grad, op, "grad");
    a[2] = arr(m, op, "m");
    a[3] = arr(v, op, "v");
    sameSize(op, "param", a[0], "grad", a[1]);
    sameSize(op, "param", a[0], "m", a[2]);
    sameSize(op, "param", a[0], "v", a[3]);
    if (t < 1) {
      throw new IllegalArgumentException(op + ": step t must be >= 1 (1-based), got " + t);
    }
    return a;
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
    A[][] a = tensors(n, k -> adamArgs(params.get(k), grads.get(k), m.get(k), v.get(k), t, "adamUpdateAll"));
    OptimizerOps.Chunks ch = chunks(a);
    parallel.run(ch.count(), elements(a) * 16L, (c, slot) -> {
      A[] x = a[ch.tensor[c]];
      adamRange(x[0], x[1], x[2], x[3], lr, beta1, beta2, eps, t, ch.from[c], ch.to[c]);
    });
  }

  /** The checked arrays of each of the n tensors of a multi-tensor update; an error names the tensor. */
  private A[][] tensors(int n, IntFunction<A[]> checked) {
    A[][] a = newTable(n);
    for (int k = 0; k < n; k++) {
      try {
        a[k] = checked.apply(k);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("tensor " + k + " of " + n + ": " + e.getMessage(), e);
      }
    }
    return a;
  }

  /** n slots for the engine's {@code A[]} (Java cannot create {@code new A[n][]}). */
  @SuppressWarnings("unchecked")
  private A[][] newTable(int n) {
    return (A[][]) java.lang.reflect.Array.newInstance(arrays(0).getClass(), n);
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

  private long elements(A[][] a) {
    long n = 0;
    for (A[] t : a) {
      n += t[0].size;
    }
    return n;
  }

  /** The last chunking, reused while the tensor sizes stay the same (no allocation per step). */
  private int[] chunkSizes = new int[0];
  private OptimizerOps.Chunks chunkCache;

  private OptimizerOps.Chunks chunks(A[][] a) {
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
    A ma = arr(a, "nuCoefficients", "a");
    A mn = arr(nu, "nuCoefficients", "nu");
    sameShape("nuCoefficients", "a", ma, "nu", mn);
    nuKernel(act, ma, omega, mn);
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    A mh = arr(h, "sharedMetricUpdate", "h");
    A mg = arr(g, "sharedMetricUpdate", "g");
    sharedMetricArgs(mh, mg);
    sharedMetricKernel(mh, lambda, mg);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    A mh = arr(h, "perNeuronMetricUpdate", "h");
    A mn = arr(nu, "perNeuronMetricUpdate", "nu");
    A mg = arr(g, "perNeuronMetricUpdate", "g");
    perNeuronMetricArgs(mh, mn, mg);
    perNeuronMetricKernel(mh, mn, lambda, mg);
  }

  /**
   * Every layer's metric update in one parallel schedule ({@link LayerWork}) when large BLAS calls are split
   * over this engine's threads: the shared metrics' Gram GEMMs first, then the shared metrics' moving-average
   * passes (one thread each) together with the per-neuron GEMMs, which the other threads take meanwhile. Each
   * layer's result is bit for bit that of its single-layer operation. The arguments of every update are checked
   * before any is applied. Where an update's metric overlaps another update's metric or any update's input (or
   * coefficient scratch), or without split BLAS calls, the updates run one after the other, as the interface's
   * default does.
   */
  @Override
  public void metricUpdates(List<MetricUpdate> updates, double lambda) {
    if (updates == null) {
      throw new IllegalArgumentException("metricUpdates: updates must not be null");
    }
    int n = updates.size();
    if (n < 2 || !splitBlas.splits()) {
      Backend.super.metricUpdates(updates, lambda);
      return;
    }
    @SuppressWarnings("unchecked")
    A[][] args = (A[][]) new CpuArrayBase[n][];
    for (int j = 0; j < n; j++) {
      MetricUpdate u = updates.get(j);
      if (u == null) {
        throw new IllegalArgumentException("metricUpdates: update " + j + " is null");
      }
      args[j] = metricArgs(u);
    }
    // the arrays an update writes: its metric g (index 1) and its nu scratch (index 3)
    if (overlapsAcross(args, 1, 2)) {
      Backend.super.metricUpdates(updates, lambda);
      return;
    }
    LayerWork[] works = new LayerWork[n];
    for (int j = 0; j < n; j++) {
      MetricUpdate u = updates.get(j);
      A[] a = args[j];
      if (u.act() != null) {
        nuKernel(u.act(), a[2], u.omega(), a[3]);
      }
      works[j] = u.isShared() ? sharedMetricWork(a[0], lambda, a[1], j)
          : perNeuronMetricWork(a[0], u.act() != null ? a[3] : a[2], lambda, a[1], j);
    }
    runLayerWorks(works);
  }

  /**
   * The checked arrays of one metric update, as its single-layer operation checks them: h and g, then the
   * coefficients (per neuron) or the pre-activations and the nu scratch (from pre-activations).
   */
  @SuppressWarnings("unchecked")
  private A[] metricArgs(MetricUpdate u) {
    if (u.isShared()) {
      A mh = arr(u.h(), "sharedMetricUpdate", "h");
      A mg = arr(u.g(), "sharedMetricUpdate", "g");
      sharedMetricArgs(mh, mg);
      return (A[]) new CpuArrayBase[] {mh, mg};
    }
    String op = "perNeuronMetricUpdate";
    if (u.act() == null) {
      A mh = arr(u.h(), op, "h");
      A mn = arr(u.coefficients(), op, "nu");
      A mg = arr(u.g(), op, "g");
      perNeuronMetricArgs(mh, mn, mg);
      return (A[]) new CpuArrayBase[] {mh, mg, mn};
    }
    A ma = arr(u.coefficients(), "nuCoefficients", "a");
    A mn = arr(u.nu(), "nuCoefficients", "nu");
    sameShape("nuCoefficients", "a", ma, "nu", mn);
    A mh = arr(u.h(), op, "h");
    A mg = arr(u.g(), op, "g");
    perNeuronMetricArgs(mh, mn, mg);
    return (A[]) new CpuArrayBase[] {mh, mg, ma, mn};
  }

  /**
   * Whether array {@code args[j][w]}, for w = first, first + step, ... (the arrays layer j writes), overlaps any
   * other array of the call, another layer's or its own: then the order of the layers matters.
   */
  private static boolean overlapsAcross(CpuArrayBase[][] args, int first, int step) {
    for (int j = 0; j < args.length; j++) {
      for (int w = first; w < args[j].length; w += step) {
        CpuArrayBase out = args[j][w];
        for (int i = 0; i < args.length; i++) {
          for (int k = 0; k < args[i].length; k++) {
            if ((i != j || k != w) && CpuArgs.overlaps(out, args[i][k])) {
              return true;
            }
          }
        }
      }
    }
    return false;
  }

  /** Runs the first phase of every layer's work, then the second (long blocks first), each as one parallel call. */
  private void runLayerWorks(LayerWork[] works) {
    runPhase(works, true);
    runPhase(works, false);
  }

  private void runPhase(LayerWork[] works, boolean first) {
    // long second-phase blocks first, so that they start at once
    Integer[] order = new Integer[works.length];
    int[] counts = new int[works.length];
    for (int j = 0; j < works.length; j++) {
      order[j] = j;
      counts[j] = first ? works[j].firstBlocks() : works[j].secondBlocks();
    }
    if (!first) {
      Arrays.sort(order, (x, y) -> Boolean.compare(works[y].longSecondBlocks(), works[x].longSecondBlocks()));
    }
    int[][] index = blockIndex(order, counts);
    parallel.run(index[0].length, Long.MAX_VALUE, (b, slot) -> {
      LayerWork w = works[index[0][b]];
      if (first) {
        w.first(index[1][b], slot);
      } else {
        w.second(index[1][b], slot);
      }
    });
  }

  /**
   * The blocks of several layers as one numbering, the layers in {@code order}: {layer of block b, its number
   * within the layer}.
   */
  private static int[][] blockIndex(Integer[] order, int[] counts) {
    int total = 0;
    for (int c : counts) {
      total += c;
    }
    int[][] index = new int[2][total];
    int t = 0;
    for (int j : order) {
      for (int i = 0; i < counts[j]; i++, t++) {
        index[0][t] = j;
        index[1][t] = i;
      }
    }
    return index;
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    A mg = arr(g, "addDiagonal", "g");
    int m = stackCount("addDiagonal", "g", mg, mg.cols());
    addDiagonalKernel(mg, m, value);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    A mg = arr(g, "batchedInverse", "g");
    A gi = arr(ginv, "batchedInverse", "ginv");
    int m = inverseStack("batchedInverse", mg, gi);
    if (epsRel == null || epsRel.length != m) {
      throw new IllegalArgumentException("batchedInverse: epsRel has length "
          + (epsRel == null ? "null" : epsRel.length) + " but g " + shp(mg) + " holds " + m + " matrices");
    }
    return invertFlushed(mg, gi, m, epsRel, epsAbs);
  }

  /**
   * {@link #invertKernel} with negligible values flushed: the metrics in g first (a moving average that only
   * decays, such as a dead unit's row, would otherwise go subnormal), then each inverse written. Every entry
   * above the threshold is untouched, and a failed matrix's ginv slice is not written.
   */
  private int[] invertFlushed(A g, A ginv, int m, double[] epsRel, double epsAbs) {
    int d = g.cols();
    ftzKernel(g, 0, m * d * d);
    int[] status = invertKernel(g, ginv, d, m, epsRel, epsAbs);
    for (int i = 0; i < m; i++) {
      if (status[i] == 0) {
        ftzKernel(ginv, i * d * d, d * d);
      }
    }
    return status;
  }

  /**
   * The A11 failure rule over host memory: no copies, the damping factors (stored in this engine's
   * precision) updated in place.
   */
  @Override
  public void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv,
      DeviceArray failures) {
    A[] a = refreshArrays(g, ginv, epsRel, failures);
    double[] eps = damping(a);
    failureRule(a, eps, invertFlushed(a[0], a[1], eps.length, eps, epsAbs));
  }

  /** The checked arrays of one layer's refresh: {g, ginv, epsRel, failures}. */
  @SuppressWarnings("unchecked")
  private A[] refreshArrays(DeviceArray g, DeviceArray ginv, DeviceArray epsRel, DeviceArray failures) {
    String op = "refreshInverses";
    A mg = arr(g, op, "g");
    A gi = arr(ginv, op, "ginv");
    A e = arr(epsRel, op, "epsRel");
    A f = arr(failures, op, "failures");
    refreshArgs(op, mg, gi, e, f);
    return (A[]) new CpuArrayBase[] {mg, gi, e, f};
  }

  /** The damping factors of a refresh ({@link #refreshArrays}), one per matrix, widened to double. */
  private static double[] damping(CpuArrayBase[] refresh) {
    CpuArrayBase e = refresh[2];
    double[] eps = new double[e.size];
    for (int i = 0; i < eps.length; i++) {
      eps[i] = e.value(i);
    }
    return eps;
  }

  /** A11: each failed matrix doubles its damping (or starts it at 1e-8) and counts one failure. */
  private static void failureRule(CpuArrayBase[] refresh, double[] eps, int[] status) {
    CpuArrayBase e = refresh[2];
    CpuArrayBase f = refresh[3];
    for (int i = 0; i < status.length; i++) {
      if (status[i] != 0) {
        e.set(i, eps[i] > 0 ? 2 * eps[i] : 1e-8);
        f.set(0, f.value(0) + 1);
      }
    }
  }

  /**
   * {@link #refreshInverses} of every layer in one parallel call when large BLAS calls are split over this
   * engine's threads: the matrices of all layers are blocks, the largest first, so that one thread factorises
   * the input layer's metric while the others invert the per-neuron stacks (layer by layer, the large matrix
   * left every other core idle). Each matrix is computed exactly as in its layer's own call; the damping and
   * failure counters are then updated layer by layer in order. Every layer's arguments are checked before any
   * matrix is touched. Where an array a layer writes (metric, inverse, damping, counter) overlaps any other
   * layer's array, or without split BLAS calls, the layers run one after the other (the interface's default).
   */
  @Override
  public void refreshInversesAll(List<DeviceArray> gs, List<DeviceArray> epsRels, double epsAbs,
      List<DeviceArray> ginvs, List<DeviceArray> failures) {
    int n = gs == null ? 0 : gs.size();
    if (n < 2 || !splitBlas.splits() || epsRels == null || ginvs == null || failures == null
        || epsRels.size() != n || ginvs.size() != n || failures.size() != n) {
      Backend.super.refreshInversesAll(gs, epsRels, epsAbs, ginvs, failures);
      return;
    }
    @SuppressWarnings("unchecked")
    A[][] args = (A[][]) new CpuArrayBase[n][];
    double[][] eps = new double[n][];
    for (int j = 0; j < n; j++) {
      args[j] = refreshArrays(gs.get(j), ginvs.get(j), epsRels.get(j), failures.get(j));
      eps[j] = damping(args[j]);
    }
    // every array of a refresh is written (the metric is flushed in place)
    if (overlapsAcross(args, 0, 1)) {
      Backend.super.refreshInversesAll(gs, epsRels, epsAbs, ginvs, failures);
      return;
    }
    int[][] status = new int[n][];
    ParallelBlocks.BlockBody[] bodies = new ParallelBlocks.BlockBody[n];
    Integer[] order = new Integer[n];
    int[] counts = new int[n];
    for (int j = 0; j < n; j++) {
      counts[j] = eps[j].length;
      status[j] = new int[counts[j]];
      bodies[j] = invertMatrixWork(args[j][0], args[j][1], args[j][0].cols(), eps[j], epsAbs, status[j]);
      if (bodies[j] == null) {
        Backend.super.refreshInversesAll(gs, epsRels, epsAbs, ginvs, failures);
        return;
      }
      order[j] = j;
    }
    // blocks: every matrix of every layer, the layers of larger matrices first (stable for equal sizes)
    Arrays.sort(order, (x, y) -> Integer.compare(args[y][0].cols(), args[x][0].cols()));
    int[][] index = blockIndex(order, counts);
    parallel.run(index[0].length, Long.MAX_VALUE, (b, slot) -> {
      int j = index[0][b];
      int i = index[1][b];
      A mg = args[j][0];
      int dd = mg.cols() * mg.cols();
      ftzKernel(mg, i * dd, dd);  // as invertFlushed does for the whole stack
      bodies[j].run(i, slot);
      if (status[j][i] == 0) {
        ftzKernel(args[j][1], i * dd, dd);
      }
    });
    for (int j = 0; j < n; j++) {
      failureRule(args[j], eps[j], status[j]);
    }
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    String op = "perNeuronPrecondition";
    A gi = arr(ginv, op, "ginv");
    A gr = arr(grad, op, "grad");
    A o = arr(out, op, "out");
    preconditionArgs(op, gi, gr, o);
    preconditionKernel(gi, gr, alpha, beta, o);
    if (beta != 0) {
      ftzKernel(o, 0, o.size);
    }
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
