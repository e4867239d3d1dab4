package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.ActivationMath;
import org.rfim4j.backend.DeviceArray;

/**
 * The branch-free ReLU of the CPU backend against the branchy definition, bit for bit (signed zeros
 * included; any NaN for a NaN, whose payload bits carry no meaning), on edge values.
 */
class LayerOpsTest {
  private static void same(double expected, double actual, String what) {
    if (Double.isNaN(expected)) {
      assertEquals(true, Double.isNaN(actual), what + ": expected NaN, got " + actual);
    } else {
      assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual), what);
    }
  }

  static final double[] EDGES = {0.0, -0.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL, 1.0, -1.0,
      Double.MAX_VALUE, -Double.MAX_VALUE, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN,
      Double.longBitsToDouble(0xFFF8000000000000L), Double.longBitsToDouble(0x7FF0000000000001L), 3.5e-300,
      -2.5e-310};

  @Test
  void positiveMaskIsGreaterThanZero() {
    for (double a : EDGES) {
      long m = LayerOps.positiveMask(Double.doubleToRawLongBits(a));
      assertEquals(a > 0 ? -1L : 0L, m, "mask of " + a + " (bits " + Long.toHexString(Double.doubleToRawLongBits(a)) + ")");
    }
  }

  @Test
  void reluForwardAndBackwardMatchTheDefinitionBitForBit() {
    int n = EDGES.length;
    double[] z = new double[n * n];
    double[] dh = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        z[i * n + j] = EDGES[j];
        dh[i * n + j] = EDGES[i];
      }
    }
    try (CpuBackend be = new CpuBackend(1, CpuBackend.GemmPath.JAVA)) {
      DeviceArray za = be.allocate(n, n);
      be.upload(za, z);
      DeviceArray bias = be.allocate(n);  // zero bias: z unchanged except -0.0 + 0.0 = 0.0
      DeviceArray h = be.allocate(n, n);
      be.biasActivationForward(za, bias, Activation.RELU, h);
      double[] zb = be.download(za);
      double[] hv = be.download(h);
      DeviceArray dH = be.allocate(n, n);
      be.upload(dH, dh);
      DeviceArray dA = be.allocate(n, n);
      be.activationBackward(Activation.RELU, za, dH, dA);
      double[] da = be.download(dA);
      for (int k = 0; k < n * n; k++) {
        double f = ActivationMath.f(Activation.RELU, zb[k]);
        same(f, hv[k], "relu(" + zb[k] + ")");
        same(dh[k] * ActivationMath.df(Activation.RELU, zb[k]), da[k], "relu'(" + zb[k] + ") * " + dh[k]);
      }
    }
  }
}
