package org.rfim4j.precond;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.rfim.NeuronFamily;

/**
 * The preconditioner's behaviour beyond the vectors: bad input rejected before any state changes, the A11
 * failure rule on a NaN slice, saved state restored exactly (and refused for other shapes or damage), the
 * softmax and caller-supplied nu against direct computations, and the layout helpers.
 */
public class RngdPreconditionerTest {
  @TempDir Path tmp;
  private final CpuBackend be = new CpuBackend();
  private final SplittableRandom rng = new SplittableRandom(7);

  @AfterEach
  void close() {
    be.close();
  }

  private double[] random(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = rng.nextDouble(-1, 1);
    }
    return v;
  }

  /** Layers "in" (shared, 3 -> 4) and "h" (per-neuron ReLU, 4 -> 2), batches up to 4. */
  private RngdPreconditioner twoLayers(RngdConfig c) {
    return new RngdPreconditioner(be, c, 4,
        List.of(LayerSpec.shared("in", 3, 4), LayerSpec.perNeuron("h", 4, 2, Nu.relu())));
  }

  private static void assertMessage(Class<? extends Throwable> type, Executable call, String... parts) {
    Throwable t = assertThrows(type, call);
    for (String p : parts) {
      assertTrue(t.getMessage().contains(p), "message '" + t.getMessage() + "' lacks '" + p + "'");
    }
  }

  @Test
  @SuppressWarnings("try")  // closes the preconditioner inside its try block to test use after close
  void badInputIsRejectedBeforeAnyStateChanges() {
    try (RngdPreconditioner p = twoLayers(RngdConfig.defaults(0.1).withRefreshPeriod(1))) {
      double[] g0 = be.download(p.metric("in"));
      double[] h0 = be.download(p.metric("h"));
      double[] x = random(2 * 3);
      double[] a = random(2 * 4);
      assertMessage(IllegalArgumentException.class, () -> p.observe("nope", x, 0, a, 0, 2),
          "unknown layer id 'nope'", "[in, h]");
      assertMessage(IllegalArgumentException.class, () -> p.observe("in", x, 0, a, 0, 3),
          "layer 'in'", "input buffer has 6 elements", "3 x 3");
      assertMessage(IllegalArgumentException.class, () -> p.observe("in", x, 0, null, 0, 5),
          "layer 'in'", "batch 5", "maxBatch 4");
      assertMessage(IllegalArgumentException.class, () -> p.observe("h", random(8), 0, null, 0, 2),
          "layer 'h'", "preActivations (2 x 2) must be given");
      try (DeviceArray wrong = be.allocate(2, 5); DeviceArray pre = be.allocate(2, 4)) {
        assertMessage(IllegalArgumentException.class, () -> p.observe("in", wrong, pre),
            "layer 'in'", "input is [2, 5], expected 2 x 3");
      }
      assertMessage(IllegalStateException.class, () -> p.observeCoefficients("h", random(8), 0, random(4), 0, 2),
          "layer 'h'", "computes its own coefficients");
      assertMessage(IllegalStateException.class, () -> p.precondition("in", random(16), 0, new double[16], 0),
          "layer 'in'", "observe the layer before preconditioning");
      assertMessage(IllegalStateException.class, p::endStep, "[in, h]", "not observed in step 0");
      assertArrayEquals(g0, be.download(p.metric("in")), 0.0, "metric untouched by rejected calls");
      assertArrayEquals(h0, be.download(p.metric("h")), 0.0);
      assertEquals(0, p.iteration());

      p.observe("in", x, 0, null, 0, 2);
      assertMessage(IllegalStateException.class, () -> p.observe("in", x, 0, null, 0, 2),
          "layer 'in'", "already observed in step 0");
      assertMessage(IllegalArgumentException.class, () -> p.precondition("in", new double[15], 0, new double[16], 0),
          "layer 'in'", "grad buffer has 15 elements", "4 x 4 = 16");
      assertMessage(IllegalArgumentException.class, () -> p.precondition("in", new double[16], 0, new double[20], 5),
          "layer 'in'", "out buffer has 20 elements", "from offset 5");
      try (DeviceArray grad = be.allocate(3, 4)) {
        assertMessage(IllegalArgumentException.class, () -> p.precondition("in", grad, grad),
            "layer 'in'", "grad is [3, 4]", "4 x 4 (bias as the last row)");
      }
      double[] afterIn = be.download(p.metric("in"));
      assertFalse(java.util.Arrays.equals(g0, afterIn), "the valid observation changed the metric");
      assertMessage(IllegalStateException.class, p::endStep, "[h]");
      p.observe("h", random(8), 0, random(4), 0, 2);
      p.endStep();
      assertEquals(1, p.iteration());
      p.close();
      assertMessage(IllegalStateException.class, () -> p.observe("in", x, 0, null, 0, 2), "closed");
      assertMessage(IllegalStateException.class, p::inversionFailures, "closed");
    }
    assertEquals(0, be.liveArrays(), "close frees every array");
    assertMessage(IllegalArgumentException.class, () -> new RngdPreconditioner(be, RngdConfig.defaults(0.1), 4,
        List.of(LayerSpec.shared("a", 2, 2), LayerSpec.shared("a", 2, 3))), "layer id 'a' is used twice");
    assertMessage(IllegalArgumentException.class, () -> LayerSpec.perNeuron("w", 100_000, 100_000, Nu.tanh()),
        "layer 'w'", "more than one array can hold");
  }

  @Test
  void stepFirstOrderPreconditionsBeforeObserving() {
    RngdConfig c = RngdConfig.defaults(0.1).withOrder(RngdConfig.Order.STEP_FIRST);
    try (RngdPreconditioner p = twoLayers(c)) {
      assertMessage(IllegalStateException.class, () -> p.observe("in", random(6), 0, null, 0, 2),
          "layer 'in'", "step-first");
      p.precondition("in", random(16), 0, new double[16], 0);
      p.observe("in", random(6), 0, null, 0, 2);
      assertMessage(IllegalStateException.class, () -> p.precondition("in", random(16), 0, new double[16], 0),
          "layer 'in'", "precondition before observing");
    }
  }

  /** MATH.md A11 with a NaN metric slice: previous inverse kept, damping doubled (0 becomes 1e-8), counted. */
  @Test
  void nanSliceKeepsItsInverseAndDoublesItsDamping() {
    assertFailureRule(be, 0.0);
  }

  /**
   * The A11 rule on any backend (the CUDA tests call this through the simulator): a per-neuron layer whose
   * neuron 1 sees a NaN pre-activation keeps that neuron's previous inverse bit for bit, doubles its damping and
   * counts one failure while its other neurons refresh; a shared layer with an infinite input and zero damping
   * keeps its identity inverse and gets damping 1e-8. {@code rel} is the relative tolerance of damping values
   * (0 in float64; float32 backends store 1e-4 rounded).
   */
  public static void assertFailureRule(Backend be, double rel) {
    SplittableRandom rng = new SplittableRandom(3);
    double[] x = new double[12];
    double[] a0 = new double[12];
    double[] a = new double[12];
    double[] g = new double[16];
    for (double[] v : new double[][] {x, a0, a, g}) {
      for (int i = 0; i < v.length; i++) {
        v[i] = rng.nextDouble(-1, 1);
      }
    }
    RngdConfig c = RngdConfig.defaults(0.1).withRefreshPeriod(1).withLambda(0.5);
    try (RngdPreconditioner p = new RngdPreconditioner(be, c, 4,
        List.of(LayerSpec.perNeuron("h", 3, 3, Nu.tanh())))) {
      p.observe("h", x, 0, a0, 0, 4);
      p.endStep();
      double[] before = be.download(p.inverse("h"));
      a[2 * 3 + 1] = Double.NaN;  // sample 2, neuron 1: G_1 becomes NaN
      p.observe("h", x, 0, a, 0, 4);
      double[] after = be.download(p.inverse("h"));
      int dd = 16;
      assertArrayEquals(java.util.Arrays.copyOfRange(before, dd, 2 * dd),
          java.util.Arrays.copyOfRange(after, dd, 2 * dd), 0.0, "neuron 1 keeps its previous inverse");
      assertFalse(java.util.Arrays.equals(java.util.Arrays.copyOfRange(before, 0, dd),
          java.util.Arrays.copyOfRange(after, 0, dd)), "neuron 0 was refreshed");
      assertArrayEquals(new double[] {1e-4, 2e-4, 1e-4}, p.damping("h"), 2e-4 * rel);
      assertEquals(1, p.inversionFailures());
      double[] out = new double[16];
      p.precondition("h", g, 0, out, 0);
      for (double v : out) {
        assertTrue(Double.isFinite(v), "the kept inverse gives a finite step");
      }
    }
    RngdConfig zero = RngdConfig.defaults(0.1).withDamping(RngdConfig.Damping.CANONICAL, 0).withRefreshPeriod(1);
    try (RngdPreconditioner p = new RngdPreconditioner(be, zero, 2, List.of(LayerSpec.shared("in", 2, 2)))) {
      p.observe("in", new double[] {1, Double.POSITIVE_INFINITY, 0, 1}, 0, null, 0, 2);
      assertArrayEquals(new double[] {1e-8}, p.damping("in"), 1e-8 * rel, "zero damping becomes 1e-8");
      assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, be.download(p.inverse("in")), 0.0,
          "the initial identity inverse is kept");
      assertEquals(1, p.inversionFailures("in"));
    }
  }

  @Test
  void savedStateRestoresExactlyAndOtherShapesAreRefused() throws IOException {
    RngdConfig c = RngdConfig.defaults(0.1).withRefreshPeriod(2).withLambda(0.2);
    double[][] xs = new double[6][];
    double[][] as = new double[6][];
    double[][] gs = new double[6][];
    double[][] hs = new double[6][];
    double[][] bs = new double[6][];
    for (int s = 0; s < 6; s++) {
      xs[s] = random(12);
      as[s] = random(16);
      gs[s] = random(16);
      hs[s] = random(16);
      bs[s] = random(10);
    }
    Path file = tmp.resolve("state.rfim4jpc");
    double[][] expected = new double[3][];
    try (RngdPreconditioner p = twoLayers(c)) {
      for (int s = 0; s < 6; s++) {
        if (s == 3) {
          p.save(file);
        }
        double[] out = step(p, xs[s], as[s], gs[s], hs[s], bs[s]);
        if (s >= 3) {
          expected[s - 3] = out;
        }
      }
    }
    try (RngdPreconditioner q = twoLayers(c)) {
      q.restore(file);
      assertEquals(3, q.iteration());
      for (int s = 3; s < 6; s++) {
        assertArrayEquals(expected[s - 3], step(q, xs[s], as[s], gs[s], hs[s], bs[s]), 0.0, "step " + s);
      }
    }
    try (RngdPreconditioner other = new RngdPreconditioner(be, c, 4,
        List.of(LayerSpec.shared("in", 3, 4), LayerSpec.perNeuron("h", 4, 3, Nu.relu())))) {
      double[] g = be.download(other.metric("h"));
      assertMessage(IllegalArgumentException.class, () -> other.restore(file), file.toString(),
          "was saved for layers", "h (4+1)x2", "h (4+1)x3");
      assertArrayEquals(g, be.download(other.metric("h")), 0.0, "a refused restore changes nothing");
    }
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 1;
    Path bad = tmp.resolve("bad.rfim4jpc");
    Files.write(bad, bytes);
    try (RngdPreconditioner q = twoLayers(c)) {
      assertMessage(IllegalArgumentException.class, () -> q.restore(bad), "bad.rfim4jpc", "CRC mismatch");
      assertMessage(IllegalArgumentException.class, () -> q.restore(tmp.resolve("none")), "does not exist");
    }
  }

  /** One metric-first step: the batch's out concatenates both layers' preconditioned gradients. */
  private static double[] step(RngdPreconditioner p, double[] x, double[] a, double[] gIn, double[] h,
      double[] gH) {
    p.observe("in", x, 0, null, 0, 4);
    p.observe("h", h, 0, a, 0, 4);  // pre-activations of "in" are the inputs' affine map; any values do here
    double[] out = new double[26];
    p.precondition("in", gIn, 0, out, 0);
    p.precondition("h", gH, 0, out, 16);
    p.endStep();
    return out;
  }

  /** Per-neuron metric of a softmax output layer against MATH.md 4.3's diagonal blocks, computed directly. */
  @Test
  void softmaxCoefficientsGiveTheDiagonalBlocksOfTheSoftmaxRfim() {
    double lambda = 0.3;
    int b = 3;
    int n = 2;
    int m = 4;
    RngdConfig c = RngdConfig.defaults(0.1).withLambda(lambda);
    try (RngdPreconditioner p = new RngdPreconditioner(be, c, b,
        List.of(LayerSpec.perNeuron("out", n, m, Nu.softmax())))) {
      double[] x = random(b * n);
      double[] a = random(b * m);
      a[0] = 40;  // a large logit: the softmax must not overflow
      p.observe("out", x, 0, a, 0, b);
      double[] g = be.download(p.metric("out"));
      int d = n + 1;
      for (int i = 0; i < m; i++) {
        for (int r = 0; r < d; r++) {
          for (int s = 0; s < d; s++) {
            double sum = 0;
            for (int k = 0; k < b; k++) {
              double z = 0;
              for (int j = 0; j < m; j++) {
                z += Math.exp(a[k * m + j] - 40);
              }
              double eta = Math.exp(a[k * m + i] - 40) / z;
              double hr = r < n ? x[k * n + r] : 1;
              double hs = s < n ? x[k * n + s] : 1;
              sum += eta * (1 - eta) * hr * hs;
            }
            double exp = (1 - lambda) * (r == s ? 1 : 0) + lambda * sum / b;
            assertEquals(exp, g[i * d * d + r * d + s], 1e-14, "G[" + i + "][" + r + "][" + s + "]");
          }
        }
      }
    }
  }

  /** Caller-supplied nu from the RFIM code's smoothed-ReLU family equals the layer that computes it itself. */
  @Test
  void suppliedCoefficientsMatchTheBuiltInFamily() {
    double omega = 0.7;
    RngdConfig c = RngdConfig.defaults(0.1).withOmega(omega).withRefreshPeriod(1);
    try (RngdPreconditioner p = new RngdPreconditioner(be, c, 4, List.of(
        LayerSpec.perNeuron("own", 3, 2, Nu.relu()), LayerSpec.perNeuron("given", 3, 2, Nu.supplied())))) {
      NeuronFamily relu = NeuronFamily.of("relu_smooth", Map.of("omega", omega));
      double[] x = random(12);
      double[] a = random(8);
      double[] nu = new double[8];
      for (int i = 0; i < nu.length; i++) {
        nu[i] = relu.nu(a[i]);
      }
      p.observe("own", x, 0, a, 0, 4);
      p.observeCoefficients("given", x, 0, nu, 0, 4);
      assertArrayEquals(be.download(p.metric("own")), be.download(p.metric("given")), 1e-15);
      assertArrayEquals(be.download(p.inverse("own")), be.download(p.inverse("given")), 1e-13);
      p.endStep();
      assertEquals(0, p.inversionFailures());
    }
  }

  /** In place (out is grad) on a shared layer equals out of place; alpha/beta fuse an update. */
  @Test
  void deviceEntryPointsPreconditionInPlaceAndFused() {
    RngdConfig c = RngdConfig.defaults(0.1).withLambda(0.5);
    try (RngdPreconditioner p = twoLayers(c); DeviceArray x = be.allocate(4, 3); DeviceArray g = be.allocate(4, 4);
        DeviceArray out = be.allocate(4, 4); DeviceArray w = be.allocate(4, 4)) {
      be.upload(x, random(12));
      double[] gv = random(16);
      double[] wv = random(16);
      be.upload(g, gv);
      be.upload(w, wv);
      p.observe("in", x, null);
      p.precondition("in", g, out);
      p.precondition("in", g, -0.1, 1.0, w);
      p.precondition("in", g, g);
      double[] o = be.download(out);
      assertArrayEquals(o, be.download(g), 0.0, "in place");
      double[] wNow = be.download(w);
      for (int i = 0; i < 16; i++) {
        assertEquals(wv[i] - 0.1 * o[i], wNow[i], 1e-15, "fused update");
      }
      boolean changed = false;
      for (int i = 0; i < 16; i++) {
        changed |= Math.abs(o[i] - gv[i]) > 1e-6;
      }
      assertTrue(changed, "the metric (refreshed at t = 0) is not the identity");
    }
  }

  /**
   * The bias-corrected start against a float64 reference written from its formula (docs/rngd.md): an EMA of the
   * batch metrics started from zero, Z_n = (1 - lambda) Z_(n-1) + lambda M_n, divided by 1 - (1 - lambda)^n, damped
   * by epsRel times its trace; the inverse times that matrix is the identity. The stored metric G keeps the
   * paper's identity start, and the plain configuration inverts G itself.
   */
  @Test
  void biasCorrectedStartInvertsTheZeroStartedAverage() {
    double lambda = 0.1;
    int b = 3;
    int n = 2;
    int d = n + 1;
    RngdConfig plain = RngdConfig.defaults(0.1).withLambda(lambda).withRefreshPeriod(1);
    RngdConfig corrected = plain.withBiasCorrection(true);
    try (RngdPreconditioner p = new RngdPreconditioner(be, corrected, b, List.of(LayerSpec.shared("in", n, 2)));
        RngdPreconditioner q = new RngdPreconditioner(be, plain, b, List.of(LayerSpec.shared("in", n, 2)))) {
      double[] z = new double[d * d];
      for (int step = 1; step <= 4; step++) {
        double[] x = random(b * n);
        for (int r = 0; r < d; r++) {
          for (int c = 0; c < d; c++) {
            double m = 0;
            for (int k = 0; k < b; k++) {
              m += (r < n ? x[k * n + r] : 1) * (c < n ? x[k * n + c] : 1) / b;
            }
            z[r * d + c] = (1 - lambda) * z[r * d + c] + lambda * m;
          }
        }
        assertFalse(p.stepReplayable(), "a corrected refresh changes its scalars: not replayable");
        assertTrue(q.stepReplayable(), "plain refresh steps replay");
        p.observe("in", x, 0, null, 0, b);
        q.observe("in", x, 0, null, 0, b);
        double corr = 1 - Math.pow(1 - lambda, step);
        double[] target = new double[d * d];
        double trace = 0;
        for (int i = 0; i < d; i++) {
          trace += z[i * d + i] / corr;
        }
        for (int i = 0; i < d * d; i++) {
          target[i] = z[i] / corr + (i / d == i % d ? 1e-4 * trace : 0);
        }
        assertIdentity("step " + step + " corrected", target, be.download(p.inverse("in")), d);
        double[] g = be.download(p.metric("in"));
        for (int i = 0; i < d * d; i++) {
          assertEquals(z[i] + (i / d == i % d ? Math.pow(1 - lambda, step) : 0), g[i], 1e-14,
              "the stored metric keeps the identity start");
        }
        double gTrace = 0;
        for (int i = 0; i < d; i++) {
          gTrace += g[i * d + i];
        }
        double[] plainTarget = g.clone();
        for (int i = 0; i < d; i++) {
          plainTarget[i * d + i] += 1e-4 * gTrace;
        }
        assertIdentity("step " + step + " plain", plainTarget, be.download(q.inverse("in")), d);
        p.endStep();
        q.endStep();
      }
    }
  }

  private static void assertIdentity(String what, double[] a, double[] inv, int d) {
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int k = 0; k < d; k++) {
          s += a[i * d + k] * inv[k * d + j];
        }
        assertEquals(i == j ? 1 : 0, s, 1e-10, what + ": (A Ginv)[" + i + "][" + j + "]");
      }
    }
  }

  @Test
  void layoutsPackAndUnpackFrameworkWeights() {
    int fanIn = 3;
    int fanOut = 2;
    double[] wCol = {1, 2, 3, 4, 5, 6};  // column-major 3 x 2: w(i, j) = wCol[j * 3 + i]
    double[] bias = {7, 8};
    double[] packed = new double[8 + 1];
    Layouts.pack(wCol, 0, Layouts.Order.COLUMN_MAJOR, bias, 0, fanIn, fanOut, packed, 1);
    assertArrayEquals(new double[] {0, 1, 4, 2, 5, 3, 6, 7, 8}, packed, 0.0);
    double[] wRow = new double[6];
    double[] b2 = new double[2];
    Layouts.unpack(packed, 1, fanIn, fanOut, wRow, 0, Layouts.Order.ROW_MAJOR, b2, 0);
    assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, wRow, 0.0);
    assertArrayEquals(bias, b2, 0.0);
    float[] wf = {1, 2, 3, 4, 5, 6};
    float[] pf = new float[8];
    Layouts.pack(wf, 0, Layouts.Order.ROW_MAJOR, new float[] {7, 8}, 0, fanIn, fanOut, pf, 0);
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, pf, 0f);
    FloatBuffer w = FloatBuffer.allocate(6);
    FloatBuffer bb = FloatBuffer.allocate(2);
    Layouts.unpack(FloatBuffer.wrap(pf), 0, fanIn, fanOut, w, 0, Layouts.Order.COLUMN_MAJOR, bb, 0);
    assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, w.array(), 0f);
    assertEquals(0, w.position(), "positions untouched");
    assertMessage(IllegalArgumentException.class, () -> Layouts.pack(wf, 1, Layouts.Order.ROW_MAJOR,
        new float[2], 0, fanIn, fanOut, pf, 0), "weights (fan-in x fan-out) has 6 elements, needs 6 from offset 1");
  }
}
