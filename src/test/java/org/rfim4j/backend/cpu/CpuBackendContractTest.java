package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/** The contract suite on the default CPU backend (default GEMM path, one thread per processor). */
class CpuBackendContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend();
  }
}
