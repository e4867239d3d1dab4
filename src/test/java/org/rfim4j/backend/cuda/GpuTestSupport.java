package org.rfim4j.backend.cuda;

import java.io.File;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Opens a {@link CudaBackend} for {@code @Tag("gpu")} tests, or skips with the reason, or fails when
 * {@code -Drfim4j.gpu.required=true}.
 *
 * <p>Order matters: the CUDA simulator's stand-in libraries must be loaded before any JCuda class
 * initialises. {@link #prepareNatives()} is the single place that does that. Until the simulator's
 * {@code org.rfim4j.cudasim.CudaSimSupport} is merged it loads, when the system property
 * {@code cudasim.dir} (or {@code cudasim.driver}) names them, {@code libcuda.so.1}, {@code libcublas.so.12},
 * {@code libcusolverMg.so.11} and {@code libcusolver.so.11} from that directory. MERGE NOTE: replace the
 * body of {@link #prepareNatives()} by the CudaSimSupport call.
 */
final class GpuTestSupport {
  private GpuTestSupport() {}

  static final String REQUIRED = "rfim4j.gpu.required";

  private static boolean simulated;
  private static boolean prepared;

  static boolean required() {
    return Boolean.getBoolean(REQUIRED);
  }

  /** Loads the simulator stand-ins if configured; returns whether the simulator is in use. */
  static synchronized boolean prepareNatives() {
    if (prepared) {
      return simulated;
    }
    prepared = true;
    String dir = System.getProperty("cudasim.dir");
    String driver = System.getProperty("cudasim.driver");
    if ((dir == null || dir.isBlank()) && driver != null && !driver.isBlank()) {
      dir = new File(driver).getParent();
    }
    if (dir == null || dir.isBlank()) {
      return false;
    }
    for (String lib : new String[] {"libcuda.so.1", "libcublas.so.12", "libcusolverMg.so.11", "libcusolver.so.11"}) {
      File f = new File(dir, lib);
      if (f.isFile()) {
        System.load(f.getAbsolutePath());
      }
    }
    simulated = true;
    return true;
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
