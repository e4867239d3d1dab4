package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Small constant device tables (per-layer descriptors of the multi-layer RNGD launches, batched pointer tables),
 * cached by their bytes: a table is uploaded (one async copy, no host synchronisation) the first time its contents
 * are seen, which a step's eager warm-up run does, so the captured and replayed runs find it and issue no copy.
 * Keyed by content (device addresses included), a table stays valid whatever happened to the arrays it names.
 * Tables are never evicted before the backend closes: a captured graph keeps reading the table it was captured
 * with (they are a few dozen bytes per model and per stack shape).
 */
final class DescriptorTables implements AutoCloseable {
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
      rt.rec.requireEager("uploading a descriptor table");
      b = new DeviceBuffer("descriptor table", rt);
      CUdeviceptr p = b.ensure(content.length);
      // An async copy from pageable memory on the stream that will use the table: the driver stages the bytes
      // before it returns, the stream orders the copy before the launch, and the host does not wait.
      rt.rec.copies++;
      rt.rec.noteTransfer(true, content.length);
      cuMemcpyHtoDAsync(p, Pointer.to(content.clone()), content.length, rt.current());
      tables.put(ByteBuffer.wrap(content.clone()), b);
    }
    return b.ensure(content.length);
  }

  /**
   * The device copy of {@code content} like {@link #table}, or null when it is not cached yet and the backend is
   * capturing or replaying a step (no upload is possible then; the caller writes it with a kernel instead).
   */
  synchronized CUdeviceptr cached(byte[] content) {
    DeviceBuffer b = tables.get(ByteBuffer.wrap(content));
    if (b != null) {
      return b.ensure(content.length);
    }
    return rt.rec.mode == StepRecorder.Mode.EAGER ? table(content) : null;
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
