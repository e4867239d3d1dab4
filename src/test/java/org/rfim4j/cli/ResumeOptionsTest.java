package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Checkpoint;

/**
 * Issue 16, finding 6: {@code train --resume} refuses options that contradict the checkpoint (naming both
 * values) instead of ignoring them, and the checkpoint records the dataset and the training subset, which a
 * resume uses.
 */
class ResumeOptionsTest {
  @TempDir static Path tmp;
  static Path data;
  static Path sgdCk;
  static Path rngdCk;

  static String[] train(Path out, int epochs, String optimizer, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", data.toString(), "--device", "cpu", "--quiet",
        "--train-size", "60", "--hidden", "8,6", "--batch", "20", "--optimizer", optimizer, "--epochs",
        Integer.toString(epochs), "--seed", "4", "--out", out.toString()));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  static Synthetic.Run cli(String... args) {
    return Synthetic.capture(() -> Main.execute(args));
  }

  @BeforeAll
  static void checkpoints() throws IOException {
    data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_080, 20, 3);
    Synthetic.writeIdx(data, "fashion", 10_080, 20, 4);
    Synthetic.Run a = cli(train(tmp.resolve("sgd"), 1, "sgd", "--lr", "0.2", "--momentum", "0.5"));
    assertEquals(0, a.exitCode(), a.err());
    sgdCk = tmp.resolve("sgd/checkpoint.rfim4j");
    Synthetic.Run b = cli(train(tmp.resolve("rngd"), 1, "rngd", "--rngd-T", "3"));
    assertEquals(0, b.exitCode(), b.err());
    rngdCk = tmp.resolve("rngd/checkpoint.rfim4j");
  }

  static String[] resume(Path ck, String out, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--resume", ck.toString(), "--epochs", "2", "--device", "cpu",
        "--quiet", "--data-dir", data.toString(), "--out", tmp.resolve(out).toString()));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "--optimizer|adam|sgd",
      "--lr|0.1|0.2",
      "--momentum|0.9|0.5",
      "--hidden|16|8,6",
      "--batch|7|20",
      "--arch|bna|plain",
      "--activation|tanh|relu",
      "--seed|9|4",
      "--l2|0.01|0.001",
      "--dataset|fashion|mnist",
      "--train-size|50|60"})
  void contradictingOptionsAreRefusedNamingBothValues(String option, String given, String stored) {
    String line = BadInputTest.expectOneLineError(resume(sgdCk, "x" + option, option, given));
    assertTrue(line.contains(option + " " + given), line);
    assertTrue(line.contains(stored), line);
    assertTrue(line.contains("checkpoint"), line);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "--rngd-T|5|3",
      "--rngd-lambda|0.1|0.005",
      "--rngd-damping|paper|canonical",
      "--rngd-order|step-first|metric-first"})
  void contradictingRngdOptionsAreRefused(String option, String given, String stored) {
    String line = BadInputTest.expectOneLineError(resume(rngdCk, "y" + option, option, given));
    assertTrue(line.contains(option + " " + given), line);
    assertTrue(line.toLowerCase(java.util.Locale.ROOT).contains(stored), line);
  }

  @Test
  void optionsThatAgreeWithTheCheckpointAreAccepted() {
    Synthetic.Run r = cli(resume(sgdCk, "agree", "--optimizer", "sgd", "--lr", "0.2", "--momentum", "0.5",
        "--hidden", "8,6", "--batch", "20", "--seed", "4", "--dataset", "mnist", "--train-size", "60"));
    assertEquals(0, r.exitCode(), r.err());
  }

  @Test
  void theCheckpointRecordsTheDataAndAResumeUsesIt() {
    Checkpoint.Header h = Checkpoint.load(sgdCk).header();
    assertEquals("mnist", h.data().dataset());
    assertEquals(60, h.data().trainSize());
    assertEquals(60, h.data().trainExamples());
    assertEquals(10_000, h.data().validationExamples());
    // Resumed without --train-size: trains on the recorded 60 examples, as the uninterrupted run does.
    Synthetic.Run straight = cli(train(tmp.resolve("straight"), 2, "sgd", "--lr", "0.2", "--momentum", "0.5"));
    assertEquals(0, straight.exitCode(), straight.err());
    Synthetic.Run resumed = cli(resume(sgdCk, "resumed"));
    assertEquals(0, resumed.exitCode(), resumed.err());
    Checkpoint.Loaded a = Checkpoint.load(tmp.resolve("straight/checkpoint.rfim4j"));
    Checkpoint.Loaded b = Checkpoint.load(tmp.resolve("resumed/checkpoint.rfim4j"));
    for (String k : a.arrays().keySet()) {
      assertArrayEquals(a.arrays().get(k), b.arrays().get(k), 0.0, k);
    }
    assertEquals(60, b.header().data().trainSize());
  }
}
