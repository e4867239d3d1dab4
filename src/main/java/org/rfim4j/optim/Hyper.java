package org.rfim4j.optim;

import java.util.Map;

/** Argument checks shared by the optimizers. */
final class Hyper {
  private Hyper() {}

  static void positive(String what, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(what + " must be a positive finite number, got " + value);
    }
  }

  static long iterations(Map<String, Double> scalars) {
    Double t = scalars.get("iterations");
    if (t == null || t < 0 || t != Math.rint(t)) {
      throw new IllegalArgumentException("optimizer state has no valid 'iterations' entry: " + t);
    }
    return t.longValue();
  }
}
