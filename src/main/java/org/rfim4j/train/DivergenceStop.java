package org.rfim4j.train;

/** Stops the run as soon as the running training loss is NaN or infinite. */
public final class DivergenceStop implements TrainingListener {
  @Override
  public String onProgress(int epoch, long step, int stepsInEpoch, double runningLoss) {
    if (!Double.isFinite(runningLoss)) {
      return "training diverged: loss is " + runningLoss + " in epoch " + epoch + " at step " + step
          + "; try a smaller learning rate";
    }
    return null;
  }
}
