package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;

/**
 * The parallel paths of the CPU backend give bit-for-bit the results of one thread (the split never
 * changes the order of a sum), at sizes above the parallel threshold.
 */
class CpuBackendThreadsTest {

  /** Runs {@code ops} on a fresh backend with the given thread count and returns every array's content. */
  private static double[][] run(int threads, Consumer<Object[]> ops) {
    try (CpuBackend be = new CpuBackend(threads, CpuBackend.GemmPath.JAVA)) {
      Random r = new Random(42);
      DeviceArray a = upload(be, r, 785, 50);
      DeviceArray b = upload(be, r, 50, 80);
      DeviceArray c = upload(be, r, 785, 80);
      DeviceArray h = upload(be, r, 50, 160);
      DeviceArray nu = be.allocate(50, 60);
      DeviceArray z = upload(be, r, 50, 60);
      be.nuCoefficients(Activation.RELU, z, 1.0, nu);
      DeviceArray g = be.allocate(60, 161, 161);
      be.addDiagonal(g, 1.0);
      DeviceArray gs = be.allocate(161, 161);
      be.addDiagonal(gs, 1.0);
      DeviceArray gi = be.allocate(60, 161, 161);
      DeviceArray gsi = be.allocate(161, 161);
      DeviceArray grad = upload(be, r, 161, 60);
      DeviceArray out = upload(be, r, 161, 60);
      ops.accept(new Object[] {be, a, b, c, h, nu, g, gs, gi, gsi, grad, out});
      DeviceArray[] all = {c, g, gs, gi, gsi, out};
      double[][] res = new double[all.length][];
      for (int i = 0; i < all.length; i++) {
        res[i] = be.download(all[i]);
      }
      return res;
    }
  }

  private static DeviceArray upload(CpuBackend be, Random r, int... shape) {
    DeviceArray x = be.allocate(shape);
    double[] v = new double[(int) x.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextDouble() - 0.5;
    }
    be.upload(x, v);
    return x;
  }

  @Test
  void parallelResultsEqualSingleThreadBitForBit() {
    Consumer<Object[]> ops = o -> {
      CpuBackend be = (CpuBackend) o[0];
      DeviceArray a = (DeviceArray) o[1];
      DeviceArray b = (DeviceArray) o[2];
      DeviceArray c = (DeviceArray) o[3];
      DeviceArray h = (DeviceArray) o[4];
      DeviceArray nu = (DeviceArray) o[5];
      DeviceArray g = (DeviceArray) o[6];
      DeviceArray gs = (DeviceArray) o[7];
      DeviceArray gi = (DeviceArray) o[8];
      DeviceArray gsi = (DeviceArray) o[9];
      DeviceArray grad = (DeviceArray) o[10];
      DeviceArray out = (DeviceArray) o[11];
      be.gemm(false, false, 1.0, a, b, 0.5, c);
      for (int t = 0; t < 2; t++) {
        be.perNeuronMetricUpdate(be.rows(h, 0, 50), nu, 0.3, g);
        be.sharedMetricUpdate(h, 0.3, gs);
      }
      double[] eps = new double[60];
      Arrays.fill(eps, 1e-4);
      int[] st = be.batchedInverse(g, eps, 1e-6, gi);
      assertArrayEquals(new int[60], st);
      assertArrayEquals(new int[1], be.batchedInverse(gs, new double[] {1e-4}, 0, gsi));
      be.perNeuronPrecondition(gi, grad, -0.1, 1.0, out);
    };
    double[][] one = run(1, ops);
    for (int threads : new int[] {2, 4}) {
      double[][] many = run(threads, ops);
      for (int i = 0; i < one.length; i++) {
        assertArrayEquals(one[i], many[i], 0.0, "array " + i + " with " + threads + " threads");
      }
    }
  }

  @Test
  void exceptionsAndState() {
    assertThrows(IllegalArgumentException.class, () -> new CpuBackend(0, CpuBackend.GemmPath.JAVA));
    CpuBackend be = new CpuBackend();
    assertEquals(64, be.precisionBits());
    boolean nativeBlas =
        dev.ludovic.netlib.blas.BLAS.getInstance() instanceof dev.ludovic.netlib.blas.NativeBLAS;
    if (System.getProperty("rfim4j.cpu.gemm") == null) {
      assertEquals(nativeBlas ? CpuBackend.GemmPath.NETLIB : CpuBackend.GemmPath.JAVA, be.gemmPath());
    }
    assertTrue(be.threads() >= 1);
    DeviceArray x = be.allocate(2);
    be.close();
    be.close();
    assertThrows(IllegalStateException.class, () -> be.allocate(2));
    x.close();
    assertEquals(0, be.liveArrays());
    try (CpuBackend other = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      DeviceArray y = other.allocate(2);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> other.copy(x, y));
      assertTrue(e.getMessage().contains("src"), e.getMessage());
      DeviceArray m = other.allocate(4, 4);
      e = assertThrows(IllegalArgumentException.class,
          () -> other.gemm(false, false, 1, other.rows(m, 0, 2), other.rows(m, 0, 4), 0, other.rows(m, 2, 4)));
      assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }
  }
}
