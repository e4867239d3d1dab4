package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.MetricUpdates.EMA_BLOCK;

/**
 * The RNGD metric updates of one {@link CpuBackend32}, G = (1 - lambda) G + (lambda / B) M, in the form
 * the float64 engine uses with a native BLAS ({@link MetricUpdates}): the shared metric's Gram matrix
 * M = H~^T H~ on the support columns of the batch by one {@code ssyrk} (Java path: the upper tiles of the
 * Java GEMM kernel), the per-neuron metrics of a layer by one {@code sgemm} (Java path: the Java GEMM
 * kernel) in Khatri-Rao form, M (m x P) = nu^T Q with row k of Q the packed upper triangle of h~_k h~_k^T.
 * The Gram products accumulate in float (as a float32 BLAS does); the moving average runs in float
 * arithmetic with keep = 1 - lambda and add = lambda / B rounded to float once (a relative change of at
 * most 2^-24 in lambda), the same expression on both triangles, so a symmetric metric stays exactly
 * symmetric. (Evaluating each entry in double and rounding once measured slower than the float64 engine:
 * JDK 17 does not vectorise float/double conversions.) Arguments are checked by the facade.
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
    int b = H.rows();
    int d = H.cols() + 1;
    int n = d - 1;
    double keep = 1 - lambda;
    double add = lambda / b;
    int[] cols = scratch.ints(2 * d);
    int u = VectorOps32.supportColumns(H.data, H.offset, n, b, n, cols, Integer.MAX_VALUE);
    cols[u++] = n;  // the constant column, last
    float[] hu = scratch.sharedA(b * u + u);  // + u: room for SplitBlas's blocks
    VectorOps32.gatherColumns(H.data, H.offset, n, b, cols, u - 1, hu, u);
    for (int k = 0; k < b; k++) {
      hu[k * u + u - 1] = 1.0f;
    }
    float[] s = scratch.sharedB(u * u + u);
    if (gemm.netlib()) {
      // column-major lower triangle of Hu^T Hu = row-major upper triangle of s
      blas.ssyrkLower(u, b, hu, 0, u, s, 0, u);
    } else {
      gemm.javaGemm(true, false, u, u, b, 1.0f, hu, 0, u, hu, 0, u, 0.0f, s, 0, u, true);
    }
    // Mirror M_U's upper triangle into its lower one, in blocks.
    for (int c0 = 0; c0 < u; c0 += EMA_BLOCK) {
      for (int r0 = c0; r0 < u; r0 += EMA_BLOCK) {
        for (int ci = c0, c1 = Math.min(u, c0 + EMA_BLOCK); ci < c1; ci++) {
          for (int cj = Math.max(r0, ci + 1), r1 = Math.min(u, r0 + EMA_BLOCK); cj < r1; cj++) {
            s[cj * u + ci] = s[ci * u + cj];
          }
        }
      }
    }
    // One streaming pass over G, row by row, in float (as the float64 engine does in double): keep G,
    // then + add M on the support columns of support rows.
    float kf = (float) keep;
    float af = (float) add;
    float[] gd = G.data;
    int go = G.offset;
    int next = 0;
    for (int x = 0; x < d; x++) {
      int row = go + x * d;
      for (int i = row, e = row + d; i < e; i++) {
        gd[i] *= kf;
      }
      if (next < u && cols[next] == x) {
        int sx = next * u;
        for (int cj = 0; cj < u; cj++) {
          int gi = row + cols[cj];
          gd[gi] = Math.fma(af, s[sx + cj], gd[gi]);
        }
        next++;
      }
    }
  }

  /** The per-neuron metric updates: g (m x D x D) from h (B x (D-1)) and nu (B x m). */
  void perNeuron(CpuArray32 H, CpuArray32 N, double lambda, CpuArray32 G) {
    int b = H.rows();
    int d = H.cols() + 1;
    int m = N.cols();
    int n = d - 1;
    int p = d * (d + 1) / 2;
    double keep = 1 - lambda;
    double add = lambda / b;
    float[] q = scratch.sharedA(b * p);
    float[] hd = H.data;
    parallel.run(b, (long) b * p * 8, (k, slot) -> {
      int row = H.offset + k * n;
      int o = k * p;
      for (int x = 0; x < n; x++) {
        float hx = hd[row + x];
        int len = n - x;
        System.arraycopy(hd, row + x, q, o, len);
        for (int j = o, e = o + len; j < e; j++) {
          q[j] *= hx;
        }
        o += len;
        q[o++] = hx;
      }
      q[o] = 1.0f;
    });
    float[] mp = scratch.sharedB(m * p);
    if (gemm.netlib()) {
      float[] nd = N.data;
      int no = N.offset;
      if (blas.splits()) {
        nd = scratch.slotC(0, b * m + m);
        System.arraycopy(N.data, N.offset, nd, 0, b * m);
        no = 0;
      }
      blas.sgemm("N", "T", p, m, b, 1.0f, q, 0, p, nd, no, m, 0.0f, mp, 0, p);
    } else {
      // row-major M (m x P) = nu^T (m x B) Q (B x P)
      gemm.javaGemm(true, false, m, p, b, 1.0f, N.data, N.offset, m, q, 0, p, 0.0f, mp, 0, p, false);
    }
    int dd = d * d;
    int[] off = packedRowStarts(d);
    float kf = (float) keep;
    float af = (float) add;
    parallel.run(m, (long) m * dd, (i, slot) -> emaFromPacked(mp, i * p, off, d, kf, af, G.data,
        G.offset + i * dd));
  }

  private int[] packedOff = new int[0];

  private int[] packedRowStarts(int d) {
    if (packedOff.length < d) {
      packedOff = new int[d];
    }
    int o = 0;
    for (int x = 0; x < d; x++) {
      packedOff[x] = o;
      o += d - x;
    }
    return packedOff;
  }

  /**
   * G = keep G + add M for one matrix from its packed upper triangle, both triangles by the same float
   * expression fma(add, M, keep G) (two roundings), so a symmetric G stays exactly symmetric.
   */
  private static void emaFromPacked(float[] mp, int mOff, int[] off, int d, float keep, float add,
      float[] g, int gOff) {
    for (int x = 0; x < d; x++) {
      int row = gOff + x * d;
      int mx = mOff + x;
      for (int y = 0; y < x; y++) {
        g[row + y] = Math.fma(add, mp[mx + off[y] - y], keep * g[row + y]);
      }
      int base = mOff + off[x] - x;
      for (int y = x; y < d; y++) {
        g[row + y] = Math.fma(add, mp[base + y], keep * g[row + y]);
      }
    }
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
