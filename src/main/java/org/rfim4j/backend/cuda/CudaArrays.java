package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.rfim4j.backend.cuda.Checks.sameSize;
import static org.rfim4j.backend.cuda.Checks.shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import org.rfim4j.backend.DeviceArray;

/**
 * The device arrays of one {@link CudaBackend}: allocation (zero-filled), row views, host transfers, copy,
 * fill, the live-array count, and the check every operation applies to its array arguments ({@link #arr}:
 * non-null, allocated by this backend, not closed).
 */
final class CudaArrays {
  private final CudaBackend backend;
  private final CudaRuntime rt;
  private final Kernels k;
  private final Map<CudaArray, Boolean> live = new IdentityHashMap<>();

  CudaArrays(CudaBackend backend, CudaRuntime rt, Kernels k) {
    this.backend = backend;
    this.rt = rt;
    this.k = k;
  }

  /** Argument {@code n} as an array of this backend; throws IllegalArgumentException naming it otherwise. */
  CudaArray arr(String n, DeviceArray a) {
    if (a == null) {
      throw new IllegalArgumentException(n + " must not be null");
    }
    if (!(a instanceof CudaArray && ((CudaArray) a).owner == this)) {
      throw new IllegalArgumentException(n + " was not allocated by this CUDA backend: " + a);
    }
    CudaArray c = (CudaArray) a;
    if (!c.isLive()) {
      throw new IllegalArgumentException(n + " is closed: " + c);
    }
    return c;
  }

  /** {@link #arr} for an optional argument: null stays null. */
  CudaArray optArr(String n, DeviceArray a) {
    return a == null ? null : arr(n, a);
  }

  /** The device pointer of an optional array (null becomes a device NULL kernel argument). */
  static CUdeviceptr p(CudaArray a) {
    return a == null ? null : a.ptr();
  }

  DeviceArray allocate(int... shape) {
    if (!(shape != null && shape.length >= 1 && shape.length <= 3)) {
      throw new IllegalArgumentException("shape must have 1 to 3 dimensions: "
          + Arrays.toString(shape));
    }
    long n = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException("shape dimensions must be positive: " + Arrays.toString(shape));
      }
      n *= d;
    }
    Checks.checkedInt(n, "array");
    backend.enter();
    CUdeviceptr ptr = new CUdeviceptr();
    try {
      cuMemAlloc(ptr, n * Sizeof.FLOAT);
    } catch (RuntimeException e) {
      throw new IllegalStateException("cannot allocate a CUDA array of shape " + Arrays.toString(shape) + " ("
          + n * Sizeof.FLOAT + " bytes; " + DeviceBuffer.freeMemory() + ", " + liveArrays() + " arrays live): "
          + e.getMessage(), e);
    }
    CudaArray a = new CudaArray(this, shape, ptr, null, 0);
    synchronized (live) {
      live.put(a, Boolean.TRUE);
    }
    k.launchN(k.fill, n, ptr, n, 0f);
    return a;
  }

  DeviceArray rows(DeviceArray base, int from, int to) {
    CudaArray b = arr("base", base);
    int[] s = b.shape();
    if (!(0 <= from && from < to && to <= s[0])) {
      throw new IllegalArgumentException("row range [" + from + ", " + to + ") out of bounds for base " + shape(b));
    }
    long inner = b.size() / s[0];
    int[] vs = s.clone();
    vs[0] = to - from;
    return new CudaArray(this, vs, b.ptr().withByteOffset(from * inner * Sizeof.FLOAT), b, b.offset() + from * inner);
  }

  void upload(DeviceArray dst, double[] src) {
    if (src == null) {
      throw new IllegalArgumentException("src must not be null");
    }
    float[] f = new float[src.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) src[i];
    }
    upload(dst, f);
  }

  void upload(DeviceArray dst, float[] src) {
    CudaArray d = arr("dst", dst);
    if (src == null) {
      throw new IllegalArgumentException("src must not be null");
    }
    if (src.length != d.size()) {
      throw new IllegalArgumentException("src has " + src.length + " elements but dst " + shape(d) + " has "
          + d.size());
    }
    backend.enter();
    // Pageable host memory: a synchronous copy on the legacy stream, which our blocking stream orders with.
    rt.hostSync("upload");
    rt.rec.noteTransfer(true, (long) src.length * Sizeof.FLOAT);
    cuMemcpyHtoD(d.ptr(), Pointer.to(src), (long) src.length * Sizeof.FLOAT);
  }

  double[] download(DeviceArray src) {
    float[] f = downloadFloats(arr("src", src));
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  private float[] downloadFloats(CudaArray s) {
    backend.enter();
    float[] f = new float[(int) s.size()];
    rt.hostSync("download");
    rt.rec.noteTransfer(false, (long) f.length * Sizeof.FLOAT);
    cuMemcpyDtoH(Pointer.to(f), s.ptr(), (long) f.length * Sizeof.FLOAT);
    return f;
  }

  void copy(DeviceArray src, DeviceArray dst) {
    CudaArray s = arr("src", src);
    CudaArray d = arr("dst", dst);
    sameSize("src", s, "dst", d);
    backend.enter();
    rt.copyAsync(d.ptr(), s.ptr(), s.size() * Sizeof.FLOAT);
  }

  void fill(DeviceArray dst, double value) {
    CudaArray d = arr("dst", dst);
    backend.enter();
    k.launchN(k.fill, d.size(), d.ptr(), d.size(), (float) value);
  }

  int liveArrays() {
    synchronized (live) {
      return live.size();
    }
  }

  /** Frees an owned array closed by its user (nothing once the backend is closed: its storage is gone). */
  void release(CudaArray a, CUdeviceptr ptr) {
    if (!backend.isOpen()) {
      return;
    }
    synchronized (live) {
      if (live.remove(a) == null) {
        return;
      }
    }
    rt.makeCurrent();
    backend.released(a);  // drop the device-side caches that refer to it
    rt.freeLater(ptr, a.size() * Sizeof.FLOAT);  // queued work may still read it: freed once the stream is idle
  }

  /** Frees every live array (backend close; the context is current). */
  void freeAll() {
    ArrayList<CudaArray> arrays;
    synchronized (live) {
      arrays = new ArrayList<>(live.keySet());
      live.clear();
    }
    for (CudaArray a : arrays) {
      cuMemFree(a.ptr());
    }
  }
}
