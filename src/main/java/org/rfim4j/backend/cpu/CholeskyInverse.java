package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.ParallelBlocks.PARALLEL_FLOPS;
import static org.rfim4j.backend.cpu.TileKernels.dot4;
import static org.rfim4j.backend.cpu.TileKernels.dotTile;
import static org.rfim4j.backend.cpu.TileKernels.transpose;

import dev.ludovic.netlib.lapack.LAPACK;
import java.util.Arrays;
import org.netlib.util.intW;

/**
 * The batched inverse of one {@link CpuBackend}: ginv_i = (sym(G_i) + (epsRel_i tr G_i + epsAbs) I)^-1.
 * The Java path factorises with a row-oriented Cholesky, inverts the triangular factor and forms
 * X^T X in 4 x 4 tiles, one matrix per block (or, for few large matrices, each phase split across the
 * threads); with a native LAPACK it uses {@code dpotrf} + {@code dpotri}. Arguments are checked by the
 * facade.
 */
final class CholeskyInverse {

  /** Square blocks of the copy of an inverse's triangle onto both triangles, so the mirrored writes stay in cache. */
  static final int MIRROR_BLOCK = 64;

  /** Column block width of the parallel triangular inverse. */
  private static final int INV_COLS = 16;

  /** Native LAPACK for the batched inverse (NETLIB path and netlib loaded a native LAPACK). */
  private final boolean nativeLapack;
  private final ParallelBlocks parallel;
  private final Scratch scratch;

  /** LAPACK calls for a stack run one matrix per thread (the LAPACK is single-threaded; see SplitBlas). */
  private final boolean parallelNative;

  CholeskyInverse(boolean nativeLapack, ParallelBlocks parallel, Scratch scratch, boolean parallelNative) {
    this.nativeLapack = nativeLapack;
    this.parallel = parallel;
    this.scratch = scratch;
    this.parallelNative = parallelNative;
  }

  /**
   * Inverts the m matrices (d x d) of G into Gi; returns per matrix 0 or the 1-based failing pivot (Gi's
   * matrix is then left untouched).
   */
  int[] invert(CpuArray G, CpuArray Gi, int d, int m, double[] epsRel, double epsAbs) {
    int[] status = new int[m];
    if (nativeLapack) {
      inverseNative(G, Gi, d, m, epsRel, epsAbs, status);
      return status;
    }
    long flops = (long) d * d * d / 2;
    if (m >= parallel.threads() || !parallel.hasPool() || flops < PARALLEL_FLOPS) {
      // One matrix per block.
      parallel.run(m, m * flops, (i, slot) -> {
        double[] l = scratch.slotA(slot, d * d);
        double[] x = scratch.slotB(slot, d * d);
        status[i] = invertJava(G.data, G.offset + i * d * d, d, epsRel[i], epsAbs, l, x,
            scratch.tile(slot), Gi.data, Gi.offset + i * d * d);
      });
    } else {
      // Few large matrices: each phase after the (sequential) factorisation is split across threads.
      double[] l = scratch.slotA(0, d * d);
      double[] x = scratch.slotB(0, d * d);
      int colBlocks = (d + INV_COLS - 1) / INV_COLS;
      int rowBlocks = (d + 3) / 4;
      for (int i = 0; i < m; i++) {
        status[i] = cholesky(G.data, G.offset + i * d * d, d, epsRel[i], epsAbs, l);
        if (status[i] != 0) {
          continue;
        }
        parallel.run(colBlocks, flops / 3, (cb, slot) ->
            invertLower(l, x, d, cb * INV_COLS, Math.min(d, (cb + 1) * INV_COLS)));
        transpose(x, 0, d, d, d, l);
        int oOff = Gi.offset + i * d * d;
        parallel.run(rowBlocks, flops / 3, (ab, slot) ->
            upperProductRowBlock(l, d, ab, scratch.tile(slot), Gi.data, oOff));
      }
    }
    return status;
  }

  /**
   * LAPACK inversion: the symmetrised, damped lower triangle (as {@link #cholesky} builds it) is the
   * column-major upper triangle, factorised by dpotrf and inverted by dpotri in place in scratch, then
   * mirrored into ginv. A failing dpotrf reports its info (the 1-based pivot) and leaves ginv untouched.
   * A matrix with a non-finite entry goes through the Java routines, whose pivot test also catches NaN.
   */
  private void inverseNative(CpuArray g, CpuArray gi, int d, int m, double[] epsRel, double epsAbs,
      int[] status) {
    parallel.runIf(parallelNative, m, (long) m * d * d * d / 2, nativeMatrixBody(g, gi, d, epsRel, epsAbs, status));
  }

  /**
   * The native inverse of matrix i of the stack as a block on any thread (its own scratch slot), writing
   * status[i]; null without a native LAPACK. {@link #invert} runs it for every matrix, a cross-layer refresh
   * for the matrices of several stacks.
   */
  ParallelBlocks.BlockBody nativeMatrixBody(CpuArray g, CpuArray gi, int d, double[] epsRel, double epsAbs,
      int[] status) {
    if (!nativeLapack) {
      return null;
    }
    LAPACK lapack = LAPACK.getInstance();
    return (i, slot) -> {
      double[] l = scratch.slotA(slot, d * d);
      int gOff = g.offset + i * d * d;
      int oOff = gi.offset + i * d * d;
      if (!lowerDamped(g.data, gOff, d, epsRel[i], epsAbs, l)) {
        double[] x = scratch.slotB(slot, d * d);
        status[i] = invertJava(g.data, gOff, d, epsRel[i], epsAbs, l, x, scratch.tile(slot), gi.data, oOff);
        return;
      }
      intW info = new intW(0);
      lapack.dpotrf("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        return;
      }
      lapack.dpotri("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        return;
      }
      double[] o = gi.data;
      for (int x0 = 0; x0 < d; x0 += MIRROR_BLOCK) {
        int x1 = Math.min(d, x0 + MIRROR_BLOCK);
        for (int y0 = 0; y0 <= x0; y0 += MIRROR_BLOCK) {
          for (int x = x0; x < x1; x++) {
            for (int y = y0, e = Math.min(x + 1, y0 + MIRROR_BLOCK); y < e; y++) {
              double v = l[x * d + y];
              o[oOff + x * d + y] = v;
              o[oOff + y * d + x] = v;
            }
          }
        }
      }
    };
  }

  /**
   * The Java inverse of one matrix on the calling thread: {@link #cholesky} into {@code l}, then, when it
   * succeeds, X = L^-1 in {@code x} and out = X^T X (d x d at oOff). Returns 0 or the 1-based failing
   * pivot (out is then left untouched).
   */
  private static int invertJava(double[] g, int gOff, int d, double epsRel, double epsAbs, double[] l,
      double[] x, double[] tile, double[] out, int oOff) {
    int status = cholesky(g, gOff, d, epsRel, epsAbs, l);
    if (status == 0) {
      invertLower(l, x, d, 0, d);
      transpose(x, 0, d, d, d, l);
      for (int ab = 0, blocks = (d + 3) / 4; ab < blocks; ab++) {
        upperProductRowBlock(l, d, ab, tile, out, oOff);
      }
    }
    return status;
  }

  /**
   * Writes the lower triangle of sym(G) + (epsRel tr G + epsAbs) I into {@code l} (row-major d x d), the
   * matrix that {@link #cholesky} factorises and dpotrf is given; returns false if an entry written or the
   * damping is not finite.
   */
  private static boolean lowerDamped(double[] g, int gOff, int d, double epsRel, double epsAbs,
      double[] l) {
    double trace = 0;
    for (int j = 0; j < d; j++) {
      trace += g[gOff + j * d + j];
    }
    double damp = epsRel * trace + epsAbs;
    double check = damp;
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < i; j++) {
        double v = 0.5 * (g[gOff + i * d + j] + g[gOff + j * d + i]);
        l[i * d + j] = v;
        check += v * 0;
      }
      double v = g[gOff + i * d + i] + damp;
      l[i * d + i] = v;
      check += v * 0;
    }
    return check == check && !Double.isInfinite(damp);
  }

  /**
   * Cholesky factor L (lower triangle of {@code l}, row-major d x d) of sym(G) + (epsRel tr G + epsAbs) I.
   * Returns 0 or the 1-based failing pivot.
   */
  private static int cholesky(double[] g, int gOff, int d, double epsRel, double epsAbs, double[] l) {
    // Lower triangle of the symmetrised, damped matrix into l; a non-finite entry or damping (a trace that
    // is not finite) fails at the first pivot.
    if (!lowerDamped(g, gOff, d, epsRel, epsAbs, l)) {
      return 1;
    }
    // Row-oriented, in place in the lower triangle.
    for (int j = 0; j < d; j++) {
      int rj = j * d;
      double s = l[rj + j] - dot4(l, rj, l, rj, j);
      if (!(s > 0)) {
        return j + 1;
      }
      double ljj = Math.sqrt(s);
      l[rj + j] = ljj;
      double inv = 1.0 / ljj;
      int i = j + 1;
      // Four rows per pass share each load of row j.
      for (; i + 4 <= d; i += 4) {
        int r0 = i * d;
        int r1 = r0 + d;
        int r2 = r1 + d;
        int r3 = r2 + d;
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int p = 0; p < j; p++) {
          double v = l[rj + p];
          s0 = Math.fma(l[r0 + p], v, s0);
          s1 = Math.fma(l[r1 + p], v, s1);
          s2 = Math.fma(l[r2 + p], v, s2);
          s3 = Math.fma(l[r3 + p], v, s3);
        }
        l[r0 + j] = (l[r0 + j] - s0) * inv;
        l[r1 + j] = (l[r1 + j] - s1) * inv;
        l[r2 + j] = (l[r2 + j] - s2) * inv;
        l[r3 + j] = (l[r3 + j] - s3) * inv;
      }
      for (; i < d; i++) {
        int ri = i * d;
        l[ri + j] = (l[ri + j] - dot4(l, ri, l, rj, j)) * inv;
      }
    }
    return 0;
  }

  /**
   * Columns [c0, c1) of X = L^-1 (lower triangular; entries above the diagonal set to 0), row by row:
   * X[i][q] = -(sum_{q <= p < i} L[i][p] X[p][q]) / L[i][i] for q < i, X[i][i] = 1 / L[i][i]. Column
   * ranges are independent.
   */
  private static void invertLower(double[] l, double[] x, int d, int c0, int c1) {
    for (int i = 0; i < d; i++) {
      int ri = i * d;
      Arrays.fill(x, ri + c0, ri + c1, 0.0);
      if (i < c0) {
        continue;
      }
      int p = c0;
      // Four rows of X per pass: one load and store of X[i][q] per four multiply-adds. Entries of X[p]
      // right of its diagonal are zero, so the common column range of the four rows is safe.
      for (; p + 4 <= i; p += 4) {
        double w0 = -l[ri + p];
        double w1 = -l[ri + p + 1];
        double w2 = -l[ri + p + 2];
        double w3 = -l[ri + p + 3];
        int rp0 = p * d;
        int rp1 = rp0 + d;
        int rp2 = rp1 + d;
        int rp3 = rp2 + d;
        for (int q = c0, e = Math.min(c1, p + 4); q < e; q++) {
          double t = Math.fma(w0, x[rp0 + q], x[ri + q]);
          t = Math.fma(w1, x[rp1 + q], t);
          t = Math.fma(w2, x[rp2 + q], t);
          x[ri + q] = Math.fma(w3, x[rp3 + q], t);
        }
      }
      for (; p < i; p++) {
        double w = -l[ri + p];
        int rp = p * d;
        for (int q = c0, e = Math.min(c1, p + 1); q < e; q++) {
          x[ri + q] = Math.fma(w, x[rp + q], x[ri + q]);
        }
      }
      double inv = 1.0 / l[ri + i];
      for (int q = c0, e = Math.min(c1, i); q < e; q++) {
        x[ri + q] *= inv;
      }
      if (i < c1) {
        x[ri + i] = inv;
      }
    }
  }

  /**
   * Row block {@code ab} of out = X^T X given XT = X^T (upper triangular, row-major): out[a][b] = out[b][a]
   * = sum_{p >= b} XT[a][p] XT[b][p] for b >= a.
   */
  private static void upperProductRowBlock(double[] xt, int d, int ab, double[] tile, double[] out,
      int oOff) {
    int a0 = ab * 4;
    int na = Math.min(4, d - a0);
    for (int b0 = a0; b0 < d; b0 += 4) {
      int nb = Math.min(4, d - b0);
      dotTile(xt, a0 * d + b0, d, na, xt, b0 * d + b0, d, nb, d - b0, tile);
      for (int r = 0; r < na; r++) {
        int a = a0 + r;
        for (int q = 0; q < nb; q++) {
          int b = b0 + q;
          if (b >= a) {
            double v = tile[r * 4 + q];
            out[oOff + a * d + b] = v;
            out[oOff + b * d + a] = v;
          }
        }
      }
    }
  }

}
