package org.rfim4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.ProfilingBackend;
import org.rfim4j.data.Dataset;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.train.DivergenceStop;
import org.rfim4j.train.Curves;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.MemoryEstimate;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingStoppedException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code rfim4j bench}: an optimizer race. SGD, Adam and RNGD (or any list) train the same network from the
 * same initial weights on the same mini-batches (one seed for all), epochs interleaved round-robin
 * (epoch 1 of every optimizer, then epoch 2, ...) so that a slow spell of a shared machine hits all of
 * them alike. Before the race each optimizer runs {@code --warmup-steps} steps on a throwaway model so
 * that JIT compilation is not billed to whoever goes first.
 *
 * <p>Reports per optimizer: median seconds per epoch (training steps only, validation excluded, as the
 * {@code seconds} column of curve.csv), steps per second, the cost ratios against Adam (RNGD/Adam and
 * SGD/Adam of the median epoch), and time to a target validation accuracy: the cumulative training
 * seconds at the end of the first epoch whose validation accuracy reaches the target (epoch granularity).
 * With {@code --out}: race.json, race.md and one curve.csv per optimizer, rewritten (atomically) after every
 * epoch of every optimizer, so a run that is cut off leaves what it finished ({@code "complete": false} in
 * race.json until the last epoch is in).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Optimizer race: SGD, Adam and RNGD on the same data, seed and batches; prints seconds per epoch "
        + "(median), steps per second, ratios to Adam and time to a target validation accuracy.")
public final class BenchCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  RunOptions run;

  @Option(names = "--optimizers", defaultValue = "sgd,adam,rngd", split = ",",
      description = "optimizers in the race (default: ${DEFAULT-VALUE})")
  List<String> optimizers;

  @Option(names = "--lr", split = ",", description = "learning rates as name=value (default sgd=0.1,adam=0.001,rngd=0.03)")
  Map<String, Double> lr = new LinkedHashMap<>();

  @Option(names = "--seed", defaultValue = "1", description = "initialisation and shuffling seed shared by all (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--target", defaultValue = "0.97", description = "target validation accuracy in (0, 1) (default: ${DEFAULT-VALUE})")
  double target;

  @Option(names = "--warmup-steps", defaultValue = "200", description = "untimed steps per optimizer on a throwaway model before the race (default: ${DEFAULT-VALUE})")
  int warmupSteps;

  @Option(names = "--out", description = "directory for race.json, race.md and <optimizer>/curve.csv")
  Path out;

  @Option(names = "--shape", description = "instead of the race: the shape of each optimizer's captured step on a GPU"
      + " backend (graph nodes by kind, host synchronisations, bytes) and the modelled epoch (docs/gpu-cost-model.md);"
      + " synthetic data of the dataset's shape (784 features, 10 classes), no data files needed")
  boolean shape;

  /** Called with --out after each write of the results (tests look at the files then). */
  java.util.function.Consumer<Path> afterWrite = p -> { };

  /** The race result of one optimizer. */
  record Lane(String optimizer, String label, List<EpochResult> curve, String stopped) {}

  @Override
  public Integer call() throws Exception {
    PrintWriter stdout = spec.commandLine().getOut();
    if (shape) {
      run.check();
      List<OptimizerSpec> specs = TrainCommand.specs(optimizers, lr, run);
      MlpConfig modelConfig = run.modelConfig(784, 10, seed);
      try (Backend backend = run.openBackend()) {
        return StepShapeReport.run(backend, modelConfig, run.batch,
            run.trainSize == null ? 50_000 : run.trainSize, specs, seed, stdout);
      }
    }
    if (!(target > 0 && target < 1)) {
      throw new IllegalArgumentException("--target must be a validation accuracy in (0, 1), got " + target);
    }
    if (warmupSteps < 0) {
      throw new IllegalArgumentException("--warmup-steps must be >= 0, got " + warmupSteps);
    }
    if (run.epochs < 1) {
      throw new IllegalArgumentException("--epochs must be >= 1 for a race, got " + run.epochs);
    }
    run.check();
    List<OptimizerSpec> specs = TrainCommand.specs(optimizers, lr, run);
    run.noteWithoutEffect(specs.stream().map(OptimizerSpec::name).toList(), "--optimizers "
        + String.join(",", optimizers));
    Split data = run.loadData();
    MlpConfig modelConfig = run.modelConfig(data.train().d(), data.train().classes(), seed);
    int steps = (data.train().n() + run.batch - 1) / run.batch;
    int maxBatch = Math.max(run.batch, TrainerConfig.of(1, run.batch, seed).evalBatch());
    List<Lane> lanes = new ArrayList<>();
    String backendName;
    try (Backend backend = run.openBackend()) {
      backendName = backend.name();
      // Every lane keeps its model, optimizer and device data for the whole race: they must fit together.
      MemoryEstimate total = null;
      for (OptimizerSpec s : specs) {
        TrainerConfig tc = TrainerConfig.of(run.epochs, run.batch, seed);
        MemoryEstimate e = MemoryEstimate.of(modelConfig, s, tc.batchSize(), tc.evalBatch(), data.train().n(),
            data.validation().n());
        total = total == null ? e : total.plus(e);
      }
      if (specs.size() == 1) { // one lane: a refusal also names the metric kinds and optimizers that would fit
        TrainerConfig tc = TrainerConfig.of(run.epochs, run.batch, seed);
        MemoryEstimate.require(modelConfig, specs.get(0), tc.batchSize(), tc.evalBatch(), data.train().n(),
            data.validation().n(), backend, false, 0, null);
      } else if (total != null) {
        total.require(backend, false);
      }
      if (warmupSteps > 0) {
        warmUp(backend, data, modelConfig, specs, maxBatch, stdout);
        if (backend instanceof ProfilingBackend) {
          ((ProfilingBackend) backend).reset();
        }
      }
      String title = run.dataset + " " + modelConfig.describe() + " " + run.activation + " "
          + run.arch.toUpperCase(Locale.ROOT) + ", batch " + run.batch + ", " + steps + " steps/epoch, seed " + seed
          + ", " + backendName;
      List<Mlp> models = new ArrayList<>();
      List<Optimizer> opts = new ArrayList<>();
      List<Trainer> trainers = new ArrayList<>();
      List<List<EpochResult>> curves = new ArrayList<>();
      String[] stopped = new String[specs.size()];
      try {
        for (OptimizerSpec s : specs) {
          Mlp m = new Mlp(backend, modelConfig, maxBatch);
          models.add(m);
          Optimizer o = s.create(m);
          opts.add(o);
          // One trainer per lane for the whole race: the data is uploaded (and a CUDA step captured) once.
          trainers.add(new Trainer(m, o, TrainerConfig.of(run.epochs, run.batch, seed)).retainDeviceData()
              .addListener(new DivergenceStop()));
          curves.add(new ArrayList<>());
        }
        for (int epoch = 1; epoch <= run.epochs; epoch++) {
          for (int i = 0; i < specs.size(); i++) {
            if (stopped[i] != null) {
              continue;
            }
            List<EpochResult> curve = curves.get(i);
            double secs = curve.isEmpty() ? 0 : curve.get(curve.size() - 1).seconds();
            Trainer t = trainers.get(i);
            try {
              List<EpochResult> c = t.fit(data.train(), data.validation(), epoch);
              curve.clear();
              curve.addAll(c);
              EpochResult r = c.get(c.size() - 1);
              if (!run.quiet) {
                stdout.printf(Locale.ROOT, "epoch %d  %-18s %7.2f s  val acc %6.2f%%%n", epoch, specs.get(i).label(),
                    r.seconds() - secs, 100 * (1 - r.valError()));
                stdout.flush();
              }
            } catch (TrainingStoppedException e) {
              stopped[i] = e.getMessage();
              stdout.println("note: " + specs.get(i).label() + " stopped: " + e.getMessage());
            }
            if (out != null) {  // after every epoch: a run cut off keeps what it finished
              write(title, backendName, modelConfig, lanes(specs, curves, stopped), steps, false);
            }
          }
        }
      } finally {
        trainers.forEach(Trainer::close);
        opts.forEach(Optimizer::close);
        models.forEach(Mlp::close);
      }
      lanes.addAll(lanes(specs, curves, stopped));
      String md = markdown(title, lanes, steps, target);
      stdout.println();
      stdout.print(md);
      if (out != null) {
        write(title, backendName, modelConfig, lanes, steps, true);
        stdout.println("wrote " + out.resolve("race.md") + ", " + out.resolve("race.json") + " and <optimizer>/curve.csv");
      }
      if (backend instanceof ProfilingBackend) {
        stdout.println();
        stdout.println("where the time went (" + backendName + ", all optimizers, synchronous timing):");
        stdout.print(((ProfilingBackend) backend).report());
      }
      stdout.flush();
    }
    return 0;
  }

  /** The lanes as they stand (curves copied). */
  private static List<Lane> lanes(List<OptimizerSpec> specs, List<List<EpochResult>> curves, String[] stopped) {
    List<Lane> lanes = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) {
      lanes.add(new Lane(specs.get(i).name(), specs.get(i).label(), List.copyOf(curves.get(i)), stopped[i]));
    }
    return lanes;
  }

  /** Writes race.md, race.json and every lane's curve.csv under --out, each atomically. */
  private void write(String title, String backendName, MlpConfig modelConfig, List<Lane> lanes, int steps,
      boolean complete) throws Exception {
    AtomicFiles.writeString(out.resolve("race.md"), markdown(title, lanes, steps, target));
    AtomicFiles.writeString(out.resolve("race.json"), json(title, backendName, modelConfig, lanes, steps, target,
        run.epochs, warmupSteps, complete));
    for (Lane l : lanes) {
      StringBuilder csv = new StringBuilder(EpochResult.CSV_HEADER).append('\n');
      l.curve().forEach(r -> csv.append(r.toCsv()).append('\n'));
      AtomicFiles.writeString(out.resolve(l.optimizer()).resolve("curve.csv"), csv.toString());
    }
    afterWrite.accept(out);
  }

  private void warmUp(Backend backend, Split data, MlpConfig modelConfig, List<OptimizerSpec> specs, int maxBatch,
      PrintWriter stdout) {
    int n = Math.min(data.train().n(), warmupSteps * run.batch);
    Dataset train = data.train().subset(0, n, "warm-up");
    Dataset val = data.validation().subset(0, Math.min(data.validation().n(), maxBatch), "warm-up-validation");
    if (!run.quiet) {
      stdout.println("warm-up: " + warmupSteps + " untimed steps per optimizer");
      stdout.flush();
    }
    for (OptimizerSpec s : specs) {
      try (Mlp m = new Mlp(backend, modelConfig, maxBatch); Optimizer o = s.create(m)) {
        new Trainer(m, o, TrainerConfig.of(1, run.batch, seed)).fit(train, val);
      } catch (TrainingStoppedException e) {
        stdout.println("note: warm-up of " + s.label() + " stopped: " + e.getMessage());
      }
    }
  }

  // ------------------------------------------------------------------ statistics (package-private for tests)

  /** The first epoch whose validation accuracy is at least {@code target}, or null. */
  static EpochResult firstReaching(List<EpochResult> curve, double target) {
    for (EpochResult r : curve) {
      if (1 - r.valError() >= target) {
        return r;
      }
    }
    return null;
  }

  private static Lane adam(List<Lane> lanes) {
    return lanes.stream().filter(l -> l.optimizer().equals("adam")).findFirst().orElse(null);
  }

  static String markdown(String title, List<Lane> lanes, int steps, double target) {
    Lane adam = adam(lanes);
    double adamMedian = adam == null ? Double.NaN : Curves.median(Curves.secondsPerEpoch(adam.curve()));
    StringBuilder sb = new StringBuilder();
    sb.append("# Optimizer race: ").append(title).append("\n\n");
    sb.append(String.format(Locale.ROOT, "| optimizer | epochs | s/epoch (median) | steps/s | x adam | best val acc | "
        + "time to %.1f%% val acc |%n", 100 * target));
    sb.append("|---|---:|---:|---:|---:|---:|---|\n");
    for (Lane l : lanes) {
      double med = Curves.median(Curves.secondsPerEpoch(l.curve()));
      double best = l.curve().stream().mapToDouble(r -> 1 - r.valError()).max().orElse(Double.NaN);
      EpochResult hit = firstReaching(l.curve(), target);
      String tt = hit == null ? "not reached" : String.format(Locale.ROOT, "%.1f s (epoch %d)", hit.seconds(), hit.epoch());
      sb.append(String.format(Locale.ROOT, "| %s | %d%s | %.3f | %.1f | %s | %.2f%% | %s |%n", l.label(), l.curve().size(),
          l.stopped() == null ? "" : " (stopped)", med, steps / med,
          Double.isNaN(adamMedian) ? "n/a" : String.format(Locale.ROOT, "%.2f", med / adamMedian), 100 * best, tt));
    }
    Lane sgd = lanes.stream().filter(l -> l.optimizer().equals("sgd")).findFirst().orElse(null);
    Lane rngd = lanes.stream().filter(l -> l.optimizer().equals("rngd")).findFirst().orElse(null);
    sb.append('\n');
    if (adam != null && rngd != null) {
      sb.append(String.format(Locale.ROOT, "RNGD/Adam seconds per epoch: %.2f%n", Curves.median(Curves.secondsPerEpoch(rngd.curve())) / adamMedian));
    }
    if (adam != null && sgd != null) {
      sb.append(String.format(Locale.ROOT, "SGD/Adam seconds per epoch: %.2f%n", Curves.median(Curves.secondsPerEpoch(sgd.curve())) / adamMedian));
    }
    sb.append("\nSeconds are training steps only (validation excluded); epochs interleaved round-robin; time to target "
        + "is cumulative training time at the end of the first epoch reaching it.\n");
    return sb.toString();
  }

  static String json(String title, String backend, MlpConfig model, List<Lane> lanes, int steps, double target,
      int epochs, int warmupSteps, boolean complete) throws Exception {
    Lane adam = adam(lanes);
    double adamMedian = adam == null ? Double.NaN : Curves.median(Curves.secondsPerEpoch(adam.curve()));
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("title", title);
    root.put("backend", backend);
    root.put("network", model.describe());
    root.put("stepsPerEpoch", steps);
    root.put("epochs", epochs);
    root.put("warmupSteps", warmupSteps);
    root.put("complete", complete);
    root.put("targetValidationAccuracy", target);
    root.put("availableProcessors", Runtime.getRuntime().availableProcessors());
    List<Map<String, Object>> list = new ArrayList<>();
    for (Lane l : lanes) {
      Map<String, Object> m = new LinkedHashMap<>();
      double med = Curves.median(Curves.secondsPerEpoch(l.curve()));
      EpochResult hit = firstReaching(l.curve(), target);
      m.put("optimizer", l.optimizer());
      m.put("label", l.label());
      m.put("secondsPerEpoch", Curves.secondsPerEpoch(l.curve()));
      m.put("medianSecondsPerEpoch", finite(med));
      m.put("stepsPerSecond", finite(steps / med));
      m.put("ratioToAdam", finite(med / adamMedian));
      m.put("timeToTargetSeconds", hit == null ? null : hit.seconds());
      m.put("epochToTarget", hit == null ? null : hit.epoch());
      m.put("stopped", l.stopped());
      List<Map<String, Object>> curve = new ArrayList<>();
      for (EpochResult r : l.curve()) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("epoch", r.epoch());
        row.put("trainLoss", finite(r.trainLoss()));
        row.put("trainError", finite(r.trainError()));
        row.put("valLoss", finite(r.valLoss()));
        row.put("valError", finite(r.valError()));
        row.put("seconds", r.seconds());
        curve.add(row);
      }
      m.put("curve", curve);
      list.add(m);
    }
    root.put("optimizers", list);
    return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n";
  }

  private static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }
}
