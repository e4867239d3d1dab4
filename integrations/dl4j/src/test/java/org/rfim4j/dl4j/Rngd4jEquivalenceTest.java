package org.rfim4j.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.optim.RngdConfig;

/**
 * DL4J + {@link Rngd4j} takes rfim4j's own RNGD steps. Small network 12-7-6-4: seven steps of mini-batches of 10
 * rows (one of 7), T = 3 so the inverses refresh at steps 0, 3 and 6, initial weights N(0, 0.25); medium network
 * 100-60-60-10 (metrics of 101 and 61 rows, OpenBLAS's blocked Cholesky): five steps of 50 rows, T = 2, weights
 * N(0, 0.04); the paper's 784-80-80-80-10: twelve steps of 50 rows, T = 5, weights N(0, 0.01). Everywhere lambda
 * 0.1 so that the metrics move well away from the identity, learning rate 0.05, L2 beta 1e-2 on the weights,
 * inputs uniform in [-1, 1), weights and inputs rounded to float. DL4J runs in float32 ({@code DataType.FLOAT});
 * rfim4j's {@code Rngd} on its {@code Mlp} in float64 on the CPU backend, from the same weights and mini-batches.
 *
 * <p><b>Tolerance</b>: every parameter within {@code 1e-5 * max(1, |w|)} of rfim4j's. Justification: DL4J stores
 * each parameter in float32 (relative rounding 6e-8, so 1-2 ulps of the O(1) weights are 1.2e-7 to 2.4e-7) and
 * computes forward pass, gradient and pre-activations in float32 (sums of at most 12 x 10 products, relative
 * error a few 1e-7); the preconditioner works in float64 on these float inputs, and G^-1 amplifies the relative
 * error of the gradient by at most its condition number, which stays small here (lambda 0.1 over 7 steps keeps
 * 0.9^7 = 0.48 of the identity in G). Each step moves a weight by at most 0.1, so the step's float error is
 * about 1e-8 and seven of them stay well under 1e-6. Measured: at most 3.2e-7 over every case below (1.1e-7 for
 * the medium and paper networks), so the tolerance leaves a factor 30 for other CPUs' float kernels; the wrong
 * set-ups differ by at least 3.1e-4 (measured), a factor 31 above it.
 */
class Rngd4jEquivalenceTest {
  static final double TOL = 1e-5;
  static final double L2 = 1e-2;

  static Stream<Arguments> ordersAndDampings() {
    return Stream.of(RngdConfig.Order.values()).flatMap(o -> Stream.of(RngdConfig.Damping.values())
        .map(d -> Arguments.of(o, d)));
  }

  @ParameterizedTest(name = "{0} {1} relu")
  @MethodSource("ordersAndDampings")
  void dl4jTakesRfim4jsRngdSteps(RngdConfig.Order order, RngdConfig.Damping damping) {
    check(Equivalence.run(Equivalence.config(order, damping), Activation.RELU, L2, Equivalence.Setup.CORRECT,
        "cpu"));
  }

  @ParameterizedTest(name = "metric-first canonical {0}")
  @CsvSource({"tanh", "sigmoid", "identity", "leakyrelu", "elu"})
  void everySupportedActivation(String name) {
    Activation a = switch (name) {
      case "tanh" -> Activation.TANH;
      case "sigmoid" -> Activation.SIGMOID;
      case "identity" -> Activation.IDENTITY;
      case "leakyrelu" -> Activation.prelu(0.2);
      default -> Activation.elu(1.0);
    };
    check(Equivalence.run(Equivalence.config(RngdConfig.Order.METRIC_FIRST, RngdConfig.Damping.CANONICAL), a, L2,
        Equivalence.Setup.CORRECT, "cpu"));
  }

  @ParameterizedTest(name = "100-60-60-10 {0} {1}")
  @MethodSource("ordersAndDampings")
  void largerMetricsToo(RngdConfig.Order order, RngdConfig.Damping damping) {
    check(Equivalence.run(Equivalence.MEDIUM, Equivalence.config(order, damping).withRefreshPeriod(2),
        Activation.RELU, L2, Equivalence.Setup.CORRECT, "cpu", false), Equivalence.MEDIUM);
  }

  @Test
  void thePapersNetwork() {
    check(Equivalence.run(Equivalence.PAPER, Equivalence.config(RngdConfig.Order.METRIC_FIRST,
        RngdConfig.Damping.CANONICAL).withRefreshPeriod(5), Activation.RELU, L2, Equivalence.Setup.CORRECT, "cpu",
        false), Equivalence.PAPER);
  }

  @Test
  void trainingThroughADataSetIteratorIsTheSame() {
    check(Equivalence.run(Equivalence.SMALL, Equivalence.config(RngdConfig.Order.METRIC_FIRST,
        RngdConfig.Damping.CANONICAL), Activation.RELU, L2, Equivalence.Setup.CORRECT, "cpu", true));
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"L2_IN_DL4J, CANONICAL", "L2_IN_DL4J, PAPER", "L2_TWICE, CANONICAL", "L2_TWICE, PAPER"})
  void aWrongSetUpFailsTheComparison(Equivalence.Setup setup, RngdConfig.Damping damping) {
    Equivalence.Result r = Equivalence.run(Equivalence.config(RngdConfig.Order.METRIC_FIRST, damping),
        Activation.RELU, L2, setup, "cpu");
    assertTrue(r.maxScaled() > TOL, setup + ": the comparison must fail, got " + r);
  }

  @ParameterizedTest(name = "100-60-60-10 {0}")
  @CsvSource({"METRIC_FIRST", "STEP_FIRST"})
  void aWrongSetUpFailsTheComparisonOnLargerMetrics(RngdConfig.Order order) {
    Equivalence.Result r = Equivalence.run(Equivalence.MEDIUM, Equivalence.config(order,
        RngdConfig.Damping.CANONICAL).withRefreshPeriod(2), Activation.RELU, L2, Equivalence.Setup.L2_IN_DL4J, "cpu",
        false);
    assertTrue(r.maxScaled() > TOL, "the comparison must fail, got " + r);
  }

  static void check(Equivalence.Result r) {
    check(r, Equivalence.SMALL);
  }

  static void check(Equivalence.Result r, Equivalence.Shape shape) {
    assertEquals(shape.rows().length, r.steps(), "RNGD steps taken in DL4J");
    assertTrue(r.moved() > 1e-2, "the weights moved (max change " + r.moved() + ")");
    assertTrue(r.maxScaled() <= TOL, "DL4J + RNGD differs from rfim4j's Rngd by " + r.maxScaled()
        + " (scaled), more than " + TOL + " at " + r.where());
  }
}
