package org.rfim4j.backend.cpu;

/**
 * The first-order optimizer updates of the {@link CpuBackend32}: SGD (with or without momentum) and Adam
 * in float arithmetic over float slices. The scalar factors (learning rate, momentum, Adam's betas and
 * bias corrections) are computed in double and rounded to float once per call; each element then takes a
 * few float operations (fused multiply-adds where the expression allows), so a stored value carries at
 * most three roundings. Float loops, which C2 compiles to SIMD code: the same updates evaluated per element
 * in double and rounded measured five times slower on JDK 17 (the float/double conversions are not
 * vectorised). Chunked over the threads like {@link OptimizerOps} ({@link OptimizerOps.Chunks}); every
 * element is independent, so the split never changes a result. Arguments are checked by the facade.
 */
final class OptimizerOps32 {

  private OptimizerOps32() {}

  /**
   * {@link OptimizerOps#sgdRange} on elements [from, to) of the float slices: p = fma(-lr, g, p), or with a
   * velocity v = fma(momentum, v, g), p = fma(-lr, v, p).
   */
  static void sgdRange(CpuArray32 P, CpuArray32 G, CpuArray32 V, double lr, double momentum, int from,
      int to) {
    float nlr = (float) -lr;
    float mom = (float) momentum;
    float[] pd = P.data;
    float[] gd = G.data;
    int o = P.offset;
    if (V == null) {
      if (G.offset == o) {
        for (int i = o + from, e = o + to; i < e; i++) {
          pd[i] = Math.fma(nlr, gd[i], pd[i]);
        }
        return;
      }
      int go = G.offset;
      for (int i = from; i < to; i++) {
        pd[o + i] = Math.fma(nlr, gd[go + i], pd[o + i]);
      }
      return;
    }
    float[] vd = V.data;
    if (G.offset == o && V.offset == o) {
      for (int i = o + from, e = o + to; i < e; i++) {
        float v = Math.fma(mom, vd[i], gd[i]);
        vd[i] = v;
        pd[i] = Math.fma(nlr, v, pd[i]);
      }
      return;
    }
    int go = G.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      float v = Math.fma(mom, vd[vo + i], gd[go + i]);
      vd[vo + i] = v;
      pd[o + i] = Math.fma(nlr, v, pd[o + i]);
    }
  }

  /**
   * {@link OptimizerOps#adamRange} on elements [from, to) of the float slices: m = fma(b1, m, (1-b1) g),
   * v = fma(b2, v, (1-b2) g g), p -= (lr / c1) m / (sqrt(v / c2) + eps) with c1, c2 the bias corrections.
   */
  static void adamRange(CpuArray32 P, CpuArray32 G, CpuArray32 M, CpuArray32 V, double lr, double beta1,
      double beta2, double eps, long t, int from, int to) {
    float b1 = (float) beta1;
    float b2 = (float) beta2;
    float a1 = (float) (1 - beta1);
    float a2 = (float) (1 - beta2);
    float step = (float) (lr / (1 - Math.pow(beta1, t)));
    float ic2 = (float) (1 / (1 - Math.pow(beta2, t)));
    float ep = (float) eps;
    float[] pd = P.data;
    float[] gd = G.data;
    float[] md = M.data;
    float[] vd = V.data;
    int o = P.offset;
    if (G.offset == o && M.offset == o && V.offset == o) {
      for (int i = o + from, e = o + to; i < e; i++) {
        float g = gd[i];
        float mi = Math.fma(b1, md[i], a1 * g);
        float vi = Math.fma(b2, vd[i], a2 * g * g);
        md[i] = mi;
        vd[i] = vi;
        pd[i] -= step * mi / ((float) Math.sqrt(vi * ic2) + ep);
      }
      return;
    }
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      float g = gd[go + i];
      float mi = Math.fma(b1, md[mo + i], a1 * g);
      float vi = Math.fma(b2, vd[vo + i], a2 * g * g);
      md[mo + i] = mi;
      vd[vo + i] = vi;
      pd[o + i] -= step * mi / ((float) Math.sqrt(vi * ic2) + ep);
    }
  }
}
