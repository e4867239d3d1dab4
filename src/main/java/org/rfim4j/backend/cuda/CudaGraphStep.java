package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphGetNodes;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.backend.StepShape;

/**
 * One captured training step (docs/cuda.md, Speed): run 1 eager (warm-up), run 2 captured into a CUDA graph
 * and launched, later runs re-run the step's host code in the recorder's checking mode (no work issued) and
 * launch the graph. Per replay the host issues one async copy of the parameter block (from a ring of pinned
 * staging buffers, each guarded by an event so it is reused only once its copy has run) and one
 * cuGraphLaunch.
 *
 * <p>When CUDA graphs are off for the backend (its capture probe failed) every run is eager. When the capture
 * of run 2 fails (cuStreamBeginCapture refused; a CUDA error of a launch or library call inside the capture;
 * cuStreamEndCapture reports it invalidated; cuGraphInstantiate fails), the partial graph is destroyed, the
 * backend turns CUDA graphs off with one warning, and the step is completed by issuing the operations the
 * capture recorded eagerly (the step's host code has already run once and is not run again); later runs are
 * eager. Errors of the step's own host code (an argument check, a synchronising call) still throw.
 */
final class CudaGraphStep implements ReplayableStep {
  /** CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: unsafe calls from this thread during capture are errors. */
  static final int CAPTURE_MODE = 1;
  private static final int RING = 16;
  /** The staging ring's events order host writes against copies; their timing is never read. */
  private static final int EVENT_FLAGS = CUevent_flags.CU_EVENT_DISABLE_TIMING;

  private final CudaBackend backend;
  private final CudaRuntime rt;
  private final CUdeviceptr dynBlock;
  private final String kind;
  private final Runnable step;
  private int runs;
  /** Runs eagerly from now on (graphs off for the backend, or this step's capture failed). */
  private boolean eager;
  private CUgraph graph;
  private CUgraphExec exec;
  private List<Object[]> signatures;
  /** Recorder counters before and after the capture: the graph's operations by kind. */
  private long[] compositionBefore;
  private long[] composition;
  /** Nodes of the captured graph as the driver reports them (cuGraphGetNodes). */
  private long graphNodes = -1;
  /** Operations of the capture issued on the side stream. */
  private long sideNodes;
  private final Pointer[] pinned = new Pointer[RING];
  private final ByteBuffer[] pinnedBuf = new ByteBuffer[RING];
  private final CUevent[] events = new CUevent[RING];
  private final boolean[] used = new boolean[RING];
  private int next;
  private boolean closed;

  CudaGraphStep(CudaBackend backend, CudaRuntime rt, CUdeviceptr dynBlock, String kind, Runnable step) {
    this.backend = backend;
    this.rt = rt;
    this.dynBlock = dynBlock;
    this.kind = kind;
    this.step = step;
  }

  @Override
  public void run() {
    if (closed) {
      throw new IllegalStateException("captured step '" + kind + "' is closed");
    }
    backend.enter();
    StepRecorder rec = rt.rec;
    if (rec.mode != StepRecorder.Mode.EAGER) {
      throw new IllegalStateException("captured steps cannot nest");
    }
    runs++;
    long[] before = rec.snapshot();
    if (runs == 1 || eager || (exec == null && backend.graphsOff() != null)) {
      eager = eager || runs > 1;
      step.run();  // warm-up (workspaces reach their size, tables are uploaded), or graphs are off
      rt.joinSide();
      if (runs > 1) {
        recordShape(before, rec.snapshot(), false, before, rec.snapshot());
      }
      return;
    }
    if (exec == null) {
      if (!capture(rec)) {
        recordShape(before, rec.snapshot(), false, before, rec.snapshot());
        return;  // fell back: the step was completed eagerly
      }
      composition = rec.snapshot();
      compositionBefore = before;
    } else {
      rec.beginReplay(signatures);
      try {
        step.run();
        rt.joinSide();
        rec.end();
      } catch (RuntimeException | Error e) {
        rec.abort();
        throw e;
      }
    }
    long[] launchFrom = rec.snapshot();
    launch(rec);
    recordShape(compositionBefore, composition, true, launchFrom, rec.snapshot());
  }

  /**
   * Records this kind's shape with the backend: the operations between {@code opsFrom} and {@code opsTo} (the
   * capture, or an eager run) and the host costs (synchronisations, bytes) between {@code runFrom} and
   * {@code runTo}.
   */
  private void recordShape(long[] opsFrom, long[] opsTo, boolean graph, long[] runFrom, long[] runTo) {
    long[] d = new long[opsTo.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = opsTo[i] - opsFrom[i];
    }
    long syncs = (graph ? runTo[5] - runFrom[5] : d[5]);
    long toDev = runTo[7] - runFrom[7];
    long toHost = runTo[8] - runFrom[8];
    backend.recordShape(new StepShape(kind, graph, d[0], d[1], d[2], d[3], d[4], syncs, toDev, toHost,
        graph ? graphNodes : -1, graph ? sideNodes : 0, d[9]));
  }

  /**
   * Captures the step into a graph and instantiates it; true on success. On a capture failure: destroys what
   * was made, turns graphs off for the backend (one warning), completes the step eagerly and returns false.
   */
  private boolean capture(StepRecorder rec) {
    rec.beginCapture();
    try {
      cuStreamBeginCapture(rt.stream, CAPTURE_MODE);
    } catch (CudaException e) {
      rec.abort();
      fallBack("cuStreamBeginCapture failed: " + e.getMessage());
      step.run();  // nothing of the step has run yet
      rt.joinSide();
      return false;
    }
    try {
      step.run();
      rt.joinSide();  // a capture ends with every forked stream joined back
    } catch (RuntimeException | Error e) {
      rec.abort();
      destroy(endCaptureQuietly(e), null);
      throw new IllegalStateException("capturing step '" + kind + "' into a CUDA graph failed (the step's host"
          + " state has advanced; restart from a checkpoint or run with --cuda-graphs off): " + e.getMessage(), e);
    }
    CudaException inside = rec.captureFailure();
    List<Runnable> calls = new ArrayList<>(rec.capturedCalls());
    List<Object[]> sigs = rec.end();
    rec.dropCalls();
    String failure = inside == null ? null
        : "a launch or library call inside the capture failed (" + inside.getMessage() + ")";
    CUgraph g = null;
    CUgraphExec e = null;
    CUgraph made = new CUgraph();
    try {
      cuStreamEndCapture(rt.stream, made);
      g = made;
      rt.graphHandleCreated();
    } catch (CudaException ex) {
      failure = failure != null ? failure : "cuStreamEndCapture failed (" + ex.getMessage() + ")";
    }
    if (failure == null) {
      CUgraphExec inst = new CUgraphExec();
      try {
        cuGraphInstantiate(inst, g, 0);
        e = inst;
        rt.graphHandleCreated();
      } catch (CudaException ex) {
        failure = "cuGraphInstantiate failed (" + ex.getMessage() + ")";
      }
    }
    if (failure != null) {
      destroy(g, e);
      fallBack(failure);
      // The host code ran once under capture; its operations did not run. Issue them now, eagerly, reading the
      // per-step values from the parameter block as the graph would have.
      uploadParameters(rec);
      for (Runnable call : calls) {
        call.run();
      }
      return false;
    }
    signatures = sigs;
    graph = g;
    exec = e;
    long[] n = {0};
    cuGraphGetNodes(g, null, n);
    graphNodes = n[0];
    sideNodes = rec.sideOps;
    return true;
  }

  private void fallBack(String why) {
    eager = true;
    backend.disableGraphs("capturing step '" + kind + "' failed: " + why);
  }

  /** Ends a capture abandoned because of {@code cause}; returns the graph if the driver made one. */
  private CUgraph endCaptureQuietly(Throwable cause) {
    CUgraph g = new CUgraph();
    try {
      cuStreamEndCapture(rt.stream, g);
      rt.graphHandleCreated();
      return g;
    } catch (RuntimeException suppressed) {
      cause.addSuppressed(suppressed);
      return null;
    }
  }

  /** Destroys an executable graph and a graph (either may be null), counting them. */
  private void destroy(CUgraph g, CUgraphExec e) {
    destroy(rt, g, e);
  }

  /** Destroys an executable graph and a graph (either may be null), counting them in {@code rt}. */
  static void destroy(CudaRuntime rt, CUgraph g, CUgraphExec e) {
    if (e != null) {
      cuGraphExecDestroy(e);
      rt.graphHandleDestroyed();
    }
    if (g != null) {
      cuGraphDestroy(g);
      rt.graphHandleDestroyed();
    }
  }

  /** Copies the staged per-step values to the device parameter block (async, from a pinned ring slot). */
  private void uploadParameters(StepRecorder rec) {
    int bytes = rec.dynUsed();
    if (bytes == 0) {
      return;
    }
    int r = next;
    next = (next + 1) % RING;
    if (pinned[r] == null) {
      pinned[r] = new Pointer();
      cuMemAllocHost(pinned[r], StepRecorder.DYN_BYTES);
      pinnedBuf[r] = pinned[r].getByteBuffer(0, StepRecorder.DYN_BYTES).order(ByteOrder.nativeOrder());
      events[r] = new CUevent();
      cuEventCreate(events[r], EVENT_FLAGS);
    } else if (used[r]) {
      cuEventSynchronize(events[r]);  // waits only when the GPU is RING steps behind
    }
    ByteBuffer dst = pinnedBuf[r];
    dst.clear();
    dst.put(rec.staging.array(), 0, bytes);
    cuMemcpyHtoDAsync(dynBlock, pinned[r], bytes, rt.stream);
    cuEventRecord(events[r], rt.stream);
    used[r] = true;
    rec.copies++;
    rec.noteTransfer(true, bytes);
  }

  private void launch(StepRecorder rec) {
    uploadParameters(rec);
    cuGraphLaunch(exec, rt.stream);
    rec.graphLaunches++;
  }

  @Override
  public boolean captured() {
    return exec != null;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!backend.isOpen()) {
      return;
    }
    backend.enter();
    rt.synchronize();
    destroy(graph, exec);
    graph = null;
    exec = null;
    for (int r = 0; r < RING; r++) {
      if (pinned[r] != null) {
        cuEventDestroy(events[r]);
        cuMemFreeHost(pinned[r]);
      }
    }
  }

  @Override
  public String toString() {
    return "captured step '" + kind + "' (" + (exec != null ? "graph" : eager ? "eager" : "not yet captured") + ")";
  }
}
