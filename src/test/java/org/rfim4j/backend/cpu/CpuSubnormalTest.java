package org.rfim4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * The CPU engines' optimizer updates never store a subnormal value (x86 takes a slow path on them): the case
 * that made float32 Adam on MNIST four times slower within 12 epochs, a weight whose only gradient is its L2
 * term, pulled geometrically towards 0.
 */
class CpuSubnormalTest {

  /** Both CPU engines, one thread, Java kernels. */
  private static Backend[] engines() {
    return new Backend[] {new CpuBackend(1, CpuBackend.GemmPath.JAVA), new CpuBackend32(1, CpuBackend.GemmPath.JAVA)};
  }

  /** A normal number below the engine's flush threshold (2^-100 in float32, 2^-1000 in float64). */
  private static double belowThreshold(Backend b) {
    return b.precisionBits() == 32 ? 0x1p-110 : 0x1p-1010;
  }

  private static void assertNoSubnormal(Backend b, DeviceArray a, String what, int step) {
    double limit = b.precisionBits() == 32 ? Float.MIN_NORMAL : Double.MIN_NORMAL;
    for (double v : b.download(a)) {
      assertTrue(v == 0 || Math.abs(v) >= limit, what + " is subnormal (" + v + ") at step " + step + " on "
          + b.name());
    }
  }

  /**
   * Adam on g = l2 w (the weights of an always-zero input), from ordinary and from tiny starting weights:
   * the moments decay geometrically and, unflushed, become subnormal within a few hundred steps.
   */
  @Test
  void adamOnL2OnlyWeightsStoresNoSubnormals() {
    for (Backend b : engines()) {
      try (b) {
        double tiny = b.precisionBits() == 32 ? 1e-30 : 1e-290;
        DeviceArray w = b.allocate(5);
        DeviceArray g = b.allocate(5);
        DeviceArray m = b.allocate(5);
        DeviceArray v = b.allocate(5);
        b.upload(w, new double[] {0.1, -0.05, 1e-3, tiny, -tiny / 300});
        for (int t = 1; t <= 3000; t++) {
          b.fill(g, 0);
          b.axpy(1e-3, w, g);  // the L2 term alone
          b.adamUpdateAll(List.of(w), List.of(g), List.of(m), List.of(v), 1e-3, 0.9, 0.999, 1e-8, t);
          if (t % 50 == 0) {
            assertNoSubnormal(b, w, "w", t);
            assertNoSubnormal(b, m, "m", t);
            assertNoSubnormal(b, v, "v", t);
          }
        }
        double[] wv = b.download(w);
        assertTrue(Math.abs(wv[0]) < 1e-3 && Math.abs(wv[1]) < 1e-3, "L2 pulled the weights in: " + wv[0] + ", "
            + wv[1]);
      }
    }
  }

  /** SGD with momentum: values below the flush threshold become 0; ordinary ones are exact. */
  @Test
  void sgdFlushesOnlyNegligibleValues() {
    for (Backend b : engines()) {
      try (b) {
        double tiny = belowThreshold(b);
        DeviceArray w = b.allocate(3);
        DeviceArray g = b.allocate(3);
        DeviceArray vel = b.allocate(3);
        b.upload(w, new double[] {tiny, 0.25, -tiny});
        b.upload(g, new double[] {0, 1, 0});
        b.upload(vel, new double[] {-tiny, 0, 0});
        b.sgdUpdateAll(List.of(w), List.of(g), List.of(vel), 0.5, 0.5);
        double[] wv = b.download(w);
        assertEquals(0.0, wv[0], 0.0);
        assertEquals(-0.25, wv[1], 0.0);  // 0.25 - 0.5 * (0.5 * 0 + 1), exact
        assertEquals(0.0, wv[2], 0.0);
        assertEquals(0.0, b.download(vel)[0], 0.0);
      }
    }
  }

  /**
   * RNGD's state: its weight step (gemm or per-neuron preconditioning with beta != 0), the metrics and the
   * inverses of a refresh. Float32 RNGD on MNIST went from 2.4 to 6 s per epoch by epoch 30 when the weights of
   * always-zero pixels, metric entries of dead units and their inverses went subnormal.
   */
  @Test
  void rngdStateUpdatesFlushNegligibleValues() {
    for (Backend b : engines()) {
      try (b) {
        double tiny = belowThreshold(b);
        DeviceArray zeros = b.allocate(2, 2);
        DeviceArray c = b.allocate(2, 2);
        b.upload(c, new double[] {tiny, 0.5, -tiny, -0.25});
        b.gemm(false, false, 1.0, zeros, zeros, 1.0, c);  // the step adds 0: only the flush acts
        assertArrayEquals(new double[] {0, 0.5, 0, -0.25}, b.download(c), 0.0, "gemm, beta 1, " + b.name());
        b.upload(c, new double[] {tiny, 0.5, -tiny, -0.25});
        b.gemm(false, false, 1.0, zeros, zeros, 0.0, c);  // beta 0: a fresh product, nothing kept
        assertArrayEquals(new double[] {0, 0, 0, 0}, b.download(c), 0.0);

        DeviceArray ginv = b.allocate(2, 3, 3);  // zeros
        DeviceArray grad = b.allocate(3, 2);
        DeviceArray out = b.allocate(3, 2);
        b.upload(out, new double[] {tiny, 1, -tiny, 2, 3, tiny});
        b.perNeuronPrecondition(ginv, grad, -0.1, 1.0, out);
        assertArrayEquals(new double[] {0, 1, 0, 2, 3, 0}, b.download(out), 0.0, "precondition, " + b.name());

        DeviceArray g = b.allocate(2, 2, 2);
        b.upload(g, new double[] {1, tiny, tiny, 2, Double.NaN, 0, 0, 1});  // matrix 1 fails (NaN)
        DeviceArray gi = b.allocate(2, 2, 2);
        b.upload(gi, new double[] {0, 0, 0, 0, 7, tiny, tiny, 7});
        DeviceArray eps = b.allocate(2);
        DeviceArray failures = b.allocate(1);
        b.refreshInverses(g, eps, 0.0, gi, failures);
        double[] gv = b.download(g);
        assertEquals(0.0, gv[1], 0.0, "a negligible metric entry is flushed, " + b.name());
        assertEquals(2.0, gv[3], 0.0);
        double[] iv = b.download(gi);
        assertEquals(1.0, iv[0], 1e-6);
        assertEquals(0.5, iv[3], 1e-6);
        assertEquals(0.0, iv[1], 0.0);
        assertEquals(tiny, iv[5], 0.0, "the failed matrix's inverse slice is left as it was");
        assertEquals(1.0, b.download(failures)[0], 0.0);
      }
    }
  }
}
