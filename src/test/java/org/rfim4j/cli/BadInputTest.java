package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Idx;
import org.rfim4j.testutil.Synthetic;

/**
 * Bad input through the real command line: every case exits non-zero with exactly one stderr line that
 * starts with "error:", names the problem and carries no stack trace.
 */
class BadInputTest {
  @TempDir Path tmp;

  /** Runs the CLI in-process with captured streams and checks the one-line error contract. */
  static String expectOneLineError(String... args) {
    Synthetic.Run r = Synthetic.capture(() -> Main.execute(args));
    List<String> lines = r.err().lines().toList();
    assertEquals(Main.USAGE, r.exitCode(), () -> String.join(" ", args) + " exited " + r.exitCode() + "; stderr:\n"
        + r.err());
    assertEquals(1, lines.size(), () -> "expected one stderr line for " + String.join(" ", args) + ", got:\n" + r.err());
    String line = lines.get(0);
    assertTrue(line.startsWith("error:"), line);
    assertNoStackTrace(r.err() + r.out());
    return line;
  }

  static void assertNoStackTrace(String text) {
    assertFalse(text.contains("at org."), text);
    assertFalse(text.contains("at java."), text);
    assertFalse(text.contains("Exception"), text);
  }

  /** A complete small dataset under tmp/data/mnist. */
  Path dataset() throws IOException {
    return Synthetic.writeIdx(tmp.resolve("data"), "mnist", 60, 20, 5);
  }

  String[] train(String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", tmp.resolve("data").toString(), "--device",
        "cpu", "--quiet", "--epochs", "1", "--hidden", "8", "--batch", "10"));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  @Test
  void truncatedIdxFile() throws IOException {
    Path dir = dataset();
    Path images = dir.resolve(Datasets.TRAIN_IMAGES);
    try (RandomAccessFile f = new RandomAccessFile(images.toFile(), "rw")) {
      f.setLength(f.length() - 7);
    }
    String line = expectOneLineError(train());
    assertTrue(line.contains(images.toString()), line);
    assertTrue(line.contains("truncated"), line);
  }

  @Test
  void wrongMagicNumber() throws IOException {
    Path dir = dataset();
    Path labels = dir.resolve(Datasets.TEST_LABELS);
    byte[] b = Files.readAllBytes(labels);
    b[0] = 0x12;
    b[1] = 0x34;
    Files.write(labels, b);
    String line = expectOneLineError(train());
    assertTrue(line.contains(labels.toString()), line);
    assertTrue(line.contains("magic"), line);
  }

  @Test
  void mismatchedImageAndLabelCounts() throws IOException {
    Path dir = dataset();
    Path labels = dir.resolve(Datasets.TRAIN_LABELS);
    Idx.writeLabels(labels, new int[59]);
    String line = expectOneLineError(train());
    assertTrue(line.contains("count mismatch"), line);
    assertTrue(line.contains("60 images") && line.contains("59 labels"), line);
  }

  @Test
  void unknownActivation() throws IOException {
    dataset();
    String line = expectOneLineError(train("--activation", "bogus"));
    assertTrue(line.contains("unknown activation 'bogus'"), line);
  }

  @Test
  void unknownActivationIsReportedEvenWithoutData() {
    // Argument errors come before the (slow, possibly failing) data load.
    String line = expectOneLineError(train("--activation", "bogus"));
    assertTrue(line.contains("unknown activation 'bogus'"), line);
  }

  @Test
  void negativeLearningRate() throws IOException {
    dataset();
    String line = expectOneLineError(train("--optimizer", "sgd", "--lr", "-0.1"));
    assertTrue(line.contains("learning rate"), line);
    assertTrue(line.contains("-0.1"), line);
  }

  @Test
  void missingDataset() {
    String line = expectOneLineError(train());
    assertTrue(line.contains("not found"), line);
    assertTrue(line.contains("scripts/fetch-data"), line);
  }

  @Test
  void unknownOptimizer() throws IOException {
    dataset();
    String line = expectOneLineError(train("--optimizer", "bogus"));
    assertTrue(line.contains("unknown optimizer 'bogus'"), line);
  }

  @Test
  void compareWithUnknownOptimizer() throws IOException {
    dataset();
    String line = expectOneLineError("compare", "--data-dir", tmp.resolve("data").toString(), "--device", "cpu",
        "--optimizers", "sgd,bogus", "--out", tmp.resolve("cmp").toString());
    assertTrue(line.contains("unknown optimizer 'bogus'"), line);
  }

  @Test
  void compareWithUnknownActivation() {
    String line = expectOneLineError("compare", "--data-dir", tmp.resolve("data").toString(), "--device", "cpu",
        "--activation", "bogus", "--out", tmp.resolve("cmp").toString());
    assertTrue(line.contains("unknown activation 'bogus'"), line);
  }

  /** The real launcher path: a separate JVM, its real exit status and its stderr. */
  @Test
  void separateJvmExitStatusAndOneLine() throws Exception {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb = new ProcessBuilder(java.toString(), "-Xmx256m", "-cp", cp, "org.rfim4j.cli.Main", "train",
        "--activation", "bogus", "--data-dir", tmp.resolve("nodata").toString());
    pb.redirectOutput(tmp.resolve("out.txt").toFile());
    pb.redirectError(tmp.resolve("err.txt").toFile());
    Process p = pb.start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not finish");
    String err = Files.readString(tmp.resolve("err.txt"), StandardCharsets.UTF_8);
    String out = Files.readString(tmp.resolve("out.txt"), StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), "stderr:\n" + err);
    List<String> lines = err.lines().toList();
    assertEquals(1, lines.size(), err);
    assertTrue(lines.get(0).startsWith("error: unknown activation 'bogus'"), err);
    assertNoStackTrace(err + out);
  }
}
