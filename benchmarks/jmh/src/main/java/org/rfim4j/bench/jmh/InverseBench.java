package org.rfim4j.bench.jmh;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * RNGD's metric refresh {@link Backend#batchedInverse} (symmetrise, damp 1e-4 trace, Cholesky, invert):
 * {@code 80x81} = the 80 per-neuron 81 x 81 metrics of a hidden layer in one call, {@code 1x785} = the
 * input layer's shared 785 x 785 metric. The matrices are well-conditioned metrics built by the backend's
 * own EMA updates from seeded random activations.
 */
public class InverseBench extends BackendBench {
  @Param({"80x81", "1x785"})
  public String stack;

  private DeviceArray g;
  private DeviceArray ginv;
  private double[] epsRel;

  @Setup
  public void setUp() {
    String[] md = stack.split("x");
    int m = Integer.parseInt(md[0]);
    int d = Integer.parseInt(md[1]);
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    int rows = d + 200;
    try (DeviceArray h = Backends.uniform(b, rng, 0, 1, rows, d - 1)) {
      if (m == 1) {
        g = b.allocate(d, d);
        ginv = b.allocate(d, d);
        b.sharedMetricUpdate(h, 1.0, g);
      } else {
        g = b.allocate(m, d, d);
        ginv = b.allocate(m, d, d);
        try (DeviceArray nu = Backends.uniform(b, rng, 0.1, 1, rows, m)) {
          b.perNeuronMetricUpdate(h, nu, 1.0, g);
        }
      }
    }
    epsRel = new double[m];
    Arrays.fill(epsRel, 1e-4);
    int[] status = b.batchedInverse(g, epsRel, 0.0, ginv);
    for (int s : status) {
      if (s != 0) {
        throw new IllegalStateException("benchmark metric is not positive definite (pivot " + s + ")");
      }
    }
  }

  @Benchmark
  public int[] batchedInverse() {
    return b.batchedInverse(g, epsRel, 0.0, ginv);
  }

  @TearDown
  public void tearDown() {
    Backends.close(g, ginv);
    b.close();
  }
}
