package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The PTX ISA / driver check of CudaRuntime (static helpers only: no JCuda native is loaded). */
class PtxVersionCheckTest {
  static final String PTX90 = "//\n.version 9.0\n.target sm_90\n.address_size 64\n";

  @Test
  void isaToDriver() {
    assertEquals(13000, CudaRuntime.minimumDriverFor(9, 0));
    assertEquals(13010, CudaRuntime.minimumDriverFor(9, 1));
    assertEquals(12050, CudaRuntime.minimumDriverFor(8, 5));
    assertEquals(12080, CudaRuntime.minimumDriverFor(8, 7));
  }

  @Test
  void oldDriverIsRejectedWithAFix() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> CudaRuntime.checkPtxVersion("rngd", PTX90, 12040));
    assertTrue(e.getMessage().contains("PTX ISA 9.0"), e.getMessage());
    assertTrue(e.getMessage().contains("12.4"), e.getMessage());
    assertTrue(e.getMessage().contains("fix"), e.getMessage());
    assertDoesNotThrow(() -> CudaRuntime.checkPtxVersion("rngd", PTX90, 13000));
  }

  @Test
  void builtKernelsArePresentAndVersioned() {
    // Skipped silently only when the build ran with -Drfim4j.skipPtx=true (no resource).
    if (CudaRuntime.class.getResource("/org/rfim4j/kernels/rngd.ptx") == null) {
      return;
    }
    for (String m : CudaRuntime.MODULES) {
      String ptx = CudaRuntime.readPtx(m);
      assertTrue(ptx.contains(".version"), m);
      assertTrue(ptx.contains(".entry rfim_"), m);
    }
  }
}
