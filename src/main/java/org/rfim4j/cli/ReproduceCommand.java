package org.rfim4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Split;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingStoppedException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code rfim4j reproduce fig2}: the paper's Figure 2 protocol. For each architecture (PLAIN, BNA) and
 * optimizer (SGD, Adam, RNGD): a learning-rate sweep over a grid (one seed, {@code --sweep-epochs}),
 * the rate with the lowest final validation error chosen, then {@code --seeds} runs of {@code --epochs}
 * at that rate. Writes per-run curves, {@code sweep.md}, {@code summary.md} and {@code fig2-ARCH.png}
 * (training and validation error against epoch, mean with a band of one standard deviation).
 *
 * <p>The paper's full protocol is 100 epochs and 40 seeds ({@code --epochs 100 --seeds 40}); the default
 * is a reduced protocol that fits a 2-core CPU in about an hour.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
    description = "Reproduce the paper's Figure 2 (learning curves of SGD, Adam and RNGD, PLAIN and BNA).")
public final class ReproduceCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "what to reproduce: fig2")
  String what;

  @Mixin
  RunOptions run;

  @Option(names = "--archs", defaultValue = "plain,bna", split = ",", description = "architectures (default: ${DEFAULT-VALUE})")
  List<String> archs;

  @Option(names = "--optimizers", defaultValue = "sgd,adam,rngd", split = ",", description = "optimizers (default: ${DEFAULT-VALUE})")
  List<String> optimizers;

  @Option(names = "--grid-sgd", defaultValue = "0.03,0.1,0.3", split = ",", description = "SGD rates to sweep (default: ${DEFAULT-VALUE})")
  List<Double> gridSgd;

  @Option(names = "--grid-adam", defaultValue = "3e-4,1e-3,3e-3", split = ",", description = "Adam rates to sweep (default: ${DEFAULT-VALUE})")
  List<Double> gridAdam;

  @Option(names = "--grid-rngd", defaultValue = "0.03,0.1,0.3", split = ",", description = "RNGD rates to sweep (default: ${DEFAULT-VALUE})")
  List<Double> gridRngd;

  @Option(names = "--sweep-epochs", defaultValue = "2", description = "epochs per sweep run (default: ${DEFAULT-VALUE})")
  int sweepEpochs;

  @Option(names = "--seeds", defaultValue = "3", description = "seeds per final run (default: ${DEFAULT-VALUE})")
  int seeds;

  @Option(names = "--out", defaultValue = "runs/fig2", description = "output directory (default: ${DEFAULT-VALUE})")
  Path out;

  @Override
  public Integer call() {
    if (!what.equalsIgnoreCase("fig2")) {
      throw new IllegalArgumentException("unknown reproduction '" + what + "' (expected fig2)");
    }
    if (seeds < 1 || sweepEpochs < 1 || run.epochs < 1) {
      throw new IllegalArgumentException("--seeds, --sweep-epochs and --epochs must be >= 1");
    }
    String first = run.arch;
    for (String arch : archs) {
      run.arch = arch;
      run.check();
    }
    run.arch = first;
    for (String opt : optimizers) {
      grid(opt);
    }
    PrintStream stdout = System.out;
    Split data = run.loadData();
    StringBuilder sweepMd = new StringBuilder("# Learning-rate sweep (seed 1000, " + sweepEpochs
        + " epochs; lowest final validation error wins)\n\n| arch | optimizer | lr | final val error % |\n|---|---|---|---|\n");
    StringBuilder summary = new StringBuilder();
    String arch0 = run.arch;
    try (Backend backend = run.openBackend()) {
      for (String arch : archs) {
        run.arch = arch;
        Map<String, List<List<EpochResult>>> curves = new LinkedHashMap<>();
        for (String opt : optimizers) {
          double best = Double.NaN;
          double bestErr = Double.POSITIVE_INFINITY;
          for (double lr : grid(opt)) {
            OptimizerSpec spec = TrainCommand.spec(opt, lr, 0, run);
            double err;
            try {
              List<EpochResult> c = Runner.run(backend, data, run.modelConfig(data.train().d(), data.train().classes(),
                  1000), spec, TrainerConfig.of(sweepEpochs, run.batch, 1000),
                  out.resolve("sweep").resolve(arch + "-" + opt + "-lr" + lr), null, null, true, stdout,
                  run.dataRecord(data));
              err = c.get(c.size() - 1).valError();
            } catch (TrainingStoppedException e) {
              err = Double.POSITIVE_INFINITY;
            }
            sweepMd.append(String.format(Locale.ROOT, "| %s | %s | %s | %s |%n", arch, opt, lr,
                Double.isFinite(err) ? String.format(Locale.ROOT, "%.2f", 100 * err) : "diverged"));
            stdout.println("sweep " + arch + " " + opt + " lr=" + lr + ": " + (Double.isFinite(err)
                ? String.format(Locale.ROOT, "val error %.2f%%", 100 * err) : "diverged"));
            if (err < bestErr) {
              bestErr = err;
              best = lr;
            }
          }
          if (Double.isNaN(best)) {
            throw new IllegalStateException("every learning rate diverged for " + opt + " on " + arch);
          }
          OptimizerSpec spec = TrainCommand.spec(opt, best, 0, run);
          List<List<EpochResult>> runs = new ArrayList<>();
          for (int s = 1; s <= seeds; s++) {
            try {
              runs.add(Runner.run(backend, data, run.modelConfig(data.train().d(), data.train().classes(), s), spec,
                  TrainerConfig.of(run.epochs, run.batch, s), out.resolve(arch + "-" + opt + "-seed" + s), null, null,
                  run.quiet, stdout, run.dataRecord(data)));
            } catch (TrainingStoppedException e) {
              stdout.println("note: " + spec.label() + " seed " + s + " stopped: " + e.getMessage());
            }
          }
          curves.put(spec.label(), runs);
          AtomicFiles.writeString(out.resolve("sweep.md"), sweepMd.toString());
        }
        String title = run.dataset + " " + arch.toUpperCase(Locale.ROOT) + " "
            + run.modelConfig(data.train().d(), data.train().classes(), 0).describe() + " " + run.activation + ", batch "
            + run.batch + ", " + seeds + " seeds, " + backend.name();
        summary.append(Summary.markdown(title, curves)).append('\n');
        CurvePlot.writeBands(out.resolve("fig2-" + arch + ".png"), title, curves);
        AtomicFiles.writeString(out.resolve("summary.md"), summary.toString());
      }
      stdout.println();
      stdout.print(sweepMd);
      stdout.println();
      stdout.print(summary);
      RunOptions.printProfile(backend, stdout);
    } finally {
      run.arch = arch0;
    }
    return 0;
  }

  private List<Double> grid(String opt) {
    switch (opt.trim().toLowerCase(Locale.ROOT)) {
      case "sgd":
        return gridSgd;
      case "adam":
        return gridAdam;
      case "rngd":
        return gridRngd;
      default:
        throw new IllegalArgumentException("unknown optimizer '" + opt + "' (expected sgd, adam or rngd)");
    }
  }
}
