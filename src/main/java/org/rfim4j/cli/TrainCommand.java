package org.rfim4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.train.Checkpoint;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.TrainerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code rfim4j train}: one optimizer, one seed, learning curve in {@code --out}. */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train an MLP on MNIST or Fashion-MNIST with sgd, adam or rngd; writes curve.csv, curve.json "
        + "and a checkpoint to --out after every epoch.")
public final class TrainCommand implements Callable<Integer> {
  @Mixin
  RunOptions run;

  @Option(names = "--optimizer", defaultValue = "adam", description = "sgd, adam or rngd (default: ${DEFAULT-VALUE})")
  String optimizer;

  @Option(names = "--lr", description = "learning rate (default: sgd 0.1, adam 0.001, rngd 0.03)")
  Double lr;

  @Option(names = "--momentum", defaultValue = "0", description = "SGD momentum (default: ${DEFAULT-VALUE})")
  double momentum;

  @Option(names = "--seed", defaultValue = "1", description = "initialisation and shuffling seed (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--out", description = "output directory for curve.csv, curve.json, checkpoint.rfim4j")
  Path out;

  @Option(names = "--resume", description = "continue from a checkpoint: model, optimizer, batch size, seed, dataset and"
      + " training subset come from it (an option that contradicts it is an error); --epochs sets the new total")
  Path resume;

  @Spec
  CommandSpec commandSpec;

  @Override
  public Integer call() {
    PrintStream stdout = System.out;
    run.check();
    checkOwnOptions();
    Checkpoint.Loaded loaded = resume == null ? null : Checkpoint.load(resume);
    MlpConfig modelConfig;
    OptimizerSpec spec;
    TrainerConfig tc;
    if (loaded != null) {
      Checkpoint.Header h = loaded.header();
      new ResumeCheck(commandSpec.commandLine().getParseResult(), h).check(this);
      modelConfig = h.model();
      spec = h.optimizer();
      if (h.data() != null) {
        run.dataset = h.data().dataset();
        run.trainSize = h.data().trainSize();
      }
      if (h.precisionBits() != null) {
        run.precision = h.precisionBits();  // the CPU engine of the checkpoint's precision
      } else {
        run.cpuDefaultPrecision = 64;  // written before precision was recorded: on the CPU that was float64
      }
      tc = TrainerConfig.of(run.epochs, h.batchSize(), h.shuffleSeed()).withCudaGraphs(run.cudaGraphsOn());
      if (run.epochs <= h.epochsCompleted()) {
        throw new IllegalArgumentException("--epochs " + run.epochs + " is not beyond the checkpoint's "
            + h.epochsCompleted() + " completed epochs");
      }
    } else {
      spec = spec(optimizer, lr, momentum, run);
      run.noteWithoutEffect(List.of(spec.name()), "--optimizer " + spec.name());
      if (!spec.name().equals("sgd")) {
        run.noteIf("--momentum", "--optimizer " + spec.name() + " (SGD only)");
      }
      modelConfig = null;
      tc = TrainerConfig.of(run.epochs, run.batch, seed).withCudaGraphs(run.cudaGraphsOn());
    }
    try (Backend backend = run.openBackend()) {
      // Memory for the data and the run, from the data files' headers, before anything large is allocated.
      Datasets.Shape shape = run.dataShape();
      MlpConfig planned = modelConfig != null ? modelConfig
          : run.modelConfig(shape.features(), Datasets.CLASSES, seed);
      run.requireMemory(shape, planned, spec, tc, backend, out != null);
      Split data = run.loadData();
      Checkpoint.Data record = run.dataRecord(data);
      if (loaded != null) {
        ResumeCheck.sameData(loaded.header().data(), record, resume);
      }
      if (modelConfig == null) {
        modelConfig = run.modelConfig(data.train().d(), data.train().classes(), seed);
      }
      List<EpochResult> curve = Runner.run(backend, data, modelConfig, spec, tc, out, loaded, resume, run.quiet, stdout,
          record);
      if (!curve.isEmpty()) {
        EpochResult last = curve.get(curve.size() - 1);
        stdout.printf(Locale.ROOT, "final: epoch %d, validation error %.2f%%, %.1f s of training%s%n", last.epoch(),
            100 * last.valError(), last.seconds(), out == null ? "" : ", written to " + out);
      }
      RunOptions.printProfile(backend, stdout);
    }
    return 0;
  }

  /** Values of train's own options, whether or not the run uses them. */
  private void checkOwnOptions() {
    new OptimizerSpec(optimizer, 1, 0, null); // the name
    if (lr != null && (!(lr > 0) || Double.isInfinite(lr))) {
      throw new IllegalArgumentException("--lr (learning rate) must be a finite number > 0, got " + lr);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("--momentum must be in [0, 1), got " + momentum);
    }
  }

  /**
   * Default learning rates per optimizer: sgd 0.1, adam 0.001, rngd 0.03 (the RNGD rate both MNIST sweeps
   * in docs/results chose, PLAIN and BNA).
   */
  static double defaultLr(String optimizer) {
    switch (optimizer.trim().toLowerCase(Locale.ROOT)) {
      case "sgd":
        return 0.1;
      case "adam":
        return 1e-3;
      default:
        return 0.03;
    }
  }

  static OptimizerSpec spec(String optimizer, Double lr, double momentum, RunOptions run) {
    double rate = lr != null ? lr : defaultLr(optimizer);
    String name = new OptimizerSpec(optimizer, rate, 0, null).name();
    OptimizerSpec probe = new OptimizerSpec(name, rate, name.equals("sgd") ? momentum : 0, null);
    return probe.name().equals("rngd") ? OptimizerSpec.rngd(run.rngdConfig(rate)) : probe;
  }

  /**
   * One spec per name of {@code --optimizers}, each with its {@code --lr name=rate} or the default rate;
   * an {@code --lr} entry naming an optimizer that is not listed is an error.
   */
  static List<OptimizerSpec> specs(List<String> optimizers, Map<String, Double> lr, RunOptions run) {
    for (String k : lr.keySet()) {
      if (!optimizers.contains(k)) {
        throw new IllegalArgumentException("--lr names '" + k + "', which is not among --optimizers " + optimizers);
      }
    }
    List<OptimizerSpec> specs = new ArrayList<>();
    for (String o : optimizers) {
      specs.add(spec(o, lr.get(o), 0, run));
    }
    return specs;
  }
}
