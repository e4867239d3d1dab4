/**
 * Relative Fisher Information Metrics (Sun and Nielsen, ICML 2017) in pure Java, float64, on {@code
 * double[][]} matrices. Specification: {@code docs/math/MATH.md}.
 *
 * <p>Conventions: {@code x~ = (x, 1)} with the bias last; a layer's weights are (D+1) x m, column i is
 * neuron i; metrics act on {@code vec(W) = [w_1; ...; w_m]}.
 *
 * <p>Noise models assumed by the closed forms in {@link org.rfim4j.rfim.ClosedForms} (each is exact
 * only under its model, MATH.md sections 3-5):
 *
 * <ul>
 *   <li>single neuron / non-linear layer: the outputs are conditionally independent given the
 *       pre-activations; tanh uses Bernoulli +-1 (P(+1) = (1+tanh a)/2), sigmoid Bernoulli 0/1, and every
 *       other family (smoothed/exact (P)ReLU, ELU, identity, tanh_gauss) unit-variance Gaussian noise
 *       around its mean f(a); nu = f'^2 / Var(y|a) ({@link org.rfim4j.rfim.NeuronFamily});
 *   <li>linear layer: y ~ N(W^T x~, sigma^2 I), metric sigma^-2 I_m (x) x~x~^T (the paper's print sets
 *       sigma = 1);
 *   <li>softmax layer: categorical y with P(y=i) = softmax(W^T x~)_i; the metric is singular (kernel
 *       1_m (x) v);
 *   <li>two layers: deterministic hidden layer h = f(W^T x~), output pre-activations b = C^T h~, outputs
 *       conditionally independent with the output family's model; the corrected factor f'(a_i) f'(a_j)
 *       is the default, the paper's printed nu_i nu_j is {@link org.rfim4j.rfim.TwoLayerVariant#AS_PRINTED};
 *   <li>eq. (3) MLP FIM ({@link org.rfim4j.rfim.MlpFisher}): Bernoulli-sigmoid outputs; Theorem 3
 *       ({@link org.rfim4j.rfim.Theorem3}): genuinely stochastic Bernoulli-sigmoid hidden units.
 * </ul>
 *
 * <p>{@link org.rfim4j.rfim.FisherByDefinition} evaluates Definition 1 numerically (finite-difference
 * scores; exact sums, Gauss-Hermite or Monte Carlo expectations) to check any closed form;
 * {@link org.rfim4j.rfim.Rank} gives numerical ranks, eigenvalues and pseudo-inverses (LAPACK {@code dsyevr}); {@link org.rfim4j.rfim.RankTable} reproduces paper Section 4;
 * {@link org.rfim4j.rfim.RfimRequest} is the JSON front end of the {@code rfim} CLI command.
 */
package org.rfim4j.rfim;
