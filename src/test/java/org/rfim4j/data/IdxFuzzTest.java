package org.rfim4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.rfim4j.io.Memory;

/**
 * Fuzz targets for the IDX reader (issue 16): plain files, raw gzip streams, and well-formed files damaged the
 * ways files get damaged (cut, a flipped bit, junk after the end). Whatever the bytes, reading ends in the
 * labels or images, or in a {@link DatasetException} (or a refusal for memory) naming the file in one line;
 * and what is accepted is exactly the canonical file (nothing ignored, nothing padded).
 *
 * <p>{@code mvn test} runs each target on the committed inputs in {@code IdxFuzzTestInputs/<target>/};
 * {@code scripts/fuzz} fuzzes them (docs/fuzzing.md).
 */
class IdxFuzzTest {
  private static final Path FILE;

  static {
    try {
      FILE = Files.createTempFile("rfim4j-idx-fuzz", ".bin");
      FILE.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @FuzzTest
  void plainOrGzip(byte[] input) throws IOException {
    readBoth(input);
  }

  /** The fuzzer's bytes after a gzip member header, so that it explores deflate streams and trailers. */
  @FuzzTest
  void gzipStream(byte[] input) throws IOException {
    byte[] c = new byte[10 + input.length];
    c[0] = 0x1f;
    c[1] = (byte) 0x8b;
    c[2] = 8;
    System.arraycopy(input, 0, c, 10, input.length);
    readBoth(c);
  }

  /**
   * A valid labels file (its content from the input), gzipped or not, then damaged as the input's first bytes
   * say: cut at a position, a bit flipped, junk appended. A damaged file must be refused, or read as exactly the
   * labels it holds when the damage left it intact.
   */
  @FuzzTest
  void damagedFiles(byte[] input) throws IOException {
    if (input.length < 6) {
      return;
    }
    int mode = input[0] & 3;
    boolean gz = (input[1] & 1) != 0;
    int where = ((input[2] & 0xFF) << 8 | (input[3] & 0xFF));
    byte[] labels = Arrays.copyOfRange(input, 4, input.length);
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (byte) ((labels[i] & 0xFF) % 10);
    }
    byte[] good = idxLabels(labels);
    byte[] file = gz ? gzip(good) : good;
    byte[] damaged;
    switch (mode) {
      case 0 -> damaged = Arrays.copyOf(file, where % file.length); // cut
      case 1 -> {
        damaged = file.clone();
        damaged[where % file.length] ^= (byte) (1 << (input[1] >>> 1 & 7)); // one bit
      }
      case 2 -> {
        damaged = Arrays.copyOf(file, file.length + 1 + where % 16); // junk after the end
        for (int i = file.length; i < damaged.length; i++) {
          damaged[i] = input[i % input.length];
        }
      }
      default -> damaged = file;
    }
    Files.write(FILE, damaged);
    int[] got;
    try {
      got = Idx.readLabels(FILE, 10);
    } catch (DatasetException | Memory.NotEnoughMemoryException e) {
      assertOneLine(e.getMessage());
      assertFalse(mode == 3, "an intact file was refused: " + e.getMessage());
      return;
    }
    assertTrue(mode == 3 || mode == 1, "a cut or junk was accepted: mode " + mode + (gz ? " gzip" : " plain"));
    if (mode == 1 && !gz) {
      // A plain file has no checksum: a flipped data bit is another valid file, read exactly as it is.
      byte[] raw = new byte[got.length];
      for (int i = 0; i < got.length; i++) {
        raw[i] = (byte) got[i];
      }
      assertArrayEquals(damaged, idxLabels(raw), "plain file read exactly");
      return;
    }
    // Intact, or a gzip file whose flipped bit lies in the header's MTIME, XFL or OS fields (nothing the file
    // holds): exactly the labels written; the CRC-32 and size catch every other flip.
    int[] expected = new int[labels.length];
    for (int i = 0; i < labels.length; i++) {
      expected[i] = labels[i];
    }
    assertArrayEquals(expected, got, "mode " + mode + (gz ? " gzip" : " plain"));
  }

  private static void readBoth(byte[] bytes) throws IOException {
    Files.write(FILE, bytes);
    try {
      int[] labels = Idx.readLabels(FILE, 256);
      byte[] raw = new byte[labels.length];
      for (int i = 0; i < labels.length; i++) {
        raw[i] = (byte) labels[i];
      }
      assertCanonical(bytes, idxLabels(raw));
    } catch (DatasetException | Memory.NotEnoughMemoryException e) {
      assertOneLine(e.getMessage());
    }
    try {
      Idx.Images images = Idx.readImages(FILE);
      assertEquals((long) images.count() * images.rows() * images.cols(), images.pixels().length);
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      b.write(java.nio.ByteBuffer.allocate(16).putInt(Idx.IMAGES_MAGIC).putInt(images.count())
          .putInt(images.rows()).putInt(images.cols()).array());
      b.write(images.pixels());
      assertCanonical(bytes, b.toByteArray());
    } catch (DatasetException | Memory.NotEnoughMemoryException e) {
      assertOneLine(e.getMessage());
    }
  }

  /** An accepted plain file is the canonical bytes; an accepted gzip file inflates to them. */
  private static void assertCanonical(byte[] file, byte[] canonical) throws IOException {
    if (file.length >= 2 && (file[0] & 0xFF) == 0x1f && (file[1] & 0xFF) == 0x8b) {
      try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(
          new java.io.ByteArrayInputStream(file))) {
        assertArrayEquals(canonical, in.readAllBytes(), "an accepted gzip file inflates to the canonical file");
      }
    } else {
      assertArrayEquals(canonical, file, "an accepted plain file is exactly the canonical file");
    }
  }

  private static void assertOneLine(String message) {
    assertTrue(message != null && !message.contains("\n"), String.valueOf(message));
    assertFalse(message.contains("Exception"), message);
  }

  static byte[] idxLabels(byte[] labels) {
    return java.nio.ByteBuffer.allocate(8 + labels.length).putInt(Idx.LABELS_MAGIC).putInt(labels.length)
        .put(labels).array();
  }

  static byte[] gzip(byte[] raw) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(b)) {
      g.write(raw);
    }
    return b.toByteArray();
  }
}
