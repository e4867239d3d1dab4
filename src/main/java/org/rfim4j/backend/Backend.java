package org.rfim4j.backend;

import java.util.List;

/**
 * The device operations an MLP training step needs, over opaque {@link DeviceArray}s. Everything above
 * this seam (layers, loss, optimizers, trainer) is written once; {@code CpuBackend} is the float64
 * reference and every other backend is tested against it by the shared contract suite.
 *
 * <p>Conventions: arrays are row-major; a matrix argument is any array whose {@link DeviceArray#rows()}
 * and {@link DeviceArray#cols()} give the matrix shape; operations are asynchronous and ordered (on a GPU
 * they are queued on one stream), and only methods returning host data ({@link #download}, {@link #dot},
 * {@link #batchedInverse}) synchronise. Every method validates shapes before touching data and throws
 * {@link IllegalArgumentException} naming the argument.
 */
public interface Backend extends AutoCloseable {

  /** A short name such as {@code cpu} or {@code cuda:0 (NVIDIA H200)}. */
  String name();

  /** Element precision of device arrays in bits (64 for the CPU reference, 32 on GPUs). */
  int precisionBits();

  // ---------------------------------------------------------------- memory

  /** A new zero-filled array of the given shape (1 to 3 positive dimensions). */
  DeviceArray allocate(int... shape);

  /**
   * A view of rows {@code [from, to)} of a matrix (or of the leading dimension of a stack), sharing
   * storage. Closing the view does nothing.
   */
  DeviceArray rows(DeviceArray base, int from, int to);

  /** Copies host data into the array; {@code src.length} must equal the array size. */
  void upload(DeviceArray dst, double[] src);

  /** Copies host float data into the array; {@code src.length} must equal the array size. */
  void upload(DeviceArray dst, float[] src);

  /** Copies the array to the host (synchronises). */
  double[] download(DeviceArray src);

  /** dst = src (same size). */
  void copy(DeviceArray src, DeviceArray dst);

  /** Every element of dst = value. */
  void fill(DeviceArray dst, double value);

  /** Number of arrays allocated by this backend and not yet closed (views excluded); for leak checks. */
  int liveArrays();

  /** Waits until all queued work is done. */
  void synchronize();

  /**
   * Free memory of this backend's device in bytes, for checks before large allocations, or -1 when the
   * backend's arrays live on the JVM heap (the CPU backend) or the device cannot tell. A GPU backend asks its
   * driver.
   */
  default long deviceFreeBytes() {
    return -1;
  }

  // ---------------------------------------------------------------- dense algebra

  /**
   * C = alpha * op(A) op(B) + beta * C with op(X) = X or X^T, all row-major matrices.
   * As in BLAS, {@code beta == 0} ignores C's prior contents (NaN included); C must not overlap A or B.
   */
  void gemm(boolean transA, boolean transB, double alpha, DeviceArray a, DeviceArray b, double beta,
      DeviceArray c);

  /** y = alpha * x + y (same size). */
  void axpy(double alpha, DeviceArray x, DeviceArray y);

  /** x = alpha * x. */
  void scale(double alpha, DeviceArray x);

  /** Sum of x[i] * y[i] (synchronises). */
  double dot(DeviceArray x, DeviceArray y);

  /**
   * out[j] = alpha * sum_i a[i][j] + beta * out[j]; out has a.cols() elements. {@code beta == 0} ignores
   * out's prior contents.
   */
  void columnSums(DeviceArray a, double alpha, double beta, DeviceArray out);

  /**
   * Gathers rows: dst[k] = src[(int) indices[offset + k]] for k in [0, dst.rows()). Used for on-device
   * mini-batch selection from a shuffled index array. An index that is not an integer row of src is an
   * {@link IllegalArgumentException} where the backend can check it cheaply (the CPU backend does).
   */
  void gatherRows(DeviceArray src, DeviceArray indices, int offset, DeviceArray dst);

  // ---------------------------------------------------------------- layers

  /**
   * Adds the bias row to every row of {@code z} (in place, giving the pre-activation A) and writes
   * h = f(A). {@code h} may be {@code null} to skip the activation.
   */
  void biasActivationForward(DeviceArray z, DeviceArray bias, Activation act, DeviceArray h);

  /** dA = dH * f'(A), element-wise. {@code dA} may alias {@code dH}. */
  void activationBackward(Activation act, DeviceArray a, DeviceArray dH, DeviceArray dA);

  /**
   * Row-wise softmax cross-entropy. Writes probabilities, the gradient {@code dLogits = scale * (P -
   * onehot(labels))} (may be {@code null} to skip) and accumulates into {@code stats} (2 elements):
   * stats[0] += sum of -log P[k, y_k], stats[1] += number of rows whose argmax differs from the label.
   * Labels are class indices stored as array values.
   */
  void softmaxCrossEntropy(DeviceArray logits, DeviceArray labels, DeviceArray probs, DeviceArray dLogits,
      double scale, DeviceArray stats);

  /**
   * Batch normalisation of each column of x (B x n). Training mode uses batch statistics (biased
   * variance), saves {@code mean} and {@code invStd} for the backward pass, and updates the running
   * statistics as {@code run = momentum * run + (1 - momentum) * batch} (unbiased batch variance);
   * inference mode uses the running statistics. y = gamma * (x - mean) * invStd + beta.
   * In inference mode {@code mean} and {@code invStd} may be {@code null}; when given they receive the
   * running mean and {@code 1 / sqrt(runningVar + eps)}. With a batch of one row the running variance is
   * updated with the biased variance (0).
   */
  void batchNormForward(DeviceArray x, DeviceArray gamma, DeviceArray beta, DeviceArray runningMean,
      DeviceArray runningVar, double momentum, double eps, boolean training, DeviceArray mean,
      DeviceArray invStd, DeviceArray y);

  /**
   * Backward of training-mode batch norm: writes dX and dGamma, dBeta (overwritten, not accumulated).
   */
  void batchNormBackward(DeviceArray x, DeviceArray dY, DeviceArray gamma, DeviceArray mean,
      DeviceArray invStd, DeviceArray dX, DeviceArray dGamma, DeviceArray dBeta);

  // ---------------------------------------------------------------- first-order optimizers

  /**
   * SGD step. With {@code velocity == null}: p -= lr * g. Otherwise v = momentum * v + g; p -= lr * v.
   *
   * <p>The CPU engines store no subnormal values in state they update in place (x86 cores compute with
   * them on a slow path): results of magnitude below 2^-100 (float32) or 2^-1000 (float64) become 0 here, in
   * {@link #adamUpdate} (which also squares a |g| below 2^-54, or 2^-500, as that floor), in {@link #gemm} and
   * {@link #perNeuronPrecondition} with beta != 0 (RNGD's weight step), and in the metrics and inverses of
   * {@link #batchedInverse} and {@link #refreshInverses}. Values this small have no effect on training.
   */
  void sgdUpdate(DeviceArray param, DeviceArray grad, DeviceArray velocity, double lr, double momentum);

  /**
   * Adam step number {@code t} (1-based): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
   * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
   */
  void adamUpdate(DeviceArray param, DeviceArray grad, DeviceArray m, DeviceArray v, double lr,
      double beta1, double beta2, double eps, long t);

  /**
   * One SGD step over several parameters, the same as {@link #sgdUpdate} on each (param, grad, velocity)
   * triple in order; {@code velocities} is {@code null} for plain SGD. A GPU backend issues one launch.
   */
  default void sgdUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> velocities,
      double lr, double momentum) {
    for (int i = 0; i < params.size(); i++) {
      sgdUpdate(params.get(i), grads.get(i), velocities == null ? null : velocities.get(i), lr, momentum);
    }
  }

  /**
   * One Adam step over several parameters, the same as {@link #adamUpdate} on each (param, grad, m, v) in
   * order. A GPU backend issues one launch.
   */
  default void adamUpdateAll(List<DeviceArray> params, List<DeviceArray> grads, List<DeviceArray> m,
      List<DeviceArray> v, double lr, double beta1, double beta2, double eps, long t) {
    for (int i = 0; i < params.size(); i++) {
      adamUpdate(params.get(i), grads.get(i), m.get(i), v.get(i), lr, beta1, beta2, eps, t);
    }
  }

  /**
   * Mini-batch selection of features and labels together: {@code gatherRows(features, indices, offset, x)}
   * then {@code gatherRows(labels, indices, offset, y)}. A GPU backend issues one launch, and inside a
   * captured step ({@link #captureStep}) takes the offset from device memory, so it may change per replay.
   */
  default void gatherBatch(DeviceArray features, DeviceArray labels, DeviceArray indices, int offset,
      DeviceArray x, DeviceArray y) {
    gatherRows(features, indices, offset, x);
    gatherRows(labels, indices, offset, y);
  }

  /**
   * Wraps a training step (a fixed sequence of backend calls without host readbacks) so that it can be
   * replayed cheaply. The default runs {@code step} on every {@link ReplayableStep#run()}. A GPU backend
   * may capture it into a CUDA graph: the first run is eager (warm-up: workspaces grow, tables upload), the
   * second is captured and launched, later runs re-run {@code step}'s host code in a checking mode that
   * issues no work, then launch the graph. Host values that change per run are allowed only where an
   * operation says so ({@link #gatherBatch}'s offset, {@link #adamUpdateAll}'s t); any other difference from
   * the captured work throws {@link IllegalStateException}.
   *
   * @param kind a name for diagnostics (e.g. {@code adam}, {@code rngd-refresh})
   */
  default ReplayableStep captureStep(String kind, Runnable step) {
    return new ReplayableStep() {
      @Override
      public void run() {
        step.run();
      }

      @Override
      public boolean captured() {
        return false;
      }

      @Override
      public void close() {
      }
    };
  }

  /**
   * The shape of every step kind {@link #captureStep} has run so far, by kind (node counts by kind, host
   * synchronisations, bytes moved): empty for backends that do not count (the CPU ones).
   */
  default java.util.Map<String, StepShape> stepShapes() {
    return java.util.Map.of();
  }

  /**
   * RNGD per-neuron metric update from pre-activations: {@code nuCoefficients(act, a, omega, nu)} followed
   * by {@code perNeuronMetricUpdate(h, nu, lambda, g)}. A GPU backend fuses the coefficients into the Gram
   * workspace kernel (nu is then scratch and not written).
   */
  default void perNeuronMetricUpdateFromPreActivations(DeviceArray h, Activation act, DeviceArray a, double omega,
      double lambda, DeviceArray nu, DeviceArray g) {
    nuCoefficients(act, a, omega, nu);
    perNeuronMetricUpdate(h, nu, lambda, g);
  }

  // ---------------------------------------------------------------- RNGD (MATH.md section 8)

  /** nu[k][i] = ActivationMath.nu(act, a[k][i], omega) for pre-activations a (B x m). */
  void nuCoefficients(Activation act, DeviceArray a, double omega, DeviceArray nu);

  /**
   * Exponential moving average of linear-layer (shared) metrics: with H~ = [h, 1] (B x (n+1)),
   * G = (1 - lambda) G + lambda / B * H~^T H~. G is (n+1) x (n+1).
   */
  void sharedMetricUpdate(DeviceArray h, double lambda, DeviceArray g);

  /**
   * The weighted Gram update of every per-neuron metric of a layer in one call: for each neuron i,
   * G[i] = (1 - lambda) G[i] + lambda / B * sum_k nu[k][i] h~_k h~_k^T, with h~_k = [h_k, 1].
   * {@code g} is m x (n+1) x (n+1), {@code nu} is B x m. The coefficients are weights (every activation's
   * nu_f is >= 0, MATH.md): a negative nu[k][i] counts as 0 on every backend, a NaN propagates into G[i].
   */
  void perNeuronMetricUpdate(DeviceArray h, DeviceArray nu, double lambda, DeviceArray g);

  /**
   * The metric updates of several layers in one call, the same as running each in order
   * ({@link MetricUpdate#runOn}). A GPU backend builds every layer's Gram workspace in one launch and updates
   * metrics that are adjacent slices of one stack (layers of the same shape allocated together) with one batched
   * GEMM; the CPU engines run all layers as one parallel schedule over their threads (each layer's result bit for
   * bit its single-layer operation's).
   */
  default void metricUpdates(List<MetricUpdate> updates, double lambda) {
    for (MetricUpdate u : updates) {
      u.runOn(this, lambda);
    }
  }

  /**
   * RNGD preconditioning of several layers in one call: for each i, {@code outs[i] = alpha ginvs[i] grads[i] +
   * beta outs[i]}, with a D x D {@code ginvs[i]} (a shared metric: {@link #gemm}) or an m x D x D stack (per
   * neuron: {@link #perNeuronPrecondition}); the same as those calls in order. {@code beta == 0} ignores the
   * prior contents of out; out may be its grad itself. A GPU backend runs the small layers as one batched
   * matrix-vector launch.
   */
  default void preconditionLayers(List<DeviceArray> ginvs, List<DeviceArray> grads, double alpha, double beta,
      List<DeviceArray> outs) {
    if (ginvs == null || grads == null || outs == null || ginvs.size() != grads.size()
        || ginvs.size() != outs.size()) {
      throw new IllegalArgumentException("preconditionLayers needs one of ginvs, grads and outs per layer, got "
          + (ginvs == null ? "null" : ginvs.size()) + ", " + (grads == null ? "null" : grads.size()) + " and "
          + (outs == null ? "null" : outs.size()));
    }
    for (int i = 0; i < ginvs.size(); i++) {
      int[] s = ginvs.get(i).shape();
      int d = grads.get(i).rows();
      int m = grads.get(i).cols();
      boolean ok = s.length == 3 ? s[0] == m && s[1] == d && s[2] == d : s.length == 2 && s[0] == d && s[1] == d;
      if (!ok) {
        throw new IllegalArgumentException("ginvs[" + i + "] " + java.util.Arrays.toString(s) + " must be " + d
            + " x " + d + " (shared) or " + m + " x " + d + " x " + d + " (per neuron) for grads[" + i + "] "
            + java.util.Arrays.toString(grads.get(i).shape()));
      }
    }
    for (int i = 0; i < ginvs.size(); i++) {
      DeviceArray gi = ginvs.get(i);
      if (gi.shape().length == 3) {
        perNeuronPrecondition(gi, grads.get(i), alpha, beta, outs.get(i));
      } else if (grads.get(i) == outs.get(i)) {
        // gemm's C must not overlap B: through a copy
        try (DeviceArray tmp = allocate(grads.get(i).shape())) {
          copy(grads.get(i), tmp);
          gemm(false, false, alpha, gi, tmp, beta, outs.get(i));
        }
      } else {
        gemm(false, false, alpha, gi, grads.get(i), beta, outs.get(i));
      }
    }
  }

  /** Adds {@code value} to the diagonal of every matrix of a stack (or of one square matrix). */
  void addDiagonal(DeviceArray g, double value);

  /**
   * Inverts every matrix of a stack (m x D x D, or one D x D): symmetrises G, adds
   * {@code (epsRel[i] * trace(G_i) + epsAbs) I}, Cholesky-factorises and writes the inverse into
   * {@code ginv}. A matrix whose factorisation fails leaves its {@code ginv} slice untouched.
   * Synchronises.
   *
   * @param epsRel relative damping per matrix (length exactly m; m = 1 for a single matrix)
   * @return per-matrix status: 0 on success, otherwise the failing pivot (1-based, as LAPACK info)
   */
  int[] batchedInverse(DeviceArray g, double[] epsRel, double epsAbs, DeviceArray ginv);

  /**
   * The RNGD inverse refresh with the failure rule of MATH.md A11 kept on the device, so that it needs no
   * host synchronisation and can be captured into a CUDA graph: like {@link #batchedInverse}, with the
   * relative damping of matrix i read from {@code epsRel[i]} (a device vector of m entries). A matrix whose
   * trace or diagonal is not finite, or whose Cholesky factorisation fails (a real cuSOLVER need not flag
   * NaN pivots, so the backend checks the factor's diagonal too), keeps its previous {@code ginv} slice, has
   * {@code epsRel[i]} doubled (set to 1e-8 when it was 0) and adds 1 to {@code failures[0]}.
   *
   * <p>The default implementation reads the damping back to the host and synchronises; the CPU and CUDA
   * backends override it without any host round trip (on a GPU the count is exact up to 2^24 failures).
   *
   * @param epsRel relative damping per matrix, m entries, updated in place
   * @param failures a counter array of at least one element; element 0 is incremented per failed matrix
   */
  default void refreshInverses(DeviceArray g, DeviceArray epsRel, double epsAbs, DeviceArray ginv,
      DeviceArray failures) {
    double[] eps = download(epsRel);
    int[] status = batchedInverse(g, eps, epsAbs, ginv);
    int failed = 0;
    for (int i = 0; i < status.length; i++) {
      if (status[i] != 0) {
        failed++;
        eps[i] = eps[i] > 0 ? 2 * eps[i] : 1e-8;
      }
    }
    if (failed > 0) {
      upload(epsRel, eps);
      double[] f = download(failures);
      f[0] += failed;
      upload(failures, f);
    }
  }

  /**
   * {@link #refreshInverses} of several metrics at once, the same as calling it for each i in order with
   * {@code (gs[i], epsRels[i], epsAbs, ginvs[i], failures[i])}. A GPU backend inverts stacks that are adjacent slices
   * of one allocation (layers of one shape allocated together, with their damping vectors and one-element failure
   * counters adjacent too) as one batch; the CPU engines invert every layer's matrices in one parallel call, the
   * largest first.
   */
  default void refreshInversesAll(List<DeviceArray> gs, List<DeviceArray> epsRels, double epsAbs,
      List<DeviceArray> ginvs, List<DeviceArray> failures) {
    if (gs == null || epsRels == null || ginvs == null || failures == null || epsRels.size() != gs.size()
        || ginvs.size() != gs.size() || failures.size() != gs.size()) {
      throw new IllegalArgumentException("refreshInversesAll needs one of gs, epsRels, ginvs and failures per"
          + " layer");
    }
    for (int i = 0; i < gs.size(); i++) {
      refreshInverses(gs.get(i), epsRels.get(i), epsAbs, ginvs.get(i), failures.get(i));
    }
  }

  /**
   * Per-neuron RFIM coefficients of a softmax output layer (MATH.md 4.3, the diagonal blocks of
   * {@code diag(eta) - eta eta^T}): with {@code eta = softmax(a[k])} row by row,
   * {@code nu[k][i] = eta[k][i] (1 - eta[k][i])}. The default implementation computes on the host
   * (a GPU backend then synchronises).
   */
  default void softmaxNuCoefficients(DeviceArray a, DeviceArray nu) {
    if (a.rows() != nu.rows() || a.cols() != nu.cols()) {
      throw new IllegalArgumentException("softmaxNuCoefficients: nu " + java.util.Arrays.toString(nu.shape())
          + " must have the shape of a " + java.util.Arrays.toString(a.shape()));
    }
    double[] v = download(a);
    int m = a.cols();
    for (int k = 0; k < a.rows(); k++) {
      int o = k * m;
      double max = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < m; i++) {
        max = Math.max(max, v[o + i]);
      }
      double sum = 0;
      for (int i = 0; i < m; i++) {
        sum += Math.exp(v[o + i] - max);
      }
      for (int i = 0; i < m; i++) {
        double eta = Math.exp(v[o + i] - max) / sum;
        v[o + i] = eta * (1 - eta);
      }
    }
    upload(nu, v);
  }

  /**
   * Per-neuron preconditioning: out[:, i] = alpha * ginv[i] grad[:, i] + beta * out[:, i] for a gradient
   * D x m and a stack m x D x D. {@code beta == 0} ignores out's prior contents; {@code out} may be
   * {@code grad} itself.
   */
  void perNeuronPrecondition(DeviceArray ginv, DeviceArray grad, double alpha, double beta,
      DeviceArray out);

  @Override
  void close();
}
