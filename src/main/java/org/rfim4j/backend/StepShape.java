package org.rfim4j.backend;

/**
 * The shape of one kind of captured training step ({@link Backend#captureStep}): how many device operations of each
 * kind its CUDA graph holds (or, for a step that runs eagerly, its last run issued), and what one run costs the host:
 * synchronisations and bytes copied between host and device. For the cost model of docs/gpu-cost-model.md and the
 * launch-count tests.
 *
 * @param kind the step kind ({@code adam}, {@code rngd}, {@code rngd-refresh}, ...)
 * @param captured whether the step runs as a CUDA graph (the counts are then its nodes)
 * @param kernels kernel launches
 * @param gemms non-batched cuBLAS GEMMs
 * @param batchedGemms batched cuBLAS calls (strided or pointer-array GEMMs and triangular solves)
 * @param solverCalls cuSOLVER calls
 * @param memcpys device-side copies (memcpy nodes)
 * @param hostSyncs host synchronisations of one run (a captured step has none)
 * @param bytesToDevice bytes copied host to device per run (a graph's parameter block)
 * @param bytesToHost bytes copied device to host per run
 * @param graphNodes nodes of the instantiated graph as the driver reports them (a library call may be several
 *     kernels on a GPU and is one node on the simulator), or -1 when not captured
 * @param sideStreamNodes operations of {@link #nodes()} issued on a second stream (the RNGD refresh of large
 *     metrics), joined back before the parameter update that needs them
 * @param streamEvents forks to and joins from that stream (each an event record and a stream wait: dependency
 *     edges of a GPU graph, not work; the simulator's linear graph keeps each record as a node)
 */
public record StepShape(String kind, boolean captured, long kernels, long gemms, long batchedGemms,
    long solverCalls, long memcpys, long hostSyncs, long bytesToDevice, long bytesToHost, long graphNodes,
    long sideStreamNodes, long streamEvents) {

  /** cuBLAS calls: GEMMs and batched calls. */
  public long blas() {
    return gemms + batchedGemms;
  }

  /** Device operations (graph nodes as the backend issues them): kernels, cuBLAS and cuSOLVER calls, copies. */
  public long nodes() {
    return kernels + gemms + batchedGemms + solverCalls + memcpys;
  }
}
