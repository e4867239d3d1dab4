package org.rfim4j.backend.cuda;

import org.junit.jupiter.api.Tag;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The shared backend contract on the CUDA backend (a GPU, or the CUDA simulator), with float32
 * tolerances. Skips where neither is available unless {@code -Drfim4j.gpu.required=true}.
 */
@Tag("gpu")
class CudaBackendContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return GpuTestSupport.openOrSkip();
  }

  @Override
  protected double tolerance() {
    return 2e-5;
  }

  @Override
  protected double finiteDifferenceTolerance() {
    return 2e-3;
  }
}
