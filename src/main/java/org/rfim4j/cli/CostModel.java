package org.rfim4j.cli;

import org.rfim4j.backend.StepShape;

/**
 * A latency model of a captured training step (docs/gpu-cost-model.md): at the paper's sizes a step is bound by how
 * many operations it launches and how often the host waits, not by arithmetic, so its time is modelled as a sum of
 * per-kind latencies. The figures are assumptions stated in docs/gpu-cost-model.md, to be checked on hardware
 * ({@code gpu-bench --shape} prints the measured replay time beside the model).
 *
 * @param name the GPU the figures are for
 * @param graphLaunchUs host cost of one graph launch plus the parameter-block upload before it
 * @param kernelUs one kernel node (launch gap plus a small kernel's run time)
 * @param gemmUs one small cuBLAS GEMM
 * @param batchedUs one batched cuBLAS call (strided-batched GEMM, batched triangular solve)
 * @param solverUs one cuSOLVER call (potrf, potri, potrfBatched at these sizes: several internal kernels)
 * @param memcpyUs one memcpy node
 * @param hostSyncUs one host synchronisation (the pipeline drains; the host waits and re-issues)
 * @param pcieBytesPerUs host-device bandwidth for the bytes a step copies
 */
public record CostModel(String name, double graphLaunchUs, double kernelUs, double gemmUs, double batchedUs,
    double solverUs, double memcpyUs, double hostSyncUs, double pcieBytesPerUs) {

  /** H100 (SXM or PCIe), CUDA 12/13: the assumptions of docs/gpu-cost-model.md. */
  public static final CostModel H100 = new CostModel("h100", 8, 2.5, 6, 8, 60, 2.5, 15, 20_000);

  /**
   * Modelled seconds of one run of a step of this shape. A step on a side stream overlaps the main stream's work
   * only where the graph lets it; the model does not credit the overlap (an upper bound).
   */
  public double stepSeconds(StepShape s) {
    double us = (s.captured() ? graphLaunchUs : 0)
        + s.kernels() * kernelUs + s.gemms() * gemmUs + s.batchedGemms() * batchedUs
        + s.solverCalls() * solverUs + s.memcpys() * memcpyUs + s.hostSyncs() * hostSyncUs
        + (s.bytesToDevice() + s.bytesToHost()) / pcieBytesPerUs;
    return us * 1e-6;
  }

  /**
   * Modelled seconds of an epoch of {@code steps} steps: with a refresh kind, one step in {@code refreshPeriod}
   * is a refresh step (t mod T == 0), the others normal steps.
   */
  public double epochSeconds(StepShape normal, StepShape refresh, int refreshPeriod, int steps) {
    if (refresh == null) {
      return steps * stepSeconds(normal);
    }
    long refreshes = (steps + refreshPeriod - 1) / refreshPeriod;
    return (steps - refreshes) * stepSeconds(normal) + refreshes * stepSeconds(refresh);
  }
}
