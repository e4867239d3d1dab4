package org.rfim4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.rfim4j.backend.Activation;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.train.MemoryEstimate;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/** Options shared by {@code train} and {@code compare}: data, network, batches, device. */
public final class RunOptions {
  @Option(names = "--dataset", defaultValue = "mnist", description = "mnist or fashion (default: ${DEFAULT-VALUE})")
  String dataset;

  @Option(names = "--data-dir", description = "dataset directory (default: $RFIM4J_DATA, else ./data)")
  Path dataDir;

  @Option(names = "--arch", defaultValue = "plain", description = "plain or bna (batch norm after each hidden activation)")
  String arch;

  @Option(names = "--activation", defaultValue = "relu", description = "relu, tanh, sigmoid, prelu, elu or identity")
  String activation;

  @Option(names = "--iota", defaultValue = "0.25", description = "PReLU negative slope (default: ${DEFAULT-VALUE})")
  double iota;

  @Option(names = "--alpha", defaultValue = "1.0", description = "ELU alpha (default: ${DEFAULT-VALUE})")
  double alpha;

  @Option(names = "--hidden", defaultValue = "80,80,80", split = ",", description = "hidden widths (default: ${DEFAULT-VALUE})")
  int[] hidden;

  @Option(names = "--epochs", defaultValue = "5", description = "epochs (default: ${DEFAULT-VALUE})")
  int epochs;

  @Option(names = "--batch", defaultValue = "50", description = "mini-batch size (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(names = "--cuda-graphs", defaultValue = "on", description = "capture full-batch training steps into CUDA"
      + " graphs and replay them: on|off (default: ${DEFAULT-VALUE}; no effect on the CPU; off = eager, for debugging)")
  String cudaGraphs;

  /** --cuda-graphs as a boolean. */
  boolean cudaGraphsOn() {
    if (!cudaGraphs.equals("on") && !cudaGraphs.equals("off")) {
      throw new IllegalArgumentException("--cuda-graphs must be on or off, got '" + cudaGraphs + "'");
    }
    return cudaGraphs.equals("on");
  }

  @Option(names = "--l2", defaultValue = "1e-3", description = "L2 beta on non-bias weights (default: ${DEFAULT-VALUE})")
  double l2;

  @Option(names = "--init-std", defaultValue = "0.1", description = "truncated-normal init std (default: ${DEFAULT-VALUE})")
  double initStd;

  @Option(names = "--bn-momentum", defaultValue = "0.999", description = "batch-norm running-statistics decay (default: ${DEFAULT-VALUE}, TensorFlow's)")
  double bnMomentum;

  @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--precision", description = "CPU engine precision: 32 (float32) or 64 (float64, the reference);"
      + " default 32 on the CPU (README, Precision on the CPU; a resume takes the checkpoint's); the GPU computes in 32 only")
  Integer precision;

  /** The CPU engine's precision when --precision is not given: float32 (measured, README "Precision on the CPU"). */
  static final int CPU_DEFAULT_PRECISION = 32;

  /** The CPU default of this run: {@link #CPU_DEFAULT_PRECISION}, or 64 to resume a checkpoint that records none. */
  int cpuDefaultPrecision = CPU_DEFAULT_PRECISION;

  @Option(names = "--train-size", description = "use only the first N training examples (quick runs; default: all 50,000)")
  Integer trainSize;

  /** Loads the dataset's split, trimming the training set to --train-size. */
  org.rfim4j.data.Split loadData() {
    org.rfim4j.data.Split s = org.rfim4j.data.Datasets.load(dataset, org.rfim4j.data.DataDirs.resolve(dataDir));
    if (trainSize == null) {
      return s;
    }
    if (trainSize < 1 || trainSize > s.train().n()) {
      throw new IllegalArgumentException("--train-size must be between 1 and " + s.train().n() + ", got " + trainSize);
    }
    return new org.rfim4j.data.Split(s.train().subset(0, trainSize), s.validation(), s.test());
  }

  /** The dataset's shape from its files' headers (nothing loaded). */
  org.rfim4j.data.Datasets.Shape dataShape() {
    return org.rfim4j.data.Datasets.shape(dataset, org.rfim4j.data.DataDirs.resolve(dataDir));
  }

  /**
   * Before loading: refuses with one line when the data (as {@link #loadData} holds it) and the run ({@link
   * MemoryEstimate}) cannot fit the JVM heap (CPU backend) or the device, naming the need, the limit and the
   * RNGD metric kinds and optimizers that would fit.
   */
  void requireMemory(org.rfim4j.data.Datasets.Shape shape, MlpConfig model, org.rfim4j.optim.OptimizerSpec spec,
      org.rfim4j.train.TrainerConfig tc, org.rfim4j.backend.Backend backend, boolean checkpoints) {
    long trainN = Math.max(0, shape.trainImages() - (long) org.rfim4j.data.Datasets.VALIDATION_SIZE);
    if (trainSize != null) {
      trainN = Math.min(trainN, Math.max(trainSize, 0));
    }
    // The data on the heap while it is loaded, beside the run (on the heap too with the CPU backend); a refusal
    // names the metric kinds and optimizers that would fit.
    MemoryEstimate.require(model, spec, tc.batchSize(), tc.evalBatch(), trainN,
        org.rfim4j.data.Datasets.VALIDATION_SIZE, backend, checkpoints, shape.loadBytes(),
        "loading " + dataset + " (" + shape + ")");
  }

  /** What a checkpoint records of the data: dataset, --train-size, example counts. */
  org.rfim4j.train.Checkpoint.Data dataRecord(org.rfim4j.data.Split s) {
    return new org.rfim4j.train.Checkpoint.Data(dataset.strip().toLowerCase(Locale.ROOT), trainSize, s.train().n(),
        s.validation().n());
  }

  @Option(names = "--quiet", description = "no progress output")
  boolean quiet;

  @Option(names = "--profile", description = "time every backend operation (synchronously) and print where the time went")
  boolean profile;

  @Option(names = "--tf32", description = "CUDA only: TF32 tensor-core math for every cuBLAS SGEMM;"
      + " it matters for the per-neuron metric GEMMs (RNGD Gram updates) of wide layers; about 10-bit mantissa"
      + " products. Ignored, with a note, on the CPU")
  boolean tf32;

  /** Opens the device's backend (TF32 on when --tf32 and the backend is {@link org.rfim4j.backend.Tf32Capable}), wrapped in a profiler when --profile is given. */
  org.rfim4j.backend.Backend openBackend() {
    org.rfim4j.backend.Backend b = org.rfim4j.backend.BackendSelector.open(device, precision, cpuDefaultPrecision,
        msg -> System.err.println("note: " + msg));
    if (tf32) {
      if (b instanceof org.rfim4j.backend.Tf32Capable) {
        ((org.rfim4j.backend.Tf32Capable) b).setTf32(true);
        System.err.println("note: --tf32: TF32 tensor-core math on for cuBLAS SGEMMs (" + b.name() + ")");
      } else {
        System.err.println("note: --tf32 ignored: backend " + b.name() + " has no TF32 mode (CUDA only)");
      }
    }
    return profile ? new org.rfim4j.backend.ProfilingBackend(b, true) : b;
  }

  /** Prints the profile of a backend opened by {@link #openBackend()}, if profiling. */
  static void printProfile(org.rfim4j.backend.Backend b, java.io.PrintStream out) {
    if (b instanceof org.rfim4j.backend.ProfilingBackend) {
      out.println();
      out.println("where the time went (" + b.name() + "):");
      out.print(((org.rfim4j.backend.ProfilingBackend) b).report());
    }
  }

  @Option(names = "--rngd-lambda", defaultValue = "0.005", description = "RNGD metric EMA rate (default: ${DEFAULT-VALUE})")
  double rngdLambda;

  @Option(names = "--rngd-T", defaultValue = "100", description = "RNGD inverse refresh period (default: ${DEFAULT-VALUE})")
  int rngdT;

  @Option(names = "--rngd-eps", description = "RNGD damping: eps_rel for canonical (default 1e-4), eps per step for paper (default 5e-6)")
  Double rngdEps;

  @Option(names = "--rngd-omega", defaultValue = "1.0", description = "RNGD nu smoothing omega (default: ${DEFAULT-VALUE})")
  double rngdOmega;

  @Option(names = "--rngd-damping", defaultValue = "canonical", description = "canonical (eps_rel*trace at inversion) or paper (eps*I every step)")
  String rngdDamping;

  @Option(names = "--rngd-order", defaultValue = "metric-first", description = "metric-first (canonical) or step-first (reference code)")
  String rngdOrder;

  @Option(names = "--rngd-metrics", split = ",", description = "metric kind per dense layer, shared or neuron (default: shared for input and softmax layers, neuron otherwise)")
  String[] rngdMetrics;

  @Option(names = "--rngd-bias-correction", description = "RNGD: invert the bias-corrected metric (G - (1-lambda)^n I) / (1 - (1-lambda)^n), the average as if started from zero (docs/rngd.md); default off, as the paper")
  boolean rngdBiasCorrection;

  /** The command this mixin belongs to, for which options were given on the command line. */
  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  /** Whether {@code option} was given on the command line (not just defaulted). */
  boolean given(String option) {
    ParseResult pr = mixee == null ? null : mixee.commandLine().getParseResult();
    return pr != null && pr.hasMatchedOption(option);
  }

  /** "--name value" as given on the command line. */
  String asGiven(String option) {
    return option + " " + String.join(",", mixee.commandLine().getParseResult().matchedOption(option).stringValues());
  }

  /**
   * Validates every option value, whether or not the run will use it, before any data is read: a value that
   * could never be right is an error naming the option.
   */
  void check() {
    if (epochs < 1) {
      throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
    }
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
    }
    if (hidden.length == 0) {
      throw new IllegalArgumentException("--hidden lists no widths (e.g. --hidden 80,80,80)");
    }
    for (int h : hidden) {
      if (h < 1) {
        throw new IllegalArgumentException("--hidden widths must be >= 1, got " + Arrays.toString(hidden));
      }
    }
    if (!(iota >= 0 && iota < 1)) {
      throw new IllegalArgumentException("--iota (PReLU slope) must be in [0, 1), got " + iota);
    }
    if (!(alpha > 0) || Double.isInfinite(alpha)) {
      throw new IllegalArgumentException("--alpha (ELU) must be a finite number > 0, got " + alpha);
    }
    if (!(l2 >= 0) || Double.isInfinite(l2)) {
      throw new IllegalArgumentException("--l2 must be a finite number >= 0, got " + l2);
    }
    if (!(initStd > 0) || Double.isInfinite(initStd)) {
      throw new IllegalArgumentException("--init-std must be a finite number > 0, got " + initStd);
    }
    if (!(bnMomentum >= 0 && bnMomentum < 1)) {
      throw new IllegalArgumentException("--bn-momentum must be in [0, 1), got " + bnMomentum);
    }
    if (!List.of("auto", "cpu", "cuda", "gpu").contains(device.trim().toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException("--device must be auto, cpu or cuda, got '" + device + "'");
    }
    cudaGraphsOn();
    if (precision != null && precision != 32 && precision != 64) {
      throw new IllegalArgumentException("--precision must be 32 or 64, got " + precision);
    }
    if (precision != null && precision == 64 && List.of("cuda", "gpu").contains(device.trim().toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException("--precision 64 runs on the CPU only (the CUDA backend computes in float32):"
          + " use --device cpu, or --precision 32");
    }
    if (!org.rfim4j.data.Datasets.NAMES.contains(dataset.strip().toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException("--dataset must be one of " + org.rfim4j.data.Datasets.NAMES + ", got '"
          + dataset + "'");
    }
    if (trainSize != null && trainSize < 1) {
      throw new IllegalArgumentException("--train-size must be >= 1, got " + trainSize);
    }
    if (!(rngdLambda > 0 && rngdLambda <= 1)) {
      throw new IllegalArgumentException("--rngd-lambda must be in (0, 1], got " + rngdLambda);
    }
    if (rngdT < 1) {
      throw new IllegalArgumentException("--rngd-T must be >= 1, got " + rngdT);
    }
    if (!(rngdOmega > 0) || Double.isInfinite(rngdOmega)) {
      throw new IllegalArgumentException("--rngd-omega must be a finite number > 0, got " + rngdOmega);
    }
    if (rngdEps != null && (!(rngdEps >= 0) || Double.isInfinite(rngdEps))) {
      throw new IllegalArgumentException("--rngd-eps must be a finite number >= 0, got " + rngdEps);
    }
    rngdKinds(); // names of --rngd-damping, --rngd-order and --rngd-metrics
    modelConfig(1, 2, 0); // --arch, --activation
  }

  /**
   * Notes, one line each on stderr, every option given on the command line that has no effect on this run:
   * {@code --rngd-*} when no RNGD runs ({@code optimizers} names what runs, {@code as} how, e.g.
   * "--optimizer adam"), {@code --iota} without PReLU, {@code --alpha} without ELU, {@code --bn-momentum}
   * without batch norm, {@code --cuda-graphs} on the CPU.
   */
  void noteWithoutEffect(java.util.Collection<String> optimizers, String as) {
    if (!optimizers.contains("rngd")) {
      for (String o : List.of("--rngd-lambda", "--rngd-T", "--rngd-eps", "--rngd-omega", "--rngd-damping",
          "--rngd-order", "--rngd-metrics", "--rngd-bias-correction")) {
        noteIf(o, as + " (RNGD only)");
      }
    }
    String act = activation.trim().toLowerCase(Locale.ROOT);
    if (!act.equals("prelu")) {
      noteIf("--iota", "--activation " + activation + " (PReLU only)");
    }
    if (!act.equals("elu")) {
      noteIf("--alpha", "--activation " + activation + " (ELU only)");
    }
    if (!arch.trim().equalsIgnoreCase("bna")) {
      noteIf("--bn-momentum", "--arch " + arch + " (batch norm only)");
    }
    if (device.trim().equalsIgnoreCase("cpu")) {
      noteIf("--cuda-graphs", "--device cpu (CUDA only)");
    }
  }

  /** Prints "note: OPTION VALUE has no effect with WHY; ignored" when the option was given. */
  void noteIf(String option, String why) {
    if (given(option)) {
      System.err.println("note: " + asGiven(option) + " has no effect with " + why + "; ignored");
    }
  }

  MlpConfig modelConfig(int inputs, int classes, long seed) {
    if (epochs < 1) {
      throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
    }
    if (batch <= 0) {
      throw new IllegalArgumentException("--batch must be positive, got " + batch);
    }
    Architecture a;
    switch (arch.toLowerCase(Locale.ROOT)) {
      case "plain":
        a = Architecture.PLAIN;
        break;
      case "bna":
        a = Architecture.BNA;
        break;
      default:
        throw new IllegalArgumentException("unknown --arch '" + arch + "' (expected plain or bna)");
    }
    Activation act = Activation.parse(activation, iota, alpha);
    return new MlpConfig(inputs, hidden, classes, act, a, l2, initStd, seed, bnMomentum, 1e-3);
  }

  /** --rngd-damping, --rngd-order and --rngd-metrics parsed (names only; the metric count is checked on use). */
  private record RngdKinds(RngdConfig.Damping damping, RngdConfig.Order order, org.rfim4j.optim.MetricKind[] kinds) {}

  private RngdKinds rngdKinds() {
    RngdConfig.Damping damping;
    switch (rngdDamping.toLowerCase(Locale.ROOT)) {
      case "canonical":
        damping = RngdConfig.Damping.CANONICAL;
        break;
      case "paper":
        damping = RngdConfig.Damping.PAPER;
        break;
      default:
        throw new IllegalArgumentException("unknown --rngd-damping '" + rngdDamping + "' (expected canonical or paper)");
    }
    RngdConfig.Order order;
    switch (rngdOrder.toLowerCase(Locale.ROOT).replace('_', '-')) {
      case "metric-first":
        order = RngdConfig.Order.METRIC_FIRST;
        break;
      case "step-first":
        order = RngdConfig.Order.STEP_FIRST;
        break;
      default:
        throw new IllegalArgumentException("unknown --rngd-order '" + rngdOrder + "' (expected metric-first or step-first)");
    }
    org.rfim4j.optim.MetricKind[] kinds = null;
    if (rngdMetrics != null) {
      kinds = new org.rfim4j.optim.MetricKind[rngdMetrics.length];
      for (int i = 0; i < kinds.length; i++) {
        switch (rngdMetrics[i].trim().toLowerCase(Locale.ROOT)) {
          case "shared":
            kinds[i] = org.rfim4j.optim.MetricKind.SHARED;
            break;
          case "neuron":
          case "per-neuron":
            kinds[i] = org.rfim4j.optim.MetricKind.PER_NEURON;
            break;
          default:
            throw new IllegalArgumentException("unknown --rngd-metrics entry '" + rngdMetrics[i] + "' (expected shared or neuron)");
        }
      }
    }
    return new RngdKinds(damping, order, kinds);
  }

  RngdConfig rngdConfig(double lr) {
    RngdKinds k = rngdKinds();
    RngdConfig c = RngdConfig.defaults(lr).withLambda(rngdLambda).withRefreshPeriod(rngdT).withOmega(rngdOmega)
        .withOrder(k.order()).withBiasCorrection(rngdBiasCorrection);
    c = c.withDamping(k.damping(), rngdEps != null ? rngdEps
        : k.damping() == RngdConfig.Damping.CANONICAL ? 1e-4 : 5e-6);
    if (k.kinds() != null) {
      if (k.kinds().length != hidden.length + 1) {
        throw new IllegalArgumentException("--rngd-metrics lists " + k.kinds().length + " layers, the network has "
            + (hidden.length + 1) + " dense layers");
      }
      c = c.withMetricKinds(k.kinds());
    }
    return c;
  }
}
