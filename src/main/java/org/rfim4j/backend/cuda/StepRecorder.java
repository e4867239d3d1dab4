package org.rfim4j.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.CudaException;
import jcuda.NativePointerObject;

/**
 * Counts every device operation the backend issues and drives CUDA-graph capture and replay.
 *
 * <p>Modes: {@code EAGER} (ops run now; only counted), {@code CAPTURE} (ops are enqueued into a stream
 * capture; their signatures are saved) and {@code REPLAY} (the step's host code runs again but no op is
 * issued: each op's signature is compared with the captured one, so a replay is only accepted when it would
 * issue exactly the captured work; a difference throws). Values that legitimately change from step to step
 * (the mini-batch offset, Adam's bias corrections) are not kernel parameters in graph mode: the kernel reads
 * them from a small device parameter block whose host staging copy is filled here, slot by slot in call
 * order, and copied to the device (one async copy) before every graph launch.
 *
 * <p>Every operation is issued through {@link #issue}: in capture mode the recorder also keeps the call itself, so
 * that a capture the driver or a library refuses (a CUDA error inside the capture, at its end or at instantiation)
 * can still be completed by issuing the recorded calls eagerly ({@link CudaGraphStep}); the step's host code,
 * which has already run once, is not run again.
 */
final class StepRecorder {
  enum Mode { EAGER, CAPTURE, REPLAY }

  /** Bytes of the device parameter block. */
  static final int DYN_BYTES = 4096;

  Mode mode = Mode.EAGER;
  private List<Object[]> signatures;
  private int cursor;
  final ByteBuffer staging = ByteBuffer.allocate(DYN_BYTES).order(ByteOrder.nativeOrder());
  private int dynUsed;

  /** Capture mode: the operations as calls, in order, for an eager re-issue if the capture fails. */
  private List<Runnable> calls;
  /** Capture mode: the first CUDA error an operation raised inside the capture (the capture is then broken). */
  private CudaException captureFailure;

  /** Operation kinds of {@link #op}: a kernel, a (non-batched) GEMM, a copy, a batched BLAS call, a solver call. */
  static final int KERNEL = 0;
  static final int GEMM = 1;
  static final int COPY = 2;
  static final int BATCHED = 3;
  static final int SOLVER = 4;
  /** A fork to or join from the side stream (an event record and a stream wait: graph edges, not work). */
  static final int EVENT = 5;

  long kernels;
  /** cuBLAS and cuSOLVER calls: {@link #gemms} + {@link #batchedGemms} + {@link #solverCalls}. */
  long libraryCalls;
  long gemms;
  long batchedGemms;
  long solverCalls;
  long copies;
  long hostSyncs;
  long graphLaunches;
  /** Forks and joins of the side stream (each one event record and one stream wait). */
  long events;
  /** Whether operations go to the side stream now (see CudaRuntime#forkSide). */
  boolean onSide;
  /** Bytes copied host to device and device to host (synchronous and asynchronous copies). */
  long bytesToDevice;
  long bytesToHost;

  /** Operations of the current capture issued on the side stream (see CudaRuntime#side). */
  long sideOps;

  /** Starts recording the signatures of a capture. */
  void beginCapture() {
    mode = Mode.CAPTURE;
    sideOps = 0;
    signatures = new ArrayList<>();
    calls = new ArrayList<>();
    captureFailure = null;
    dynUsed = 0;
  }

  /**
   * Issues one operation whose {@link #op} returned true. Eager: runs it. Capture: keeps it for a possible eager
   * re-issue and enqueues it into the capture, unless an earlier operation already broke the capture; a CUDA
   * error it raises is kept ({@link #captureFailure()}) instead of thrown, so the step's host code completes
   * and the caller can fall back to eager launches.
   */
  void issue(Runnable call) {
    if (mode != Mode.CAPTURE) {
      call.run();
      return;
    }
    calls.add(call);
    if (captureFailure == null) {
      try {
        call.run();
      } catch (CudaException e) {
        captureFailure = e;
      }
    }
  }

  /** The first CUDA error raised inside the current capture, or null. */
  CudaException captureFailure() {
    return captureFailure;
  }

  /** The calls of the current (or just ended) capture, in issue order. */
  List<Runnable> capturedCalls() {
    return calls == null ? List.of() : calls;
  }

  /** Starts a checked replay against signatures saved by a capture. */
  void beginReplay(List<Object[]> saved) {
    mode = Mode.REPLAY;
    signatures = saved;
    cursor = 0;
    dynUsed = 0;
  }

  /** Ends capture or replay; returns the signatures (capture) and checks that a replay issued all of them. */
  List<Object[]> end() {
    Mode m = mode;
    mode = Mode.EAGER;
    List<Object[]> s = signatures;
    signatures = null;
    if (m == Mode.REPLAY && cursor != s.size()) {
      throw new IllegalStateException("CUDA graph replay: the step issued " + cursor + " operations, the captured"
          + " graph has " + s.size() + "; a captured step must issue the same work every time");
    }
    return s;
  }

  /** Abandons capture or replay after an error. */
  void abort() {
    mode = Mode.EAGER;
    signatures = null;
    calls = null;
    captureFailure = null;
  }

  /** Forgets the calls kept by the last capture. */
  void dropCalls() {
    calls = null;
    captureFailure = null;
  }

  int dynUsed() {
    return dynUsed;
  }

  /**
   * Accounts one operation. Returns true when the caller must issue it (eager or capture), false in replay
   * mode, where it is only compared with the captured operation at the same position.
   */
  boolean op(int kind, Object... signature) {
    if (mode == Mode.REPLAY) {
      return checkReplay(signature);
    }
    switch (kind) {
      case KERNEL -> kernels++;
      case GEMM -> {
        libraryCalls++;
        gemms++;
      }
      case BATCHED -> {
        libraryCalls++;
        batchedGemms++;
      }
      case SOLVER -> {
        libraryCalls++;
        solverCalls++;
      }
      case EVENT -> events++;
      default -> copies++;
    }
    if (onSide && kind != EVENT && mode == Mode.CAPTURE) {
      sideOps++;
    }
    if (mode == Mode.EAGER) {
      return true;
    }
    signatures.add(normalise(signature));
    return true;
  }

  private boolean checkReplay(Object[] signature) {
    Object[] sig = normalise(signature);
    if (cursor >= signatures.size() || !Arrays.equals(signatures.get(cursor), sig)) {
      Object[] was = cursor < signatures.size() ? signatures.get(cursor) : null;
      throw new IllegalStateException("CUDA graph replay: operation " + cursor + " differs from the captured step"
          + " (captured " + (was == null ? "nothing" : Arrays.toString(was)) + ", now " + Arrays.toString(sig)
          + "); a captured step must issue the same work every time (only values passed through the parameter"
          + " block may change)");
    }
    cursor++;
    return false;
  }

  /** Device pointers compare by address (their string form), everything else by value. */
  private static Object[] normalise(Object[] s) {
    Object[] o = new Object[s.length];
    for (int i = 0; i < s.length; i++) {
      Object a = s[i];
      if (a instanceof NativePointerObject) {
        o[i] = a.toString();
      } else if (a instanceof float[] f) {
        o[i] = Arrays.toString(f);
      } else {
        o[i] = a;
      }
    }
    return o;
  }

  /**
   * Reserves {@code bytes} (a multiple of 4) of the parameter block for a value that changes per step, or
   * returns -1 in eager mode (pass the value as a kernel parameter then).
   */
  int dynamicSlot(int bytes) {
    if (mode == Mode.EAGER) {
      return -1;
    }
    if (dynUsed + bytes > DYN_BYTES) {
      throw new IllegalStateException("CUDA graph parameter block full (" + DYN_BYTES + " bytes)");
    }
    int at = dynUsed;
    dynUsed += bytes;
    return at;
  }

  void noteSync() {
    hostSyncs++;
  }

  /** Counts a host-to-device (toDevice) or device-to-host copy of {@code bytes}. */
  void noteTransfer(boolean toDevice, long bytes) {
    if (toDevice) {
      bytesToDevice += bytes;
    } else {
      bytesToHost += bytes;
    }
  }

  /** The counters as {kernels, gemms, batched, solver, copies, hostSyncs, graphLaunches, toDevice, toHost, events}. */
  long[] snapshot() {
    return new long[] {kernels, gemms, batchedGemms, solverCalls, copies, hostSyncs, graphLaunches, bytesToDevice,
        bytesToHost, events};
  }

  /** Throws when a host-synchronising operation is attempted inside a captured step. */
  void requireEager(String what) {
    if (mode != Mode.EAGER) {
      throw new IllegalStateException(what + " synchronises with the host and cannot be part of a captured CUDA"
          + " graph step; run such steps eagerly (see docs/cuda.md, Speed)");
    }
  }
}
