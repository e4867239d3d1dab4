package org.rfim4j.bench.jmh;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.MetricUpdate;

/**
 * RNGD's per-step metric updates and its refresh for all four layers of the paper's network (784-80-80-80-10,
 * batch 50, MNIST-like input with a quarter of the pixels zero in every image): {@code together} is one
 * {@link Backend#metricUpdates} / {@link Backend#refreshInversesAll} call, which the CPU engines run as one
 * parallel schedule across the layers; {@code apart} is the same work one layer at a time, the calls a backend
 * without that schedule makes. Both in one run, so the ratio is measured side by side.
 */
public class LayerScheduleBench extends BackendBench {
  @Param({"together", "apart"})
  public String schedule;

  private final List<DeviceArray> arrays = new ArrayList<>();
  private List<MetricUpdate> updates;
  private List<DeviceArray> gs;
  private List<DeviceArray> ginvs;
  private List<DeviceArray> epsRels;
  private List<DeviceArray> failures;

  private DeviceArray keep(DeviceArray a) {
    arrays.add(a);
    return a;
  }

  @Setup
  public void setUp() {
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(42);
    int batch = 50;
    // the input: uniform pixels, the same quarter of the 784 columns zero in every row
    double[] x = new double[batch * 784];
    for (int i = 0; i < x.length; i++) {
      x[i] = (i % 784) % 4 == 0 ? 0 : rng.nextDouble();
    }
    DeviceArray h0 = keep(b.allocate(batch, 784));
    b.upload(h0, x);
    int[] in = {784, 80, 80, 80};
    int[] out = {80, 80, 80, 10};
    updates = new ArrayList<>();
    gs = new ArrayList<>();
    ginvs = new ArrayList<>();
    epsRels = new ArrayList<>();
    failures = new ArrayList<>();
    for (int l = 0; l < 4; l++) {
      int d = in[l] + 1;
      boolean shared = l == 0 || l == 3;  // the paper's default: shared for the input and softmax layers
      DeviceArray h = l == 0 ? h0 : keep(Backends.uniform(b, rng, 0, 1, batch, in[l]));
      DeviceArray g = keep(shared ? b.allocate(d, d) : b.allocate(out[l], d, d));
      b.addDiagonal(g, 1.0);
      if (shared) {
        updates.add(MetricUpdate.shared(h, g));
      } else {
        DeviceArray a = keep(Backends.uniform(b, rng, -1, 1, batch, out[l]));
        updates.add(MetricUpdate.fromPreActivations(h, Activation.RELU, a, 1.0, keep(b.allocate(batch, out[l])), g));
      }
      int m = shared ? 1 : out[l];
      gs.add(g);
      ginvs.add(keep(shared ? b.allocate(d, d) : b.allocate(m, d, d)));
      DeviceArray eps = keep(b.allocate(m));
      b.fill(eps, 1e-4);
      epsRels.add(eps);
      failures.add(keep(b.allocate(1)));
    }
    for (int s = 0; s < 300; s++) {  // metrics as after a few hundred steps
      b.metricUpdates(updates, 0.005);
    }
    b.synchronize();
  }

  @Benchmark
  public void metricUpdatesAllLayers() {
    if (schedule.equals("together")) {
      b.metricUpdates(updates, 0.005);
    } else {
      for (MetricUpdate u : updates) {
        u.runOn(b, 0.005);
      }
    }
    b.synchronize();
  }

  @Benchmark
  public void refreshInversesAllLayers() {
    if (schedule.equals("together")) {
      b.refreshInversesAll(gs, epsRels, 0.0, ginvs, failures);
    } else {
      for (int l = 0; l < gs.size(); l++) {
        b.refreshInverses(gs.get(l), epsRels.get(l), 0.0, ginvs.get(l), failures.get(l));
      }
    }
    b.synchronize();
  }

  @TearDown
  public void tearDown() {
    Backends.close(arrays.toArray(new DeviceArray[0]));
    b.close();
  }
}
