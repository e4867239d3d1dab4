package org.rfim4j.train;

/**
 * One row of a learning curve. Losses are mean cross-entropy (without the L2 term); errors are
 * fractions in [0, 1]. Training figures are accumulated over the epoch's mini-batches in training mode,
 * as the steps happen; validation figures are a full pass over the validation set in inference mode.
 * {@code seconds} is the cumulative wall time spent in training steps (validation excluded).
 */
public record EpochResult(int epoch, double trainLoss, double trainError, double valLoss, double valError,
    double seconds) {

  /** CSV header matching {@link #toCsv()}. */
  public static final String CSV_HEADER = "epoch,train_loss,train_error,val_loss,val_error,seconds";

  public String toCsv() {
    return epoch + "," + trainLoss + "," + trainError + "," + valLoss + "," + valError + "," + seconds;
  }
}
