package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rfim4j.backend.DeviceArray;

/**
 * The native (BLAS / LAPACK) metric updates and inverse agree with the pure-Java kernels to 1e-12
 * relative (max abs difference over max abs value), keep symmetric matrices exactly symmetric and report
 * failures exactly as the Java Cholesky does. Skipped where netlib finds no native BLAS / LAPACK.
 */
class CpuBackendNativeAgreementTest {

  private static double[] rand(Random r, int n) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = r.nextDouble() - 0.5;
    }
    return x;
  }

  /** Random symmetric positive-definite d x d stack of m matrices. */
  private static double[] spdStack(Random r, int m, int d) {
    double[] g = new double[m * d * d];
    for (int i = 0; i < m; i++) {
      double[] a = rand(r, d * d);
      for (int x = 0; x < d; x++) {
        for (int y = 0; y <= x; y++) {
          double s = 0;
          for (int k = 0; k < d; k++) {
            s += a[x * d + k] * a[y * d + k];
          }
          g[i * d * d + x * d + y] = s / d;
          g[i * d * d + y * d + x] = s / d;
        }
        g[i * d * d + x * d + x] += 0.1;
      }
    }
    return g;
  }

  private static DeviceArray up(CpuBackend be, double[] v, int... shape) {
    DeviceArray a = be.allocate(shape);
    be.upload(a, v);
    return a;
  }

  private static void close(String what, double[] expected, double[] actual) {
    assertEquals(expected.length, actual.length, what);
    double max = 0;
    double diff = 0;
    for (int i = 0; i < expected.length; i++) {
      max = Math.max(max, Math.abs(expected[i]));
      diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(diff <= 1e-12 * max, what + ": max difference " + diff + " vs max value " + max);
  }

  private static void symmetric(String what, double[] g, int m, int d) {
    for (int i = 0; i < m; i++) {
      for (int x = 0; x < d; x++) {
        for (int y = 0; y < x; y++) {
          assertEquals(g[i * d * d + x * d + y], g[i * d * d + y * d + x], 0.0,
              what + ": matrix " + i + " [" + x + "][" + y + "]");
        }
      }
    }
  }

  /**
   * With {@code split}, the native backend splits large BLAS calls over its two threads (as with
   * OPENBLAS_NUM_THREADS=1); the {1, 50, 784, 80} shape is an image-like batch whose all-zero columns take
   * the column-compressed shared update.
   */
  @ParameterizedTest(name = "split BLAS {0}")
  @ValueSource(booleans = {false, true})
  void metricUpdatesAgreeWithJava(boolean split) {
    try (CpuBackend nat = new CpuBackend(2, CpuBackend.GemmPath.NETLIB, split);
        CpuBackend jav = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      assumeTrue(nat.nativeMetricUpdates(), "no native BLAS");
      assertFalse(jav.nativeMetricUpdates());
      assertEquals(split, nat.splitsBlas());
      Random r = new Random(5);
      int[][] shapes = {{0, 50, 784, 80}, {1, 50, 784, 80}, {0, 50, 80, 80}, {0, 50, 80, 10}, {0, 7, 3, 2},
          {0, 1, 1, 1}};
      for (int[] s : shapes) {
        boolean images = s[0] == 1;
        int b = s[1];
        int n = s[2];
        int m = s[3];
        int d = n + 1;
        double[] h = rand(r, (b + 3) * n);
        for (int i = 0; i < h.length; i += 4) {
          h[i] = 0; // ReLU-like zeros
        }
        if (images) {
          // 40% of the columns zero in every row, the rest 80% zeros
          for (int i = 0; i < h.length; i++) {
            if (i % n < 0.4 * n || r.nextDouble() < 0.8) {
              h[i] = 0;
            }
          }
        }
        double[] nu = rand(r, b * m);
        for (int i = 0; i < nu.length; i++) {
          nu[i] = Math.abs(nu[i]);
        }
        double[] gs = spdStack(r, 1, d);
        double[] gp = d <= 161 ? spdStack(r, m, d) : new double[m * d * d];
        CpuBackend[] both = {jav, nat};
        double[][] shared = new double[2][];
        double[][] per = new double[2][];
        for (int bi = 0; bi < 2; bi++) {
          CpuBackend be = both[bi];
          DeviceArray hb = up(be, h, b + 3, n);
          DeviceArray hv = be.rows(hb, 2, 2 + b); // a view with an offset
          DeviceArray nub = up(be, nu, b, m);
          DeviceArray g1 = up(be, gs, d, d);
          DeviceArray g2 = up(be, gp, m, d, d);
          for (int t = 0; t < 3; t++) {
            be.sharedMetricUpdate(hv, 0.3, g1);
            if (d <= 161) {
              be.perNeuronMetricUpdate(hv, nub, 0.3, g2);
            }
          }
          shared[bi] = be.download(g1);
          per[bi] = be.download(g2);
          hb.close();
          nub.close();
          g1.close();
          g2.close();
        }
        String w = Arrays.toString(s);
        close("shared " + w, shared[0], shared[1]);
        close("per-neuron " + w, per[0], per[1]);
        symmetric("native shared " + w, shared[1], 1, d);
        symmetric("native per-neuron " + w, per[1], m, d);
      }
    }
  }

  @Test
  void nativeMetricUpdateIgnoresStaleScratch() {
    try (CpuBackend nat = new CpuBackend(1, CpuBackend.GemmPath.NETLIB)) {
      assumeTrue(nat.nativeMetricUpdates(), "no native BLAS");
      double[] bad = new double[5 * 4];
      Arrays.fill(bad, Double.NaN);
      DeviceArray h = up(nat, bad, 5, 4);
      DeviceArray nu = up(nat, new double[5 * 3], 5, 3);
      DeviceArray g = nat.allocate(5, 5);
      DeviceArray gp = nat.allocate(3, 5, 5);
      nat.sharedMetricUpdate(h, 0.5, g);
      nat.perNeuronMetricUpdate(h, nu, 0.5, gp);
      nat.upload(h, new double[5 * 4]);
      nat.fill(g, 1.0);
      nat.fill(gp, 1.0);
      nat.upload(nu, new double[5 * 3]);
      nat.sharedMetricUpdate(h, 0.5, g);
      nat.perNeuronMetricUpdate(h, nu, 0.5, gp);
      for (double v : nat.download(g)) {
        assertFalse(Double.isNaN(v));
      }
      for (double v : nat.download(gp)) {
        assertFalse(Double.isNaN(v));
      }
    }
  }

  /**
   * The GEMM shapes of a training step and RNGD's input-layer step, every transpose combination, on the
   * native backend splitting its calls over two threads, against the Java kernels.
   */
  @Test
  void splitGemmAgreesWithJava() {
    try (CpuBackend nat = new CpuBackend(2, CpuBackend.GemmPath.NETLIB, true);
        CpuBackend jav = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      assumeTrue(nat.nativeMetricUpdates(), "no native BLAS");
      assertTrue(nat.splitsBlas());
      Random r = new Random(8);
      int[][] shapes = {{785, 785, 80}, {50, 784, 80}, {784, 50, 80}, {80, 50, 785}};
      for (int[] s : shapes) {
        int m = s[0];
        int k = s[1];
        int n = s[2];
        for (int t = 0; t < 4; t++) {
          boolean ta = (t & 1) != 0;
          boolean tb = (t & 2) != 0;
          double[] a = rand(r, m * k);
          double[] b = rand(r, k * n);
          double[] c = rand(r, m * n);
          double[][] res = new double[2][];
          CpuBackend[] both = {jav, nat};
          for (int bi = 0; bi < 2; bi++) {
            CpuBackend be = both[bi];
            DeviceArray da = ta ? up(be, a, k, m) : up(be, a, m, k);
            DeviceArray db = tb ? up(be, b, n, k) : up(be, b, k, n);
            DeviceArray dc = up(be, c, m, n);
            be.gemm(ta, tb, -0.7, da, db, 0.9, dc);
            res[bi] = be.download(dc);
            da.close();
            db.close();
            dc.close();
          }
          close("split gemm " + Arrays.toString(s) + (ta ? " T" : " N") + (tb ? "T" : "N"), res[0], res[1]);
        }
      }
    }
  }

  @ParameterizedTest(name = "split BLAS {0}")
  @ValueSource(booleans = {false, true})
  void inverseAgreesWithJava(boolean split) {
    try (CpuBackend nat = new CpuBackend(2, CpuBackend.GemmPath.NETLIB, split);
        CpuBackend jav = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      assumeTrue(nat.nativeInverse(), "no native LAPACK");
      Random r = new Random(6);
      int[][] shapes = {{80, 81}, {1, 785}, {3, 1}, {2, 7}};
      for (int[] s : shapes) {
        int m = s[0];
        int d = s[1];
        double[] g = spdStack(r, m, d);
        // A slightly asymmetric input: both symmetrise first.
        if (d > 1) {
          g[1] += 1e-3;
        }
        double[] eps = new double[m];
        Arrays.fill(eps, 1e-4);
        double[][] res = new double[2][];
        int[][] st = new int[2][];
        CpuBackend[] both = {jav, nat};
        for (int bi = 0; bi < 2; bi++) {
          CpuBackend be = both[bi];
          DeviceArray gd = up(be, g, m, d, d);
          DeviceArray gi = be.allocate(m, d, d);
          st[bi] = be.batchedInverse(gd, eps, 1e-6, gi);
          res[bi] = be.download(gi);
          gd.close();
          gi.close();
        }
        assertArrayEquals(new int[m], st[1]);
        assertArrayEquals(st[0], st[1]);
        close("inverse " + Arrays.toString(s), res[0], res[1]);
        symmetric("native inverse", res[1], m, d);
      }
    }
  }

  @Test
  void inverseFailuresMatchJava() {
    try (CpuBackend nat = new CpuBackend(1, CpuBackend.GemmPath.NETLIB);
        CpuBackend jav = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      assumeTrue(nat.nativeInverse(), "no native LAPACK");
      int d = 6;
      int m = 5;
      double[] g = spdStack(new Random(7), m, d);
      // 1: negative third pivot; 2: NaN entry; 3: +Inf on the diagonal; 4: zero matrix without damping.
      g[d * d + 2 * d + 2] = -50;
      g[2 * d * d + 3 * d + 1] = Double.NaN;
      g[3 * d * d + 4 * d + 4] = Double.POSITIVE_INFINITY;
      Arrays.fill(g, 4 * d * d, 5 * d * d, 0.0);
      double[] eps = {1e-4, 0, 0, 0, 0};
      double[] sentinel = new double[m * d * d];
      Arrays.fill(sentinel, 42.0);
      int[][] st = new int[2][];
      double[][] res = new double[2][];
      CpuBackend[] both = {jav, nat};
      for (int bi = 0; bi < 2; bi++) {
        CpuBackend be = both[bi];
        DeviceArray gd = up(be, g, m, d, d);
        DeviceArray gi = up(be, sentinel, m, d, d);
        st[bi] = be.batchedInverse(gd, eps, 0, gi);
        res[bi] = be.download(gi);
      }
      assertEquals(0, st[0][0]);
      assertEquals(3, st[0][1]);
      assertArrayEquals(st[0], st[1]);
      for (int i = 1; i < m; i++) {
        if (st[1][i] != 0) {
          for (int j = i * d * d; j < (i + 1) * d * d; j++) {
            assertEquals(42.0, res[1][j], 0.0, "failed slice " + i + " untouched");
          }
        }
      }
      close("successful slices", res[0], res[1]);
    }
  }
}
