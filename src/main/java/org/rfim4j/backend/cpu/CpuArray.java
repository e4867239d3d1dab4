package org.rfim4j.backend.cpu;

/**
 * A heap array of the {@link CpuBackend}: a slice {@code [offset, offset + size)} of a {@code double[]},
 * row-major. Views share the {@code double[]} of their root array.
 */
final class CpuArray extends CpuArrayBase {
  final CpuBackend owner;
  final double[] data;

  CpuArray(CpuBackend owner, double[] data, int offset, int[] shape, CpuArrayBase root) {
    super(offset, shape, root);
    this.owner = owner;
    this.data = data;
  }

  @Override
  Object owner() {
    return owner;
  }

  @Override
  Object storage() {
    return data;
  }

  @Override
  double value(int i) {
    return data[offset + i];
  }

  @Override
  void set(int i, double v) {
    data[offset + i] = v;
  }

  @Override
  void released() {
    owner.released();
  }
}
