package org.rfim4j.dl4j;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.rfim4j.precond.Layouts;

/** Test fixtures: small DL4J networks, weights in rfim4j's layout, mini-batches. */
final class Nets {
  private Nets() {}

  /** DL4J's activation for rfim4j's. */
  static IActivation dl4jActivation(org.rfim4j.backend.Activation a) {
    switch (a.kind()) {
      case RELU:
        return Activation.RELU.getActivationFunction();
      case TANH:
        return Activation.TANH.getActivationFunction();
      case SIGMOID:
        return Activation.SIGMOID.getActivationFunction();
      case IDENTITY:
        return Activation.IDENTITY.getActivationFunction();
      case PRELU:
        return new ActivationLReLU(a.iota());
      case ELU:
        return new ActivationELU(a.alpha());
      default:
        throw new IllegalArgumentException(a.toString());
    }
  }

  /** A DL4J network of the given widths: dense layers with {@code act}, softmax output, plain Sgd(lr), FLOAT. */
  static NeuralNetConfiguration.ListBuilder builder(int[] widths, IActivation act, double lr, double dl4jL2) {
    NeuralNetConfiguration.Builder b = new NeuralNetConfiguration.Builder().seed(7).dataType(DataType.FLOAT)
        .updater(new Sgd(lr)).weightInit(WeightInit.XAVIER);
    if (dl4jL2 != 0) {
      b.l2(dl4jL2);
    }
    NeuralNetConfiguration.ListBuilder lb = b.list();
    for (int l = 0; l + 2 < widths.length; l++) {
      lb.layer(new DenseLayer.Builder().nIn(widths[l]).nOut(widths[l + 1]).activation(act).build());
    }
    int n = widths.length;
    lb.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(widths[n - 2]).nOut(widths[n - 1])
        .activation(Activation.SOFTMAX).build());
    return lb;
  }

  static MultiLayerNetwork network(int[] widths, IActivation act, double lr, double dl4jL2) {
    MultiLayerNetwork net = new MultiLayerNetwork(builder(widths, act, lr, dl4jL2).build());
    net.init();
    return net;
  }

  /** Float-valued random weights per layer, (fanIn + 1) x fanOut row-major, bias last. */
  static double[][] weights(int[] widths, long seed, double std) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[][] w = new double[widths.length - 1][];
    for (int l = 0; l < w.length; l++) {
      w[l] = new double[(widths[l] + 1) * widths[l + 1]];
      for (int i = 0; i < w[l].length; i++) {
        w[l][i] = (float) (rng.nextGaussian() * std);
      }
    }
    return w;
  }

  /** Writes rfim4j-layout weights into the network's W ('f' order) and b. */
  static void setWeights(MultiLayerNetwork net, int[] widths, double[][] w) {
    FloatBuffer params = net.params().data().asNioFloat();
    int off = 0;
    for (int l = 0; l < w.length; l++) {
      int fanIn = widths[l];
      int fanOut = widths[l + 1];
      float[] f = new float[w[l].length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) w[l][i];
      }
      Layouts.unpack(FloatBuffer.wrap(f), 0, fanIn, fanOut, params, off, Layouts.Order.COLUMN_MAJOR, params,
          off + fanIn * fanOut);
      off += (fanIn + 1) * fanOut;
    }
  }

  /** The network's weights in rfim4j's layout. */
  static List<double[]> getWeights(MultiLayerNetwork net, int[] widths) {
    FloatBuffer params = net.params().data().asNioFloat();
    List<double[]> out = new ArrayList<>();
    int off = 0;
    for (int l = 0; l + 1 < widths.length; l++) {
      int fanIn = widths[l];
      int fanOut = widths[l + 1];
      float[] f = new float[(fanIn + 1) * fanOut];
      Layouts.pack(params, off, Layouts.Order.COLUMN_MAJOR, params, off + fanIn * fanOut, fanIn, fanOut,
          FloatBuffer.wrap(f), 0);
      double[] d = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        d[i] = f[i];
      }
      out.add(d);
      off += (fanIn + 1) * fanOut;
    }
    return out;
  }

  /** A mini-batch: features in [-1, 1) (float values), labels uniform. */
  static final class Batch {
    final double[] x;
    final int[] y;
    final int rows;
    final int d;

    Batch(double[] x, int[] y, int d) {
      this.x = x;
      this.y = y;
      this.rows = y.length;
      this.d = d;
    }

    DataSet dl4j(int classes) {
      float[] xf = new float[x.length];
      for (int i = 0; i < xf.length; i++) {
        xf[i] = (float) x[i];
      }
      INDArray features = Nd4j.create(xf, new long[] {rows, d}, 'c');
      INDArray labels = Nd4j.zeros(DataType.FLOAT, rows, classes);
      for (int k = 0; k < rows; k++) {
        labels.putScalar(k, y[k], 1f);
      }
      return new DataSet(features, labels);
    }

    double[] labelsAsDoubles() {
      double[] v = new double[rows];
      for (int k = 0; k < rows; k++) {
        v[k] = y[k];
      }
      return v;
    }
  }

  static List<Batch> batches(int[] rows, int d, int classes, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<Batch> out = new ArrayList<>();
    for (int b : rows) {
      double[] x = new double[b * d];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) rng.nextDouble(-1, 1);
      }
      int[] y = new int[b];
      for (int k = 0; k < b; k++) {
        y[k] = rng.nextInt(classes);
      }
      out.add(new Batch(x, y, d));
    }
    return out;
  }
}
