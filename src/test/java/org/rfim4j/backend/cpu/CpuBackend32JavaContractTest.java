package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The contract suite on the float32 engine's Java kernels (GEMM and Gram products in Java, netlib's Java
 * LAPACK for the inverse) with two threads, whatever native BLAS is installed.
 */
class CpuBackend32JavaContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend32(2, CpuBackend.GemmPath.JAVA);
  }

  @Override
  protected double tolerance() {
    return Float32Tolerances.of(currentTest());
  }
}
