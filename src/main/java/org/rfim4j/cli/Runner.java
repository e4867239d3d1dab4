package org.rfim4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rfim4j.backend.Backend;
import org.rfim4j.data.Split;
import org.rfim4j.io.AtomicFiles;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.train.Checkpoint;
import org.rfim4j.train.CurveCsvListener;
import org.rfim4j.train.CurveJsonListener;
import org.rfim4j.train.Curves;
import org.rfim4j.train.DivergenceStop;
import org.rfim4j.train.EpochResult;
import org.rfim4j.train.MemoryEstimate;
import org.rfim4j.train.ProgressBarListener;
import org.rfim4j.train.Trainer;
import org.rfim4j.train.TrainerConfig;
import org.rfim4j.train.TrainingListener;
import org.rfim4j.train.TrainingStoppedException;

/** Runs one training (model, optimizer, seed) with the standard listeners; shared by train and compare. */
final class Runner {
  static final String CHECKPOINT = "checkpoint.rfim4j";
  static final String CURVE_CSV = "curve.csv";
  static final String CURVE_JSON = "curve.json";

  private Runner() {}

  /**
   * Trains and returns the curve. With {@code out}, writes curve.csv, curve.json and a checkpoint after
   * every epoch. With {@code resume}, the model, optimizer and position come from that checkpoint.
   * {@code dataRecord} (may be null) goes into the checkpoints.
   */
  static List<EpochResult> run(Backend backend, Split data, MlpConfig modelConfig, OptimizerSpec spec,
      TrainerConfig trainerConfig, Path out, Checkpoint.Loaded resume, Path resumeFile, boolean quiet,
      PrintStream stdout, Checkpoint.Data dataRecord) {
    return run(backend, data, modelConfig, spec, trainerConfig, out, resume, resumeFile, quiet, stdout, dataRecord,
        null);
  }

  /**
   * As above, with one more listener made by {@code extra} (may be null) from the model and the trainer,
   * added after the standard ones and closed (if {@link AutoCloseable}) when the run ends.
   */
  static List<EpochResult> run(Backend backend, Split data, MlpConfig modelConfig, OptimizerSpec spec,
      TrainerConfig trainerConfig, Path out, Checkpoint.Loaded resume, Path resumeFile, boolean quiet,
      PrintStream stdout, Checkpoint.Data dataRecord,
      java.util.function.BiFunction<Mlp, Trainer, TrainingListener> extra) {
    int maxBatch = Math.max(trainerConfig.batchSize(), trainerConfig.evalBatch());
    MemoryEstimate.require(modelConfig, spec, trainerConfig.batchSize(), trainerConfig.evalBatch(),
        data.train().n(), data.validation().n(), backend, out != null, 0, null);
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
        prepareOutput(out, resume);
        // The checkpoint first, then the curves: a kill between the two leaves the curves one epoch behind
        // the checkpoint (a resume rewrites them from it), never ahead of it.
        trainer.addListener(new TrainingListener() {
          @Override
          public void onEpochEnd(EpochResult r) {
            Checkpoint.save(out.resolve(CHECKPOINT), model, spec, opt, r.epoch(), r.seconds(), trainerConfig,
                trainer.curve(), dataRecord);
            saved[0] = r.epoch();
          }
        });
        CurveCsvListener csv = new CurveCsvListener(out.resolve(CURVE_CSV));
        CurveJsonListener json = new CurveJsonListener(out.resolve(CURVE_JSON));
        if (resume != null) {
          csv.preload(resume.header().curve());
          json.preload(resume.header().curve());
        }
        trainer.addListener(csv);
        trainer.addListener(json);
      }
      TrainingListener probe = extra == null ? null : extra.apply(model, trainer);
      if (probe != null) {
        trainer.addListener(probe);
      }
      try {
        return trainer.fit(data.train(), data.validation());
      } catch (TrainingStoppedException e) {
        if (out == null) {
          throw e;
        }
        throw new TrainingStoppedException(e.getMessage() + where(out, saved[0], e.keptEpoch(), resumeFile),
            e.keptEpoch());
      } finally {
        if (probe instanceof AutoCloseable) {
          try {
            ((AutoCloseable) probe).close();
          } catch (Exception c) {
            throw new IllegalStateException("closing " + probe + ": " + c.getMessage(), c);
          }
        }
      }
    }
  }

  /**
   * Before the first write to {@code out}: removes the temporary files a killed run left there, and on resume
   * says when a curve file is ahead of the checkpoint (it is rewritten from the checkpoint's curve).
   */
  private static void prepareOutput(Path out, Checkpoint.Loaded resume) {
    List<Path> stale = AtomicFiles.removeStale(out, List.of(CHECKPOINT, CURVE_CSV, CURVE_JSON));
    if (!stale.isEmpty()) {
      System.err.println("note: removed " + stale.size() + " temporary file" + (stale.size() == 1 ? "" : "s")
          + " of an interrupted run from " + out);
    }
    if (resume == null) {
      return;
    }
    int kept = resume.header().epochsCompleted();
    for (String name : List.of(CURVE_CSV, CURVE_JSON)) {
      int last = Curves.lastEpochIn(out.resolve(name));
      if (last > kept) {
        System.err.println("note: " + out.resolve(name) + " was ahead of the checkpoint (epoch " + last
            + "); cut back to epoch " + kept + ", the checkpoint's");
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
    if (kept > 0 && resumeFile != null && savedEpoch < 0) {
      return " (" + resumeFile + " holds it; this run wrote no checkpoint to " + out + ")";
    }
    return kept > 0 ? "" : " (this run wrote no checkpoint to " + out + ")";
  }
}
