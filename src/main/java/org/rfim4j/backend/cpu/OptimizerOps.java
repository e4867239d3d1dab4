package org.rfim4j.backend.cpu;

/**
 * The first-order optimizer updates of the {@link CpuBackend}: SGD (with or without momentum) and Adam,
 * element-wise over the parameter's slice. Arguments are checked by the facade.
 */
final class OptimizerOps {

  private OptimizerOps() {}

  /** param -= lr grad, or with a velocity v = momentum v + grad, param -= lr v. */
  static void sgd(CpuArray P, CpuArray G, CpuArray V, double lr, double momentum) {
    if (V == null) {
      for (int i = 0; i < P.size; i++) {
        P.data[P.offset + i] -= lr * G.data[G.offset + i];
      }
      return;
    }
    for (int i = 0; i < P.size; i++) {
      double v = momentum * V.data[V.offset + i] + G.data[G.offset + i];
      V.data[V.offset + i] = v;
      P.data[P.offset + i] -= lr * v;
    }
  }

  /** One bias-corrected Adam step t (1-based). */
  static void adam(CpuArray P, CpuArray G, CpuArray M, CpuArray V, double lr, double beta1, double beta2,
      double eps, long t) {
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    double a1 = 1 - beta1;
    double a2 = 1 - beta2;
    double[] pd = P.data;
    double[] gd = G.data;
    double[] md = M.data;
    double[] vd = V.data;
    int po = P.offset;
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = 0, n = P.size; i < n; i++) {
      double g = gd[go + i];
      double mi = beta1 * md[mo + i] + a1 * g;
      double vi = beta2 * vd[vo + i] + a2 * g * g;
      md[mo + i] = mi;
      vd[vo + i] = vi;
      pd[po + i] -= lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
    }
  }
}
