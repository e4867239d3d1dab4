package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;
import org.rfim4j.cli.Main;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.testutil.Synthetic;

/**
 * Every checkpoint test of {@link CheckpointTest} on the float32 CPU engine: resume is bit-identical within
 * float32 for every optimizer (SGD, momentum, Adam, RNGD, with and without batch norm), in the API and
 * through {@code train --precision 32}; the header records the precision, and a resume at the other
 * precision is refused (docs/checkpoint.md).
 */
class CheckpointFloat32Test extends CheckpointTest {

  @Override
  protected Backend createBackend() {
    return new CpuBackend32();
  }

  @Override
  String[] trainArgs(Path data, String optimizer, int epochs, String... extra) {
    List<String> a = new ArrayList<>(List.of(super.trainArgs(data, optimizer, epochs, extra)));
    a.add("--precision");
    a.add("32");
    return a.toArray(String[]::new);
  }

  @Test
  void theHeaderRecordsThePrecisionAndTheOtherPrecisionIsRefused() {
    Path f32 = goodCheckpoint();
    Checkpoint.Loaded loaded = Checkpoint.load(f32);
    assertEquals(32, loaded.header().precisionBits());
    try (CpuBackend b64 = new CpuBackend(); Mlp model = new Mlp(b64, loaded.header().model(), 500);
        Optimizer opt = loaded.header().optimizer().create(model)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> loaded.restoreInto(model, opt, f32));
      assertTrue(e.getMessage().contains(f32.toString()) && e.getMessage().contains("float32")
          && e.getMessage().contains("--precision 32"), e.getMessage());
    }
    // and the other way round: a float64 checkpoint does not restore into the float32 engine
    Backend mine = backend;
    backend = new CpuBackend();
    Path f64;
    try {
      f64 = firstPart(model(Architecture.PLAIN), OptimizerSpec.adam(1e-3), 1, tmp.resolve("f64.rfim4j"));
    } finally {
      backend.close();
      backend = mine;
    }
    Checkpoint.Loaded l64 = Checkpoint.load(f64);
    assertEquals(64, l64.header().precisionBits());
    try (Mlp model = new Mlp(backend, l64.header().model(), 500);
        Optimizer opt = l64.header().optimizer().create(model)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> l64.restoreInto(model, opt, f64));
      assertTrue(e.getMessage().contains("float64") && e.getMessage().contains("--precision 64"), e.getMessage());
    }
  }

  @Test
  void filesWithoutAPrecisionStillLoad() throws Exception {
    Path v1 = Path.of(getClass().getResource("/checkpoints/v1-rngd-plain-epoch1.rfim4j").toURI());
    assertNull(Checkpoint.load(v1).header().precisionBits(), "v1 fixtures predate the field");
  }

  @Test
  void cliResumeAtTheOtherPrecisionIsAnError() throws Exception {
    Path data = tmp.resolve("data");
    Synthetic.writeIdx(data, "mnist", 10_000 + 105, 50, 9);
    Path out = tmp.resolve("run");
    Synthetic.Run a = Synthetic.capture(() -> Main.execute(trainArgs(data, "adam", 1, "--out", out.toString())));
    assertEquals(0, a.exitCode(), a.err());
    Path ck = out.resolve("checkpoint.rfim4j");
    assertEquals(32, Checkpoint.load(ck).header().precisionBits());
    Synthetic.Run b = Synthetic.capture(() -> Main.execute("train", "--resume", ck.toString(), "--epochs", "2",
        "--device", "cpu", "--precision", "64", "--quiet", "--data-dir", data.toString()));
    assertNotEquals(0, b.exitCode());
    assertTrue(b.err().contains("--precision") && b.err().contains("32"), b.err());
  }
}
