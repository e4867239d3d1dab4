package org.rfim4j.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.rfim4j.io.Memory;

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
    Shape shape = shape(set, files);
    Memory.requireHeap(shape.loadBytes(), "loading " + set + " (" + shape + ")");

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

  /**
   * What the headers of a dataset's image files declare, read without loading the data.
   *
   * @param trainImages images in the training file (train and validation)
   * @param testImages images in the test file
   * @param rows rows of each image
   * @param cols columns of each image
   */
  public record Shape(int trainImages, int testImages, int rows, int cols) {
    /** Features per example. */
    public int features() {
      return rows * cols;
    }

    /**
     * Bytes {@link Datasets#load} holds at its peak: the images as read (one byte per pixel), as floats (four)
     * and the labels as bytes and ints.
     */
    public long loadBytes() {
      long images = (long) trainImages + testImages;
      return images * rows * cols * 5 + images * 9;
    }

    @Override
    public String toString() {
      return ((long) trainImages + testImages) + " images of " + rows + "x" + cols;
    }
  }

  /**
   * The {@link Shape} of {@code name} in {@code dataDir} from the image files' headers (the data is not
   * read), for memory estimates before loading.
   *
   * @throws DatasetException as {@link #load} for a missing file or a bad header
   */
  public static Shape shape(String name, Path dataDir) {
    String set = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
    if (!NAMES.contains(set)) {
      throw new DatasetException("unknown dataset '" + name + "': expected one of " + String.join(", ", NAMES));
    }
    return shape(set, locate(set, dataDir));
  }

  private static Shape shape(String set, Path[] files) {
    int[] train = Idx.imageHeader(files[0]);
    int[] test = Idx.imageHeader(files[2]);
    return new Shape(train[0], test[0], train[1], train[2]);
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
