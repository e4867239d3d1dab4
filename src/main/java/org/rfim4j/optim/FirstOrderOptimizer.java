package org.rfim4j.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;

/**
 * What SGD and Adam share: the model's parameter and gradient lists (in the order the batched backend
 * updates take them), per-parameter state arrays by stable names, and the step counter.
 */
abstract class FirstOrderOptimizer implements Optimizer {
  final Backend backend;
  final double lr;
  final List<DeviceArray> params = new ArrayList<>();
  final List<DeviceArray> grads = new ArrayList<>();
  private final Map<String, DeviceArray> state = new LinkedHashMap<>();
  long t;

  FirstOrderOptimizer(Trainable model, double lr) {
    Hyper.positive("learning rate", lr);
    this.backend = model.backend();
    this.lr = lr;
    for (Trainable.Tensor p : model.tensors()) {
      params.add(p.value());
      grads.add(p.grad());
    }
  }

  /** Allocates one zeroed state array per parameter, named {@code <parameter>.<suffix>}, in parameter order. */
  final List<DeviceArray> perParameterState(Trainable model, String suffix) {
    List<DeviceArray> arrays = new ArrayList<>();
    for (Trainable.Tensor p : model.tensors()) {
      DeviceArray a = backend.allocate(p.value().shape());
      state.put(p.name() + "." + suffix, a);
      arrays.add(a);
    }
    return arrays;
  }

  @Override
  public double learningRate() {
    return lr;
  }

  @Override
  public long iterations() {
    return t;
  }

  @Override
  public Map<String, DeviceArray> state() {
    return state;
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
    state.values().forEach(DeviceArray::close);
  }
}
