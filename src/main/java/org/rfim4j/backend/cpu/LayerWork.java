package org.rfim4j.backend.cpu;

/**
 * One layer's share of a call that updates several layers' RNGD metrics at once
 * ({@link CpuEngine#metricUpdates}), as numbered blocks in two phases: the call runs the first-phase blocks of
 * every layer, then the second-phase blocks of every layer, each phase as one parallel call whose blocks any
 * thread may take. Layers are independent, so one thread can stream through the large shared metric while
 * the other computes per-neuron GEMMs instead of each layer's serial part leaving a core idle. A block computes
 * the same thing on whichever thread runs it, so the result does not depend on the schedule, and it is the same
 * as the single-layer operation's, which runs the same blocks ({@link #runAlone}).
 */
final class LayerWork {

  private final int firstBlocks;
  private final ParallelBlocks.BlockBody first;
  private final int secondBlocks;
  private final ParallelBlocks.BlockBody second;
  private final boolean longSecondBlocks;

  private LayerWork(int firstBlocks, ParallelBlocks.BlockBody first, int secondBlocks,
      ParallelBlocks.BlockBody second, boolean longSecondBlocks) {
    this.firstBlocks = firstBlocks;
    this.first = first;
    this.secondBlocks = secondBlocks;
    this.second = second;
    this.longSecondBlocks = longSecondBlocks;
  }

  /**
   * A shared metric: its Gram GEMM in {@code parts} first-phase blocks (the column parts of a split GEMM), then
   * its moving-average pass as one long second-phase block.
   */
  static LayerWork gemmThenPass(int parts, ParallelBlocks.BlockBody gemm, Runnable pass) {
    return new LayerWork(parts, gemm, 1, (block, slot) -> pass.run(), true);
  }

  /** Per-neuron metrics: {@code n} independent second-phase blocks, one per neuron. */
  static LayerWork blocks(int n, ParallelBlocks.BlockBody body) {
    return new LayerWork(0, null, n, body, false);
  }

  /** Blocks of the first phase; 0 for none. */
  int firstBlocks() {
    return firstBlocks;
  }

  /** Runs first-phase block {@code block} on thread slot {@code slot}. */
  void first(int block, int slot) {
    first.run(block, slot);
  }

  /** Blocks of the second phase, which starts when every first-phase block of the call is done. */
  int secondBlocks() {
    return secondBlocks;
  }

  /** Runs second-phase block {@code block} on thread slot {@code slot}. */
  void second(int block, int slot) {
    second.run(block, slot);
  }

  /** Whether a second-phase block is long (a whole metric's moving average) and should be started first. */
  boolean longSecondBlocks() {
    return longSecondBlocks;
  }

  /**
   * Runs this layer alone (the single-layer operation): the first phase over the threads, then the second
   * phase over the threads when {@code spread} and the work ({@code secondFlops} multiply-adds) is large enough
   * ({@link ParallelBlocks#runIf}), else on the calling thread.
   */
  void runAlone(ParallelBlocks parallel, boolean spread, long secondFlops) {
    if (firstBlocks > 0) {
      parallel.run(firstBlocks, Long.MAX_VALUE, first);
    }
    parallel.runIf(spread, secondBlocks, secondFlops, second);
  }
}
