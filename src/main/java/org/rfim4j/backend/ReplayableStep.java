package org.rfim4j.backend;

/**
 * A training step made replayable by {@link Backend#captureStep}: each {@link #run()} performs the step once
 * (eagerly, or by launching a captured CUDA graph).
 */
public interface ReplayableStep extends AutoCloseable {

  /** Performs the step once. */
  void run();

  /** Whether the step is now served by a captured graph (false for eager backends and before capture). */
  boolean captured();

  /** Frees the graph, if any. */
  @Override
  void close();
}
