package org.rfim4j.testutil;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.rfim4j.data.Dataset;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Idx;

/** Small learnable synthetic datasets for tests, in memory or as an IDX data directory. */
public final class Synthetic {
  private Synthetic() {}

  /**
   * Gaussian blobs: {@code n} examples of {@code d} features in {@code classes} classes; class centres
   * depend only on (d, classes), so datasets drawn with different seeds share them.
   */
  public static Dataset blobs(String name, int n, int d, int classes, long seed) {
    SplittableRandom centres = new SplittableRandom(1000 + 31L * d + classes);
    double[][] c = new double[classes][d];
    for (int k = 0; k < classes; k++) {
      for (int j = 0; j < d; j++) {
        c[k][j] = 2 * centres.nextDouble() - 1;
      }
    }
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n * d];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(classes);
      for (int j = 0; j < d; j++) {
        x[i * d + j] = (float) (c[y[i]][j] + 0.5 * gaussian(r));
      }
    }
    return new Dataset(name, x, y, n, d, classes);
  }

  private static double gaussian(SplittableRandom r) {
    double u = 1 - r.nextDouble();
    double v = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Side of the synthetic IDX images (4x4 pixels). */
  public static final int SIDE = 4;

  /**
   * Writes {@code dataDir/set/} with the four IDX files of a learnable 10-class dataset of 4x4 images:
   * {@code nTrain} training images (the loader holds out the last 10,000 for validation, so use at least
   * 10,000 + a few hundred) and {@code nTest} test images.
   */
  public static Path writeIdx(Path dataDir, String set, int nTrain, int nTest, long seed) throws IOException {
    Path dir = dataDir.resolve(set);
    Files.createDirectories(dir);
    SplittableRandom r = new SplittableRandom(seed);
    writeImagesAndLabels(dir.resolve(Datasets.TRAIN_IMAGES), dir.resolve(Datasets.TRAIN_LABELS), nTrain, r);
    writeImagesAndLabels(dir.resolve(Datasets.TEST_IMAGES), dir.resolve(Datasets.TEST_LABELS), nTest, r);
    return dir;
  }

  private static void writeImagesAndLabels(Path images, Path labels, int n, SplittableRandom r) {
    int d = SIDE * SIDE;
    int[] y = new int[n];
    byte[] px = new byte[n * d];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(10);
      for (int j = 0; j < d; j++) {
        // Class k lights pixels j with (j * 7 + k) % 10 < 4, plus noise.
        int base = (j * 7 + y[i]) % 10 < 4 ? 200 : 30;
        int v = base + r.nextInt(-30, 31);
        px[i * d + j] = (byte) Math.max(0, Math.min(255, v));
      }
    }
    Idx.writeImages(images, SIDE, SIDE, px);
    Idx.writeLabels(labels, y);
  }

  /** What a CLI invocation printed and returned. */
  public record Run(int exitCode, String out, String err) {}

  /** Runs {@code body} with System.out and System.err captured. */
  public static Run capture(Supplier<Integer> body) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code = body.get();
    } finally {
      System.out.flush();
      System.err.flush();
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
