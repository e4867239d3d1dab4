package org.rfim4j.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
  private final List<DeviceArray> params = new ArrayList<>();
  private final List<DeviceArray> grads = new ArrayList<>();
  private final List<DeviceArray> velocities = new ArrayList<>();

  public Sgd(Mlp model, double lr, double momentum) {
    Hyper.positive("learning rate", lr);
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
    }
    this.backend = model.backend();
    this.model = model;
    this.lr = lr;
    this.momentum = momentum;
    for (Parameter p : model.parameters()) {
      params.add(p.value());
      grads.add(p.grad());
      if (momentum > 0) {
        velocity.put(p.name() + ".velocity", backend.allocate(p.value().shape()));
        velocities.add(velocity.get(p.name() + ".velocity"));
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
    backend.sgdUpdateAll(params, grads, momentum > 0 ? velocities : null, lr, momentum);  // one launch on a GPU
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
