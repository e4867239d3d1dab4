package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The contract suite on the default float32 CPU engine (default GEMM path: native sgemm / ssyrk / spotrf
 * where netlib loads them; one thread per processor), with the per-operation float32 tolerances of
 * {@link Float32Tolerances}.
 */
class CpuBackend32ContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend32();
  }

  @Override
  protected double tolerance() {
    return Float32Tolerances.of(currentTest());
  }
}
