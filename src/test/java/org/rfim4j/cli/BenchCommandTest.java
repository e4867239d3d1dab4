package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Idx;
import org.rfim4j.train.Curves;
import org.rfim4j.train.EpochResult;

/** The bench (optimizer race) command: its statistics, and one tiny end-to-end race on synthetic IDX data. */
class BenchCommandTest {
  @TempDir
  Path dir;

  @Test
  void statistics() {
    List<EpochResult> curve = List.of(new EpochResult(1, 1, 0.5, 1, 0.10, 2.0),
        new EpochResult(2, 1, 0.5, 1, 0.04, 5.0), new EpochResult(3, 1, 0.5, 1, 0.02, 6.0));
    assertEquals(List.of(2.0, 3.0, 1.0), Curves.secondsPerEpoch(curve));
    assertEquals(2.0, Curves.median(Curves.secondsPerEpoch(curve)));
    assertEquals(2.5, Curves.median(List.of(3.0, 1.0, 2.0, 4.0)));
    assertTrue(Double.isNaN(Curves.median(List.of())));
    assertEquals(2, BenchCommand.firstReaching(curve, 0.96).epoch());
    assertEquals(1, BenchCommand.firstReaching(curve, 0.90).epoch());
    assertNull(BenchCommand.firstReaching(curve, 0.99));
  }

  @Test
  void raceOnSyntheticData() throws Exception {
    // 4x4 images: Datasets.load holds out the last 10,000 training images for validation.
    SplittableRandom rng = new SplittableRandom(3);
    int nTrain = Datasets.VALIDATION_SIZE + 120;
    Path mnist = Files.createDirectories(dir.resolve("data/mnist"));
    writeSet(mnist, Datasets.TRAIN_IMAGES, Datasets.TRAIN_LABELS, nTrain, rng);
    writeSet(mnist, Datasets.TEST_IMAGES, Datasets.TEST_LABELS, 20, rng);
    Path out = dir.resolve("race");
    RfimCommandTest.Result r = RfimCommandTest.exec(new BenchCommand(), "--data-dir", dir.resolve("data").toString(),
        "--device", "cpu", "--hidden", "8,8", "--epochs", "3", "--warmup-steps", "2", "--target", "0.5",
        "--train-size", "100", "--quiet", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("RNGD/Adam seconds per epoch"), r.out());
    assertTrue(r.out().contains("SGD/Adam seconds per epoch"), r.out());
    JsonNode json = new ObjectMapper().readTree(out.resolve("race.json").toFile());
    assertEquals(2, json.get("stepsPerEpoch").asInt()); // --train-size 100 at batch 50
    assertEquals(3, json.get("optimizers").size());
    for (JsonNode o : json.get("optimizers")) {
      assertEquals(3, o.get("curve").size(), o.toString());
      assertEquals(3, o.get("secondsPerEpoch").size());
      assertTrue(o.get("medianSecondsPerEpoch").asDouble() > 0);
      assertTrue(Files.exists(out.resolve(o.get("optimizer").asText()).resolve("curve.csv")));
    }
    assertEquals(1.0, json.get("optimizers").get(1).get("ratioToAdam").asDouble(), 1e-12);
    assertTrue(Files.readString(out.resolve("race.md")).contains("| rngd lr=" + TrainCommand.defaultLr("rngd") + " |"));
  }

  /**
   * With --out the results are rewritten after every epoch of every optimizer (a run cut off keeps what it
   * finished): the first write holds SGD's first epoch only and says the race is not complete, the last one is the
   * complete race; the per-epoch progress lines are printed without --quiet.
   */
  @Test
  void resultsAreWrittenAfterEveryEpoch() throws Exception {
    SplittableRandom rng = new SplittableRandom(4);
    Path mnist = Files.createDirectories(dir.resolve("data/mnist"));
    writeSet(mnist, Datasets.TRAIN_IMAGES, Datasets.TRAIN_LABELS, Datasets.VALIDATION_SIZE + 100, rng);
    writeSet(mnist, Datasets.TEST_IMAGES, Datasets.TEST_LABELS, 20, rng);
    Path out = dir.resolve("race");
    List<JsonNode> snapshots = new java.util.ArrayList<>();
    List<String> sgdCsv = new java.util.ArrayList<>();
    BenchCommand bench = new BenchCommand();
    bench.afterWrite = p -> {
      try {
        snapshots.add(new ObjectMapper().readTree(p.resolve("race.json").toFile()));
        sgdCsv.add(Files.readString(p.resolve("sgd").resolve("curve.csv")));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    RfimCommandTest.Result r = RfimCommandTest.exec(bench, "--data-dir", dir.resolve("data").toString(),
        "--device", "cpu", "--hidden", "6", "--epochs", "2", "--warmup-steps", "0", "--train-size", "100",
        "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(2 * 3 + 1, snapshots.size(), "after each of 2 epochs x 3 optimizers, and at the end");
    JsonNode first = snapshots.get(0);
    assertEquals(false, first.get("complete").asBoolean());
    assertEquals(1, first.get("optimizers").get(0).get("curve").size(), "SGD's first epoch is in");
    assertEquals(0, first.get("optimizers").get(1).get("curve").size(), "Adam has not run yet");
    assertEquals(2, sgdCsv.get(0).lines().count(), "curve.csv: header + epoch 1");
    assertEquals(true, snapshots.get(snapshots.size() - 1).get("complete").asBoolean());
    assertEquals(3, sgdCsv.get(sgdCsv.size() - 1).lines().count());
    assertTrue(r.out().contains("epoch 2  rngd"), "progress per epoch: " + r.out());
  }

  @Test
  void tf32IsAcceptedAndIgnoredOnTheCpu() {
    SplittableRandom rng = new SplittableRandom(5);
    Path mnist = dir.resolve("data/mnist");
    try {
      Files.createDirectories(mnist);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    writeSet(mnist, Datasets.TRAIN_IMAGES, Datasets.TRAIN_LABELS, Datasets.VALIDATION_SIZE + 60, rng);
    writeSet(mnist, Datasets.TEST_IMAGES, Datasets.TEST_LABELS, 20, rng);
    RfimCommandTest.Result r = RfimCommandTest.exec(new BenchCommand(), "--data-dir", dir.resolve("data").toString(),
        "--device", "cpu", "--tf32", "--optimizers", "sgd", "--hidden", "4", "--epochs", "1", "--warmup-steps", "0",
        "--train-size", "50", "--quiet");
    assertEquals(0, r.code(), r.err());
    for (String cmd : new String[] {"bench", "train"}) {
      assertTrue(Main.commandLine().getSubcommands().get(cmd).getCommandSpec().options().stream()
          .anyMatch(o -> o.longestName().equals("--tf32")), cmd + " has --tf32");
    }
  }

  @Test
  void badTargetIsAnError() {
    RfimCommandTest.Result r = RfimCommandTest.exec(new BenchCommand(), "--target", "97", "--device", "cpu");
    assertTrue(r.code() != 0);
  }

  @Test
  void mainRegistersTheBenchCommand() {
    picocli.CommandLine cl = Main.commandLine();
    assertTrue(cl.getSubcommands().containsKey("bench"), "Main registers bench");
    assertTrue(cl.getSubcommands().get("bench").getCommandSpec().options().stream()
        .anyMatch(o -> o.longestName().equals("--train-size")));
  }

  private static void writeSet(Path d, String images, String labels, int n, SplittableRandom rng) {
    byte[] px = new byte[n * 16];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = rng.nextInt(10);
      for (int j = 0; j < 16; j++) {
        px[i * 16 + j] = (byte) rng.nextInt(256);
      }
    }
    Idx.writeImages(d.resolve(images), 4, 4, px);
    Idx.writeLabels(d.resolve(labels), y);
  }
}
