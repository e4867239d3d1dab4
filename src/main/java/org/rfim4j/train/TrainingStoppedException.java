package org.rfim4j.train;

/**
 * A run ended early (divergence, or a listener asked to stop); what was written so far is kept. The
 * message says which epoch was kept: {@link #keptEpoch()}, the last epoch the listeners saw.
 */
public final class TrainingStoppedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int keptEpoch;

  public TrainingStoppedException(String reason) {
    this(reason, -1);
  }

  public TrainingStoppedException(String reason, int keptEpoch) {
    super(reason);
    this.keptEpoch = keptEpoch;
  }

  /** The last complete epoch, the one the listeners (checkpoint, curves) saw last; 0 if none, -1 if unknown. */
  public int keptEpoch() {
    return keptEpoch;
  }
}
