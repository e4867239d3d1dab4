package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ProfilingBackend;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.BlobsFixture;
import org.rfim4j.testutil.Synthetic;

class TrainerTest extends BlobsFixture {

  static MlpConfig plain() {
    return new MlpConfig(20, new int[] {16, 12}, 3, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 5, 0.999, 1e-3);
  }

  /** An optimizer that counts steps and changes nothing. */
  static final class Frozen implements Optimizer {
    long t;

    @Override
    public String name() {
      return "frozen";
    }

    @Override
    public double learningRate() {
      return 0;
    }

    @Override
    public void step() {
      t++;
    }

    @Override
    public long iterations() {
      return t;
    }

    @Override
    public Map<String, DeviceArray> state() {
      return Map.of();
    }

    @Override
    public Map<String, Double> scalars() {
      return Map.of("iterations", (double) t);
    }

    @Override
    public void restoreScalars(Map<String, Double> scalars) {}

    @Override
    public void close() {}
  }

  @Test
  void divergenceStopsTheRunAndKeepsTheCurve() throws IOException {
    Path dir = tmp.resolve("run");
    Path csv = dir.resolve("curve.csv");
    TrainerConfig tc = new TrainerConfig(20, 30, 1, 1, 500);
    List<String> stops = new ArrayList<>();
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.sgd(1e6).create(model)) {
      Trainer t = new Trainer(model, opt, tc).addListener(new DivergenceStop()).addListener(new CurveCsvListener(csv))
          .addListener(new TrainingListener() {
            @Override
            public void onStop(String reason) {
              stops.add(reason);
            }
          });
      TrainingStoppedException e = assertThrows(TrainingStoppedException.class, () -> t.fit(train, val));
      assertTrue(e.getMessage().contains("diverged"), e.getMessage());
      assertEquals(List.of(e.getMessage()), stops, "onStop called once with the reason");
      assertTrue(t.completedEpochs() < 20, "stopped early");
      List<String> lines = Files.readAllLines(csv);
      assertEquals(EpochResult.CSV_HEADER, lines.get(0));
      assertEquals(1 + t.completedEpochs(), lines.size(), "header plus one row per completed epoch: " + lines);
      for (int i = 1; i < lines.size(); i++) {
        assertTrue(lines.get(i).startsWith(i + ","), lines.get(i));
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      List<String> names = files.map(p -> p.getFileName().toString()).toList();
      assertEquals(List.of("curve.csv"), names, "no temporary files left behind");
    }
  }

  @Test
  void shuffleIsAPermutationDeterminedBySeedAndEpoch() {
    int[] a = new int[257];
    int[] b = new int[257];
    Trainer.shuffle(a, 42, 3);
    Trainer.shuffle(b, 42, 3);
    assertArrayEquals(a, b);
    int[] sorted = a.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < sorted.length; i++) {
      assertEquals(i, sorted[i]);
    }
    Trainer.shuffle(b, 42, 4);
    assertFalse(Arrays.equals(a, b), "epochs differ");
    Trainer.shuffle(b, 43, 3);
    assertFalse(Arrays.equals(a, b), "seeds differ");
    // The permutation is independent of what the array held before.
    Arrays.fill(b, -5);
    Trainer.shuffle(b, 42, 3);
    assertArrayEquals(a, b);
  }

  /**
   * Training in several fit calls on a trainer that keeps its device data: the same weights and losses
   * bit for bit as one fit, the datasets uploaded once, and every array released on close (and, without
   * retainDeviceData, when fit returns).
   */
  @Test
  void retainedDeviceDataGivesTheSameRunAndIsReleasedOnClose() {
    TrainerConfig tc = TrainerConfig.of(3, 25, 7);
    List<double[]> once;
    List<EpochResult> onceCurve;
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.rngd(RngdConfig.defaults(0.03).withRefreshPeriod(5)).create(model)) {
      int before = backend.liveArrays();
      onceCurve = new Trainer(model, opt, tc).fit(train, val);
      once = model.downloadParameters();
      assertEquals(before, backend.liveArrays(), "fit without retainDeviceData left arrays allocated");
    }
    ProfilingBackend counting = new ProfilingBackend(backend, false);
    try (Mlp model = new Mlp(counting, plain(), 500); Optimizer opt = OptimizerSpec.rngd(RngdConfig.defaults(0.03).withRefreshPeriod(5)).create(model)) {
      int before = backend.liveArrays();
      List<EpochResult> curve;
      try (Trainer t = new Trainer(model, opt, tc).retainDeviceData()) {
        t.fit(train, val, 1);
        long uploads = counting.totals().get("upload")[1];
        t.fit(train, val, 2);
        curve = t.fit(train, val, 3);
        // epochs 2 and 3 upload only their shuffled index, not the datasets again
        assertEquals(uploads + 2, counting.totals().get("upload")[1], "uploads in epochs 2 and 3");
        assertTrue(backend.liveArrays() > before, "retained data should still be allocated");
      }
      assertEquals(before, backend.liveArrays(), "close() left arrays allocated");
      List<double[]> steps = model.downloadParameters();
      for (int i = 0; i < once.size(); i++) {
        assertArrayEquals(once.get(i), steps.get(i), 0.0, "parameter " + i);
      }
      assertEquals(onceCurve.size(), curve.size());
      for (int e = 0; e < curve.size(); e++) {
        assertEquals(onceCurve.get(e).trainLoss(), curve.get(e).trainLoss(), 0.0);
        assertEquals(onceCurve.get(e).valError(), curve.get(e).valError(), 0.0);
      }
    }
  }

  @Test
  void sameSeedsGiveTheSameRun() {
    List<double[]> first;
    List<EpochResult> firstCurve;
    TrainerConfig tc = TrainerConfig.of(2, 25, 7);
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.adam(1e-3).create(model)) {
      firstCurve = new Trainer(model, opt, tc).fit(train, val);
      first = model.downloadParameters();
    }
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.adam(1e-3).create(model)) {
      List<EpochResult> curve = new Trainer(model, opt, tc).fit(train, val);
      List<double[]> second = model.downloadParameters();
      for (int i = 0; i < first.size(); i++) {
        assertArrayEquals(first.get(i), second.get(i), 0.0);
      }
      for (int e = 0; e < curve.size(); e++) {
        assertEquals(firstCurve.get(e).trainLoss(), curve.get(e).trainLoss(), 0.0);
        assertEquals(firstCurve.get(e).valLoss(), curve.get(e).valLoss(), 0.0);
      }
    }
    // A different shuffle seed gives different weights.
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.adam(1e-3).create(model)) {
      new Trainer(model, opt, TrainerConfig.of(2, 25, 8)).fit(train, val);
      assertFalse(Arrays.equals(first.get(0), model.downloadParameters().get(0)));
    }
  }

  @Test
  void partialLastBatchCountsEveryExample() {
    Dataset odd = Synthetic.blobs("blobs/odd", 301, 20, 3, 3); // batch 50: 6 full steps and one of 1 row
    TrainerConfig tc = new TrainerConfig(1, 50, 4, 2, 500);
    try (Mlp model = new Mlp(backend, plain(), 500); Frozen opt = new Frozen()) {
      Trainer t = new Trainer(model, opt, tc);
      List<EpochResult> curve = t.fit(odd, val);
      assertEquals(7, opt.iterations(), "steps per epoch");
      // With frozen weights and no batch norm, the training-mode statistics over the epoch's batches
      // equal a full inference pass over the training set exactly when every example is counted once.
      Evaluation all = t.evaluate(odd);
      assertEquals(301, all.n());
      EpochResult r = curve.get(0);
      assertEquals(all.loss(), r.trainLoss(), 1e-12);
      assertEquals(all.error(), r.trainError(), 0.0);
      assertTrue(r.trainLoss() > 0.5, "an untrained model should have a real loss, got " + r.trainLoss());
    }
  }

  @Test
  void learnsTheSyntheticData() {
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.adam(3e-3).create(model)) {
      List<EpochResult> curve = new Trainer(model, opt, TrainerConfig.of(5, 25, 1)).fit(train, val);
      EpochResult last = curve.get(curve.size() - 1);
      assertTrue(last.valError() < 0.1, "validation error " + last.valError());
      assertTrue(last.trainLoss() < curve.get(0).trainLoss());
      for (int e = 0; e < curve.size(); e++) {
        assertEquals(e + 1, curve.get(e).epoch());
        if (e > 0) {
          assertTrue(curve.get(e).seconds() >= curve.get(e - 1).seconds(), "cumulative seconds");
        }
      }
    }
  }

  @Test
  void curveCsvHasExactlyTheDocumentedColumns() throws IOException {
    Path csv = tmp.resolve("c/curve.csv");
    try (Mlp model = new Mlp(backend, plain(), 500); Optimizer opt = OptimizerSpec.sgd(0.1).create(model)) {
      new Trainer(model, opt, TrainerConfig.of(2, 25, 1)).addListener(new CurveCsvListener(csv)).fit(train, val);
    }
    List<String> lines = Files.readAllLines(csv);
    assertEquals("epoch,train_loss,train_error,val_loss,val_error,seconds", lines.get(0));
    assertEquals(3, lines.size());
    for (int i = 1; i < lines.size(); i++) {
      String[] f = lines.get(i).split(",", -1);
      assertEquals(6, f.length, lines.get(i));
      assertEquals(i, Integer.parseInt(f[0]));
      for (int k = 1; k < 6; k++) {
        double v = Double.parseDouble(f[k]);
        assertTrue(Double.isFinite(v) && v >= 0, lines.get(i));
      }
      assertTrue(Double.parseDouble(f[2]) <= 1 && Double.parseDouble(f[4]) <= 1, "errors are fractions");
    }
  }

  @Test
  void rejectsBatchesLargerThanTheModel() {
    try (Mlp model = new Mlp(backend, plain(), 100); Optimizer opt = OptimizerSpec.sgd(0.1).create(model)) {
      assertThrows(IllegalArgumentException.class, () -> new Trainer(model, opt, TrainerConfig.of(1, 50, 1)));
    }
  }
}
