package org.rfim4j.nn;

/** What a trainable parameter is, so optimizers can treat kinds differently (RNGD steps BN by SGD). */
public enum ParameterRole {
  /** A dense layer's (fan-in + 1) x fan-out weight matrix, bias in the last row. */
  DENSE_WEIGHTS,
  /** A batch-norm scale (gamma). */
  BN_SCALE,
  /** A batch-norm shift (beta). */
  BN_SHIFT
}
