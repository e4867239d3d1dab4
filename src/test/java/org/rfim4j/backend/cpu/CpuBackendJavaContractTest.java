package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The contract suite on the pure-Java kernels (GEMM, metric updates, Cholesky inverse) with two threads,
 * whatever native BLAS is installed.
 */
class CpuBackendJavaContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend(2, CpuBackend.GemmPath.JAVA);
  }
}
