package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Adam;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.optim.Sgd;

/**
 * The per-array device caches of {@link CudaBackend} (multi-tensor optimizer tables, RNGD damping factors):
 * freed when their arrays are closed, and keyed by storage so fresh but equal row views reuse them without
 * a host synchronisation or an allocation. Runs on a GPU or the CUDA simulator ({@link GpuTestSupport}).
 */
class CudaCacheLifecycleTest extends GpuBackendTest {
  static MlpConfig config(Architecture arch) {
    return new MlpConfig(6, new int[] {5, 4}, 3, Activation.RELU, arch, 1e-3, 0.3, 11, 0.9, 1e-3);
  }

  /** Two training steps of a fresh model and optimizer; both closed afterwards. */
  static void trainTwoSteps(Architecture arch, Function<Mlp, Optimizer> make) {
    int batch = 4;
    try (Mlp m = new Mlp(be, config(arch), batch); Optimizer o = make.apply(m);
        DeviceArray x = be.allocate(batch, 6); DeviceArray y = be.allocate(batch, 1);
        DeviceArray stats = be.allocate(2)) {
      be.upload(x, new double[] {.1, .2, .3, .4, .5, .6, .6, .5, .4, .3, .2, .1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1});
      be.upload(y, new double[] {0, 1, 2, 1});
      for (int s = 0; s < 2; s++) {
        m.forward(x, true, true);
        m.lossAndGradient(y, stats);
        o.step();
      }
      assertTrue(be.cachedDeviceBuffers() > 0, "the step used cached device tables");
    }
  }

  @Test
  void cachesAreFreedWithTheirArrays() {
    int live = be.liveArrays();
    int cached = be.cachedDeviceBuffers();
    for (int round = 0; round < 3; round++) {
      trainTwoSteps(Architecture.PLAIN, m -> new Adam(m, 1e-2));
      trainTwoSteps(Architecture.PLAIN, m -> new Sgd(m, 0.1, 0.9));
      trainTwoSteps(Architecture.BNA, m -> new Rngd(m, RngdConfig.defaults(0.1).withLambda(0.1)
          .withRefreshPeriod(1)));
      assertEquals(live, be.liveArrays(), "live arrays after round " + round);
      assertEquals(cached, be.cachedDeviceBuffers(), "cached device buffers after round " + round);
    }
  }

  @Test
  void freshEqualViewsReuseTheCachedTables() {
    int n = 3;
    DeviceArray p = be.allocate(4, n);
    DeviceArray g = be.allocate(4, n);
    DeviceArray m = be.allocate(4, n);
    DeviceArray v = be.allocate(4, n);
    be.fill(g, 1);
    int cached = be.cachedDeviceBuffers();
    for (int step = 0; step < 4; step++) {
      if (step == 1) {
        be.resetCounts();
      }
      // fresh views and fresh lists every step, as a model taking rows() per step would pass
      be.sgdUpdateAll(List.of(be.rows(p, 0, 2), be.rows(p, 2, 4)), List.of(be.rows(g, 0, 2), be.rows(g, 2, 4)),
          null, 0.5, 0);
      be.adamUpdateAll(List.of(be.rows(p, 0, 1)), List.of(be.rows(g, 0, 1)), List.of(be.rows(m, 0, 1)),
          List.of(be.rows(v, 0, 1)), 0.01, 0.9, 0.999, 1e-8, step + 1);
    }
    Map<String, Long> c = be.counts();
    assertEquals(0L, c.get("syncs"), "no table upload after the first step: " + c);
    assertEquals(6L, c.get("kernels"), "one launch per update: " + c);
    assertEquals(cached + 2, be.cachedDeviceBuffers(), "one table per layout");
    double[] got = be.download(p);
    for (int i = 0; i < got.length; i++) {
      assertTrue(i < n ? got[i] < -1.99 && got[i] > -2.1 : got[i] == -2.0, "element " + i + ": " + got[i]);
    }
    // a view at another offset is other storage: its own table, updating its own row
    be.sgdUpdateAll(List.of(be.rows(p, 3, 4)), List.of(be.rows(g, 3, 4)), null, 1, 0);
    assertEquals(-3.0, be.download(p)[3 * n], 0);
    assertEquals(-2.0, be.download(p)[2 * n], 0);
    for (DeviceArray a : new DeviceArray[] {p, g, m, v}) {
      a.close();
    }
    assertEquals(cached, be.cachedDeviceBuffers(), "tables freed with their arrays");
  }

  @Test
  void batchedInverseOfFreshViewsUploadsNothing() {
    int k = 3;
    int d = 4;
    DeviceArray g = be.allocate(k, d, d);
    DeviceArray gi = be.allocate(k, d, d);
    for (int q = 0; q < k; q++) {
      be.addDiagonal(be.rows(g, q, q + 1), 1 + q);
    }
    double[] eps = {1e-3, 1e-3, 1e-3};
    int cached = be.cachedDeviceBuffers();
    be.batchedInverse(be.rows(g, 0, k), eps, 0, be.rows(gi, 0, k));
    be.resetCounts();
    for (int step = 0; step < 3; step++) {
      int[] info = be.batchedInverse(be.rows(g, 0, k), eps, 0, be.rows(gi, 0, k));
      assertEquals(0, info[0] + info[1] + info[2]);
    }
    assertEquals(3L, be.counts().get("syncs"), "only the status readback synchronises: " + be.counts());
    assertEquals(cached + 1, be.cachedDeviceBuffers(), "one damping buffer for the metric");
    double[] inv = be.download(gi);
    assertEquals(1 / (3 + 3 * 4 * 1e-3), inv[2 * d * d], 1e-5);
    g.close();
    gi.close();
    assertEquals(cached, be.cachedDeviceBuffers(), "damping buffer freed with its metric");
  }
}
