package org.rfim4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Split;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.train.Checkpoint;
import org.rfim4j.train.CurveCsvListener;
import org.rfim4j.train.CurveJsonListener;
import org.rfim4j.train.DivergenceStop;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.ProgressBarListener;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingListener;
import org.rfim4j.train.TrainingStoppedException;

/** Runs one training (model, optimizer, seed) with the standard listeners; shared by train and compare. */
final class Runner {
  static final String CHECKPOINT = "checkpoint.rfim4j";

  private Runner() {}

  /**
   * Trains and returns the curve. With {@code out}, writes curve.csv, curve.json and a checkpoint after
   * every epoch. With {@code resume}, the model, optimizer and position come from that checkpoint.
   */
  static List<EpochResult> run(Backend backend, Split data, MlpConfig modelConfig, OptimizerSpec spec,
      TrainerConfig trainerConfig, Path out, Checkpoint.Loaded resume, Path resumeFile, boolean quiet,
      PrintStream stdout) {
    int maxBatch = Math.max(trainerConfig.batchSize(), trainerConfig.evalBatch());
    try (Mlp model = new Mlp(backend, modelConfig, maxBatch); Optimizer opt = spec.create(model)) {
      Trainer trainer = new Trainer(model, opt, trainerConfig);
      if (resume != null) {
        resume.restoreInto(model, opt, resumeFile);
        trainer.resumeAt(resume.header().epochsCompleted(), resume.header().seconds(), resume.header().curve());
      }
      trainer.addListener(new DivergenceStop());
      if (!quiet) {
        trainer.addListener(new ProgressBarListener(stdout));
      }
      int[] saved = {-1};
      if (out != null) {
        CurveCsvListener csv = new CurveCsvListener(out.resolve("curve.csv"));
        trainer.addListener(csv);
        trainer.addListener(new CurveJsonListener(out.resolve("curve.json")));
        trainer.addListener(new TrainingListener() {
          @Override
          public void onEpochEnd(EpochResult r) {
            Checkpoint.save(out.resolve(CHECKPOINT), model, spec, opt, r.epoch(), r.seconds(), trainerConfig,
                trainer.curve());
            saved[0] = r.epoch();
          }
        });
        if (resume != null) {
          csv.preload(resume.header().curve());
        }
      }
      try {
        return trainer.fit(data.train(), data.validation());
      } catch (TrainingStoppedException e) {
        if (out == null) {
          throw e;
        }
        throw new TrainingStoppedException(e.getMessage() + where(out, saved[0], e.keptEpoch(), resumeFile),
            e.keptEpoch());
      }
    }
  }

  /** Where the kept epoch is, for the message of a stopped run with --out. */
  private static String where(Path out, int savedEpoch, int kept, Path resumeFile) {
    Path ck = out.resolve(CHECKPOINT);
    if (kept > 0 && savedEpoch == kept) {
      return " (" + ck + " and the curves hold it)";
    }
    try {
      if (kept > 0 && resumeFile != null && Files.exists(ck) && Files.isSameFile(ck, resumeFile)) {
        return " (" + ck + " still holds it)";
      }
    } catch (IOException e) {
      // fall through: say nothing about the file
    }
    return kept > 0 ? "" : " (this run wrote no checkpoint to " + out + ")";
  }
}
