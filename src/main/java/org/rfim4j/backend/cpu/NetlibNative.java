package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.lapack.LAPACK;

/**
 * Whether netlib loaded a native BLAS and LAPACK; checked once, on first use. netlib logs a WARNING for
 * every implementation it probes and skips (the incubator VectorBLAS without its module flag, a missing
 * native library); the backend reports its own choice ({@link CpuBackend#name()}), so the threshold of
 * netlib's two probe loggers is raised to SEVERE. The loggers are held here because java.util.logging
 * keeps them only weakly.
 */
final class NetlibNative {
  private static final java.util.logging.Logger[] QUIET = quietNetlibProbes();
  static final boolean NATIVE = isNative();
  static final boolean NATIVE_LAPACK = isNativeLapack();

  private NetlibNative() {}

  private static java.util.logging.Logger[] quietNetlibProbes() {
    java.util.logging.Logger[] loggers = {
        java.util.logging.Logger.getLogger("dev.ludovic.netlib.blas.InstanceBuilder"),
        java.util.logging.Logger.getLogger("dev.ludovic.netlib.lapack.InstanceBuilder")};
    for (java.util.logging.Logger l : loggers) {
      l.setLevel(java.util.logging.Level.SEVERE);
    }
    return loggers;
  }

  private static boolean isNative() {
    try {
      return BLAS.getInstance() instanceof dev.ludovic.netlib.blas.NativeBLAS;
    } catch (LinkageError | RuntimeException e) {
      return false;
    }
  }

  private static boolean isNativeLapack() {
    try {
      return LAPACK.getInstance() instanceof dev.ludovic.netlib.lapack.NativeLAPACK;
    } catch (LinkageError | RuntimeException e) {
      return false;
    }
  }
}
