package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Small constant device tables (per-layer descriptors of the multi-layer RNGD launches), cached by their bytes:
 * a table is uploaded (a host synchronisation) the first time its contents are seen, which a step's eager warm-up
 * run does, so the captured and replayed runs find it and issue no copy. Keyed by content (device addresses
 * included), a table stays valid whatever happened to the arrays it names; at most {@link #LIMIT} are kept.
 */
final class DescriptorTables implements AutoCloseable {
  static final int LIMIT = 64;
  private final CudaRuntime rt;
  private final Map<ByteBuffer, DeviceBuffer> tables = new HashMap<>();

  DescriptorTables(CudaRuntime rt) {
    this.rt = rt;
  }

  /** The device copy of {@code content} (uploaded on first use). */
  synchronized CUdeviceptr table(byte[] content) {
    ByteBuffer key = ByteBuffer.wrap(content);
    DeviceBuffer b = tables.get(key);
    if (b == null) {
      if (tables.size() >= LIMIT) {
        close();
      }
      b = new DeviceBuffer("descriptor table", rt);
      CUdeviceptr p = b.ensure(content.length);
      rt.hostSync("descriptor table upload");
      rt.rec.noteTransfer(true, content.length);
      cuMemcpyHtoD(p, Pointer.to(content), content.length);
      tables.put(ByteBuffer.wrap(content.clone()), b);
    }
    return b.ensure(content.length);
  }

  /** The device address a pointer stands for (its base plus byte offset), as a kernel sees it. */
  static long address(CUdeviceptr p) {
    return p == null ? 0 : new Address(p).value();
  }

  /** Reads the protected native address of a copy of a device pointer. */
  private static final class Address extends CUdeviceptr {
    Address(CUdeviceptr p) {
      super(p, 0);
    }

    long value() {
      return getNativePointer() + getByteOffset();
    }
  }

  synchronized int size() {
    return tables.size();
  }

  @Override
  public synchronized void close() {
    tables.values().forEach(DeviceBuffer::close);
    tables.clear();
  }
}
