package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Idx;
import org.rfim4j.testutil.Synthetic;

/**
 * Issue 16, finding 3: sizes from a header, a request or the command line are checked against the memory there
 * is before anything is allocated. Each case runs the CLI in its own JVM with a 256 MiB heap and must end in one
 * line {@code error: ...} naming the need and the limit (or what the file is), exit code 2, never an
 * OutOfMemoryError.
 */
class MemoryLimitsTest {
  @TempDir static Path tmp;
  static Path data;

  @BeforeAll
  static void data() throws IOException {
    data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_050, 20, 1);
  }

  /** Runs the CLI in a fresh JVM with -Xmx256m; returns stderr after checking the one-line contract. */
  static String cliIn256m(String... args) throws Exception {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", cp, "org.rfim4j.cli.Main"));
    cmd.addAll(List.of(args));
    Path err = Files.createTempFile(tmp, "err", ".txt");
    Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
    String text = Files.readString(err, StandardCharsets.UTF_8);
    assertEquals(2, p.exitValue(), text);
    List<String> lines = text.lines().filter(l -> !l.startsWith("note:")).toList();
    assertEquals(1, lines.size(), text);
    assertTrue(lines.get(0).startsWith("error: "), text);
    assertFalse(text.contains("OutOfMemoryError") || text.contains("Exception"), text);
    System.out.println("MemoryLimitsTest: " + String.join(" ", args) + "\n  -> " + lines.get(0));
    return lines.get(0);
  }

  static String[] train(String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", data.toString(), "--device", "cpu", "--quiet",
        "--epochs", "1"));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  static void assertNeedAndLimit(String line) {
    assertTrue(line.contains("not enough memory") && line.contains("needs about") && line.contains("limit"), line);
  }

  /** A copy of the data directory whose training images are {@code images}. */
  static Path withTrainImages(String name, byte[] images) throws IOException {
    Path dir = tmp.resolve(name);
    Path set = dir.resolve("mnist");
    Files.createDirectories(set);
    for (String f : List.of(Datasets.TRAIN_LABELS, Datasets.TEST_IMAGES, Datasets.TEST_LABELS)) {
      Files.copy(data.resolve("mnist").resolve(f), set.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Files.write(set.resolve(Datasets.TRAIN_IMAGES), images);
    return dir;
  }

  static byte[] header(int count, int rows, int cols) {
    return ByteBuffer.allocate(16).putInt(Idx.IMAGES_MAGIC).putInt(count).putInt(rows).putInt(cols).array();
  }

  @Test
  void aSixteenByteHeaderAskingForTwoGiB() throws Exception {
    Path dir = withTrainImages("header", header(32_767, 256, 256)); // 2^31 - 2^16 bytes declared
    String line = cliIn256m("train", "--data-dir", dir.toString(), "--device", "cpu", "--quiet", "--epochs", "1");
    assertNeedAndLimit(line);
  }

  @Test
  void aGzipBomb() throws Exception {
    // 150 MB of zero pixels (10,050 images of 122x122, as many as the labels) in about 150 KB of gzip.
    Path dir = tmp.resolve("bomb");
    Path bomb = withTrainImages("bomb", new byte[0]).resolve("mnist").resolve(Datasets.TRAIN_IMAGES);
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(bomb), 1 << 16)) {
      o.write(header(10_050, 122, 122));
      byte[] zeros = new byte[1 << 20];
      long left = 10_050L * 122 * 122;
      while (left > 0) {
        int n = (int) Math.min(zeros.length, left);
        o.write(zeros, 0, n);
        left -= n;
      }
    }
    Idx.writeImages(dir.resolve("mnist").resolve(Datasets.TEST_IMAGES), 122, 122, new byte[20 * 122 * 122]);
    assertTrue(Files.size(bomb) < 1 << 20, "a small file: " + Files.size(bomb));
    assertNeedAndLimit(cliIn256m("train", "--data-dir", dir.toString(), "--device", "cpu", "--quiet", "--epochs",
        "1"));
  }

  @Test
  void aMillionHiddenUnits() throws Exception {
    assertNeedAndLimit(cliIn256m(train("--hidden", "1000000")));
  }

  @Test
  void rngdPerNeuronMetricsOfWideLayers() throws Exception {
    String line = cliIn256m(train("--optimizer", "rngd", "--hidden", "1000,1000"));
    assertNeedAndLimit(line);
    // Issue 15 item 4: the refusal names what would fit (the hidden layer's 16 GB turned shared).
    assertTrue(line.contains("these would fit: RNGD metric kinds (--rngd-metrics) shared,shared,shared (about "), line);
  }

  @Test
  void aBatchOfTwoMillion() throws Exception {
    assertNeedAndLimit(cliIn256m(train("--batch", "2000000")));
  }

  @Test
  void devZeroAsRequestOrCheckpoint() throws Exception {
    Path zero = Path.of("/dev/zero");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(zero));
    String r = cliIn256m("rfim", "--request", "/dev/zero");
    assertTrue(r.contains("/dev/zero") && r.contains("not a regular file"), r);
    String c = cliIn256m(train("--resume", "/dev/zero"));
    assertTrue(c.contains("/dev/zero") && c.contains("not a regular file"), c);
  }
}
