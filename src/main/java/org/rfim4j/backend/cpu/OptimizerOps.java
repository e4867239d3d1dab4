package org.rfim4j.backend.cpu;

/**
 * The first-order optimizer updates of the {@link CpuBackend}: SGD (with or without momentum) and Adam,
 * element-wise over the parameter's slice. Arguments are checked by the facade.
 *
 * <p>Each update is written over an index range shared by all its arrays ({@code [from, to)} with the
 * arrays at one common offset), the loop shape HotSpot's C2 compiles to SIMD code; slices at different
 * offsets take the scalar loop with per-array offsets. Both compute the same expression element by
 * element, so the results are identical. Every stored parameter, velocity and first moment goes through
 * {@link #ftz} (magnitudes below 2^-1000 become 0), and Adam's second moment has a floor far below eps^2, so
 * the updates never store subnormal values. Large updates are split into {@link #CHUNK}-element chunks run
 * on the backend's threads; the split never changes a result (every element is independent).
 */
final class OptimizerOps {

  /** Elements per parallel chunk of an update. */
  static final int CHUNK = 8192;

  /** {@link #ftz}'s shift: 1.5 x 2^-947, whose unit in the last place is 2^-999. */
  private static final double FTZ_SHIFT = 1.5 * 0x1p-947;

  /** The smallest |g| Adam squares: a2 g^2 stays a normal double for a2 = 1 - beta2 &ge; 2^-16. */
  static final double SQUARE_FLOOR = 0x1p-500;

  /**
   * x, with |x| &lt; 2^-1000 flushed to 0, branch-free so that the update loops stay vectorised:
   * {@code (x + s) - s} leaves every |x| &ge; 2^-892 unchanged; a value in between moves by at most one unit
   * in its last place or 2^-999, and no result is subnormal (sampled in every binade below 2^-700). x86 cores
   * take a slow path on subnormal operands and results: with L2, Adam pulls the weights of always-zero inputs
   * geometrically towards 0, and once they were subnormal a float64 run on random data went from 0.6 ms to
   * 5-8 ms per step after 14,000 steps ({@link OptimizerOps32#ftz} has the float32 case). The margin of
   * 2^22 above the subnormals keeps the products the next step forms normal too.
   */
  static double ftz(double x) {
    return (x + FTZ_SHIFT) - FTZ_SHIFT;
  }

  private OptimizerOps() {}

  /**
   * On elements [from, to) of the slices: param -= lr grad, or with a velocity v = momentum v + grad,
   * param -= lr v.
   */
  static void sgdRange(CpuArray P, CpuArray G, CpuArray V, double lr, double momentum, int from, int to) {
    int o = P.offset;
    if (V == null) {
      if (G.offset == o) {
        sgdAligned(P.data, G.data, lr, o + from, o + to);
        return;
      }
      for (int i = from; i < to; i++) {
        P.data[o + i] = ftz(P.data[o + i] - lr * G.data[G.offset + i]);
      }
      return;
    }
    if (G.offset == o && V.offset == o) {
      sgdMomentumAligned(P.data, G.data, V.data, lr, momentum, o + from, o + to);
      return;
    }
    for (int i = from; i < to; i++) {
      double v = ftz(momentum * V.data[V.offset + i] + G.data[G.offset + i]);
      V.data[V.offset + i] = v;
      P.data[o + i] = ftz(P.data[o + i] - lr * v);
    }
  }

  private static void sgdAligned(double[] p, double[] g, double lr, int from, int to) {
    for (int i = from; i < to; i++) {
      p[i] = ftz(p[i] - lr * g[i]);
    }
  }

  private static void sgdMomentumAligned(double[] p, double[] g, double[] vel, double lr, double momentum,
      int from, int to) {
    for (int i = from; i < to; i++) {
      double v = ftz(momentum * vel[i] + g[i]);
      vel[i] = v;
      p[i] = ftz(p[i] - lr * v);
    }
  }

  /**
   * One bias-corrected Adam step t (1-based) on elements [from, to) of the slices; |g| below {@link
   * #SQUARE_FLOOR} enters v as that floor (v then stays at least (1 - beta2) 2^-1000, far under eps^2).
   */
  static void adamRange(CpuArray P, CpuArray G, CpuArray M, CpuArray V, double lr, double beta1,
      double beta2, double eps, long t, int from, int to) {
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    int o = P.offset;
    if (G.offset == o && M.offset == o && V.offset == o) {
      adamAligned(P.data, G.data, M.data, V.data, lr, beta1, beta2, eps, c1, c2, o + from, o + to);
      return;
    }
    double a1 = 1 - beta1;
    double a2 = 1 - beta2;
    double[] pd = P.data;
    double[] gd = G.data;
    double[] md = M.data;
    double[] vd = V.data;
    int go = G.offset;
    int mo = M.offset;
    int vo = V.offset;
    for (int i = from; i < to; i++) {
      double g = gd[go + i];
      double ag = Math.max(Math.abs(g), SQUARE_FLOOR);
      double mi = ftz(beta1 * md[mo + i] + a1 * g);
      double vi = beta2 * vd[vo + i] + a2 * ag * ag;
      md[mo + i] = mi;
      vd[vo + i] = vi;
      pd[o + i] = ftz(pd[o + i] - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
    }
  }

  private static void adamAligned(double[] pd, double[] gd, double[] md, double[] vd, double lr,
      double beta1, double beta2, double eps, double c1, double c2, int from, int to) {
    double a1 = 1 - beta1;
    double a2 = 1 - beta2;
    for (int i = from; i < to; i++) {
      double g = gd[i];
      double ag = Math.max(Math.abs(g), SQUARE_FLOOR);
      double mi = ftz(beta1 * md[i] + a1 * g);
      double vi = beta2 * vd[i] + a2 * ag * ag;
      md[i] = mi;
      vd[i] = vi;
      pd[i] = ftz(pd[i] - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
    }
  }

  /** The chunks of a multi-tensor update: chunk c covers elements [from[c], to[c]) of tensor[c]. */
  static final class Chunks {
    final int[] tensor;
    final int[] from;
    final int[] to;

    private Chunks(int[] tensor, int[] from, int[] to) {
      this.tensor = tensor;
      this.from = from;
      this.to = to;
    }

    int count() {
      return tensor.length;
    }

    /** Splits tensors of the given sizes into chunks of at most {@link #CHUNK} elements. */
    static Chunks of(int[] sizes) {
      int n = 0;
      for (int s : sizes) {
        n += (s + CHUNK - 1) / CHUNK;
      }
      int[] tensor = new int[n];
      int[] from = new int[n];
      int[] to = new int[n];
      int c = 0;
      for (int k = 0; k < sizes.length; k++) {
        for (int f = 0; f < sizes[k]; f += CHUNK) {
          tensor[c] = k;
          from[c] = f;
          to[c] = Math.min(sizes[k], f + CHUNK);
          c++;
        }
      }
      return new Chunks(tensor, from, to);
    }
  }
}
