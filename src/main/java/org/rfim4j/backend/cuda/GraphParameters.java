package org.rfim4j.backend.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * The device parameter block of captured steps ({@link StepRecorder}): values that change from step to step
 * (the mini-batch offset, Adam's bias corrections) are staged here slot by slot in graph mode and read by
 * the kernel from the device block, which {@link CudaGraphStep} rewrites before every replay. In eager mode
 * nothing is staged and the kernel takes the value as a parameter.
 */
final class GraphParameters implements AutoCloseable {
  private final StepRecorder rec;
  private final DeviceBuffer block;

  GraphParameters(CudaRuntime rt) {
    this.rec = rt.rec;
    this.block = new DeviceBuffer("graph-parameters", rt);
  }

  /** The whole device block ({@link StepRecorder#DYN_BYTES} bytes). */
  CUdeviceptr block() {
    return block.ensure(StepRecorder.DYN_BYTES);
  }

  /** In graph mode stages {@code value} and returns its device address; in eager mode returns null. */
  CUdeviceptr stageInt(int value) {
    int slot = rec.dynamicSlot(4);
    if (slot < 0) {
      return null;
    }
    rec.staging.putInt(slot, value);
    return block().withByteOffset(slot);
  }

  /** In graph mode stages {@code a, b} (consecutive floats) and returns their device address; else null. */
  CUdeviceptr stageFloats(float a, float b) {
    int slot = rec.dynamicSlot(8);
    if (slot < 0) {
      return null;
    }
    rec.staging.putFloat(slot, a);
    rec.staging.putFloat(slot + 4, b);
    return block().withByteOffset(slot);
  }

  @Override
  public void close() {
    block.close();
  }
}
