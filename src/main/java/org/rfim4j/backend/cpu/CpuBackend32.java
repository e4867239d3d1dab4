package org.rfim4j.backend.cpu;

import java.util.Arrays;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.cpu.CpuBackend.GemmPath;

/**
 * The float32 CPU engine: arrays are {@code float[]} slices on the Java heap, and every operation
 * finishes before the method returns ({@link #synchronize} is a no-op). The operations, their argument
 * checks and their split over the threads are those of {@link CpuEngine}, shared with the float64 {@link
 * CpuBackend}; this class supplies the float kernels, one class per concern as the float64 engine has them
 * ({@code GemmKernels32}, {@code MetricUpdates32}, {@code CholeskyInverse32}, {@code Preconditioner32},
 * {@code VectorOps32}, {@code LayerOps32}, {@code OptimizerOps32}).
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
public final class CpuBackend32 extends CpuEngine<CpuArray32> {

  /** Scratch buffers, reused across calls. */
  private final Scratch32 scratch;
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
    super(threads, gemmPath, split, CpuArray32.class, "cpu float32");
    this.scratch = new Scratch32(threads);
    this.gemmKernels = new GemmKernels32(gemmPath, parallel, scratch, splitBlas);
    this.metricUpdates = new MetricUpdates32(gemmKernels, parallel, scratch, splitBlas);
    this.inverse = new CholeskyInverse32(nativeLapack, parallel, scratch, splitBlas.splits());
    this.preconditioner = new Preconditioner32(parallel, scratch, nativeBlas);
  }

  @Override
  public int precisionBits() {
    return 32;
  }

  // =============================================================== the float kernels

  @Override
  CpuArray32 newArray(int n, int[] shape) {
    return new CpuArray32(this, new float[n], 0, shape, null);
  }

  @Override
  CpuArray32 view(CpuArray32 base, int offset, int[] shape, CpuArrayBase root) {
    return new CpuArray32(this, base.data, offset, shape, root);
  }

  @Override
  CpuArray32[] arrays(int n) {
    return new CpuArray32[n];
  }

  /** Rounds every element to float (round to nearest). */
  @Override
  void uploadKernel(CpuArray32 d, double[] src) {
    for (int i = 0; i < src.length; i++) {
      d.data[d.offset + i] = (float) src[i];
    }
  }

  @Override
  void uploadKernel(CpuArray32 d, float[] src) {
    System.arraycopy(src, 0, d.data, d.offset, d.size);
  }

  /** Widens every element to double (exact). */
  @Override
  double[] downloadKernel(CpuArray32 s) {
    double[] out = new double[s.size];
    for (int i = 0; i < out.length; i++) {
      out[i] = s.data[s.offset + i];
    }
    return out;
  }

  @Override
  void fillKernel(CpuArray32 d, double value) {
    Arrays.fill(d.data, d.offset, d.offset + d.size, (float) value);
  }

  @Override
  void gemmKernel(boolean transA, boolean transB, int m, int n, int k, double alpha, CpuArray32 a,
      CpuArray32 b, double beta, CpuArray32 c) {
    gemmKernels.gemmRaw(transA, transB, m, n, k, (float) alpha, a.data, a.offset, a.cols(), b.data, b.offset,
        b.cols(), (float) beta, c.data, c.offset, n);
  }

  @Override
  void axpyKernel(double alpha, CpuArray32 x, CpuArray32 y) {
    VectorOps32.axpy(alpha, x, y);
  }

  @Override
  void scaleKernel(double alpha, CpuArray32 x) {
    VectorOps32.scale(alpha, x);
  }

  @Override
  double dotKernel(CpuArray32 x, CpuArray32 y) {
    return VectorOps32.dot(x, y);
  }

  @Override
  void columnSumsKernel(CpuArray32 a, double alpha, double beta, CpuArray32 out) {
    VectorOps32.columnSums(a, alpha, beta, out, scratch.doubles(a.cols()));
  }

  @Override
  void gatherRange(CpuArray32 src, CpuArray32 indices, int offset, CpuArray32 dst, int from, int to) {
    VectorOps32.gatherRows(src, indices, offset, dst, from, to);
  }

  @Override
  void biasActivationKernel(CpuArray32 z, CpuArray32 bias, Activation act, CpuArray32 h) {
    LayerOps32.biasActivationForward(z, bias, act, h);
  }

  @Override
  void activationBackwardKernel(Activation act, CpuArray32 a, CpuArray32 dH, CpuArray32 dA) {
    LayerOps32.activationBackward(act, a, dH, dA);
  }

  @Override
  void softmaxCrossEntropyKernel(CpuArray32 logits, CpuArray32 labels, CpuArray32 probs, CpuArray32 dLogits,
      double scale, CpuArray32 stats) {
    LayerOps32.softmaxCrossEntropy(logits, labels, probs, dLogits, scale, stats, scratch.doubles(logits.cols()));
  }

  @Override
  void batchNormForwardKernel(CpuArray32 x, CpuArray32 gamma, CpuArray32 beta, CpuArray32 runningMean,
      CpuArray32 runningVar, double momentum, double eps, boolean training, CpuArray32 mean,
      CpuArray32 invStd, CpuArray32 y) {
    LayerOps32.batchNormForward(x, gamma, beta, runningMean, runningVar, momentum, eps, training, mean, invStd,
        y);
  }

  @Override
  void batchNormBackwardKernel(CpuArray32 x, CpuArray32 dY, CpuArray32 gamma, CpuArray32 mean,
      CpuArray32 invStd, CpuArray32 dX, CpuArray32 dGamma, CpuArray32 dBeta) {
    LayerOps32.batchNormBackward(x, dY, gamma, mean, invStd, dX, dGamma, dBeta);
  }

  @Override
  void sgdRange(CpuArray32 param, CpuArray32 grad, CpuArray32 velocity, double lr, double momentum, int from,
      int to) {
    OptimizerOps32.sgdRange(param, grad, velocity, lr, momentum, from, to);
  }

  @Override
  void adamRange(CpuArray32 param, CpuArray32 grad, CpuArray32 m, CpuArray32 v, double lr, double beta1,
      double beta2, double eps, long t, int from, int to) {
    OptimizerOps32.adamRange(param, grad, m, v, lr, beta1, beta2, eps, t, from, to);
  }

  @Override
  void nuKernel(Activation act, CpuArray32 a, double omega, CpuArray32 nu) {
    LayerOps32.nuCoefficients(act, a, omega, nu, scratch.doubles(a.size));
  }

  @Override
  void sharedMetricKernel(CpuArray32 h, double lambda, CpuArray32 g) {
    metricUpdates.shared(h, lambda, g);
  }

  @Override
  void perNeuronMetricKernel(CpuArray32 h, CpuArray32 nu, double lambda, CpuArray32 g) {
    metricUpdates.perNeuron(h, nu, lambda, g);
  }

  @Override
  LayerWork sharedMetricWork(CpuArray32 h, double lambda, CpuArray32 g, int layer) {
    return metricUpdates.sharedWork(h, lambda, g, layer);
  }

  @Override
  LayerWork perNeuronMetricWork(CpuArray32 h, CpuArray32 nu, double lambda, CpuArray32 g, int layer) {
    return metricUpdates.perNeuronWork(h, nu, lambda, g, layer);
  }

  @Override
  void addDiagonalKernel(CpuArray32 g, int m, double value) {
    MetricUpdates32.addDiagonal(g, m, value);
  }

  @Override
  ParallelBlocks.BlockBody invertMatrixWork(CpuArray32 g, CpuArray32 ginv, int d, double[] epsRel, double epsAbs,
      int[] status) {
    return inverse.matrixBody(g, ginv, d, epsRel, epsAbs, status);
  }

  @Override
  int[] invertKernel(CpuArray32 g, CpuArray32 ginv, int d, int m, double[] epsRel, double epsAbs) {
    return inverse.invert(g, ginv, d, m, epsRel, epsAbs);
  }

  @Override
  void ftzKernel(CpuArray32 a, int from, int len) {
    VectorOps32.ftz(a, from, len);
  }

  @Override
  void preconditionKernel(CpuArray32 ginv, CpuArray32 grad, double alpha, double beta, CpuArray32 out) {
    preconditioner.apply(ginv, grad, alpha, beta, out);
  }
}
