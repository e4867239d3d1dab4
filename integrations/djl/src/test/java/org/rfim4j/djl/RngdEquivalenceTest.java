package org.rfim4j.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;

/**
 * RNGD inside DJL takes the steps of rfim4j's own {@link org.rfim4j.optim.Rngd} on rfim4j's {@code Mlp} (CPU
 * backend, float64, architecture PLAIN, the same L2): same float32-representable start weights, same 7
 * mini-batches, both dampings, every activation. The network is 20-12-10-8-5 with the paper's metric kinds
 * (shared, per-neuron, per-neuron, shared), B = 16, and settings that make every part of the step matter within
 * 7 steps: T = 3 (inverses refreshed at t = 0, 3 and 6, so two refreshes from accumulated metrics), lambda = 0.3
 * (the metric leaves the identity at once), learning rate 0.3, beta = 0.05, inputs with mean 0.5 (so the bias
 * row and column of each metric couple with the weights).
 *
 * <h2>Tolerance</h2>
 * The measure is {@code max |W_djl - W_ref| / max |W_ref - W_0|} over all layers: the disagreement as a fraction
 * of how far training moved the weights. DJL computes the forward and backward passes in float32 (unit roundoff
 * u = 2^-24 = 6.0e-8), rounds the weights to float32 after every step and hands rfim4j float32 activations and
 * gradients; rfim4j works in float64 from there. Per step, the gradient and the recorded activations carry
 * relative errors of about n u with n <= 21 the longest dot product (fan-in + 1), i.e. up to about 1.3e-6; the
 * preconditioner multiplies them by at most the condition number of the damped metric, a few hundred at most here
 * (the identity's remaining weight, at least 0.7^7 = 0.08 after 7 steps, bounds the smallest eigenvalue from below,
 * since a batch of 16 cannot fill 21 dimensions; the largest is about the mean squared norm of the layer input,
 * about 26 for the first layer); seven steps add up to 7 such errors, and errors of earlier steps feed the later
 * forward passes. This crude bound is about 7 x 21 u x 300 = 3e-3; the measured disagreement is 3e-7 to 4e-7
 * (about 6 u), so it is very loose. {@value #TOL} sits more than two orders of magnitude above what was measured
 * and a factor 30 below the crude bound, and a factor of 400 below the smallest
 * real configuration difference checked here (the paper's damping in place of the canonical one, 4e-2), so it
 * neither flakes with float32 rounding nor lets a wrong step through. The metrics themselves (which depend on the
 * data and the float32 activations only) must agree to {@value #TOL_METRIC} of their largest entry (measured
 * 1e-8 to 1.2e-7).
 *
 * <h2>Wrong configurations</h2>
 * The comparison must fail (difference above the tolerance) for: L2 counted twice (given to RngdDjl and added to
 * the loss), L2 on the biases (added to the loss over every parameter instead of RngdDjl's {@code l2}), the other
 * damping, and step-first order in the reference.
 */
class RngdEquivalenceTest {
  static final double TOL = 1e-4;
  static final double TOL_METRIC = 1e-5;
  static final int STEPS = 7;

  static MlpConfig cfg(Activation act) {
    return Twins.config(20, new int[] {12, 10, 8}, 5, act, 0.05);
  }

  static RngdConfig rngd(RngdConfig.Damping d) {
    return RngdConfig.defaults(0.3).withLambda(0.3).withRefreshPeriod(3).withDamping(d, 1e-3);
  }

  static final List<Twins.Batch> BATCHES = Twins.batches(STEPS, 16, 20, 5, 11, 0.5);

  @BeforeAll
  static void offline() {
    DjlOffline.configure();
  }

  static double compare(String label, MlpConfig cfg, RngdConfig rc, RngdConfig refConfig, Twins.Mistake m) {
    List<double[]> w0 = Twins.weights(cfg, 0.4, 7);
    Twins.Result ref = Twins.reference(cfg, w0, refConfig, BATCHES);
    Twins.Result djl = Twins.djl(cfg, w0, rc, BATCHES, m);
    assertEquals(STEPS, ref.steps());
    assertEquals(STEPS, djl.steps());
    double d = Twins.relativeDifference(djl.weights(), ref.weights(), w0);
    double g = Twins.metricDifference(djl.metrics(), ref.metrics());
    System.out.printf(Locale.ROOT, "%-46s weights %.2e   metrics %.2e%n", label, d, g);
    return d;
  }

  @ParameterizedTest
  @EnumSource(RngdConfig.Damping.class)
  void reluStepsAgreeWithRfim4jRngd(RngdConfig.Damping damping) {
    MlpConfig cfg = cfg(Activation.RELU);
    List<double[]> w0 = Twins.weights(cfg, 0.4, 7);
    Twins.Result ref = Twins.reference(cfg, w0, rngd(damping), BATCHES);
    Twins.Result djl = Twins.djl(cfg, w0, rngd(damping), BATCHES, Twins.Mistake.NONE);
    double d = Twins.relativeDifference(djl.weights(), ref.weights(), w0);
    double g = Twins.metricDifference(djl.metrics(), ref.metrics());
    System.out.printf(Locale.ROOT, "relu %-41s weights %.2e   metrics %.2e%n", damping, d, g);
    assertTrue(d <= TOL, damping + ": weights differ by " + d + " of the displacement, tolerance " + TOL);
    assertTrue(g <= TOL_METRIC, damping + ": metrics differ by " + g + ", tolerance " + TOL_METRIC);
  }

  static Stream<Arguments> activations() {
    return Stream.of(Arguments.of(Activation.TANH), Arguments.of(Activation.SIGMOID),
        Arguments.of(Activation.prelu(0.2)), Arguments.of(Activation.elu(0.7)), Arguments.of(Activation.IDENTITY));
  }

  @ParameterizedTest
  @MethodSource("activations")
  void everyActivationAgrees(Activation act) {
    RngdConfig rc = rngd(RngdConfig.Damping.CANONICAL);
    double d = compare(act + " canonical", cfg(act), rc, rc, Twins.Mistake.NONE);
    assertTrue(d <= TOL, act + ": weights differ by " + d + " of the displacement, tolerance " + TOL);
  }

  @Test
  void wrongConfigurationsAreCaught() {
    MlpConfig cfg = cfg(Activation.RELU);
    RngdConfig canonical = rngd(RngdConfig.Damping.CANONICAL);
    double twice = compare("wrong: L2 twice (RngdDjl l2 + loss)", cfg, canonical, canonical, Twins.Mistake.L2_TWICE);
    double bias = compare("wrong: L2 on biases (loss, not RngdDjl)", cfg, canonical, canonical,
        Twins.Mistake.L2_ON_BIAS);
    double damping = compare("wrong: reference with paper damping", cfg, canonical,
        rngd(RngdConfig.Damping.PAPER), Twins.Mistake.NONE);
    double order = compare("wrong: reference in step-first order", cfg, canonical,
        canonical.withOrder(RngdConfig.Order.STEP_FIRST), Twins.Mistake.NONE);
    assertTrue(twice > TOL, "L2 counted twice went unnoticed: " + twice);
    assertTrue(bias > TOL, "L2 on the biases went unnoticed: " + bias);
    assertTrue(damping > TOL, "a different damping went unnoticed: " + damping);
    assertTrue(order > TOL, "step-first order went unnoticed: " + order);
  }
}
