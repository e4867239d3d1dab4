package org.rfim4j.backend.cpu;

import java.util.Arrays;
import java.util.Locale;
import org.rfim4j.backend.Activation;

/**
 * The float64 reference backend: arrays are {@code double[]} slices on the Java heap, every operation is
 * computed in double precision and finishes before the method returns ({@link #synchronize} is a no-op).
 * The operations and their argument checks are those of {@link CpuEngine}, shared with the float32 engine
 * {@link CpuBackend32}; this class supplies the double kernels.
 *
 * <p>GEMM-shaped work (gemm, the metric updates, the batched inverse and the preconditioning) runs in
 * Java kernels: operands are packed so that the summation index is contiguous and 4 x 4 output tiles are
 * accumulated in registers. Work is split over a small private pool of worker threads (the caller and one
 * more thread per further processor) when it is large enough to pay for the hand-off. With a native BLAS
 * ({@code dev.ludovic.netlib} finds one, such as OpenBLAS) gemm, the metric updates' Gram products and the
 * inverses run on it instead; see {@link #defaultGemmPath()}.
 *
 * <p>One instance is meant to be used from one thread at a time: scratch buffers are reused across calls.
 * Results are deterministic: the split across threads never changes the order of any floating-point sum.
 */
public final class CpuBackend extends CpuEngine<CpuArray> {

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

  /** Scratch buffers, reused across calls. */
  private final Scratch scratch;
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
    super(threads, gemmPath, split, CpuArray.class, "cpu");
    this.scratch = new Scratch(threads);
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

  @Override
  public int precisionBits() {
    return 64;
  }

  // =============================================================== the double kernels

  @Override
  CpuArray newArray(int n, int[] shape) {
    return new CpuArray(this, new double[n], 0, shape, null);
  }

  @Override
  CpuArray view(CpuArray base, int offset, int[] shape, CpuArrayBase root) {
    return new CpuArray(this, base.data, offset, shape, root);
  }

  @Override
  CpuArray[] arrays(int n) {
    return new CpuArray[n];
  }

  @Override
  void uploadKernel(CpuArray d, double[] src) {
    System.arraycopy(src, 0, d.data, d.offset, d.size);
  }

  @Override
  void uploadKernel(CpuArray d, float[] src) {
    for (int i = 0; i < src.length; i++) {
      d.data[d.offset + i] = src[i];
    }
  }

  @Override
  double[] downloadKernel(CpuArray s) {
    return Arrays.copyOfRange(s.data, s.offset, s.offset + s.size);
  }

  @Override
  void fillKernel(CpuArray d, double value) {
    Arrays.fill(d.data, d.offset, d.offset + d.size, value);
  }

  @Override
  void gemmKernel(boolean transA, boolean transB, int m, int n, int k, double alpha, CpuArray a, CpuArray b,
      double beta, CpuArray c) {
    gemmKernels.gemmRaw(transA, transB, m, n, k, alpha, a.data, a.offset, a.cols(), b.data, b.offset,
        b.cols(), beta, c.data, c.offset, n);
  }

  @Override
  void axpyKernel(double alpha, CpuArray x, CpuArray y) {
    VectorOps.axpy(alpha, x, y);
  }

  @Override
  void scaleKernel(double alpha, CpuArray x) {
    VectorOps.scale(alpha, x);
  }

  @Override
  double dotKernel(CpuArray x, CpuArray y) {
    return VectorOps.dot(x, y);
  }

  @Override
  void columnSumsKernel(CpuArray a, double alpha, double beta, CpuArray out) {
    VectorOps.columnSums(a, alpha, beta, out, scratch.sharedA(a.cols()));
  }

  @Override
  void gatherRange(CpuArray src, CpuArray indices, int offset, CpuArray dst, int from, int to) {
    VectorOps.gatherRows(src, indices, offset, dst, from, to);
  }

  @Override
  void biasActivationKernel(CpuArray z, CpuArray bias, Activation act, CpuArray h) {
    LayerOps.biasActivationForward(z, bias, act, h);
  }

  @Override
  void activationBackwardKernel(Activation act, CpuArray a, CpuArray dH, CpuArray dA) {
    LayerOps.activationBackward(act, a, dH, dA);
  }

  @Override
  void softmaxCrossEntropyKernel(CpuArray logits, CpuArray labels, CpuArray probs, CpuArray dLogits,
      double scale, CpuArray stats) {
    LayerOps.softmaxCrossEntropy(logits, labels, probs, dLogits, scale, stats);
  }

  @Override
  void batchNormForwardKernel(CpuArray x, CpuArray gamma, CpuArray beta, CpuArray runningMean,
      CpuArray runningVar, double momentum, double eps, boolean training, CpuArray mean, CpuArray invStd,
      CpuArray y) {
    LayerOps.batchNormForward(x, gamma, beta, runningMean, runningVar, momentum, eps, training, mean, invStd, y);
  }

  @Override
  void batchNormBackwardKernel(CpuArray x, CpuArray dY, CpuArray gamma, CpuArray mean, CpuArray invStd,
      CpuArray dX, CpuArray dGamma, CpuArray dBeta) {
    LayerOps.batchNormBackward(x, dY, gamma, mean, invStd, dX, dGamma, dBeta);
  }

  @Override
  void sgdRange(CpuArray param, CpuArray grad, CpuArray velocity, double lr, double momentum, int from,
      int to) {
    OptimizerOps.sgdRange(param, grad, velocity, lr, momentum, from, to);
  }

  @Override
  void adamRange(CpuArray param, CpuArray grad, CpuArray m, CpuArray v, double lr, double beta1,
      double beta2, double eps, long t, int from, int to) {
    OptimizerOps.adamRange(param, grad, m, v, lr, beta1, beta2, eps, t, from, to);
  }

  @Override
  void nuKernel(Activation act, CpuArray a, double omega, CpuArray nu) {
    LayerOps.nuCoefficients(act, a, omega, nu);
  }

  @Override
  void sharedMetricKernel(CpuArray h, double lambda, CpuArray g) {
    metricUpdates.shared(h, lambda, g);
  }

  @Override
  void perNeuronMetricKernel(CpuArray h, CpuArray nu, double lambda, CpuArray g) {
    metricUpdates.perNeuron(h, nu, lambda, g);
  }

  @Override
  LayerWork sharedMetricWork(CpuArray h, double lambda, CpuArray g, int layer) {
    return metricUpdates.sharedWork(h, lambda, g, layer);
  }

  @Override
  LayerWork perNeuronMetricWork(CpuArray h, CpuArray nu, double lambda, CpuArray g, int layer) {
    return metricUpdates.perNeuronWork(h, nu, lambda, g, layer);
  }

  @Override
  void addDiagonalKernel(CpuArray g, int m, double value) {
    MetricUpdates.addDiagonal(g, m, value);
  }

  @Override
  ParallelBlocks.BlockBody invertMatrixWork(CpuArray g, CpuArray ginv, int d, double[] epsRel, double epsAbs,
      int[] status) {
    return inverse.nativeMatrixBody(g, ginv, d, epsRel, epsAbs, status);
  }

  @Override
  int[] invertKernel(CpuArray g, CpuArray ginv, int d, int m, double[] epsRel, double epsAbs) {
    return inverse.invert(g, ginv, d, m, epsRel, epsAbs);
  }

  @Override
  void ftzKernel(CpuArray a, int from, int len) {
    VectorOps.ftz(a, from, len);
  }

  @Override
  void preconditionKernel(CpuArray ginv, CpuArray grad, double alpha, double beta, CpuArray out) {
    preconditioner.apply(ginv, grad, alpha, beta, out);
  }
}
