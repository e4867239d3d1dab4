package org.rfim4j.train;

import java.nio.file.Path;
import org.rfim4j.io.AtomicFiles;

/**
 * Writes {@code curve.csv} (epoch,train_loss,train_error,val_loss,val_error,seconds), rewritten
 * atomically after every epoch so an interrupted or diverged run keeps every finished epoch.
 */
public final class CurveCsvListener implements TrainingListener {
  private final Path file;
  private final StringBuilder text = new StringBuilder(EpochResult.CSV_HEADER).append('\n');

  public CurveCsvListener(Path file) {
    this.file = file;
  }

  /** Rows of an earlier part of the run (on resume), kept at the top of the file. */
  public void preload(java.util.List<EpochResult> rows) {
    rows.forEach(r -> text.append(r.toCsv()).append('\n'));
  }

  @Override
  public void onStart(TrainingInfo info) {
    AtomicFiles.writeString(file, text.toString());
  }

  @Override
  public void onEpochEnd(EpochResult r) {
    text.append(r.toCsv()).append('\n');
    AtomicFiles.writeString(file, text.toString());
  }
}
