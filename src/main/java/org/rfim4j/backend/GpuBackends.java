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
