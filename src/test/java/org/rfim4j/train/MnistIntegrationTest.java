package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.DataDirs;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;

/**
 * Real MNIST, the paper's PLAIN 784-80-80-80-10 ReLU network, batch 50, 5 epochs on the CPU backend:
 * Adam (lr 1e-3) must reach a validation error below 3.5% and SGD (lr 0.1) below 5%. Skipped when MNIST
 * is not in the data directory ($RFIM4J_DATA or ./data; {@code scripts/fetch-data} fetches it).
 */
@Tag("mnist")
class MnistIntegrationTest {
  static final Path DIR = DataDirs.resolve(null);
  static Split mnist;
  static CpuBackend backend;

  @BeforeAll
  static void load() {
    if (Datasets.isPresent("mnist", DIR)) {
      mnist = Datasets.load("mnist", DIR);
      backend = new CpuBackend();
    }
  }

  /** Per test, so every skipped test is reported with the reason. */
  @BeforeEach
  void requireMnist() {
    Assumptions.assumeTrue(mnist != null,
        () -> "MNIST not found under " + DIR.toAbsolutePath() + " ($" + DataDirs.ENV + " or ./data); run "
            + Datasets.fetchCommand("mnist", DIR) + " to enable this test");
  }

  @AfterAll
  static void close() {
    if (backend != null) {
      backend.close();
    }
  }

  static double minValError(OptimizerSpec spec) {
    MlpConfig cfg = MlpConfig.paper(Architecture.PLAIN, 1);
    TrainerConfig tc = TrainerConfig.of(5, 50, 1);
    try (Mlp model = new Mlp(backend, cfg, Math.max(tc.batchSize(), tc.evalBatch()));
        Optimizer opt = spec.create(model)) {
      TimingListener timing = new TimingListener();
      List<EpochResult> curve = new Trainer(model, opt, tc).addListener(timing).addListener(new DivergenceStop())
          .fit(mnist.train(), mnist.validation());
      assertEquals(5, curve.size());
      double min = 1;
      System.out.println("MNIST " + cfg.describe() + " relu PLAIN batch 50, " + spec.label() + ":");
      for (EpochResult r : curve) {
        System.out.printf(Locale.ROOT, "  epoch %d  train loss %.4f err %5.2f%%  val loss %.4f err %5.2f%%%n",
            r.epoch(), r.trainLoss(), 100 * r.trainError(), r.valLoss(), 100 * r.valError());
        min = Math.min(min, r.valError());
      }
      System.out.printf(Locale.ROOT, "  seconds/epoch %s (median %.2f)%n", timing.secondsPerEpoch(),
          timing.medianSecondsPerEpoch());
      return min;
    }
  }

  @Test
  void adamReachesBelowThreePointFivePercent() {
    double min = minValError(OptimizerSpec.adam(1e-3));
    assertTrue(min < 0.035, "Adam's best validation error over 5 epochs is " + 100 * min + "%");
  }

  @Test
  void sgdReachesBelowFivePercent() {
    double min = minValError(OptimizerSpec.sgd(0.1));
    assertTrue(min < 0.05, "SGD's best validation error over 5 epochs is " + 100 * min + "%");
  }
}
