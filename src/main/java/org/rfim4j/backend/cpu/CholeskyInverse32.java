package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.CholeskyInverse.MIRROR_BLOCK;

import dev.ludovic.netlib.lapack.JavaLAPACK;
import dev.ludovic.netlib.lapack.LAPACK;
import org.netlib.util.intW;

/**
 * The batched inverse of one {@link CpuBackend32}: ginv_i = (sym(G_i) + (epsRel_i tr G_i + epsAbs) I)^-1
 * by LAPACK {@code spotrf} + {@code spotri} in float32: the native LAPACK when netlib loaded one (NETLIB
 * path), otherwise netlib's Java LAPACK. The trace and the symmetrised, damped entries are computed in
 * double and rounded once; the factorisation and inverse run in float, so a matrix whose smallest
 * eigenvalue (after damping) is below about {@code d u ||G||} (u = 2^-24) can fail where float64 would
 * not. A matrix with a non-finite entry or damping fails at pivot 1 without calling LAPACK, and a factor
 * with a non-finite diagonal counts as failed too; a failed matrix leaves its ginv slice untouched.
 * Arguments are checked by the facade.
 */
final class CholeskyInverse32 {

  private final LAPACK lapack;
  private final ParallelBlocks parallel;
  private final Scratch32 scratch;
  /** One matrix per thread (a single-threaded native LAPACK, or the Java one). */
  private final boolean perThread;

  CholeskyInverse32(boolean nativeLapack, ParallelBlocks parallel, Scratch32 scratch, boolean splits) {
    this.lapack = nativeLapack ? LAPACK.getInstance() : JavaLAPACK.getInstance();
    this.parallel = parallel;
    this.scratch = scratch;
    this.perThread = splits || !nativeLapack;
  }

  /**
   * Inverts the m matrices (d x d) of G into Gi; returns per matrix 0 or the 1-based failing pivot (Gi's
   * matrix is then left untouched).
   */
  int[] invert(CpuArray32 G, CpuArray32 Gi, int d, int m, double[] epsRel, double epsAbs) {
    int[] status = new int[m];
    parallel.runIf(perThread, m, (long) m * d * d * d / 2, matrixBody(G, Gi, d, epsRel, epsAbs, status));
    return status;
  }

  /**
   * The inverse of matrix i of the stack as a block on any thread (its own scratch slot), writing status[i];
   * {@link #invert} runs it for every matrix, a cross-layer refresh for the matrices of several stacks.
   */
  ParallelBlocks.BlockBody matrixBody(CpuArray32 G, CpuArray32 Gi, int d, double[] epsRel, double epsAbs,
      int[] status) {
    return (i, slot) -> {
      float[] l = scratch.slotA(slot, d * d);
      int gOff = G.offset + i * d * d;
      int oOff = Gi.offset + i * d * d;
      if (!lowerDamped(G.data, gOff, d, epsRel[i], epsAbs, l)) {
        status[i] = 1;
        return;
      }
      intW info = new intW(0);
      lapack.spotrf("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        return;
      }
      for (int j = 0; j < d; j++) {
        float v = l[j * d + j];
        if (!(v > 0) || v == Float.POSITIVE_INFINITY) {
          status[i] = j + 1;
          return;
        }
      }
      lapack.spotri("U", d, l, 0, d, info);
      if (info.val != 0) {
        status[i] = info.val;
        return;
      }
      float[] o = Gi.data;
      for (int x0 = 0; x0 < d; x0 += MIRROR_BLOCK) {
        int x1 = Math.min(d, x0 + MIRROR_BLOCK);
        for (int y0 = 0; y0 <= x0; y0 += MIRROR_BLOCK) {
          for (int x = x0; x < x1; x++) {
            for (int y = y0, e = Math.min(x + 1, y0 + MIRROR_BLOCK); y < e; y++) {
              float v = l[x * d + y];
              o[oOff + x * d + y] = v;
              o[oOff + y * d + x] = v;
            }
          }
        }
      }
    };
  }

  /**
   * Writes the lower triangle of sym(G) + (epsRel tr G + epsAbs) I into {@code l} (row-major d x d, the
   * column-major upper triangle LAPACK factorises), each entry evaluated in double and rounded once, the
   * trace summed in double; returns false if an entry written or the damping is not finite.
   */
  private static boolean lowerDamped(float[] g, int gOff, int d, double epsRel, double epsAbs, float[] l) {
    double trace = 0;
    for (int j = 0; j < d; j++) {
      trace += g[gOff + j * d + j];
    }
    double damp = epsRel * trace + epsAbs;
    float check = 0;
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < i; j++) {
        float v = (float) (0.5 * ((double) g[gOff + i * d + j] + g[gOff + j * d + i]));
        l[i * d + j] = v;
        check += v * 0;
      }
      float v = (float) (g[gOff + i * d + i] + damp);
      l[i * d + i] = v;
      check += v * 0;
    }
    return check == check && Double.isFinite(damp);
  }
}
