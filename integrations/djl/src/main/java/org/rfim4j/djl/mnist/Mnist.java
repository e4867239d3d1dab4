package org.rfim4j.djl.mnist;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.data.DataDirs;
import org.rfim4j.data.Dataset;
import org.rfim4j.data.Datasets;
import org.rfim4j.data.Split;
import org.rfim4j.djl.DjlOffline;
import org.rfim4j.djl.RecordingLinear;
import org.rfim4j.djl.RngdDjl;
import org.rfim4j.djl.StepTimings;
import org.rfim4j.djl.WeightL2;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.Layouts;

/**
 * MNIST in DJL (PyTorch engine, CPU, offline): DJL SGD, DJL Adam and DJL + rfim4j RNGD on the paper's
 * 784-80-80-80-10 ReLU network, batch 50, L2 1e-3 on weights only, the data split of {@code ./rfim4j} (first 50,000
 * training images train, the last 10,000 validate, pixels / 255, read through rfim4j's {@code Datasets}).
 *
 * <p>For a like-for-like comparison with {@code ./rfim4j train --seed S}, the network starts from the weights
 * rfim4j's {@code Mlp} draws for seed S (truncated normal, std 0.1, bias row included, rounded to float32) and
 * visits the training images in the order rfim4j's {@code Trainer} does (a Fisher-Yates shuffle per epoch from a
 * {@code SplittableRandom} seeded with {@code S * 0x9E3779B97F4A7C15 + epoch}). Only the arithmetic differs:
 * float32 in DJL, float64 in rfim4j.
 *
 * <p>The optimizers' epochs are interleaved (epoch 1 of each, then epoch 2, ...), after an untimed warm-up of
 * {@code --warmup-steps} steps per optimizer on a throwaway network, as {@code ./rfim4j bench} does, so that a slow
 * spell of a shared machine hits all of them alike.
 *
 * <p>Ends with one line per optimizer: {@code optimizer=rngd epochs=2 val_error=0.0312 seconds_per_epoch=5.10}
 * (validation error after the last epoch; median training seconds per epoch, validation excluded).
 */
public final class Mnist {
  private static final int BATCH = 50;
  private static final double L2 = 1e-3;
  private static final int[] WIDTHS = {784, 80, 80, 80, 10};

  private Mnist() {}

  /** Command-line settings. */
  static final class Options {
    int epochs = 3;
    List<String> optimizers = List.of("sgd", "adam", "rngd");
    Map<String, Double> lr = new LinkedHashMap<>(Map.of("sgd", 0.1, "adam", 1e-3, "rngd", 0.03));
    long seed = 1;
    String dataDir;
    boolean profile;
    int trainLimit;
    int warmup = 100;
  }

  public static void main(String[] args) {
    Options o;
    try {
      o = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (o == null) {
      return;
    }
    try {
      run(o);
    } catch (RuntimeException e) {
      System.err.println("error: " + e.getMessage());
      e.printStackTrace();
      System.exit(1);
    }
  }

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        v = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      switch (a) {
        case "-h":
        case "--help":
          System.out.println("usage: integrations/djl/mnist [--epochs N] [--optimizers sgd,adam,rngd] "
              + "[--lr sgd=0.1,adam=0.001,rngd=0.03] [--seed S] [--data-dir DIR] [--profile] [--warmup-steps 100]\n"
              + "DJL (PyTorch engine, CPU, offline) on MNIST 784-80-80-80-10 ReLU, batch 50, L2 1e-3 on weights;\n"
              + "the same split, initial weights and batch order as ./rfim4j train --seed S. Epochs of the\n"
              + "optimizers are interleaved (epoch 1 of each, then 2, ...) after an untimed warm-up on a throwaway net.\n"
              + "rfim4j-sgd, rfim4j-adam, rfim4j-rngd: rfim4j's own training (float64) in the same JVM, same rates.\n"
              + "Threads: DJL_NUM_THREADS / DJL_NUM_INTEROP_THREADS (PyTorch intra-op / inter-op, 1 and 1 by default),\n"
              + "OPENBLAS_NUM_THREADS (1 by default), RFIM4J_DJL_JAVA_OPTS (extra JVM options, e.g.\n"
              + "-XX:ActiveProcessorCount=N for rfim4j's worker threads).");
          return null;
        case "--epochs":
          o.epochs = positive(a, v != null ? v : value(args, ++i, a));
          break;
        case "--optimizers": {
          List<String> list = new ArrayList<>();
          for (String s : (v != null ? v : value(args, ++i, a)).split(",")) {
            String n = s.trim().toLowerCase(Locale.ROOT);
            if (!List.of("sgd", "adam", "rngd", "rfim4j-sgd", "rfim4j-adam", "rfim4j-rngd").contains(n)) {
              throw new IllegalArgumentException("unknown optimizer '" + s + "' (expected sgd, adam, rngd; "
                  + "rfim4j-sgd, rfim4j-adam, rfim4j-rngd for rfim4j's own training in the same JVM)");
            }
            list.add(n);
          }
          o.optimizers = list;
          break;
        }
        case "--lr":
          for (String s : (v != null ? v : value(args, ++i, a)).split(",")) {
            String[] kv = s.split("=");
            if (kv.length != 2 || !o.lr.containsKey(kv[0].trim())) {
              throw new IllegalArgumentException("--lr takes name=rate pairs (sgd, adam, rngd), got '" + s + "'");
            }
            double r;
            try {
              r = Double.parseDouble(kv[1].trim());
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--lr: '" + kv[1] + "' is not a number");
            }
            if (!(r > 0) || Double.isInfinite(r)) {
              throw new IllegalArgumentException("--lr: rates must be positive, got " + s);
            }
            o.lr.put(kv[0].trim(), r);
          }
          break;
        case "--seed":
          try {
            o.seed = Long.parseLong(v != null ? v : value(args, ++i, a));
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--seed takes an integer");
          }
          break;
        case "--data-dir":
          o.dataDir = v != null ? v : value(args, ++i, a);
          break;
        case "--profile":
          o.profile = true;
          break;
        case "--warmup-steps":
          o.warmup = nonNegative(a, v != null ? v : value(args, ++i, a));
          break;
        case "--train-limit":  // for quick checks: train on the first N of the 50,000 training images
          o.trainLimit = positive(a, v != null ? v : value(args, ++i, a));
          break;
        default:
          throw new IllegalArgumentException("unknown option '" + args[i] + "' (see --help)");
      }
    }
    return o;
  }

  private static String value(String[] args, int i, String name) {
    if (i >= args.length) {
      throw new IllegalArgumentException(name + " needs a value");
    }
    return args[i];
  }

  private static int nonNegative(String name, String v) {
    try {
      int n = Integer.parseInt(v);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " takes an integer >= 0, got '" + v + "'");
    }
  }

  private static int positive(String name, String v) {
    try {
      int n = Integer.parseInt(v);
      if (n < 1) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " takes a positive integer, got '" + v + "'");
    }
  }

  /** What one optimizer's run produced. */
  record Outcome(String optimizer, int epochs, double valError, double secondsPerEpoch, String profile) {}

  static void run(Options o) {
    DjlOffline.configure();
    Split split = Datasets.load("mnist", DataDirs.resolve(o.dataDir == null ? null : java.nio.file.Path.of(o.dataDir)));
    Dataset train = o.trainLimit > 0 ? split.train().subset(0, Math.min(o.trainLimit, split.train().n()))
        : split.train();
    Dataset val = split.validation();
    Engine engine = Engine.getInstance();
    System.err.printf(Locale.ROOT, "DJL %s, engine %s %s (offline=%s, libraries from %s), PyTorch threads: "
            + "intra-op %s, inter-op %s; rfim4j backend for RNGD: %s; OPENBLAS_NUM_THREADS=%s%n",
        Engine.getDjlVersion(), engine.getEngineName(), engine.getVersion(), DjlOffline.offlineMode(),
        ai.djl.pytorch.jni.LibUtils.getLibtorchPath(),
        System.getProperty("ai.djl.pytorch.num_threads", "default"),
        System.getProperty("ai.djl.pytorch.num_interop_threads", "default"),
        backendName(), System.getenv("OPENBLAS_NUM_THREADS"));
    System.err.printf(Locale.ROOT, "MNIST: %d training images, %d validation; seed %d; batch %d; L2 %.0e on weights%n",
        train.n(), val.n(), o.seed, BATCH, L2);
    List<double[]> init = initialWeights(o.seed);
    List<Outcome> results = race(o, train, val, init);
    if (o.profile) {
      for (Outcome r : results) {
        System.out.print(r.profile());
      }
    }
    for (Outcome r : results) {
      System.out.printf(Locale.ROOT, "optimizer=%s epochs=%d val_error=%.4f seconds_per_epoch=%.2f%n", r.optimizer(),
          r.epochs(), r.valError(), r.secondsPerEpoch());
    }
  }

  static String backendName() {
    try (CpuBackend b = new CpuBackend()) {
      return b.name();
    }
  }

  /** The weights rfim4j's Mlp draws for {@code seed} (rfim4j layout, bias last), rounded to float32. */
  static List<double[]> initialWeights(long seed) {
    try (CpuBackend b = new CpuBackend(); Mlp mlp = new Mlp(b, MlpConfig.paper(Architecture.PLAIN, seed), 1)) {
      List<double[]> w = mlp.downloadParameters();
      for (double[] v : w) {
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) v[i];
        }
      }
      return w;
    }
  }

  static SequentialBlock network() {
    SequentialBlock net = new SequentialBlock();
    for (int l = 1; l < WIDTHS.length; l++) {
      net.add(Linear.builder().setUnits(WIDTHS[l]).build());
      if (l + 1 < WIDTHS.length) {
        net.add(Activation.reluBlock());
      }
    }
    return net;
  }

  /** Linear blocks of a plain or RNGD-wrapped network, input layer first. */
  static List<Linear> linears(SequentialBlock net) {
    List<Linear> out = new ArrayList<>();
    for (var e : net.getChildren()) {
      if (e.getValue() instanceof Linear) {
        out.add((Linear) e.getValue());
      } else if (e.getValue() instanceof RecordingLinear) {
        out.add(((RecordingLinear) e.getValue()).linear());
      }
    }
    return out;
  }

  static void setWeights(List<Linear> layers, List<double[]> w) {
    for (int l = 0; l < layers.size(); l++) {
      Parameter wp = layers.get(l).getDirectParameters().get("weight");
      Parameter bp = layers.get(l).getDirectParameters().get("bias");
      int in = WIDTHS[l];
      int out = WIDTHS[l + 1];
      float[] wf = new float[in * out];
      float[] bf = new float[out];
      float[] packed = new float[(in + 1) * out];
      for (int i = 0; i < packed.length; i++) {
        packed[i] = (float) w.get(l)[i];
      }
      Layouts.unpack(packed, 0, in, out, wf, 0, Layouts.Order.COLUMN_MAJOR, bf, 0);
      wp.getArray().set(FloatBuffer.wrap(wf));
      bp.getArray().set(FloatBuffer.wrap(bf));
    }
  }

  /** The permutation rfim4j's Trainer uses in {@code epoch} (1-based) for {@code seed}: its own shuffle. */
  public static int[] permutation(int n, long seed, int epoch) {
    int[] perm = new int[n];
    org.rfim4j.train.Trainer.shuffle(perm, seed, epoch);
    return perm;
  }

  /** One contestant of the race. */
  interface Racer extends AutoCloseable {
    void epoch(int epoch, Dataset val);

    Outcome outcome();

    @Override
    void close();
  }

  /**
   * rfim4j's own training (its {@code Mlp}, optimizer and {@code Trainer}, float64 CPU backend) in the same JVM:
   * what {@code ./rfim4j train --seed S} does, interleaved with the DJL lanes, so that the comparison with DJL sees
   * the same machine conditions. Lanes {@code rfim4j-sgd}, {@code rfim4j-adam}, {@code rfim4j-rngd}.
   */
  static final class NativeLane implements Racer {
    final String name;
    final Options o;
    final Dataset train;
    final CpuBackend backend = new CpuBackend();
    final Mlp mlp;
    final org.rfim4j.optim.Optimizer optimizer;
    final org.rfim4j.train.Trainer trainer;
    final List<Double> epochSeconds = new ArrayList<>();
    double valError = Double.NaN;

    NativeLane(String name, double lr, Options o, Dataset train, Dataset val) {
      this.name = name;
      this.o = o;
      this.train = train;
      mlp = new Mlp(backend, MlpConfig.paper(Architecture.PLAIN, o.seed), Math.max(BATCH, 500));
      switch (name) {
        case "rfim4j-sgd":
          optimizer = new org.rfim4j.optim.Sgd(mlp, lr, 0);
          break;
        case "rfim4j-adam":
          optimizer = new org.rfim4j.optim.Adam(mlp, lr);
          break;
        default:
          optimizer = new org.rfim4j.optim.Rngd(mlp, RngdConfig.defaults(lr));
      }
      trainer = new org.rfim4j.train.Trainer(mlp, optimizer,
          org.rfim4j.train.TrainerConfig.of(o.epochs, BATCH, o.seed)).retainDeviceData();
    }

    @Override
    public void epoch(int epoch, Dataset val) {
      double before = trainer.elapsedSeconds();
      List<org.rfim4j.train.EpochResult> curve = trainer.fit(train, val, epoch);
      org.rfim4j.train.EpochResult r = curve.get(curve.size() - 1);
      double sec = trainer.elapsedSeconds() - before;
      epochSeconds.add(sec);
      valError = r.valError();
      System.err.printf(Locale.ROOT, "%s epoch %d/%d: train_loss %.4f, val_error %.4f, %.2f s%n", name, epoch,
          o.epochs, r.trainLoss(), valError, sec);
    }

    @Override
    public Outcome outcome() {
      double[] secs = epochSeconds.stream().mapToDouble(Double::doubleValue).toArray();
      return new Outcome(name, o.epochs, valError, median(secs), String.format(Locale.ROOT,
          "profile %s: epochs %s s, median %.2f s (rfim4j's own training in this JVM; %s)%n", name,
          Arrays.toString(Arrays.stream(secs).map(x -> Math.round(x * 100) / 100.0).toArray()), median(secs),
          backend.name()));
    }

    @Override
    public void close() {
      trainer.close();
      optimizer.close();
      mlp.close();
      backend.close();
    }
  }

  /** One optimizer's network, trainer and clocks; epochs of all lanes are interleaved. */
  static final class Lane implements Racer {
    final String name;
    final double lr;
    final Options o;
    final Dataset train;
    final RngdDjl rngd;
    final Model model;
    final Trainer trainer;
    final Loss loss = Loss.softmaxCrossEntropyLoss();
    final List<Double> epochSeconds = new ArrayList<>();
    final float[] xb;
    final float[] yb = new float[BATCH];
    double fwd;
    double bwd;
    double stp;
    double data;
    double valError = Double.NaN;

    Lane(String name, double lr, Options o, Dataset train, List<double[]> init) {
      this.name = name;
      this.lr = lr;
      this.o = o;
      this.train = train;
      this.xb = new float[BATCH * train.d()];
      SequentialBlock net = network();
      SequentialBlock block = net;
      Optimizer optimizer;
      switch (name) {
        case "sgd":
          optimizer = new WeightL2(Optimizer.sgd().setLearningRateTracker(Tracker.fixed((float) lr)).build(), L2,
              net);
          rngd = null;
          break;
        case "adam":
          optimizer = new WeightL2(Optimizer.adam().optLearningRateTracker(Tracker.fixed((float) lr)).build(), L2,
              net);
          rngd = null;
          break;
        default:
          rngd = RngdDjl.builder(RngdConfig.defaults(lr)).l2(L2).maxBatch(BATCH).build(net);
          block = rngd.block();
          optimizer = rngd.optimizer();
      }
      model = Model.newInstance(name, Device.cpu(), "PyTorch");
      model.setBlock(block);
      DefaultTrainingConfig tc = rngd != null ? rngd.trainingConfig(loss)
          : new DefaultTrainingConfig(loss).optOptimizer(optimizer);
      tc.optDevices(new Device[] {Device.cpu()});
      trainer = model.newTrainer(tc);
      trainer.initialize(new Shape(BATCH, train.d()));
      setWeights(linears(block), init);
    }

    /** Trains {@code steps} mini-batches of epoch {@code epoch}'s order; returns the summed loss. */
    double steps(int epoch, int steps, boolean timed) {
      int d = train.d();
      int n = train.n();
      int[] perm = permutation(n, o.seed, epoch);
      double lossSum = 0;
      for (int s = 0; s < steps; s++) {
        long a = System.nanoTime();
        int from = s * BATCH;
        int rows = Math.min(BATCH, n - from);
        for (int r = 0; r < rows; r++) {
          int idx = perm[from + r];
          System.arraycopy(train.features(), idx * d, xb, r * d, d);
          yb[r] = train.labels()[idx];
        }
        try (NDManager m = trainer.getManager().newSubManager()) {
          NDArray x = m.create(rows == BATCH ? xb : Arrays.copyOf(xb, rows * d), new Shape(rows, d));
          NDArray y = m.create(rows == BATCH ? yb : Arrays.copyOf(yb, rows));
          long b = System.nanoTime();
          NDArray l;
          long c;
          try (GradientCollector gc = trainer.newGradientCollector()) {
            NDList pred = trainer.forward(new NDList(x));
            l = loss.evaluate(new NDList(y), pred);
            c = System.nanoTime();
            gc.backward(l);
          }
          long e = System.nanoTime();
          trainer.step();
          long f = System.nanoTime();
          lossSum += l.getFloat() * rows;
          if (timed) {
            data += (b - a) * 1e-9;
            fwd += (c - b) * 1e-9;
            bwd += (e - c) * 1e-9;
            stp += (f - e) * 1e-9;
          }
        }
      }
      return lossSum;
    }

    @Override
    public void epoch(int epoch, Dataset val) {
      int n = train.n();
      int steps = (n + BATCH - 1) / BATCH;
      long t0 = System.nanoTime();
      double lossSum = steps(epoch, steps, true);
      double sec = (System.nanoTime() - t0) * 1e-9;
      epochSeconds.add(sec);
      if (!Double.isFinite(lossSum)) {
        throw new IllegalStateException(name + " diverged in epoch " + epoch + "; try a smaller learning rate");
      }
      valError = validationError(trainer, val);
      System.err.printf(Locale.ROOT, "%s epoch %d/%d: train_loss %.4f, val_error %.4f, %.2f s%n", name, epoch,
          o.epochs, lossSum / n, valError, sec);
    }

    @Override
    public Outcome outcome() {
      double[] secs = epochSeconds.stream().mapToDouble(Double::doubleValue).toArray();
      int steps = (train.n() + BATCH - 1) / BATCH;
      return new Outcome(name, o.epochs, valError, median(secs),
          profile(name, lr, o.epochs, steps, secs, data, fwd, bwd, stp, rngd == null ? null : rngd.timings()));
    }

    @Override
    public void close() {
      trainer.close();
      model.close();
      if (rngd != null) {
        rngd.close();
      }
    }
  }

  /**
   * Trains every optimizer, epochs interleaved (epoch 1 of each, then epoch 2, ...) so that a slow spell of a
   * shared machine hits all of them alike. Before that, each optimizer trains {@code warmup} steps on a throwaway
   * network (JIT compilation and first-touch allocation are not billed to whoever goes first).
   */
  static Racer racer(String name, Options o, Dataset train, Dataset val, List<double[]> init) {
    return name.startsWith("rfim4j-") ? new NativeLane(name, o.lr.get(name.substring(7)), o, train, val)
        : new Lane(name, o.lr.get(name), o, train, init);
  }

  static List<Outcome> race(Options o, Dataset train, Dataset val, List<double[]> init) {
    if (o.warmup > 0) {
      int steps = Math.min(o.warmup, train.n() / BATCH);
      for (String name : o.optimizers) {
        if (name.startsWith("rfim4j-")) {
          Options w = new Options();
          w.epochs = 1;
          w.seed = o.seed;
          try (NativeLane lane = new NativeLane(name, o.lr.get(name.substring(7)), w,
              train.subset(0, steps * BATCH), val.subset(0, Math.min(val.n(), 500)))) {
            lane.trainer.fit(lane.train, val.subset(0, Math.min(val.n(), 500)), 1);
          }
        } else {
          try (Lane w = new Lane(name, o.lr.get(name), o, train, init)) {
            w.steps(1, steps, false);
          }
        }
      }
    }
    List<Racer> lanes = new ArrayList<>();
    try {
      for (String name : o.optimizers) {
        lanes.add(racer(name, o, train, val, init));
      }
      for (int epoch = 1; epoch <= o.epochs; epoch++) {
        for (Racer lane : lanes) {
          lane.epoch(epoch, val);
        }
      }
      List<Outcome> out = new ArrayList<>();
      lanes.forEach(l -> out.add(l.outcome()));
      return out;
    } finally {
      lanes.forEach(Racer::close);
    }
  }

  static double validationError(Trainer trainer, Dataset val) {
    int d = val.d();
    int wrong = 0;
    int eval = 500;
    for (int from = 0; from < val.n(); from += eval) {
      int rows = Math.min(eval, val.n() - from);
      try (NDManager m = trainer.getManager().newSubManager()) {
        NDArray x = m.create(Arrays.copyOfRange(val.features(), from * d, (from + rows) * d), new Shape(rows, d));
        long[] pred = trainer.evaluate(new NDList(x)).singletonOrThrow().argMax(1).toLongArray();
        for (int r = 0; r < rows; r++) {
          if (pred[r] != val.labels()[from + r]) {
            wrong++;
          }
        }
      }
    }
    return (double) wrong / val.n();
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int k = s.length;
    return k % 2 == 1 ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
  }

  static String profile(String name, double lr, int epochs, int steps, double[] epochSeconds, double data,
      double fwd, double bwd, double stp, StepTimings t) {
    StringBuilder sb = new StringBuilder();
    double total = Arrays.stream(epochSeconds).sum();
    sb.append(String.format(Locale.ROOT, "profile %s (lr %s): epochs %s s, median %.2f s; per step (ms):%n", name, lr,
        Arrays.toString(Arrays.stream(epochSeconds).map(x -> Math.round(x * 100) / 100.0).toArray()),
        median(epochSeconds)));
    long all = (long) steps * epochs;
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "batch to NDArrays", data * 1e3 / all));
    double rec = t == null ? 0 : t.seconds(StepTimings.Part.RECORD);
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "DJL forward + loss" + (t == null ? ""
        : " (RNGD recording excluded)"), (fwd - rec) * 1e3 / all));
    if (t != null) {
      sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "  RNGD: " + StepTimings.Part.RECORD.description(),
          rec * 1e3 / all));
    }
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "DJL backward", bwd * 1e3 / all));
    double inside = 0;
    if (t != null) {
      for (StepTimings.Part p : StepTimings.Part.values()) {
        if (p != StepTimings.Part.RECORD) {
          inside += t.seconds(p);
        }
      }
    }
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "trainer.step()" + (t == null ? "" : ", of which:"),
        stp * 1e3 / all));
    if (t != null) {
      for (StepTimings.Part p : StepTimings.Part.values()) {
        if (p != StepTimings.Part.RECORD) {
          sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "  " + p.description(), t.seconds(p) * 1e3 / all));
        }
      }
      sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "  DJL's parameter server (gradient copies, calls)",
          (stp - inside) * 1e3 / all));
    }
    double rest = total - data - fwd - bwd - stp;
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "other (loss read-back, loop)", rest * 1e3 / all));
    sb.append(String.format(Locale.ROOT, "  %-58s %7.3f%n", "total", total * 1e3 / all));
    return sb.toString();
  }
}
