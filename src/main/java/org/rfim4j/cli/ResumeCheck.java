package org.rfim4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;
import org.rfim4j.backend.Activation;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.MetricKind;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.optim.RngdConfig;
import org.rfim4j.train.Checkpoint;
import picocli.CommandLine.ParseResult;

/**
 * {@code train --resume}: the model, the optimizer, the batch size, the seed, the dataset and the training
 * subset come from the checkpoint. An option given on the command line that agrees with the checkpoint is
 * accepted; one that contradicts it is an error naming both values (there is no override: a different
 * setting is a different run, started without {@code --resume}). Options that do not change the run's
 * arithmetic ({@code --epochs}, {@code --out}, {@code --device}, {@code --data-dir}, {@code --quiet},
 * {@code --profile}, {@code --cuda-graphs}, {@code --tf32}) may be given freely.
 */
final class ResumeCheck {
  private final ParseResult given;
  private final Checkpoint.Header h;

  ResumeCheck(ParseResult given, Checkpoint.Header h) {
    this.given = given;
    this.h = h;
  }

  void check(TrainCommand t) {
    RunOptions run = t.run;
    MlpConfig m = h.model();
    OptimizerSpec o = h.optimizer();
    same("--optimizer", norm(t.optimizer), o.name(), "optimizer");
    same("--lr", t.lr, o.learningRate(), "learning rate");
    same("--momentum", t.momentum, o.momentum(), "momentum");
    same("--seed", t.seed, h.shuffleSeed(), "seed");
    same("--batch", run.batch, h.batchSize(), "batch size");
    same("--hidden", list(run.hidden), list(m.hidden()), "hidden widths");
    same("--arch", norm(run.arch), norm(m.architecture().name()), "architecture");
    if (given("--activation") || given("--iota") || given("--alpha")) {
      Activation a = m.activation();
      String name = given("--activation") ? run.activation : a.kind().name();
      Activation wanted = Activation.parse(name, given("--iota") ? run.iota : a.iota(),
          given("--alpha") ? run.alpha : a.alpha());
      if (!wanted.equals(a)) {
        throw contradiction(given("--activation") ? "--activation" : given("--iota") ? "--iota" : "--alpha",
            "activation " + a);
      }
    }
    same("--l2", run.l2, m.l2(), "l2");
    same("--init-std", run.initStd, m.initStd(), "init std");
    same("--bn-momentum", run.bnMomentum, m.bnMomentum(), "batch-norm momentum");
    if (h.precisionBits() != null) {
      same("--precision", run.precision, h.precisionBits(), "precision");
    }
    if (h.data() != null) {
      same("--dataset", norm(run.dataset), h.data().dataset(), "dataset");
      same("--train-size", run.trainSize, h.data().trainSize(), "training subset");
    }
    RngdConfig r = o.rngd();
    if (r != null) {
      same("--rngd-lambda", run.rngdLambda, r.lambda(), "RNGD lambda");
      same("--rngd-T", run.rngdT, r.refreshPeriod(), "RNGD T");
      same("--rngd-omega", run.rngdOmega, r.omega(), "RNGD omega");
      same("--rngd-damping", norm(run.rngdDamping), norm(r.damping().name()), "RNGD damping");
      same("--rngd-order", norm(run.rngdOrder).replace('_', '-'), norm(r.order().name()).replace('_', '-'),
          "RNGD order");
      same("--rngd-eps", run.rngdEps, r.damping() == RngdConfig.Damping.CANONICAL ? r.epsRel() : r.epsAdd(),
          "RNGD eps");
      if (given("--rngd-metrics")) {
        int layers = m.hidden().length + 1;
        String stored = java.util.stream.IntStream.range(0, layers)
            .mapToObj(l -> r.kindOf(l, layers) == MetricKind.SHARED ? "shared" : "neuron")
            .collect(Collectors.joining(","));
        String wanted = Arrays.stream(run.rngdMetrics).map(ResumeCheck::norm)
            .map(k -> k.equals("per-neuron") ? "neuron" : k).collect(Collectors.joining(","));
        same("--rngd-metrics", wanted, stored, "RNGD metrics");
      }
    } else {
      for (String opt : new String[] {"--rngd-lambda", "--rngd-T", "--rngd-omega", "--rngd-damping",
          "--rngd-order", "--rngd-eps", "--rngd-metrics"}) {
        if (given(opt)) {
          throw contradiction(opt, "optimizer " + o.name());
        }
      }
    }
  }

  /**
   * After the data is loaded: the record of the checkpoint (null for files of earlier versions, which then
   * resume on the data the options name) agrees with what was loaded.
   */
  static void sameData(Checkpoint.Data stored, Checkpoint.Data loaded, Path file) {
    if (stored == null) {
      System.err.println("note: checkpoint " + file + " does not record its data (written by an earlier version);"
          + " resuming on " + loaded.dataset() + " with " + loaded.trainExamples() + " training examples");
      return;
    }
    if (stored.trainExamples() != loaded.trainExamples() || stored.validationExamples() != loaded.validationExamples()) {
      throw new IllegalArgumentException("checkpoint " + file + " was trained on " + stored.trainExamples()
          + " training and " + stored.validationExamples() + " validation examples of " + stored.dataset()
          + "; the data found now has " + loaded.trainExamples() + " and " + loaded.validationExamples()
          + " (other files in --data-dir?)");
    }
  }

  private boolean given(String option) {
    return given.hasMatchedOption(option);
  }

  /** Refuses {@code option} when it was given and its (converted) value differs from the checkpoint's. */
  private void same(String option, Object value, Object stored, String what) {
    if (given(option) && !equal(value, stored)) {
      throw contradiction(option, what + " " + (stored == null ? "(all examples)" : stored));
    }
  }

  private static boolean equal(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return Objects.equals(a, b);
  }

  private IllegalArgumentException contradiction(String option, String stored) {
    String text = String.join(",", given.matchedOption(option).stringValues());
    return new IllegalArgumentException(option + " " + text + " contradicts the checkpoint, which has " + stored
        + " (a resumed run keeps the checkpoint's settings; leave " + option + " out, or start a new run without"
        + " --resume)");
  }

  private static String list(int[] widths) {
    return Arrays.stream(widths).mapToObj(Integer::toString).collect(Collectors.joining(","));
  }

  private static String norm(String s) {
    return s == null ? null : s.trim().toLowerCase(Locale.ROOT);
  }
}
