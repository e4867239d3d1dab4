package org.rfim4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;

/** {@link BackendSelector}'s precision argument: which CPU engine each value opens, and what is refused. */
class BackendSelectorPrecisionTest {

  @Test
  void cpuPrecisionPicksTheEngine() {
    List<String> notes = new ArrayList<>();
    try (Backend b = BackendSelector.open("cpu", 32, notes::add)) {
      assertTrue(b instanceof CpuBackend32, b.name());
      assertEquals(32, b.precisionBits());
      assertTrue(b.name().startsWith("cpu float32"), b.name());
    }
    try (Backend b = BackendSelector.open("cpu", 64, notes::add)) {
      assertTrue(b instanceof CpuBackend, b.name());
      assertEquals(64, b.precisionBits());
    }
    try (Backend b = BackendSelector.open("cpu", null, notes::add)) {
      assertEquals(BackendSelector.DEFAULT_CPU_PRECISION, b.precisionBits());
    }
    try (Backend b = BackendSelector.open("cpu", notes::add)) {
      assertEquals(BackendSelector.DEFAULT_CPU_PRECISION, b.precisionBits(), "the two-argument form");
    }
    try (Backend b = BackendSelector.cpu(32)) {
      assertEquals(32, b.precisionBits());
    }
    assertTrue(notes.isEmpty(), notes.toString());
  }

  @Test
  void badPrecisionsAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BackendSelector.open("cpu", 16, m -> { }));
    assertTrue(e.getMessage().contains("16") && e.getMessage().contains("32 or 64"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> BackendSelector.cpu(128));
    e = assertThrows(IllegalArgumentException.class, () -> BackendSelector.open("cuda", 64, m -> { }));
    assertTrue(e.getMessage().contains("CPU only"), e.getMessage());
  }
}
