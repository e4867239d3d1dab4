package org.rfim4j.backend.cuda;

import java.util.Arrays;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.DeviceArray;

/**
 * A float32 device array of a {@link CudaBackend} (made by its {@link CudaArrays}): an owned
 * {@code cuMemAlloc} allocation, or a row view (offset into its base's allocation, not owned, closing it
 * does nothing).
 */
final class CudaArray implements DeviceArray {
  final CudaArrays owner;
  private final int[] shape;
  private final long size;
  private final CUdeviceptr ptr;
  private final CudaArray base;  // null when this array owns its storage
  private final long offset;     // elements from the start of the root allocation
  private boolean closed;

  CudaArray(CudaArrays owner, int[] shape, CUdeviceptr ptr, CudaArray base, long offset) {
    this.owner = owner;
    this.shape = shape.clone();
    long s = 1;
    for (int d : shape) {
      s *= d;
    }
    this.size = s;
    this.ptr = ptr;
    this.base = base;
    this.offset = offset;
  }

  /** The owning allocation (this array unless it is a view). */
  CudaArray root() {
    return base == null ? this : base.root();
  }

  /** Offset in elements from the start of {@link #root()}. */
  long offset() {
    return offset;
  }

  /**
   * Where an array's elements are: its owning allocation (by identity), the element offset in it and the
   * element count. Equal for equal views made separately (e.g. a fresh {@code rows()} view every step), so
   * device-side caches keyed by it survive view churn; {@code root} lets them drop entries when the
   * allocation is closed.
   */
  record Storage(CudaArray root, long offset, long size) {}

  Storage storage() {
    return new Storage(root(), offset, size);
  }

  /** Whether the storage of the two arrays intersects. */
  boolean overlaps(CudaArray o) {
    return root() == o.root() && offset < o.offset + o.size && o.offset < offset + size;
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
