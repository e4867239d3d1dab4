package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Small statistics over learning curves, shared by the timing listener, summaries and benchmarks. */
public final class Curves {
  private Curves() {}

  /** Seconds of each epoch from a curve whose {@code seconds} are cumulative. */
  public static List<Double> secondsPerEpoch(List<EpochResult> curve) {
    List<Double> s = new ArrayList<>();
    double last = 0;
    for (EpochResult r : curve) {
      s.add(r.seconds() - last);
      last = r.seconds();
    }
    return s;
  }

  /** Median, NaN for an empty list. */
  public static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> s = new ArrayList<>(values);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : 0.5 * (s.get(n / 2 - 1) + s.get(n / 2));
  }
}
