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
 */
public record TrainerConfig(int epochs, int batchSize, long shuffleSeed, int checkEvery, int evalBatch) {
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
