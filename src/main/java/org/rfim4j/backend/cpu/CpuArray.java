package org.rfim4j.backend.cpu;

import java.util.Arrays;
import org.rfim4j.backend.DeviceArray;

/**
 * A heap array of the {@link CpuBackend}: a slice {@code [offset, offset + size)} of a {@code double[]},
 * row-major. Views share the {@code double[]} of their root array.
 */
final class CpuArray implements DeviceArray {
  final CpuBackend owner;
  final double[] data;
  final int offset;
  final int size;
  private final int[] shape;
  /** The owning array for a view, {@code null} for an allocated array. */
  private final CpuArray root;
  private boolean closed;

  CpuArray(CpuBackend owner, double[] data, int offset, int[] shape, CpuArray root) {
    this.owner = owner;
    this.data = data;
    this.offset = offset;
    this.shape = shape.clone();
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    this.size = (int) n;
    this.root = root;
  }

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
  CpuArray rootArray() {
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
    owner.released();
  }

  @Override
  public String toString() {
    return (isView() ? "CpuArray view " : "CpuArray ") + Arrays.toString(shape);
  }
}
