package org.example.consumer;

import java.util.ArrayList;
import java.util.List;
import org.rfim4j.backend.Backend;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.precond.LayerSpec;
import org.rfim4j.precond.Nu;
import org.rfim4j.precond.RngdPreconditioner;

/**
 * A user's own multi-layer perceptron, written with plain Java arrays (ReLU hidden layers, softmax
 * cross-entropy, L2 on the non-bias weights), trained with rfim4j's RNGD preconditioner. Everything but the
 * metric work is this class's own code: rfim4j sees each layer's input, pre-activations and gradient.
 *
 * <p>W[l] is (fanIn + 1) x fanOut, row-major, with the bias as its last row (rfim4j's layout). The paper's
 * metric choice: a shared metric for the input and softmax layers, one metric per neuron in between.
 */
public final class OwnMlp implements AutoCloseable {
  private final int[] widths;
  private final double l2;
  private final double lr;
  private final boolean stepFirst;
  /** Weights per layer, (fanIn + 1) x fanOut row-major. */
  public final double[][] w;
  private final double[][] h;  // h[l]: input of layer l (B x fanIn), h[0] = X
  private final double[][] a;  // a[l]: pre-activations of layer l (B x fanOut)
  private final double[][] grad;
  private final double[][] step;
  private final RngdPreconditioner rngd;

  /**
   * @param widths layer widths, input first, classes last (e.g. 6, 5, 4, 3)
   * @param initial initial weights per layer (copied)
   * @param backend where rfim4j keeps the metrics (e.g. {@code BackendSelector.open("cpu", msg -> {})})
   * @param config RNGD hyper-parameters; its learning rate is the step size used here
   * @param maxBatch largest mini-batch
   */
  public OwnMlp(int[] widths, double[][] initial, double l2, Backend backend, RngdConfig config, int maxBatch) {
    this.widths = widths.clone();
    this.l2 = l2;
    this.lr = config.learningRate();
    this.stepFirst = config.order() == RngdConfig.Order.STEP_FIRST;
    int layers = widths.length - 1;
    w = new double[layers][];
    h = new double[layers][];
    a = new double[layers][];
    grad = new double[layers][];
    step = new double[layers][];
    List<LayerSpec> specs = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      w[l] = initial[l].clone();
      grad[l] = new double[w[l].length];
      step[l] = new double[w[l].length];
      boolean shared = l == 0 || l == layers - 1;
      specs.add(shared ? LayerSpec.shared("dense" + l, widths[l], widths[l + 1])
          : LayerSpec.perNeuron("dense" + l, widths[l], widths[l + 1], Nu.relu()));
    }
    rngd = new RngdPreconditioner(backend, config, maxBatch, specs);
  }

  /** One RNGD step on a mini-batch x (B x inputs, row-major) with integer labels y; returns the mean loss. */
  public double train(double[] x, int[] y) {
    int b = y.length;
    double loss = forwardBackward(x, y);
    int layers = w.length;
    if (!stepFirst) {
      // metric-first (canonical): the metric of this forward pass, then the step
      for (int l = 0; l < layers; l++) {
        rngd.observe("dense" + l, h[l], 0, a[l], 0, b);
      }
      update();
    } else {
      // step-first (reference code): step with the stored inverse, then the metric at the new weights
      update();
      forward(x, b);
      for (int l = 0; l < layers; l++) {
        rngd.observe("dense" + l, h[l], 0, a[l], 0, b);
      }
    }
    rngd.endStep();
    return loss;
  }

  private void update() {
    for (int l = 0; l < w.length; l++) {
      rngd.precondition("dense" + l, grad[l], 0, step[l], 0);
      for (int i = 0; i < w[l].length; i++) {
        w[l][i] -= lr * step[l][i];
      }
    }
  }

  private void forward(double[] x, int b) {
    double[] in = x;
    for (int l = 0; l < w.length; l++) {
      int n = widths[l];
      int m = widths[l + 1];
      h[l] = in;
      double[] z = new double[b * m];
      for (int k = 0; k < b; k++) {
        for (int j = 0; j < m; j++) {
          double s = w[l][n * m + j];  // bias
          for (int i = 0; i < n; i++) {
            s += in[k * n + i] * w[l][i * m + j];
          }
          z[k * m + j] = s;
        }
      }
      a[l] = z;
      if (l + 1 < w.length) {
        double[] out = new double[b * m];
        for (int i = 0; i < out.length; i++) {
          out[i] = Math.max(z[i], 0);
        }
        in = out;
      }
    }
  }

  /** Forward pass, softmax cross-entropy and the gradient of (mean loss + l2/2 ||W without bias||^2). */
  private double forwardBackward(double[] x, int[] y) {
    int b = y.length;
    forward(x, b);
    int last = w.length - 1;
    int c = widths[last + 1];
    double[] delta = new double[b * c];
    double loss = 0;
    for (int k = 0; k < b; k++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < c; j++) {
        max = Math.max(max, a[last][k * c + j]);
      }
      double sum = 0;
      for (int j = 0; j < c; j++) {
        sum += Math.exp(a[last][k * c + j] - max);
      }
      for (int j = 0; j < c; j++) {
        double p = Math.exp(a[last][k * c + j] - max) / sum;
        delta[k * c + j] = (p - (j == y[k] ? 1 : 0)) / b;
      }
      loss -= (a[last][k * c + y[k]] - max - Math.log(sum)) / b;
    }
    for (int l = last; l >= 0; l--) {
      int n = widths[l];
      int m = widths[l + 1];
      double[] g = grad[l];
      for (int i = 0; i <= n; i++) {
        for (int j = 0; j < m; j++) {
          double s = 0;
          for (int k = 0; k < b; k++) {
            s += (i < n ? h[l][k * n + i] : 1) * delta[k * m + j];
          }
          g[i * m + j] = s + (i < n ? l2 * w[l][i * m + j] : 0);
        }
      }
      if (l > 0) {
        double[] prev = new double[b * n];
        for (int k = 0; k < b; k++) {
          for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < m; j++) {
              s += delta[k * m + j] * w[l][i * m + j];
            }
            prev[k * n + i] = a[l - 1][k * n + i] > 0 ? s : 0;
          }
        }
        delta = prev;
      }
    }
    return loss;
  }

  /** Matrices whose inversion failed so far. */
  public long inversionFailures() {
    return rngd.inversionFailures();
  }

  @Override
  public void close() {
    rngd.close();
  }
}
