package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.DeviceArray;

/**
 * The float32 engine's native path (sgemm / ssyrk on the batch's support columns) and its Java kernels agree
 * on MNIST-shaped metric updates from an image-like batch, within the float32 bound of {@link Float32Tolerances}
 * (each path is within (B + 2) u of the exact value), and both keep the metrics exactly symmetric over several
 * updates (the Cholesky factorisation relies on it).
 */
class CpuBackend32AgreementTest {

  @Test
  void metricUpdatesAgreeAndStaySymmetric() {
    Random r = new Random(31);
    int b = 50;
    double[] image = new double[b * 784];
    for (int i = 0; i < image.length; i++) {
      image[i] = r.nextDouble() < 0.6 ? 0 : r.nextDouble();  // about 40% of the pixels lit per batch
    }
    double[] h = new double[b * 80];
    double[] nu = new double[b * 80];
    for (int i = 0; i < h.length; i++) {
      h[i] = r.nextDouble() < 0.5 ? 0 : r.nextDouble();
      nu[i] = 0.25 + 0.75 * r.nextDouble();
    }
    double[][] shared = new double[2][];
    double[][] neuron = new double[2][];
    CpuBackend.GemmPath[] paths = {CpuBackend.GemmPath.NETLIB, CpuBackend.GemmPath.JAVA};
    for (int p = 0; p < 2; p++) {
      try (CpuBackend32 be = new CpuBackend32(2, paths[p]); DeviceArray x = be.allocate(b, 784);
          DeviceArray gs = be.allocate(785, 785); DeviceArray hh = be.allocate(b, 80);
          DeviceArray n = be.allocate(b, 80); DeviceArray gn = be.allocate(80, 81, 81)) {
        be.upload(x, image);
        be.upload(hh, h);
        be.upload(n, nu);
        be.addDiagonal(gs, 1.0);
        be.addDiagonal(gn, 1.0);
        for (int step = 0; step < 3; step++) {
          be.sharedMetricUpdate(x, 0.3, gs);
          be.perNeuronMetricUpdate(hh, n, 0.3, gn);
        }
        shared[p] = be.download(gs);
        neuron[p] = be.download(gn);
      }
      assertSymmetric(shared[p], 1, 785, paths[p] + " shared");
      assertSymmetric(neuron[p], 80, 81, paths[p] + " per-neuron");
    }
    // Entries are bounded by about 1 + sum of h^2 / B terms below 1: (B + 2) u per update, three updates.
    double tol = 3 * (b + 2) * Float32Tolerances.U;
    for (int i = 0; i < shared[0].length; i++) {
      assertEquals(shared[1][i], shared[0][i], tol * (1 + Math.abs(shared[1][i])), "shared entry " + i);
    }
    for (int i = 0; i < neuron[0].length; i++) {
      assertEquals(neuron[1][i], neuron[0][i], tol * (1 + Math.abs(neuron[1][i])), "per-neuron entry " + i);
    }
  }

  static void assertSymmetric(double[] g, int m, int d, String what) {
    for (int k = 0; k < m; k++) {
      int o = k * d * d;
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < i; j++) {
          assertTrue(g[o + i * d + j] == g[o + j * d + i], what + " matrix " + k + " (" + i + ", " + j + ")");
        }
      }
    }
  }
}
