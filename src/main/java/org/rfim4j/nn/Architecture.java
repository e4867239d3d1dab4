package org.rfim4j.nn;

/** Network architectures of the paper's experiments (MATH.md 8.1 and 8.4). */
public enum Architecture {
  /** Dense layers with the activation after each hidden layer. */
  PLAIN,
  /** Batch normalisation after the activation of every hidden layer ("BN after activation"). */
  BNA
}
