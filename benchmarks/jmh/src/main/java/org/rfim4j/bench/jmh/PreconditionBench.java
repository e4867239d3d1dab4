package org.rfim4j.bench.jmh;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * RNGD's per-neuron step {@link Backend#perNeuronPrecondition} for a hidden layer of {@code width} inputs
 * and {@code width} neurons: every column of the (width+1) x width gradient multiplied by its own
 * (width+1) x (width+1) inverse metric and accumulated into the weights (alpha -0.1, beta 1).
 */
public class PreconditionBench extends BackendBench {
  @Param({"80", "256"})
  public int width;

  private DeviceArray ginv;
  private DeviceArray grad;
  private DeviceArray w;

  @Setup
  public void setUp() {
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    int d = width + 1;
    ginv = Backends.uniform(b, rng, -0.01, 0.01, width, d, d);
    b.addDiagonal(ginv, 1.0);
    grad = Backends.uniform(b, rng, -1e-3, 1e-3, d, width);
    w = Backends.uniform(b, rng, -0.1, 0.1, d, width);
    b.synchronize();
  }

  @Benchmark
  public void perNeuronPrecondition() {
    b.perNeuronPrecondition(ginv, grad, -0.1, 1.0, w);
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    Backends.close(ginv, grad, w);
    b.close();
  }
}
