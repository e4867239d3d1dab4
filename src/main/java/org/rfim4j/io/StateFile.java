package org.rfim4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;
import org.rfim4j.backend.DeviceArray;

/**
 * The container of rfim4j's state files (training checkpoints, preconditioner state; docs/checkpoint.md):
 *
 * <pre>
 *   bytes 0..7   ASCII magic (8 characters, one per kind of file)
 *   int32 BE     format version
 *   int32 BE     header length H
 *   H bytes      UTF-8 JSON header, which lists the arrays (name and shape) in payload order
 *   payload      float64 little-endian values of every listed array, in order
 *   int64 BE     CRC-32 of all preceding bytes
 * </pre>
 *
 * Writes are atomic (temporary file, then rename). Reading checks magic, CRC, version, header length and the
 * payload size against the listed arrays, and fails with an {@link IllegalArgumentException} naming the file.
 */
public final class StateFile {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StateFile() {}

  /** One stored array. */
  public record ArrayEntry(String name, int[] shape) {}

  /** A file read and checked up to its header; {@link #arrays} splits the payload. */
  public record Contents(Path file, String what, int version, byte[] header, byte[] all, int payloadOffset) {
    /** The JSON header bound to {@code type}; an unreadable header names the file. */
    public <T> T header(Class<T> type) {
      try {
        return JSON.readValue(header, type);
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException(what + " " + file + " has an unreadable header: "
            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
      }
    }

    /**
     * The payload as arrays by name, after checking that every entry has a name, no name comes twice and the
     * payload's size is exactly what {@code entries} list.
     */
    public Map<String, double[]> arrays(List<ArrayEntry> entries) {
      long expected = 0;
      java.util.Set<String> names = new java.util.HashSet<>();
      for (ArrayEntry e : entries) {
        if (e == null || e.name() == null || e.name().isEmpty()) {
          throw new IllegalArgumentException(what + " " + file + ": an array without a name in the header");
        }
        if (!names.add(e.name())) {
          throw new IllegalArgumentException(what + " " + file + ": the header lists array '"
              + JsonErrors.printable(e.name()) + "' twice");
        }
        expected += size(e.shape(), file, what) * 8;
      }
      int payload = all.length - 8 - payloadOffset;
      if (expected != payload) {
        throw new IllegalArgumentException(what + " " + file + ": payload has " + payload
            + " bytes, the header lists " + expected);
      }
      Map<String, double[]> out = new LinkedHashMap<>();
      ByteBuffer buf = ByteBuffer.wrap(all, payloadOffset, payload).order(ByteOrder.LITTLE_ENDIAN);
      for (ArrayEntry e : entries) {
        double[] v = new double[(int) size(e.shape(), file, what)];
        buf.asDoubleBuffer().get(v);
        buf.position(buf.position() + v.length * 8);
        out.put(e.name(), v);
      }
      return out;
    }
  }

  /**
   * Writes the container atomically: {@code header} as JSON (a record listing the arrays), then {@code arrays}
   * in the order the header lists them.
   */
  public static void write(Path file, String magic, int version, Object header, List<double[]> arrays,
      String what) {
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new IllegalStateException("cannot write " + what + " " + file + ": " + e.getMessage(), e);
    }
    write(file, magic, version, json, arrays, what);
  }

  /** Writes the container atomically with a header given as its UTF-8 JSON bytes (as written, unchecked). */
  public static void write(Path file, String magic, int version, byte[] json, List<double[]> arrays,
      String what) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.write(magic(magic));
      out.writeInt(version);
      out.writeInt(json.length);
      out.write(json);
      for (double[] v : arrays) {
        ByteBuffer buf = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.asDoubleBuffer().put(v);
        out.write(buf.array());
      }
      out.flush();
      CRC32 crc = new CRC32();
      crc.update(bytes.toByteArray());
      out.writeLong(crc.getValue());
      out.flush();
      AtomicFiles.write(file, bytes.toByteArray());
    } catch (IOException e) {
      throw new IllegalStateException("cannot write " + what + " " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads {@code file} and checks magic, CRC, version ({@code version} is the one this build reads) and the
   * header length.
   *
   * @param what how messages name the file, e.g. "checkpoint"
   */
  public static Contents read(Path file, String magic, int version, String what) {
    byte[] all = readBounded(file, what);
    if (all.length < 24 || !Arrays.equals(Arrays.copyOf(all, 8), magic(magic))) {
      throw new IllegalArgumentException(what + " " + file + " is not an rfim4j " + what + " (bad magic)");
    }
    CRC32 crc = new CRC32();
    crc.update(all, 0, all.length - 8);
    long stored = ByteBuffer.wrap(all, all.length - 8, 8).getLong();
    if (stored != crc.getValue()) {
      throw new IllegalArgumentException(what + " " + file + " is corrupt or truncated (CRC mismatch)");
    }
    ByteBuffer in = ByteBuffer.wrap(all, 8, all.length - 16);
    int v = in.getInt();
    if (v != version) {
      throw new IllegalArgumentException(what + " " + file + " has format version " + v
          + "; this build reads version " + version);
    }
    int hl = in.getInt();
    if (hl <= 0 || hl > all.length - 24) {
      throw new IllegalArgumentException(what + " " + file + " has a bad header length " + hl);
    }
    return new Contents(file, what, v, Arrays.copyOfRange(all, 16, 16 + hl), all, 16 + hl);
  }

  /**
   * The bytes of a regular file, read as far as its size says and no further (a device such as /dev/zero or a
   * FIFO is refused before it is opened), after checking that the heap holds them twice (the bytes and the
   * arrays made from them).
   */
  static byte[] readBounded(Path file, String what) {
    String problem = InputFiles.problem(file);
    if (problem != null) {
      throw new IllegalArgumentException(what + " " + file + " " + problem);
    }
    try (InputStream in = Files.newInputStream(file)) {
      long size = Files.size(file);
      if (size > MAX_FILE) {
        throw new IllegalArgumentException(what + " " + file + " is too large: " + size + " bytes, more than the "
            + MAX_FILE + " a state file may hold");
      }
      Memory.requireHeap(2 * size, "reading " + what + " " + file + " (" + Memory.human(size) + ")");
      byte[] all = in.readNBytes((int) size);
      if (all.length != size || in.read() >= 0) {
        throw new IllegalArgumentException(what + " " + file + " changed while it was read");
      }
      return all;
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(what + " " + file + " does not exist");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + what + " " + file + ": " + AtomicFiles.describe(e));
    }
  }

  /** The largest state file read: one Java array. */
  static final long MAX_FILE = Integer.MAX_VALUE - 8;

  /** The {name, shape} entries of named arrays, in the map's order (what a header lists). */
  public static List<ArrayEntry> entries(Map<String, DeviceArray> arrays) {
    List<ArrayEntry> l = new ArrayList<>();
    arrays.forEach((k, v) -> l.add(new ArrayEntry(k, v.shape())));
    return l;
  }

  /**
   * Checks that {@code stored} lists every array of {@code targets} exactly once, with its shape, and nothing
   * else, before anything is uploaded.
   *
   * @param group how messages name the arrays, e.g. "model"
   * @throws IllegalArgumentException naming the file and the first difference
   */
  public static void checkEntries(Map<String, DeviceArray> targets, List<ArrayEntry> stored, String group,
      Path file, String what) {
    Set<String> seen = new HashSet<>();
    for (ArrayEntry e : stored) {
      DeviceArray t = targets.get(e.name());
      if (t == null) {
        throw bad(what, file, "unexpected " + group + " array '" + e.name() + "' (expected "
            + String.join(", ", targets.keySet()) + ")");
      }
      if (!seen.add(e.name())) {
        throw bad(what, file, "the header lists array '" + e.name() + "' twice");
      }
      if (!Arrays.equals(t.shape(), e.shape())) {
        throw bad(what, file, "array '" + e.name() + "' has shape " + Arrays.toString(e.shape()) + ", expected "
            + Arrays.toString(t.shape()));
      }
    }
    for (String name : targets.keySet()) {
      if (!seen.contains(name)) {
        throw bad(what, file, "the " + group + " array '" + name + "' is missing");
      }
    }
  }

  private static IllegalArgumentException bad(String what, Path file, String problem) {
    return new IllegalArgumentException(what + " " + file + ": " + JsonErrors.printable(problem));
  }

  private static byte[] magic(String magic) {
    byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
    if (m.length != 8) {
      throw new IllegalArgumentException("state file magic must be 8 ASCII characters: " + magic);
    }
    return m;
  }

  private static long size(int[] shape, Path file, String what) {
    if (shape == null || shape.length == 0) {
      throw new IllegalArgumentException(what + " " + file + ": an array without a shape");
    }
    long n = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(what + " " + file + ": an array with a non-positive dimension");
      }
      n *= d;
      if (n > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(what + " " + file + ": an array of more than "
            + Integer.MAX_VALUE + " elements");
      }
    }
    return n;
  }
}
