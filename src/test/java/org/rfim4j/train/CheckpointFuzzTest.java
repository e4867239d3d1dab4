package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.io.StateFile;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Synthetic;

/**
 * Fuzz targets for the checkpoint loader (issue 16): whatever a file holds, {@link Checkpoint#load} and {@link
 * Checkpoint.Loaded#restoreInto} end in a restored model and optimizer holding exactly the file's finite arrays,
 * or in an {@link IllegalArgumentException} naming the file in one line.
 *
 * <p>{@code rawFile} takes the input as the whole file (the container's checks: magic, version, CRC, lengths);
 * {@code header} takes it as a JSON header, a NUL byte and a payload, wrapped in a container with a valid CRC,
 * so that the fuzzer reaches the header's validation. The committed inputs ({@code CheckpointFuzzTestInputs/})
 * are checkpoints of small SGD, Adam and RNGD runs, plain and with batch norm ({@link #main} writes them).
 */
class CheckpointFuzzTest {
  private static final Path FILE;

  static {
    try {
      FILE = Files.createTempFile("rfim4j-checkpoint-fuzz", ".rfim4j");
      FILE.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Models whose estimate exceeds this many elements are not built (the fuzzer would only wait for them). */
  static final double MAX_ELEMENTS = 2e6;

  @FuzzTest
  void rawFile(byte[] input) throws IOException {
    inputText = new String(input, StandardCharsets.ISO_8859_1);
    Files.write(FILE, input);
    loadAndRestore();
  }

  @FuzzTest
  void header(byte[] input) {
    inputText = new String(input, StandardCharsets.ISO_8859_1);
    int nul = 0;
    while (nul < input.length && input[nul] != 0) {
      nul++;
    }
    byte[] header = Arrays.copyOf(input, nul);
    byte[] payload = nul < input.length ? Arrays.copyOfRange(input, nul + 1, input.length) : new byte[0];
    double[] values = new double[payload.length / 8];
    ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(values);
    StateFile.write(FILE, Checkpoint.MAGIC, Checkpoint.VERSION, header, List.of(values), "checkpoint");
    loadAndRestore();
  }

  private static void loadAndRestore() {
    Checkpoint.Loaded l;
    try {
      l = Checkpoint.load(FILE);
    } catch (IllegalArgumentException e) {
      assertOneLine(e);
      return;
    }
    Checkpoint.Header h = l.header();
    for (double[] a : l.arrays().values()) {
      assertTrue(Arrays.stream(a).allMatch(Double::isFinite), "a loaded array holds a non-finite value");
    }
    MemoryEstimate e;
    try {
      e = MemoryEstimate.of(h.model(), h.optimizer(), h.batchSize(), Math.max(h.batchSize(), 500), 1, 1);
    } catch (IllegalArgumentException x) {
      assertOneLine(x);
      return;
    }
    if (e.elements() > MAX_ELEMENTS) {
      return;
    }
    try (CpuBackend b = new CpuBackend(1, CpuBackend.GemmPath.JAVA);
        Mlp m = new Mlp(b, h.model(), Math.max(h.batchSize(), 500));
        Optimizer o = h.optimizer().create(m)) {
      try {
        l.restoreInto(m, o, FILE);
      } catch (IllegalArgumentException x) {
        assertOneLine(x);
        return;
      }
      for (Map.Entry<String, DeviceArray> a : m.namedArrays().entrySet()) {
        assertArrayEquals(l.arrays().get(a.getKey()), b.download(a.getValue()), 0.0, a.getKey());
      }
      for (Map.Entry<String, DeviceArray> a : o.state().entrySet()) {
        assertArrayEquals(l.arrays().get(a.getKey()), b.download(a.getValue()), 0.0, a.getKey());
      }
    } catch (IllegalArgumentException x) {
      // The configuration itself is refused when the model or optimizer is built (e.g. RNGD metric kinds that do
      // not fit the network).
      assertOneLine(x);
    }
  }

  /** The input as text, to tell words the messages quote from it from words of their own. */
  private static String inputText = "";

  private static void assertOneLine(IllegalArgumentException e) {
    String m = e.getMessage();
    assertTrue(m != null && m.lines().count() == 1, String.valueOf(m));
    assertFalse(m.contains("Exception") && !inputText.contains("Exception"), m);
  }

  /** Writes the committed inputs: {@code header} and {@code rawFile} seeds from small runs. */
  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0]
        : "src/test/resources/org/rfim4j/train/CheckpointFuzzTestInputs");
    RngdConfig rngd = RngdConfig.defaults(0.05).withRefreshPeriod(2);
    Object[][] runs = {
        {"sgd-momentum", new OptimizerSpec("sgd", 0.1, 0.9, null), Architecture.PLAIN},
        {"adam-bna", OptimizerSpec.adam(1e-3), Architecture.BNA},
        {"rngd", OptimizerSpec.rngd(rngd), Architecture.PLAIN},
        {"rngd-paper-bna", OptimizerSpec.rngd(rngd.withDamping(RngdConfig.Damping.PAPER, 5e-6)
            .withOrder(RngdConfig.Order.STEP_FIRST)), Architecture.BNA}};
    Files.createDirectories(dir.resolve("header"));
    Files.createDirectories(dir.resolve("rawFile"));
    try (CpuBackend b = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      for (Object[] r : runs) {
        MlpConfig cfg = new MlpConfig(3, new int[] {2}, 2, Activation.TANH, (Architecture) r[2], 1e-3, 0.1, 1, 0.9,
            1e-3);
        OptimizerSpec spec = (OptimizerSpec) r[1];
        TrainerConfig tc = TrainerConfig.of(1, 4, 1);
        try (Mlp m = new Mlp(b, cfg, 500); Optimizer o = spec.create(m)) {
          Trainer t = new Trainer(m, o, tc);
          t.fit(Synthetic.blobs("t", 8, 3, 2, 1), Synthetic.blobs("v", 4, 3, 2, 2));
          Path file = dir.resolve("rawFile").resolve(r[0] + ".rfim4j");
          Checkpoint.save(file, m, spec, o, 1, t.elapsedSeconds(), tc, t.curve(),
              new Checkpoint.Data("mnist", 8, 8, 4));
          StateFile.Contents c = StateFile.read(file, Checkpoint.MAGIC, Checkpoint.VERSION, "checkpoint");
          byte[] all = Files.readAllBytes(file);
          byte[] payload = Arrays.copyOfRange(all, c.payloadOffset(), all.length - 8);
          List<byte[]> parts = new ArrayList<>(List.of(c.header(), new byte[1], payload));
          java.io.ByteArrayOutputStream seed = new java.io.ByteArrayOutputStream();
          for (byte[] p : parts) {
            seed.write(p);
          }
          Files.write(dir.resolve("header").resolve(r[0] + ".bin"), seed.toByteArray());
          System.out.println(r[0] + ": " + new String(c.header(), StandardCharsets.UTF_8).length() + " header chars");
        }
      }
    }
  }
}
