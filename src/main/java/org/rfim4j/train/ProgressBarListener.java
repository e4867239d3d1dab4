package org.rfim4j.train;

import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A terminal progress bar per epoch, with the running loss; after each epoch one summary line. The bar
 * is drawn only when standard output is a terminal ({@link System#console()}); otherwise only the
 * summary lines are printed.
 *
 * <p>Needs {@code me.tongfei:progressbar} on the classpath: it is an optional dependency of rfim4j (the
 * CLI's shaded jar contains it; a project using rfim4j as a library adds it itself to use this class). No
 * other library class references it, so without it everything else works; only this class fails, with
 * {@link NoClassDefFoundError}, when it is used. {@link CurveCsvListener} and the other listeners need
 * nothing extra.
 */
public final class ProgressBarListener implements TrainingListener {
  private final boolean interactive;
  private final java.io.PrintStream out;
  private ProgressBar bar;
  private TrainingInfo info;

  public ProgressBarListener(java.io.PrintStream out) {
    this(out, System.console() != null);
  }

  public ProgressBarListener(java.io.PrintStream out, boolean interactive) {
    this.out = out;
    this.interactive = interactive;
  }

  @Override
  public void onStart(TrainingInfo info) {
    this.info = info;
    out.printf(Locale.ROOT, "%s on %s [%s]: %d epochs x %d steps, batch %d%n", info.optimizer(), info.model(),
        info.backend(), info.epochs(), info.stepsPerEpoch(), info.batchSize());
  }

  @Override
  public String onProgress(int epoch, long step, int stepsInEpoch, double runningLoss) {
    if (interactive) {
      if (bar == null) {
        bar = new ProgressBarBuilder().setTaskName("epoch " + epoch).setInitialMax(info.stepsPerEpoch())
            .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
            .build();
      }
      bar.stepTo(stepsInEpoch);
      bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f", runningLoss));
    }
    return null;
  }

  @Override
  public void onEpochEnd(EpochResult r) {
    closeBar();
    out.printf(Locale.ROOT, "epoch %3d  train loss %.4f err %6.2f%%  val loss %.4f err %6.2f%%  %.1fs%n",
        r.epoch(), r.trainLoss(), 100 * r.trainError(), r.valLoss(), 100 * r.valError(), r.seconds());
  }

  @Override
  public void onStop(String reason) {
    closeBar();
  }

  private void closeBar() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
