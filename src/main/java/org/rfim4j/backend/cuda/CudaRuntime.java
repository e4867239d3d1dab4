package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadDataJIT;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUjit_option;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import jcuda.driver.JITOptions;
import jcuda.runtime.cudaStream_t;

/**
 * The CUDA driver state of one backend: the device's <em>primary</em> context (the one cuBLAS/cuSOLVER's
 * runtimes also use), one stream, and the kernel modules. JCuda exceptions are enabled, so every driver
 * call that fails throws {@link CudaException}.
 *
 * <p>PTX is read from the classpath ({@code /org/rfim4j/kernels/NAME.ptx}, written by
 * {@code scripts/build-ptx.sh}) or from the directory in property {@code rfim4j.cuda.ptxdir}. Its
 * {@code .version} (PTX ISA) is compared with {@code cuDriverGetVersion} before loading, and a JIT failure
 * reports the driver's error log.
 */
final class CudaRuntime implements AutoCloseable {
  /** Kernel modules, one per kernels/*.cu file. */
  static final String[] MODULES = {"elementwise", "loss", "batchnorm", "optim", "rngd"};
  static final String PTX_DIR_PROPERTY = "rfim4j.cuda.ptxdir";

  final CUdevice device = new CUdevice();
  final CUcontext context = new CUcontext();
  final CUstream stream = new CUstream();
  /** Operation counts and CUDA-graph capture/replay state (docs/cuda.md, Speed). */
  final StepRecorder rec = new StepRecorder();
  final cudaStream_t cudaStream;
  final int ordinal;
  final int driverVersion;
  final String deviceName;
  final int multiprocessors;
  /** Compute capability major version (9 for Hopper). */
  final int computeMajor;
  private final List<CUmodule> modules = new ArrayList<>();
  /** Device memory released while queued work may still use it: freed after the next stream synchronisation. */
  private final List<CUdeviceptr> retired = new ArrayList<>();
  private long retiredBytes;
  /** Released memory held back at most this long before a synchronisation is forced to free it. */
  static final long RETIRED_LIMIT_BYTES = 256L << 20;
  /** CUDA graphs and executable graphs alive (created by captures and the capture probe, not yet destroyed). */
  private int graphHandles;
  private boolean closed;

  CudaRuntime(int ordinal) {
    JCudaDriver.setExceptionsEnabled(true);
    cuInit(0);
    int[] v = {0};
    cuDriverGetVersion(v);
    this.driverVersion = v[0];
    int[] count = {0};
    cuDeviceGetCount(count);
    if (ordinal < 0 || ordinal >= count[0]) {
      throw new IllegalStateException("CUDA device " + ordinal + " does not exist (the driver reports " + count[0]
          + " device(s))");
    }
    this.ordinal = ordinal;
    cuDeviceGet(device, ordinal);
    byte[] name = new byte[256];
    cuDeviceGetName(name, name.length, device);
    int len = 0;
    while (len < name.length && name[len] != 0) {
      len++;
    }
    this.deviceName = new String(name, 0, len, StandardCharsets.UTF_8).trim();
    int[] sm = {0};
    cuDeviceGetAttribute(sm, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    this.multiprocessors = Math.max(1, sm[0]);
    int[] major = {0};
    cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
    this.computeMajor = major[0];
    cuDevicePrimaryCtxRetain(context, device);
    try {
      cuCtxSetCurrent(context);
      cuStreamCreate(stream, 0);
    } catch (RuntimeException | Error e) {
      try {
        cuDevicePrimaryCtxRelease(device);  // retained above: released on every failure path
      } catch (RuntimeException | Error suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    this.cudaStream = new cudaStream_t(stream);
  }

  /** The side stream (the RNGD refresh of large metrics) and its fork and join events; created on first use. */
  private CUstream side;
  private cudaStream_t sideCuda;
  private CUevent forkEvent;
  private CUevent joinEvent;
  /** Where operations go now: {@link #stream}, or {@link #side} between {@link #forkSide} and {@link #endSide}. */
  private CUstream current;
  /** The side stream has work the main stream has not waited for yet ({@link #joinSide}). */
  private boolean sidePending;

  /** The stream operations go to now: the backend's stream, or the side stream while a fork is open. */
  CUstream current() {
    return current == null ? stream : current;
  }

  /** Whether the side stream exists. */
  boolean hasSide() {
    return side != null;
  }

  /** The side stream as the libraries take it (creates it: call outside captures only). */
  cudaStream_t sideStream() {
    if (side == null) {
      rec.requireEager("creating the side stream");
      CUstream s = new CUstream();
      cuStreamCreate(s, 0);
      CUevent f = new CUevent();
      CUevent j = new CUevent();
      try {
        cuEventCreate(f, CUevent_flags.CU_EVENT_DISABLE_TIMING);
        cuEventCreate(j, CUevent_flags.CU_EVENT_DISABLE_TIMING);
      } catch (RuntimeException | Error e) {
        cuStreamDestroy(s);
        throw e;
      }
      side = s;
      sideCuda = new cudaStream_t(s);
      forkEvent = f;
      joinEvent = j;
    }
    return sideCuda;
  }

  /**
   * Later operations go to the side stream, ordered after everything issued on the main stream so far (an event
   * record and a stream wait; inside a capture the side stream joins it), until {@link #endSide}.
   */
  void forkSide() {
    if (side == null || current() != stream) {
      throw new IllegalStateException("forkSide: no side stream, or already forked");
    }
    joinSide();
    if (rec.op(StepRecorder.EVENT, "fork")) {
      CUstream m = stream;
      CUstream s = side;
      CUevent e = forkEvent;
      rec.issue(() -> {
        cuEventRecord(e, m);
        cuStreamWaitEvent(s, e, 0);
      });
    }
    current = side;
    rec.onSide = true;
  }

  /** Back to the main stream, which does not wait for the side stream's work until {@link #joinSide}. */
  void endSide() {
    current = stream;
    rec.onSide = false;
    sidePending = true;
  }

  /** The main stream waits for the side stream's work (if it has any the main stream has not waited for). */
  void joinSide() {
    if (!sidePending) {
      return;
    }
    sidePending = false;
    if (rec.op(StepRecorder.EVENT, "join")) {
      CUstream m = stream;
      CUstream s = side;
      CUevent e = joinEvent;
      rec.issue(() -> {
        cuEventRecord(e, s);
        cuStreamWaitEvent(m, e, 0);
      });
    }
  }

  /** Makes the primary context current on the calling thread (cheap; called by every backend op). */
  void makeCurrent() {
    cuCtxSetCurrent(context);
  }

  void synchronize() {
    makeCurrent();
    rec.requireEager("synchronize");
    joinSide();
    rec.noteSync();
    cuStreamSynchronize(stream);
    freeRetired();
  }

  /** A host synchronisation (counted; refused inside a captured step). */
  void hostSync(String what) {
    rec.requireEager(what);
    joinSide();
    rec.noteSync();
    cuStreamSynchronize(stream);
    freeRetired();
  }

  /**
   * Frees device memory that work queued on the stream may still read (a workspace that grew, a closed array or
   * table): the driver does not promise to order cuMemFree after queued work, so the allocation is kept until
   * the stream is next synchronised. More than {@link #RETIRED_LIMIT_BYTES} waiting forces that synchronisation
   * (outside a captured step).
   */
  synchronized void freeLater(CUdeviceptr p, long bytes) {
    if (closed) {
      return;  // the context's memory is gone already
    }
    retired.add(p);
    retiredBytes += bytes;
    if (retiredBytes > RETIRED_LIMIT_BYTES && rec.mode == StepRecorder.Mode.EAGER && current() == stream) {
      makeCurrent();
      joinSide();
      rec.noteSync();
      cuStreamSynchronize(stream);
      freeRetired();
    }
  }

  /** Frees what {@link #freeLater} kept; call only right after the stream was synchronised. */
  synchronized void freeRetired() {
    for (CUdeviceptr p : retired) {
      cuMemFree(p);
    }
    retired.clear();
    retiredBytes = 0;
  }

  /** Device allocations waiting in {@link #freeLater} (for tests). */
  synchronized int retiredAllocations() {
    return retired.size();
  }

  void graphHandleCreated() {
    graphHandles++;
  }

  void graphHandleDestroyed() {
    graphHandles--;
  }

  /** CUDA graphs plus executable graphs alive. */
  int graphHandles() {
    return graphHandles;
  }

  /** Device-to-device async copy on the stream (counted; capturable). */
  void copyAsync(jcuda.driver.CUdeviceptr dst, jcuda.driver.CUdeviceptr src, long bytes) {
    if (rec.op(2, "copy", dst, src, bytes)) {
      CUstream s = current();
      rec.issue(() -> jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, s));
    }
  }

  void loadModules() {
    for (String m : MODULES) {
      modules.add(loadModule(m));
    }
  }

  /** The function {@code name} from whichever loaded module defines it. */
  CUfunction function(String name) {
    List<String> errors = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++) {
      CUfunction f = new CUfunction();
      try {
        cuModuleGetFunction(f, modules.get(i), name);
        return f;
      } catch (CudaException e) {
        errors.add(MODULES[i] + ": " + e.getMessage());  // not in this module; try the next
      }
    }
    throw new IllegalStateException("CUDA kernel " + name + " not found (" + String.join("; ", errors)
        + "): the PTX (or, under the CUDA simulator, its kernels library) is stale or incomplete; rebuild with"
        + " scripts/build-ptx.sh (mvn generate-resources)");
  }

  static String readPtx(String module) {
    String dir = System.getProperty(PTX_DIR_PROPERTY);
    try {
      if (dir != null && !dir.isBlank()) {
        Path p = Path.of(dir, module + ".ptx");
        if (!Files.isRegularFile(p)) {
          throw new IllegalStateException("PTX " + p + " not found (property " + PTX_DIR_PROPERTY + "=" + dir + ")");
        }
        return Files.readString(p, StandardCharsets.US_ASCII);
      }
      String res = "/org/rfim4j/kernels/" + module + ".ptx";
      try (InputStream in = CudaRuntime.class.getResourceAsStream(res)) {
        if (in == null) {
          throw new IllegalStateException("CUDA kernels missing: resource " + res + " is not on the classpath. The"
              + " build was probably run with -Drfim4j.skipPtx=true or without nvcc; rebuild on a machine with"
              + " nvcc (mvn package), or set -D" + PTX_DIR_PROPERTY + "=DIR with PTX from scripts/build-ptx.sh DIR");
        }
        return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read PTX for module " + module + ": " + e, e);
    }
  }

  private static final Pattern VERSION = Pattern.compile("(?m)^\\s*\\.version\\s+(\\d+)\\.(\\d+)");
  private static final Pattern TARGET = Pattern.compile("(?m)^\\s*\\.target\\s+(\\S+)");

  /**
   * The oldest driver (cuDriverGetVersion encoding, 1000 * major + 10 * minor) that accepts a PTX ISA
   * version: ISA 9.x came with CUDA 13.x, ISA 8.0-8.5 with CUDA 12.0-12.5 (8.5 also 12.6), 8.7 with 12.8,
   * 8.8 with 12.9, ISA 7.x with CUDA 11.x.
   */
  static int minimumDriverFor(int isaMajor, int isaMinor) {
    if (isaMajor >= 9) {
      return 13000 + 1000 * (isaMajor - 9) + 10 * isaMinor;
    }
    if (isaMajor == 8) {
      if (isaMinor <= 5) {
        return 12000 + 10 * isaMinor;
      }
      return isaMinor <= 7 ? 12080 : 12090;
    }
    if (isaMajor == 7) {
      return 11000 + 10 * isaMinor;
    }
    return 10000;
  }

  static String formatDriver(int v) {
    return (v / 1000) + "." + (v % 1000) / 10;
  }

  /** Checks the PTX ISA against the driver; throws with what to do when the driver is too old. */
  static void checkPtxVersion(String module, String ptx, int driverVersion) {
    Matcher m = VERSION.matcher(ptx);
    if (!m.find()) {
      throw new IllegalStateException("PTX for module " + module + " has no .version line: not a PTX file?");
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    int need = minimumDriverFor(major, minor);
    if (driverVersion < need) {
      Matcher t = TARGET.matcher(ptx);
      throw new IllegalStateException("CUDA kernels were built as PTX ISA " + major + "." + minor
          + (t.find() ? " for " + t.group(1) : "") + ", which needs a driver for CUDA " + formatDriver(need)
          + " or newer" + (major >= 9 ? " (R580+)" : "") + ", but this driver supports CUDA "
          + formatDriver(driverVersion) + " (" + driverVersion + ").\n  fix: update the NVIDIA driver, or"
          + " rebuild the kernels with an older nvcc (NVCC=/path/to/nvcc scripts/build-ptx.sh DIR and run with -D"
          + PTX_DIR_PROPERTY + "=DIR)");
    }
  }

  private CUmodule loadModule(String name) {
    String ptx = readPtx(name);
    checkPtxVersion(name, ptx, driverVersion);
    byte[] text = ptx.getBytes(StandardCharsets.US_ASCII);
    byte[] z = Arrays.copyOf(text, text.length + 1);  // NUL-terminated image
    JITOptions jit = new JITOptions();
    int logSize = 16384;
    jit.putBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER, new byte[logSize]);
    jit.putInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, logSize);
    CUmodule module = new CUmodule();
    try {
      // JCuda's cuModuleLoadDataJIT returns the CUresult without checking it, even with exceptions enabled
      int rc = cuModuleLoadDataJIT(module, Pointer.to(z), jit);
      if (rc != CUresult.CUDA_SUCCESS) {
        throw new CudaException(CUresult.stringFor(rc));
      }
    } catch (CudaException e) {
      String log = "";
      try {
        log = jit.getString(CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
      } catch (RuntimeException ignored) {
        // no log available
      }
      throw new IllegalStateException("loading CUDA module " + name + ".ptx failed: " + e.getMessage()
          + (log == null || log.isBlank() ? "" : "\n  JIT log: " + log.trim())
          + "\n  driver CUDA " + formatDriver(driverVersion) + "; fix: update the driver or rebuild the PTX for"
          + " an older ISA (scripts/build-ptx.sh)", e);
    }
    return module;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    makeCurrent();
    try {
      if (side != null) {
        cuStreamSynchronize(side);
        cuEventDestroy(forkEvent);
        cuEventDestroy(joinEvent);
        cuStreamDestroy(side);
        side = null;
      }
      cuStreamSynchronize(stream);
      freeRetired();
      for (CUmodule m : modules) {
        cuModuleUnload(m);
      }
      modules.clear();
      cuStreamDestroy(stream);
    } finally {
      closed = true;
      cuDevicePrimaryCtxRelease(device);
    }
  }
}
