package org.rfim4j.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Loads MNIST and Fashion-MNIST from a data directory laid out by {@code scripts/fetch-data}:
 *
 * <pre>
 *   DIR/mnist/{train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte}
 *   DIR/fashion/... (same names)
 * </pre>
 *
 * Each file may also be gzip-compressed with a {@code .gz} suffix; the plain file wins if both exist.
 */
public final class Datasets {

  /** The dataset names {@link #load} knows. */
  public static final List<String> NAMES = List.of("mnist", "fashion");

  public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
  public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
  public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
  public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";

  /** Number of classes in MNIST and Fashion-MNIST. */
  public static final int CLASSES = 10;

  /** Size of the validation set, taken from the end of the training file. */
  public static final int VALIDATION_SIZE = 10_000;

  private Datasets() {}

  /**
   * Loads {@code name} ({@code mnist} or {@code fashion}) from {@code dataDir/name/}: train is the first
   * 50,000 examples of the training file, validation the last 10,000, test the 10,000 t10k examples.
   * Pixels are scaled to [0, 1].
   *
   * @throws DatasetException if the name is unknown, a file is missing (the message names it and the
   *     {@code ./scripts/fetch-data} command that fetches it), or a file is malformed
   */
  public static Split load(String name, Path dataDir) {
    return load(name, dataDir, VALIDATION_SIZE);
  }

  /**
   * As {@link #load(String, Path)}, holding out the last {@code validationSize} training examples for
   * validation (the rest are train).
   */
  public static Split load(String name, Path dataDir, int validationSize) {
    String set = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
    if (!NAMES.contains(set)) {
      throw new DatasetException("unknown dataset '" + name + "': expected one of " + String.join(", ", NAMES));
    }
    if (validationSize < 0) {
      throw new IllegalArgumentException("validationSize must be >= 0, got " + validationSize);
    }
    Path[] files = locate(set, dataDir);

    Idx.Images trainImages = Idx.readImages(files[0]);
    int[] trainLabels = Idx.readLabels(files[1], CLASSES);
    checkCounts(trainImages, files[1], trainLabels);
    Idx.Images testImages = Idx.readImages(files[2]);
    int[] testLabels = Idx.readLabels(files[3], CLASSES);
    checkCounts(testImages, files[3], testLabels);
    if (testImages.rows() != trainImages.rows() || testImages.cols() != trainImages.cols()) {
      throw new DatasetException("image size mismatch: " + files[0] + " has " + trainImages.rows() + "x"
          + trainImages.cols() + " images but " + files[2] + " has " + testImages.rows() + "x" + testImages.cols());
    }
    int n = trainImages.count();
    if (validationSize > n) {
      throw new DatasetException(files[0] + ": " + n + " training images, fewer than the "
          + validationSize + " needed for validation alone");
    }
    int cut = n - validationSize;
    int d = trainImages.pixelsPerImage();
    Dataset train = new Dataset(set + "/train", trainImages.toFeatures(0, cut),
        Arrays.copyOfRange(trainLabels, 0, cut), cut, d, CLASSES);
    Dataset validation = new Dataset(set + "/validation", trainImages.toFeatures(cut, n),
        Arrays.copyOfRange(trainLabels, cut, n), validationSize, d, CLASSES);
    Dataset test = new Dataset(set + "/test", testImages.toFeatures(0, testImages.count()),
        testLabels, testImages.count(), d, CLASSES);
    return new Split(train, validation, test);
  }

  /** True if all four files of {@code name} exist (plain or .gz) under {@code dataDir/name/}. */
  public static boolean isPresent(String name, Path dataDir) {
    Path dir = dataDir.resolve(name);
    for (String f : List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)) {
      if (Idx.find(dir, f) == null) {
        return false;
      }
    }
    return true;
  }

  /** The command that fetches {@code name} into {@code dataDir}. */
  public static String fetchCommand(String name, Path dataDir) {
    return "./scripts/fetch-data --dataset " + name + " " + quote(dataDir.toAbsolutePath().normalize().toString());
  }

  private static Path[] locate(String set, Path dataDir) {
    Path dir = dataDir.resolve(set);
    String[] names = {TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS};
    Path[] found = new Path[names.length];
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      found[i] = Idx.find(dir, names[i]);
      if (found[i] == null) {
        missing.add(dir.resolve(names[i]).toString());
      }
    }
    if (!missing.isEmpty()) {
      throw new DatasetException(set + " dataset not found: missing " + String.join(", ", missing)
          + " (plain or .gz); fetch it with: " + fetchCommand(set, dataDir));
    }
    return found;
  }

  private static void checkCounts(Idx.Images images, Path labelFile, int[] labels) {
    if (images.count() != labels.length) {
      throw new DatasetException("image/label count mismatch: " + images.file() + " has " + images.count()
          + " images but " + labelFile + " has " + labels.length + " labels");
    }
  }

  private static String quote(String s) {
    return s.matches("[A-Za-z0-9_./:=@+-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
  }
}
