package org.rfim4j.bench.jmh;

import java.util.SplittableRandom;
import org.rfim4j.backend.Backend;
import org.rfim4j.backend.BackendSelector;
import org.rfim4j.backend.DeviceArray;

/** Shared set-up helpers: backend by name, seeded random device arrays. */
final class Backends {
  private Backends() {}

  /**
   * Opens the backend named by the benchmark's {@code backend} parameter through {@link BackendSelector}
   * ({@code cpu} at the default precision, {@code cpu64} the float64 engine, {@code cpu32} the float32
   * engine, {@code cuda}). A backend that cannot be opened here (no GPU, no driver, not built yet)
   * fails the set-up with one clear message; JMH then reports that parameter combination as failed and
   * goes on with the others.
   */
  static Backend open(String name) {
    if ("auto".equalsIgnoreCase(name.trim())) {
      throw new IllegalArgumentException("benchmark backend must be explicit (cpu or cuda), not 'auto'");
    }
    try {
      String n = name.trim().toLowerCase(java.util.Locale.ROOT);
      if (n.equals("cpu32") || n.equals("cpu64")) {
        return BackendSelector.open("cpu", Integer.parseInt(n.substring(3)),
            msg -> System.err.println("[rfim4j-bench] " + msg));
      }
      return BackendSelector.open(name, msg -> System.err.println("[rfim4j-bench] " + msg));
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalStateException("SKIPPED: backend '" + name + "' is not available on this machine: "
          + e.getMessage() + " (run with -p backend=cpu to benchmark only the CPU)", e);
    }
  }

  /** A new array of the given shape filled with uniform values in [lo, hi). */
  static DeviceArray uniform(Backend b, SplittableRandom rng, double lo, double hi, int... shape) {
    DeviceArray a = b.allocate(shape);
    double[] v = new double[Math.toIntExact(a.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = lo + (hi - lo) * rng.nextDouble();
    }
    b.upload(a, v);
    return a;
  }

  /** Closes every non-null array. */
  static void close(DeviceArray... arrays) {
    for (DeviceArray a : arrays) {
      if (a != null) {
        a.close();
      }
    }
  }
}
