package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;

/**
 * The CPU engines' cross-layer schedules ({@link CpuEngine#metricUpdates}, {@link CpuEngine#refreshInversesAll}
 * with split native BLAS calls) give every layer bit for bit what its own single-layer operation gives, check
 * all arguments before touching anything, and fall back to the layer-by-layer order where arrays overlap. The
 * shapes make the schedule's parts real: a shared layer whose Gram GEMM is split over the threads (support of
 * 301 columns, 301^2 x 50 >= 2^22 multiply-adds) and whose input has all-zero columns, per-neuron stacks as
 * views of one allocation, a small shared layer, and a failing matrix in the refresh.
 */
class CpuCrossLayerTest {

  private static final int B = 50;

  /** Both engines with two threads and split native BLAS calls; skips (with the reason) without a native BLAS. */
  private static Backend[] engines() {
    assumeTrue(NetlibNative.NATIVE && NetlibNative.NATIVE_LAPACK,
        "the cross-layer schedules need a native BLAS and LAPACK (netlib found none)");
    CpuBackend b64 = new CpuBackend(2, CpuBackend.GemmPath.NETLIB, true);
    CpuBackend32 b32 = new CpuBackend32(2, CpuBackend.GemmPath.NETLIB, true);
    assertTrue(b64.splitBlas.splits() && b32.splitBlas.splits(), "the engines must split BLAS calls");
    return new Backend[] {b64, b32};
  }

  private static double[] rand(Random r, int n, double scale) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) {
      a[i] = scale * r.nextGaussian();
    }
    return a;
  }

  /** m symmetric positive definite d x d matrices, one after the other. */
  private static double[] spdStack(Random r, int m, int d) {
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      double[] x = rand(r, d * (d + 3), 1);
      for (int a = 0; a < d; a++) {
        for (int b = 0; b < d; b++) {
          double s = a == b ? 0.5 : 0;
          for (int k = 0; k < d + 3; k++) {
            s += x[a * (d + 3) + k] * x[b * (d + 3) + k];
          }
          g[i * d * d + a * d + b] = s / (d + 3);
        }
      }
    }
    return g;
  }

  private static DeviceArray up(Backend be, double[] v, int... shape) {
    DeviceArray a = be.allocate(shape);
    be.upload(a, v);
    return a;
  }

  /** The arrays of one test problem, uploaded afresh (so two copies start equal). */
  private static final class Layers {
    final DeviceArray h0;
    final DeviceArray g0;
    final DeviceArray h1;
    final DeviceArray a1;
    final DeviceArray a2;
    final DeviceArray nu1;
    final DeviceArray nu2;
    final DeviceArray stack;
    final DeviceArray h3;
    final DeviceArray nu3;
    final DeviceArray g3;
    final DeviceArray h4;
    final DeviceArray g4;
    final Backend be;

    Layers(Backend be, long seed) {
      this.be = be;
      Random r = new Random(seed);
      // shared input layer: 400 inputs, a quarter of them zero in every row
      double[] x = rand(r, B * 400, 1);
      for (int k = 0; k < B; k++) {
        for (int c = 0; c < 400; c += 4) {
          x[k * 400 + c] = 0;
        }
      }
      h0 = up(be, x, B, 400);
      g0 = up(be, spdStack(r, 1, 401), 401, 401);
      // two per-neuron layers of 12 neurons on 20 inputs, from pre-activations, as slices of one stack
      h1 = up(be, rand(r, B * 20, 1), B, 20);
      a1 = up(be, rand(r, B * 12, 1), B, 12);
      a2 = up(be, rand(r, B * 12, 1), B, 12);
      nu1 = be.allocate(B, 12);
      nu2 = be.allocate(B, 12);
      stack = up(be, spdStack(r, 24, 21), 24, 21, 21);
      // a per-neuron layer with given coefficients, some 0 (rows left out) and one negative (counts as 0)
      h3 = up(be, rand(r, B * 20, 1), B, 20);
      double[] nu = new double[B * 7];
      for (int i = 0; i < nu.length; i++) {
        nu[i] = i % 3 == 0 ? 0 : r.nextDouble();
      }
      nu[5] = -0.5;
      nu3 = up(be, nu, B, 7);
      g3 = up(be, spdStack(r, 7, 21), 7, 21, 21);
      // a small shared layer
      h4 = up(be, rand(r, B * 10, 1), B, 10);
      g4 = up(be, spdStack(r, 1, 11), 11, 11);
    }

    List<MetricUpdate> updates() {
      return List.of(MetricUpdate.shared(h0, g0),
          MetricUpdate.fromPreActivations(h1, Activation.RELU, a1, 1.0, nu1, be.rows(stack, 0, 12)),
          MetricUpdate.fromPreActivations(h1, Activation.RELU, a2, 1.0, nu2, be.rows(stack, 12, 24)),
          MetricUpdate.perNeuron(h3, nu3, g3), MetricUpdate.shared(h4, g4));
    }

    List<double[]> metrics() {
      return List.of(be.download(g0), be.download(stack), be.download(g3), be.download(g4));
    }
  }

  @Test
  void metricUpdatesOfSeveralLayersEqualTheSingleLayerOperationsBitForBit() {
    for (Backend be : engines()) {
      try (be) {
        Layers together = new Layers(be, 7);
        Layers apart = new Layers(be, 7);
        for (int step = 0; step < 3; step++) {
          be.metricUpdates(together.updates(), 0.005);
          for (MetricUpdate u : apart.updates()) {
            u.runOn(be, 0.005);
          }
        }
        List<double[]> t = together.metrics();
        List<double[]> a = apart.metrics();
        for (int l = 0; l < t.size(); l++) {
          assertArrayEquals(a.get(l), t.get(l), be.name() + ": metric " + l);
        }
        assertArrayEquals(be.download(apart.nu2), be.download(together.nu2), be.name() + ": nu scratch");
        // and the update did happen: the input layer's metric moved
        assertTrue(!Arrays.equals(t.get(0), new Layers(be, 7).metrics().get(0)), be.name());
      }
    }
  }

  @Test
  void aBadUpdateIsRejectedBeforeAnyLayerIsTouched() {
    for (Backend be : engines()) {
      try (be) {
        Layers l = new Layers(be, 11);
        double[] before = be.download(l.g0);
        List<MetricUpdate> ups = new ArrayList<>(l.updates());
        ups.set(3, MetricUpdate.perNeuron(l.h3, l.nu3, l.g4));  // g4 is 11 x 11, not 7 x 21 x 21
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> be.metricUpdates(ups, 0.005));
        assertTrue(e.getMessage().contains("perNeuronMetricUpdate") && e.getMessage().contains("[11, 11]"),
            e.getMessage());
        assertArrayEquals(before, be.download(l.g0), be.name() + ": the first layer must be untouched");
      }
    }
  }

  @Test
  void overlappingMetricsRunInOrder() {
    for (Backend be : engines()) {
      try (be) {
        Layers together = new Layers(be, 13);
        Layers apart = new Layers(be, 13);
        // the same metric twice, and a metric (g4, 11 x 11) that a later update reads as its input h (11 rows of
        // 11): the order matters (the later update must see g4 after its own update)
        double[] gx = spdStack(new Random(5), 1, 12);
        DeviceArray gxTogether = up(be, gx, 12, 12);
        DeviceArray gxApart = up(be, gx, 12, 12);
        List<MetricUpdate> ups = List.of(MetricUpdate.shared(together.h0, together.g0),
            MetricUpdate.shared(together.h0, together.g0),
            MetricUpdate.perNeuron(together.h3, together.nu3, together.g3),
            MetricUpdate.shared(together.h4, together.g4),
            MetricUpdate.shared(together.g4, gxTogether));
        be.metricUpdates(ups, 0.1);
        be.sharedMetricUpdate(apart.h0, 0.1, apart.g0);
        be.sharedMetricUpdate(apart.h0, 0.1, apart.g0);
        be.perNeuronMetricUpdate(apart.h3, apart.nu3, 0.1, apart.g3);
        be.sharedMetricUpdate(apart.h4, 0.1, apart.g4);
        be.sharedMetricUpdate(apart.g4, 0.1, gxApart);
        assertArrayEquals(be.download(apart.g0), be.download(together.g0), be.name());
        assertArrayEquals(be.download(apart.g3), be.download(together.g3), be.name());
        assertArrayEquals(be.download(apart.g4), be.download(together.g4), be.name());
        assertArrayEquals(be.download(gxApart), be.download(gxTogether), be.name());
        // the order mattered: gx from g4 before its update differs
        DeviceArray gxEarly = up(be, gx, 12, 12);
        be.sharedMetricUpdate(new Layers(be, 13).g4, 0.1, gxEarly);
        assertTrue(!Arrays.equals(be.download(gxEarly), be.download(gxTogether)), be.name());
      }
    }
  }

  @Test
  void refreshInversesAllEqualsRefreshingEachLayerBitForBit() {
    for (Backend be : engines()) {
      try (be) {
        Random r = new Random(17);
        double[] big = spdStack(r, 1, 300);
        double[] stack = spdStack(r, 24, 21);
        stack[13 * 441 + 40] = Double.NaN;  // matrix 13 (the second layer's second) fails
        double[] small = spdStack(r, 1, 11);
        double[] eps = new double[24];
        Arrays.fill(eps, 1e-4);
        eps[3] = 0;
        List<DeviceArray[]> sets = new ArrayList<>();
        for (int copy = 0; copy < 2; copy++) {
          sets.add(new DeviceArray[] {up(be, small, 11, 11), up(be, stack, 24, 21, 21), up(be, big, 300, 300),
              be.allocate(11, 11), be.allocate(24, 21, 21), be.allocate(300, 300),
              up(be, new double[] {1e-4}, 1), up(be, eps, 24), up(be, new double[] {1e-4}, 1),
              be.allocate(1), be.allocate(2), be.allocate(1)});
        }
        DeviceArray[] t = sets.get(0);
        be.refreshInversesAll(List.of(t[0], be.rows(t[1], 0, 12), be.rows(t[1], 12, 24), t[2]),
            List.of(t[6], be.rows(t[7], 0, 12), be.rows(t[7], 12, 24), t[8]), 1e-7,
            List.of(t[3], be.rows(t[4], 0, 12), be.rows(t[4], 12, 24), t[5]),
            List.of(t[9], be.rows(t[10], 0, 1), be.rows(t[10], 1, 2), t[11]));
        DeviceArray[] a = sets.get(1);
        be.refreshInverses(a[0], a[6], 1e-7, a[3], a[9]);
        be.refreshInverses(be.rows(a[1], 0, 12), be.rows(a[7], 0, 12), 1e-7, be.rows(a[4], 0, 12),
            be.rows(a[10], 0, 1));
        be.refreshInverses(be.rows(a[1], 12, 24), be.rows(a[7], 12, 24), 1e-7, be.rows(a[4], 12, 24),
            be.rows(a[10], 1, 2));
        be.refreshInverses(a[2], a[8], 1e-7, a[5], a[11]);
        for (int k = 0; k < 12; k++) {
          assertArrayEquals(be.download(a[k]), be.download(t[k]), be.name() + ": array " + k);
        }
        assertArrayEquals(new double[] {0, 1}, be.download(t[10]), be.name() + ": one failure, second layer");
        assertEquals(2e-4, be.download(t[7])[13], 1e-4 * 1e-6, be.name() + ": its damping doubled");
      }
    }
  }

  /**
   * Two layers sharing one damping vector: the first layer's matrix fails and doubles the shared damping, which the
   * second layer must then use, as when the layers are refreshed one after the other.
   */
  @Test
  void refreshLayersThatShareAnArrayRunInOrder() {
    for (Backend be : engines()) {
      try (be) {
        Random r = new Random(23);
        double[] bad = spdStack(r, 1, 30);
        bad[7] = Double.NaN;
        double[] good = spdStack(r, 1, 30);
        List<DeviceArray[]> sets = new ArrayList<>();
        for (int copy = 0; copy < 2; copy++) {
          sets.add(new DeviceArray[] {up(be, bad, 30, 30), up(be, good, 30, 30), be.allocate(30, 30),
              be.allocate(30, 30), up(be, new double[] {0.05}, 1), be.allocate(1), be.allocate(1)});
        }
        DeviceArray[] t = sets.get(0);
        be.refreshInversesAll(List.of(t[0], t[1]), List.of(t[4], t[4]), 0, List.of(t[2], t[3]),
            List.of(t[5], t[6]));
        DeviceArray[] a = sets.get(1);
        be.refreshInverses(a[0], a[4], 0, a[2], a[5]);
        be.refreshInverses(a[1], a[4], 0, a[3], a[6]);
        assertArrayEquals(be.download(a[3]), be.download(t[3]), be.name() + ": the second layer's inverse");
        assertArrayEquals(new double[] {0.1}, be.download(t[4]), 0.1 * 1e-6, be.name() + ": damping doubled once");
        assertArrayEquals(new double[] {1}, be.download(t[5]), be.name() + ": the first layer failed");
      }
    }
  }
}
