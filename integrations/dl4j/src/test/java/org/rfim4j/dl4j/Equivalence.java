package org.rfim4j.dl4j;

import java.util.List;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;

/**
 * Runs the same RNGD steps twice: DL4J (float32) with {@link Rngd4j}, and rfim4j's own {@link Rngd} on its
 * float64 CPU {@link Mlp}; same initial weights (float values), same mini-batches. Returns how far apart the
 * final parameters are.
 */
final class Equivalence {
  private Equivalence() {}

  /**
   * A test network and its mini-batches.
   *
   * @param widths layer widths, input first
   * @param rows mini-batch size of each step
   * @param initStd standard deviation of the initial weights
   */
  record Shape(int[] widths, int[] rows, double initStd) {
    int maxBatch() {
      return java.util.Arrays.stream(rows).max().orElseThrow();
    }
  }

  /** 12-7-6-4, seven steps of 10 rows, a smaller one in the middle to exercise the staging views. */
  static final Shape SMALL = new Shape(new int[] {12, 7, 6, 4}, new int[] {10, 10, 10, 10, 7, 10, 10}, 0.5);
  /**
   * 100-60-60-10, five steps of 50 rows: metrics of 101 and 61 rows, large enough for OpenBLAS's blocked Cholesky
   * (where ND4J's bundled OpenBLAS breaks the native CPU backend, see {@link BackendCheck}).
   */
  static final Shape MEDIUM = new Shape(new int[] {100, 60, 60, 10}, new int[] {50, 50, 50, 50, 50}, 0.2);
  /** The paper's 784-80-80-80-10 with batches of 50 (random inputs in [-1, 1)), twelve steps. */
  static final Shape PAPER = new Shape(new int[] {784, 80, 80, 80, 10},
      new int[] {50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50}, 0.1);

  /** How the DL4J side is (mis)configured. */
  enum Setup {
    /** As documented: no DL4J regularisation, L2 given to the integration. */
    CORRECT,
    /** The L2 term left in DL4J's configuration instead of the integration's (not preconditioned). */
    L2_IN_DL4J,
    /** The L2 term in both places (applied twice). */
    L2_TWICE
  }

  /**
   * @param maxAbs largest |DL4J - rfim4j| over all parameters
   * @param maxScaled largest |DL4J - rfim4j| / max(1, |rfim4j|)
   * @param moved largest |final - initial| of rfim4j's parameters (the steps did something)
   * @param steps RNGD steps the DL4J side took
   * @param where the element with the largest scaled difference
   */
  record Result(double maxAbs, double maxScaled, double moved, long steps, String where) {}

  static RngdConfig config(RngdConfig.Order order, RngdConfig.Damping damping) {
    return RngdConfig.defaults(0.05).withRefreshPeriod(3).withLambda(0.1).withOrder(order)
        .withDamping(damping, damping == RngdConfig.Damping.PAPER ? 1e-3 : 1e-4);
  }

  static Result run(RngdConfig config, Activation activation, double l2, Setup setup, String device) {
    return run(SMALL, config, activation, l2, setup, device, false);
  }

  /** With {@code iterator}, DL4J trains through {@code fit(DataSetIterator)} (asynchronous prefetch) instead. */
  static Result run(Shape shape, RngdConfig config, Activation activation, double l2, Setup setup,
      String device, boolean iterator) {
    return run(shape, config, activation, l2, setup, Rngd4j.options().device(device), iterator);
  }

  /** {@code options}: where the DL4J side keeps its metrics (device or a supplied backend). */
  static Result run(Shape shape, RngdConfig config, Activation activation, double l2, Setup setup,
      Rngd4j.Options options, boolean iterator) {
    int[] WIDTHS = shape.widths();
    int MAX_BATCH = shape.maxBatch();
    double[][] initial = Nets.weights(WIDTHS, 42, shape.initStd());
    List<Nets.Batch> batches = Nets.batches(shape.rows(), WIDTHS[0], WIDTHS[WIDTHS.length - 1], 43);
    int classes = WIDTHS[WIDTHS.length - 1];

    // rfim4j's own RNGD, float64 on the CPU (rfim4j's Java kernels: the native ones may be broken by ND4J's
    // OpenBLAS in this JVM, see BackendCheck)
    List<double[]> ref;
    int[] hidden = java.util.Arrays.copyOfRange(WIDTHS, 1, WIDTHS.length - 1);
    try (Backend cpu = new org.rfim4j.backend.cpu.CpuBackend(2, org.rfim4j.backend.cpu.CpuBackend.GemmPath.JAVA);
        Mlp mlp = new Mlp(cpu, new MlpConfig(WIDTHS[0], hidden, classes, activation,
            Architecture.PLAIN, l2, 0.1, 1, 0.9, 1e-3), MAX_BATCH);
        Rngd rngd = new Rngd(mlp, config);
        DeviceArray stats = cpu.allocate(2)) {
      for (int l = 0; l < initial.length; l++) {
        mlp.setWeights(l, initial[l]);
      }
      for (Nets.Batch b : batches) {
        try (DeviceArray x = cpu.allocate(b.rows, b.d); DeviceArray y = cpu.allocate(b.rows, 1)) {
          cpu.upload(x, b.x);
          cpu.upload(y, b.labelsAsDoubles());
          cpu.fill(stats, 0);
          mlp.forward(x, true, true);
          mlp.lossAndGradient(y, stats);
          rngd.step();
        }
      }
      ref = mlp.downloadParameters();
    }

    // DL4J + rfim4j's preconditioner
    double dl4jL2 = setup == Setup.CORRECT ? 0 : l2;
    double ourL2 = setup == Setup.L2_IN_DL4J ? 0 : l2;
    MultiLayerNetwork net = Nets.network(WIDTHS, Nets.dl4jActivation(activation), config.learningRate(), dl4jL2);
    Nets.setWeights(net, WIDTHS, initial);
    long steps;
    try (Rngd4j rngd = Rngd4j.attach(net, config, options.l2(ourL2).maxBatch(MAX_BATCH),
        setup == Setup.CORRECT)) {
      if (iterator) {
        List<org.nd4j.linalg.dataset.DataSet> sets = new java.util.ArrayList<>();
        for (Nets.Batch b : batches) {
          sets.add(b.dl4j(classes));
        }
        net.fit(new org.deeplearning4j.datasets.iterator.ExistingDataSetIterator(sets));
      } else {
        for (Nets.Batch b : batches) {
          net.fit(b.dl4j(classes));
        }
      }
      steps = rngd.iteration();
    }
    List<double[]> got = Nets.getWeights(net, WIDTHS);

    double maxAbs = 0;
    double maxScaled = 0;
    double moved = 0;
    String where = "";
    for (int l = 0; l < initial.length; l++) {
      for (int i = 0; i < initial[l].length; i++) {
        double r = ref.get(l)[i];
        double d = Math.abs(got.get(l)[i] - r);
        double s = d / Math.max(1, Math.abs(r));
        if (s > maxScaled) {
          maxScaled = s;
          where = "layer " + l + " element " + i + ": DL4J " + got.get(l)[i] + ", rfim4j " + r;
        }
        maxAbs = Math.max(maxAbs, d);
        moved = Math.max(moved, Math.abs(r - initial[l][i]));
      }
    }
    return new Result(maxAbs, maxScaled, moved, steps, where);
  }
}
