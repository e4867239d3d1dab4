package org.rfim4j.rfim;

/** Which hidden-unit factor the two-layer RFIM uses (MATH.md section 5). */
public enum TwoLayerVariant {
  /**
   * Correct form (Definition 1 under a deterministic hidden layer): {@code G_ij = K_ij f'(a_i) f'(a_j)
   * x~x~^T}.
   */
  CORRECTED,
  /**
   * The formula as printed in the paper: {@code G_ij = K_ij nu(a_i) nu(a_j) x~x~^T}. It coincides with
   * {@link #CORRECTED} only when nu = f' (tanh, sigmoid, exact ReLU); it is wrong for ELU, smoothed
   * (P)ReLU and exact PReLU with iota &gt; 0. Kept for comparison only.
   */
  AS_PRINTED
}
