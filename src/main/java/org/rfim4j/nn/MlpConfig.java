package org.rfim4j.nn;

import java.util.Arrays;
import org.rfim4j.backend.Activation;

/**
 * Everything that defines an MLP before its weights exist.
 *
 * @param inputs input dimension (784 for MNIST)
 * @param hidden hidden layer widths, e.g. {80, 80, 80}
 * @param classes number of softmax outputs
 * @param activation activation of every hidden layer
 * @param architecture PLAIN or BNA
 * @param l2 beta of the (beta/2) sum of squared non-bias weights
 * @param initStd standard deviation of the truncated-normal initialisation (bias row included; values
 *     beyond two standard deviations are redrawn), 0.1 in the paper's reference code
 * @param seed initialisation seed
 * @param bnMomentum running-statistics decay of batch norm (0.999 as TensorFlow's batch_norm default)
 * @param bnEps batch-norm variance epsilon (0.001)
 */
public record MlpConfig(int inputs, int[] hidden, int classes, Activation activation,
    Architecture architecture, double l2, double initStd, long seed, double bnMomentum, double bnEps) {

  public MlpConfig {
    if (inputs <= 0) {
      throw new IllegalArgumentException("inputs must be positive, got " + inputs);
    }
    if (classes < 2) {
      throw new IllegalArgumentException("classes must be at least 2, got " + classes);
    }
    hidden = hidden.clone();
    for (int h : hidden) {
      if (h <= 0) {
        throw new IllegalArgumentException("hidden widths must be positive, got " + Arrays.toString(hidden));
      }
    }
    if (!(l2 >= 0) || Double.isInfinite(l2)) {
      throw new IllegalArgumentException("l2 must be a finite number >= 0, got " + l2);
    }
    if (!(initStd > 0) || Double.isInfinite(initStd)) {
      throw new IllegalArgumentException("initStd must be positive, got " + initStd);
    }
    if (activation == null || architecture == null) {
      throw new IllegalArgumentException("activation and architecture must be given");
    }
    if (!(bnMomentum >= 0 && bnMomentum < 1) || !(bnEps > 0)) {
      throw new IllegalArgumentException("batch norm needs momentum in [0,1) and eps > 0");
    }
  }

  /** The paper's network: 784-80-80-80-10, ReLU, beta = 1e-3, truncated normal std 0.1. */
  public static MlpConfig paper(Architecture architecture, long seed) {
    return new MlpConfig(784, new int[] {80, 80, 80}, 10, Activation.RELU, architecture, 1e-3, 0.1, seed,
        0.999, 1e-3);
  }

  public MlpConfig withSeed(long newSeed) {
    return new MlpConfig(inputs, hidden, classes, activation, architecture, l2, initStd, newSeed, bnMomentum,
        bnEps);
  }

  @Override
  public int[] hidden() {
    return hidden.clone();
  }

  /** Layer widths from input to output, e.g. [784, 80, 80, 80, 10]. */
  public int[] widths() {
    int[] w = new int[hidden.length + 2];
    w[0] = inputs;
    System.arraycopy(hidden, 0, w, 1, hidden.length);
    w[w.length - 1] = classes;
    return w;
  }

  /** "784-80-80-80-10". */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    for (int w : widths()) {
      if (sb.length() > 0) {
        sb.append('-');
      }
      sb.append(w);
    }
    return sb.toString();
  }
}
