package org.rfim4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Records seconds per epoch (training steps only) and reports their median. */
public final class TimingListener implements TrainingListener {
  private final List<EpochResult> curve = new ArrayList<>();

  @Override
  public void onEpochEnd(EpochResult r) {
    curve.add(r);
  }

  /** Seconds of each epoch, in order. */
  public List<Double> secondsPerEpoch() {
    return Collections.unmodifiableList(Curves.secondsPerEpoch(curve));
  }

  /** Median seconds per epoch, NaN before the first epoch. */
  public double medianSecondsPerEpoch() {
    return Curves.median(Curves.secondsPerEpoch(curve));
  }
}
