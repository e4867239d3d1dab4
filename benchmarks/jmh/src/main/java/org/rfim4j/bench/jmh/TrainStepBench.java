package org.rfim4j.bench.jmh;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/**
 * One full training step (gather-free: forward, softmax cross-entropy and backward, optimizer step) of the
 * paper's network 784-80-80-80-10 ReLU, L2 1e-3, batch 50, on seeded random data (32 pre-uploaded
 * batches, cycled). Optimizers at the paper's settings: sgd lr 0.1, adam lr 1e-3, rngd lr 0.1 with
 * lambda 0.005 and an inverse refresh every T = 100 steps. Model and optimizer are built once per fork and
 * keep training across iterations, so an rngd score is the average over steps with and without the refresh
 * (1 step in 100 refreshes); it is only representative when an iteration holds many steps, i.e. at least
 * a few hundred: compare the refresh cost alone in {@link InverseBench}. The training loss is checked
 * after every iteration (a diverged run fails rather than timing NaN arithmetic).
 */
public class TrainStepBench extends BackendBench {
  static final int BATCH = 50;
  static final int BATCHES = 32;

  @Param({"sgd", "adam", "rngd"})
  public String optimizer;

  private DeviceArray[] xs;
  private DeviceArray[] ys;
  private DeviceArray stats;
  private Mlp model;
  private Optimizer opt;
  private int next;

  @Setup(Level.Trial)
  public void setUpData() {
    b = Backends.open(backend);
    SplittableRandom rng = new SplittableRandom(7);
    xs = new DeviceArray[BATCHES];
    ys = new DeviceArray[BATCHES];
    for (int i = 0; i < BATCHES; i++) {
      xs[i] = Backends.uniform(b, rng, 0, 1, BATCH, 784);
      ys[i] = b.allocate(BATCH, 1);
      double[] y = new double[BATCH];
      for (int k = 0; k < BATCH; k++) {
        y[k] = rng.nextInt(10);
      }
      b.upload(ys[i], y);
    }
    stats = b.allocate(2);
    model = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, 42), BATCH);
    opt = spec(optimizer).create(model);
    b.synchronize();
  }

  @Setup(Level.Iteration)
  public void resetStats() {
    b.fill(stats, 0);
    b.synchronize();
  }

  static OptimizerSpec spec(String name) {
    switch (name) {
      case "sgd":
        return OptimizerSpec.sgd(0.1);
      case "adam":
        return OptimizerSpec.adam(1e-3);
      case "rngd":
        return OptimizerSpec.rngd(RngdConfig.defaults(0.1));
      default:
        throw new IllegalArgumentException("unknown optimizer '" + name + "' (expected sgd, adam or rngd)");
    }
  }

  @Benchmark
  public void step() {
    int i = next;
    next = (i + 1) % BATCHES;
    model.forward(xs[i], true, true);
    model.lossAndGradient(ys[i], stats);
    opt.step();
    b.synchronize();
  }

  @TearDown(Level.Iteration)
  public void checkFinite() {
    double loss = b.download(stats)[0];
    if (!Double.isFinite(loss)) {
      throw new IllegalStateException(optimizer + " diverged on the benchmark data (loss " + loss
          + "); the timing would not be representative");
    }
  }

  private void closeModel() {
    if (opt != null) {
      opt.close();
      opt = null;
    }
    if (model != null) {
      model.close();
      model = null;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    closeModel();
    Backends.close(xs);
    Backends.close(ys);
    Backends.close(stats);
    b.close();
  }
}
