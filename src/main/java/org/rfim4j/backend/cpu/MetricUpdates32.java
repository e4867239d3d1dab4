package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;

/**
 * The RNGD metric updates of one {@link CpuBackend32}, G = (1 - lambda) G + (lambda / B) M, in the form
 * the float64 engine uses with a native BLAS ({@link MetricUpdates}): the shared metric's Gram matrix
 * M = H~^T H~ on the support columns of the batch by one {@code sgemm} (Java path: the Java GEMM kernel), the per-neuron metrics by GEMMs whose beta is the moving average's keep (see
 * {@link #perNeuron}). The Gram products accumulate in float (as a float32 BLAS does); the shared
 * metric's moving average runs in float arithmetic with keep = 1 - lambda and add = lambda / B rounded to
 * float once (a relative change of at most 2^-24 in lambda), the same expression on both triangles, so a
 * symmetric metric stays exactly symmetric. (Evaluating each entry in double and rounding once measured
 * slower than the float64 engine: JDK 17 does not vectorise float/double conversions.) Arguments are
 * checked by the facade.
 */
final class MetricUpdates32 {

  private final GemmKernels32 gemm;
  private final ParallelBlocks parallel;
  private final Scratch32 scratch;
  private final SplitBlas blas;

  MetricUpdates32(GemmKernels32 gemm, ParallelBlocks parallel, Scratch32 scratch, SplitBlas blas) {
    this.gemm = gemm;
    this.parallel = parallel;
    this.scratch = scratch;
    this.blas = blas;
  }

  /** The shared metric update: g (D x D) from h (B x (D-1)). */
  void shared(CpuArray32 H, double lambda, CpuArray32 G) {
    if (gemm.netlib()) {
      sharedWork(H, lambda, G, 0).runAlone(parallel, blas.splits(), 0);
      return;
    }
    int b = H.rows();
    int d = H.cols() + 1;
    int[] cols = scratch.ints(2 * d);
    int u = supportOf(H, cols);
    float[] hu = gatherSupport(H, cols, u, scratch.sharedA(b * u + u));
    float[] s = scratch.sharedB(u * u + u);
    gemm.javaGemm(true, false, u, u, b, 1.0f, hu, 0, u, hu, 0, u, 0.0f, s, 0, u, false);
    sharedPass(G, d, cols, u, s, (float) (1 - lambda), (float) (lambda / b));
  }

  /**
   * The native shared update as a {@link LayerWork} of layer {@code layer} of a call (its buffers): the support
   * columns and their gather now, the u x u Gram matrix by {@code sgemm} in the first phase (split as
   * {@link SplitBlas} splits it), the moving-average pass over G as one second-phase block.
   */
  LayerWork sharedWork(CpuArray32 H, double lambda, CpuArray32 G, int layer) {
    int b = H.rows();
    int d = H.cols() + 1;
    int[] cols = scratch.layerInts(layer, 2 * d);
    int u = supportOf(H, cols);
    float[] hu = gatherSupport(H, cols, u, scratch.layer(layer, 0, b * u + u));  // + u: room for a split
    float[] s = scratch.layer(layer, 1, u * u + u);
    int parts = Math.max(1, blas.gemmParts("T", u, u, b, 0, u, hu.length));
    float kf = (float) (1 - lambda);
    float af = (float) (lambda / b);
    BLAS native_ = BLAS.getInstance();
    return LayerWork.gemmThenPass(parts, (part, slot) -> {
      // the u x u Gram matrix (only its upper triangle is read; see MetricUpdates.sharedMetricOnSupport)
      SplitBlas.sgemmPart(native_, part, parts, "N", "T", u, u, b, 1.0f, hu, 0, u, hu, 0, u, 0.0f, s, 0, u);
    }, () -> sharedPass(G, d, cols, u, s, kf, af));
  }

  /** The support columns of H~ = [h, 1] into cols (ascending, the constant column last); returns their count. */
  private static int supportOf(CpuArray32 H, int[] cols) {
    int n = H.cols();
    int u = VectorOps32.supportColumns(H.data, H.offset, n, H.rows(), n, cols, Integer.MAX_VALUE);
    cols[u++] = n;  // the constant column, last
    return u;
  }

  /** The u support columns of H~ gathered into hu (B x u, row-major); returns hu. */
  private static float[] gatherSupport(CpuArray32 H, int[] cols, int u, float[] hu) {
    int b = H.rows();
    VectorOps32.gatherColumns(H.data, H.offset, H.cols(), b, cols, u - 1, hu, u);
    for (int k = 0; k < b; k++) {
      hu[k * u + u - 1] = 1.0f;
    }
    return hu;
  }

  /**
   * One streaming pass over G, row by row, in float (as the float64 engine does in double): keep G, then
   * + add M on the support columns of support rows, M[x][y] read from the upper triangle of s (u x u) for
   * both (x, y) and (y, x) (see MetricUpdates.sharedMetricOnSupport).
   */
  private static void sharedPass(CpuArray32 G, int d, int[] cols, int u, float[] s, float kf, float af) {
    float[] gd = G.data;
    int go = G.offset;
    int next = 0;
    for (int x = 0; x < d; x++) {
      int row = go + x * d;
      for (int i = row, e = row + d; i < e; i++) {
        gd[i] *= kf;
      }
      if (next < u && cols[next] == x) {
        for (int cj = 0, sy = next; cj < next; cj++, sy += u) {
          int gi = row + cols[cj];
          gd[gi] = Math.fma(af, s[sy], gd[gi]);
        }
        int sx = next * u;
        for (int cj = next; cj < u; cj++) {
          int gi = row + cols[cj];
          gd[gi] = Math.fma(af, s[sx + cj], gd[gi]);
        }
        next++;
      }
    }
  }

  /**
   * The per-neuron metric updates: g (m x D x D) from h (B x (D-1)) and nu (B x m), the moving average as the
   * GEMMs' beta. With a native BLAS one {@code sgemm} per neuron, as {@link MetricUpdates} does natively:
   * G[i] = add S_i^T S_i + keep G[i], S_i the rows sqrt(nu[k][i]) h~_k. With the Java kernels one GEMM for
   * the layer in Khatri-Rao form: row k of Q (B x D^2) is h~_k h~_k^T in full and
   * G (m x D^2, row-major) = add nu^T Q + keep G. Entries (x, y) and (y, x) sum the same products in the
   * same order (in the Java kernel, and in OpenBLAS's), so a symmetric G stays exactly symmetric; a negative
   * coefficient counts as 0 in both.
   */
  void perNeuron(CpuArray32 H, CpuArray32 N, double lambda, CpuArray32 G) {
    int b = H.rows();
    int d = H.cols() + 1;
    int m = N.cols();
    int dd = d * d;
    if (gemm.netlib()) {
      perNeuronWork(H, N, lambda, G, 0).runAlone(parallel, blas.splits(), (long) m * b * dd);
      return;
    }
    int n = d - 1;
    float kf = (float) (1 - lambda);
    float af = (float) (lambda / b);
    float[] hd = H.data;
    float[] nd0 = N.data;
    float[] q = scratch.sharedA(b * dd);
    parallel.run(b, (long) b * dd * 4, (k, slot) -> {
      int row = H.offset + k * n;
      int o = k * dd;
      for (int x = 0; x < n; x++) {
        float hx = hd[row + x];
        for (int y = 0; y < n; y++) {
          q[o + y] = hx * hd[row + y];
        }
        q[o + n] = hx;
        o += d;
      }
      System.arraycopy(hd, row, q, o, n);
      q[o + n] = 1.0f;
    });
    // the coefficients as weights (negative ones count as 0), then row-major G (m x D^2) = add nu^T (m x B)
    // Q (B x D^2) + keep G
    float[] w = scratch.slotC(0, b * m);
    for (int j = 0; j < b * m; j++) {
      w[j] = weight(nd0[N.offset + j]);
    }
    gemm.javaGemm(true, false, m, dd, b, af, w, 0, m, q, 0, dd, kf, G.data, G.offset, dd, false);
  }

  /**
   * The native per-neuron update as a {@link LayerWork} of layer {@code layer} of a call: one second-phase
   * block per neuron, G[i] = add S_i^T S_i + keep G[i] by one {@code sgemm} (see {@link #perNeuron}); rows of
   * weight 0 with a finite h~_k add exact zeros and are left out, as in MetricUpdates.
   */
  LayerWork perNeuronWork(CpuArray32 H, CpuArray32 N, double lambda, CpuArray32 G, int layer) {
    int b = H.rows();
    int d = H.cols() + 1;
    int m = N.cols();
    int n = d - 1;
    int dd = d * d;
    float kf = (float) (1 - lambda);
    float af = (float) (lambda / b);
    float[] hd = H.data;
    float[] nd0 = N.data;
    int[] finite = VectorOps32.finiteRows(hd, H.offset, b, n, scratch.layerInts(layer, b));
    float[] ht = augmented(H, scratch.layer(layer, 0, b * d));
    BLAS native_ = BLAS.getInstance();
    return LayerWork.blocks(m, (i, slot) -> {
      float[] sa = scratch.slotA(slot, b * d);
      int rows = 0;
      for (int k = 0; k < b; k++) {
        float w = weight(nd0[N.offset + k * m + i]);
        if (w == 0 && finite[k] != 0) {
          continue;
        }
        float root = (float) Math.sqrt(w);  // correctly rounded
        scaledRow(ht, k * d, root, sa, rows++ * d, d);
      }
      int go = G.offset + i * dd;
      if (rows == 0) {
        for (int j = go; j < go + dd; j++) {
          G.data[j] *= kf;
        }
        return;
      }
      native_.sgemm("N", "T", d, d, rows, af, sa, 0, d, sa, 0, d, kf, G.data, go, d);
    });
  }

  /** H~ = [h, 1] (B x D, row-major) into buf; returns buf. */
  private static float[] augmented(CpuArray32 H, float[] buf) {
    int n = H.cols();
    int d = n + 1;
    for (int k = 0, b = H.rows(); k < b; k++) {
      System.arraycopy(H.data, H.offset + k * n, buf, k * d, n);
      buf[k * d + n] = 1.0f;
    }
    return buf;
  }

  /**
   * dst[to..to+d) = root * src[from..from+d). Written so that the JIT vectorises it: with equal offsets as one
   * loop over one index (two arrays at different offsets, which it cannot prove distinct, measured 3-4x slower:
   * 120 instead of 45 us for a layer of 80 neurons), otherwise as a copy and an in-place scaling.
   */
  static void scaledRow(float[] src, int from, float root, float[] dst, int to, int d) {
    if (from == to) {
      for (int x = to, e = to + d; x < e; x++) {
        dst[x] = root * src[x];
      }
    } else {
      System.arraycopy(src, from, dst, to, d);
      for (int x = to, e = to + d; x < e; x++) {
        dst[x] *= root;
      }
    }
  }

  /** {@link MetricUpdates#weight} in float. */
  static float weight(float nu) {
    return nu < 0 ? 0.0f : nu;
  }

  /** Adds {@code value} to the diagonal of each of the m matrices of the stack g (one rounding each). */
  static void addDiagonal(CpuArray32 G, int m, double value) {
    int d = G.cols();
    for (int i = 0; i < m; i++) {
      int off = G.offset + i * d * d;
      for (int j = 0; j < d; j++) {
        G.data[off + j * d + j] = (float) (G.data[off + j * d + j] + value);
      }
    }
  }
}
