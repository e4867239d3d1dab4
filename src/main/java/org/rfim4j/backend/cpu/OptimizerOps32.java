package org.rfim4j.backend.cpu;

/**
 * The first-order optimizer updates of the {@link CpuBackend32}: SGD (with or without momentum) and Adam
 * in float arithmetic over float slices. The scalar factors (learning rate, momentum, Adam's betas and
 * bias corrections) are computed in double and rounded to float once per call; each element then takes a
 * few float operations (fused multiply-adds where the expression allows), so a stored value carries at
 * most three roundings. Float loops, which C2 compiles to SIMD code: the same updates evaluated per element
 * in double and rounded measured five times slower on JDK 17 (the float/double conversions are not
 * vectorised). Parameters, velocities and first moments go through {@link #ftz} (magnitudes below 2^-100
 * become 0) and Adam's second moment has a floor far below eps^2, so no stored value is subnormal. Chunked over the threads like {@link OptimizerOps} ({@link OptimizerOps.Chunks}); every
 * element is independent, so the split never changes a result. Arguments are checked by the facade.
 */
final class OptimizerOps32 {

  private OptimizerOps32() {}

  /** {@link #ftz}'s shift: 1.5 x 2^-76, whose unit in the last place is 2^-99. */
  private static final float FTZ_SHIFT = 1.5f * 0x1p-76f;

  /** The smallest |g| Adam squares: a2 g^2 stays a normal float for a2 = 1 - beta2 &ge; 2^-16. */
  static final float SQUARE_FLOOR = 0x1p-54f;

  /**
   * x, with |x| &lt; 2^-100 (8e-31) flushed to 0, branch-free so that the update loops stay vectorised:
   * {@code (x + s) - s} leaves every |x| &ge; 2^-50 (8.9e-16) unchanged; a value in between moves by at most
   * two units in its last place or 2^-98, and no result is subnormal (checked over all 2^32 floats). x86
   * cores take a slow path on subnormal operands and results, and the updates below would otherwise make
   * them: with L2, Adam pulls the weights of always-zero pixels geometrically towards 0, and float32 Adam on
   * MNIST slowed from 0.6 to 2.8 s per epoch within 12 epochs. The margin of 2^26 above the subnormals keeps
   * the products the next step forms (L2 times weight, a GEMM's terms) normal too. Such small values have no
   * effect on training.
   */
  static float ftz(float x) {
    return (x + FTZ_SHIFT) - FTZ_SHIFT;
  }

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
          pd[i] = ftz(Math.fma(nlr, gd[i], pd[i]));
        }
        return;
      }
      int go = G.offset;
      for (int i = from; i < to; i++) {
        pd[o + i] = ftz(Math.fma(nlr, gd[go + i], pd[o + i]));
      }
      return;
    }
    float[] vd = V.data;
    if (G.offset == o && V.offset == o) {
      for (int i = o + from, e = o + to; i < e; i++) {
        float v = ftz(Math.fma(mom, vd[i], gd[i]));
        vd[i] = v;
        pd[i] = ftz(Math.fma(nlr, v, pd[i]));
      }
      return;
    }
    int go = G.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      float v = ftz(Math.fma(mom, vd[vo + i], gd[go + i]));
      vd[vo + i] = v;
      pd[o + i] = ftz(Math.fma(nlr, v, pd[o + i]));
    }
  }

  /**
   * {@link OptimizerOps#adamRange} on elements [from, to) of the float slices: m = fma(b1, m, (1-b1) g),
   * v = fma(b2, v, (1-b2) g g), p -= (lr / c1) m / (sqrt(v / c2) + eps) with c1, c2 the bias corrections;
   * m and p through {@link #ftz}, and |g| below {@link #SQUARE_FLOOR} squared as that floor (v then stays a
   * normal float of at least (1 - beta2) 2^-108, far under eps^2).
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
        float ag = Math.max(Math.abs(g), SQUARE_FLOOR);
        float mi = ftz(Math.fma(b1, md[i], a1 * g));
        float vi = Math.fma(b2, vd[i], a2 * ag * ag);
        md[i] = mi;
        vd[i] = vi;
        pd[i] = ftz(pd[i] - step * mi / ((float) Math.sqrt(vi * ic2) + ep));
      }
      return;
    }
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      float g = gd[go + i];
      float ag = Math.max(Math.abs(g), SQUARE_FLOOR);
      float mi = ftz(Math.fma(b1, md[mo + i], a1 * g));
      float vi = Math.fma(b2, vd[vo + i], a2 * ag * ag);
      md[mo + i] = mi;
      vd[vo + i] = vi;
      pd[o + i] = ftz(pd[o + i] - step * mi / ((float) Math.sqrt(vi * ic2) + ep));
    }
  }
}
