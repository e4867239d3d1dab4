package org.rfim4j.backend.cpu;

/**
 * One layer's share of a call that updates several layers' RNGD metrics at once
 * ({@link CpuEngine#metricUpdates}), as numbered blocks in two phases: the call runs the first-phase blocks of
 * every layer, then the second-phase blocks of every layer, each phase as one parallel call whose blocks any
 * thread may take. Layers are independent, so one thread can stream through the large shared metric while
 * the other computes per-neuron GEMMs instead of each layer's serial part leaving a core idle. A block computes
 * the same thing on whichever thread runs it, so the result does not depend on the schedule, and it is the same
 * as the single-layer operation's, which runs the same blocks.
 */
interface LayerWork {

  /** Blocks of the first phase (a shared metric's split Gram GEMM); 0 for none. */
  int firstBlocks();

  /** Runs first-phase block {@code block} on thread slot {@code slot}. */
  void first(int block, int slot);

  /** Blocks of the second phase, which starts when every first-phase block of the call is done. */
  int secondBlocks();

  /** Runs second-phase block {@code block} on thread slot {@code slot}. */
  void second(int block, int slot);

  /** Whether a second-phase block is long (a whole metric's moving average) and should be started first. */
  boolean longSecondBlocks();

  /**
   * Runs this layer alone (the single-layer operation): the first phase over the threads, then the second
   * phase over the threads when {@code spread} and the work ({@code secondFlops} multiply-adds) is large enough
   * ({@link ParallelBlocks#runIf}), else on the calling thread.
   */
  default void runAlone(ParallelBlocks parallel, boolean spread, long secondFlops) {
    parallel.run(firstBlocks(), Long.MAX_VALUE, this::first);
    parallel.runIf(spread, secondBlocks(), secondFlops, this::second);
  }
}
