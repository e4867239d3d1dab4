package org.rfim4j.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.Parameter;

/** Adam (Kingma and Ba) with bias correction; defaults beta1 0.9, beta2 0.999, eps 1e-8. */
public final class Adam implements Optimizer {
  private final Backend backend;
  private final Mlp model;
  private final double lr;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final Map<String, DeviceArray> moments = new LinkedHashMap<>();
  private long t;
  private final List<DeviceArray> params = new ArrayList<>();
  private final List<DeviceArray> grads = new ArrayList<>();
  private final List<DeviceArray> ms = new ArrayList<>();
  private final List<DeviceArray> vs = new ArrayList<>();

  public Adam(Mlp model, double lr) {
    this(model, lr, 0.9, 0.999, 1e-8);
  }

  public Adam(Mlp model, double lr, double beta1, double beta2, double eps) {
    Hyper.positive("learning rate", lr);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) {
      throw new IllegalArgumentException("Adam needs beta1, beta2 in [0, 1) and eps > 0");
    }
    this.backend = model.backend();
    this.model = model;
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    for (Parameter p : model.parameters()) {
      moments.put(p.name() + ".m", backend.allocate(p.value().shape()));
      moments.put(p.name() + ".v", backend.allocate(p.value().shape()));
      params.add(p.value());
      grads.add(p.grad());
      ms.add(moments.get(p.name() + ".m"));
      vs.add(moments.get(p.name() + ".v"));
    }
  }

  @Override
  public String name() {
    return "adam";
  }

  @Override
  public double learningRate() {
    return lr;
  }

  @Override
  public void step() {
    t++;
    backend.adamUpdateAll(params, grads, ms, vs, lr, beta1, beta2, eps, t);  // one launch on a GPU
  }

  @Override
  public long iterations() {
    return t;
  }

  @Override
  public Map<String, DeviceArray> state() {
    return moments;
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
    moments.values().forEach(DeviceArray::close);
  }
}
