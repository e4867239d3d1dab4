package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels32.dot4Double;

import dev.ludovic.netlib.blas.BLAS;

/**
 * The per-neuron preconditioning of one {@link CpuBackend32}: column i of out = alpha ginv_i grad[:, i] +
 * beta out[:, i], one neuron per block: with a native BLAS one {@code sgemv} per neuron (float
 * accumulation; the column of grad copied first, so that out may be grad), otherwise Java dot products
 * accumulated in double and rounded once. Arguments are checked by the facade.
 */
final class Preconditioner32 {
  private final ParallelBlocks parallel;
  private final Scratch32 scratch;

  private final boolean nativeBlas;

  Preconditioner32(ParallelBlocks parallel, Scratch32 scratch, boolean nativeBlas) {
    this.parallel = parallel;
    this.scratch = scratch;
    this.nativeBlas = nativeBlas;
  }

  /** out (d x m) = alpha [ginv_i grad[:, i]]_i + beta out, for grad (d x m) and ginv (m x d x d). */
  void apply(CpuArray32 Gi, CpuArray32 Gr, double alpha, double beta, CpuArray32 O) {
    int d = Gr.rows();
    int m = Gr.cols();
    parallel.run(m, (long) m * d * d, (i, slot) -> {
      float[] xv = scratch.slotC(slot, d);
      float[] gd = Gi.data;
      for (int p = 0; p < d; p++) {
        xv[p] = Gr.data[Gr.offset + p * m + i];
      }
      int base = Gi.offset + i * d * d;
      if (nativeBlas) {
        float[] od = O.data;
        int o0 = O.offset + i;
        if (beta == 0) {
          for (int a = 0; a < d; a++) {
            od[o0 + a * m] = 0f;  // beta = 0 ignores prior contents, NaN included
          }
        }
        // row-major ginv_i is column-major ginv_i^T: "T" gives ginv_i x; out's column i has stride m
        BLAS.getInstance().sgemv("T", d, d, (float) alpha, gd, base, d, xv, 0, 1, (float) beta, od, o0, m);
        return;
      }
      for (int a = 0; a < d; a++) {
        double y = dot4Double(gd, base + a * d, xv, 0, d);
        int o = O.offset + a * m + i;
        O.data[o] = (float) (beta == 0 ? alpha * y : alpha * y + beta * O.data[o]);
      }
    });
  }
}
