package org.rfim4j.backend.cpu;

/**
 * The first-order optimizer updates of the {@link CpuBackend32}: SGD (with or without momentum) and Adam
 * over float slices. Each element's update is evaluated in double from the float state and rounded once
 * per stored value (velocity, moments, parameter); the parameter step uses the unrounded moments.
 * Chunked over the threads like {@link OptimizerOps} ({@link OptimizerOps.Chunks}); every element is
 * independent, so the split never changes a result. Arguments are checked by the facade.
 */
final class OptimizerOps32 {

  private OptimizerOps32() {}

  /** {@link OptimizerOps#sgd} on elements [from, to) of the float slices. */
  static void sgdRange(CpuArray32 P, CpuArray32 G, CpuArray32 V, double lr, double momentum, int from,
      int to) {
    float[] pd = P.data;
    float[] gd = G.data;
    int po = P.offset;
    int go = G.offset;
    if (V == null) {
      for (int i = from; i < to; i++) {
        pd[po + i] = (float) (pd[po + i] - lr * gd[go + i]);
      }
      return;
    }
    float[] vd = V.data;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      double v = momentum * vd[vo + i] + gd[go + i];
      vd[vo + i] = (float) v;
      pd[po + i] = (float) (pd[po + i] - lr * v);
    }
  }

  /** {@link OptimizerOps#adam} on elements [from, to) of the float slices. */
  static void adamRange(CpuArray32 P, CpuArray32 G, CpuArray32 M, CpuArray32 V, double lr, double beta1,
      double beta2, double eps, long t, int from, int to) {
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    double a1 = 1 - beta1;
    double a2 = 1 - beta2;
    float[] pd = P.data;
    float[] gd = G.data;
    float[] md = M.data;
    float[] vd = V.data;
    int po = P.offset;
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      double g = gd[go + i];
      double mi = beta1 * md[mo + i] + a1 * g;
      double vi = beta2 * vd[vo + i] + a2 * g * g;
      md[mo + i] = (float) mi;
      vd[vo + i] = (float) vi;
      pd[po + i] = (float) (pd[po + i] - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
    }
  }
}
