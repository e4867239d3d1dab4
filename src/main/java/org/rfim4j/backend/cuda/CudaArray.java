package org.rfim4j.backend.cuda;

import java.util.Arrays;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.DeviceArray;

/**
 * A float32 device array of a {@link CudaBackend}: an owned {@code cuMemAlloc} allocation, or a row view
 * (offset into its base's allocation, not owned, closing it does nothing).
 */
final class CudaArray implements DeviceArray {
  final CudaBackend owner;
  private final int[] shape;
  private final long size;
  private final CUdeviceptr ptr;
  private final CudaArray base;  // null when this array owns its storage
  private boolean closed;

  CudaArray(CudaBackend owner, int[] shape, CUdeviceptr ptr, CudaArray base) {
    this.owner = owner;
    this.shape = shape.clone();
    long s = 1;
    for (int d : shape) {
      s *= d;
    }
    this.size = s;
    this.ptr = ptr;
    this.base = base;
  }

  /** Device address of the first element. */
  CUdeviceptr ptr() {
    return ptr;
  }

  boolean isView() {
    return base != null;
  }

  /** Whether the storage is still allocated (for a view: whether its base is). */
  boolean isLive() {
    return base != null ? base.isLive() : !closed;
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public void close() {
    if (base == null && !closed) {
      closed = true;
      owner.release(this, ptr);
    }
  }

  @Override
  public String toString() {
    return "CudaArray" + Arrays.toString(shape) + (base != null ? " (view)" : "") + (isLive() ? "" : " (closed)");
  }
}
