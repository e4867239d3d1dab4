package org.rfim4j.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.io.StateFile;
import org.rfim4j.io.StateFile.ArrayEntry;
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
    List<double[]> values = new ArrayList<>();
    for (Map<String, DeviceArray> group : List.of(ma, oa)) {
      for (DeviceArray a : group.values()) {
        values.add(backend.download(a));
      }
    }
    StateFile.write(file, MAGIC, VERSION, h, values, "checkpoint");
  }

  /** Reads and validates a checkpoint file (format, CRC, header, array sizes). */
  public static Loaded load(Path file) {
    StateFile.Contents c = StateFile.read(file, MAGIC, VERSION, "checkpoint");
    Header h = c.header(Header.class);
    if (h.model() == null || h.optimizer() == null || h.modelArrays() == null || h.optimizerArrays() == null
        || h.optimizerScalars() == null) {
      throw new IllegalArgumentException("checkpoint " + file + " header lacks model, optimizer or arrays");
    }
    List<ArrayEntry> entries = new ArrayList<>(h.modelArrays());
    entries.addAll(h.optimizerArrays());
    return new Loaded(h, c.arrays(entries));
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

}
