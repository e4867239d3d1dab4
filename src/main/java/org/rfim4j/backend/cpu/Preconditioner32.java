package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels32.dot4Double;

/**
 * The per-neuron preconditioning of one {@link CpuBackend32}: column i of out = alpha ginv_i grad[:, i] +
 * beta out[:, i], one neuron per block, each dot product accumulated in double and rounded once.
 * Arguments are checked by the facade.
 */
final class Preconditioner32 {
  private final ParallelBlocks parallel;
  private final Scratch32 scratch;

  Preconditioner32(ParallelBlocks parallel, Scratch32 scratch) {
    this.parallel = parallel;
    this.scratch = scratch;
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
      for (int a = 0; a < d; a++) {
        double y = dot4Double(gd, base + a * d, xv, 0, d);
        int o = O.offset + a * m + i;
        O.data[o] = (float) (beta == 0 ? alpha * y : alpha * y + beta * O.data[o]);
      }
    });
  }
}
