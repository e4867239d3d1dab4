package org.rfim4j.backend.cpu;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.lapack.LAPACK;

/** Whether netlib loaded a native BLAS and LAPACK; checked once, on first use. */
final class NetlibNative {
  static final boolean NATIVE = isNative();
  static final boolean NATIVE_LAPACK = isNativeLapack();

  private NetlibNative() {}

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
