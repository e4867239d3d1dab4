package org.rfim4j.backend.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * Base of the {@code gpu}-tagged test classes that share one {@link CudaBackend} per class: opened before
 * the class's tests through {@link GpuTestSupport#openOrSkip()} (GPU or simulator; skipped or failed as it
 * says), closed after them. Test classes run one after another, so the one field serves each in turn.
 */
@Tag("gpu")
abstract class GpuBackendTest {
  static CudaBackend be;

  @BeforeAll
  static void openGpuBackend() {
    be = GpuTestSupport.openOrSkip();
  }

  @AfterAll
  static void closeGpuBackend() {
    if (be != null) {
      be.close();
      be = null;
    }
  }
}
