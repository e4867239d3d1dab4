package org.rfim4j.bench.jmh;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;

/**
 * The element-wise operations of one training step of the paper's 784-80-80-80-10 network at batch 50,
 * for comparing the float64 and float32 CPU engines ({@code -p backend=cpu64,cpu32}): the Adam and SGD
 * updates over all four weight matrices ((fan-in + 1) x fan-out: 785x80, 81x80, 81x80, 81x10), the
 * bias + ReLU forward and the ReLU backward of a 50 x 80 hidden layer, softmax cross-entropy on 50 x 10
 * logits, and an axpy over the input layer's weights (the L2 term).
 */
public class ElementwiseBench extends BackendBench {
  private final List<DeviceArray> params = new ArrayList<>();
  private final List<DeviceArray> grads = new ArrayList<>();
  private final List<DeviceArray> m = new ArrayList<>();
  private final List<DeviceArray> v = new ArrayList<>();
  private DeviceArray z;
  private DeviceArray bias;
  private DeviceArray h;
  private DeviceArray dh;
  private DeviceArray logits;
  private DeviceArray labels;
  private DeviceArray probs;
  private DeviceArray dlogits;
  private DeviceArray stats;
  private long t;

  @Setup
  public void setUp() {
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    int[][] shapes = {{785, 80}, {81, 80}, {81, 80}, {81, 10}};
    for (int[] s : shapes) {
      params.add(Backends.uniform(b, rng, -0.1, 0.1, s));
      grads.add(Backends.uniform(b, rng, -1e-2, 1e-2, s));
      m.add(Backends.uniform(b, rng, -1e-3, 1e-3, s));
      v.add(Backends.uniform(b, rng, 0, 1e-5, s));
    }
    z = Backends.uniform(b, rng, -1, 1, 50, 80);
    bias = Backends.uniform(b, rng, -1e-3, 1e-3, 80);
    h = b.allocate(50, 80);
    dh = Backends.uniform(b, rng, -1, 1, 50, 80);
    logits = Backends.uniform(b, rng, -3, 3, 50, 10);
    labels = b.allocate(50);
    double[] y = new double[50];
    for (int i = 0; i < 50; i++) {
      y[i] = rng.nextInt(10);
    }
    b.upload(labels, y);
    probs = b.allocate(50, 10);
    dlogits = b.allocate(50, 10);
    stats = b.allocate(2);
    t = 1;
    b.synchronize();
  }

  @Benchmark
  public void adamUpdateAll() {
    b.adamUpdateAll(params, grads, m, v, 1e-9, 0.9, 0.999, 1e-8, t++);
    b.synchronize();
  }

  @Benchmark
  public void sgdUpdateAll() {
    b.sgdUpdateAll(params, grads, null, 1e-9, 0);
    b.synchronize();
  }

  @Benchmark
  public void axpyInputWeights() {
    b.axpy(1e-9, params.get(0), grads.get(0));
    b.synchronize();
  }

  @Benchmark
  public void biasReluForward() {
    b.biasActivationForward(z, bias, Activation.RELU, h);
    b.synchronize();
  }

  @Benchmark
  public void reluBackward() {
    b.activationBackward(Activation.RELU, z, dh, h);
    b.synchronize();
  }

  @Benchmark
  public void softmaxCrossEntropy() {
    b.softmaxCrossEntropy(logits, labels, probs, dlogits, 0.02, stats);
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    for (List<DeviceArray> l : List.of(params, grads, m, v)) {
      l.forEach(DeviceArray::close);
      l.clear();
    }
    Backends.close(z, bias, h, dh, logits, labels, probs, dlogits, stats);
    b.close();
  }
}
