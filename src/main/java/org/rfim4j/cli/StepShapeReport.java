package org.rfim4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.ReplayableStep;
import org.rfim4j.backend.StepShape;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;

/**
 * {@code rfim4j bench --shape} (docs/gpu-cost-model.md): the shape of each optimizer's training step on a GPU
 * backend (the CUDA simulator included) and the cost model built on it. Per optimizer it runs the trainer's step
 * (mini-batch gather, forward, loss and gradient, optimizer step) on synthetic data through
 * {@link Backend#captureStep}, one captured step per step kind as the trainer keeps them, until every kind has been
 * captured and replayed, then prints per kind the graph's nodes by kind, the host synchronisations and bytes of a
 * replay, the modelled time of one step ({@link CostModel}) and the measured time of a replay (each synchronised;
 * on the simulator that is host time, not a GPU's), and the modelled epoch.
 *
 * <p>Node counts do not depend on the data or on RNGD's refresh period T, so the run uses a short period
 * ({@link #SHAPE_PERIOD}) to reach the refresh kind quickly; the modelled epoch uses the configured T.
 */
public final class StepShapeReport {
  /** RNGD refresh period of the shape run (the counts do not depend on it). */
  static final int SHAPE_PERIOD = 4;
  /** Refresh periods run: the first run of a kind is eager, the second captured, the rest replays. */
  static final int PERIODS = 5;

  private StepShapeReport() {
  }

  /** One optimizer's measured kinds: shape and median replay time (seconds) per kind. */
  public record Measured(String optimizer, Map<String, StepShape> shapes, Map<String, Double> seconds,
      int refreshPeriod) {}

  /**
   * Runs {@code spec}'s optimizer on a fresh model of {@code config} for {@link #PERIODS} refresh periods of
   * {@link #SHAPE_PERIOD} steps (RNGD with its period shortened) on synthetic data, capturing each step kind.
   */
  public static Measured measure(Backend backend, MlpConfig config, int batch, OptimizerSpec spec, long seed) {
    int refreshPeriod = spec.rngd() == null ? RngdConfig.defaults(spec.learningRate()).refreshPeriod()
        : spec.rngd().refreshPeriod();
    OptimizerSpec run = spec.name().equals("rngd")
        ? OptimizerSpec.rngd((spec.rngd() == null ? RngdConfig.defaults(spec.learningRate()) : spec.rngd())
            .withRefreshPeriod(SHAPE_PERIOD))
        : spec;
    int d = config.inputs();
    int classes = config.classes();
    int n = 3 * batch;
    double[] f = new double[n * d];
    double[] l = new double[n];
    double[] idx = new double[n];
    java.util.Random rnd = new java.util.Random(seed);
    for (int i = 0; i < f.length; i++) {
      f[i] = rnd.nextDouble();
    }
    for (int i = 0; i < n; i++) {
      l[i] = i % classes;
      idx[i] = (i * 7L) % n;
    }
    Map<String, List<Double>> times = new LinkedHashMap<>();
    try (Mlp model = new Mlp(backend, config, batch);
        Optimizer opt = run.create(model);
        DeviceArray feats = backend.allocate(n, d);
        DeviceArray labels = backend.allocate(n, 1);
        DeviceArray index = backend.allocate(n, 1);
        DeviceArray x = backend.allocate(batch, d);
        DeviceArray y = backend.allocate(batch, 1);
        DeviceArray stats = backend.allocate(2)) {
      backend.upload(feats, f);
      backend.upload(labels, l);
      backend.upload(index, idx);
      int[] from = {0};
      Runnable step = () -> {
        backend.gatherBatch(feats, labels, index, from[0], x, y);
        model.forward(x, true, true);
        model.lossAndGradient(y, stats);
        opt.step();
      };
      Map<String, ReplayableStep> steps = new LinkedHashMap<>();
      Map<String, Integer> runs = new LinkedHashMap<>();
      try {
        for (int s = 0; s < PERIODS * SHAPE_PERIOD; s++) {
          from[0] = (s % 3) * batch;
          String kind = opt.nextStepKind();
          if (!opt.nextStepCapturable()) {
            throw new IllegalStateException(spec.name() + " step " + s + " (" + kind + ") is not capturable");
          }
          ReplayableStep r = steps.computeIfAbsent(kind, k -> backend.captureStep(k, step));
          backend.synchronize();
          long t0 = System.nanoTime();
          r.run();
          backend.synchronize();
          long t1 = System.nanoTime();
          int k = runs.merge(kind, 1, Integer::sum);
          if (k > 2) {  // replays only
            times.computeIfAbsent(kind, x0 -> new ArrayList<>()).add((t1 - t0) * 1e-9);
          }
        }
      } finally {
        steps.values().forEach(ReplayableStep::close);
      }
      Map<String, StepShape> shapes = new LinkedHashMap<>();
      Map<String, Double> secs = new LinkedHashMap<>();
      for (String kind : runs.keySet()) {
        StepShape sh = backend.stepShapes().get(kind);
        if (sh != null) {
          shapes.put(kind, sh);
        }
        List<Double> t = times.getOrDefault(kind, List.of());
        secs.put(kind, t.isEmpty() ? Double.NaN : median(t));
      }
      return new Measured(spec.name(), shapes, secs, refreshPeriod);
    }
  }

  private static double median(List<Double> v) {
    List<Double> s = new ArrayList<>(v);
    s.sort(null);
    int m = s.size();
    return m % 2 == 1 ? s.get(m / 2) : (s.get(m / 2 - 1) + s.get(m / 2)) / 2;
  }

  /** The {@code step_shape ...} line of a kind. */
  static String stepLine(String head, String optimizer, StepShape s, CostModel model, double measured) {
    return String.format(Locale.ROOT, "%s optimizer=%s nodes=%d kernels=%d blas=%d solver=%d memcpy=%d host_syncs=%d"
        + " captured=%s kind=%s gemm=%d batched_gemm=%d graph_nodes=%d side_stream_nodes=%d stream_events=%d"
        + " h2d_bytes=%d d2h_bytes=%d model_us=%.1f measured_us=%s", head, optimizer, s.nodes(), s.kernels(), s.blas(),
        s.solverCalls(), s.memcpys(), s.hostSyncs(), s.captured() ? "yes" : "no", s.kind(), s.gemms(),
        s.batchedGemms(), s.graphNodes(), s.sideStreamNodes(), s.streamEvents(), s.bytesToDevice(), s.bytesToHost(), 1e6 * model.stepSeconds(s),
        Double.isNaN(measured) ? "NA" : String.format(Locale.ROOT, "%.1f", 1e6 * measured));
  }

  /** The refresh's own work: the refresh step's counts minus the normal step's. */
  public static StepShape refreshOnly(StepShape refresh, StepShape normal) {
    return new StepShape("refresh", refresh.captured(), refresh.kernels() - normal.kernels(),
        refresh.gemms() - normal.gemms(), refresh.batchedGemms() - normal.batchedGemms(),
        refresh.solverCalls() - normal.solverCalls(), refresh.memcpys() - normal.memcpys(),
        refresh.hostSyncs() - normal.hostSyncs(), refresh.bytesToDevice() - normal.bytesToDevice(),
        refresh.bytesToHost() - normal.bytesToHost(),
        refresh.graphNodes() < 0 || normal.graphNodes() < 0 ? -1 : refresh.graphNodes() - normal.graphNodes(),
        refresh.sideStreamNodes(), refresh.streamEvents() - normal.streamEvents());
  }

  /**
   * Measures and prints: per optimizer its normal step, for RNGD its refresh (the refresh step's extra work; the
   * whole refresh step too), then the modelled epoch per optimizer with its ratio to Adam.
   */
  static int run(Backend backend, MlpConfig config, int batch, int trainSize, List<OptimizerSpec> specs, long seed,
      PrintWriter out) {
    CostModel model = CostModel.H100;
    out.println("# step shapes on " + backend.name() + ": " + config.describe() + ", batch " + batch
        + "; cost model " + model.name() + " (docs/gpu-cost-model.md)");
    List<Measured> all = new ArrayList<>();
    for (OptimizerSpec s : specs) {
      Measured m = measure(backend, config, batch, s, seed);
      all.add(m);
      for (Map.Entry<String, StepShape> e : m.shapes().entrySet()) {
        out.println("# " + stepLine("kind", m.optimizer(), e.getValue(), model, m.seconds().get(e.getKey())));
      }
      out.flush();
    }
    int steps = (trainSize + batch - 1) / batch;
    Map<String, Double> epoch = new LinkedHashMap<>();
    for (Measured m : all) {
      StepShape normal = m.shapes().get(m.optimizer());
      StepShape refresh = m.shapes().get(m.optimizer() + "-refresh");
      if (normal == null) {
        throw new IllegalArgumentException("--shape needs a GPU backend that captures steps (--device cuda; the CUDA"
            + " simulator counts too, docs/cudasim.md): " + backend.name() + " recorded no shape for " + m.optimizer()
            + (backend.precisionBits() == 64 ? "" : " (are CUDA graphs off? --cuda-graphs on)"));
      }
      out.println(stepLine("step_shape", m.optimizer(), normal, model, m.seconds().get(m.optimizer())));
      double e;
      if (refresh != null) {
        out.println(stepLine("refresh_shape", m.optimizer(), refreshOnly(refresh, normal), model,
            m.seconds().get(m.optimizer() + "-refresh") - m.seconds().get(m.optimizer()))
            + String.format(Locale.ROOT, " step_nodes=%d", refresh.nodes()));
        e = model.epochSeconds(normal, refresh, m.refreshPeriod(), steps);
      } else {
        e = model.epochSeconds(normal, null, 1, steps);
      }
      epoch.put(m.optimizer(), e);
    }
    Double adam = epoch.get("adam");
    for (Map.Entry<String, Double> e : epoch.entrySet()) {
      out.println(String.format(Locale.ROOT, "model_epoch optimizer=%s gpu=%s seconds=%.4f ratio_vs_adam=%s steps=%d",
          e.getKey(), model.name(), e.getValue(), adam == null ? "NA" : String.format(Locale.ROOT, "%.3f",
              e.getValue() / adam), steps));
    }
    out.flush();
    return 0;
  }
}
