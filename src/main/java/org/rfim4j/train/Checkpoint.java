package org.rfim4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.io.JsonErrors;
import org.rfim4j.io.StateFile;
import org.rfim4j.io.StateFile.ArrayEntry;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/**
 * Checkpoint files: the model, the optimizer's full state and the trainer's position, so that
 * {@code train --resume} continues bit-identically on either CPU engine (the header records the precision,
 * and a resume at the other precision is refused). Format version 1 (see
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
  /** Writes headers, and reads them strictly: no nulls for numbers, no strings for numbers, no repeated keys. */
  private static final ObjectMapper JSON = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
      .build();

  /** The header's fields, in the order they are written; all required. */
  static final List<String> FIELDS = List.of("version", "model", "optimizer", "epochsCompleted", "seconds",
      "batchSize", "shuffleSeed", "optimizerScalars", "curve", "modelArrays", "optimizerArrays");

  /** Header fields that may be absent (files of earlier versions lack them); null when absent. */
  static final List<String> OPTIONAL_FIELDS = List.of("data", "precisionBits");

  /**
   * The JSON header.
   *
   * @param data what the run was trained on; null in files of earlier versions (optional field)
   * @param precisionBits the element precision of the backend that wrote the file (64: the float64 CPU
   *     engine; 32: the float32 CPU engine or a GPU); null in files of earlier versions (optional field)
   */
  public record Header(int version, MlpConfig model, OptimizerSpec optimizer, int epochsCompleted,
      double seconds, int batchSize, long shuffleSeed, Map<String, Double> optimizerScalars,
      List<EpochResult> curve, List<ArrayEntry> modelArrays, List<ArrayEntry> optimizerArrays, Data data,
      Integer precisionBits) {}

  /**
   * The data a run trains on, recorded so that a resume uses (and checks) the same.
   *
   * @param dataset the dataset's name ({@code mnist}, {@code fashion})
   * @param trainSize the training subset ({@code --train-size}), or null for the whole training set
   * @param trainExamples the number of training examples
   * @param validationExamples the number of validation examples
   */
  public record Data(String dataset, Integer trainSize, int trainExamples, int validationExamples) {
    public Data {
      if (dataset == null || dataset.isBlank()) {
        throw new IllegalArgumentException("the dataset name must be given");
      }
      if (trainExamples < 1 || validationExamples < 0 || (trainSize != null && trainSize != trainExamples)) {
        throw new IllegalArgumentException("inconsistent data sizes: trainSize " + trainSize + ", trainExamples "
            + trainExamples + ", validationExamples " + validationExamples);
      }
    }
  }

  /** What {@link #load} returns: the header and the arrays by name. */
  public record Loaded(Header header, Map<String, double[]> arrays) {
    /**
     * Copies the stored arrays into a freshly built model and optimizer of the same configuration, after
     * checking that the file holds exactly their arrays (each once, with its shape) and exactly their scalar
     * state; nothing is changed when it does not.
     */
    public void restoreInto(Mlp model, Optimizer optimizer, Path file) {
      Integer bits = header.precisionBits();
      int have = model.backend().precisionBits();
      if (bits != null && bits != have) {
        throw new IllegalArgumentException("checkpoint " + file + " was written in float" + bits + " (precision "
            + bits + ") but the model's backend " + model.backend().name() + " computes in float" + have
            + ": resume with the same precision (train --precision " + bits + "); a run does not change"
            + " precision midway");
      }
      Map<String, DeviceArray> ma = model.namedArrays();
      Map<String, DeviceArray> oa = optimizer.state();
      StateFile.checkEntries(ma, header.modelArrays(), "model", file, "checkpoint");
      StateFile.checkEntries(oa, header.optimizerArrays(), "optimizer", file, "checkpoint");
      Set<String> scalars = optimizer.scalars().keySet();
      for (String k : header.optimizerScalars().keySet()) {
        if (!scalars.contains(k)) {
          throw new IllegalArgumentException("checkpoint " + file + ": unknown optimizer scalar '" + k + "' for "
              + optimizer.name() + " (expected " + String.join(", ", scalars) + ")");
        }
      }
      for (String k : scalars) {
        if (!header.optimizerScalars().containsKey(k)) {
          throw new IllegalArgumentException("checkpoint " + file + " lacks the optimizer scalar '" + k + "'");
        }
      }
      Backend backend = model.backend();
      for (Map<String, DeviceArray> group : List.of(ma, oa)) {
        group.forEach((name, target) -> backend.upload(target, arrays.get(name)));
      }
      optimizer.restoreScalars(header.optimizerScalars());
    }
  }

  private Checkpoint() {}

  /** Saves atomically, without a record of the data. */
  public static void save(Path file, Mlp model, OptimizerSpec spec, Optimizer optimizer, int epochsCompleted,
      double seconds, TrainerConfig trainer, List<EpochResult> curve) {
    save(file, model, spec, optimizer, epochsCompleted, seconds, trainer, curve, null);
  }

  /** Saves atomically; {@code data} (may be null) records what the run trains on. */
  public static void save(Path file, Mlp model, OptimizerSpec spec, Optimizer optimizer, int epochsCompleted,
      double seconds, TrainerConfig trainer, List<EpochResult> curve, Data data) {
    Backend backend = model.backend();
    Map<String, DeviceArray> ma = model.namedArrays();
    Map<String, DeviceArray> oa = optimizer.state();
    Header h = new Header(VERSION, model.config(), spec, epochsCompleted, seconds, trainer.batchSize(),
        trainer.shuffleSeed(), optimizer.scalars(), curve, StateFile.entries(ma), StateFile.entries(oa), data,
        backend.precisionBits());
    List<double[]> values = new ArrayList<>();
    for (Map<String, DeviceArray> group : List.of(ma, oa)) {
      for (DeviceArray a : group.values()) {
        values.add(backend.download(a));
      }
    }
    StateFile.write(file, MAGIC, VERSION, h, values, "checkpoint");
  }

  /**
   * Reads and validates a checkpoint file: the container (magic, version, CRC, sizes), then the header
   * completely (every field present, known and of its type; numbers finite; the JSON version equal to the
   * binary one; counts consistent with the curve; every array listed once) and the payload (finite values).
   * What only the rebuilt model and optimizer can tell (names, shapes, scalar keys) {@link
   * Loaded#restoreInto} checks.
   */
  public static Loaded load(Path file) {
    StateFile.Contents c = StateFile.read(file, MAGIC, VERSION, "checkpoint");
    Header h = parseHeader(c.header(), c.version(), file);
    List<ArrayEntry> entries = new ArrayList<>(h.modelArrays());
    entries.addAll(h.optimizerArrays());
    Map<String, double[]> arrays = c.arrays(entries);
    for (Map.Entry<String, double[]> a : arrays.entrySet()) {
      double[] v = a.getValue();
      for (int i = 0; i < v.length; i++) {
        if (!Double.isFinite(v[i])) {
          throw bad(file, "array '" + a.getKey() + "' holds a non-finite value (" + v[i] + " at index " + i + ")");
        }
      }
    }
    return new Loaded(h, arrays);
  }

  private static Header parseHeader(byte[] text, int binaryVersion, Path file) {
    JsonNode tree;
    Header h;
    try {
      tree = JSON.readTree(text);
      if (tree == null || !tree.isObject()) {
        throw bad(file, "the header is not a JSON object");
      }
      for (Iterator<String> it = tree.fieldNames(); it.hasNext();) {
        String f = it.next();
        if (!FIELDS.contains(f) && !OPTIONAL_FIELDS.contains(f)) {
          throw bad(file, "unknown header field '" + f + "'");
        }
      }
      for (String f : FIELDS) {
        if (!tree.has(f) || tree.get(f).isNull()) {
          throw bad(file, "the header lacks '" + f + "'" + (tree.has(f) ? " (null)" : ""));
        }
      }
      String inf = JsonErrors.firstNonFinite(tree, "");
      if (inf != null) {
        throw bad(file, "header field '" + inf + "' is not a finite number");
      }
      for (String f : OPTIONAL_FIELDS) {
        if (!tree.has(f)) {
          ((ObjectNode) tree).putNull(f);
        }
      }
      JsonNode rngd = tree.path("optimizer").path("rngd");
      if (rngd.isObject() && !rngd.has("biasCorrection")) {
        ((ObjectNode) rngd).put("biasCorrection", false);  // files of earlier versions: the paper's metric start
      }
      h = JSON.treeToValue(tree, Header.class);
    } catch (JsonProcessingException e) {
      throw bad(file, "bad header: " + JsonErrors.describe(e));
    } catch (IOException e) {
      throw bad(file, "unreadable header: " + e.getMessage());
    }
    if (h.version() != binaryVersion) {
      throw bad(file, "the header says format version " + h.version() + ", the file's binary version is "
          + binaryVersion);
    }
    if (h.epochsCompleted() < 0) {
      throw bad(file, "epochsCompleted is " + h.epochsCompleted() + ", must be >= 0");
    }
    if (!(h.seconds() >= 0)) {
      throw bad(file, "seconds is " + h.seconds() + ", must be >= 0");
    }
    if (h.precisionBits() != null && h.precisionBits() != 32 && h.precisionBits() != 64) {
      throw bad(file, "precisionBits is " + h.precisionBits() + ", must be 32 or 64");
    }
    if (h.batchSize() < 1) {
      throw bad(file, "batchSize is " + h.batchSize() + ", must be >= 1");
    }
    checkCurve(h, file);
    checkScalars(h.optimizerScalars(), file);
    for (String list : List.of("modelArrays", "optimizerArrays")) {
      List<ArrayEntry> l = list.equals("modelArrays") ? h.modelArrays() : h.optimizerArrays();
      for (int i = 0; i < l.size(); i++) {
        ArrayEntry e = l.get(i);
        if (e == null || e.name() == null || e.shape() == null) {
          throw bad(file, "header field '" + list + "[" + i + "]' lacks a name or a shape");
        }
      }
    }
    RngdConfig r = h.optimizer().rngd();
    if (r != null && r.metricKinds() != null && Arrays.asList(r.metricKinds()).contains(null)) {
      throw bad(file, "header field 'optimizer.rngd.metricKinds' holds a null");
    }
    return h;
  }

  private static void checkCurve(Header h, Path file) {
    List<EpochResult> curve = h.curve();
    if (curve.size() != h.epochsCompleted()) {
      throw bad(file, "the curve has " + curve.size() + " rows for " + h.epochsCompleted() + " completed epochs");
    }
    double last = 0;
    for (int i = 0; i < curve.size(); i++) {
      EpochResult r = curve.get(i);
      if (r == null) {
        throw bad(file, "curve row " + i + " is null");
      }
      if (r.epoch() != i + 1) {
        throw bad(file, "curve row " + i + " is epoch " + r.epoch() + ", expected " + (i + 1));
      }
      if (!(r.trainLoss() >= 0) || !(r.valLoss() >= 0) || !(r.trainError() >= 0 && r.trainError() <= 1)
          || !(r.valError() >= 0 && r.valError() <= 1) || !(r.seconds() >= last)) {
        throw bad(file, "curve row " + i + " has impossible values: " + r.toCsv());
      }
      last = r.seconds();
    }
  }

  private static void checkScalars(Map<String, Double> scalars, Path file) {
    for (Map.Entry<String, Double> e : scalars.entrySet()) {
      if (e.getKey() == null || e.getValue() == null || !Double.isFinite(e.getValue())) {
        throw bad(file, "optimizerScalars '" + e.getKey() + "' is " + e.getValue() + ", must be a finite number");
      }
    }
    Double it = scalars.get("iterations");
    if (it == null || it < 0 || it != Math.rint(it)) {
      throw bad(file, "optimizerScalars 'iterations' is " + it + ", must be a whole number >= 0");
    }
  }

  /** The stored list names exactly the target arrays, each with the target's shape. */
  private static IllegalArgumentException bad(Path file, String problem) {
    return new IllegalArgumentException("checkpoint " + file + ": " + JsonErrors.printable(problem));
  }


}
