package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The contract suite on a CPU backend that splits large native BLAS calls over two threads (the mode of
 * OPENBLAS_NUM_THREADS=1; without a native BLAS it is the plain netlib path).
 */
class CpuBackendSplitBlasContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend(2, CpuBackend.GemmPath.NETLIB, true);
  }
}
