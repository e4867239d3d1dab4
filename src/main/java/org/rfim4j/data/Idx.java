package org.rfim4j.data;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.io.InputFiles;
import org.rfim4j.io.Memory;

/**
 * Reads and writes IDX files of unsigned bytes: {@code idx1-ubyte} (labels, magic {@code 0x00000801}) and
 * {@code idx3-ubyte} (images, magic {@code 0x00000803}), the format of MNIST and Fashion-MNIST.
 *
 * <p>A file is big-endian: a 4-byte magic number (two zero bytes, the type code {@code 0x08} for unsigned
 * byte, the number of dimensions), one 4-byte size per dimension, then the data. Files may be plain or
 * gzip-compressed; compression is detected by the gzip magic {@code 0x1f8b}, not by the file name.
 *
 * <p>Every problem is reported as a {@link DatasetException} whose message starts with the file's path.
 */
public final class Idx {

  /** Magic number of an {@code idx1-ubyte} file (labels). */
  public static final int LABELS_MAGIC = 0x00000801;

  /** Magic number of an {@code idx3-ubyte} file (images). */
  public static final int IMAGES_MAGIC = 0x00000803;

  private static final int UBYTE = 0x08;

  /** Bytes read at a time from a compressed file. */
  private static final int CHUNK = 16 << 20;

  /** The most data bytes one file may declare (the largest Java array, less a margin). */
  static final long MAX_DATA = Integer.MAX_VALUE - 16;

  private static final float[] SCALE = new float[256];

  static {
    for (int i = 0; i < 256; i++) {
      SCALE[i] = i / 255f;
    }
  }

  private Idx() {}

  /**
   * Images read from an {@code idx3-ubyte} file.
   *
   * @param file where they came from
   * @param count number of images
   * @param rows rows of each image
   * @param cols columns of each image
   * @param pixels {@code count * rows * cols} unsigned bytes, image after image, each row-major
   */
  public record Images(Path file, int count, int rows, int cols, byte[] pixels) {

    /** Pixels per image, {@code rows * cols}. */
    public int pixelsPerImage() {
      return rows * cols;
    }

    /** Images {@code [from, to)} as {@code (to - from) x rows*cols} floats, row-major, scaled to [0, 1]. */
    public float[] toFeatures(int from, int to) {
      Objects.checkFromToIndex(from, to, count);
      int d = pixelsPerImage();
      float[] out = new float[(to - from) * d];
      int base = from * d;
      for (int i = 0; i < out.length; i++) {
        out[i] = SCALE[pixels[base + i] & 0xFF];
      }
      return out;
    }
  }

  /**
   * The IDX file {@code baseName} in {@code dir}: the plain file if anything exists under that name, else
   * {@code baseName.gz} if anything exists under that name, else null. Whether it is a readable regular file
   * is checked when it is read.
   */
  public static Path find(Path dir, String baseName) {
    for (Path p : new Path[] {dir.resolve(baseName), dir.resolve(baseName + ".gz")}) {
      // Anything at the path counts (a directory, a FIFO, a dangling link): reading it then says what it is,
      // rather than calling the file missing.
      if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        return p;
      }
    }
    return null;
  }

  /**
   * Reads an {@code idx1-ubyte} label file and checks that every label is in {@code [0, classes)}.
   *
   * @throws DatasetException if the file is missing, unreadable, malformed, truncated or has a label out
   *     of range
   */
  public static int[] readLabels(Path file, int classes) {
    if (classes <= 0 || classes > 256) {
      throw new IllegalArgumentException("classes must be in [1, 256], got " + classes);
    }
    byte[] raw = read(file, LABELS_MAGIC, "idx1-ubyte labels").data;
    int[] labels = new int[raw.length];
    int bad = 0;
    int firstBad = -1;
    for (int i = 0; i < raw.length; i++) {
      int y = raw[i] & 0xFF;
      labels[i] = y;
      if (y >= classes) {
        if (bad++ == 0) {
          firstBad = i;
        }
      }
    }
    if (bad > 0) {
      throw new DatasetException(
          file + ": label " + labels[firstBad] + " at index " + firstBad + " is out of range [0, " + classes + ")"
              + (bad > 1 ? " (" + bad + " labels out of range in all)" : ""));
    }
    return labels;
  }

  /**
   * Reads an {@code idx3-ubyte} image file.
   *
   * @throws DatasetException if the file is missing, unreadable, malformed or truncated
   */
  public static Images readImages(Path file) {
    Parsed p = read(file, IMAGES_MAGIC, "idx3-ubyte images");
    return new Images(file, p.dims[0], p.dims[1], p.dims[2], p.data);
  }

  /** Writes labels (each in [0, 255]) as an {@code idx1-ubyte} file, gzip-compressed if the name ends in .gz. */
  public static void writeLabels(Path file, int[] labels) {
    byte[] data = new byte[labels.length];
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] > 255) {
        throw new IllegalArgumentException("label " + labels[i] + " at index " + i + " does not fit an unsigned byte");
      }
      data[i] = (byte) labels[i];
    }
    write(file, LABELS_MAGIC, new int[] {labels.length}, data);
  }

  /**
   * Writes {@code pixels.length / (rows*cols)} images as an {@code idx3-ubyte} file, gzip-compressed if the
   * name ends in .gz.
   */
  public static void writeImages(Path file, int rows, int cols, byte[] pixels) {
    if (rows <= 0 || cols <= 0 || pixels.length % (rows * cols) != 0) {
      throw new IllegalArgumentException(
          pixels.length + " pixels are not a whole number of " + rows + "x" + cols + " images");
    }
    write(file, IMAGES_MAGIC, new int[] {pixels.length / (rows * cols), rows, cols}, pixels);
  }

  // ---------------------------------------------------------------------------------------------------

  private record Parsed(int[] dims, byte[] data) {}

  /**
   * The dimension sizes in the header of an {@code idx3-ubyte} image file (count, rows, columns), after the
   * same checks as {@link #readImages}; the data is not read.
   */
  public static int[] imageHeader(Path file) {
    return read(file, IMAGES_MAGIC, "idx3-ubyte images", true).dims;
  }

  private static Parsed read(Path file, int expectedMagic, String what) {
    return read(file, expectedMagic, what, false);
  }

  private static Parsed read(Path file, int expectedMagic, String what, boolean headerOnly) {
    String problem = InputFiles.problem(file);
    if (problem != null) {
      throw new DatasetException(file + ": " + (problem.equals("does not exist") ? "file not found"
          : problem + ", not an IDX file"));
    }
    long fileSize;
    try {
      fileSize = Files.size(file);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot read: " + AtomicFiles.describe(e), e);
    }
    try (InputStream in = open(file)) {
      boolean gzip = in instanceof GzipBuffer;
      boolean[] cut = new boolean[1];
      byte[] magicBytes = new byte[4];
      int got = readUpTo(in, magicBytes, file, cut);
      if (got < 4) {
        throw new DatasetException(
            file + ": truncated header: expected a 4-byte magic number, found " + got + " byte" + (got == 1 ? "" : "s")
                + (got == 0 ? " (empty file)" : "") + gzipCut(cut));
      }
      int magic = bigEndian(magicBytes, 0);
      int expectedDims = expectedMagic & 0xFF;
      if ((magic & 0xFFFFFF00) == (expectedMagic & 0xFFFFFF00) && magic != expectedMagic) {
        throw new DatasetException(String.format(
            "%s: wrong dimension count: expected %d (%s, magic 0x%08X), found %d (magic 0x%08X)",
            file, expectedDims, what, expectedMagic, magic & 0xFF, magic));
      }
      if (magic != expectedMagic) {
        throw new DatasetException(String.format(
            "%s: wrong magic number: expected 0x%08X (%s), found 0x%08X (%s)",
            file, expectedMagic, what, magic, describe(magic)));
      }
      byte[] dimBytes = new byte[4 * expectedDims];
      got = readUpTo(in, dimBytes, file, cut);
      if (got < dimBytes.length) {
        throw new DatasetException(file + ": truncated header: expected " + dimBytes.length
            + " bytes of dimension sizes after the magic number, found " + got + gzipCut(cut));
      }
      int[] dims = new int[expectedDims];
      BigInteger total = BigInteger.ONE;
      for (int i = 0; i < expectedDims; i++) {
        dims[i] = bigEndian(dimBytes, 4 * i);
        if (dims[i] < 0 || (i > 0 && dims[i] == 0)) {
          throw new DatasetException(file + ": bad size " + dims[i] + " for dimension " + i + " in the header");
        }
        total = total.multiply(BigInteger.valueOf(dims[i]));
      }
      if (total.compareTo(BigInteger.valueOf(MAX_DATA)) > 0) {
        StringBuilder product = new StringBuilder();
        for (int d : dims) {
          product.append(product.length() == 0 ? "" : " x ").append(d);
        }
        throw new DatasetException(file + ": header declares " + product + " = " + total
            + " bytes of data, more than the " + MAX_DATA + " one file may hold");
      }
      if (headerOnly) {
        return new Parsed(dims, null);
      }
      long declared = total.longValue();
      if (!gzip) { // bounded by the file's actual size, before anything is allocated
        long rest = fileSize - 4 - 4L * expectedDims;
        if (rest < declared) {
          throw new DatasetException(file + ": truncated file: expected " + declared + " bytes of data, found " + rest);
        }
        if (rest > declared) {
          throw new DatasetException(file + ": unexpected trailing data: expected " + declared
              + " bytes of data after the header, found more");
        }
      }
      // A compressed file is read in chunks and copied once complete: what it allocates is bounded by what it
      // really holds, not by what its header claims.
      Memory.requireHeap(gzip ? 2 * declared : declared, file + " (" + what + ", " + declared
          + " bytes declared by its header)");
      byte[] data;
      if (gzip) {
        List<byte[]> chunks = new ArrayList<>();
        long read = 0;
        while (read < declared) {
          byte[] c = new byte[(int) Math.min(CHUNK, declared - read)];
          got = readUpTo(in, c, file, cut);
          read += got;
          chunks.add(c);
          if (got < c.length) {
            throw new DatasetException(
                file + ": truncated file: expected " + declared + " bytes of data, found " + read + gzipCut(cut));
          }
        }
        data = new byte[(int) declared];
        int off = 0;
        for (byte[] c : chunks) {
          System.arraycopy(c, 0, data, off, c.length);
          off += c.length;
        }
      } else {
        data = new byte[(int) declared];
        got = readUpTo(in, data, file, cut);
        if (got < data.length) {
          throw new DatasetException(file + ": truncated file: expected " + data.length + " bytes of data, found "
              + got + " (the file changed while it was read)");
        }
      }
      if (readTrailing(in, file)) {
        throw new DatasetException(file + ": unexpected trailing data: expected " + data.length
            + " bytes of data after the header, found more");
      }
      return new Parsed(dims, data);
    } catch (NoSuchFileException e) {
      throw new DatasetException(file + ": file not found", e);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot read: " + AtomicFiles.describe(e), e);
    }
  }

  /** The buffer over a gzip stream, so that {@link #read} can tell a compressed file from a plain one. */
  private static final class GzipBuffer extends BufferedInputStream {
    GzipBuffer(InputStream in) {
      super(in, 1 << 16);
    }
  }

  private static InputStream open(Path file) throws IOException {
    BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    try {
      in.mark(2);
      int b0 = in.read();
      int b1 = in.read();
      in.reset();
      if (b0 == 0x1f && b1 == 0x8b) {
        return new GzipBuffer(new StrictGzipInputStream(in));
      }
      return in;
    } catch (IOException e) {
      in.close();
      if (e instanceof ZipException) {
        throw new DatasetException(file + ": corrupt or truncated gzip header: " + e.getMessage(), e);
      }
      throw e;
    }
  }

  /**
   * Fills {@code buf} as far as the stream allows; returns the bytes read. A gzip stream that ends inside a
   * member counts as the end of the data (the caller reports the IDX content as truncated, saying so);
   * corrupt gzip data is an error.
   */
  private static int readUpTo(InputStream in, byte[] buf, Path file, boolean[] gzipCut) throws IOException {
    int off = 0;
    try {
      while (off < buf.length) {
        int r = in.read(buf, off, buf.length - off);
        if (r < 0) {
          break;
        }
        off += r;
      }
    } catch (StrictGzipInputStream.Truncated e) {
      gzipCut[0] = true;
    } catch (ZipException e) {
      throw new DatasetException(file + ": " + e.getMessage() + " (after " + off + " bytes of IDX data)", e);
    }
    return off;
  }

  /**
   * Whether data follows the IDX content. For gzip this also reads to the end of the stream, so that its
   * trailer (CRC-32 and size) is checked and nothing but another gzip member may follow it.
   */
  private static boolean readTrailing(InputStream in, Path file) throws IOException {
    try {
      return in.read() >= 0;
    } catch (ZipException e) {
      throw new DatasetException(file + ": " + e.getMessage(), e);
    }
  }

  private static String gzipCut(boolean[] cut) {
    return cut[0] ? " (truncated gzip stream)" : "";
  }

  private static int bigEndian(byte[] b, int off) {
    return ((b[off] & 0xFF) << 24) | ((b[off + 1] & 0xFF) << 16) | ((b[off + 2] & 0xFF) << 8) | (b[off + 3] & 0xFF);
  }

  private static String describe(int magic) {
    if ((magic >>> 16) != 0) {
      return "not an IDX file";
    }
    int type = (magic >>> 8) & 0xFF;
    int dims = magic & 0xFF;
    String t = switch (type) {
      case 0x08 -> "unsigned byte";
      case 0x09 -> "signed byte";
      case 0x0B -> "short";
      case 0x0C -> "int";
      case 0x0D -> "float";
      case 0x0E -> "double";
      default -> "unknown type 0x" + Integer.toHexString(type);
    };
    return "IDX " + t + ", " + dims + " dimension" + (dims == 1 ? "" : "s");
  }

  private static void write(Path file, int magic, int[] dims, byte[] data) {
    try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16);
        OutputStream body = file.getFileName().toString().endsWith(".gz") ? new GZIPOutputStream(raw) : raw;
        DataOutputStream out = new DataOutputStream(body)) {
      out.writeInt(magic);
      for (int d : dims) {
        out.writeInt(d);
      }
      out.write(data);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot write: " + e, e);
    }
  }
}
