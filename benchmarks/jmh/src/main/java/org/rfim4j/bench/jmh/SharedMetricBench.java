package org.rfim4j.bench.jmh;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * RNGD's shared (linear-layer) metric EMA {@link Backend#sharedMetricUpdate} at batch 50 for a layer of
 * {@code inputs} inputs: 784 (the input layer, a 785 x 785 metric) and 80 (the softmax layer, 81 x 81).
 */
public class SharedMetricBench extends BackendBench {
  @Param({"784", "80"})
  public int inputs;

  private DeviceArray h;
  private DeviceArray g;

  @Setup
  public void setUp() {
    b = Backends.open(backend);
    h = Backends.uniform(b, new SplittableRandom(42), 0, 1, 50, inputs);
    g = b.allocate(inputs + 1, inputs + 1);
    b.addDiagonal(g, 1.0);
    b.synchronize();
  }

  @Benchmark
  public void sharedMetricUpdate() {
    b.sharedMetricUpdate(h, 0.005, g);
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    Backends.close(h, g);
    b.close();
  }
}
