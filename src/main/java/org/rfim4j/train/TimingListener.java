package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Records seconds per epoch (training steps only) and reports their median. */
public final class TimingListener implements TrainingListener {
  private final List<Double> perEpoch = new ArrayList<>();
  private double last;

  @Override
  public void onEpochEnd(EpochResult r) {
    perEpoch.add(r.seconds() - last);
    last = r.seconds();
  }

  /** Seconds of each epoch, in order. */
  public List<Double> secondsPerEpoch() {
    return Collections.unmodifiableList(perEpoch);
  }

  /** Median seconds per epoch, NaN before the first epoch. */
  public double medianSecondsPerEpoch() {
    if (perEpoch.isEmpty()) {
      return Double.NaN;
    }
    List<Double> s = new ArrayList<>(perEpoch);
    Collections.sort(s);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : 0.5 * (s.get(n / 2 - 1) + s.get(n / 2));
  }
}
