package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.rfim4j.backend.cuda.Checks.matrix;
import static org.rfim4j.backend.cuda.Checks.require;
import static org.rfim4j.backend.cuda.Checks.sameSize;
import static org.rfim4j.backend.cuda.Checks.shape;
import static org.rfim4j.backend.cuda.Checks.size;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.ReplayableStep;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * The GPU backend: float32 device arrays ({@link #precisionBits()} 32; uploads and downloads convert from
 * and to double), GEMMs through cuBLAS, the element-wise, loss, batch-norm, optimizer and RNGD kernels of
 * kernels/*.cu, and batched Cholesky inversion through cuSOLVER + cuBLAS. All work is queued on one stream
 * of the device's primary context, which every public method makes current on the calling thread.
 *
 * <p>RNGD: {@link #perNeuronMetricUpdate} takes a constant number of launches per layer (one kernel writes
 * sqrt(nu)-scaled copies of H~ for all neurons, one {@code cublasSgemmStridedBatched} forms every
 * S_i^T S_i with alpha = lambda/B, beta = 1 - lambda); {@link #batchedInverse} runs a symmetrise + damp
 * kernel, {@code cusolverDnSpotrfBatched} and two batched triangular solves against identity right-hand
 * sides (G^{-1} = L^{-T} L^{-1}) in a workspace, then copies only the slices whose info is 0 (a single
 * D x D matrix uses potrf + potri instead). Workspaces are owned and grow-only.
 *
 * <p>Open with {@link #open()} (probes first, fails with a diagnosis) or {@link #openDevice(int)} (no probe;
 * for a stand-in driver already loaded, as the CUDA simulator tests do).
 */
public final class CudaBackend implements Backend {
  private final CudaRuntime rt;
  private final Kernels k;
  private final Cublas blas;
  private final Cusolver solver;
  private final CudaRngd rngd;
  private final Map<CudaArray, Boolean> live = new IdentityHashMap<>();
  private final DeviceBuffer dotWs = new DeviceBuffer("dot");
  /** Per-step values of captured graphs (mini-batch offset, Adam bias corrections), rewritten per replay. */
  private final DeviceBuffer dynBlock = new DeviceBuffer("graph-parameters");
  /** Device tables of multi-tensor optimizer launches, by the identity of their arrays (uploaded once). */
  private final Map<List<DeviceArray>, DeviceBuffer> tables = new HashMap<>();
  private final List<CudaGraphStep> graphs = new ArrayList<>();
  private final String name;
  private boolean closed;

  private CudaBackend(int ordinal) {
    CudaRuntime r = new CudaRuntime(ordinal);
    Kernels kk = null;
    Cublas b = null;
    Cusolver s = null;
    try {
      kk = new Kernels(r);
      b = new Cublas(r);
      s = new Cusolver(r);
    } catch (RuntimeException | Error e) {
      if (b != null) {
        b.close();
      }
      try {
        r.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    this.rt = r;
    this.k = kk;
    this.blas = b;
    this.solver = s;
    this.rngd = new CudaRngd(r, kk, b, s);
    this.name = "cuda:" + ordinal + " (" + r.deviceName + ")";
  }

  /**
   * Opens device 0 after {@link CudaProbe#probe()} says CUDA is usable (loading the CUDA 13 compatibility
   * shims when needed).
   *
   * @throws IllegalStateException with the probe's diagnosis, or the driver's error and what to do
   */
  public static CudaBackend open() {
    CudaProbe.Diagnosis d = CudaProbe.probe();
    if (!d.available()) {
      throw new IllegalStateException("the CUDA backend cannot run here.\n" + d.text());
    }
    return openChecked(0, d);
  }

  /**
   * Opens a device without the file probe: for a stand-in driver already {@code System.load}ed (the CUDA
   * simulator) or an unusual installation. Compatibility shims load only if explicitly configured.
   */
  public static CudaBackend openDevice(int ordinal) {
    return openChecked(ordinal, null);
  }

  private static CudaBackend openChecked(int ordinal, CudaProbe.Diagnosis d) {
    CudaCompat.prepare(d);
    try {
      return new CudaBackend(ordinal);
    } catch (IllegalStateException e) {
      throw e;
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalStateException("the CUDA backend failed to start: " + e
          + (d != null ? "\n" + d.text() : "") + "\n  see docs/cuda.md for the library lookup order and the"
          + " CUDA 13 compatibility shims", e);
    }
  }

  // ---------------------------------------------------------------- helpers

  private CudaArray arr(String n, DeviceArray a) {
    require(a != null, n + " must not be null");
    require(a instanceof CudaArray && ((CudaArray) a).owner == this,
        n + " was not allocated by this CUDA backend: " + a);
    CudaArray c = (CudaArray) a;
    require(c.isLive(), n + " is closed: " + c);
    return c;
  }

  private CudaArray optArr(String n, DeviceArray a) {
    return a == null ? null : arr(n, a);
  }

  private static CUdeviceptr p(CudaArray a) {
    return a == null ? null : a.ptr();
  }

  private void enter() {
    if (closed) {
      throw new IllegalStateException("CUDA backend is closed");
    }
    rt.makeCurrent();
  }

  void enterForGraph() {
    enter();
  }

  boolean isOpen() {
    return !closed;
  }

  /**
   * Operation counts since the backend opened (or the last {@link #resetCounts()}): kernel launches, cuBLAS
   * and cuSOLVER calls, async copies (device-to-device and parameter-block uploads), host synchronisations and
   * CUDA graph launches. For benchmarks and launch-count tests.
   */
  public Map<String, Long> counts() {
    StepRecorder r = rt.rec;
    Map<String, Long> m = new java.util.LinkedHashMap<>();
    m.put("kernels", r.kernels);
    m.put("library", r.libraryCalls);
    m.put("copies", r.copies);
    m.put("syncs", r.hostSyncs);
    m.put("graphs", r.graphLaunches);
    return m;
  }

  /** Zeroes {@link #counts()}. */
  public void resetCounts() {
    StepRecorder r = rt.rec;
    r.kernels = 0;
    r.libraryCalls = 0;
    r.copies = 0;
    r.hostSyncs = 0;
    r.graphLaunches = 0;
  }

  /**
   * TF32 tensor-core math for cuBLAS SGEMMs (CUBLAS_TF32_TENSOR_OP_MATH; off by default): faster wide
   * per-neuron metric updates on Ampere and later at about 10-bit mantissa products. Affects every GEMM of
   * this backend.
   */
  public void setTf32(boolean on) {
    enter();
    blas.setTf32(on);
  }

  @Override
  public ReplayableStep captureStep(String kind, Runnable step) {
    require(step != null, "step must not be null");
    enter();
    CudaGraphStep g = new CudaGraphStep(this, rt, dynBlock.ensure(StepRecorder.DYN_BYTES), kind, step);
    graphs.add(g);
    return g;
  }

  /** A device table [starts (count+1 longs)][count pointers per list] for a multi-tensor launch. */
  private CUdeviceptr table(List<List<DeviceArray>> lists) {
    List<DeviceArray> key = new ArrayList<>();
    lists.forEach(key::addAll);
    DeviceBuffer b = tables.get(key);
    int count = lists.get(0).size();
    long bytes = (count + 1L) * Sizeof.LONG + (long) lists.size() * count * Sizeof.POINTER;
    if (b == null) {
      long[] starts = new long[count + 1];
      for (int i = 0; i < count; i++) {
        starts[i + 1] = starts[i] + lists.get(0).get(i).size();
      }
      b = new DeviceBuffer("multi-tensor table");
      CUdeviceptr p = b.ensure(bytes);
      rt.hostSync("multi-tensor table upload");
      cuMemcpyHtoD(p, Pointer.to(starts), starts.length * (long) Sizeof.LONG);
      long at = starts.length * (long) Sizeof.LONG;
      for (List<DeviceArray> l : lists) {
        CUdeviceptr[] ptrs = new CUdeviceptr[count];
        for (int i = 0; i < count; i++) {
          ptrs[i] = ((CudaArray) l.get(i)).ptr();
        }
        cuMemcpyHtoD(p.withByteOffset(at), Pointer.to(ptrs), (long) count * Sizeof.POINTER);
        at += (long) count * Sizeof.POINTER;
      }
      tables.put(key, b);
    }
    return b.ensure(bytes);
  }

  private void sameLists(String what, List<DeviceArray> params, List<DeviceArray> other, String otherName) {
    require(other != null && other.size() == params.size(), otherName + " must have one array per param ("
        + params.size() + ")");
    for (int i = 0; i < params.size(); i++) {
      sameSize(what + "[" + i + "]", arr(what + "[" + i + "]", params.get(i)), otherName + "[" + i + "]",
          arr(otherName + "[" + i + "]", other.get(i)));
    }
  }

  @Override
  public void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities,
      double lr, double momentum) {
    require(params != null && !params.isEmpty(), "params must not be empty");
    sameLists("params", params, grads, "grads");
    if (velocities != null) {
      sameLists("params", params, velocities, "velocities");
    }
    enter();
    List<List<DeviceArray>> lists = velocities == null ? List.of(params, grads) : List.of(params, grads, velocities);
    CUdeviceptr t = table(lists);
    int n = params.size();
    long total = 0;
    for (DeviceArray p : params) {
      total += p.size();
    }
    long pt = (n + 1L) * Sizeof.LONG;
    long step = (long) n * Sizeof.POINTER;
    k.launchN(k.sgdMulti, total, t, t.withByteOffset(pt), t.withByteOffset(pt + step),
        velocities == null ? null : t.withByteOffset(pt + 2 * step), n, (float) lr, (float) momentum);
  }

  @Override
  public void adamUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> m,
      List<DeviceArray> v, double lr, double beta1, double beta2, double eps, long t) {
    require(params != null && !params.isEmpty(), "params must not be empty");
    sameLists("params", params, grads, "grads");
    sameLists("params", params, m, "m");
    sameLists("params", params, v, "v");
    require(t >= 1, "t must be >= 1 (1-based step), got " + t);
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    enter();
    CUdeviceptr tab = table(List.of(params, grads, m, v));
    int n = params.size();
    long total = 0;
    for (DeviceArray p : params) {
      total += p.size();
    }
    long pt = (n + 1L) * Sizeof.LONG;
    long step = (long) n * Sizeof.POINTER;
    StepRecorder rec = rt.rec;
    int slot = rec.dynamicSlot(8);
    CUdeviceptr dyn = null;
    float f1 = (float) c1;
    float f2 = (float) c2;
    if (slot >= 0) {  // graph: the bias corrections come from the parameter block, not frozen parameters
      rec.staging.putFloat(slot, f1);
      rec.staging.putFloat(slot + 4, f2);
      dyn = dynBlock.ensure(StepRecorder.DYN_BYTES).withByteOffset(slot);
      f1 = 1f;
      f2 = 1f;
    }
    k.launchN(k.adamMulti, total, tab, tab.withByteOffset(pt), tab.withByteOffset(pt + step),
        tab.withByteOffset(pt + 2 * step), tab.withByteOffset(pt + 3 * step), n, (float) lr, (float) beta1,
        (float) beta2, (float) eps, f1, f2, dyn);
  }

  @Override
  public void gatherBatch(DeviceArray features, DeviceArray labels, DeviceArray indices, int offset,
      DeviceArray x, DeviceArray y) {
    CudaArray S = arr("features", features);
    CudaArray L = arr("labels", labels);
    CudaArray I = arr("indices", indices);
    CudaArray X = arr("x", x);
    CudaArray Y = arr("y", y);
    require(S.cols() == X.cols(), "x " + shape(X) + " must have the row length of features " + shape(S));
    require(L.cols() == 1 && Y.cols() == 1 && Y.rows() == X.rows(), "labels " + shape(L) + " and y " + shape(Y)
        + " must be columns, y with the rows of x " + shape(X));
    require(offset >= 0 && (long) offset + X.rows() <= I.size(), "offset " + offset + " + x rows " + X.rows()
        + " exceeds indices " + shape(I));
    enter();
    StepRecorder rec = rt.rec;
    int slot = rec.dynamicSlot(4);
    CUdeviceptr dyn = null;
    int off = offset;
    if (slot >= 0) {
      rec.staging.putInt(slot, offset);
      dyn = dynBlock.ensure(StepRecorder.DYN_BYTES).withByteOffset(slot);
      off = 0;
    }
    k.launchN(k.gatherBatch, X.size() + X.rows(), S.ptr(), L.ptr(), I.ptr(), off, dyn, X.rows(), X.cols(), X.ptr(),
        Y.ptr());
  }

  @Override
  public void perNeuronMetricUpdateFromPreActivations(DeviceArray h, Activation act, DeviceArray a, double omega,
      double lambda, DeviceArray nu, DeviceArray g) {
    require(act != null, "act must not be null");
    require(omega > 0, "omega must be > 0, got " + omega);
    CudaArray H = arr("h", h);
    CudaArray A = arr("a", a);
    arr("nu", nu);
    CudaArray G = arr("g", g);
    enter();
    rngd.perNeuronMetricUpdateAct(H, A, actCode(act), (float) act.negativeSlope(), (float) act.alpha(),
        (float) omega, lambda, G);
  }

  private static int actCode(Activation act) {
    return act.kind().ordinal();
  }

  void release(CudaArray a, CUdeviceptr ptr) {
    if (closed) {
      return;
    }
    synchronized (live) {
      if (live.remove(a) == null) {
        return;
      }
    }
    rt.makeCurrent();
    cuMemFree(ptr);
  }

  // ---------------------------------------------------------------- memory

  @Override
  public String name() {
    return name;
  }

  @Override
  public int precisionBits() {
    return 32;
  }

  @Override
  public DeviceArray allocate(int... shape) {
    require(shape != null && shape.length >= 1 && shape.length <= 3, "shape must have 1 to 3 dimensions: "
        + Arrays.toString(shape));
    long n = 1;
    for (int d : shape) {
      require(d > 0, "shape dimensions must be positive: " + Arrays.toString(shape));
      n *= d;
    }
    Checks.checkedInt(n, "array");
    enter();
    CUdeviceptr ptr = new CUdeviceptr();
    cuMemAlloc(ptr, n * Sizeof.FLOAT);
    CudaArray a = new CudaArray(this, shape, ptr, null, 0);
    synchronized (live) {
      live.put(a, Boolean.TRUE);
    }
    k.launchN(k.fill, n, ptr, n, 0f);
    return a;
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    CudaArray b = arr("base", base);
    int[] s = b.shape();
    require(0 <= from && from < to && to <= s[0],
        "row range [" + from + ", " + to + ") out of bounds for base " + shape(b));
    long inner = b.size() / s[0];
    int[] vs = s.clone();
    vs[0] = to - from;
    return new CudaArray(this, vs, b.ptr().withByteOffset(from * inner * Sizeof.FLOAT), b, b.offset() + from * inner);
  }

  @Override
  public void upload(DeviceArray dst, double[] src) {
    require(src != null, "src must not be null");
    float[] f = new float[src.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) src[i];
    }
    upload(dst, f);
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    CudaArray d = arr("dst", dst);
    require(src != null, "src must not be null");
    require(src.length == d.size(), "src has " + src.length + " elements but dst " + shape(d) + " has " + d.size());
    enter();
    // Pageable host memory: a synchronous copy on the legacy stream, which our blocking stream orders with.
    rt.hostSync("upload");
    cuMemcpyHtoD(d.ptr(), Pointer.to(src), (long) src.length * Sizeof.FLOAT);
  }

  @Override
  public double[] download(DeviceArray src) {
    float[] f = downloadFloats(arr("src", src));
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  private float[] downloadFloats(CudaArray s) {
    enter();
    float[] f = new float[(int) s.size()];
    rt.hostSync("download");
    cuMemcpyDtoH(Pointer.to(f), s.ptr(), (long) f.length * Sizeof.FLOAT);
    return f;
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    CudaArray s = arr("src", src);
    CudaArray d = arr("dst", dst);
    sameSize("src", s, "dst", d);
    enter();
    rt.copyAsync(d.ptr(), s.ptr(), s.size() * Sizeof.FLOAT);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    CudaArray d = arr("dst", dst);
    enter();
    k.launchN(k.fill, d.size(), d.ptr(), d.size(), (float) value);
  }

  @Override
  public int liveArrays() {
    synchronized (live) {
      return live.size();
    }
  }

  @Override
  public void synchronize() {
    enter();
    rt.synchronize();
  }

  // ---------------------------------------------------------------- dense algebra

  @Override
  public void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta,
      DeviceArray c) {
    CudaArray A = arr("a", a);
    CudaArray B = arr("b", b);
    CudaArray C = arr("c", c);
    int m = transA ? A.cols() : A.rows();
    int kk = transA ? A.rows() : A.cols();
    int kb = transB ? B.cols() : B.rows();
    int n = transB ? B.rows() : B.cols();
    require(kk == kb, "inner dimensions differ: op(a) is " + m + " x " + kk + " (a " + shape(A) + "), op(b) is "
        + kb + " x " + n + " (b " + shape(B) + ")");
    matrix("c", C, m, n);
    enter();
    blas.gemmRowMajor(transA, transB, m, n, kk, alpha, A.ptr(), A.cols(), B.ptr(), B.cols(), beta, C.ptr(),
        C.cols());
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    CudaArray X = arr("x", x);
    CudaArray Y = arr("y", y);
    sameSize("x", X, "y", Y);
    enter();
    k.launchN(k.axpy, X.size(), X.size(), (float) alpha, X.ptr(), Y.ptr());
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    CudaArray X = arr("x", x);
    enter();
    k.launchN(k.scale, X.size(), X.size(), (float) alpha, X.ptr());
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    CudaArray X = arr("x", x);
    CudaArray Y = arr("y", y);
    sameSize("x", X, "y", Y);
    enter();
    int blocks = Math.min(Kernels.DOT_BLOCKS, k.gridFor(X.size()));
    CUdeviceptr ws = dotWs.ensure((long) Kernels.DOT_BLOCKS * Sizeof.FLOAT);
    k.launchGrid(k.dotPartial, blocks, Kernels.BLOCK, X.size(), X.ptr(), Y.ptr(), ws);
    float[] part = new float[blocks];
    rt.hostSync("dot");
    cuMemcpyDtoH(Pointer.to(part), ws, (long) blocks * Sizeof.FLOAT);
    double s = 0;
    for (float v : part) {
      s += v;
    }
    return s;
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    CudaArray A = arr("a", a);
    CudaArray O = arr("out", out);
    require(O.size() == A.cols(), "out " + shape(O) + " must have " + A.cols() + " elements (the columns of a "
        + shape(A) + ")");
    enter();
    k.launchN(k.columnSums, A.cols(), A.ptr(), A.rows(), A.cols(), (float) alpha, (float) beta, O.ptr());
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    CudaArray S = arr("src", src);
    CudaArray I = arr("indices", indices);
    CudaArray D = arr("dst", dst);
    require(S.cols() == D.cols(), "dst " + shape(D) + " must have the row length of src " + shape(S));
    require(offset >= 0 && (long) offset + D.rows() <= I.size(), "offset " + offset + " + dst rows " + D.rows()
        + " exceeds indices " + shape(I));
    enter();
    k.launchN(k.gatherRows, D.size(), S.ptr(), I.ptr(), offset, D.rows(), D.cols(), D.ptr());
  }

  // ---------------------------------------------------------------- layers

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    CudaArray Z = arr("z", z);
    CudaArray Bi = arr("bias", bias);
    CudaArray H = optArr("h", h);
    require(act != null, "act must not be null");
    size("bias", Bi, Z.cols());
    if (H != null) {
      matrix("h", H, Z.rows(), Z.cols());
    }
    enter();
    k.launchN(k.biasActivationFwd, Z.size(), Z.ptr(), Bi.ptr(), Z.rows(), Z.cols(), actCode(act),
        (float) act.negativeSlope(), (float) act.alpha(), p(H));
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    require(act != null, "act must not be null");
    CudaArray A = arr("a", a);
    CudaArray DH = arr("dH", dH);
    CudaArray DA = arr("dA", dA);
    matrix("dH", DH, A.rows(), A.cols());
    matrix("dA", DA, A.rows(), A.cols());
    enter();
    k.launchN(k.activationBwd, A.size(), A.size(), actCode(act), (float) act.negativeSlope(), (float) act.alpha(),
        A.ptr(), DH.ptr(), DA.ptr());
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs, DeviceArray dLogits,
      double scale, DeviceArray stats) {
    CudaArray L = arr("logits", logits);
    CudaArray Y = arr("labels", labels);
    CudaArray P = arr("probs", probs);
    CudaArray DL = optArr("dLogits", dLogits);
    CudaArray S = arr("stats", stats);
    int rows = L.rows();
    int classes = L.cols();
    size("labels", Y, rows);
    matrix("probs", P, rows, classes);
    if (DL != null) {
      matrix("dLogits", DL, rows, classes);
    }
    size("stats", S, 2);
    enter();
    int block = 128;
    int grid = Math.max(1, Math.min((rows + block - 1) / block, 1024));
    k.launchGrid(k.softmaxXent, grid, block, L.ptr(), Y.ptr(), rows, classes, P.ptr(), p(DL), (float) scale, S.ptr());
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    CudaArray X = arr("x", x);
    int n = X.cols();
    CudaArray G = arr("gamma", gamma);
    CudaArray Be = arr("beta", beta);
    CudaArray RM = arr("runningMean", runningMean);
    CudaArray RV = arr("runningVar", runningVar);
    CudaArray Yy = arr("y", y);
    size("gamma", G, n);
    size("beta", Be, n);
    size("runningMean", RM, n);
    size("runningVar", RV, n);
    matrix("y", Yy, X.rows(), n);
    enter();
    if (training) {
      CudaArray M = arr("mean", mean);
      CudaArray IS = arr("invStd", invStd);
      size("mean", M, n);
      size("invStd", IS, n);
      k.launchN(k.bnFwdTrain, n, X.ptr(), X.rows(), n, G.ptr(), Be.ptr(), RM.ptr(), RV.ptr(), (float) momentum,
          (float) eps, M.ptr(), IS.ptr(), Yy.ptr());
    } else {
      CudaArray M = optArr("mean", mean);
      CudaArray IS = optArr("invStd", invStd);
      if (M != null) {
        size("mean", M, n);
      }
      if (IS != null) {
        size("invStd", IS, n);
      }
      k.launchN(k.bnFwdInfer, X.size(), X.ptr(), X.rows(), n, G.ptr(), Be.ptr(), RM.ptr(), RV.ptr(), (float) eps,
          p(M), p(IS), Yy.ptr());
    }
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    CudaArray X = arr("x", x);
    int n = X.cols();
    CudaArray DY = arr("dY", dY);
    CudaArray G = arr("gamma", gamma);
    CudaArray M = arr("mean", mean);
    CudaArray IS = arr("invStd", invStd);
    CudaArray DX = arr("dX", dX);
    CudaArray DG = arr("dGamma", dGamma);
    CudaArray DB = arr("dBeta", dBeta);
    matrix("dY", DY, X.rows(), n);
    matrix("dX", DX, X.rows(), n);
    size("gamma", G, n);
    size("mean", M, n);
    size("invStd", IS, n);
    size("dGamma", DG, n);
    size("dBeta", DB, n);
    enter();
    k.launchN(k.bnBwd, n, X.ptr(), DY.ptr(), X.rows(), n, G.ptr(), M.ptr(), IS.ptr(), DX.ptr(), DG.ptr(), DB.ptr());
  }

  // ---------------------------------------------------------------- first-order optimizers

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr, double momentum) {
    CudaArray P = arr("param", param);
    CudaArray G = arr("grad", grad);
    CudaArray V = optArr("velocity", velocity);
    sameSize("param", P, "grad", G);
    enter();
    if (V == null) {
      k.launchN(k.sgd, P.size(), P.size(), P.ptr(), G.ptr(), (float) lr);
    } else {
      sameSize("param", P, "velocity", V);
      k.launchN(k.sgdMomentum, P.size(), P.size(), P.ptr(), G.ptr(), V.ptr(), (float) lr, (float) momentum);
    }
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    CudaArray P = arr("param", param);
    CudaArray G = arr("grad", grad);
    CudaArray M = arr("m", m);
    CudaArray V = arr("v", v);
    sameSize("param", P, "grad", G);
    sameSize("param", P, "m", M);
    sameSize("param", P, "v", V);
    require(t >= 1, "t must be >= 1 (1-based step), got " + t);
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    enter();
    k.launchN(k.adam, P.size(), P.size(), P.ptr(), G.ptr(), M.ptr(), V.ptr(), (float) lr, (float) beta1,
        (float) beta2, (float) eps, (float) c1, (float) c2);
  }

  // ---------------------------------------------------------------- RNGD

  @Override
  public void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    require(act != null, "act must not be null");
    require(omega > 0, "omega must be > 0, got " + omega);
    CudaArray A = arr("a", a);
    CudaArray N = arr("nu", nu);
    sameSize("a", A, "nu", N);
    enter();
    k.launchN(k.nuCoefficients, A.size(), A.size(), actCode(act), (float) act.negativeSlope(), (float) act.alpha(),
        (float) omega, A.ptr(), N.ptr());
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    CudaArray H = arr("h", h);
    CudaArray G = arr("g", g);
    enter();
    rngd.sharedMetricUpdate(H, lambda, G);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    CudaArray H = arr("h", h);
    CudaArray N = arr("nu", nu);
    CudaArray G = arr("g", g);
    enter();
    rngd.perNeuronMetricUpdate(H, N, lambda, G);
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    CudaArray G = arr("g", g);
    enter();
    rngd.addDiagonal(G, value);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    CudaArray G = arr("g", g);
    CudaArray GI = arr("ginv", ginv);
    enter();
    return rngd.batchedInverse(G, epsRel, epsAbs, GI);
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    CudaArray GI = arr("ginv", ginv);
    CudaArray GR = arr("grad", grad);
    CudaArray O = arr("out", out);
    enter();
    rngd.perNeuronPrecondition(GI, GR, alpha, beta, O);
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    rt.makeCurrent();
    rt.rec.abort();
    for (CudaGraphStep g : new ArrayList<>(graphs)) {
      g.close();
    }
    graphs.clear();
    rt.synchronize();
    closed = true;
    ArrayList<CudaArray> arrays;
    synchronized (live) {
      arrays = new ArrayList<>(live.keySet());
      live.clear();
    }
    for (CudaArray a : arrays) {
      cuMemFree(a.ptr());
    }
    dotWs.close();
    dynBlock.close();
    tables.values().forEach(DeviceBuffer::close);
    tables.clear();
    rngd.close();
    solver.close();
    blas.close();
    rt.close();
  }

  @Override
  public String toString() {
    return name;
  }
}
