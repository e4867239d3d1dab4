package org.rfim4j.bench.jmh;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * RNGD's per-neuron metric work for one hidden layer of {@code width} inputs and {@code width} neurons at
 * batch 50: {@link Backend#perNeuronMetricUpdate} (the weighted Gram EMA of width matrices of
 * (width+1) x (width+1), the dominant RNGD cost) and {@link Backend#nuCoefficients} (ReLU, omega 1).
 */
public class PerNeuronMetricBench extends BackendBench {
  @Param({"80", "256"})
  public int width;

  private DeviceArray h;
  private DeviceArray a;
  private DeviceArray nu;
  private DeviceArray g;

  @Setup
  public void setUp() {
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    int batch = 50;
    h = Backends.uniform(b, rng, 0, 1, batch, width);
    a = Backends.uniform(b, rng, -1, 1, batch, width);
    nu = b.allocate(batch, width);
    b.nuCoefficients(Activation.RELU, a, 1.0, nu);
    g = b.allocate(width, width + 1, width + 1);
    b.addDiagonal(g, 1.0);
    b.synchronize();
  }

  @Benchmark
  public void perNeuronMetricUpdate() {
    b.perNeuronMetricUpdate(h, nu, 0.005, g);
    b.synchronize();
  }

  @Benchmark
  public void nuCoefficients() {
    b.nuCoefficients(Activation.RELU, a, 1.0, nu);
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    Backends.close(h, a, nu, g);
    b.close();
  }
}
