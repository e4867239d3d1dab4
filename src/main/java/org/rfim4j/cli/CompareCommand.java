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

/**
 * {@code rfim4j compare}: several optimizers (and seeds) on the same data; writes {@code summary.md} and
 * {@code curves.png} (error against epoch, train dashed and validation solid, one colour per optimizer,
 * mean over seeds) in the style of the paper's Figure 2.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
    description = "Train several optimizers side by side; writes summary.md, curves.png and each run's curve.csv.")
public final class CompareCommand implements Callable<Integer> {
  @Mixin
  RunOptions run;

  @Option(names = "--optimizers", defaultValue = "sgd,adam,rngd", split = ",",
      description = "optimizers to compare (default: ${DEFAULT-VALUE})")
  List<String> optimizers;

  @Option(names = "--lr", split = ",", description = "learning rates as name=value, e.g. sgd=0.1,adam=0.001,rngd=0.03")
  Map<String, Double> lr = new LinkedHashMap<>();

  @Option(names = "--seeds", defaultValue = "1", split = ",", description = "seeds (default: ${DEFAULT-VALUE})")
  List<Long> seeds;

  @Option(names = "--out", defaultValue = "runs/compare", description = "output directory (default: ${DEFAULT-VALUE})")
  Path out;

  @Override
  public Integer call() {
    PrintStream stdout = System.out;
    run.check();
    List<OptimizerSpec> specs = TrainCommand.specs(optimizers, lr, run);
    run.noteWithoutEffect(specs.stream().map(OptimizerSpec::name).toList(), "--optimizers "
        + String.join(",", optimizers));
    Split data = run.loadData();
    Map<String, List<List<EpochResult>>> curves = new LinkedHashMap<>();
    try (Backend backend = run.openBackend()) {
      for (OptimizerSpec spec : specs) {
        List<List<EpochResult>> runs = new ArrayList<>();
        for (long seed : seeds) {
          Path dir = out.resolve(spec.name() + "-seed" + seed);
          try {
            runs.add(Runner.run(backend, data, run.modelConfig(data.train().d(), data.train().classes(), seed), spec,
                TrainerConfig.of(run.epochs, run.batch, seed).withCudaGraphs(run.cudaGraphsOn()), dir, null, null, run.quiet, stdout, run.dataRecord(data)));
          } catch (TrainingStoppedException e) {
            System.err.println("note: " + spec.label() + " seed " + seed + " stopped: " + e.getMessage());
          }
        }
        curves.put(spec.label(), runs);
      }
      String title = run.dataset + " " + run.arch.toUpperCase(Locale.ROOT) + " "
          + run.modelConfig(data.train().d(), data.train().classes(), 0).describe() + " " + run.activation
          + ", batch " + run.batch + ", " + backend.name();
      String summary = Summary.markdown(title, curves);
      AtomicFiles.writeString(out.resolve("summary.md"), summary);
      CurvePlot.write(out.resolve("curves.png"), title, curves);
      stdout.println();
      stdout.print(summary);
      stdout.println("wrote " + out.resolve("summary.md") + " and " + out.resolve("curves.png"));
      RunOptions.printProfile(backend, stdout);
    }
    return 0;
  }
}
