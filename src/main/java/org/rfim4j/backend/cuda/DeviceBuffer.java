package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import jcuda.driver.CUdeviceptr;

/**
 * An owned, grow-only device workspace (bytes). {@link #ensure} reallocates only when a larger size is
 * asked for, so a training loop of fixed shapes allocates once. Not counted in
 * {@link CudaBackend#liveArrays()}; freed by {@link CudaBackend#close()}.
 *
 * <p>Work queued on the stream may still read the old allocation when it grows or is closed, so it is not
 * freed at once but handed to {@link CudaRuntime#freeLater}, which frees it the next time the stream is known
 * idle (after a stream synchronisation).
 */
final class DeviceBuffer implements AutoCloseable {
  private final String name;
  private final CudaRuntime rt;
  private CUdeviceptr ptr;
  private long capacity;

  DeviceBuffer(String name, CudaRuntime rt) {
    this.name = name;
    this.rt = rt;
  }

  /** A pointer to at least {@code bytes} bytes (contents undefined after growth). */
  CUdeviceptr ensure(long bytes) {
    if (bytes <= 0) {
      bytes = 1;
    }
    if (ptr == null || bytes > capacity) {
      close();
      CUdeviceptr p = new CUdeviceptr();
      try {
        cuMemAlloc(p, bytes);
      } catch (RuntimeException e) {
        throw new IllegalStateException("cannot allocate " + bytes + " bytes of CUDA workspace '" + name + "' ("
            + freeMemory() + "): " + e.getMessage(), e);
      }
      ptr = p;
      capacity = bytes;
    }
    return ptr;
  }

  /**
   * The device's free and total memory in words, for allocation-failure messages (context current); never
   * throws.
   */
  static String freeMemory() {
    try {
      long[] free = {0};
      long[] total = {0};
      cuMemGetInfo(free, total);
      return (free[0] >> 20) + " MiB free of " + (total[0] >> 20) + " MiB";
    } catch (RuntimeException | LinkageError e) {
      return "free memory unknown: " + e.getMessage();
    }
  }

  long capacity() {
    return capacity;
  }

  @Override
  public void close() {
    if (ptr != null) {
      CUdeviceptr p = ptr;
      ptr = null;
      long bytes = capacity;
      capacity = 0;
      rt.freeLater(p, bytes);
    }
  }
}
