package org.rfim4j.optim;

import java.util.List;
import org.rfim4j.backend.DeviceArray;

/** Stochastic gradient descent, optionally with heavy-ball momentum: v = mu v + g; p -= lr v. */
public final class Sgd extends FirstOrderOptimizer {
  private final double momentum;
  private final List<DeviceArray> velocities;

  public Sgd(Trainable model, double lr, double momentum) {
    super(model, lr);
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    this.momentum = momentum;
    this.velocities = momentum > 0 ? perParameterState(model, "velocity") : null;
  }

  @Override
  public String name() {
    return "sgd";
  }

  @Override
  public void step() {
    backend.sgdUpdateAll(params, grads, velocities, lr, momentum);  // one launch on a GPU
    t++;
  }
}
