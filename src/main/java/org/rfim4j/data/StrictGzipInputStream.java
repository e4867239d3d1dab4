package org.rfim4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import java.util.zip.ZipException;

/**
 * A gzip (RFC 1952) decoder that accepts only complete, intact streams, unlike {@link
 * java.util.zip.GZIPInputStream}, which ignores what follows the last member and can be read short of its
 * trailer. Every member's header (reserved flags, optional fields, header CRC) and trailer (CRC-32 and
 * size of the data) is checked; a stream that ends inside a member is {@link Truncated}; after a member
 * only the end of the input or another member may follow, anything else is trailing data. Concatenated
 * members read as one stream, as RFC 1952 defines.
 */
final class StrictGzipInputStream extends InputStream {
  /** The input ends inside a gzip member (header, compressed data or trailer). */
  static final class Truncated extends ZipException {
    private static final long serialVersionUID = 1L;

    Truncated(String where) {
      super("truncated gzip stream: it ends inside the " + where);
    }
  }

  private static final int FHCRC = 2;
  private static final int FEXTRA = 4;
  private static final int FNAME = 8;
  private static final int FCOMMENT = 16;

  private final InputStream in;
  private final byte[] buf = new byte[1 << 16];
  private int pos;
  private int len;
  private final Inflater inflater = new Inflater(true);
  private final CRC32 crc = new CRC32();
  /** Header bytes of the current member, for FHCRC. */
  private final CRC32 headerCrc = new CRC32();
  private long memberSize;
  private boolean done;
  private final byte[] one = new byte[1];

  /** Decodes {@code in}, which must start with a gzip member. Reads the first member's header. */
  StrictGzipInputStream(InputStream in) throws IOException {
    this.in = in;
    readHeader();
  }

  @Override
  public int read() throws IOException {
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int n) throws IOException {
    if (n == 0) {
      return 0;
    }
    while (!done) {
      if (inflater.finished()) {
        endOfMember();
        continue;
      }
      if (inflater.needsInput()) {
        if (!fill()) {
          throw new Truncated("compressed data");
        }
        inflater.setInput(buf, pos, len - pos);
      }
      int got;
      try {
        got = inflater.inflate(b, off, n);
      } catch (DataFormatException e) {
        throw new ZipException("corrupt gzip data: " + e.getMessage());
      }
      pos = len - inflater.getRemaining();
      if (inflater.needsDictionary()) {
        throw new ZipException("corrupt gzip data: a preset dictionary is not allowed in gzip");
      }
      if (got > 0) {
        crc.update(b, off, got);
        memberSize += got;
        return got;
      }
    }
    return -1;
  }

  /** Checks the trailer of the member just inflated, then expects the end of the input or another member. */
  private void endOfMember() throws IOException {
    long storedCrc = readLe(4, "trailer (CRC-32 and size)");
    long storedSize = readLe(4, "trailer (CRC-32 and size)");
    if (storedCrc != crc.getValue()) {
      throw new ZipException(String.format("corrupt gzip stream: CRC mismatch (the trailer says 0x%08X, the data"
          + " has 0x%08X)", storedCrc, crc.getValue()));
    }
    if (storedSize != (memberSize & 0xFFFFFFFFL)) {
      throw new ZipException("corrupt gzip stream: size mismatch (the trailer says " + storedSize
          + " bytes modulo 2^32, the data has " + memberSize + ")");
    }
    if (pos == len && !fill()) {
      done = true;
      return;
    }
    int b0 = buf[pos] & 0xFF;
    int b1 = pos + 1 < len ? buf[pos + 1] & 0xFF : peekSecond();
    if (b0 != 0x1f || b1 != 0x8b) {
      throw new ZipException("trailing data after the gzip stream");
    }
    inflater.reset();
    crc.reset();
    memberSize = 0;
    readHeader();
  }

  /** The byte after buf[pos] when buf holds only one: moves that byte to the front and reads on. */
  private int peekSecond() throws IOException {
    buf[0] = buf[pos];
    pos = 0;
    len = 1;
    int r = in.read(buf, 1, buf.length - 1);
    if (r <= 0) {
      throw new ZipException("trailing data after the gzip stream");
    }
    len += r;
    return buf[1] & 0xFF;
  }

  private void readHeader() throws IOException {
    headerCrc.reset();
    if (headerByte() != 0x1f || headerByte() != 0x8b) {
      throw new ZipException("not in gzip format");
    }
    int method = headerByte();
    if (method != 8) {
      throw new ZipException("corrupt gzip header: compression method " + method + ", only 8 (deflate) exists");
    }
    int flags = headerByte();
    if ((flags & 0xE0) != 0) {
      throw new ZipException("corrupt gzip header: reserved flag bits set (0x" + Integer.toHexString(flags) + ")");
    }
    for (int i = 0; i < 6; i++) { // MTIME, XFL, OS
      headerByte();
    }
    if ((flags & FEXTRA) != 0) {
      int xlen = headerByte() | headerByte() << 8;
      for (int i = 0; i < xlen; i++) {
        headerByte();
      }
    }
    if ((flags & FNAME) != 0) {
      while (headerByte() != 0) {
        // skip the file name
      }
    }
    if ((flags & FCOMMENT) != 0) {
      while (headerByte() != 0) {
        // skip the comment
      }
    }
    if ((flags & FHCRC) != 0) {
      long expected = headerCrc.getValue() & 0xFFFF;
      long stored = readLe(2, "header");
      if (stored != expected) {
        throw new ZipException("corrupt gzip header: header CRC mismatch");
      }
    }
  }

  private int headerByte() throws IOException {
    int b = nextByte("header");
    headerCrc.update(b);
    return b;
  }

  private long readLe(int bytes, String where) throws IOException {
    long v = 0;
    for (int i = 0; i < bytes; i++) {
      v |= (long) nextByte(where) << (8 * i);
    }
    return v;
  }

  private int nextByte(String where) throws IOException {
    if (pos == len && !fill()) {
      throw new Truncated(where);
    }
    return buf[pos++] & 0xFF;
  }

  /** Refills the buffer when it is used up; false at the end of the input. */
  private boolean fill() throws IOException {
    if (pos < len) {
      return true;
    }
    int r;
    do {
      r = in.read(buf, 0, buf.length);
    } while (r == 0);
    pos = 0;
    len = Math.max(r, 0);
    return r > 0;
  }

  @Override
  public void close() throws IOException {
    inflater.end();
    in.close();
  }
}
