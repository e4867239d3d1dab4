package org.example.consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;

/**
 * The user's own MLP with rfim4j's preconditioner takes exactly the steps of rfim4j's own Rngd on its Mlp:
 * same initial weights, same mini-batches, float64 CPU, both orders and both dampings, T = 3 so that the
 * inverses refresh at steps 0, 3 and 6.
 */
class OwnMlpTest {
  static final int[] WIDTHS = {6, 5, 4, 3};
  static final int BATCH = 8;
  static final int STEPS = 7;
  static final double L2 = 1e-3;

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"METRIC_FIRST, CANONICAL", "METRIC_FIRST, PAPER", "STEP_FIRST, CANONICAL", "STEP_FIRST, PAPER"})
  void ownTrainingCodeTakesRngdsSteps(RngdConfig.Order order, RngdConfig.Damping damping) {
    RngdConfig config = RngdConfig.defaults(0.05).withRefreshPeriod(3).withLambda(0.1).withOrder(order)
        .withDamping(damping, damping == RngdConfig.Damping.PAPER ? 1e-3 : 1e-4);
    SplittableRandom rng = new SplittableRandom(42);
    double[][] initial = new double[WIDTHS.length - 1][];
    for (int l = 0; l < initial.length; l++) {
      initial[l] = new double[(WIDTHS[l] + 1) * WIDTHS[l + 1]];
      for (int i = 0; i < initial[l].length; i++) {
        initial[l][i] = rng.nextGaussian() * 0.5;
      }
    }
    double[][] xs = new double[STEPS][BATCH * WIDTHS[0]];
    int[][] ys = new int[STEPS][BATCH];
    for (int s = 0; s < STEPS; s++) {
      for (int i = 0; i < xs[s].length; i++) {
        xs[s][i] = rng.nextDouble(-1, 1);
      }
      for (int k = 0; k < BATCH; k++) {
        ys[s][k] = rng.nextInt(WIDTHS[WIDTHS.length - 1]);
      }
    }

    try (Backend backend = BackendSelector.open("cpu", msg -> { });
        OwnMlp own = new OwnMlp(WIDTHS, initial, L2, backend, config, BATCH);
        Mlp mlp = new Mlp(backend, new MlpConfig(WIDTHS[0], new int[] {WIDTHS[1], WIDTHS[2]}, WIDTHS[3],
            Activation.RELU, Architecture.PLAIN, L2, 0.1, 1, 0.9, 1e-3), BATCH);
        Rngd rngd = new Rngd(mlp, config);
        DeviceArray x = backend.allocate(BATCH, WIDTHS[0]);
        DeviceArray y = backend.allocate(BATCH, 1);
        DeviceArray stats = backend.allocate(2)) {
      for (int l = 0; l < initial.length; l++) {
        mlp.setWeights(l, initial[l]);
      }
      for (int s = 0; s < STEPS; s++) {
        double[] labels = new double[BATCH];
        for (int k = 0; k < BATCH; k++) {
          labels[k] = ys[s][k];
        }
        backend.upload(x, xs[s]);
        backend.upload(y, labels);
        backend.fill(stats, 0);
        mlp.forward(x, true, true);
        mlp.lossAndGradient(y, stats);
        rngd.step();
        double loss = own.train(xs[s], ys[s]);
        assertEquals(backend.download(stats)[0] / BATCH, loss, 1e-12, "step " + s + " loss");
      }
      List<double[]> theirs = mlp.downloadParameters();
      double moved = 0;
      for (int l = 0; l < initial.length; l++) {
        double[] mine = own.w[l];
        double[] ref = theirs.get(l);
        for (int i = 0; i < mine.length; i++) {
          double tol = 1e-10 * Math.max(1, Math.abs(ref[i]));
          assertTrue(Math.abs(mine[i] - ref[i]) <= tol, "layer " + l + " weight " + i + ": own " + mine[i]
              + ", rfim4j Rngd " + ref[i]);
          moved = Math.max(moved, Math.abs(ref[i] - initial[l][i]));
        }
      }
      assertTrue(moved > 1e-3, "the weights moved (max change " + moved + ")");
      assertEquals(0, own.inversionFailures());
      assertEquals(STEPS, rngd.iterations());
    }
  }
}
