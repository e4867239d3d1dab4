package org.rfim4j.backend.cuda;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Opens a {@link CudaBackend} for {@code @Tag("gpu")} tests, or skips with the reason, or fails when
 * {@code -Drfim4j.gpu.required=true}.
 *
 * <p>Order matters: the CUDA simulator's stand-in libraries must be loaded before any JCuda class
 * initialises. {@link #prepareNatives()} is the single place that does that:
 * {@code org.rfim4j.cudasim.CudaSimSupport} loads the stand-ins when {@code -Dcudasim.dir} names the simulator build.
 */
final class GpuTestSupport {
  private GpuTestSupport() {}

  static final String REQUIRED = "rfim4j.gpu.required";

  static boolean required() {
    return Boolean.getBoolean(REQUIRED);
  }

  /** Loads the simulator stand-ins if configured (through CudaSimSupport); returns whether it is in use. */
  static synchronized boolean prepareNatives() {
    org.rfim4j.cudasim.CudaSimSupport.init();
    if (org.rfim4j.cudasim.CudaSimSupport.dir() != null && !org.rfim4j.cudasim.CudaSimSupport.simulated()) {
      Assertions.fail(org.rfim4j.cudasim.CudaSimSupport.reason());
    }
    return org.rfim4j.cudasim.CudaSimSupport.simulated();
  }

  /** A backend on device 0 (real GPU or simulator), or an aborted test / a failure when required. */
  static CudaBackend openOrSkip() {
    boolean sim = prepareNatives();
    String reason;
    if (sim) {
      try {
        return CudaBackend.openDevice(0);
      } catch (RuntimeException e) {
        reason = "the CUDA simulator is configured but the backend did not open: " + e.getMessage();
        Assertions.fail(reason, e);  // a configured simulator that fails is a real failure
      }
    }
    CudaProbe.Diagnosis d = CudaProbe.probe();
    if (d.available()) {
      return CudaBackend.open();  // a usable GPU that fails to open is a failure, not a skip
    }
    reason = "no GPU and no CUDA simulator (set -Dcudasim.dir or use -Pcudasim): " + d.text();
    if (required()) {
      Assertions.fail(REQUIRED + "=true but " + reason);
    }
    Assumptions.abort(reason);
    return null;
  }
}
