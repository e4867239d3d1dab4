package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/** The contract suite on a CPU backend using netlib dgemm (native or its Java fallback) and a single thread. */
class CpuBackendNetlibContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend(1, CpuBackend.GemmPath.NETLIB);
  }
}
