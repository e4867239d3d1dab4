package org.rfim4j.dl4j;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.data.DataDirs;
import org.rfim4j.data.Dataset;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.Layouts;
import org.rfim4j.train.Trainer;

/**
 * The paper's MNIST network, 784-80-80-80-10 ReLU with a softmax output, trained in Deeplearning4j with DL4J's
 * own SGD and Adam and with DL4J + rfim4j's RNGD ({@link Rngd4j}). Same protocol as {@code ./rfim4j train}:
 * first 50,000 training images train, last 10,000 validate, pixels / 255, mini-batches of 50, L2 beta 1e-3 on
 * the weights (not the biases), initial weights (bias row included) from rfim4j's own truncated normal of std
 * 0.1 for the seed, and rfim4j's per-epoch shuffle for the seed: so DL4J sees the same initial weights and the
 * same mini-batches as {@code ./rfim4j train --seed S}. SGD and Adam take the L2 term from DL4J's {@code l2};
 * RNGD from {@link Rngd4j.Options#l2}, so that it is preconditioned.
 *
 * <pre>
 * integrations/dl4j/mnist [--epochs N] [--optimizers sgd,adam,rngd] [--lr sgd=0.1,adam=0.001,rngd=0.03]
 *                         [--seed S] [--data-dir DIR] [--rngd-device cpu|cuda|auto] [--nd4j-blas-threads N]
 * </pre>
 *
 * Prints a line per epoch and, last, one line per optimizer:
 * {@code optimizer=rngd epochs=2 val_error=0.0312 seconds_per_epoch=5.10} (the last epoch's validation error as a
 * fraction; the median of the epochs' training seconds, evaluation excluded).
 */
public final class MnistExample {
  private MnistExample() {}

  static final int BATCH = 50;
  static final double L2 = 1e-3;

  public static void main(String[] args) {
    try {
      run(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
    }
  }

  static void run(String[] args) {
    int epochs = 3;
    List<String> optimizers = List.of("sgd", "adam", "rngd");
    Map<String, Double> lr = new LinkedHashMap<>(Map.of("sgd", 0.1, "adam", 1e-3, "rngd", 0.03));
    long seed = 1;
    Path dataDir = null;
    String rngdDevice = "cpu";
    int blasThreads = -1;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        System.out.println("usage: integrations/dl4j/mnist [--epochs N] [--optimizers sgd,adam,rngd] "
            + "[--lr sgd=0.1,adam=0.001,rngd=0.03] [--seed S] [--data-dir DIR] [--rngd-device cpu|cuda|auto] "
            + "[--nd4j-blas-threads N]");
        return;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--epochs" -> epochs = positive(a, v);
        case "--optimizers" -> {
          optimizers = Arrays.asList(v.split(","));
          for (String o : optimizers) {
            if (!lr.containsKey(o)) {
              throw new IllegalArgumentException("unknown optimizer '" + o + "' (expected sgd, adam or rngd)");
            }
          }
        }
        case "--lr" -> {
          for (String kv : v.split(",")) {
            String[] p = kv.split("=");
            if (p.length != 2 || !lr.containsKey(p[0])) {
              throw new IllegalArgumentException("--lr takes name=rate pairs for sgd, adam, rngd, got '" + kv + "'");
            }
            double r;
            try {
              r = Double.parseDouble(p[1]);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--lr " + p[0] + ": not a number '" + p[1] + "'");
            }
            if (!(r > 0) || Double.isInfinite(r)) {
              throw new IllegalArgumentException("--lr " + p[0] + " must be positive, got " + p[1]);
            }
            lr.put(p[0], r);
          }
        }
        case "--seed" -> {
          try {
            seed = Long.parseLong(v);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--seed: not an integer '" + v + "'");
          }
        }
        case "--data-dir" -> dataDir = Path.of(v);
        case "--rngd-device" -> rngdDevice = v;
        case "--nd4j-blas-threads" -> blasThreads = positive(a, v);
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    if (blasThreads > 0) {
      Nd4j.factory().blas().setMaxThreads(blasThreads);
    }
    Split mnist = Datasets.load("mnist", DataDirs.resolve(dataDir));
    System.out.printf(Locale.ROOT, "threads: OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s "
            + "nd4j maxThreads=%d nd4j BLAS maxThreads=%d, %d cores; mnist train %d, validation %d; seed %d%n",
        System.getenv("OMP_NUM_THREADS"), System.getenv("OPENBLAS_NUM_THREADS"), System.getenv("OPENBLAS_CORETYPE"),
        Nd4j.getEnvironment().maxThreads(), Nd4j.factory().blas().getMaxThreads(),
        Runtime.getRuntime().availableProcessors(), mnist.train().n(), mnist.validation().n(), seed);
    List<String> summary = new ArrayList<>();
    for (String o : optimizers) {
      summary.add(train(o, lr.get(o), epochs, seed, mnist.train(), mnist.validation(), rngdDevice));
    }
    summary.forEach(System.out::println);
  }

  private static int positive(String name, String v) {
    try {
      int n = Integer.parseInt(v);
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException(name + " must be a positive integer, got '" + v + "'");
  }

  /** The network for one optimizer, with rfim4j's initial weights for the seed. */
  static MultiLayerNetwork network(IUpdater updater, double dl4jL2, long seed) {
    int[] w = {784, 80, 80, 80, 10};
    NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT)
        .updater(updater);
    if (dl4jL2 > 0) {
      b.l2(dl4jL2);  // DL4J's l2 applies to weights only (l2Bias is 0): the paper's (beta/2)||W||^2
    }
    NeuralNetConfiguration.ListBuilder lb = b.list();
    for (int l = 0; l < 3; l++) {
      lb.layer(new DenseLayer.Builder().nIn(w[l]).nOut(w[l + 1]).activation(Activation.RELU).build());
    }
    lb.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(80).nOut(10)
        .activation(Activation.SOFTMAX).build());
    MultiLayerNetwork net = new MultiLayerNetwork(lb.build());
    net.init();
    setInitialWeights(net, w, seed);
    return net;
  }

  /** rfim4j's initialisation for the seed (truncated normal, std 0.1, bias row included), as ./rfim4j train. */
  static void setInitialWeights(MultiLayerNetwork net, int[] widths, long seed) {
    List<double[]> init;
    try (Backend cpu = BackendSelector.open("cpu", msg -> { });
        Mlp mlp = new Mlp(cpu, MlpConfig.paper(Architecture.PLAIN, seed), 1)) {
      init = mlp.downloadParameters();
    }
    FloatBuffer params = net.params().data().asNioFloat();
    int off = 0;
    for (int l = 0; l + 1 < widths.length; l++) {
      double[] d = init.get(l);
      float[] f = new float[d.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) d[i];
      }
      int fanIn = widths[l];
      int fanOut = widths[l + 1];
      Layouts.unpack(FloatBuffer.wrap(f), 0, fanIn, fanOut, params, off, Layouts.Order.COLUMN_MAJOR, params,
          off + fanIn * fanOut);
      off += (fanIn + 1) * fanOut;
    }
  }

  static DataSet batch(Dataset data, int[] perm, int from, int rows) {
    int d = data.d();
    float[] x = new float[rows * d];
    INDArray y = Nd4j.zeros(DataType.FLOAT, rows, data.classes());
    for (int k = 0; k < rows; k++) {
      int r = perm[from + k];
      System.arraycopy(data.features(), r * d, x, k * d, d);
      y.putScalar(k, data.labels()[r], 1f);
    }
    return new DataSet(Nd4j.create(x, new long[] {rows, d}, 'c'), y);
  }

  static double validationError(MultiLayerNetwork net, Dataset val) {
    int d = val.d();
    int wrong = 0;
    int chunk = 1000;
    for (int from = 0; from < val.n(); from += chunk) {
      int rows = Math.min(chunk, val.n() - from);
      float[] x = Arrays.copyOfRange(val.features(), from * d, (from + rows) * d);
      INDArray out = net.output(Nd4j.create(x, new long[] {rows, d}, 'c'), false);
      INDArray pred = out.argMax(1);
      for (int k = 0; k < rows; k++) {
        if (pred.getInt(k) != val.labels()[from + k]) {
          wrong++;
        }
      }
    }
    return wrong / (double) val.n();
  }

  static String train(String optimizer, double lr, int epochs, long seed, Dataset train, Dataset val,
      String rngdDevice) {
    boolean rngd = optimizer.equals("rngd");
    IUpdater updater = optimizer.equals("adam") ? new Adam(lr) : new Sgd(lr);
    MultiLayerNetwork net = network(updater, rngd ? 0 : L2, seed);
    Rngd4j handle = rngd ? Rngd4j.attach(net, RngdConfig.defaults(lr),
        Rngd4j.options().l2(L2).device(rngdDevice).maxBatch(BATCH)) : null;
    System.out.printf(Locale.ROOT, "%s lr=%s%s%n", optimizer, lr,
        handle == null ? "" : ", preconditioner on " + handle.backend().name());
    double[] seconds = new double[epochs];
    double err = Double.NaN;
    int n = train.n();
    int[] perm = new int[n];
    try {
      for (int e = 1; e <= epochs; e++) {
        Trainer.shuffle(perm, seed, e);
        if (handle != null) {
          handle.resetTimings();
        }
        long t0 = System.nanoTime();
        for (int from = 0; from < n; from += BATCH) {
          net.fit(batch(train, perm, from, Math.min(BATCH, n - from)));
        }
        seconds[e - 1] = (System.nanoTime() - t0) / 1e9;
        err = validationError(net, val);
        System.out.printf(Locale.ROOT, "%s epoch %d val_error=%.4f seconds=%.2f%s%n", optimizer, e, err,
            seconds[e - 1], handle == null ? "" : "  rngd " + handle.timings() + ", inversion failures "
                + handle.inversionFailures());
      }
    } finally {
      if (handle != null) {
        handle.close();
      }
    }
    double[] sorted = seconds.clone();
    Arrays.sort(sorted);
    double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    return String.format(Locale.ROOT, "optimizer=%s epochs=%d val_error=%.4f seconds_per_epoch=%.2f", optimizer,
        epochs, err, median);
  }
}
