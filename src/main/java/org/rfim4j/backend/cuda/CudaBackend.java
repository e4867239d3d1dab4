package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.backend.StepShape;
import org.rfim4j.backend.Tf32Capable;

/**
 * The GPU backend: float32 device arrays ({@link #precisionBits()} 32; uploads and downloads convert from
 * and to double), GEMMs through cuBLAS, the element-wise, loss, batch-norm, optimizer and RNGD kernels of
 * kernels/*.cu, and batched Cholesky inversion through cuSOLVER + cuBLAS. All work is queued on one stream
 * of the device's primary context, which every public method makes current on the calling thread.
 *
 * <p>RNGD: {@link #perNeuronMetricUpdate} takes a constant number of launches per layer (one kernel writes
 * sqrt(nu)-scaled copies of H~ for all neurons, one {@code cublasSgemmStridedBatched} forms every
 * S_i^T S_i with alpha = lambda/B, beta = 1 - lambda); {@link #batchedInverse} runs a symmetrise + damp
 * kernel (which also flags a non-finite damped matrix), {@code cusolverDnSpotrfBatched}, a status kernel
 * (info 0 and a finite, positive factor diagonal; MATH.md A11) and two batched triangular solves against
 * identity right-hand sides (G^{-1} = L^{-T} L^{-1}) in a workspace, then copies only the slices whose
 * status is 0 (a single D x D matrix uses potrf + potri instead). {@link #refreshInverses} runs the same
 * kernels with the damping and failure count in device arrays and never synchronises. Workspaces are
 * owned and grow-only.
 *
 * <p>Open with {@link #open()} (probes first, fails with a diagnosis) or {@link #openDevice(int)} (no probe;
 * for a stand-in driver already loaded, as the CUDA simulator tests do). Opening also probes CUDA graph capture
 * once (a throwaway GEMM and kernel captured, instantiated, launched and checked): where capture or
 * instantiation fails, {@link #captureStep} runs steps eagerly, with one warning (System.Logger
 * {@code org.rfim4j.backend.cuda.CudaBackend}); {@link #graphsOff()} says why.
 *
 * <p>This class is the facade: it owns the lifecycle (open, close, the current context) and forwards each
 * operation to a package-private part: {@code CudaArrays} (allocation, transfers, argument checks),
 * {@code CudaAlgebra} (GEMM, axpy/scale/dot, column sums, gathers), {@code CudaLayers} (activation, loss and
 * batch-norm kernels), {@code CudaOptimizers} (SGD and Adam, per tensor and multi-tensor), {@code CudaRngd}
 * (metric updates, inversion, preconditioning) and {@code CudaGraphStep} (captured steps).
 */
public final class CudaBackend implements Backend, Tf32Capable {
  private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());

  private final CudaRuntime rt;
  private final Cublas blas;
  private final Cusolver solver;
  private final CudaArrays arrays;
  private final CudaAlgebra algebra;
  private final CudaLayers layers;
  private final CudaOptimizers optimizers;
  private final CudaRngd rngd;
  /** The kernel handles (package-visible for tests that launch one kernel directly). */
  final Kernels kernels;
  /** Per-step values of captured graphs (mini-batch offset, Adam bias corrections), rewritten per replay. */
  private final GraphParameters graphParams;
  private final List<CudaGraphStep> graphs = new ArrayList<>();
  private final String name;
  /** Why CUDA graphs are off for this backend (capture probe or a capture failed), or null. */
  private volatile String graphsOff;
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
      // release what was made, in reverse order; a failing close must not skip the ones after it
      for (AutoCloseable c : new AutoCloseable[] {s, b, r}) {
        if (c == null) {
          continue;
        }
        try {
          c.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
    this.rt = r;
    this.blas = b;
    this.solver = s;
    this.graphParams = new GraphParameters(r);
    this.arrays = new CudaArrays(this, r, kk);
    this.algebra = new CudaAlgebra(this, arrays, r, kk, b, graphParams);
    this.layers = new CudaLayers(this, arrays, kk);
    this.optimizers = new CudaOptimizers(this, arrays, r, kk, graphParams);
    this.rngd = new CudaRngd(this, arrays, r, kk, b, s);
    this.kernels = kk;
    this.name = "cuda:" + ordinal + " (" + r.deviceName + ")";
    String why;
    try {
      why = probeCapture();
    } catch (RuntimeException | Error e) {
      try {
        close();
      } catch (RuntimeException | Error suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    if (why != null) {
      disableGraphs("the capture probe failed: " + why);
    }
    resetCounts();
  }

  /**
   * Captures a throwaway GEMM (cuBLAS, with the handle's own workspace) and a kernel into a CUDA graph,
   * instantiates and launches it and checks the result. Returns null when all of that works, else what failed.
   * Leaves nothing behind: the graph, its executable graph and the buffers are released on every path.
   */
  private String probeCapture() {
    CUdeviceptr a = null;
    CUdeviceptr c = null;
    CUgraph g = null;
    CUgraphExec e = null;
    boolean capturing = false;
    String failure = null;
    try {
      CUdeviceptr pa = new CUdeviceptr();
      cuMemAlloc(pa, 4 * Float.BYTES);
      a = pa;
      CUdeviceptr pc = new CUdeviceptr();
      cuMemAlloc(pc, 4 * Float.BYTES);
      c = pc;
      rt.rec.noteTransfer(true, 4 * Float.BYTES);
      cuMemcpyHtoD(a, Pointer.to(new float[] {1, 2, 3, 4}), 4 * Float.BYTES);
      cuStreamBeginCapture(rt.stream, CudaGraphStep.CAPTURE_MODE);
      capturing = true;
      blas.gemmRowMajor(false, false, 2, 2, 2, 1.0, a, 2, a, 2, 0.0, c, 2);  // C = A A = [7, 10; 15, 22]
      kernels.launchN(kernels.scale, 4, 4L, 0.5f, c);                         // C = [3.5, 5; 7.5, 11]
      CUgraph made = new CUgraph();
      capturing = false;
      cuStreamEndCapture(rt.stream, made);
      g = made;
      rt.graphHandleCreated();
      CUgraphExec inst = new CUgraphExec();
      cuGraphInstantiate(inst, g, 0);
      e = inst;
      rt.graphHandleCreated();
      cuGraphLaunch(e, rt.stream);
      cuStreamSynchronize(rt.stream);
      float[] got = new float[4];
      rt.rec.noteTransfer(false, 4 * Float.BYTES);
      cuMemcpyDtoH(Pointer.to(got), c, 4 * Float.BYTES);
      if (!Arrays.equals(got, new float[] {3.5f, 5f, 7.5f, 11f})) {
        failure = "the captured GEMM + kernel computed " + Arrays.toString(got) + " instead of [3.5, 5.0, 7.5, 11.0]";
      }
    } catch (CudaException ex) {
      failure = ex.getMessage();
    } finally {
      if (capturing) {
        try {
          CUgraph partial = new CUgraph();
          cuStreamEndCapture(rt.stream, partial);
          cuGraphDestroy(partial);
        } catch (CudaException ignored) {
          // an invalidated capture ends without a graph
        }
      }
      CudaGraphStep.destroy(rt, g, e);
      cuStreamSynchronize(rt.stream);
      if (a != null) {
        cuMemFree(a);
      }
      if (c != null) {
        cuMemFree(c);
      }
    }
    return failure;
  }

  /** Turns CUDA graphs off for this backend (later {@link #captureStep} steps run eagerly); warns once. */
  void disableGraphs(String why) {
    synchronized (this) {
      if (graphsOff != null) {
        return;
      }
      graphsOff = why;
    }
    LOG.log(Level.WARNING, "CUDA graphs are off on " + name + ": " + why + ". Training steps run eagerly (same"
        + " results, one launch per operation instead of one graph launch per step).");
  }

  /**
   * Why CUDA graphs are off for this backend (the capture probe at open, or a later capture, failed), or null
   * when {@link #captureStep} captures steps into graphs.
   */
  public String graphsOff() {
    return graphsOff;
  }

  /** CUDA graphs plus executable graphs alive (captured steps and the probe); for leak tests. */
  int liveGraphHandles() {
    return rt.graphHandles();
  }

  /** Device allocations released but not yet freed (waiting for the stream to be idle); for tests. */
  int retiredAllocations() {
    return rt.retiredAllocations();
  }

  /** The size of cuBLAS's owned workspace in bytes; for tests. */
  long cublasWorkspaceBytes() {
    return blas.workspaceCapacity();
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

  /** Throws when the backend is closed, else makes its context current (every operation calls this). */
  /** What the driver reports free on this backend's device (cuMemGetInfo in its context), or -1. */
  @Override
  public long deviceFreeBytes() {
    enter();
    long[] free = {0};
    long[] total = {0};
    try {
      jcuda.driver.JCudaDriver.cuMemGetInfo(free, total);
    } catch (RuntimeException e) {
      return -1;
    }
    return free[0] > 0 ? free[0] : -1;
  }

  void enter() {
    enterKeepingSide();
    rt.joinSide();  // work on the side stream (an RNGD refresh) is waited for before anything else
  }

  /** {@link #enter} for operations that may overlap the side stream's work (they touch none of its arrays). */
  void enterKeepingSide() {
    if (closed) {
      throw new IllegalStateException("CUDA backend is closed");
    }
    rt.makeCurrent();
  }

  boolean isOpen() {
    return !closed;
  }

  /** An owned array was closed by its user: evict the cached device tables that refer to its storage. */
  void released(CudaArray root) {
    optimizers.evict(root);
    rngd.evict(root);
  }

  /** Small device buffers held by per-array caches (multi-tensor tables, damping factors); for leak tests. */
  int cachedDeviceBuffers() {
    return optimizers.cachedTables() + rngd.cachedDampings();
  }

  /**
   * Operation counts since the backend opened (or the last {@link #resetCounts()}): kernel launches, cuBLAS
   * and cuSOLVER calls, async copies (device-to-device and parameter-block uploads), host synchronisations and
   * CUDA graph launches. For benchmarks and launch-count tests.
   */
  public Map<String, Long> counts() {
    StepRecorder r = rt.rec;
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("kernels", r.kernels);
    m.put("library", r.libraryCalls);
    m.put("gemms", r.gemms);
    m.put("batched", r.batchedGemms);
    m.put("solver", r.solverCalls);
    m.put("copies", r.copies);
    m.put("syncs", r.hostSyncs);
    m.put("graphs", r.graphLaunches);
    m.put("events", r.events);
    m.put("toDevice", r.bytesToDevice);
    m.put("toHost", r.bytesToHost);
    return m;
  }

  private final Map<String, StepShape> shapes = new LinkedHashMap<>();

  /** Called by a captured step after each run: the latest shape of its kind. */
  synchronized void recordShape(StepShape s) {
    shapes.put(s.kind(), s);
  }

  @Override
  public synchronized Map<String, StepShape> stepShapes() {
    return Map.copyOf(shapes);
  }

  /** Zeroes {@link #counts()}. */
  public void resetCounts() {
    StepRecorder r = rt.rec;
    r.kernels = 0;
    r.libraryCalls = 0;
    r.gemms = 0;
    r.batchedGemms = 0;
    r.solverCalls = 0;
    r.bytesToDevice = 0;
    r.bytesToHost = 0;
    r.copies = 0;
    r.hostSyncs = 0;
    r.graphLaunches = 0;
    r.events = 0;
  }

  /**
   * TF32 tensor-core math for cuBLAS SGEMMs (CUBLAS_TF32_TENSOR_OP_MATH; off by default): faster wide
   * per-neuron metric updates on Ampere and later at about 10-bit mantissa products. Affects every GEMM of
   * this backend.
   */
  @Override
  public void setTf32(boolean on) {
    enter();
    blas.setTf32(on);
  }

  @Override
  public ReplayableStep captureStep(String kind, Runnable step) {
    if (step == null) {
      throw new IllegalArgumentException("step must not be null");
    }
    enter();
    if (graphsOff != null) {
      return Backend.super.captureStep(kind, step);  // graphs off: plain eager runs
    }
    CudaGraphStep g = new CudaGraphStep(this, rt, graphParams.block(), kind, step);
    graphs.add(g);
    return g;
  }

  // ---------------------------------------------------------------- memory (CudaArrays)

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
    return arrays.allocate(shape);
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    return arrays.rows(base, from, to);
  }

  @Override
  public void upload(DeviceArray dst, double[] src) {
    arrays.upload(dst, src);
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    arrays.upload(dst, src);
  }

  @Override
  public double[] download(DeviceArray src) {
    return arrays.download(src);
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    arrays.copy(src, dst);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    arrays.fill(dst, value);
  }

  @Override
  public int liveArrays() {
    return arrays.liveArrays();
  }

  @Override
  public void synchronize() {
    enter();
    rt.synchronize();
  }

  // ---------------------------------------------------------------- dense algebra (CudaAlgebra)

  @Override
  public void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta,
      DeviceArray c) {
    algebra.gemm(transA, transB, alpha, a, b, beta, c);
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    algebra.axpy(alpha, x, y);
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    algebra.scale(alpha, x);
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    return algebra.dot(x, y);
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    algebra.columnSums(a, alpha, beta, out);
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    algebra.gatherRows(src, indices, offset, dst);
  }

  @Override
  public void gatherBatch(DeviceArray features, DeviceArray labels, DeviceArray indices, int offset,
      DeviceArray x, DeviceArray y) {
    algebra.gatherBatch(features, labels, indices, offset, x, y);
  }

  // ---------------------------------------------------------------- layers (CudaLayers)

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    layers.biasActivationForward(z, bias, act, h);
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    layers.activationBackward(act, a, dH, dA);
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs, DeviceArray dLogits,
      double scale, DeviceArray stats) {
    layers.softmaxCrossEntropy(logits, labels, probs, dLogits, scale, stats);
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y) {
    layers.batchNormForward(x, gamma, beta, runningMean, runningVar, momentum, eps, training, mean, invStd, y);
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    layers.batchNormBackward(x, dY, gamma, mean, invStd, dX, dGamma, dBeta);
  }

  // ---------------------------------------------------------------- first-order optimizers (CudaOptimizers)

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr, double momentum) {
    optimizers.sgdUpdate(param, grad, velocity, lr, momentum);
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t) {
    optimizers.adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, t);
  }

  @Override
  public void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities,
      double lr, double momentum) {
    optimizers.sgdUpdateAll(params, grads, velocities, lr, momentum);
  }

  @Override
  public void adamUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> m,
      List<DeviceArray> v, double lr, double beta1, double beta2, double eps, long t) {
    optimizers.adamUpdateAll(params, grads, m, v, lr, beta1, beta2, eps, t);
  }

  // ---------------------------------------------------------------- RNGD (CudaRngd; nu in CudaLayers)

  @Override
  public void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    layers.nuCoefficients(act, a, omega, nu);
  }

  /** One kernel (rfim_softmax_nu), no host round trip. */
  @Override
  public void softmaxNuCoefficients(DeviceArray a, DeviceArray nu) {
    layers.softmaxNuCoefficients(a, nu);
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    rngd.sharedMetricUpdate(h, lambda, g);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    rngd.perNeuronMetricUpdate(h, nu, lambda, g);
  }

  @Override
  public void perNeuronMetricUpdateFromPreActivations(DeviceArray h, Activation act, DeviceArray a, double omega,
      double lambda, DeviceArray nu, DeviceArray g) {
    rngd.perNeuronMetricUpdateFromPreActivations(h, act, a, omega, lambda, nu, g);
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    rngd.addDiagonal(g, value);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    return rngd.batchedInverse(g, epsRel, epsAbs, ginv);
  }

  /**
   * No host synchronisation and no upload (not even on the first call): the damping is read from
   * {@code epsRel} on the device and a status kernel applies the failure rule there, so a step containing
   * it can be captured into a CUDA graph. See {@link #batchedInverse} for the kernels.
   */
  @Override
  public void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv,
      DeviceArray failures) {
    rngd.refreshInverses(g, epsRel, epsAbs, ginv, failures);
  }

  @Override
  public void refreshInversesAll(List<DeviceArray> gs, List<DeviceArray> epsRels, double epsAbs,
      List<DeviceArray> ginvs, List<DeviceArray> failures) {
    rngd.refreshInversesAll(gs, epsRels, epsAbs, ginvs, failures);
  }

  @Override
  public void metricUpdates(List<MetricUpdate> updates, double lambda) {
    rngd.metricUpdates(updates, lambda);
  }

  @Override
  public void preconditionLayers(List<DeviceArray> ginvs, List<DeviceArray> grads, double alpha, double beta,
      List<DeviceArray> outs) {
    rngd.preconditionLayers(ginvs, grads, alpha, beta, outs);
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out) {
    rngd.perNeuronPrecondition(ginv, grad, alpha, beta, out);
  }

  // ---------------------------------------------------------------- lifecycle

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
    arrays.freeAll();
    algebra.close();
    graphParams.close();
    optimizers.close();
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
