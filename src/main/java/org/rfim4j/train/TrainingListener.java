package org.rfim4j.train;

/**
 * Observes a training run. Presets: {@link ProgressBarListener}, {@link CurveCsvListener},
 * {@link CurveJsonListener}, {@link TimingListener}, {@link DivergenceStop}. All methods default to
 * doing nothing.
 */
public interface TrainingListener {

  /** Called once before the first step. */
  default void onStart(TrainingInfo info) {}

  /**
   * Called every {@code checkEvery} steps and at the end of each epoch with the running training loss of
   * the epoch so far; return a non-null reason to stop the run (the trainer then throws
   * {@link TrainingStoppedException} after notifying {@link #onStop}).
   */
  default String onProgress(int epoch, long step, int stepsInEpoch, double runningLoss) {
    return null;
  }

  /** Called after every epoch with its learning-curve row. */
  default void onEpochEnd(EpochResult result) {}

  /** Called once when the run ends normally. */
  default void onEnd(java.util.List<EpochResult> curve) {}

  /** Called once when the run is stopped early, with the reason. */
  default void onStop(String reason) {}
}
