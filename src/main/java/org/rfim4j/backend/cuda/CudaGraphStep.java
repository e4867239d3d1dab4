package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import org.rfim4j.backend.ReplayableStep;

/**
 * One captured training step (docs/cuda.md, Speed): run 1 eager (warm-up), run 2 captured into a CUDA graph
 * and launched, later runs re-run the step's host code in the recorder's checking mode (no work issued) and
 * launch the graph. Per replay the host issues one async copy of the parameter block (from a ring of pinned
 * staging buffers, each guarded by an event so it is reused only once its copy has run) and one
 * cuGraphLaunch.
 */
final class CudaGraphStep implements ReplayableStep {
  /** CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: unsafe calls from this thread during capture are errors. */
  private static final int CAPTURE_MODE = 1;
  private static final int RING = 16;

  private final CudaBackend backend;
  private final CudaRuntime rt;
  private final CUdeviceptr dynBlock;
  private final String kind;
  private final Runnable step;
  private int runs;
  private CUgraph graph;
  private CUgraphExec exec;
  private List<Object[]> signatures;
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
    if (runs == 1) {
      step.run();  // warm-up: workspaces reach their size, tables are uploaded
      return;
    }
    if (exec == null) {
      capture(rec);
    } else {
      rec.beginReplay(signatures);
      try {
        step.run();
        rec.end();
      } catch (RuntimeException | Error e) {
        rec.abort();
        throw e;
      }
    }
    launch(rec);
  }

  private void capture(StepRecorder rec) {
    CUgraph g = new CUgraph();
    rec.beginCapture();
    cuStreamBeginCapture(rt.stream, CAPTURE_MODE);
    try {
      step.run();
    } catch (RuntimeException | Error e) {
      rec.abort();
      try {
        cuStreamEndCapture(rt.stream, g);
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw new IllegalStateException("capturing step '" + kind + "' into a CUDA graph failed (the step's host"
          + " state has advanced; restart from a checkpoint or run with --cuda-graphs off): " + e.getMessage(), e);
    }
    signatures = rec.end();
    cuStreamEndCapture(rt.stream, g);
    CUgraphExec e = new CUgraphExec();
    cuGraphInstantiate(e, g, 0);
    graph = g;
    exec = e;
  }

  private void launch(StepRecorder rec) {
    int bytes = rec.dynUsed();
    if (bytes > 0) {
      int r = next;
      next = (next + 1) % RING;
      if (pinned[r] == null) {
        pinned[r] = new Pointer();
        cuMemAllocHost(pinned[r], StepRecorder.DYN_BYTES);
        pinnedBuf[r] = pinned[r].getByteBuffer(0, StepRecorder.DYN_BYTES).order(ByteOrder.nativeOrder());
        events[r] = new CUevent();
        cuEventCreate(events[r], 0);
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
    }
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
    if (exec != null) {
      cuGraphExecDestroy(exec);
      cuGraphDestroy(graph);
    }
    for (int r = 0; r < RING; r++) {
      if (pinned[r] != null) {
        cuEventDestroy(events[r]);
        cuMemFreeHost(pinned[r]);
      }
    }
  }

  @Override
  public String toString() {
    return "captured step '" + kind + "' (" + (exec == null ? "not yet captured" : "graph") + ")";
  }
}
