package org.rfim4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxTest {

  @TempDir Path dir;

  /** Raw IDX bytes: magic, sizes, data. */
  static byte[] idx(int magic, int[] dims, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
    b.putInt(magic);
    for (int d : dims) {
      b.putInt(d);
    }
    b.put(data);
    return b.array();
  }

  static byte[] gzip(byte[] raw) throws IOException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
      gz.write(raw);
    }
    return bos.toByteArray();
  }

  static byte[] pixels(int n) {
    byte[] p = new byte[n];
    for (int i = 0; i < n; i++) {
      p[i] = (byte) (i * 37);
    }
    return p;
  }

  @ParameterizedTest
  @ValueSource(strings = {"labels", "labels.gz"})
  void labelsRoundTrip(String name) {
    int[] labels = {0, 9, 3, 3, 7, 1};
    Path f = dir.resolve(name);
    Idx.writeLabels(f, labels);
    assertArrayEquals(labels, Idx.readLabels(f, 10));
  }

  @ParameterizedTest
  @ValueSource(strings = {"images", "images.gz"})
  void imagesRoundTrip(String name) {
    byte[] px = pixels(4 * 3 * 2);
    px[0] = 0;
    px[1] = (byte) 255;
    Path f = dir.resolve(name);
    Idx.writeImages(f, 3, 2, px);
    Idx.Images im = Idx.readImages(f);
    assertEquals(4, im.count());
    assertEquals(3, im.rows());
    assertEquals(2, im.cols());
    assertArrayEquals(px, im.pixels());
    float[] feats = im.toFeatures(1, 3);
    assertEquals(2 * 6, feats.length);
    for (int i = 0; i < feats.length; i++) {
      assertEquals((px[6 + i] & 0xFF) / 255f, feats[i], 0f);
    }
    float[] all = im.toFeatures(0, 4);
    assertEquals(0f, all[0]);
    assertEquals(1f, all[1]);
  }

  @Test
  void gzipIsDetectedByMagicNotByName() throws IOException {
    Path f = dir.resolve("labels-no-suffix");
    Files.write(f, gzip(idx(Idx.LABELS_MAGIC, new int[] {3}, new byte[] {1, 2, 3})));
    assertArrayEquals(new int[] {1, 2, 3}, Idx.readLabels(f, 10));
    Path g = dir.resolve("plain.gz");
    Files.write(g, idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {4, 5}));
    assertArrayEquals(new int[] {4, 5}, Idx.readLabels(g, 10));
  }

  @Test
  void findPrefersPlainThenGz() throws IOException {
    assertNull(Idx.find(dir, "x"));
    Files.write(dir.resolve("x.gz"), new byte[0]);
    assertEquals(dir.resolve("x.gz"), Idx.find(dir, "x"));
    Files.write(dir.resolve("x"), new byte[0]);
    assertEquals(dir.resolve("x"), Idx.find(dir, "x"));
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void truncatedImages(boolean gz) throws IOException {
    byte[] full = idx(Idx.IMAGES_MAGIC, new int[] {5, 4, 4}, pixels(80));
    byte[] cut = Arrays.copyOf(full, full.length - 30); // 50 of 80 data bytes
    Path f = dir.resolve(gz ? "t.gz" : "t");
    Files.write(f, gz ? gzip(cut) : cut);
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
    assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
    assertTrue(e.getMessage().contains("truncated file: expected 80 bytes of data, found 50"), e.getMessage());
  }

  @Test
  void truncatedGzipStreamItself() throws IOException {
    byte[] gz = gzip(idx(Idx.IMAGES_MAGIC, new int[] {50, 10, 10}, pixels(5000)));
    Path f = dir.resolve("cut.gz");
    Files.write(f, Arrays.copyOf(gz, gz.length / 2));
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
    assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("truncated file: expected 5000 bytes of data, found "), e.getMessage());
  }

  @Test
  void truncatedHeader() throws IOException {
    Path empty = dir.resolve("empty");
    Files.write(empty, new byte[0]);
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(empty, 10));
    assertTrue(e.getMessage().contains("truncated header") && e.getMessage().contains("empty file"), e.getMessage());

    Path shortDims = dir.resolve("short");
    Files.write(shortDims, Arrays.copyOf(idx(Idx.IMAGES_MAGIC, new int[] {1, 2, 2}, new byte[4]), 10));
    e = assertThrows(DatasetException.class, () -> Idx.readImages(shortDims));
    assertTrue(e.getMessage().contains("truncated header: expected 12 bytes of dimension sizes"), e.getMessage());
  }

  @Test
  void wrongMagicNumber() throws IOException {
    Path f = dir.resolve("notidx");
    Files.write(f, "hello, world, this is not IDX".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
    assertEquals(f + ": wrong magic number: expected 0x00000803 (idx3-ubyte images), found 0x68656C6C (not an IDX file)",
        e.getMessage());

    Path floats = dir.resolve("floats");
    Files.write(floats, idx(0x00000D01, new int[] {1}, new byte[4]));
    e = assertThrows(DatasetException.class, () -> Idx.readLabels(floats, 10));
    assertTrue(e.getMessage().contains("wrong magic number: expected 0x00000801 (idx1-ubyte labels), found 0x00000D01"),
        e.getMessage());
    assertTrue(e.getMessage().contains("float"), e.getMessage());
  }

  @Test
  void wrongDimensionCount() throws IOException {
    Path labels = dir.resolve("labels-not-images");
    Idx.writeLabels(labels, new int[] {1, 2});
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(labels));
    assertTrue(e.getMessage().startsWith(labels + ": wrong dimension count: expected 3"), e.getMessage());
    assertTrue(e.getMessage().contains("found 1 (magic 0x00000801)"), e.getMessage());
  }

  @Test
  void labelOutOfRange() throws IOException {
    Path f = dir.resolve("labels");
    Files.write(f, idx(Idx.LABELS_MAGIC, new int[] {5}, new byte[] {0, 1, 10, 3, (byte) 200}));
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(f, 10));
    assertEquals(f + ": label 10 at index 2 is out of range [0, 10) (2 labels out of range in all)", e.getMessage());
  }

  @Test
  void trailingData() throws IOException {
    Path f = dir.resolve("labels");
    byte[] raw = idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {1, 2, 3});
    Files.write(f, raw);
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(f, 10));
    assertTrue(e.getMessage().contains("trailing data"), e.getMessage());
  }

  @Test
  void missingFile() {
    Path f = dir.resolve("nope");
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
    assertEquals(f + ": file not found", e.getMessage());
  }

  // ------------------------------------------------------------------- strict gzip (issue 16, finding 2)

  /** Gzip with stored (uncompressed) deflate blocks: a flipped data byte still inflates to the same length. */
  static byte[] gzipStored(byte[] raw) throws IOException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bos) {
      {
        def.setLevel(java.util.zip.Deflater.NO_COMPRESSION);
      }
    }) {
      gz.write(raw);
    }
    return bos.toByteArray();
  }

  static final byte[] LABELS = idx(Idx.LABELS_MAGIC, new int[] {300}, labelBytes(300));

  static byte[] labelBytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i % 10);
    }
    return b;
  }

  DatasetException rejectedGzip(String name, byte[] content) throws IOException {
    Path f = dir.resolve(name + ".gz");
    Files.write(f, content);
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readLabels(f, 10), name + " was accepted");
    assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
    return e;
  }

  @Test
  void gzipWithoutItsTrailerIsRefused() throws IOException {
    byte[] gz = gzip(LABELS);
    for (int cut : new int[] {8, 4, 1}) {
      DatasetException e = rejectedGzip("cut" + cut, Arrays.copyOf(gz, gz.length - cut));
      assertTrue(e.getMessage().contains("truncated gzip"), e.getMessage());
    }
  }

  @Test
  void gzipWithAFlippedDataBitIsRefusedByItsCrc() throws IOException {
    byte[] gz = gzipStored(LABELS);
    byte[] bad = gz.clone();
    bad[gz.length - 8 - 20] ^= 0x01; // a label byte inside the stored block: same length, other content
    DatasetException e = rejectedGzip("flip", bad);
    assertTrue(e.getMessage().contains("CRC"), e.getMessage());
  }

  @Test
  void gzipWithAWrongTrailerIsRefused() throws IOException {
    byte[] gz = gzip(LABELS);
    byte[] crc = gz.clone();
    crc[gz.length - 8] ^= 0x40;
    assertTrue(rejectedGzip("crc", crc).getMessage().contains("CRC"));
    byte[] size = gz.clone();
    size[gz.length - 4] ^= 0x01;
    assertTrue(rejectedGzip("isize", size).getMessage().contains("size"));
  }

  @Test
  void junkAfterTheGzipStreamIsRefusedLikeAfterAPlainFile() throws IOException {
    byte[] gz = gzip(LABELS);
    for (byte[] junk : new byte[][] {{0}, "junk".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
        {0x1f}, {0x1f, (byte) 0x8b}, new byte[100]}) {
      byte[] c = Arrays.copyOf(gz, gz.length + junk.length);
      System.arraycopy(junk, 0, c, gz.length, junk.length);
      DatasetException e = rejectedGzip("junk" + junk.length, c);
      // 1f 8b starts another member, which then ends inside its header.
      String expected = junk.length == 2 ? "truncated gzip stream: it ends inside the header"
          : "trailing data after the gzip stream";
      assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
  }

  @Test
  void concatenatedGzipMembersAreOneStream() throws IOException {
    byte[] a = gzip(Arrays.copyOf(LABELS, 100));
    byte[] b = gzip(Arrays.copyOfRange(LABELS, 100, LABELS.length));
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    Path f = dir.resolve("two-members.gz");
    Files.write(f, c);
    int[] labels = Idx.readLabels(f, 10);
    assertEquals(300, labels.length);
    assertEquals(9, labels[299]);
  }

  @Test
  void gzipHeaderFieldsAreParsed() throws IOException {
    // FLG = FHCRC | FEXTRA | FNAME | FCOMMENT, as gzip(1) and other tools may write them.
    byte[] plain = gzip(LABELS);
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.write(new byte[] {0x1f, (byte) 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3});
    h.write(new byte[] {3, 0, 'a', 'b', 'c'}); // FEXTRA: 3 bytes
    h.write("labels\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    h.write("a comment\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(h.toByteArray());
    h.write((int) crc.getValue() & 0xFF);
    h.write((int) (crc.getValue() >>> 8) & 0xFF);
    h.write(plain, 10, plain.length - 10);
    Path f = dir.resolve("fields.gz");
    Files.write(f, h.toByteArray());
    assertEquals(300, Idx.readLabels(f, 10).length);
    byte[] badHcrc = h.toByteArray();
    badHcrc[10 + 5 + 7 + 10] ^= 1;
    assertTrue(rejectedGzip("hcrc", badHcrc).getMessage().contains("header CRC"));
  }

  // ------------------------------------------------------ not a file, overflowing sizes (issue 16, finding 9)

  DatasetException notAnIdxFile(Path where) {
    DatasetException e = assertThrows(DatasetException.class,
        () -> Datasets.load("mnist", dir.resolve("data")), "loaded with " + where);
    assertTrue(e.getMessage().contains(where.toString()), e.getMessage());
    assertTrue(!e.getMessage().contains("missing"), e.getMessage());
    return e;
  }

  /** A complete tiny dataset in dir/data/mnist whose training images are replaced by {@code replace}. */
  Path datasetWithImagesReplaced() throws IOException {
    org.rfim4j.testutil.Synthetic.writeIdx(dir.resolve("data"), "mnist", 10_010, 5, 1);
    Path images = dir.resolve("data/mnist").resolve(Datasets.TRAIN_IMAGES);
    Files.delete(images);
    return images;
  }

  @Test
  void aDirectoryInPlaceOfAnIdxFileIsNamedAsSuch() throws IOException {
    Path images = datasetWithImagesReplaced();
    Files.createDirectory(images);
    assertTrue(notAnIdxFile(images).getMessage().contains("is a directory"));
  }

  @Test
  void aFifoInPlaceOfAnIdxFileIsRefusedWithoutBlocking() throws Exception {
    Path images = datasetWithImagesReplaced();
    Process p = new ProcessBuilder("mkfifo", images.toString()).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo unavailable");
    DatasetException e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20),
        () -> notAnIdxFile(images));
    assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
  }

  @Test
  void aSymlinkLoopInPlaceOfAnIdxFileIsNamedAsSuch() throws IOException {
    Path images = datasetWithImagesReplaced();
    Path other = images.resolveSibling("loop");
    Files.createSymbolicLink(images, other);
    Files.createSymbolicLink(other, images);
    assertTrue(notAnIdxFile(images).getMessage().contains("symbolic link"));
  }

  @Test
  void aDanglingSymlinkIsNamedAsSuch() throws IOException {
    Path images = datasetWithImagesReplaced();
    Files.createSymbolicLink(images, images.resolveSibling("gone"));
    assertTrue(notAnIdxFile(images).getMessage().contains("dangling symbolic link"));
  }

  @Test
  void anOverflowingSizeProductIsReportedUnwrapped() throws IOException {
    // 2^30 x 2^30 x 16 = 2^64 wraps to 0 in a long: a 16-byte file would pass as empty.
    Path f = dir.resolve("wrap");
    Files.write(f, idx(Idx.IMAGES_MAGIC, new int[] {1 << 30, 1 << 30, 16}, new byte[0]));
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(f));
    assertTrue(e.getMessage().contains("1073741824 x 1073741824 x 16 = 18446744073709551616 bytes"), e.getMessage());
    Path g = dir.resolve("max");
    Files.write(g, idx(Idx.IMAGES_MAGIC, new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE},
        new byte[0]));
    e = assertThrows(DatasetException.class, () -> Idx.readImages(g));
    assertTrue(e.getMessage().contains("= 9903520300447984150353281023 bytes"), e.getMessage());
  }

  // ------------------------------------------------------- sizes bounded by the file (issue 16, finding 3)

  @Test
  void aHeaderAskingForTwoGiBIsBoundedByTheFileItself() throws IOException {
    byte[] header = idx(Idx.IMAGES_MAGIC, new int[] {32_767, 256, 256}, new byte[0]); // 2^31 - 2^16 bytes
    Path plain = dir.resolve("plain-header");
    Files.write(plain, header);
    long before = usedHeap();
    DatasetException e = assertThrows(DatasetException.class, () -> Idx.readImages(plain));
    assertTrue(e.getMessage().contains("truncated file: expected 2147418112 bytes of data, found 0"), e.getMessage());
    Path gz = dir.resolve("gzip-header");
    Files.write(gz, gzip(header));
    RuntimeException g = assertThrows(RuntimeException.class, () -> Idx.readImages(gz));
    assertTrue(g.getMessage().contains("truncated file: expected 2147418112 bytes of data, found 0")
        || g.getMessage().contains("not enough memory"), g.getMessage());
    assertTrue(usedHeap() - before < 256L << 20, "read at most what the file holds");
  }

  static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }
}
