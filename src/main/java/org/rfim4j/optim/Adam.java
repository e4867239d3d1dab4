package org.rfim4j.optim;

import java.util.List;
import org.rfim4j.backend.DeviceArray;

/** Adam (Kingma and Ba) with bias correction; defaults beta1 0.9, beta2 0.999, eps 1e-8. */
public final class Adam extends FirstOrderOptimizer {
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final List<DeviceArray> ms;
  private final List<DeviceArray> vs;

  public Adam(Trainable model, double lr) {
    this(model, lr, 0.9, 0.999, 1e-8);
  }

  public Adam(Trainable model, double lr, double beta1, double beta2, double eps) {
    super(model, lr);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) {
      throw new IllegalArgumentException("Adam needs beta1, beta2 in [0, 1) and eps > 0");
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.ms = perParameterState(model, "m");
    this.vs = perParameterState(model, "v");
  }

  @Override
  public String name() {
    return "adam";
  }

  @Override
  public void step() {
    t++;
    backend.adamUpdateAll(params, grads, ms, vs, lr, beta1, beta2, eps, t);  // one launch on a GPU
  }
}
