package org.rfim4j.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Rngd;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Layouts;

/**
 * The same MLP twice: rfim4j's {@link Mlp} (float64, CPU backend) stepped by rfim4j's {@link Rngd}, and a DJL
 * network stepped by {@link RngdDjl}, from the same float32-representable weights on the same batches.
 */
final class Twins {
  private Twins() {}

  /** A DJL activation block for an rfim4j activation. */
  static ai.djl.nn.Block djlActivation(Activation a) {
    switch (a.kind()) {
      case RELU:
        return ai.djl.nn.Activation.reluBlock();
      case TANH:
        return ai.djl.nn.Activation.tanhBlock();
      case SIGMOID:
        return ai.djl.nn.Activation.sigmoidBlock();
      case PRELU:
        return ai.djl.nn.Activation.leakyReluBlock((float) a.iota());
      case ELU:
        return ai.djl.nn.Activation.eluBlock((float) a.alpha());
      default:
        return Blocks.identityBlock();
    }
  }

  /** in - hidden... - classes with {@code act} after every hidden layer. */
  static SequentialBlock djlNet(int[] hidden, int classes, Activation act) {
    SequentialBlock net = new SequentialBlock();
    for (int h : hidden) {
      net.add(Linear.builder().setUnits(h).build()).add(djlActivation(act));
    }
    return net.add(Linear.builder().setUnits(classes).build());
  }

  /** Random float32-representable weights for every layer of {@code cfg} (rfim4j layout, bias last). */
  static List<double[]> weights(MlpConfig cfg, double std, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    int[] w = cfg.widths();
    List<double[]> out = new ArrayList<>();
    for (int l = 0; l + 1 < w.length; l++) {
      double[] v = new double[(w[l] + 1) * w[l + 1]];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (std * gaussian(rng));
      }
      out.add(v);
    }
    return out;
  }

  static double gaussian(SplittableRandom rng) {
    double u = 1 - rng.nextDouble();
    double v = rng.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One mini-batch: B x d features (float values) and labels. */
  record Batch(float[] x, int[] y, int rows) {}

  static List<Batch> batches(int k, int rows, int d, int classes, long seed, double mean) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<Batch> out = new ArrayList<>();
    for (int s = 0; s < k; s++) {
      float[] x = new float[rows * d];
      int[] y = new int[rows];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) (mean + gaussian(rng));
      }
      for (int i = 0; i < rows; i++) {
        y[i] = rng.nextInt(classes);
      }
      out.add(new Batch(x, y, rows));
    }
    return out;
  }

  /** Weights (rfim4j layout, bias last) and metrics G of every layer after training, and RNGD's step count. */
  record Result(List<double[]> weights, List<double[]> metrics, long steps) {}

  /** rfim4j's Rngd on its Mlp after the batches (float64). */
  static Result reference(MlpConfig cfg, List<double[]> w0, RngdConfig rc, List<Batch> batches) {
    try (Backend b = new CpuBackend(); Mlp mlp = new Mlp(b, cfg, batches.get(0).rows());
        Rngd rngd = new Rngd(mlp, rc)) {
      for (int l = 0; l < w0.size(); l++) {
        mlp.setWeights(l, w0.get(l));
      }
      try (DeviceArray stats = b.allocate(2)) {
        for (Batch batch : batches) {
          double[] x = new double[batch.x().length];
          for (int i = 0; i < x.length; i++) {
            x[i] = batch.x()[i];
          }
          double[] y = new double[batch.rows()];
          for (int i = 0; i < y.length; i++) {
            y[i] = batch.y()[i];
          }
          try (DeviceArray xd = b.allocate(batch.rows(), cfg.inputs()); DeviceArray yd = b.allocate(batch.rows())) {
            b.upload(xd, x);
            b.upload(yd, y);
            mlp.forward(xd, true, true);
            mlp.lossAndGradient(yd, stats);
            rngd.step();
          }
        }
      }
      List<double[]> g = new ArrayList<>();
      for (String id : rngd.preconditioner().layers().stream().map(LayerSpec::id).toList()) {
        g.add(b.download(rngd.preconditioner().metric(id)));
      }
      return new Result(mlp.downloadParameters(), g, rngd.iterations());
    }
  }

  /** Writes rfim4j-layout weights into the DJL Linear blocks of {@code rngd}. */
  static void setWeights(RngdDjl rngd, List<double[]> w) {
    List<RecordingLinear> layers = rngd.layers();
    for (int l = 0; l < layers.size(); l++) {
      Linear lin = layers.get(l).linear();
      Parameter wp = lin.getDirectParameters().get("weight");
      Parameter bp = lin.getDirectParameters().get("bias");
      int out = Math.toIntExact(wp.getArray().getShape().get(0));
      int in = Math.toIntExact(wp.getArray().getShape().get(1));
      double[] wd = new double[in * out];
      double[] bd = new double[out];
      Layouts.unpack(w.get(l), 0, in, out, wd, 0, Layouts.Order.COLUMN_MAJOR, bd, 0);
      wp.getArray().set(FloatBuffer.wrap(toFloat(wd)));
      bp.getArray().set(FloatBuffer.wrap(toFloat(bd)));
    }
  }

  /** The DJL network's weights in rfim4j's layout. */
  static List<double[]> getWeights(RngdDjl rngd) {
    List<double[]> out = new ArrayList<>();
    for (RecordingLinear r : rngd.layers()) {
      Parameter wp = r.linear().getDirectParameters().get("weight");
      Parameter bp = r.linear().getDirectParameters().get("bias");
      int fo = Math.toIntExact(wp.getArray().getShape().get(0));
      int fi = Math.toIntExact(wp.getArray().getShape().get(1));
      double[] packed = new double[(fi + 1) * fo];
      Layouts.pack(toDouble(wp.getArray().toFloatArray()), 0, Layouts.Order.COLUMN_MAJOR,
          toDouble(bp.getArray().toFloatArray()), 0, fi, fo, packed, 0);
      out.add(packed);
    }
    return out;
  }

  /** User mistakes the equivalence test must catch. */
  enum Mistake {
    NONE,
    /** L2 given to RngdDjl and also added to the loss: counted twice. */
    L2_TWICE,
    /** L2 added to the loss over weights and biases instead of RngdDjl's l2 (which spares the bias row). */
    L2_ON_BIAS
  }

  /** The DJL side: {@link RngdDjl} on a DJL network with {@code w0}, trained on {@code batches}. */
  static Result djl(MlpConfig cfg, List<double[]> w0, RngdConfig rc, List<Batch> batches,
      Mistake mistake) {
    int rows = batches.get(0).rows();
    try (RngdDjl rngd = RngdDjl.builder(rc).l2(mistake == Mistake.L2_ON_BIAS ? 0 : cfg.l2()).maxBatch(rows)
        .build(djlNet(cfg.hidden(), cfg.classes(), cfg.activation()));
        Model model = Model.newInstance("twin", ai.djl.Device.cpu(), "PyTorch")) {
      model.setBlock(rngd.block());
      Loss loss = Loss.softmaxCrossEntropyLoss();
      try (Trainer trainer = model.newTrainer(rngd.trainingConfig(loss))) {
        trainer.initialize(new Shape(rows, cfg.inputs()));
        setWeights(rngd, w0);
        NDManager m = trainer.getManager();
        for (Batch b : batches) {
          try (NDManager step = m.newSubManager()) {
            NDArray x = step.create(b.x(), new Shape(b.rows(), cfg.inputs()));
            float[] yf = new float[b.rows()];
            for (int i = 0; i < yf.length; i++) {
              yf[i] = b.y()[i];
            }
            NDArray y = step.create(yf);
            try (GradientCollector gc = trainer.newGradientCollector()) {
              NDList pred = trainer.forward(new NDList(x));
              NDArray l = loss.evaluate(new NDList(y), pred);
              if (mistake != Mistake.NONE) {
                for (RecordingLinear r : rngd.layers()) {
                  for (var p : r.linear().getDirectParameters().values()) {
                    if (p.getName().equals("weight") || mistake == Mistake.L2_ON_BIAS) {
                      l = l.add(p.getArray().square().sum().mul(0.5 * cfg.l2()));
                    }
                  }
                }
              }
              gc.backward(l);
            }
            trainer.step();
          }
        }
      }
      List<double[]> g = new ArrayList<>();
      for (String id : rngd.preconditioner().layers().stream().map(LayerSpec::id).toList()) {
        g.add(rngd.backend().download(rngd.preconditioner().metric(id)));
      }
      return new Result(getWeights(rngd), g, rngd.optimizer().iterations());
    }
  }

  static MlpConfig config(int inputs, int[] hidden, int classes, Activation act, double l2) {
    return new MlpConfig(inputs, hidden, classes, act, Architecture.PLAIN, l2, 0.1, 1, 0.999, 1e-3);
  }

  static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  /**
   * max |a - b| over all layers, relative to the largest displacement {@code max |ref - w0|}: how far the DJL
   * run is from the reference, as a fraction of how far training moved the weights.
   */
  static double relativeDifference(List<double[]> a, List<double[]> ref, List<double[]> w0) {
    if (a.size() != ref.size()) {
      throw new AssertionError(a.size() + " layers against " + ref.size());
    }
    double diff = 0;
    double moved = 0;
    for (int l = 0; l < ref.size(); l++) {
      for (int i = 0; i < ref.get(l).length; i++) {
        diff = Math.max(diff, Math.abs(a.get(l)[i] - ref.get(l)[i]));
        moved = Math.max(moved, Math.abs(ref.get(l)[i] - w0.get(l)[i]));
      }
    }
    return diff / moved;
  }

  /** max |a - b| / max |b| over all layers' metrics. */
  static double metricDifference(List<double[]> a, List<double[]> ref) {
    double diff = 0;
    double scale = 0;
    for (int l = 0; l < ref.size(); l++) {
      for (int i = 0; i < ref.get(l).length; i++) {
        diff = Math.max(diff, Math.abs(a.get(l)[i] - ref.get(l)[i]));
        scale = Math.max(scale, Math.abs(ref.get(l)[i]));
      }
    }
    return diff / scale;
  }
}
