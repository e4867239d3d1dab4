package org.rfim4j.rfim;

/**
 * The stochastic output model of a unit given its pre-activation {@code a}. The closed-form coefficient
 * {@code nu(a) = f'(a)^2 / V(a)} (MATH.md Lemma B) is exact only under the model named here.
 */
public enum NoiseModel {
  /** y in {-1,+1}, P(y=+1 | a) = (1 + tanh a)/2 = sigm(2a); mean tanh a, variance sech^2 a. */
  BERNOULLI_PM1,
  /** y in {0,1}, P(y=1 | a) = sigm(a); mean sigm a, variance s(1-s). */
  BERNOULLI_01,
  /** y ~ N(f(a), sigma^2) with fixed sigma (sigma = 1 for every family of the paper). */
  GAUSSIAN;

  /** True for the two Bernoulli models (finite outcome set). */
  public boolean isDiscrete() {
    return this != GAUSSIAN;
  }
}
