package org.rfim4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;

/**
 * Checkpoint files: the model, the optimizer's full state and the trainer's position, so that
 * {@code train --resume} continues bit-identically on the CPU backend. Format version 1 (see
 * docs/checkpoint.md):
 *
 * <pre>
 *   bytes 0..7   ASCII "RFIM4JCK"
 *   int32 BE     format version (1)
 *   int32 BE     header length H
 *   H bytes      UTF-8 JSON header {@link Header}
 *   payload      float64 little-endian values of every array listed in the header, in order
 *   int64 BE     CRC-32 of all preceding bytes
 * </pre>
 *
 * Loading checks the magic, version, CRC, header fields and every array's name and shape against the
 * model and optimizer rebuilt from the header, and fails with a message naming the file and the
 * problem. Writes are atomic (temporary file, then rename). No Java serialisation is involved.
 */
public final class Checkpoint {
  public static final String MAGIC = "RFIM4JCK";
  public static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One stored array. */
  public record ArrayEntry(String name, int[] shape) {}

  /** The JSON header. */
  public record Header(int version, MlpConfig model, OptimizerSpec optimizer, int epochsCompleted,
      double seconds, int batchSize, long shuffleSeed, Map<String, Double> optimizerScalars,
      List<EpochResult> curve, List<ArrayEntry> modelArrays, List<ArrayEntry> optimizerArrays) {}

  /** What {@link #load} returns: the header and the arrays by name. */
  public record Loaded(Header header, Map<String, double[]> arrays) {
    /** Copies the stored arrays into a freshly built model and optimizer of the same configuration. */
    public void restoreInto(Mlp model, Optimizer optimizer, Path file) {
      restore(model.backend(), model.namedArrays(), header.modelArrays(), arrays, file);
      restore(model.backend(), optimizer.state(), header.optimizerArrays(), arrays, file);
      optimizer.restoreScalars(header.optimizerScalars());
    }
  }

  private Checkpoint() {}

  /** Saves atomically. */
  public static void save(Path file, Mlp model, OptimizerSpec spec, Optimizer optimizer, int epochsCompleted,
      double seconds, TrainerConfig trainer, List<EpochResult> curve) {
    Backend backend = model.backend();
    Map<String, DeviceArray> ma = model.namedArrays();
    Map<String, DeviceArray> oa = optimizer.state();
    Header h = new Header(VERSION, model.config(), spec, epochsCompleted, seconds, trainer.batchSize(),
        trainer.shuffleSeed(), optimizer.scalars(), curve, entries(ma), entries(oa));
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.write(MAGIC.getBytes(StandardCharsets.US_ASCII));
      out.writeInt(VERSION);
      byte[] header = JSON.writeValueAsBytes(h);
      out.writeInt(header.length);
      out.write(header);
      for (Map<String, DeviceArray> group : List.of(ma, oa)) {
        for (DeviceArray a : group.values()) {
          double[] v = backend.download(a);
          ByteBuffer buf = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
          buf.asDoubleBuffer().put(v);
          out.write(buf.array());
        }
      }
      out.flush();
      CRC32 crc = new CRC32();
      crc.update(bytes.toByteArray());
      out.writeLong(crc.getValue());
      out.flush();
      AtomicFiles.write(file, bytes.toByteArray());
    } catch (IOException e) {
      throw new IllegalStateException("cannot write checkpoint " + file + ": " + e.getMessage(), e);
    }
  }

  /** Reads and validates a checkpoint file (format, CRC, header, array sizes). */
  public static Loaded load(Path file) {
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("checkpoint " + file + " does not exist");
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read checkpoint " + file + ": " + e.getMessage());
    }
    if (all.length < 24 || !new String(all, 0, 8, StandardCharsets.US_ASCII).equals(MAGIC)) {
      throw new IllegalArgumentException("checkpoint " + file + " is not an rfim4j checkpoint (bad magic)");
    }
    CRC32 crc = new CRC32();
    crc.update(all, 0, all.length - 8);
    long stored = ByteBuffer.wrap(all, all.length - 8, 8).getLong();
    if (stored != crc.getValue()) {
      throw new IllegalArgumentException("checkpoint " + file + " is corrupt or truncated (CRC mismatch)");
    }
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(all, 8, all.length - 16))) {
      int version = in.readInt();
      if (version != VERSION) {
        throw new IllegalArgumentException("checkpoint " + file + " has format version " + version
            + "; this build reads version " + VERSION);
      }
      int hl = in.readInt();
      if (hl <= 0 || hl > all.length) {
        throw new IllegalArgumentException("checkpoint " + file + " has a bad header length " + hl);
      }
      byte[] hb = in.readNBytes(hl);
      Header h;
      try {
        h = JSON.readValue(hb, Header.class);
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException("checkpoint " + file + " has an unreadable header: "
            + e.getMessage().lines().findFirst().orElse(""));
      }
      if (h.model() == null || h.optimizer() == null || h.modelArrays() == null || h.optimizerArrays() == null
          || h.optimizerScalars() == null) {
        throw new IllegalArgumentException("checkpoint " + file + " header lacks model, optimizer or arrays");
      }
      Map<String, double[]> arrays = new LinkedHashMap<>();
      List<ArrayEntry> entries = new ArrayList<>(h.modelArrays());
      entries.addAll(h.optimizerArrays());
      long expected = 0;
      for (ArrayEntry e : entries) {
        expected += size(e.shape()) * 8;
      }
      if (expected != all.length - 8 - 4 - 4 - hl - 8) {
        throw new IllegalArgumentException("checkpoint " + file + ": payload has "
            + (all.length - 24 - hl) + " bytes, the header lists " + expected);
      }
      for (ArrayEntry e : entries) {
        byte[] raw = in.readNBytes((int) (size(e.shape()) * 8));
        double[] v = new double[raw.length / 8];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(v);
        arrays.put(e.name(), v);
      }
      return new Loaded(h, arrays);
    } catch (IOException e) {
      throw new IllegalArgumentException("checkpoint " + file + " is truncated: " + e.getMessage());
    }
  }

  private static void restore(Backend backend, Map<String, DeviceArray> targets, List<ArrayEntry> stored,
      Map<String, double[]> values, Path file) {
    if (stored.size() != targets.size()) {
      throw new IllegalArgumentException("checkpoint " + file + " stores " + stored.size()
          + " arrays where the rebuilt model/optimizer has " + targets.size());
    }
    for (ArrayEntry e : stored) {
      DeviceArray t = targets.get(e.name());
      if (t == null) {
        throw new IllegalArgumentException("checkpoint " + file + " has an unexpected array '" + e.name() + "'");
      }
      if (!Arrays.equals(t.shape(), e.shape())) {
        throw new IllegalArgumentException("checkpoint " + file + ": array '" + e.name() + "' has shape "
            + Arrays.toString(e.shape()) + ", expected " + Arrays.toString(t.shape()));
      }
      backend.upload(t, values.get(e.name()));
    }
  }

  private static List<ArrayEntry> entries(Map<String, DeviceArray> m) {
    List<ArrayEntry> l = new ArrayList<>();
    m.forEach((k, v) -> l.add(new ArrayEntry(k, v.shape())));
    return l;
  }

  private static long size(int[] shape) {
    if (shape == null || shape.length == 0) {
      throw new IllegalArgumentException("checkpoint array without a shape");
    }
    long n = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException("checkpoint array with a non-positive dimension");
      }
      n *= d;
    }
    return n;
  }
}
