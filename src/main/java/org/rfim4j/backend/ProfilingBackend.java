package org.rfim4j.backend;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A decorator that times every operation of another backend, for "where does the time go" reports.
 * With {@code synchronous}, each call is followed by {@link Backend#synchronize()} so asynchronous
 * (GPU) work is attributed to the call that queued it; that serialises the device and changes the total,
 * so use it for profiles, not for headline timings.
 */
public final class ProfilingBackend implements Backend {
  private final Backend inner;
  private final boolean synchronous;
  private final Map<String, long[]> totals = new TreeMap<>();

  public ProfilingBackend(Backend inner, boolean synchronous) {
    this.inner = inner;
    this.synchronous = synchronous;
  }

  /** The wrapped backend. */
  public Backend inner() {
    return inner;
  }

  private long start() {
    return System.nanoTime();
  }

  private void stop(String op, long t0) {
    if (synchronous) {
      inner.synchronize();
    }
    long[] a = totals.computeIfAbsent(op, k -> new long[2]);
    a[0] += System.nanoTime() - t0;
    a[1]++;
  }

  /** Clears the counters. */
  public void reset() {
    totals.clear();
  }

  /** Seconds and calls per operation name. */
  public Map<String, long[]> totals() {
    return totals;
  }

  /** A table of operations sorted by total time: name, calls, seconds, share. */
  public String report() {
    long all = 0;
    for (long[] a : totals.values()) {
      all += a[0];
    }
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-40s %10s %10s %7s%n", "operation", "calls",
        "seconds", "share"));
    final long sum = Math.max(all, 1);
    totals.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0])).forEach(e ->
        sb.append(String.format(Locale.ROOT, "%-40s %10d %10.3f %6.1f%%%n", e.getKey(), e.getValue()[1],
            e.getValue()[0] * 1e-9, 100.0 * e.getValue()[0] / sum)));
    return sb.toString();
  }

  @Override
  public String name() {
    return inner.name();
  }

  @Override
  public int precisionBits() {
    return inner.precisionBits();
  }

  @Override
  public DeviceArray allocate(int... shape) {
    long t0 = start();
    DeviceArray r = inner.allocate(shape);
    stop("allocate", t0);
    return r;
  }

  @Override
  public DeviceArray rows(DeviceArray base, int from, int to) {
    return inner.rows(base, from, to);
  }

  @Override
  public void upload(DeviceArray dst, double[] src) {
    long t0 = start();
    inner.upload(dst, src);
    stop("upload", t0);
  }

  @Override
  public void upload(DeviceArray dst, float[] src) {
    long t0 = start();
    inner.upload(dst, src);
    stop("upload", t0);
  }

  @Override
  public double[] download(DeviceArray src) {
    long t0 = start();
    double[] r = inner.download(src);
    stop("download", t0);
    return r;
  }

  @Override
  public void copy(DeviceArray src, DeviceArray dst) {
    long t0 = start();
    inner.copy(src, dst);
    stop("copy", t0);
  }

  @Override
  public void fill(DeviceArray dst, double value) {
    long t0 = start();
    inner.fill(dst, value);
    stop("fill", t0);
  }

  @Override
  public int liveArrays() {
    return inner.liveArrays();
  }

  @Override
  public void synchronize() {
    long t0 = start();
    inner.synchronize();
    stop("synchronize", t0);
  }

  @Override
  public void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta, DeviceArray c) {
    long t0 = start();
    inner.gemm(transA, transB, alpha, a, b, beta, c);
    stop("gemm", t0);
  }

  @Override
  public void axpy(double alpha, DeviceArray x, DeviceArray y) {
    long t0 = start();
    inner.axpy(alpha, x, y);
    stop("axpy", t0);
  }

  @Override
  public void scale(double alpha, DeviceArray x) {
    long t0 = start();
    inner.scale(alpha, x);
    stop("scale", t0);
  }

  @Override
  public double dot(DeviceArray x, DeviceArray y) {
    long t0 = start();
    double r = inner.dot(x, y);
    stop("dot", t0);
    return r;
  }

  @Override
  public void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out) {
    long t0 = start();
    inner.columnSums(a, alpha, beta, out);
    stop("columnSums", t0);
  }

  @Override
  public void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst) {
    long t0 = start();
    inner.gatherRows(src, indices, offset, dst);
    stop("gatherRows", t0);
  }

  @Override
  public void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h) {
    long t0 = start();
    inner.biasActivationForward(z, bias, act, h);
    stop("biasActivationForward", t0);
  }

  @Override
  public void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA) {
    long t0 = start();
    inner.activationBackward(act, a, dH, dA);
    stop("activationBackward", t0);
  }

  @Override
  public void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs, DeviceArray dLogits, double scale, DeviceArray stats) {
    long t0 = start();
    inner.softmaxCrossEntropy(logits, labels, probs, dLogits, scale, stats);
    stop("softmaxCrossEntropy", t0);
  }

  @Override
  public void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean, DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean, DeviceArray invStd, DeviceArray y) {
    long t0 = start();
    inner.batchNormForward(x, gamma, beta, runningMean, runningVar, momentum, eps, training, mean, invStd, y);
    stop("batchNormForward", t0);
  }

  @Override
  public void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean, DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta) {
    long t0 = start();
    inner.batchNormBackward(x, dY, gamma, mean, invStd, dX, dGamma, dBeta);
    stop("batchNormBackward", t0);
  }

  @Override
  public void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr, double momentum) {
    long t0 = start();
    inner.sgdUpdate(param, grad, velocity, lr, momentum);
    stop("sgdUpdate", t0);
  }

  @Override
  public void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr, double beta1, double beta2, double eps, long t) {
    long t0 = start();
    inner.adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, t);
    stop("adamUpdate", t0);
  }

  @Override
  public void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu) {
    long t0 = start();
    inner.nuCoefficients(act, a, omega, nu);
    stop("nuCoefficients", t0);
  }

  @Override
  public void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g) {
    long t0 = start();
    inner.sharedMetricUpdate(h, lambda, g);
    stop("sharedMetricUpdate", t0);
  }

  @Override
  public void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g) {
    long t0 = start();
    inner.perNeuronMetricUpdate(h, nu, lambda, g);
    stop("perNeuronMetricUpdate", t0);
  }

  @Override
  public void addDiagonal(DeviceArray g, double value) {
    long t0 = start();
    inner.addDiagonal(g, value);
    stop("addDiagonal", t0);
  }

  @Override
  public int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv) {
    long t0 = start();
    int[] r = inner.batchedInverse(g, epsRel, epsAbs, ginv);
    stop("batchedInverse", t0);
    return r;
  }

  @Override
  public long deviceFreeBytes() {
    return inner.deviceFreeBytes();
  }

  @Override
  public void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv,
      DeviceArray failures) {
    long t0 = start();
    inner.refreshInverses(g, epsRel, epsAbs, ginv, failures);
    stop("refreshInverses", t0);
  }

  @Override
  public void softmaxNuCoefficients(DeviceArray a, DeviceArray nu) {
    long t0 = start();
    inner.softmaxNuCoefficients(a, nu);
    stop("softmaxNuCoefficients", t0);
  }

  @Override
  public void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta, DeviceArray out) {
    long t0 = start();
    inner.perNeuronPrecondition(ginv, grad, alpha, beta, out);
    stop("perNeuronPrecondition", t0);
  }

  @Override
  public void close() {
    inner.close();
  }

  // Fused operations: forwarded as one call so the wrapped backend keeps its fused path. captureStep is
  // not forwarded: a profiled step runs eagerly (synchronising after every call would break a capture).

  @Override
  public void sgdUpdateAll(java.util.List<DeviceArray> params, java.util.List<DeviceArray> grads,
      java.util.List<DeviceArray> velocities, double lr, double momentum) {
    long t0 = start();
    inner.sgdUpdateAll(params, grads, velocities, lr, momentum);
    stop("sgdUpdateAll", t0);
  }

  @Override
  public void adamUpdateAll(java.util.List<DeviceArray> params, java.util.List<DeviceArray> grads,
      java.util.List<DeviceArray> m, java.util.List<DeviceArray> v, double lr, double beta1, double beta2,
      double eps, long t) {
    long t0 = start();
    inner.adamUpdateAll(params, grads, m, v, lr, beta1, beta2, eps, t);
    stop("adamUpdateAll", t0);
  }

  @Override
  public void gatherBatch(DeviceArray features, DeviceArray labels, DeviceArray indices, int offset,
      DeviceArray x, DeviceArray y) {
    long t0 = start();
    inner.gatherBatch(features, labels, indices, offset, x, y);
    stop("gatherBatch", t0);
  }

  /**
   * Forwarded whole, so the profile times what the backend runs (a GPU's batched launch, the CPU engines'
   * cross-layer schedule), not the per-layer calls of the interface's default.
   */
  @Override
  public void metricUpdates(List<MetricUpdate> updates, double lambda) {
    long t0 = start();
    inner.metricUpdates(updates, lambda);
    stop("metricUpdates", t0);
  }

  /** Forwarded whole, as {@link #metricUpdates}. */
  @Override
  public void refreshInversesAll(List<DeviceArray> gs, List<DeviceArray> epsRels, double epsAbs,
      List<DeviceArray> ginvs, List<DeviceArray> failures) {
    long t0 = start();
    inner.refreshInversesAll(gs, epsRels, epsAbs, ginvs, failures);
    stop("refreshInversesAll", t0);
  }

  /** Forwarded whole, as {@link #metricUpdates}. */
  @Override
  public void preconditionLayers(List<DeviceArray> ginvs, List<DeviceArray> grads, double alpha, double beta,
      List<DeviceArray> outs) {
    long t0 = start();
    inner.preconditionLayers(ginvs, grads, alpha, beta, outs);
    stop("preconditionLayers", t0);
  }

  @Override
  public void perNeuronMetricUpdateFromPreActivations(DeviceArray h, Activation act, DeviceArray a,
      double omega, double lambda, DeviceArray nu, DeviceArray g) {
    long t0 = start();
    inner.perNeuronMetricUpdateFromPreActivations(h, act, a, omega, lambda, nu, g);
    stop("perNeuronMetricUpdateFromPreActivations", t0);
  }
}
