package org.rfim4j.train;

/** A run ended early (divergence, or a listener asked to stop); what was written so far is kept. */
public final class TrainingStoppedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TrainingStoppedException(String reason) {
    super(reason);
  }
}
