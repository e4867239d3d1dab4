package org.rfim4j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/** The profiler changes no result, counts every call, and forwards fused operations as one call. */
class ProfilingBackendTest {

  private static List<double[]> train(Backend backend, OptimizerSpec spec) {
    MlpConfig c = new MlpConfig(6, new int[] {5, 4}, 3, Activation.RELU, Architecture.BNA, 1e-3, 0.3, 7, 0.9, 1e-3);
    SplittableRandom rng = new SplittableRandom(3);
    double[] x = new double[8 * 6];
    double[] y = new double[8];
    for (int i = 0; i < x.length; i++) {
      x[i] = rng.nextDouble() - 0.5;
    }
    for (int i = 0; i < y.length; i++) {
      y[i] = rng.nextInt(3);
    }
    try (Mlp model = new Mlp(backend, c, 8); Optimizer opt = spec.create(model);
        DeviceArray xa = backend.allocate(8, 6); DeviceArray ya = backend.allocate(8, 1);
        DeviceArray stats = backend.allocate(2)) {
      backend.upload(xa, x);
      backend.upload(ya, y);
      for (int s = 0; s < 4; s++) {
        model.forward(xa, true, true);
        model.lossAndGradient(ya, stats);
        opt.step();
      }
      return model.downloadParameters();
    }
  }

  @Test
  void sameResultsAndEveryCallCounted() {
    for (OptimizerSpec spec : List.of(OptimizerSpec.sgd(0.1), OptimizerSpec.adam(0.01),
        OptimizerSpec.rngd(RngdConfig.defaults(0.05).withRefreshPeriod(2)))) {
      List<double[]> plain;
      try (Backend b = new CpuBackend()) {
        plain = train(b, spec);
      }
      try (ProfilingBackend p = new ProfilingBackend(new CpuBackend(), true)) {
        List<double[]> profiled = train(p, spec);
        assertEquals(plain.size(), profiled.size());
        for (int i = 0; i < plain.size(); i++) {
          assertArrayEquals(plain.get(i), profiled.get(i), 0.0, spec.name() + " parameter " + i);
        }
        String fused = spec.name().equals("adam") ? "adamUpdateAll" : "sgdUpdateAll";
        assertTrue(p.totals().containsKey(fused), spec.name() + ": the fused update reaches the profiler as one call");
        // 3 dense layers: 3 forward, 3 weight-gradient and 2 back-propagation GEMMs per step; RNGD's layer
        // calls reach the profiler whole (its preconditioning GEMMs run inside preconditionLayers)
        assertEquals(4 * 8, p.totals().get("gemm")[1], spec.name() + ": GEMM calls in 4 steps");
        if (spec.name().equals("rngd")) {
          assertEquals(4, p.totals().get("metricUpdates")[1], "one metricUpdates call per step");
          assertEquals(4, p.totals().get("preconditionLayers")[1], "one preconditionLayers call per step");
          assertEquals(2, p.totals().get("refreshInversesAll")[1], "refreshes at steps 0 and 2 (T = 2)");
        }
        assertTrue(p.report().contains("gemm"));
        assertEquals(0, p.liveArrays(), "profiler forwards liveArrays");
      }
    }
  }
}
