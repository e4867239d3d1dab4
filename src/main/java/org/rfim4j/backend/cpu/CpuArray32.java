package org.rfim4j.backend.cpu;

/**
 * A heap array of the {@link CpuBackend32}: a slice {@code [offset, offset + size)} of a {@code float[]},
 * row-major. Views share the {@code float[]} of their root array.
 */
final class CpuArray32 extends CpuArrayBase {
  final CpuBackend32 owner;
  final float[] data;

  CpuArray32(CpuBackend32 owner, float[] data, int offset, int[] shape, CpuArrayBase root) {
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
    data[offset + i] = (float) v;
  }

  @Override
  void released() {
    owner.released();
  }
}
