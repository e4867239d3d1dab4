package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.cli.Main;
import org.rfim4j.io.StateFile;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.BlobsFixture;
import org.rfim4j.testutil.Synthetic;

/**
 * Issue 16, finding 4: checkpoints with a valid CRC and a hostile header. Every one is refused with a message
 * naming the file and the problem (an IllegalArgumentException: one line from the CLI), before anything is
 * restored.
 */
class CraftedCheckpointTest extends BlobsFixture {
  static final ObjectMapper JSON = new ObjectMapper();
  /** Two equal hidden widths: W2 and W3 have the same shape, so one can stand in for the other. */
  static final MlpConfig CFG = new MlpConfig(20, new int[] {8, 8, 8}, 3, Activation.RELU, Architecture.PLAIN, 1e-3,
      0.1, 5, 0.9, 1e-3);

  Path good;
  StateFile.Contents contents;
  ObjectNode header;
  List<double[]> payload;

  @BeforeEach
  void goodCheckpoint() throws IOException {
    good = tmp.resolve("good.rfim4j");
    OptimizerSpec spec = OptimizerSpec.rngd(RngdConfig.defaults(0.05).withRefreshPeriod(4));
    TrainerConfig tc = TrainerConfig.of(2, 30, 1);
    try (Mlp model = new Mlp(backend, CFG, 500); Optimizer opt = spec.create(model)) {
      Trainer t = new Trainer(model, opt, tc);
      t.fit(train, val);
      Checkpoint.save(good, model, spec, opt, t.completedEpochs(), t.elapsedSeconds(), tc, t.curve());
    }
    contents = StateFile.read(good, Checkpoint.MAGIC, Checkpoint.VERSION, "checkpoint");
    header = (ObjectNode) JSON.readTree(contents.header());
    List<StateFile.ArrayEntry> entries = new ArrayList<>();
    for (String list : List.of("modelArrays", "optimizerArrays")) {
      entries.addAll(List.of(JSON.treeToValue(header.get(list), StateFile.ArrayEntry[].class)));
    }
    Map<String, double[]> arrays = contents.arrays(entries);
    payload = new ArrayList<>(arrays.values());
  }

  /** Writes a container with a valid CRC around {@code headerText} and {@code arrays}. */
  Path craft(String name, int binaryVersion, String headerText, List<double[]> arrays) {
    Path f = tmp.resolve(name + ".rfim4j");
    StateFile.write(f, Checkpoint.MAGIC, binaryVersion, headerText.getBytes(StandardCharsets.UTF_8), arrays,
        "checkpoint");
    return f;
  }

  Path craft(String name, Consumer<ObjectNode> edit) {
    ObjectNode h = header.deepCopy();
    edit.accept(h);
    return craft(name, Checkpoint.VERSION, h.toString(), payload);
  }

  /** Refused by load or, for what only the rebuilt model and optimizer can tell, by restore. */
  static String refused(Path file, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
      Checkpoint.Loaded l = Checkpoint.load(file);
      try (org.rfim4j.backend.cpu.CpuBackend b = new org.rfim4j.backend.cpu.CpuBackend();
          Mlp m = new Mlp(b, l.header().model(), 500); Optimizer o = l.header().optimizer().create(m)) {
        l.restoreInto(m, o, file);
      }
    }, file + " was accepted");
    String msg = e.getMessage();
    assertTrue(msg.contains(file.toString()), msg);
    for (String f : fragments) {
      assertTrue(msg.contains(f), "'" + f + "' not in: " + msg);
    }
    return msg;
  }

  @Test
  void theGoodOneLoadsAndRestores() {
    Checkpoint.Loaded l = Checkpoint.load(craft("same", h -> { }));
    try (Mlp m = new Mlp(backend, l.header().model(), 500); Optimizer o = l.header().optimizer().create(m)) {
      l.restoreInto(m, o, good);
      assertArrayEquals(l.arrays().get("W3"), backend.download(m.namedArrays().get("W3")), 0.0);
    }
  }

  @Test
  void nullHeaderOrNullFields() {
    refused(craft("null", Checkpoint.VERSION, "null", payload), "header");
    refused(craft("array", Checkpoint.VERSION, "[1, 2]", payload), "header");
    refused(craft("curve-null", h -> h.putNull("curve")), "curve");
    refused(craft("model-null", h -> h.putNull("model")), "model");
    refused(craft("scalars-null", h -> h.putNull("optimizerScalars")), "optimizerScalars");
    refused(craft("batch-null", h -> h.putNull("batchSize")), "batchSize");
    refused(craft("epochs-missing", h -> h.remove("epochsCompleted")), "epochsCompleted");
    refused(craft("entry-null", h -> ((ArrayNode) h.get("modelArrays")).setNull(0)), "modelArrays");
    refused(craft("shape-null", h -> ((ObjectNode) h.get("modelArrays").get(0)).putNull("shape")), "shape");
    refused(craft("curve-row-null", h -> ((ArrayNode) h.get("curve")).setNull(0)), "curve");
  }

  @Test
  void duplicatedArrayNameWithAnotherMissing() {
    // W3 listed as a second W2 (same shape): W3 would keep its random initialisation.
    refused(craft("dup", h -> ((ObjectNode) h.get("modelArrays").get(2)).put("name", "W2")), "W2", "twice");
  }

  @Test
  void missingOrUnexpectedArrays() {
    List<double[]> fewer = new ArrayList<>(payload);
    fewer.remove(2);
    ObjectNode h = header.deepCopy();
    ((ArrayNode) h.get("modelArrays")).remove(2);
    refused(craft("missing", Checkpoint.VERSION, h.toString(), fewer), "W3");
    refused(craft("renamed", hh -> ((ObjectNode) hh.get("modelArrays").get(2)).put("name", "W9")), "W9");
  }

  @Test
  void negativeOrInconsistentCounts() {
    refused(craft("neg-epochs", h -> h.put("epochsCompleted", -1)), "epochsCompleted");
    refused(craft("more-epochs", h -> h.put("epochsCompleted", 5)), "curve");
    refused(craft("curve-epoch", h -> ((ObjectNode) h.get("curve").get(1)).put("epoch", 7)), "curve");
    refused(craft("batch", h -> h.put("batchSize", 0)), "batchSize");
    refused(craft("seconds", h -> h.put("seconds", -3.0)), "seconds");
    refused(craft("iterations", h -> ((ObjectNode) h.get("optimizerScalars")).put("iterations", -4.0)), "iterations");
    refused(craft("iterations-frac", h -> ((ObjectNode) h.get("optimizerScalars")).put("iterations", 2.5)),
        "iterations");
  }

  @Test
  void jsonVersionDisagreeingWithTheBinaryOne() {
    refused(craft("version", h -> h.put("version", 2)), "version");
  }

  @Test
  void unknownKeys() {
    refused(craft("scalar", h -> ((ObjectNode) h.get("optimizerScalars")).put("bogus", 1.0)), "bogus");
    refused(craft("top", h -> h.put("bogus", 1)), "bogus");
    refused(craft("nested", h -> ((ObjectNode) h.get("model")).put("bogus", 1)), "bogus");
  }

  @Test
  void nonFiniteValues() {
    List<double[]> nan = new ArrayList<>();
    for (double[] a : payload) {
      nan.add(a.clone());
    }
    nan.get(1)[3] = Double.NaN;
    refused(craft("payload-nan", Checkpoint.VERSION, header.toString(), nan), "W2", "non-finite");
    nan.get(1)[3] = Double.POSITIVE_INFINITY;
    refused(craft("payload-inf", Checkpoint.VERSION, header.toString(), nan), "W2", "non-finite");
    refused(craft("curve-inf", h -> ((ObjectNode) h.get("curve").get(0)).put("valLoss", new java.math.BigDecimal("1e999"))), "curve");
    refused(craft("curve-nan-string", h -> ((ObjectNode) h.get("curve").get(0)).put("valLoss", "NaN")), "curve");
    refused(craft("lr-inf", h -> ((ObjectNode) h.get("optimizer")).put("learningRate", new java.math.BigDecimal("1e999"))), "learningRate");
    refused(craft("scalar-inf", h -> {
      ObjectNode s = (ObjectNode) h.get("optimizerScalars");
      String k = s.fieldNames().next();
      s.put(k, new java.math.BigDecimal("1e999"));
    }), "optimizerScalars");
  }

  @Test
  void craftedCheckpointThroughTheCliIsOneLine() {
    Path bad = craft("null-cli", Checkpoint.VERSION, "null", payload);
    Synthetic.Run r = Synthetic.capture(() -> Main.execute("train", "--resume", bad.toString(), "--epochs", "3",
        "--device", "cpu", "--quiet"));
    assertEquals(Main.USAGE, r.exitCode(), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: ") && r.err().contains(bad.toString()), r.err());
  }
}
