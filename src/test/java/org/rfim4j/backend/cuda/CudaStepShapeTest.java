package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.StepShape;
import org.rfim4j.cli.CostModel;
import org.rfim4j.cli.StepShapeReport;
import org.rfim4j.cudasim.CudaSimSupport;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/**
 * The shape of the paper's training steps (784-80-80-80-10, batch 50; docs/gpu-cost-model.md), fixed so that a change
 * that adds launches or host synchronisations to a step fails here: the operations of each captured step by kind,
 * as {@code rfim4j bench --shape} prints them, counted by the backend while it captures and checked against the
 * driver's own node count of the graph. On the simulator a library call is one graph node; on a GPU a cuBLAS or
 * cuSOLVER call may be several, so there the driver's count only bounds ours from above.
 */
class CudaStepShapeTest extends GpuBackendTest {
  /** {kernels, gemm, batched gemm, solver, memcpy} of each step kind, and of the refresh's own work. */
  static final Map<String, long[]> EXPECTED = new LinkedHashMap<>();

  static {
    EXPECTED.put("sgd", new long[] {18, 11, 0, 0, 0});
    EXPECTED.put("adam", new long[] {18, 11, 0, 0, 0});
    EXPECTED.put("rngd", new long[] {19, 12, 3, 0, 0});
    EXPECTED.put("refresh", new long[] {9, 0, 2, 5, 0});
  }

  static long[] counts(StepShape s) {
    return new long[] {s.kernels(), s.gemms(), s.batchedGemms(), s.solverCalls(), s.memcpys()};
  }

  @Test
  void paperNetworkStepShapesAreFixed() {
    MlpConfig paper = MlpConfig.paper(Architecture.PLAIN, 1);
    Map<String, StepShape> got = new LinkedHashMap<>();
    for (OptimizerSpec spec : new OptimizerSpec[] {OptimizerSpec.sgd(0.1), OptimizerSpec.adam(1e-3),
        OptimizerSpec.rngd(RngdConfig.defaults(0.03))}) {
      StepShapeReport.Measured m = StepShapeReport.measure(be, paper, 50, spec, 1);
      got.putAll(m.shapes());
    }
    StepShape rngd = got.get("rngd");
    StepShape refreshStep = got.get("rngd-refresh");
    assertNotNull(refreshStep, "the refresh step kind ran: " + got.keySet());
    StepShape refresh = StepShapeReport.refreshOnly(refreshStep, rngd);
    Map<String, StepShape> check = new LinkedHashMap<>();
    check.put("sgd", got.get("sgd"));
    check.put("adam", got.get("adam"));
    check.put("rngd", rngd);
    check.put("refresh", refresh);
    StringBuilder report = new StringBuilder();
    for (Map.Entry<String, StepShape> e : check.entrySet()) {
      StepShape s = e.getValue();
      report.append(e.getKey()).append(' ').append(java.util.Arrays.toString(counts(s))).append(" nodes ")
          .append(s.nodes()).append("; ");
    }
    System.out.println("[step-shape] " + report);
    for (Map.Entry<String, StepShape> e : check.entrySet()) {
      StepShape s = e.getValue();
      String what = e.getKey() + " " + s;
      assertTrue(s.captured(), "captured: " + what);
      assertEquals(0, s.hostSyncs(), "no host synchronisation: " + what);
      assertEquals(0, s.bytesToHost(), "nothing copied to the host: " + what);
      assertEquals(java.util.Arrays.toString(EXPECTED.get(e.getKey())), java.util.Arrays.toString(counts(s)),
          "{kernels, gemm, batched, solver, memcpy} of " + what);
      if (CudaSimSupport.simulated()) {
        assertEquals(s.nodes() + s.streamEvents(), s.graphNodes(),
            "the simulator's graph has one node per operation and per event record: " + what);
      } else {
        assertTrue(s.graphNodes() >= s.nodes(), "a GPU graph has at least a node per operation: " + what);
      }
    }
    assertEquals(0, refreshStep.hostSyncs());
    // the 785 x 785 input-layer metric is inverted on the side stream (5 operations), forked after the metric
    // updates and joined before the input layer's preconditioning GEMM: one fork and one join
    assertEquals(5, refresh.sideStreamNodes(), "refresh operations on the side stream: " + refresh);
    assertEquals(2, refresh.streamEvents(), "one fork and one join: " + refresh);
    assertEquals(0, rngd.sideStreamNodes() + rngd.streamEvents(), "a normal step stays on one stream: " + rngd);
    // the target: a normal RNGD step adds at most 6 graph nodes to Adam's
    assertTrue(rngd.nodes() <= got.get("adam").nodes() + 6, "RNGD " + rngd.nodes() + " nodes, Adam "
        + got.get("adam").nodes());
    // one small parameter-block upload per replay (the mini-batch offset; Adam's bias corrections too)
    assertEquals(4, rngd.bytesToDevice());
    assertEquals(12, got.get("adam").bytesToDevice());
    // the cost model is the per-kind latency sum of docs/gpu-cost-model.md
    CostModel h = CostModel.H100;
    assertEquals(1e-6 * (h.graphLaunchUs() + 18 * h.kernelUs() + 11 * h.gemmUs() + 12 / h.pcieBytesPerUs()),
        h.stepSeconds(got.get("adam")), 1e-12);
  }
}
