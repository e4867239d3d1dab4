package org.rfim4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Split;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingStoppedException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code rfim4j reproduce fig2}: the paper's Figure 2 with a fair protocol. For each architecture (PLAIN, BNA)
 * and optimizer (SGD, Adam, RNGD, and RNGD with the bias-corrected metric start, {@code rngd-bc}):
 *
 * <ol>
 *   <li>learning-rate selection "based on the validation accuracy" over the same horizon as the reported
 *       runs: every rate of the optimizer's grid trained for {@code --epochs} on {@code --selection-seed}
 *       (not a reported seed), scored by the mean validation error of its last three epochs; a winner on
 *       the edge of the grid extends the grid by one step beyond it (at most {@code --max-extensions} times),
 *       and one still on the edge is reported as EDGE;</li>
 *   <li>{@code --seeds} reported runs (seeds 1..N) at the chosen rate.</li>
 * </ol>
 *
 * <p>After every epoch each run also records the test error (t10k) and, with batch norm, the validation
 * and test errors with population statistics recomputed over the training set (precise BN; training is
 * unchanged by it). Writes per-run curves ({@code sweep/ARCH-OPT-lrRATE/}, {@code ARCH-OPT-seedS/}:
 * curve.csv, eval.csv), {@code sweep.md}, {@code summary.md} (final, best and test errors with 95% intervals,
 * seconds per epoch, time to 97% and 97.5% validation accuracy) and plots against epoch and against training
 * seconds, rebuilt after every optimizer; {@code --report} rebuilds them from the folders alone.
 *
 * <p>The default is the reduced protocol (20 epochs, 5 seeds: about an hour per architecture on a 2-core
 * CPU); the paper's full protocol is {@code --epochs 100 --seeds 40}.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
    description = {"Reproduce the paper's Figure 2 (learning curves of SGD, Adam and RNGD, PLAIN and BNA) with a fair"
        + " protocol: each optimizer's rate chosen on a separate seed over the full horizon (mean validation error"
        + " of the last three epochs), then --seeds reported runs; test error, precise-BN evaluation for BNA,"
        + " times to 97%/97.5%, plots against epoch and seconds.",
        "Reduced protocol by default (--epochs 20 --seeds 5); the paper's is --epochs 100 --seeds 40."})
public final class ReproduceCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "what to reproduce: fig2")
  String what;

  @Mixin
  RunOptions run;

  @Option(names = "--archs", defaultValue = "plain,bna", split = ",", description = "architectures (default: ${DEFAULT-VALUE})")
  List<String> archs;

  @Option(names = "--optimizers", defaultValue = "sgd,adam,rngd,rngd-bc", split = ",",
      description = "optimizers: sgd, adam, rngd, rngd-bc (RNGD with the bias-corrected metric start) (default: ${DEFAULT-VALUE})")
  List<String> optimizers;

  @Option(names = "--grid-sgd", defaultValue = "0.01,0.03,0.1,0.3,1", split = ",", description = "SGD rates (default: ${DEFAULT-VALUE})")
  List<Double> gridSgd;

  @Option(names = "--grid-adam", defaultValue = "1e-4,3e-4,1e-3,3e-3,1e-2", split = ",", description = "Adam rates (default: ${DEFAULT-VALUE})")
  List<Double> gridAdam;

  @Option(names = "--grid-rngd", defaultValue = "1e-3,3e-3,0.01,0.03,0.1,0.3,1", split = ",",
      description = "RNGD rates (default: ${DEFAULT-VALUE}, MATH.md 8.3)")
  List<Double> gridRngd;

  @Option(names = "--grid-rngd-bc", defaultValue = "3e-3,0.01,0.03,0.1,0.3", split = ",",
      description = "RNGD bias-corrected rates (default: ${DEFAULT-VALUE})")
  List<Double> gridRngdBc;

  @Option(names = "--rngd-bc-eps", defaultValue = "1e-2", description = "eps_rel (canonical damping) of rngd-bc"
      + " (default: ${DEFAULT-VALUE}; the paper's 1e-4 makes the corrected start diverge, docs/rngd.md)")
  double rngdBcEps;

  @Option(names = "--max-extensions", defaultValue = "2", description = "grid extensions when the winner is on an edge (default: ${DEFAULT-VALUE})")
  int maxExtensions;

  @Option(names = "--selection-seed", defaultValue = "1000", description = "seed of the selection runs; must not be a reported seed (default: ${DEFAULT-VALUE})")
  long selectionSeed;

  @Option(names = "--seeds", defaultValue = "5", description = "reported seeds 1..N (default: ${DEFAULT-VALUE})")
  int seeds;

  @Option(names = "--out", defaultValue = "runs/fig2", description = "output directory (default: ${DEFAULT-VALUE})")
  Path out;

  @Option(names = "--run-seeds", split = ",", description = "train only these of the reported seeds (default: all;"
      + " to split the reported runs over several processes writing to the same --out, each with --reuse)")
  List<Integer> runSeeds;

  @Option(names = "--selection-only", description = "run the learning-rate selection only, no reported runs (e.g. to"
      + " train candidate rates in parallel processes writing to the same --out)")
  boolean selectionOnly;

  @Option(names = "--reuse", description = "keep runs already complete in --out (same settings assumed) instead of training them again")
  boolean reuse;

  @Option(names = "--report", description = "train nothing: rebuild sweep.md, summary.md and the plots from the runs in --out")
  boolean report;

  @Spec
  CommandSpec spec;

  /** The reduced protocol's horizon, when --epochs is not given. */
  static final int DEFAULT_EPOCHS = 20;

  @Override
  public Integer call() {
    if (!what.equalsIgnoreCase("fig2")) {
      throw new IllegalArgumentException("unknown reproduction '" + what + "' (expected fig2)");
    }
    if (!run.given("--epochs")) {
      run.epochs = DEFAULT_EPOCHS;
    }
    if (seeds < 1 || run.epochs < 1) {
      throw new IllegalArgumentException("--seeds and --epochs must be >= 1");
    }
    if (selectionSeed >= 1 && selectionSeed <= seeds) {
      throw new IllegalArgumentException("--selection-seed " + selectionSeed + " is one of the reported seeds 1.."
          + seeds + "; choose another");
    }
    if (runSeeds != null) {
      for (int s : runSeeds) {
        if (s < 1 || s > seeds) {
          throw new IllegalArgumentException("--run-seeds " + s + " is not a reported seed (1.." + seeds + ")");
        }
      }
    }
    if (maxExtensions < 0) {
      throw new IllegalArgumentException("--max-extensions must be >= 0, got " + maxExtensions);
    }
    if (!(rngdBcEps >= 0) || Double.isInfinite(rngdBcEps)) {
      throw new IllegalArgumentException("--rngd-bc-eps must be a finite number >= 0, got " + rngdBcEps);
    }
    if (run.rngdBiasCorrection) {
      throw new IllegalArgumentException("--rngd-bias-correction: in reproduce, list the optimizer rngd-bc instead"
          + " (rngd stays the paper's)");
    }
    String first = run.arch;
    for (int i = 0; i < archs.size(); i++) {
      archs.set(i, archs.get(i).trim().toLowerCase(Locale.ROOT));
      run.arch = archs.get(i);
      run.check();
    }
    run.arch = first;
    for (int i = 0; i < optimizers.size(); i++) {
      optimizers.set(i, optimizers.get(i).trim().toLowerCase(Locale.ROOT));
      for (double lr : grid(optimizers.get(i))) {
        if (!(lr > 0) || Double.isInfinite(lr)) {
          throw new IllegalArgumentException("--grid-" + optimizers.get(i) + " rates must be finite and > 0, got " + lr);
        }
      }
    }
    PrintStream stdout = System.out;
    String command = "./rfim4j " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
    if (report) {
      // The command that made the runs, when the folder records it (command.txt), else this one.
      Path made = out.resolve("command.txt");
      try {
        if (java.nio.file.Files.isRegularFile(made)) {
          command = java.nio.file.Files.readString(made).strip();
        }
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("cannot read " + made + ": " + e.getMessage(), e);
      }
      Fig2Report.write(out, archs, optimizers, run.epochs, seeds, setup(null), command);
      stdout.println("rebuilt " + out.resolve("summary.md") + " and " + out.resolve("sweep.md"));
      return 0;
    }
    AtomicFiles.writeString(out.resolve("command.txt"), command + "\n");
    Split data = run.loadData();
    String arch0 = run.arch;
    try (Backend backend = run.openBackend()) {
      String setup = setup(backend.name());
      for (String arch : archs) {
        run.arch = arch;
        for (String opt : optimizers) {
          double lr = select(backend, data, arch, opt, stdout);
          if (selectionOnly) {
            continue;
          }
          for (int s = 1; s <= seeds; s++) {
            if (runSeeds != null && !runSeeds.contains(s)) {
              continue;
            }
            Path dir = Fig2Report.seedDir(out, arch, opt, s);
            if (reuse && complete(dir)) {
              stdout.println("reuse " + dir);
              continue;
            }
            train(backend, data, opt, lr, s, dir, stdout);
          }
          Fig2Report.write(out, archs, optimizers, run.epochs, seeds, setup, command);
        }
      }
      stdout.println();
      stdout.print(Fig2Report.write(out, archs, optimizers, run.epochs, seeds, setup, command));
      RunOptions.printProfile(backend, stdout);
    } finally {
      run.arch = arch0;
    }
    return 0;
  }

  private String setup(String backendName) {
    return String.format(Locale.ROOT, "%s, %s %s, batch %d, L2 %s, init std %s, batch-norm decay %s; %d epochs; "
        + "selection seed %d; reported seeds 1..%d%s. RNGD: lambda %s, T %d, omega %s, damping %s, order %s; "
        + "rngd-bc is RNGD with the bias-corrected metric start (docs/rngd.md) and canonical damping eps_rel %s.", run.dataset,
        run.modelConfig(784, 10, 0).describe(), run.activation, run.batch, run.l2, run.initStd, run.bnMomentum,
        run.epochs, selectionSeed, seeds, backendName == null ? "" : "; backend " + backendName, run.rngdLambda,
        run.rngdT, run.rngdOmega, run.rngdDamping, run.rngdOrder, rngdBcEps);
  }

  /** Runs (or reuses) the selection runs of one optimizer and returns the chosen rate. */
  private double select(Backend backend, Split data, String arch, String opt, PrintStream stdout) {
    Map<Double, Double> scores = new TreeMap<>();
    for (double lr : grid(opt)) {
      scores.put(lr, selectionRun(backend, data, arch, opt, lr, stdout));
    }
    for (int ext = 0; ; ext++) {
      double best = Double.NaN;
      double bestScore = Double.POSITIVE_INFINITY;
      for (Map.Entry<Double, Double> e : scores.entrySet()) {
        if (e.getValue() < bestScore) {
          bestScore = e.getValue();
          best = e.getKey();
        }
      }
      if (Double.isNaN(best)) {
        throw new IllegalStateException("every learning rate diverged for " + opt + " on " + arch + ": "
            + scores.keySet());
      }
      List<Double> rates = new ArrayList<>(scores.keySet());
      boolean low = best == rates.get(0);
      boolean high = best == rates.get(rates.size() - 1);
      if (!low && !high) {
        stdout.println("chosen " + arch + " " + opt + " lr=" + Fig2Report.lrName(best));
        return best;
      }
      if (ext >= maxExtensions) {
        stdout.println("EDGE: " + arch + " " + opt + " lr=" + Fig2Report.lrName(best) + " is on the edge of its grid "
            + rates + " after " + maxExtensions + " extensions");
        return best;
      }
      double next = low ? extend(rates.get(0), rates.size() > 1 ? rates.get(1) : rates.get(0) * 3,
          rates.size() > 2 ? rates.get(2) : Double.NaN)
          : extend(rates.get(rates.size() - 1), rates.size() > 1 ? rates.get(rates.size() - 2) : rates.get(0) / 3,
              rates.size() > 2 ? rates.get(rates.size() - 3) : Double.NaN);
      stdout.println("extend " + arch + " " + opt + ": lr=" + Fig2Report.lrName(best) + " is on the "
          + (low ? "low" : "high") + " edge; trying " + Fig2Report.lrName(next));
      scores.put(next, selectionRun(backend, data, arch, opt, next, stdout));
    }
  }

  /**
   * One step beyond {@code edge}, away from its neighbour {@code n1}: the step two places back ({@code n1 / n2},
   * which keeps a 1-3-10 grid's alternation) when there is one, else the ratio {@code edge / n1}; rounded to
   * six significant digits.
   */
  static double extend(double edge, double n1, double n2) {
    double x = Double.isNaN(n2) ? edge * edge / n1 : edge * n1 / n2;
    return Double.parseDouble(String.format(Locale.ROOT, "%.6g", x));
  }

  private double selectionRun(Backend backend, Split data, String arch, String opt, double lr, PrintStream stdout) {
    Path dir = Fig2Report.sweepDir(out, arch, opt, lr);
    if (!(reuse && complete(dir))) {
      train(backend, data, opt, lr, selectionSeed, dir, stdout);
    } else {
      stdout.println("reuse " + dir);
    }
    Fig2Report.RunData r = Fig2Report.read(dir);
    List<Double> v = new ArrayList<>();
    r.curve().forEach(e -> v.add(e.valError()));
    double score = Fig2Report.score(v, run.epochs, r.complete(run.epochs));
    stdout.println("selection " + arch + " " + opt + " lr=" + Fig2Report.lrName(lr) + ": " + (Double.isFinite(score)
        ? String.format(Locale.ROOT, "mean val error of the last 3 epochs %.3f%%", 100 * score) : r.stopped() != null
        ? "diverged" : "incomplete"));
    return score;
  }

  private boolean complete(Path dir) {
    Fig2Report.RunData r = Fig2Report.read(dir);
    return r != null && (r.complete(run.epochs) || r.stopped() != null);
  }

  private void train(Backend backend, Split data, String opt, double lr, long seed, Path dir, PrintStream stdout) {
    OptimizerSpec os = spec(opt, lr);
    try {
      java.nio.file.Files.deleteIfExists(dir.resolve(Fig2Report.STOPPED));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot clear " + dir + ": " + e.getMessage(), e);
    }
    AtomicFiles.writeString(dir.resolve(Fig2Report.LR_FILE), opt + " " + Fig2Report.lrName(lr) + "\n");
    try {
      Runner.run(backend, data, run.modelConfig(data.train().d(), data.train().classes(), seed), os,
          TrainerConfig.of(run.epochs, run.batch, seed).withCudaGraphs(run.cudaGraphsOn()), dir, null, null,
          run.quiet, stdout, run.dataRecord(data),
          (model, trainer) -> new EvalProbe(model, trainer, data, run.batch, dir.resolve(EvalProbe.FILE)));
    } catch (TrainingStoppedException e) {
      stdout.println("note: " + opt + " lr=" + Fig2Report.lrName(lr) + " seed " + seed + " stopped: " + e.getMessage());
      AtomicFiles.writeString(dir.resolve(Fig2Report.STOPPED), e.getMessage().split("\n")[0] + "\n");
    }
  }

  private OptimizerSpec spec(String opt, double lr) {
    switch (opt) {
      case "rngd":
        return OptimizerSpec.rngd(run.rngdConfig(lr));
      case "rngd-bc":
        return OptimizerSpec.rngd(run.rngdConfig(lr).withBiasCorrection(true)
            .withDamping(org.rfim4j.optim.RngdConfig.Damping.CANONICAL, rngdBcEps));
      default:
        return TrainCommand.spec(opt, lr, 0, run);
    }
  }

  private List<Double> grid(String opt) {
    switch (opt) {
      case "sgd":
        return gridSgd;
      case "adam":
        return gridAdam;
      case "rngd":
        return gridRngd;
      case "rngd-bc":
        return gridRngdBc;
      default:
        throw new IllegalArgumentException("unknown optimizer '" + opt + "' (expected sgd, adam, rngd or rngd-bc)");
    }
  }
}
