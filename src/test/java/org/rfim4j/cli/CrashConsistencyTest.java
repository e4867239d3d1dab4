package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.Dataset;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Mlp;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Checkpoint;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingListener;

/**
 * Issue 16: crash consistency. A training run (RNGD, CPU, a small synthetic dataset) is started as a separate
 * JVM and killed with SIGKILL at random moments, at least {@value #KILLS} times, each restart resuming from the
 * checkpoint the previous one left. After every kill: the checkpoint loads and is bit for bit the state an
 * uninterrupted run has after the same epoch (model, optimizer, scalars, curve); curve.csv and curve.json are
 * complete files and never ahead of the checkpoint; the temporary files a kill leaves are gone once the next run
 * has started. Finally the run is let finish, and nothing temporary survives.
 *
 * <p>The children run the CPU backend's Java kernels ({@code -Drfim4j.cpu.gemm=java}), as does the in-process
 * reference, so that the comparison does not depend on a native BLAS's threading.
 */
class CrashConsistencyTest {
  static final int KILLS = 30;
  static final int EPOCHS = 800;

  @TempDir Path tmp;

  @Test
  void killedAtRandomTheCheckpointAlwaysLoadsAndResumesBitIdentically() throws Exception {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_100, 20, 5);
    Path out = tmp.resolve("run");
    Path ck = out.resolve(Runner.CHECKPOINT);
    String[] reference = null; // digest of the uninterrupted run's state after each epoch
    int kills = 0;
    int killsInTraining = 0;
    int killsLeavingTemporaries = 0;
    int restarts = 0;
    int lastEpoch = 0;
    long startupMillis = -1;
    Set<Path> pending = new HashSet<>(); // temporary files left by a kill, to be removed by the next start
    while (kills < KILLS) {
      Path err = tmp.resolve("err-" + restarts + ".txt");
      Process p = start(data, out, Files.exists(ck), err);
      restarts++;
      long t0 = System.nanoTime();
      if (startupMillis < 0) { // the first run: how long until a first checkpoint, to aim the kills at training
        while (!Files.exists(ck) && p.isAlive() && System.nanoTime() - t0 < 60_000_000_000L) {
          Thread.sleep(5);
        }
        startupMillis = (System.nanoTime() - t0) / 1_000_000;
      }
      // Mostly while it trains (the startup measured above, then up to 0.8 s), some while it starts.
      long delay = startupMillis * 4 / 5 + (long) (random.nextDouble() * (startupMillis / 5.0 + 800));
      boolean finished = p.waitFor(Math.max(0, delay - (System.nanoTime() - t0) / 1_000_000), TimeUnit.MILLISECONDS);
      if (!finished) {
        p.destroyForcibly();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the killed run did not end");
        kills++;
      } else {
        assertEquals(0, p.exitValue(), Files.readString(err));
      }
      // The start removed what the previous kill left (once it has printed that it did).
      if (Files.readString(err).contains("temporary file")) {
        for (Path t : pending) {
          assertFalse(Files.exists(t), t + " survived the next start");
        }
      }
      pending.removeIf(t -> !Files.exists(t));
      List<Path> temporaries = temporaries(out);
      if (!finished && !temporaries.isEmpty()) {
        killsLeavingTemporaries++;
      }
      pending.addAll(temporaries);
      if (!Files.exists(ck)) {
        continue;
      }
      Checkpoint.Loaded loaded = Checkpoint.load(ck); // must always load
      int k = loaded.header().epochsCompleted();
      assertTrue(k >= lastEpoch, "the checkpoint went back from epoch " + lastEpoch + " to " + k);
      if (!finished && k > lastEpoch) {
        killsInTraining++;
      }
      lastEpoch = k;
      if (reference == null) {
        reference = reference(data, loaded.header());
      }
      assertEquals(reference[k], digest(loaded.arrays(), loaded.header().optimizerScalars(),
          loaded.header().curve()), "the checkpoint after epoch " + k + " differs from the uninterrupted run's"
          + " (seed " + seed + ")");
      checkCurves(out, loaded.header().curve());
      if (finished) { // the run completed all epochs before a kill came: start another one from scratch
        assertEquals(EPOCHS, k);
        deleteTree(out);
        lastEpoch = 0;
        pending.clear();
      }
    }
    // Let the run finish: the final state is the uninterrupted run's, and nothing temporary is left.
    Path err = tmp.resolve("err-final.txt");
    Process p = start(data, out, Files.exists(ck), err);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the final run did not end");
    assertEquals(0, p.exitValue(), Files.readString(err));
    Checkpoint.Loaded last = Checkpoint.load(ck);
    assertEquals(EPOCHS, last.header().epochsCompleted());
    assertNotNull(reference);
    assertEquals(reference[EPOCHS], digest(last.arrays(), last.header().optimizerScalars(), last.header().curve()));
    checkCurves(out, last.header().curve());
    assertEquals(EPOCHS + 1, Files.readAllLines(out.resolve(Runner.CURVE_CSV)).size());
    assertEquals(List.of(), temporaries(out), "temporary files after the final run");
    System.out.printf("CrashConsistencyTest: %d kills (%d during training, %d left temporary files), %d starts,"
        + " seed %d; every checkpoint loaded and matched the uninterrupted run%n", kills, killsInTraining,
        killsLeavingTemporaries, restarts + 1, seed);
  }

  /** Starts the CLI in a fresh JVM: a new run, or a resume of the checkpoint in {@code out}. */
  static Process start(Path data, Path out, boolean resume, Path err) throws IOException {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-Drfim4j.cpu.gemm=java", "-cp", cp, "org.rfim4j.cli.Main", "train", "--data-dir",
        data.toString(), "--device", "cpu", "--quiet", "--epochs", Integer.toString(EPOCHS), "--out",
        out.toString()));
    if (resume) {
      cmd.addAll(List.of("--resume", out.resolve(Runner.CHECKPOINT).toString()));
    } else {
      cmd.addAll(List.of("--train-size", "100", "--hidden", "16,16", "--batch", "20", "--optimizer", "rngd",
          "--rngd-T", "3", "--seed", "7", "--precision", "64"));  // the in-process reference is the float64 engine
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("OPENBLAS_NUM_THREADS", "1");
    return pb.start();
  }

  /** The state digest after every epoch of an uninterrupted run of the checkpoint's configuration, in-process. */
  static String[] reference(Path data, Checkpoint.Header h) {
    String[] digests = new String[EPOCHS + 1];
    Split s = Datasets.load(h.data().dataset(), data);
    Dataset train = s.train().subset(0, h.data().trainSize());
    TrainerConfig tc = TrainerConfig.of(EPOCHS, h.batchSize(), h.shuffleSeed());
    try (CpuBackend b = new CpuBackend(Runtime.getRuntime().availableProcessors(), CpuBackend.GemmPath.JAVA);
        Mlp m = new Mlp(b, h.model(), Math.max(tc.batchSize(), tc.evalBatch()));
        Optimizer o = h.optimizer().create(m)) {
      Trainer t = new Trainer(m, o, tc);
      t.addListener(new TrainingListener() {
        @Override
        public void onEpochEnd(EpochResult r) {
          Map<String, double[]> arrays = new TreeMap<>();
          for (Map<String, DeviceArray> group : List.of(m.namedArrays(), o.state())) {
            group.forEach((name, a) -> arrays.put(name, b.download(a)));
          }
          digests[r.epoch()] = digest(arrays, o.scalars(), t.curve());
        }
      });
      t.fit(train, s.validation());
    }
    return digests;
  }

  /** SHA-256 of every array's bits (by name), the scalars and the curve without its timings. */
  static String digest(Map<String, double[]> arrays, Map<String, Double> scalars, List<EpochResult> curve) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Map.Entry<String, double[]> a : new TreeMap<>(arrays).entrySet()) {
        md.update(a.getKey().getBytes(StandardCharsets.UTF_8));
        ByteBuffer buf = ByteBuffer.allocate(8 * a.getValue().length);
        buf.asDoubleBuffer().put(a.getValue());
        md.update(buf.array());
      }
      md.update(new TreeMap<>(scalars).toString().getBytes(StandardCharsets.UTF_8));
      for (EpochResult r : curve) {
        md.update((r.epoch() + "," + r.trainLoss() + "," + r.trainError() + "," + r.valLoss() + "," + r.valError())
            .getBytes(StandardCharsets.UTF_8));
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** curve.csv and curve.json are whole files, and hold a prefix of the checkpoint's curve (never more). */
  static void checkCurves(Path out, List<EpochResult> curve) throws IOException {
    Path csv = out.resolve(Runner.CURVE_CSV);
    if (Files.exists(csv)) {
      List<String> lines = Files.readAllLines(csv);
      assertEquals(EpochResult.CSV_HEADER, lines.get(0));
      assertTrue(lines.size() - 1 <= curve.size(), "curve.csv is ahead of the checkpoint: " + (lines.size() - 1)
          + " rows, checkpoint epoch " + curve.size());
      for (int i = 1; i < lines.size(); i++) {
        assertEquals(curve.get(i - 1).toCsv(), lines.get(i), "curve.csv row " + i);
      }
    }
    Path json = out.resolve(Runner.CURVE_JSON);
    if (Files.exists(json)) {
      JsonNode rows = new ObjectMapper().readTree(json.toFile()).get("curve");
      assertTrue(rows.size() <= curve.size(), "curve.json is ahead of the checkpoint");
      for (int i = 0; i < rows.size(); i++) {
        assertEquals(i + 1, rows.get(i).get("epoch").asInt());
      }
    }
  }

  static List<Path> temporaries(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).sorted().toList();
    }
  }

  static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
