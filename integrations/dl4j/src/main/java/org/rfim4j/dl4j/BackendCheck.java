package org.rfim4j.dl4j;

import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * A check that rfim4j's CPU backend inverts metrics correctly inside this JVM, before RNGD relies on it.
 *
 * <p>Why: ND4J 1.0.0-M2.1 loads its own OpenBLAS 0.3.19 (JavaCPP's {@code openblas_nolapack}) into the global
 * symbol scope. On AVX-512 CPUs that build's SkylakeX kernels make {@code dpotrf} (Cholesky) fail or return
 * garbage, and the system OpenBLAS that rfim4j's CPU backend calls through netlib binds its internal kernels to
 * the ND4J copy, so rfim4j's native Cholesky breaks too once ND4J is loaded (measured: info > 0 from n = 50 on,
 * while the same call without ND4J, or with {@code OPENBLAS_CORETYPE=Haswell}, is correct). An RNGD whose
 * inversions fail keeps its previous inverses (MATH.md A11) and quietly degrades to nearly plain SGD.
 *
 * <p>The check builds, for each metric size of the network, a shared metric {@code G = X~^T X~ / B} from random
 * data (lambda 1, no damping, refresh at step 0), preconditions {@code G v} and compares the result with
 * {@code v}. Well-conditioned by construction (B = 2 x dimension, zero-mean inputs), so a correct inverse gives
 * a relative error near 1e-12; the threshold is 1e-6.
 */
final class BackendCheck {
  private BackendCheck() {}

  static final double TOLERANCE = 1e-6;

  /** The largest relative error of {@code G^-1 (G v)} against v over the dimensions {@code dims}. */
  static double inversionError(Backend backend, Iterable<Integer> dims) {
    double worst = 0;
    for (int d : dims) {
      worst = Math.max(worst, inversionError(backend, d));
    }
    return worst;
  }

  static double inversionError(Backend backend, int dim) {
    int fanIn = dim - 1;
    int rows = 2 * dim;
    SplittableRandom rng = new SplittableRandom(20170806L + dim);
    double[] x = new double[rows * fanIn];
    for (int i = 0; i < x.length; i++) {
      x[i] = rng.nextDouble(-1, 1);
    }
    double[] v = new double[dim];
    for (int i = 0; i < dim; i++) {
      v[i] = rng.nextDouble(-1, 1);
    }
    // grad = G v with G = X~^T X~ / B, X~ = [X, 1]
    double[] u = new double[rows];
    for (int k = 0; k < rows; k++) {
      double s = v[fanIn];
      for (int i = 0; i < fanIn; i++) {
        s += x[k * fanIn + i] * v[i];
      }
      u[k] = s;
    }
    double[] grad = new double[dim];
    for (int k = 0; k < rows; k++) {
      for (int i = 0; i < fanIn; i++) {
        grad[i] += x[k * fanIn + i] * u[k] / rows;
      }
      grad[fanIn] += u[k] / rows;
    }
    RngdConfig exact = RngdConfig.defaults(1).withLambda(1).withRefreshPeriod(1)
        .withDamping(RngdConfig.Damping.CANONICAL, 0);
    double[] out = new double[dim];
    try (RngdPreconditioner p = new RngdPreconditioner(backend, exact, rows,
        List.of(LayerSpec.shared("self-check", fanIn, 1)))) {
      p.observe("self-check", x, 0, null, 0, rows);
      p.precondition("self-check", grad, 0, out, 0);
    }
    double err = 0;
    double scale = 0;
    for (int i = 0; i < dim; i++) {
      err = Math.max(err, Math.abs(out[i] - v[i]));
      scale = Math.max(scale, Math.abs(v[i]));
    }
    double rel = err / scale;
    return Double.isNaN(rel) ? Double.POSITIVE_INFINITY : rel;
  }

  /**
   * Returns {@code backend} if it is not rfim4j's CPU backend or its inversions are correct for the metric
   * sizes {@code dims}; otherwise, if {@code owned}, closes it and returns a CPU backend on rfim4j's Java kernels
   * (saying so through {@code notices}), else throws naming the problem and the fix.
   */
  static Backend checked(Backend backend, boolean owned, List<LayerSpec> layers, Consumer<String> notices) {
    if (!(backend instanceof CpuBackend)) {
      return backend;
    }
    TreeSet<Integer> dims = new TreeSet<>();
    for (LayerSpec s : layers) {
      dims.add(s.dim());
    }
    double err = inversionError(backend, dims);
    if (err <= TOLERANCE) {
      return backend;
    }
    String why = "rfim4j's CPU backend (" + backend.name() + ") inverts metrics wrongly in this JVM (relative "
        + "error " + err + " on a self-check): ND4J's bundled OpenBLAS 0.3.19 is loaded, and on AVX-512 CPUs its "
        + "kernels break the native Cholesky. Start the JVM with the environment variable "
        + "OPENBLAS_CORETYPE=Haswell to keep native BLAS";
    if (!owned) {
      throw new IllegalStateException(why + ", or pass a CpuBackend(threads, CpuBackend.GemmPath.JAVA)");
    }
    backend.close();
    Backend java = new CpuBackend(Runtime.getRuntime().availableProcessors(), CpuBackend.GemmPath.JAVA);
    double again = inversionError(java, dims);
    if (!(again <= TOLERANCE)) {
      java.close();
      throw new IllegalStateException("rfim4j's CPU backend fails its inversion self-check with native BLAS and "
          + "with Java kernels (relative errors " + err + ", " + again + ")");
    }
    notices.accept(why + "; using rfim4j's Java kernels instead (" + java.name() + ", correct but slower)");
    return java;
  }
}
