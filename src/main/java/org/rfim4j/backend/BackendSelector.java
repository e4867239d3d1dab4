package org.rfim4j.backend;

import java.util.Locale;
import java.util.function.Consumer;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.backend.cpu.CpuBackend32;

/**
 * Chooses a backend from a device name: {@code cpu}, {@code cuda} or {@code auto}. {@code cuda} without a
 * usable GPU is an error carrying the diagnosis; {@code auto} falls back to the CPU and says so once
 * through the notice consumer. The GPU probe never throws and never loads JCuda natives on a machine
 * without a driver.
 *
 * <p>{@code cuda} is the {@link BackendProvider} named {@code cuda}, found through
 * {@link java.util.ServiceLoader} (org.rfim4j.backend.cuda registers it in META-INF/services): this class
 * does not reference the CUDA backend, and its availability check loads no JCuda class.
 *
 * <p>Precision: the CPU has two engines, the float64 reference {@link CpuBackend} and the float32 {@link
 * CpuBackend32}; the CUDA backend computes in float32 only. {@code precision} 32 or 64 picks the CPU engine;
 * {@code null} means the CPU default ({@link #DEFAULT_CPU_PRECISION}, or the caller's) and float32 on a GPU. 64 with {@code
 * cuda} is an error; 64 with {@code auto} runs on the CPU (the only float64 engine), with a notice when a
 * GPU was usable.
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

  /**
   * The precision of the CPU engine when the Java API asks for none: 64, the float64 reference engine (the
   * reference of the tests and the RFIM analysis). The CLI's training commands default to float32 instead
   * ({@code RunOptions}; the README's "Precision on the CPU" gives the measurement behind that choice).
   */
  public static final int DEFAULT_CPU_PRECISION = 64;

  /** Opens the backend for {@code device} at the default precision; notices go to {@code notice}. */
  public static Backend open(String device, Consumer<String> notice) {
    return open(device, null, notice);
  }

  /**
   * A new CPU engine of the given precision: {@link CpuBackend} for 64, {@link CpuBackend32} for 32 (both
   * with their default threads and GEMM path).
   */
  public static Backend cpu(int precision) {
    switch (precision) {
      case 64:
        return new CpuBackend();
      case 32:
        return new CpuBackend32();
      default:
        throw new IllegalArgumentException("precision must be 32 or 64, got " + precision);
    }
  }

  /**
   * Opens the backend for {@code device} ({@code auto}, {@code cpu} or {@code cuda}) at {@code precision}
   * (32, 64, or null for the default; see the class comment); notices (such as the auto fallback) go to
   * {@code notice}.
   */
  public static Backend open(String device, Integer precision, Consumer<String> notice) {
    return open(device, precision, DEFAULT_CPU_PRECISION, notice);
  }

  /**
   * As {@link #open(String, Integer, Consumer)}, with {@code cpuDefault} (32 or 64) the CPU engine's precision
   * when {@code precision} is null (the CLI's training commands default to float32 on the CPU).
   */
  public static Backend open(String device, Integer precision, int cpuDefault, Consumer<String> notice) {
    if (precision != null && precision != 32 && precision != 64) {
      throw new IllegalArgumentException("precision must be 32 or 64, got " + precision);
    }
    if (cpuDefault != 32 && cpuDefault != 64) {
      throw new IllegalArgumentException("cpuDefault must be 32 or 64, got " + cpuDefault);
    }
    int cpuBits = precision == null ? cpuDefault : precision;
    String d = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT);
    switch (d) {
      case "cpu":
        return cpu(cpuBits);
      case "cuda":
      case "gpu":
        if (precision != null && precision == 64) {
          throw new IllegalArgumentException("precision 64 runs on the CPU only (the CUDA backend computes in"
              + " float32): use --device cpu, or --precision 32 on the GPU");
        }
        return GpuBackends.openCuda();
      case "auto": {
        String why = GpuBackends.unavailableReason();
        if (why == null) {
          if (precision != null && precision == 64) {
            notice.accept("device auto: precision 64 runs on the CPU only (the GPU computes in float32);"
                + " running on the CPU float64 engine");
            return cpu(64);
          }
          return GpuBackends.openCuda();
        }
        String first = why.lines().map(String::trim).filter(l -> l.startsWith("- ")).map(l -> l.substring(2))
            .findFirst().orElse(why.lines().findFirst().orElse(why));
        notice.accept("device auto: no usable GPU (" + first + "); running on the CPU");
        return cpu(cpuBits);
      }
      default:
        throw new IllegalArgumentException("unknown device '" + device + "' (expected auto, cpu or cuda)");
    }
  }
}
