package org.rfim4j.optim;

import java.util.LinkedHashMap;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.Parameter;

/** Stochastic gradient descent, optionally with heavy-ball momentum: v = mu v + g; p -= lr v. */
public final class Sgd implements Optimizer {
  private final Backend backend;
  private final Mlp model;
  private final double lr;
  private final double momentum;
  private final Map<String, DeviceArray> velocity = new LinkedHashMap<>();
  private long t;

  public Sgd(Mlp model, double lr, double momentum) {
    Hyper.positive("learning rate", lr);
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    this.backend = model.backend();
    this.model = model;
    this.lr = lr;
    this.momentum = momentum;
    if (momentum > 0) {
      for (Parameter p : model.parameters()) {
        velocity.put(p.name() + ".velocity", backend.allocate(p.value().shape()));
      }
    }
  }

  @Override
  public String name() {
    return "sgd";
  }

  @Override
  public double learningRate() {
    return lr;
  }

  @Override
  public void step() {
    for (Parameter p : model.parameters()) {
      DeviceArray v = momentum > 0 ? velocity.get(p.name() + ".velocity") : null;
      backend.sgdUpdate(p.value(), p.grad(), v, lr, momentum);
    }
    t++;
  }

  @Override
  public long iterations() {
    return t;
  }

  @Override
  public Map<String, DeviceArray> state() {
    return velocity;
  }

  @Override
  public Map<String, Double> scalars() {
    Map<String, Double> s = new LinkedHashMap<>();
    s.put("iterations", (double) t);
    return s;
  }

  @Override
  public void restoreScalars(Map<String, Double> scalars) {
    t = Hyper.iterations(scalars);
  }

  @Override
  public void close() {
    velocity.values().forEach(DeviceArray::close);
  }
}
