package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.rfim4j.backend.DeviceArray;

/** The float64 engine's {@code rfim4j.cpu.roundUploads} diagnostic (the start of the float32 engine). */
class CpuBackendRoundUploadsTest {

  @Test
  void parsesTheProperty() {
    assertFalse(CpuBackend.roundUploads(null));
    assertFalse(CpuBackend.roundUploads(" "));
    assertFalse(CpuBackend.roundUploads("none"));
    assertTrue(CpuBackend.roundUploads(" float32 "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuBackend.roundUploads("f32"));
    assertTrue(e.getMessage().contains("rfim4j.cpu.roundUploads") && e.getMessage().contains("'f32'"), e.getMessage());
  }

  /** Uploads equal what the float32 engine stores, and stay exact without the property. */
  @Test
  void roundsDoubleUploadsToWhatTheFloat32EngineStores() {
    double[] v = {0.1, -1.0 / 3, Math.PI * 1e-7, 1e300, 12345.678901234};
    String key = "rfim4j.cpu.roundUploads";
    String before = System.getProperty(key);
    try (CpuBackend exact = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      System.setProperty(key, "float32");
      try (CpuBackend rounded = new CpuBackend(1, CpuBackend.GemmPath.JAVA); CpuBackend32 f32 = new CpuBackend32(1, CpuBackend.GemmPath.JAVA)) {
        DeviceArray a = rounded.allocate(v.length);
        DeviceArray b = f32.allocate(v.length);
        rounded.upload(a, v);
        f32.upload(b, v);
        assertArrayEquals(f32.download(b), rounded.download(a), 0.0);
        assertEquals(Float.POSITIVE_INFINITY, rounded.download(a)[3], 0.0);
      }
      DeviceArray c = exact.allocate(v.length);
      exact.upload(c, v);
      assertArrayEquals(v, exact.download(c), 0.0);
    } finally {
      if (before == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, before);
      }
    }
  }
}
