package org.rfim4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.backend.StepShape;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.cudasim.GpuTest;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;

/**
 * The reshaped RNGD step against the CPU engine: a 300-8-8-8-4 network, so that the two 8 -> 8 hidden layers share
 * one metric stack (one workspace launch, one batched GEMM, one batched inversion) and the input layer's shared
 * 301 x 301 metric is inverted on the side stream, forked after the metric updates and joined before that layer's
 * preconditioning. T = 2 over 6 steps: the refresh at step t is the inverse step t's update uses (MATH.md 8.2), in
 * metric-first order. On the CUDA backend each step kind runs as a captured graph (eager warm-up, capture, replays),
 * on the CPU eagerly; parameters, metrics and inverses must agree after every step, and the refresh graph must
 * really have forked.
 */
@GpuTest
class CudaRngdSideStreamTest {
  static final int IN = 300;
  static final int BATCH = 10;
  static final int STEPS = 6;
  /** float32 against float64 over a 301 x 301 Cholesky inverse: see CudaTrainingEquivalenceTest. */
  static final double TOL = 1e-3;

  static CudaBackend gpu;
  static CpuBackend cpu;

  @BeforeAll
  static void open() {
    gpu = GpuTestSupport.openOrSkip();
    cpu = new CpuBackend(1, CpuBackend.defaultGemmPath());
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
    }
    if (cpu != null) {
      cpu.close();
    }
  }

  static MlpConfig config() {
    return new MlpConfig(IN, new int[] {8, 8, 8}, 4, Activation.TANH, Architecture.PLAIN, 1e-3, 0.3, 7, 0.9, 1e-3);
  }

  @Test
  void capturedSideStreamRefreshMatchesTheCpuEngine() {
    double[] f = new double[3 * BATCH * IN];
    double[] l = new double[3 * BATCH];
    double[] idx = new double[3 * BATCH];
    for (int i = 0; i < f.length; i++) {
      f[i] = Math.sin(0.37 * i) * Math.cos(0.011 * i);
    }
    for (int i = 0; i < l.length; i++) {
      l[i] = i % 4;
      idx[i] = (i * 7) % l.length;
    }
    int gpuLive = gpu.liveArrays();
    try (Mlp mg = new Mlp(gpu, config(), BATCH); Mlp mc = new Mlp(cpu, config(), BATCH)) {
      List<org.rfim4j.nn.Parameter> pg = mg.parameters();
      List<org.rfim4j.nn.Parameter> pc = mc.parameters();
      for (int i = 0; i < pg.size(); i++) {
        cpu.upload(pc.get(i).value(), gpu.download(pg.get(i).value()));
      }
      RngdConfig rc = RngdConfig.defaults(0.05).withLambda(0.1).withRefreshPeriod(2);
      try (Rngd rg = new Rngd(mg, rc); Rngd rcpu = new Rngd(mc, rc);
          Data dg = new Data(gpu, f, l, idx); Data dc = new Data(cpu, f, l, idx)) {
        Map<String, ReplayableStep> captured = new HashMap<>();
        int[] from = {0};
        Runnable gpuStep = () -> dg.step(mg, rg, from[0]);
        for (int s = 0; s < STEPS; s++) {
          from[0] = (s % 3) * BATCH;
          String kind = rg.nextStepKind();
          captured.computeIfAbsent(kind, k -> gpu.captureStep(k, gpuStep)).run();
          dc.step(mc, rcpu, from[0]);
          String at = "step " + s + " (" + kind + "): ";
          compare(mc.namedArrays(), mg.namedArrays(), at);
          compare(rcpu.state(), rg.state(), at + "optimizer state ");
        }
        for (String kind : new String[] {"rngd", "rngd-refresh"}) {
          assertTrue(captured.get(kind).captured(), kind + " ran as a graph");
        }
        StepShape refresh = gpu.stepShapes().get("rngd-refresh");
        assertEquals(5, refresh.sideStreamNodes(), "the 301 x 301 inversion ran on the side stream: " + refresh);
        assertEquals(2, refresh.streamEvents(), "one fork, one join: " + refresh);
        assertEquals(0, rg.inversionFailures());
        captured.values().forEach(ReplayableStep::close);
      }
    }
    assertEquals(gpuLive, gpu.liveArrays(), "CUDA arrays leaked");
  }

  static void compare(Map<String, DeviceArray> expected, Map<String, DeviceArray> actual, String at) {
    assertEquals(expected.keySet(), actual.keySet(), at + "names");
    for (String k : expected.keySet()) {
      CudaTrainingEquivalenceTest.near(cpu.download(expected.get(k)), gpu.download(actual.get(k)), TOL, at + k);
    }
  }

  /** A backend's copy of the data, the mini-batch buffers and the trainer's step. */
  static final class Data implements AutoCloseable {
    final Backend be;
    final DeviceArray feats;
    final DeviceArray labels;
    final DeviceArray index;
    final DeviceArray x;
    final DeviceArray y;
    final DeviceArray stats;

    Data(Backend be, double[] f, double[] l, double[] idx) {
      this.be = be;
      feats = be.allocate(l.length, IN);
      labels = be.allocate(l.length, 1);
      index = be.allocate(l.length, 1);
      x = be.allocate(BATCH, IN);
      y = be.allocate(BATCH, 1);
      stats = be.allocate(2);
      be.upload(feats, f);
      be.upload(labels, l);
      be.upload(index, idx);
    }

    void step(Mlp model, Rngd rngd, int from) {
      be.gatherBatch(feats, labels, index, from, x, y);
      model.forward(x, true, true);
      model.lossAndGradient(y, stats);
      rngd.step();
    }

    @Override
    public void close() {
      for (DeviceArray a : new DeviceArray[] {feats, labels, index, x, y, stats}) {
        a.close();
      }
    }
  }
}
