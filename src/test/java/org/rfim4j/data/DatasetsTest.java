package org.rfim4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {

  @TempDir Path data;

  /** Writes a tiny fake dataset: {@code nTrain} + {@code nTest} 2x3 images; label i is i % 10; pixel = label*20 + j. */
  static void writeFake(Path data, String set, int nTrain, int nTest, boolean gz) throws IOException {
    Path dir = data.resolve(set);
    Files.createDirectories(dir);
    String sfx = gz ? ".gz" : "";
    write(dir.resolve(Datasets.TRAIN_IMAGES + sfx), dir.resolve(Datasets.TRAIN_LABELS + sfx), nTrain, 0);
    write(dir.resolve(Datasets.TEST_IMAGES + sfx), dir.resolve(Datasets.TEST_LABELS + sfx), nTest, 3);
  }

  private static void write(Path images, Path labels, int n, int offset) {
    int[] y = new int[n];
    byte[] px = new byte[n * 6];
    for (int i = 0; i < n; i++) {
      y[i] = (i + offset) % 10;
      for (int j = 0; j < 6; j++) {
        px[i * 6 + j] = (byte) (y[i] * 20 + j);
      }
    }
    Idx.writeImages(images, 2, 3, px);
    Idx.writeLabels(labels, y);
  }

  @Test
  void loadsSplitPlain() throws IOException {
    checkSplit(false);
  }

  @Test
  void loadsSplitGzip() throws IOException {
    checkSplit(true);
  }

  private void checkSplit(boolean gz) throws IOException {
    writeFake(data, "mnist", 25, 7, gz);
    assertTrue(Datasets.isPresent("mnist", data));
    Split s = Datasets.load("mnist", data, 5);
    assertEquals(20, s.train().n());
    assertEquals(5, s.validation().n());
    assertEquals(7, s.test().n());
    for (Dataset ds : new Dataset[] {s.train(), s.validation(), s.test()}) {
      assertEquals(6, ds.d());
      assertEquals(10, ds.classes());
      assertEquals(ds.n() * 6, ds.features().length);
    }
    assertEquals("mnist/train", s.train().name());
    // Validation is the tail of the training file: its first example is training example 20 (label 0).
    assertEquals(0, s.validation().labels()[0]);
    assertEquals(1, s.validation().labels()[1]);
    assertEquals(3, s.test().labels()[0]);
    // Pixel scaling: example 21 has label 1, pixel j = 20 + j.
    assertEquals(22 / 255f, s.validation().features()[6 + 2], 0f);
    assertEquals(9, s.train().labels()[19]);
  }

  @Test
  void defaultSplitHoldsOutTenThousand() throws IOException {
    writeFake(data, "fashion", 10_003, 4, false);
    Split s = Datasets.load("fashion", data);
    assertEquals(3, s.train().n());
    assertEquals(10_000, s.validation().n());
    assertEquals("fashion/validation", s.validation().name());
  }

  @Test
  void subsetCopiesRows() throws IOException {
    writeFake(data, "mnist", 12, 2, false);
    Dataset train = Datasets.load("mnist", data, 2).train();
    Dataset sub = train.subset(3, 6);
    assertEquals(3, sub.n());
    assertArrayEquals(new int[] {3, 4, 5}, sub.labels());
    assertEquals(train.features()[3 * 6], sub.features()[0], 0f);
    assertEquals("mnist/train[3:6)", sub.name());
    assertEquals(0, train.subset(4, 4).n());
    assertThrows(IndexOutOfBoundsException.class, () -> train.subset(5, 11));
    int[] counts = train.classCounts();
    assertEquals(10, counts.length);
    assertEquals(1, counts[0]);
  }

  @Test
  void imageLabelCountMismatchNamesBothFiles() throws IOException {
    writeFake(data, "mnist", 20, 5, false);
    Path labels = data.resolve("mnist").resolve(Datasets.TRAIN_LABELS);
    Idx.writeLabels(labels, new int[19]);
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.load("mnist", data, 5));
    Path images = data.resolve("mnist").resolve(Datasets.TRAIN_IMAGES);
    assertEquals("image/label count mismatch: " + images + " has 20 images but " + labels + " has 19 labels",
        e.getMessage());
  }

  @Test
  void missingDatasetNamesFileAndFetchCommand() throws IOException {
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.load("mnist", data));
    String m = e.getMessage();
    assertTrue(m.contains(data.resolve("mnist").resolve(Datasets.TRAIN_IMAGES).toString()), m);
    assertTrue(m.contains("./scripts/fetch-data --dataset mnist"), m);
    assertFalse(m.contains("\n"), m);

    // Only one file missing: the message names that one.
    writeFake(data, "fashion", 12, 2, false);
    Files.delete(data.resolve("fashion").resolve(Datasets.TEST_LABELS));
    e = assertThrows(DatasetException.class, () -> Datasets.load("fashion", data, 2));
    m = e.getMessage();
    assertTrue(m.contains("missing " + data.resolve("fashion").resolve(Datasets.TEST_LABELS) + " (plain or .gz)"), m);
    assertFalse(m.contains(Datasets.TRAIN_IMAGES), m);
    assertTrue(m.contains("./scripts/fetch-data --dataset fashion"), m);
    assertFalse(Datasets.isPresent("fashion", data));
  }

  @Test
  void unknownName() {
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.load("cifar", data));
    assertEquals("unknown dataset 'cifar': expected one of mnist, fashion", e.getMessage());
  }

  @Test
  void badFileInsideDatasetPropagates() throws IOException {
    writeFake(data, "mnist", 12, 2, false);
    Path testLabels = data.resolve("mnist").resolve(Datasets.TEST_LABELS);
    Idx.writeLabels(testLabels, new int[] {1, 11});
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.load("mnist", data, 2));
    assertTrue(e.getMessage().startsWith(testLabels + ": label 11 at index 1 is out of range"), e.getMessage());
  }

  /** Issue 16, finding 3: a dataset whose headers ask for more than the heap is refused before it is read. */
  @Test
  void aDatasetLargerThanTheHeapIsRefusedFromItsHeaders() throws java.io.IOException {
    Path huge = data.resolve("huge");
    org.rfim4j.testutil.Synthetic.writeIdx(huge, "mnist", 10_050, 10, 1);
    Path images = huge.resolve("mnist").resolve(Datasets.TRAIN_IMAGES);
    java.nio.file.Files.write(images, java.nio.ByteBuffer.allocate(16).putInt(Idx.IMAGES_MAGIC).putInt(32_767)
        .putInt(256).putInt(256).array());
    org.rfim4j.io.Memory.NotEnoughMemoryException e = org.junit.jupiter.api.Assertions.assertThrows(
        org.rfim4j.io.Memory.NotEnoughMemoryException.class, () -> Datasets.load("mnist", huge));
    assertTrue(e.getMessage().contains("loading mnist (32777 images of 256x256) needs about"), e.getMessage());
  }
}
