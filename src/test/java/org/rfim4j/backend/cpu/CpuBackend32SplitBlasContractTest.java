package org.rfim4j.backend.cpu;

import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendContractTest;

/**
 * The contract suite on the float32 engine with native BLAS calls split over two threads (the layout of
 * the {@code ./rfim4j} launcher's {@code OPENBLAS_NUM_THREADS=1}); without a native BLAS it runs netlib's
 * Java BLAS unsplit.
 */
class CpuBackend32SplitBlasContractTest extends BackendContractTest {
  @Override
  protected Backend createBackend() {
    return new CpuBackend32(2, CpuBackend.GemmPath.NETLIB, true);
  }

  @Override
  protected double tolerance() {
    return Float32Tolerances.of(currentTest());
  }
}
