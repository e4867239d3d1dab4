package org.rfim4j.backend.cpu;

import static org.rfim4j.backend.cpu.TileKernels.dot4;

/**
 * The per-neuron preconditioning of one {@link CpuBackend}: column i of out = alpha ginv_i grad[:, i] +
 * beta out[:, i], one neuron per block. Arguments are checked by the facade.
 */
final class Preconditioner {
  private final ParallelBlocks parallel;
  private final Scratch scratch;

  Preconditioner(ParallelBlocks parallel, Scratch scratch) {
    this.parallel = parallel;
    this.scratch = scratch;
  }

  /** out (d x m) = alpha [ginv_i grad[:, i]]_i + beta out, for grad (d x m) and ginv (m x d x d). */
  void apply(CpuArray Gi, CpuArray Gr, double alpha, double beta, CpuArray O) {
    int d = Gr.rows();
    int m = Gr.cols();
    parallel.run(m, (long) m * d * d, (i, slot) -> {
      double[] xv = scratch.slotC(slot, d);
      double[] gd = Gi.data;
      {
        for (int p = 0; p < d; p++) {
          xv[p] = Gr.data[Gr.offset + p * m + i];
        }
        int base = Gi.offset + i * d * d;
        for (int a = 0; a < d; a++) {
          double y = dot4(gd, base + a * d, xv, 0, d);
          int o = O.offset + a * m + i;
          O.data[o] = beta == 0 ? alpha * y : alpha * y + beta * O.data[o];
        }
      }
    });
  }
}
