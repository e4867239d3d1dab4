package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.precond.RngdPreconditionerTest;

/**
 * RNGD's inverse refresh with the failure rule of MATH.md A11 in float32: a metric that is positive definite
 * in float64 but whose Cholesky factorisation fails in float32 (1 1^T + 1e-9 I: the 1e-9 is below half an
 * ulp of 1 in float32, so the stored matrix is singular) keeps its previous inverse bit for bit, has its
 * relative damping set to 1e-8 and then doubled on every further failure, and is counted, while the other
 * matrix of the stack refreshes; once the damping times the trace reaches float32's resolution the refresh
 * succeeds. The float64 engine inverts the same input at once. Also the shared rule through the
 * preconditioner ({@link RngdPreconditionerTest#assertFailureRule}).
 */
class CpuBackend32RefreshInversesTest {

  @ParameterizedTest
  @EnumSource(CpuBackend.GemmPath.class)
  void aMatrixThatFailsOnlyInFloat32KeepsItsInverseAndDoublesItsDamping(CpuBackend.GemmPath path) {
    int d = 3;
    double[] g = new double[2 * d * d];
    for (int i = 0; i < d * d; i++) {
      g[i] = 1.0;  // 1 1^T
    }
    for (int j = 0; j < d; j++) {
      g[j * d + j] += 1e-9;  // positive definite in float64, rounded away in float32
      g[d * d + j * d + j] = 2.0 + j;  // a well-conditioned diagonal second matrix
    }
    try (CpuBackend f64 = new CpuBackend(1, path); DeviceArray G = f64.allocate(2, d, d);
        DeviceArray GI = f64.allocate(2, d, d)) {
      f64.upload(G, g);
      assertArrayEquals(new int[] {0, 0}, f64.batchedInverse(G, new double[] {0, 0}, 0, GI),
          "float64 factorises 1 1^T + 1e-9 I");
    }
    try (CpuBackend32 f32 = new CpuBackend32(2, path); DeviceArray G = f32.allocate(2, d, d);
        DeviceArray GI = f32.allocate(2, d, d); DeviceArray E = f32.allocate(2);
        DeviceArray F = f32.allocate(1)) {
      f32.upload(G, g);
      double[] sentinel = new double[2 * d * d];
      Arrays.fill(sentinel, 42.0);
      f32.upload(GI, sentinel);
      f32.upload(E, new double[] {0, 0});
      f32.refreshInverses(G, E, 0, GI, F);
      double[] gi = f32.download(GI);
      assertArrayEquals(Arrays.copyOfRange(sentinel, 0, d * d), Arrays.copyOfRange(gi, 0, d * d), 0.0,
          "the failed matrix keeps its previous inverse");
      for (int j = 0; j < d; j++) {
        assertEquals(1.0 / (2.0 + j), gi[d * d + j * d + j], 1e-7, "the other matrix is inverted");
      }
      assertEquals((float) 1e-8, f32.download(E)[0], 0.0, "zero damping becomes 1e-8");
      assertEquals(0.0, f32.download(E)[1], 0.0, "the other matrix's damping is unchanged");
      assertEquals(1.0, f32.download(F)[0], 0.0, "one failure counted");
      // Each further failure doubles the damping exactly; 1e-8 * 2^k * trace (3) must reach about half an
      // ulp of 1 in float32 (2^-24 ~ 6e-8) before the damped diagonal differs from 1: k = 1 at the least.
      int calls = 1;
      double eps = f32.download(E)[0];
      while (f32.download(F)[0] == calls && calls < 30) {
        f32.refreshInverses(G, E, 0, GI, F);
        calls++;
        double now = f32.download(E)[0];
        if (f32.download(F)[0] == calls) {
          assertEquals(2 * eps, now, 0.0, "damping doubled after failure " + calls);
          assertArrayEquals(Arrays.copyOfRange(sentinel, 0, d * d),
              Arrays.copyOfRange(f32.download(GI), 0, d * d), 0.0, "kept after failure " + calls);
        } else {
          assertEquals(eps, now, 0.0, "damping unchanged by the successful refresh");
        }
        eps = now;
      }
      double failures = f32.download(F)[0];
      assertTrue(failures >= 2 && failures < 30, "failures before success: " + failures);
      double[] inv = Arrays.copyOfRange(f32.download(GI), 0, d * d);
      assertFalse(Arrays.equals(Arrays.copyOfRange(sentinel, 0, d * d), inv), "finally refreshed");
      for (double v : inv) {
        assertTrue(Double.isFinite(v), "finite inverse");
      }
      // The damping reached float32's resolution at the diagonal: eps * trace >= 2^-24 (half an ulp of 1).
      assertTrue(eps * 3 >= 0x1p-24, "damping " + eps + " times the trace 3 vs 2^-24");
    }
  }

  @ParameterizedTest
  @EnumSource(CpuBackend.GemmPath.class)
  void theA11RuleThroughThePreconditioner(CpuBackend.GemmPath path) {
    try (CpuBackend32 f32 = new CpuBackend32(2, path)) {
      // damping values are 1e-4 and 1e-8 rounded to float32: relative error below 2^-24
      RngdPreconditionerTest.assertFailureRule(f32, 1e-6);
    }
  }
}
