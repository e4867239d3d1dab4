package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.RngdPreconditionerTest;

/**
 * RNGD's refresh steps on the CUDA backend (simulator or GPU): no host synchronisation at all, captured into a
 * graph of their own like a normal step, with the same parameters as eager steps; and MATH.md A11 on a NaN
 * slice kept on the device.
 */
class CudaRngdRefreshStepTest extends GpuBackendTest {
  static final int T = 3;
  static final int STEPS = 4 * T;

  /** Runs STEPS training steps on fixed data; graphs: one captured step per step kind, as the Trainer keeps. */
  static List<double[]> run(boolean graphs, List<Map<String, Long>> refreshCounts) {
    try (Mlp model = new Mlp(be, CudaGraphStepTest.net(Architecture.PLAIN), 20);
        Rngd rngd = new Rngd(model, RngdConfig.defaults(0.05).withRefreshPeriod(T));
        DeviceArray feats = be.allocate(60, 12);
        DeviceArray labels = be.allocate(60, 1);
        DeviceArray index = be.allocate(60, 1);
        DeviceArray x = be.allocate(20, 12);
        DeviceArray y = be.allocate(20, 1);
        DeviceArray stats = be.allocate(2)) {
      double[] f = new double[60 * 12];
      double[] l = new double[60];
      double[] idx = new double[60];
      for (int i = 0; i < f.length; i++) {
        f[i] = Math.sin(0.37 * i);
      }
      for (int i = 0; i < 60; i++) {
        l[i] = i % 3;
        idx[i] = (i * 7) % 60;
      }
      be.upload(feats, f);
      be.upload(labels, l);
      be.upload(index, idx);
      int[] from = {0};
      Runnable step = () -> {
        be.gatherBatch(feats, labels, index, from[0], x, y);
        model.forward(x, true, true);
        model.lossAndGradient(y, stats);
        rngd.step();
      };
      Map<String, ReplayableStep> captured = new HashMap<>();
      for (int s = 0; s < STEPS; s++) {
        from[0] = (s % 3) * 20;
        String kind = rngd.nextStepKind();
        assertEquals(s % T == 0 ? "rngd-refresh" : "rngd", kind, "step " + s);
        assertTrue(rngd.nextStepCapturable(), "every RNGD step is capturable");
        be.synchronize();
        be.resetCounts();
        if (graphs) {
          captured.computeIfAbsent(kind, k -> be.captureStep(k, step)).run();
        } else {
          step.run();
        }
        if (kind.equals("rngd-refresh")) {
          refreshCounts.add(be.counts());
        }
      }
      captured.values().forEach(ReplayableStep::close);
      assertEquals(0, rngd.inversionFailures());
      return model.downloadParameters();
    }
  }

  @Test
  void refreshStepsNeedNoHostSynchronisationAndReplayAsGraphs() {
    List<Map<String, Long>> eagerCounts = new ArrayList<>();
    List<Map<String, Long>> graphCounts = new ArrayList<>();
    List<double[]> eager = run(false, eagerCounts);
    List<double[]> graph = run(true, graphCounts);
    assertEquals(STEPS / T, eagerCounts.size());
    // Eager refresh steps after the first (which fills workspaces and pointer tables): no host synchronisation.
    for (int r = 1; r < eagerCounts.size(); r++) {
      Map<String, Long> c = eagerCounts.get(r);
      System.out.println("[refresh-step] eager refresh " + r + ": " + c);
      assertEquals(0, c.get("syncs"), "host synchronisations of eager refresh step " + r + ": " + c);
      assertTrue(c.get("kernels") + c.get("library") > 0, "the refresh did its work eagerly");
    }
    // With graphs: refresh 0 warms up, refresh 1 is captured and launched, refreshes 2, 3 replay the graph.
    for (int r = 2; r < graphCounts.size(); r++) {
      Map<String, Long> c = graphCounts.get(r);
      System.out.println("[refresh-step] graph refresh " + r + ": " + c);
      assertEquals(1, c.get("graphs"), "refresh step " + r + " is one graph launch: " + c);
      assertEquals(0, c.get("kernels") + c.get("library"), "nothing launched outside the graph: " + c);
      assertEquals(0, c.get("syncs"), "no host synchronisation: " + c);
    }
    for (int i = 0; i < eager.size(); i++) {
      assertArrayEquals(eager.get(i), graph.get(i), 0.0, "parameter " + i);
    }
  }

  @Test
  void nanSliceKeepsItsInverseAndDoublesItsDampingOnTheDevice() {
    RngdPreconditionerTest.assertFailureRule(be, 1e-6);
  }
}
