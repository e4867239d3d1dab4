package org.rfim4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import java.util.HashSet;
import java.util.Set;

/**
 * A DJL optimizer (SGD, Adam, ...) with the L2 term of MATH.md 8.1 on weights only: {@code beta * W} is added to
 * the gradient of every {@link Parameter.Type#WEIGHT} parameter of {@code block} before the wrapped optimizer
 * sees it; biases are not regularised. DJL's own {@code optWeightDecays} decays every parameter, biases
 * included, which is not the objective rfim4j and the paper train; this wrapper makes DJL's SGD and Adam
 * minimise the same objective as {@link RngdDjl} with {@code l2(beta)}, for comparisons.
 */
public final class WeightL2 extends Optimizer {
  private final Optimizer delegate;
  private final float beta;
  private final Set<String> weights = new HashSet<>();

  /** Adds {@code beta W} to the gradients of {@code block}'s weight parameters, then steps with {@code delegate}. */
  public WeightL2(Optimizer delegate, double beta, Block block) {
    super(new RngdOptimizer.Builder());
    if (!(beta >= 0) || Double.isInfinite(beta)) {
      throw new IllegalArgumentException("L2 beta must be finite and >= 0, got " + beta);
    }
    this.delegate = delegate;
    this.beta = (float) beta;
    for (var e : block.getParameters()) {
      if (e.getValue().getType() == Parameter.Type.WEIGHT) {
        weights.add(e.getValue().getId());
      }
    }
  }

  @Override
  public void update(String parameterId, NDArray weight, NDArray grad) {
    if (beta != 0 && weights.contains(parameterId)) {
      try (NDArray decay = weight.mul(beta); NDArray g = grad.add(decay)) {
        delegate.update(parameterId, weight, g);
      }
    } else {
      delegate.update(parameterId, weight, grad);
    }
  }
}
