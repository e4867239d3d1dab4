package org.rfim4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.rfim4j.data.Split;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.nn.Mlp;
import org.rfim4j.train.DeviceDataset;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.Evaluation;
import org.rfim4j.train.PreciseBatchNorm;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainingListener;

/**
 * After every epoch of a {@code reproduce fig2} run: the test error (t10k) with the model's own (running)
 * batch-norm statistics, and, when the model has batch norm, the validation and test errors with population
 * statistics recomputed over the training set ({@link PreciseBatchNorm}; the running statistics are put back
 * afterwards, so training is unchanged). Rewrites {@code eval.csv} atomically after every epoch. Its time is
 * not in the curve's training seconds; it is recorded in {@code eval_seconds}.
 */
final class EvalProbe implements TrainingListener, AutoCloseable {
  static final String FILE = "eval.csv";
  static final String HEADER = "epoch,test_loss,test_error,precise_val_loss,precise_val_error,precise_test_loss,"
      + "precise_test_error,eval_seconds";

  private final Trainer trainer;
  private final Path file;
  private final DeviceDataset val;
  private final DeviceDataset test;
  private final PreciseBatchNorm precise;
  private final StringBuilder text = new StringBuilder(HEADER).append('\n');

  EvalProbe(Mlp model, Trainer trainer, Split data, int batch, Path file) {
    this.trainer = trainer;
    this.file = file;
    this.test = new DeviceDataset(model.backend(), data.test());
    PreciseBatchNorm p = new PreciseBatchNorm(model, data.train(), batch);
    if (p.active()) {
      this.precise = p;
      this.val = new DeviceDataset(model.backend(), data.validation());
    } else {
      p.close();
      this.precise = null;
      this.val = null;
    }
    AtomicFiles.writeString(file, text.toString());
  }

  @Override
  public void onEpochEnd(EpochResult r) {
    long t0 = System.nanoTime();
    Evaluation t = trainer.evaluate(test);
    Evaluation pv = null;
    Evaluation pt = null;
    if (precise != null) {
      precise.recompute();
      try {
        pv = trainer.evaluate(val);
        pt = trainer.evaluate(test);
      } finally {
        precise.restore();
      }
    }
    double s = (System.nanoTime() - t0) * 1e-9;
    text.append(String.format(Locale.ROOT, "%d,%s,%s,%s,%s,%s,%s,%.4f%n", r.epoch(), t.loss(), t.error(),
        pv == null ? "" : pv.loss(), pv == null ? "" : pv.error(), pt == null ? "" : pt.loss(),
        pt == null ? "" : pt.error(), s));
    AtomicFiles.writeString(file, text.toString());
  }

  @Override
  public void close() {
    test.close();
    if (precise != null) {
      precise.close();
      val.close();
    }
  }
}
