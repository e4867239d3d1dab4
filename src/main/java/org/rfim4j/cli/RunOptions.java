package org.rfim4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.rfim4j.backend.Activation;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.train.MemoryEstimate;
import picocli.CommandLine.Option;

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
   * MemoryEstimate}) cannot fit the JVM heap (CPU backend) or the device.
   */
  void requireMemory(org.rfim4j.data.Datasets.Shape shape, MlpConfig model, org.rfim4j.optim.OptimizerSpec spec,
      org.rfim4j.train.TrainerConfig tc, org.rfim4j.backend.Backend backend, boolean checkpoints) {
    long trainN = Math.max(0, shape.trainImages() - (long) org.rfim4j.data.Datasets.VALIDATION_SIZE);
    if (trainSize != null) {
      trainN = Math.min(trainN, Math.max(trainSize, 0));
    }
    MemoryEstimate e = MemoryEstimate.of(model, spec, tc.batchSize(), tc.evalBatch(), trainN,
        org.rfim4j.data.Datasets.VALIDATION_SIZE);
    e.require(backend, checkpoints);
    // The data on the heap while it is loaded, plus the run when it lives on the heap too (CPU backend).
    long onHeap = shape.loadBytes() + (org.rfim4j.backend.BackendSelector.deviceFreeBytes(backend) < 0
        && backend.precisionBits() == 64 ? (long) (e.elements() * 8) : 0);
    org.rfim4j.io.Memory.requireHeap(onHeap, "loading " + dataset + " (" + shape + ") and training ("
        + e.describe(backend.precisionBits()) + ")");
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

  @Option(names = "--tf32", description = "CUDA only: TF32 tensor-core math for every cuBLAS SGEMM (CudaBackend.setTf32);"
      + " it matters for the per-neuron metric GEMMs (RNGD Gram updates) of wide layers; about 10-bit mantissa"
      + " products. Ignored, with a note, on the CPU")
  boolean tf32;

  /** Opens the device's backend (TF32 on when --tf32 and CUDA), wrapped in a profiler when --profile is given. */
  org.rfim4j.backend.Backend openBackend() {
    org.rfim4j.backend.Backend b = org.rfim4j.backend.BackendSelector.open(device, msg -> System.err.println("note: " + msg));
    if (tf32) {
      if (b instanceof org.rfim4j.backend.cuda.CudaBackend) {
        ((org.rfim4j.backend.cuda.CudaBackend) b).setTf32(true);
        System.err.println("note: --tf32: TF32 tensor-core math on for cuBLAS SGEMMs (" + b.name() + ")");
      } else {
        System.err.println("note: --tf32 ignored: backend " + b.name() + " is not CUDA");
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

  /**
   * Validates the network and run options (epochs, batch, arch, activation, widths, l2, init std) without
   * any data, so bad arguments are reported before the data set is loaded.
   */
  void check() {
    modelConfig(1, 2, 0);
  }

  MlpConfig modelConfig(int inputs, int classes, long seed) {
    if (epochs < 0) {
      throw new IllegalArgumentException("--epochs must be >= 0, got " + epochs);
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

  RngdConfig rngdConfig(double lr) {
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
    RngdConfig c = RngdConfig.defaults(lr).withLambda(rngdLambda).withRefreshPeriod(rngdT).withOmega(rngdOmega)
        .withOrder(order);
    c = c.withDamping(damping, rngdEps != null ? rngdEps : damping == RngdConfig.Damping.CANONICAL ? 1e-4 : 5e-6);
    if (rngdMetrics != null) {
      org.rfim4j.optim.MetricKind[] kinds = new org.rfim4j.optim.MetricKind[rngdMetrics.length];
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
      if (kinds.length != hidden.length + 1) {
        throw new IllegalArgumentException("--rngd-metrics lists " + kinds.length + " layers, the network has "
            + (hidden.length + 1) + " dense layers");
      }
      c = c.withMetricKinds(kinds);
    }
    return c;
  }
}
