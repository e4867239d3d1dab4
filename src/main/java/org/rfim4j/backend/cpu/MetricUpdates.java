package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels.dotTile;
import static org.rfim4j.backend.cpu.TileKernels.transpose;

import dev.ludovic.netlib.blas.BLAS;
import java.util.Arrays;

/**
 * The RNGD metric updates of one {@link CpuBackend}, G = (1 - lambda) G + (lambda / B) M with M the Gram
 * matrix of the augmented activations H~ = [h, 1] (shared metric) or of diag(nu_i) H~ and H~ (per-neuron
 * metrics), and the damping {@code addDiagonal}. The Java kernels compute the upper triangle of M in 4 x 4
 * tiles and apply the moving average to both triangles; with a native BLAS the Gram matrices come from
 * one {@code dgemm} on the batch's support columns (shared) or one {@code dgemm} per neuron with the moving
 * average as its beta (per-neuron). Arguments are checked by the facade.
 */
final class MetricUpdates {

  /** Native BLAS for the metric updates (NETLIB path and netlib loaded a native BLAS). */
  private final boolean nativeBlas;
  private final ParallelBlocks parallel;
  private final Scratch scratch;
  private final SplitBlas blas;

  MetricUpdates(boolean nativeBlas, ParallelBlocks parallel, Scratch scratch, SplitBlas blas) {
    this.nativeBlas = nativeBlas;
    this.parallel = parallel;
    this.scratch = scratch;
    this.blas = blas;
  }

  /** Writes H~^T = [h, 1]^T ((n+1) x B, row-major) for h (B x n) into a shared buffer. */
  private double[] augmentTransposed(CpuArray h) {
    int b = h.rows();
    int n = h.cols();
    double[] ut = scratch.sharedA((n + 1) * b);
    transpose(h.data, h.offset, n, b, n, ut);
    Arrays.fill(ut, n * b, (n + 1) * b, 1.0);
    return ut;
  }

  /** The shared metric update: g (D x D) from h (B x (D-1)). */
  void shared(CpuArray H, double lambda, CpuArray G) {
    int b = H.rows();
    int d = H.cols() + 1;
    double keep = 1 - lambda;
    double add = lambda / b;
    if (nativeBlas) {
      sharedWork(H, lambda, G, 0).runAlone(parallel, blas.splits(), 0);
      return;
    }
    double[] ut = augmentTransposed(H);
    int blocks = (d + 3) / 4;
    parallel.run(blocks, (long) b * d * d / 2,
        (ab, slot) -> gramEmaRowBlock(ab, d, b, ut, ut, keep, add, G.data, G.offset, scratch.tile(slot)));
  }

  /** The per-neuron metric updates: g (m x D x D) from h (B x (D-1)) and nu (B x m). */
  void perNeuron(CpuArray H, CpuArray N, double lambda, CpuArray G) {
    int b = H.rows();
    int d = H.cols() + 1;
    int m = N.cols();
    double keep = 1 - lambda;
    double add = lambda / b;
    if (nativeBlas) {
      perNeuronWork(H, N, lambda, G, 0).runAlone(parallel, blas.splits(), (long) m * b * d * d);
      return;
    }
    double[] ut = augmentTransposed(H);
    int blocks = (d + 3) / 4;
    parallel.run(m, (long) m * b * d * d / 2, (i, slot) -> {
      double[] tile = scratch.tile(slot);
      double[] tt = scratch.slotA(slot, d * b);
      double[] nd = N.data;
      {
        // S^T = (diag(nu_i) H~)^T: column k of H~^T scaled by nu[k][i].
        for (int a = 0; a < d; a++) {
          int ra = a * b;
          for (int k = 0; k < b; k++) {
            tt[ra + k] = ut[ra + k] * weight(nd[N.offset + k * m + i]);
          }
        }
        int gOff = G.offset + i * d * d;
        for (int ab = 0; ab < blocks; ab++) {
          gramEmaRowBlock(ab, d, b, tt, ut, keep, add, G.data, gOff, tile);
        }
      }
    });
  }

  /**
   * The native shared update as a {@link LayerWork} of layer {@code layer} of a call (its buffers):
   * M = H~^T H~ by one dgemm in the first phase (split as {@link SplitBlas} splits it), then
   * G = keep G + add M on both triangles from M's upper triangle as one second-phase block (so a symmetric G
   * stays exactly symmetric, as on the Java path, which uses the same expression). The dgemm runs on the
   * support of H~ = [h, 1], its columns with a non-zero (or NaN) entry in some row: M is zero outside them, and
   * in a mini-batch of images many columns are zero in every row (about 40% of MNIST's pixels in a batch of
   * 50). Dense data has every column in the support.
   */
  LayerWork sharedWork(CpuArray h, double lambda, CpuArray g, int layer) {
    int b = h.rows();
    int d = h.cols() + 1;
    int n = d - 1;
    int[] cols = scratch.layerInts(layer, 2 * d);
    int u = VectorOps.supportColumns(h.data, h.offset, n, b, n, cols, Integer.MAX_VALUE);
    cols[u++] = n;  // the constant column, last
    int nu = u;
    double[] hu = scratch.layer(layer, 0, b * u + u);  // + u: room for SplitBlas's blocks
    VectorOps.gatherColumns(h.data, h.offset, n, b, cols, u - 1, hu, u);
    for (int k = 0; k < b; k++) {
      hu[k * u + u - 1] = 1.0;  // the constant column
    }
    double[] s = scratch.layer(layer, 1, u * u + u);
    int parts = Math.max(1, blas.gemmParts("T", u, u, b, 0, u, hu.length));
    double keep = 1 - lambda;
    double add = lambda / b;
    return LayerWork.gemmThenPass(parts, (part, slot) -> {
      // The u x u Gram matrix by one dgemm; only its upper triangle is read, for both (x, y) and (y, x), so
      // G stays exactly symmetric (a GEMM's two triangles can differ in the last bit: a split GEMM computes
      // them in different calls). Reading the lower half across rows of s replaces the mirror pass a dsyrk
      // needed; the two forms measured the same time (MNIST, u about 480), this one with less code.
      SplitBlas.dgemmPart(part, parts, "N", "T", nu, nu, b, 1.0, hu, 0, nu, hu, 0, nu, 0.0, s, 0, nu);
    }, () -> sharedPass(g, d, cols, nu, s, keep, add));
  }

  /**
   * The shared update's pass on the u support columns {@code cols} of H~ (ascending), with s the u x u Gram
   * matrix M_U = H~_U^T H~_U (its upper triangle): G = keep G everywhere and G[x][y] += add M[x][y] on
   * U x U, streaming through G row by row. Entries outside U x U of M are exact zeros, and keep G + add M is
   * evaluated as round(round(keep G) + add M) either way, so G is the same as with a dense update (up to the
   * summation order inside the dgemm, and the sign of a zero).
   */
  private static void sharedPass(CpuArray g, int d, int[] cols, int u, double[] s, double keep, double add) {
    double[] gd = g.data;
    int go = g.offset;
    int next = 0;
    for (int x = 0; x < d; x++) {
      int row = go + x * d;
      for (int i = row, e = row + d; i < e; i++) {
        gd[i] = keep * gd[i];
      }
      if (next < u && cols[next] == x) {
        for (int cj = 0, sy = next; cj < next; cj++, sy += u) {
          gd[row + cols[cj]] += add * s[sy];
        }
        int sx = next * u;
        for (int cj = next; cj < u; cj++) {
          gd[row + cols[cj]] += add * s[sx + cj];
        }
        next++;
      }
    }
  }

  /**
   * The native per-neuron update as a {@link LayerWork} of layer {@code layer} of a call: one second-phase
   * block per neuron, each a dgemm on a block that stays in cache: with S_i the matrix of
   * rows sqrt(nu[k][i]) h~_k, G[i] = add S_i^T S_i + keep G[i] (alpha = add, beta = keep, so the moving
   * average is part of the call). S_i leaves out the rows of weight 0 whose h~_k is finite, since they add
   * exact zeros: with exact-ReLU coefficients supplied by the caller (nu in {0, 1}) that is a neuron's
   * inactive samples, and 80 neurons took 676 -> 404 us; the smoothed (P)ReLU coefficient of the training
   * engine is never 0, so it keeps every row. A non-finite h~_k stays in, so 0 x Inf still makes G NaN as on
   * the other paths. Entries (x, y)
   * and (y, x) sum the same products, in the same order in OpenBLAS's kernels, so a symmetric G stays
   * exactly symmetric there ({@code CpuBackendNativeAgreementTest} checks it; the inversion symmetrises its
   * input in any case). Each neuron's block is built and used at once (no B x D^2 Khatri-Rao matrix in
   * memory: on 784-80-80-80-10 that form measured 1.4x this one's time in training, and a packed triangle
   * plus a moving-average pass 1.9x). The square root costs one rounding per factor. A negative
   * coefficient counts as 0 ({@link #weight}), as on CUDA.
   */
  LayerWork perNeuronWork(CpuArray h, CpuArray nu, double lambda, CpuArray g, int layer) {
    int b = h.rows();
    int d = h.cols() + 1;
    int m = nu.cols();
    int n = d - 1;
    int dd = d * d;
    double keep = 1 - lambda;
    double add = lambda / b;
    double[] hd = h.data;
    double[] nd = nu.data;
    int[] finite = VectorOps.finiteRows(hd, h.offset, b, n, scratch.layerInts(layer, b));
    double[] ht = augmented(h, scratch.layer(layer, 0, b * d));
    BLAS native_ = BLAS.getInstance();
    return LayerWork.blocks(m, (i, slot) -> {
      double[] sa = scratch.slotA(slot, b * d);
      int rows = 0;
      for (int k = 0; k < b; k++) {
        double w = weight(nd[nu.offset + k * m + i]);
        if (w == 0 && finite[k] != 0) {
          continue;
        }
        scaledRow(ht, k * d, Math.sqrt(w), sa, rows++ * d, d);
      }
      int go = g.offset + i * dd;
      if (rows == 0) {
        for (int j = go; j < go + dd; j++) {
          g.data[j] = keep * g.data[j];
        }
        return;
      }
      // column-major S_i^T (D x rows, ld D) times its transpose: the D x D sum, symmetric
      native_.dgemm("N", "T", d, d, rows, add, sa, 0, d, sa, 0, d, keep, g.data, go, d);
    });
  }

  /** H~ = [h, 1] (B x D, row-major) into buf; returns buf. */
  private static double[] augmented(CpuArray h, double[] buf) {
    int n = h.cols();
    int d = n + 1;
    for (int k = 0, b = h.rows(); k < b; k++) {
      System.arraycopy(h.data, h.offset + k * n, buf, k * d, n);
      buf[k * d + n] = 1.0;
    }
    return buf;
  }

  /** {@link MetricUpdates32#scaledRow} in double: dst[to..to+d) = root * src[from..from+d), vectorised. */
  static void scaledRow(double[] src, int from, double root, double[] dst, int to, int d) {
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

  /** A coefficient as the weight it is: a negative one counts as 0, a NaN stays NaN (as on CUDA). */
  static double weight(double nu) {
    return nu < 0 ? 0.0 : nu;
  }

  /**
   * G[x][y] = keep * G[x][y] + v and, when y != x, G[y][x] = keep * G[y][x] + v (G row-major d x d at
   * gOff): one entry of the moving average, applied to both triangles.
   */
  private static void emaSymmetric(double[] g, int gOff, int d, int x, int y, double keep, double v) {
    int gxy = gOff + x * d + y;
    g[gxy] = keep * g[gxy] + v;
    if (y != x) {
      int gy = gOff + y * d + x;
      g[gy] = keep * g[gy] + v;
    }
  }

  /**
   * For row block {@code ab} (rows 4ab..4ab+3) of the upper triangle: M_xy = dot(left[x], right[y]) over
   * k < bsz (left, right: d x bsz row-major), then G_xy and G_yx = keep * G + add * M_xy for y >= x.
   */
  private static void gramEmaRowBlock(int ab, int d, int bsz, double[] left, double[] right, double keep,
      double add, double[] g, int gOff, double[] tile) {
    int a0 = ab * 4;
    int na = Math.min(4, d - a0);
    for (int b0 = a0; b0 < d; b0 += 4) {
      int nb = Math.min(4, d - b0);
      dotTile(left, a0 * bsz, bsz, na, right, b0 * bsz, bsz, nb, bsz, tile);
      for (int r = 0; r < na; r++) {
        int x = a0 + r;
        for (int q = 0; q < nb; q++) {
          int y = b0 + q;
          if (y < x) {
            continue;
          }
          emaSymmetric(g, gOff, d, x, y, keep, add * tile[r * 4 + q]);
        }
      }
    }
  }

  /** Adds {@code value} to the diagonal of each of the m matrices of the stack g. */
  static void addDiagonal(CpuArray G, int m, double value) {
    int d = G.cols();
    for (int i = 0; i < m; i++) {
      int off = G.offset + i * d * d;
      for (int j = 0; j < d; j++) {
        G.data[off + j * d + j] += value;
      }
    }
  }
}
