package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.cli.Main;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.BlobsFixture;
import org.rfim4j.testutil.Synthetic;

/**
 * Resuming from a checkpoint is bit-identical to an uninterrupted run (CPU backend), for every optimizer;
 * damaged checkpoints are rejected with a message naming the file.
 */
class CheckpointTest extends BlobsFixture {
  static final int BATCH = 32; // 300 examples: 10 steps per epoch, the last one partial (12 rows)
  static final long SHUFFLE_SEED = 11;

  static MlpConfig model(Architecture arch) {
    return new MlpConfig(20, new int[] {16, 12}, 3, Activation.RELU, arch, 1e-3, 0.1, 5, 0.9, 1e-3);
  }

  static Stream<Arguments> cases() {
    // RNGD with T = 7: inversions at steps 0, 7 (first epoch) and 14 (second epoch).
    OptimizerSpec rngd = OptimizerSpec.rngd(RngdConfig.defaults(0.05).withRefreshPeriod(7).withLambda(0.05));
    return Stream.of(
        Arguments.of("sgd", OptimizerSpec.sgd(0.1), Architecture.PLAIN),
        Arguments.of("sgd-momentum", new OptimizerSpec("sgd", 0.05, 0.9, null), Architecture.PLAIN),
        Arguments.of("adam", OptimizerSpec.adam(1e-3), Architecture.PLAIN),
        Arguments.of("adam-bna", OptimizerSpec.adam(1e-3), Architecture.BNA),
        Arguments.of("rngd", rngd, Architecture.PLAIN),
        Arguments.of("rngd-bna", rngd, Architecture.BNA));
  }

  /** Everything that must match bit for bit: model arrays, optimizer arrays and scalars. */
  record State(Map<String, double[]> arrays, Map<String, Double> scalars, List<EpochResult> curve) {}

  State snapshot(Mlp model, Optimizer opt, List<EpochResult> curve) {
    Map<String, double[]> a = new LinkedHashMap<>();
    model.namedArrays().forEach((k, v) -> a.put("model." + k, backend.download(v)));
    opt.state().forEach((k, v) -> a.put("opt." + k, backend.download(v)));
    return new State(a, new LinkedHashMap<>(opt.scalars()), new ArrayList<>(curve));
  }

  static void assertSameState(State expected, State actual) {
    assertEquals(expected.arrays().keySet(), actual.arrays().keySet());
    for (String k : expected.arrays().keySet()) {
      assertArrayEquals(expected.arrays().get(k), actual.arrays().get(k), 0.0, k);
    }
    assertEquals(expected.scalars(), actual.scalars());
    assertEquals(expected.curve().size(), actual.curve().size());
    for (int i = 0; i < expected.curve().size(); i++) {
      EpochResult e = expected.curve().get(i);
      EpochResult g = actual.curve().get(i);
      assertEquals(e.epoch(), g.epoch());
      assertEquals(e.trainLoss(), g.trainLoss(), 0.0, "train loss epoch " + e.epoch());
      assertEquals(e.trainError(), g.trainError(), 0.0);
      assertEquals(e.valLoss(), g.valLoss(), 0.0, "val loss epoch " + e.epoch());
      assertEquals(e.valError(), g.valError(), 0.0);
    }
  }

  State straight(MlpConfig cfg, OptimizerSpec spec, int epochs) {
    TrainerConfig tc = TrainerConfig.of(epochs, BATCH, SHUFFLE_SEED);
    int maxBatch = Math.max(tc.batchSize(), tc.evalBatch());
    try (Mlp model = new Mlp(backend, cfg, maxBatch); Optimizer opt = spec.create(model)) {
      Trainer t = new Trainer(model, opt, tc);
      t.fit(train, val);
      return snapshot(model, opt, t.curve());
    }
  }

  /** Trains {@code epochs} epochs and saves a checkpoint, as the CLI's Runner does after each epoch. */
  Path firstPart(MlpConfig cfg, OptimizerSpec spec, int epochs, Path file) {
    TrainerConfig tc = TrainerConfig.of(epochs, BATCH, SHUFFLE_SEED);
    int maxBatch = Math.max(tc.batchSize(), tc.evalBatch());
    try (Mlp model = new Mlp(backend, cfg, maxBatch); Optimizer opt = spec.create(model)) {
      Trainer t = new Trainer(model, opt, tc);
      t.fit(train, val);
      Checkpoint.save(file, model, spec, opt, t.completedEpochs(), t.elapsedSeconds(), tc, t.curve());
      return file;
    }
  }

  /** Loads the checkpoint into a freshly built model and optimizer and trains to {@code epochs}. */
  State resumed(Path file, int epochs) {
    Checkpoint.Loaded loaded = Checkpoint.load(file);
    Checkpoint.Header h = loaded.header();
    TrainerConfig tc = TrainerConfig.of(epochs, h.batchSize(), h.shuffleSeed());
    int maxBatch = Math.max(tc.batchSize(), tc.evalBatch());
    try (Mlp model = new Mlp(backend, h.model(), maxBatch); Optimizer opt = h.optimizer().create(model)) {
      loaded.restoreInto(model, opt, file);
      Trainer t = new Trainer(model, opt, tc).resumeAt(h.epochsCompleted(), h.seconds(), h.curve());
      t.fit(train, val);
      return snapshot(model, opt, t.curve());
    }
  }

  /**
   * Checkpoints written by the code before RNGD became a preconditioner (format v1, commit 5fcbfe1; made by
   * src/test/resources/checkpoints/Gen.java.txt, both orders and both dampings) load into today's Rngd and
   * resume bit-identically to what that code computed for the next epoch.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"plain", "bna"})
  void checkpointsOfTheFormerRngdResumeBitIdentically(String arch) throws Exception {
    backend.close();
    backend = new org.rfim4j.backend.cpu.CpuBackend(2, org.rfim4j.backend.cpu.CpuBackend.GemmPath.JAVA);
    Path epoch1 = Path.of(getClass().getResource("/checkpoints/v1-rngd-" + arch + "-epoch1.rfim4j").toURI());
    Path epoch2 = Path.of(getClass().getResource("/checkpoints/v1-rngd-" + arch + "-epoch2.rfim4j").toURI());
    Checkpoint.Loaded expected = Checkpoint.load(epoch2);
    Map<String, double[]> arrays = new LinkedHashMap<>();
    expected.header().modelArrays().forEach(e -> arrays.put("model." + e.name(), expected.arrays().get(e.name())));
    expected.header().optimizerArrays().forEach(e -> arrays.put("opt." + e.name(), expected.arrays().get(e.name())));
    State split = resumed(epoch1, 2);
    assertSameState(new State(arrays, expected.header().optimizerScalars(), expected.header().curve()), split);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void resumeIsBitIdentical(String label, OptimizerSpec spec, Architecture arch) {
    MlpConfig cfg = model(arch);
    State full = straight(cfg, spec, 2);
    Path file = firstPart(cfg, spec, 1, tmp.resolve(label + ".rfim4j"));
    Checkpoint.Header h = Checkpoint.load(file).header();
    assertEquals(1, h.epochsCompleted());
    assertEquals(cfg.describe(), h.model().describe());
    assertEquals(spec, new OptimizerSpec(h.optimizer().name(), h.optimizer().learningRate(),
        h.optimizer().momentum(), h.optimizer().rngd()), "optimizer spec round trip");
    State split = resumed(file, 2);
    assertSameState(full, split);
    // The run actually moved: epoch-2 weights differ from the checkpointed epoch-1 weights.
    double[] w1AtEpoch1 = Checkpoint.load(file).arrays().get("W1");
    assertTrue(!Arrays.equals(w1AtEpoch1, full.arrays().get("model.W1")), "weights did not change in epoch 2");
    if (spec.name().equals("rngd")) {
      assertEquals(20.0, full.scalars().get("iterations"));
      // The inverse refreshed in epoch 2 (step 14) differs from the one stored after epoch 1.
      double[] ginvAtEpoch1 = Checkpoint.load(file).arrays().get("W1.Ginv");
      assertTrue(!Arrays.equals(ginvAtEpoch1, full.arrays().get("opt.W1.Ginv")), "no inversion in epoch 2");
    }
    if (arch == Architecture.BNA) {
      assertTrue(full.arrays().containsKey("model.bn1.runningMean"));
    }
  }

  @Test
  void rngdStateRoundTripsExactly() {
    OptimizerSpec spec = OptimizerSpec.rngd(RngdConfig.defaults(0.05).withRefreshPeriod(7));
    MlpConfig cfg = model(Architecture.PLAIN);
    Path file = firstPart(cfg, spec, 1, tmp.resolve("r.rfim4j"));
    Checkpoint.Loaded loaded = Checkpoint.load(file);
    try (Mlp model = new Mlp(backend, loaded.header().model(), 500);
        Optimizer opt = loaded.header().optimizer().create(model)) {
      loaded.restoreInto(model, opt, file);
      assertTrue(opt instanceof Rngd);
      assertEquals(10, opt.iterations());
      for (Map.Entry<String, DeviceArray> e : opt.state().entrySet()) {
        assertArrayEquals(loaded.arrays().get(e.getKey()), backend.download(e.getValue()), 0.0, e.getKey());
      }
      assertEquals(loaded.header().optimizerScalars(), opt.scalars());
    }
  }

  // ------------------------------------------------------------------------------------- damaged files

  Path goodCheckpoint() {
    return firstPart(model(Architecture.PLAIN), OptimizerSpec.adam(1e-3), 1, tmp.resolve("good.rfim4j"));
  }

  static void assertRejected(Path file, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), e.getMessage());
    }
  }

  @Test
  void flippedByteIsRejected() throws IOException {
    Path good = goodCheckpoint();
    byte[] b = Files.readAllBytes(good);
    for (int pos : new int[] {10, 40, b.length / 2, b.length - 20, b.length - 1}) {
      byte[] c = b.clone();
      c[pos] ^= 0x10;
      Path bad = tmp.resolve("flip" + pos + ".rfim4j");
      Files.write(bad, c);
      assertRejected(bad);
    }
  }

  @Test
  void truncatedFileIsRejected() throws IOException {
    Path good = goodCheckpoint();
    byte[] b = Files.readAllBytes(good);
    for (int len : new int[] {0, 5, 23, 100, b.length / 2, b.length - 8, b.length - 1}) {
      Path bad = tmp.resolve("trunc" + len + ".rfim4j");
      Files.write(bad, Arrays.copyOf(b, len));
      assertRejected(bad);
    }
  }

  @Test
  void wrongMagicIsRejected() throws IOException {
    Path good = goodCheckpoint();
    byte[] b = Files.readAllBytes(good);
    System.arraycopy("NOTRFIM4".getBytes(StandardCharsets.US_ASCII), 0, b, 0, 8);
    Path bad = tmp.resolve("magic.rfim4j");
    Files.write(bad, b);
    assertRejected(bad, "bad magic");
  }

  @Test
  void missingFileIsRejected() {
    assertRejected(tmp.resolve("nope.rfim4j"), "does not exist");
  }

  @Test
  void checkpointForAnotherModelIsRejectedOnRestore() {
    Path file = goodCheckpoint();
    Checkpoint.Loaded loaded = Checkpoint.load(file);
    MlpConfig other = new MlpConfig(20, new int[] {16, 10}, 3, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 5,
        0.9, 1e-3);
    try (Mlp model = new Mlp(backend, other, 500); Optimizer opt = loaded.header().optimizer().create(model)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> loaded.restoreInto(model, opt, file));
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("shape"), e.getMessage());
    }
  }

  // ------------------------------------------------------------------------------------- CLI level

  static Map<String, double[]> arrays(Path checkpoint) {
    return Checkpoint.load(checkpoint).arrays();
  }

  String[] trainArgs(Path data, String optimizer, int epochs, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data-dir", data.toString(), "--device", "cpu", "--quiet",
        "--hidden", "8,8", "--batch", "10", "--optimizer", optimizer, "--epochs", Integer.toString(epochs),
        "--seed", "3", "--rngd-T", "7"));
    a.addAll(List.of(extra));
    return a.toArray(String[]::new);
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"adam", "rngd"})
  void cliResumeIsBitIdentical(String optimizer) throws IOException {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_000 + 205, 50, 9); // 205 train examples: 21 steps, last partial
    Path full = tmp.resolve("full");
    Path split = tmp.resolve("split");
    Synthetic.Run a = Synthetic.capture(() -> Main.execute(trainArgs(data, optimizer, 2, "--out", full.toString())));
    assertEquals(0, a.exitCode(), a.err());
    Synthetic.Run b = Synthetic.capture(() -> Main.execute(trainArgs(data, optimizer, 1, "--out", split.toString())));
    assertEquals(0, b.exitCode(), b.err());
    Path ck = split.resolve("checkpoint.rfim4j");
    Map<String, double[]> afterOne = arrays(ck);
    Synthetic.Run c = Synthetic.capture(() -> Main.execute("train", "--resume", ck.toString(), "--epochs", "2",
        "--out", split.toString(), "--device", "cpu", "--quiet", "--data-dir", data.toString()));
    assertEquals(0, c.exitCode(), c.err());

    Checkpoint.Loaded fullCk = Checkpoint.load(full.resolve("checkpoint.rfim4j"));
    Checkpoint.Loaded splitCk = Checkpoint.load(ck);
    assertEquals(2, fullCk.header().epochsCompleted());
    assertEquals(2, splitCk.header().epochsCompleted());
    assertEquals(fullCk.arrays().keySet(), splitCk.arrays().keySet());
    for (String k : fullCk.arrays().keySet()) {
      assertArrayEquals(fullCk.arrays().get(k), splitCk.arrays().get(k), 0.0, k);
    }
    assertEquals(fullCk.header().optimizerScalars(), splitCk.header().optimizerScalars());
    assertNotEquals(Arrays.toString(afterOne.get("W1")), Arrays.toString(fullCk.arrays().get("W1")));
    // The resumed run's curve.csv has both epochs, the first carried over from the checkpoint.
    List<String> fullCsv = Files.readAllLines(full.resolve("curve.csv"));
    List<String> splitCsv = Files.readAllLines(split.resolve("curve.csv"));
    assertEquals(3, fullCsv.size(), fullCsv.toString());
    assertEquals(3, splitCsv.size(), splitCsv.toString());
    for (int i = 0; i < 3; i++) {
      assertEquals(withoutSeconds(fullCsv.get(i)), withoutSeconds(splitCsv.get(i)));
    }
  }

  static String withoutSeconds(String csvLine) {
    return csvLine.substring(0, csvLine.lastIndexOf(','));
  }
}
