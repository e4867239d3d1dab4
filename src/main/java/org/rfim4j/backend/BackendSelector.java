package org.rfim4j.backend;

import java.util.Locale;
import java.util.function.Consumer;
import org.rfim4j.backend.cpu.CpuBackend;

/**
 * Chooses a backend from a device name: {@code cpu}, {@code cuda} or {@code auto}. {@code cuda} without a
 * usable GPU is an error carrying the diagnosis; {@code auto} falls back to the CPU and says so once
 * through the notice consumer. The GPU probe never throws and never loads JCuda natives on a machine
 * without a driver.
 *
 * <p>{@code cuda} is the {@link BackendProvider} named {@code cuda}, found through
 * {@link java.util.ServiceLoader} (org.rfim4j.backend.cuda registers it in META-INF/services): this class
 * does not reference the CUDA backend, and its availability check loads no JCuda class.
 */
public final class BackendSelector {
  private BackendSelector() {}

  /**
   * Free memory of the backend's device in bytes, for checks before large allocations: for a CUDA backend
   * (also under a {@link ProfilingBackend}) what the driver reports, else -1 (the CPU backend's arrays live
   * on the JVM heap).
   */
  public static long deviceFreeBytes(Backend backend) {
    return backend.deviceFreeBytes();
  }

  /** Opens the backend for {@code device}; notices (such as the auto fallback) go to {@code notice}. */
  public static Backend open(String device, Consumer<String> notice) {
    String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
    switch (d) {
      case "cpu":
        return new CpuBackend();
      case "cuda":
      case "gpu":
        return GpuBackends.openCuda();
      case "auto": {
        String why = GpuBackends.unavailableReason();
        if (why == null) {
          return GpuBackends.openCuda();
        }
        String first = why.lines().map(String::trim).filter(l -> l.startsWith("- ")).map(l -> l.substring(2))
            .findFirst().orElse(why.lines().findFirst().orElse(why));
        notice.accept("device auto: no usable GPU (" + first + "); running on the CPU");
        return new CpuBackend();
      }
      default:
        throw new IllegalArgumentException("unknown device '" + device + "' (expected auto, cpu or cuda)");
    }
  }
}
