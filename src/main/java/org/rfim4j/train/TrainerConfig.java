package org.rfim4j.train;

/**
 * How a run iterates.
 *
 * @param epochs last epoch to run (epochs are numbered from 1)
 * @param batchSize mini-batch size (the paper uses 50); the last batch of an epoch may be smaller
 * @param shuffleSeed seed of the per-epoch shuffles; epoch e is shuffled with a generator derived from
 *     (shuffleSeed, e) alone, so a resumed run sees the same batches as an uninterrupted one
 * @param checkEvery steps between progress checks (running loss readout, divergence check)
 * @param evalBatch rows per forward pass when evaluating
 * @param cudaGraphs let the backend capture full-batch training steps into CUDA graphs and replay them
 *     ({@link org.rfim4j.backend.Backend#captureStep}; no effect on the CPU backend). Default true.
 */
public record TrainerConfig(int epochs, int batchSize, long shuffleSeed, int checkEvery, int evalBatch,
    boolean cudaGraphs) {

  public TrainerConfig(int epochs, int batchSize, long shuffleSeed, int checkEvery, int evalBatch) {
    this(epochs, batchSize, shuffleSeed, checkEvery, evalBatch, true);
  }

  /** This config with CUDA graphs on or off. */
  public TrainerConfig withCudaGraphs(boolean on) {
    return new TrainerConfig(epochs, batchSize, shuffleSeed, checkEvery, evalBatch, on);
  }

  public TrainerConfig {
    if (epochs < 0) {
      throw new IllegalArgumentException("epochs must be >= 0, got " + epochs);
    }
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
    }
    if (checkEvery <= 0 || evalBatch <= 0) {
      throw new IllegalArgumentException("checkEvery and evalBatch must be positive");
    }
  }

  public static TrainerConfig of(int epochs, int batchSize, long seed) {
    return new TrainerConfig(epochs, batchSize, seed, 100, Math.max(batchSize, 500));
  }
}
