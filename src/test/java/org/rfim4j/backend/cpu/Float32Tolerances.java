package org.rfim4j.backend.cpu;

/**
 * The contract tolerances of the float32 CPU engine ({@link CpuBackend32}), one per operation (that is,
 * per contract test), each derived from the engine's rounding with u = 2^-24 (float32 unit roundoff) and
 * the sizes the contract test uses; none was adjusted to make a test pass. The contract compares
 * {@code |actual - expected| <= tol * (scale + |expected|)} against a float64 reference computed from the
 * float values the backend holds, with scale the magnitude of the summed terms (the inner dimension k for
 * GEMM on inputs in [-1, 1], 1 for element-wise results).
 *
 * <ul>
 *   <li><b>One rounding</b> (2u): the layer operations are evaluated in double from float inputs and
 *       rounded once (|fl(x) - x| <= u |x|), reductions accumulate in double (dot, column sums, softmax,
 *       loss, batch-norm statistics, the preconditioning's dot products); 2u covers the tests that chain
 *       two stored results (the pre-activation then the activation, with |f'(a) a| <= |a|; mean and invStd
 *       then y).
 *   <li><b>Float axpy and scale</b> (3u): alpha is rounded to float (u), axpy is one fused multiply-add
 *       (u), scale one product (u); the contract test scales the axpy result by 1.9, so the bound is
 *       1.9 (u |alpha x| + u |e1|) + 2u |e2| <= 0.7u + 3u |e2| for |x| <= 1 and |alpha| = 0.37.
 *   <li><b>Optimizers</b> (4u): SGD and Adam run in float arithmetic (fused multiply-adds; the factors
 *       rounded to float once), so a stored moment carries up to three roundings of terms bounded by 1
 *       (u (|beta m| + 2 |(1 - beta) g| + |m'|) <= 1.1u + u |m'|), and the second step adds beta (<= 0.9)
 *       times the first step's error: below 4u (1 + |e|). The parameter's step is lr times a ratio
 *       with a few roundings, far below u |p| for the contract's lr = 0.01.
 *   <li><b>GEMM</b> ((k + 2) u, k the test's largest inner dimension): a float dot product of k terms has
 *       |error| <= gamma_k sum |a_p b_p| <= k u k / (1 - k u) for entries in [-1, 1] (Higham, Thm 3.5),
 *       i.e. at most about k u relative to the contract's scale k; plus the roundings of alpha op(A)op(B)
 *       and of adding beta C.
 *   <li><b>Metric updates</b> ((B + 2) u, B the test's largest batch): the Gram entry sums B float
 *       products of entries in [-1, 1] (each rounded once: (B + 1) u sum |terms| <= (B + 1) u B), scaled
 *       by lambda / B <= 1 / B; the float moving average fma(add, M, keep G) adds two roundings and those
 *       of keep and add (each relative u), about 3u |G| + u lambda |M| / B: within (B + 2) u for B >= 2.
 *   <li><b>Per-neuron preconditioning</b> ((d + 2) u, d = 81): with a native BLAS each column is one
 *       float {@code sgemv}, a dot product of d terms per entry: the GEMM bound with k = d and the
 *       contract's scale d.
 *   <li><b>Inverse</b> (u; the contract allows a residual |G Ginv - I| of 1e3 tol d): spotrf / spotri have
 *       a residual bounded by c d kappa(G) u (Higham, Thm 10.3 and 14.x); the test matrices
 *       (A A^T / d + 0.5 I, plus damping) have kappa(G) below 10, so c kappa <= 1e3 holds with a wide
 *       margin. The inverse is exactly symmetric (one triangle mirrored).
 *   <li>Exact operations (copy, fill of a float value, gather, views): 0 would do; u is given.
 * </ul>
 */
final class Float32Tolerances {
  /** float32 unit roundoff. */
  static final double U = 0x1p-24;

  private Float32Tolerances() {}

  /** The tolerance of the contract test {@code test} (a method name of BackendContractTest). */
  static double of(String test) {
    switch (test) {
      case "gemmAllTransposeCombinations":
        return (9 + 2) * U;  // k = 9
      case "gemmBetaZeroIgnoresPriorContents":
        return (6 + 2) * U;  // k = 6
      case "gemmWithAnImageLikeBatch":
        return (300 + 2) * U;  // k = 300 (and m <= 300 for X^T D)
      case "gemmOnViewsWithOffsets":
        return (20 + 2) * U;  // inner dimensions <= 20
      case "gemmPaperShapes":
        return (784 + 2) * U;  // k up to 784
      case "sharedMetricUpdate":
        return (50 + 2) * U;  // B up to 50
      case "perNeuronMetricUpdate":
        return (50 + 2) * U;  // B up to 50
      case "perNeuronPrecondition":
      case "perNeuronPreconditionBetaZeroIgnoresNaN":
        return (81 + 2) * U;  // d up to 81: a float sgemv row, as GEMM with k = d
      case "batchedInverseOfAStack":
      case "batchedInverseOfOneLargeMatrix":
      case "batchedInverseReportsFailuresAndLeavesThoseSlicesUntouched":
        return U;
      case "axpyScaleDot":
        return 3 * U;  // float axpy (alpha rounded, one fma) then float scale (alpha rounded, one product)
      case "sgdWithAndWithoutMomentum":
      case "adamTwoSteps":
      case "multiTensorUpdates":
        return 4 * U;  // float optimizer arithmetic, see the class comment
      default:
        return 2 * U;  // one rounding per element, reductions in double (see above)
    }
  }
}
