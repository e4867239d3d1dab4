package org.rfim4j.backend.cpu;

import java.util.Arrays;
import org.rfim4j.backend.DeviceArray;

/**
 * What the float64 {@link CpuArray} and the float32 {@link CpuArray32} share: a slice {@code [offset,
 * offset + size)} of a heap array, its row-major shape, and the view and close bookkeeping. The element
 * storage ({@code double[]} or {@code float[]}) is a final field of the subclass, so the kernels read it
 * without any indirection; {@link CpuArgs} checks arguments of either kind through this class.
 */
abstract class CpuArrayBase implements DeviceArray {
  final int offset;
  final int size;
  private final int[] shape;
  /** The owning array for a view, {@code null} for an allocated array. */
  private final CpuArrayBase root;
  private boolean closed;

  CpuArrayBase(int offset, int[] shape, CpuArrayBase root) {
    this.offset = offset;
    this.shape = shape.clone();
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    this.size = (int) n;
    this.root = root;
  }

  /** The backend that allocated this array. */
  abstract Object owner();

  /** The element storage (a {@code double[]} or {@code float[]}), for overlap checks. */
  abstract Object storage();

  /** Element {@code i} of this array (from its offset), widened to double; for argument checks. */
  abstract double value(int i);

  /** Sets element {@code i} of this array (from its offset), rounded to the storage's precision. */
  abstract void set(int i, double v);

  /** Called once when an allocated (not view) array is closed. */
  abstract void released();

  @Override
  public int[] shape() {
    return shape.clone();
  }

  /** The shape without copying; callers must not modify it. */
  int[] shapeRef() {
    return shape;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public int rows() {
    return size / shape[shape.length - 1];
  }

  @Override
  public int cols() {
    return shape[shape.length - 1];
  }

  boolean isView() {
    return root != null;
  }

  /** The allocated array whose storage this view shares ({@code null} for an allocated array). */
  CpuArrayBase rootArray() {
    return root;
  }

  boolean isClosed() {
    return root != null ? root.closed : closed;
  }

  @Override
  public void close() {
    if (root != null || closed) {
      return;
    }
    closed = true;
    released();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + (isView() ? " view " : " ") + Arrays.toString(shape);
  }
}
