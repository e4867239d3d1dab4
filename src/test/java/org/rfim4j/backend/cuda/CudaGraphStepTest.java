package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.data.Dataset;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.nn.Parameter;
import org.rfim4j.optim.Adam;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.optim.Sgd;
import org.rfim4j.testutil.Synthetic;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;

/**
 * CUDA-graph replay (Backend.captureStep, Trainer's cudaGraphs option) against the eager path: the same
 * training run with graphs on and off must give bit-identical parameters (the same kernels run on the same
 * data; only how they are issued differs), for SGD, Adam and RNGD with inversions; plus launch counts per
 * step. Runs on the CUDA simulator (whose stand-in cuBLAS/cuSOLVER record into captures) or a GPU.
 */
class CudaGraphStepTest extends GpuBackendTest {
  static final Dataset TRAIN = Synthetic.blobs("train", 130, 12, 3, 5);
  static final Dataset VAL = Synthetic.blobs("val", 40, 12, 3, 6);

  static MlpConfig net(Architecture arch) {
    return new MlpConfig(12, new int[] {9, 9, 7}, 3, Activation.RELU, arch, 1e-3, 0.1, 11, 0.999, 1e-3);
  }

  /** Trains 2 epochs (6 full batches of 20 + one of 10 per epoch) and returns the parameters. */
  static List<double[]> train(Architecture arch, Function<Mlp, Optimizer> opt, boolean graphs, long[] graphLaunches) {
    be.resetCounts();
    try (Mlp model = new Mlp(be, net(arch), 20); Optimizer o = opt.apply(model)) {
      Trainer t = new Trainer(model, o, new TrainerConfig(2, 20, 3, 4, 20).withCudaGraphs(graphs));
      t.fit(TRAIN, VAL);
      graphLaunches[0] = be.counts().get("graphs");
      return model.downloadParameters();
    }
  }

  static void sameRun(Architecture arch, Function<Mlp, Optimizer> opt, long minGraphs) {
    long[] g0 = new long[1];
    long[] g1 = new long[1];
    List<double[]> eager = train(arch, opt, false, g0);
    List<double[]> graph = train(arch, opt, true, g1);
    assertEquals(0, g0[0]);
    assertTrue(g1[0] >= minGraphs, "graph launches " + g1[0]);
    assertEquals(eager.size(), graph.size());
    for (int i = 0; i < eager.size(); i++) {
      assertArrayEquals(eager.get(i), graph.get(i), 0.0, "parameter " + i);
    }
  }

  @Test
  void sgdGraphReplayMatchesEager() {
    // 12 full-batch steps: 1 warm-up, 1 capture + launch, 10 replays = 11 launches
    sameRun(Architecture.PLAIN, m -> new Sgd(m, 0.1, 0.9), 11);
  }

  @Test
  void adamGraphReplayMatchesEager() {
    sameRun(Architecture.PLAIN, m -> new Adam(m, 0.01), 11);
  }

  @Test
  void rngdGraphReplayWithInversionsMatchesEager() {
    // T = 3: steps 0, 3, 6, ... refresh, captured as their own graph (no readback); the others replay theirs.
    sameRun(Architecture.PLAIN, m -> new Rngd(m, RngdConfig.defaults(0.05).withRefreshPeriod(3)), 5);
    sameRun(Architecture.BNA, m -> new Rngd(m, RngdConfig.defaults(0.05).withRefreshPeriod(3)), 5);
    // bias-corrected start: its refresh steps change scalars, run eagerly; the normal steps replay (a smaller
    // rate: the first refreshes invert the metric of one or two batches, far less damped than the identity start)
    sameRun(Architecture.PLAIN, m -> new Rngd(m, RngdConfig.defaults(0.005).withRefreshPeriod(3)
        .withBiasCorrection(true)), 5);
  }

  /**
   * A trainer that keeps its device data (the optimizer race) trains epoch by epoch in separate fit calls
   * and replays one captured step throughout: the same parameters as an eager single fit, and the
   * second epoch's steps all replayed (no warm-up or capture again).
   */
  @Test
  void retainedTrainerReplaysItsCaptureAcrossFits() {
    long[] g0 = new long[1];
    List<double[]> eager = train(Architecture.PLAIN, m -> new Adam(m, 0.01), false, g0);
    be.resetCounts();
    List<double[]> split;
    long afterFirst;
    long afterSecond;
    try (Mlp model = new Mlp(be, net(Architecture.PLAIN), 20); Optimizer o = new Adam(model, 0.01);
        Trainer t = new Trainer(model, o, new TrainerConfig(2, 20, 3, 4, 20).withCudaGraphs(true))
            .retainDeviceData()) {
      t.fit(TRAIN, VAL, 1);
      afterFirst = be.counts().get("graphs");
      t.fit(TRAIN, VAL, 2);
      afterSecond = be.counts().get("graphs");
      split = model.downloadParameters();
    }
    assertEquals(6, afterSecond - afterFirst, "full batches of epoch 2 replayed from the first capture");
    for (int i = 0; i < eager.size(); i++) {
      assertArrayEquals(eager.get(i), split.get(i), 0.0, "parameter " + i);
    }
  }

  @Test
  void replayRefusesAChangedStep() {
    try (DeviceArray a = be.allocate(4); DeviceArray b = be.allocate(4)) {
      double[] alpha = {1};
      ReplayableStep s = be.captureStep("test", () -> be.axpy(alpha[0], a, b));
      s.run();
      s.run();
      s.run();
      alpha[0] = 2;  // a frozen kernel parameter changed: the graph would be wrong
      IllegalStateException e = assertThrows(IllegalStateException.class, s::run);
      assertTrue(e.getMessage().contains("differs from the captured step"), e.getMessage());
      s.close();
      ReplayableStep r = be.captureStep("sync", () -> be.download(a));
      r.run();
      assertThrows(IllegalStateException.class, r::run);
      r.close();
    }
  }

  /** Launches per full-batch training step, the paper's network at batch 50, printed for docs/cuda.md. */
  @Test
  void launchCountsPerStep() {
    MlpConfig paper = MlpConfig.paper(Architecture.PLAIN, 1);
    try (Mlp model = new Mlp(be, paper, 50);
        DeviceArray feats = be.allocate(100, 784);
        DeviceArray labels = be.allocate(100, 1);
        DeviceArray index = be.allocate(100, 1);
        DeviceArray x = be.allocate(50, 784);
        DeviceArray y = be.allocate(50, 1);
        DeviceArray stats = be.allocate(2)) {
      double[] idx = new double[100];
      for (int i = 0; i < 100; i++) {
        idx[i] = i;
      }
      be.upload(index, idx);
      for (String name : new String[] {"sgd", "adam", "rngd"}) {
        try (Optimizer o = switch (name) {
          case "sgd" -> new Sgd(model, 0.01, 0.0);
          case "adam" -> new Adam(model, 1e-3);
          default -> new Rngd(model, RngdConfig.defaults(0.01));
        }) {
          Runnable step = () -> {
            be.gatherBatch(feats, labels, index, 0, x, y);
            model.forward(x, true, true);
            model.lossAndGradient(y, stats);
            o.step();
          };
          step.run();  // RNGD: the refresh step
          be.synchronize();
          be.resetCounts();
          step.run();
          Map<String, Long> after = be.counts();
          // the same step issued the old way: two gathers, per-parameter optimizer launches, separate nu
          be.resetCounts();
          be.gatherRows(feats, index, 0, x);
          be.gatherRows(labels, index, 0, y);
          model.forward(x, true, true);
          model.lossAndGradient(y, stats);
          List<Parameter> ps = model.parameters();
          if (name.equals("rngd")) {
            o.step();
          }
          Map<String, Long> before = be.counts();
          long extra = name.equals("rngd") ? 2 /* nu launches, 2 per-neuron layers */ : ps.size();
          long beforeOps = before.get("kernels") + before.get("library") + extra;
          long afterOps = after.get("kernels") + after.get("library");
          ReplayableStep g = be.captureStep(name, step);
          g.run();
          g.run();
          be.synchronize();
          be.resetCounts();
          g.run();
          Map<String, Long> graph = be.counts();
          System.out.println("[launch-count] " + name + " 784-80-80-80-10 B=50: before " + beforeOps
              + " launches (kernels+library), after fusion " + afterOps + " " + after + ", graph step " + graph);
          assertEquals(0, graph.get("kernels") + graph.get("library"));
          assertEquals(1, graph.get("graphs"));
          assertEquals(0, graph.get("syncs"));
          assertTrue(afterOps < beforeOps);
          g.close();
        }
      }
    }
  }
}
