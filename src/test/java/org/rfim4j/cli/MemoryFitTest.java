package org.rfim4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Proxy;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Split;
import org.rfim4j.io.Memory;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.TrainerConfig;

/**
 * Issue 15, item 4 (docs/scaling.md): a configuration that does not fit is refused by the training entry point
 * ({@link Runner#run}) before anything is allocated, with a message naming the memory needed and the RNGD metric
 * kinds (and optimizers) that would fit. The device is a stand-in GPU (float32, a given amount free) whose every
 * allocation or computation fails the test; no GPU is needed.
 */
class MemoryFitTest {
  static final long GIB = 1L << 30;

  /** A float32 backend with {@code gib} GiB free that fails the test on any allocation or computation. */
  static Backend gpu(long gib, int[] allocations) {
    return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
        (proxy, m, args) -> {
          switch (m.getName()) {
            case "name":
              return "test " + gib + " GiB GPU";
            case "precisionBits":
              return 32;
            case "deviceFreeBytes":
              return gib * GIB;
            case "close":
              return null;
            default:
              allocations[0]++;
              throw new AssertionError("backend used before the memory check: " + m.getName());
          }
        });
  }

  static MlpConfig net(int w) {
    return new MlpConfig(784, new int[] {w, w, w}, 10, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 3, 0.9, 1e-3);
  }

  /** float32 bytes of a per-neuron metric layer (G and its inverse): m matrices (fanIn+1)^2. */
  static double perNeuron(int fanIn, int m) {
    return 2.0 * m * (fanIn + 1.0) * (fanIn + 1.0) * 4;
  }

  /**
   * float32 bytes of the CUDA backend's Gram workspace for a per-neuron layer (docs/scaling.md): B (fanIn+1)
   * floats per neuron, for at most 2^28 floats' worth of neurons at once, B = 50.
   */
  static double gram(int fanIn, int m) {
    double perNeuron = 50.0 * (fanIn + 1);
    return Math.min(m, Math.max(1, Math.floor((1L << 28) / perNeuron))) * perNeuron * 4;
  }

  static String refusal(long gib, MlpConfig cfg, OptimizerSpec spec) {
    int[] allocations = {0};
    Split data = new Split(Synthetic.blobs("t", 200, 784, 10, 1), Synthetic.blobs("v", 100, 784, 10, 2),
        Synthetic.blobs("s", 100, 784, 10, 3));
    Memory.NotEnoughMemoryException e = assertThrows(Memory.NotEnoughMemoryException.class,
        () -> Runner.run(gpu(gib, allocations), data, cfg, spec, TrainerConfig.of(1, 50, 1), null, null, null,
            true, new PrintStream(new ByteArrayOutputStream()), null));
    System.out.println("MemoryFitTest: " + e.getMessage());
    assertEquals(0, allocations[0], "nothing may be allocated before the refusal");
    return e.getMessage();
  }

  /** The "needs about 27 GiB" (or "about 27 GiB in all") figure of a message, in bytes. */
  static double needed(String msg) {
    Matcher m = Pattern.compile("(?:needs about|and about) ([0-9.]+) GiB").matcher(msg);
    assertTrue(m.find(), msg);
    return Double.parseDouble(m.group(1)) * GIB;
  }

  /** The "(about 13 GiB)" figure after {@code kinds} in a message, in bytes. */
  static double fitFigure(String msg, String kinds) {
    Matcher m = Pattern.compile(Pattern.quote(kinds) + " \\(about ([0-9.]+) GiB\\)").matcher(msg);
    assertTrue(m.find(), kinds + " in " + msg);
    return Double.parseDouble(m.group(1)) * GIB;
  }

  static void assertNear(double expected, double actual, String msg) {
    // The figures include the small arrays (model, data: < 1%) and a 5% allowance, and are printed rounded to
    // whole GiB from 10 GiB up (half a GiB either way).
    assertTrue(actual >= 1.05 * expected * 0.99 - GIB / 2.0 && actual <= 1.05 * expected * 1.02 + GIB / 2.0,
        actual / GIB + " GiB vs 1.05 x " + expected / GIB + " GiB: " + msg);
  }

  @Test
  void paperKindsAtWidth1200OnA32GibGpuAreRefusedBeforeAllocatingAndTheFittingKindsAreNamed() {
    int w = 1200;
    String msg = refusal(32, net(w), OptimizerSpec.rngd(RngdConfig.defaults(0.03)));
    assertTrue(msg.startsWith("not enough GPU memory: training needs about") && msg.contains("test 32 GiB GPU has 32 GiB"
        + " free"), msg);
    // Two per-neuron hidden layers (G and inverse: 2 x 2 x 1200 x 1201^2 float32 = 25.8 GiB) and the batched
    // inversion's two copies of one of them (12.9 GiB) plus the Gram workspace dominate.
    double layer = perNeuron(w, w);
    assertNear(3 * layer + gram(w, w), needed(msg), msg);
    // One of them turned shared (2 x 12.9 GiB + 5%) fits 32 GiB: the nearest fit, then every layer shared.
    assertTrue(msg.contains("these would fit: RNGD metric kinds (--rngd-metrics) shared,shared,neuron,shared"), msg);
    assertNear(2 * layer + gram(w, w), fitFigure(msg, "shared,shared,neuron,shared"), msg);
    assertTrue(msg.contains(", shared,shared,shared,shared (about "), msg);
    assertTrue(msg.contains("; optimizers adam (about ") && msg.contains(", sgd (about "), msg);
    assertFalse(msg.contains("neuron,neuron"), msg);
  }

  @Test
  void allPerNeuronAtWidth1200NamesTheNearestFit() {
    int w = 1200;
    MetricKind n = MetricKind.PER_NEURON;
    String msg = refusal(32, net(w), OptimizerSpec.rngd(RngdConfig.defaults(0.03).withMetricKinds(n, n, n, n)));
    // Input layer 2 x 1200 x 785^2 (5.5 GiB), hidden 12.9 GiB each, softmax 2 x 10 x 1201^2 (0.1 GiB), and the
    // inversion's copies of the largest stack (a hidden layer's).
    double input = perNeuron(784, w);
    double hidden = perNeuron(w, w);
    double softmax = perNeuron(w, 10);
    assertNear(input + 2 * hidden + softmax + hidden + gram(w, w), needed(msg), msg);
    // The largest per-neuron layers turn shared first, one at a time: with one hidden layer left, 5.5 + 12.9 +
    // 0.1 + 12.9 GiB (+5%) is still over 32 GiB; with none, the input layer's stack is the largest.
    assertTrue(1.05 * (input + hidden + softmax + hidden + gram(w, w)) > 32.0 * GIB);
    assertNear(input + softmax + input + gram(784, w), fitFigure(msg, "neuron,shared,shared,neuron"), msg);
    assertTrue(msg.contains(", shared,shared,shared,shared (about "), msg);
  }

  @Test
  void perNeuronLayersOfWidth2048ExceedOneArrayEvenOnAn80GibGpu() {
    // 2048 x 2049^2 = 8.6e9 elements in one per-neuron metric array, beyond 2^31 - 8: refused on the array
    // limit (its 3 x 64 GiB would not fit 80 GiB either); only every layer shared fits.
    int w = 2048;
    String msg = refusal(80, net(w), OptimizerSpec.rngd(RngdConfig.defaults(0.03)));
    assertTrue(msg.startsWith("the run needs an array of 8.60e+09 elements, more than the 2147483639 one backend"
        + " array may hold"), msg);
    assertNear(3 * perNeuron(w, w) + gram(w, w), needed(msg), msg);
    assertTrue(msg.contains("these would fit: RNGD metric kinds (--rngd-metrics) shared,shared,shared,shared"
        + " (about "), msg);
    assertFalse(msg.contains(",neuron"), msg);
  }
}
