package org.rfim4j.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.cudasim.CudaSimSupport;

/**
 * What the backend owns so that graph capture does not cost memory or correctness: cuBLAS's workspace (set after
 * the stream, so captures make no stream-ordered allocations of their own), the capture probe at open, graph
 * handles released with their steps, and device memory that queued work may still read freed only once the stream
 * is idle. Runs on a GPU or the CUDA simulator.
 */
class CudaCaptureResourcesTest extends GpuBackendTest {

  static long freeBytes() {
    be.synchronize();
    long[] free = {0};
    long[] total = {0};
    cuMemGetInfo(free, total);
    return free[0];
  }

  @Test
  void cublasOwnsItsWorkspaceAndTheProbeFoundCaptureWorking() {
    long ws = be.cublasWorkspaceBytes();
    assertTrue(ws == 32L << 20 || ws == 4L << 20, "32 MiB on Hopper and newer, else 4 MiB: " + ws);
    if (CudaSimSupport.simulated()) {
      assertEquals(32L << 20, ws, "the simulator reports compute capability 9.0");
    }
    assertEquals(0, be.liveGraphHandles(), "the probe left no graph behind");
    if (CudaSimSupport.simulated()) {
      assertNull(be.graphsOff(), "capture works on the simulator");
    } else {
      System.out.println("capture probe on " + be.name() + ": " + (be.graphsOff() == null ? "CUDA graphs work"
          : "CUDA graphs off: " + be.graphsOff()));
    }
  }

  /**
   * Eight different captured steps (a GEMM and a kernel each): once the library owns its workspace, capturing
   * them does not grow device memory (on the simulator not at all, whose cuBLAS stand-in would allocate 4 MiB per
   * graph without it; on a GPU by less than 2 MiB per graph for the graph itself), and every graph handle goes with
   * its step.
   */
  @Test
  void repeatedCapturesDoNotGrowDeviceMemory() {
    int n = 64;
    List<DeviceArray> arrays = new ArrayList<>();
    List<ReplayableStep> steps = new ArrayList<>();
    DeviceArray a = be.allocate(n, n);
    arrays.add(a);
    be.fill(a, 0.01);
    for (int i = 0; i < 8; i++) {
      DeviceArray c = be.allocate(n, n);
      arrays.add(c);
      double scale = 1 + i;
      steps.add(be.captureStep("probe-" + i, () -> {
        be.gemm(false, false, 1.0, a, a, 0.0, c);
        be.scale(scale, c);
      }));
    }
    steps.get(0).run();  // warm-up (eager) ...
    steps.get(0).run();  // ... and a first capture: anything allocated once for all captures happens here
    long before = freeBytes();
    for (ReplayableStep s : steps.subList(1, steps.size())) {
      s.run();
      s.run();
      assertTrue(s.captured(), s.toString());
    }
    long grown = before - freeBytes();
    long allowed = CudaSimSupport.simulated() ? 0 : 7L * (2L << 20);
    assertTrue(grown <= allowed, "7 more captures grew device memory by " + grown + " bytes (allowed " + allowed + ")");
    assertEquals(2 * steps.size(), be.liveGraphHandles(), "a graph and an executable graph per step");
    double want = 0.01 * 0.01 * n * 8;
    assertEquals(want, be.download(arrays.get(8))[0], 1e-6, "the last step's graph ran");
    steps.forEach(ReplayableStep::close);
    assertEquals(0, be.liveGraphHandles(), "graphs destroyed with their steps");
    arrays.forEach(DeviceArray::close);
  }

  /**
   * A workspace that grows, or an array that is closed, while queued work may still read it is not freed at once
   * (the driver promises no ordering for cuMemFree; the simulator's strict stream mode refuses such a free) but
   * at the next stream synchronisation.
   */
  @Test
  void memoryReleasedWhileWorkIsQueuedIsFreedOnceTheStreamIsIdle() {
    be.synchronize();
    assertEquals(0, be.retiredAllocations());
    int b = 4;
    DeviceArray h1 = be.allocate(b, 3);
    DeviceArray g1 = be.allocate(4, 4);
    DeviceArray h2 = be.allocate(b * 8, 30);
    DeviceArray g2 = be.allocate(31, 31);
    be.fill(h1, 0.5);
    be.fill(h2, 0.25);
    be.fill(g1, 0);
    be.fill(g2, 0);
    be.sharedMetricUpdate(h1, 0.5, g1);  // the Gram workspace reaches 4 x 4 floats ...
    be.sharedMetricUpdate(h2, 0.5, g2);  // ... and grows while the first update may still be queued
    assertTrue(be.retiredAllocations() >= 1, "the outgrown workspace waits for the stream");
    h1.close();  // queued work reads h1
    int waiting = be.retiredAllocations();
    assertTrue(waiting >= 2, "the closed array waits too: " + waiting);
    double[] g = be.download(g2);  // a host synchronisation: everything retired is freed
    assertEquals(0, be.retiredAllocations());
    assertEquals(0.5 * 0.25 * 0.25 * 32 / 32, g[0], 1e-6);
    for (DeviceArray x : new DeviceArray[] {g1, h2, g2}) {
      x.close();
    }
    be.synchronize();
    assertEquals(0, be.retiredAllocations());
  }
}
