package org.rfim4j.backend;

import org.rfim4j.backend.cuda.CudaBackend;
import org.rfim4j.backend.cuda.CudaProbe;

/**
 * Access to the CUDA backend for the selector. {@link CudaProbe} references no JCuda class, so probing is
 * safe everywhere; {@link CudaBackend} (and with it JCuda's natives) is touched only after the probe
 * found a driver, a device node and the CUDA libraries.
 */
final class GpuBackends {
  private GpuBackends() {}

  /** Null when a GPU backend can be opened, else the multi-line diagnosis. */
  static String unavailableReason() {
    CudaProbe.Diagnosis d = CudaProbe.probe();
    return d.available() ? null : d.text();
  }

  /**
   * Free memory of the device of a CUDA backend (cuMemGetInfo, its context current on this thread), or -1
   * when {@code b} is not a CUDA backend or the driver cannot tell.
   */
  private static final String CUDA_BACKEND = "org.rfim4j.backend.cuda.CudaBackend";

  static long freeBytes(Backend b) {
    Backend inner = b instanceof ProfilingBackend p ? p.inner() : b;
    if (!inner.getClass().getName().equals(CUDA_BACKEND)) { // by name: no JCuda class is loaded for the CPU
      return -1;
    }
    try {
      long[] free = {0};
      long[] total = {0};
      jcuda.driver.JCudaDriver.cuMemGetInfo(free, total);
      return free[0] > 0 ? free[0] : -1;
    } catch (RuntimeException | LinkageError e) {
      return -1;
    }
  }

  static Backend openCuda() {
    String why = unavailableReason();
    if (why != null) {
      throw new BackendUnavailableException("--device cuda: no usable GPU on this machine\n" + why, null);
    }
    try {
      return CudaBackend.open();
    } catch (RuntimeException | LinkageError e) {
      throw new BackendUnavailableException("--device cuda: the CUDA backend failed to start: " + e.getMessage(), e);
    }
  }
}
