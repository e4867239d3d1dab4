package org.rfim4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.nn.Architecture;
import org.rfim4j.nn.Mlp;
import org.rfim4j.nn.MlpConfig;
import org.rfim4j.optim.Optimizer;
import org.rfim4j.optim.OptimizerSpec;
import org.rfim4j.testutil.BlobsFixture;

/**
 * Issue 16, finding 1: a diverged epoch never reaches the epoch-end listeners (checkpoint saver, curve
 * writers). The trainer checks the validation loss and every parameter for non-finite values first, and
 * its message names the epoch that was kept.
 */
class DivergenceTest extends BlobsFixture {
  static final int BATCH = 30; // 300 examples: 10 steps per epoch

  static MlpConfig plain() {
    return new MlpConfig(20, new int[] {16, 12}, 3, Activation.RELU, Architecture.PLAIN, 1e-3, 0.1, 5, 0.999, 1e-3);
  }

  /** SGD that runs {@code sabotage} on the model right after step number {@code at} (1-based). */
  static final class Saboteur implements Optimizer {
    final Optimizer inner;
    final long at;
    final Consumer<Optimizer> sabotage;

    Saboteur(Optimizer inner, long at, Consumer<Optimizer> sabotage) {
      this.inner = inner;
      this.at = at;
      this.sabotage = sabotage;
    }

    @Override
    public String name() {
      return inner.name();
    }

    @Override
    public double learningRate() {
      return inner.learningRate();
    }

    @Override
    public void step() {
      inner.step();
      if (inner.iterations() == at) {
        sabotage.accept(inner);
      }
    }

    @Override
    public long iterations() {
      return inner.iterations();
    }

    @Override
    public Map<String, DeviceArray> state() {
      return inner.state();
    }

    @Override
    public Map<String, Double> scalars() {
      return inner.scalars();
    }

    @Override
    public void restoreScalars(Map<String, Double> scalars) {
      inner.restoreScalars(scalars);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  /** What the epoch-end listeners saw, and the checkpoint the Runner-style saver wrote. */
  record Outcome(TrainingStoppedException stop, List<Integer> epochsSeen, List<String> csv, Checkpoint.Loaded ck) {}

  Outcome run(Mlp model, Optimizer opt, int epochs) throws IOException {
    Path dir = tmp.resolve("run");
    Path ckFile = dir.resolve("checkpoint.rfim4j");
    TrainerConfig tc = new TrainerConfig(epochs, BATCH, 1, 100, 500);
    List<Integer> seen = new ArrayList<>();
    Trainer t = new Trainer(model, opt, tc);
    t.addListener(new DivergenceStop());
    t.addListener(new TrainingListener() {
      @Override
      public void onEpochEnd(EpochResult r) {
        seen.add(r.epoch());
        Checkpoint.save(ckFile, model, OptimizerSpec.sgd(0.1), opt, r.epoch(), r.seconds(), tc, t.curve());
      }
    });
    t.addListener(new CurveCsvListener(dir.resolve("curve.csv")));
    TrainingStoppedException e = assertThrows(TrainingStoppedException.class, () -> t.fit(train, val));
    return new Outcome(e, seen, Files.readAllLines(dir.resolve("curve.csv")),
        Files.exists(ckFile) ? Checkpoint.load(ckFile) : null);
  }

  static void assertAllFinite(Checkpoint.Loaded ck) {
    for (Map.Entry<String, double[]> a : ck.arrays().entrySet()) {
      assertTrue(Arrays.stream(a.getValue()).allMatch(Double::isFinite), "non-finite values in " + a.getKey());
    }
    for (EpochResult r : ck.header().curve()) {
      assertTrue(Double.isFinite(r.valLoss()) && Double.isFinite(r.trainLoss()), r.toString());
    }
  }

  @Test
  void nonFiniteValidationLossKeepsTheLastGoodEpoch() throws IOException {
    // After the last step of epoch 3 the softmax layer's weights become huge (finite): the epoch's training
    // loss is still finite, its validation loss is not (and every weight is finite).
    try (Mlp model = new Mlp(backend, plain(), 500);
        Optimizer opt = new Saboteur(OptimizerSpec.sgd(0.1).create(model), 30, o -> {
          DeviceArray w = model.namedArrays().get("W3");
          double[] huge = new double[(int) w.size()];
          for (int i = 0; i < huge.length; i++) {
            huge[i] = i % 2 == 0 ? 1e308 : -1e308;
          }
          backend.upload(w, huge);
        })) {
      Outcome o = run(model, opt, 5);
      String msg = o.stop().getMessage();
      assertTrue(msg.contains("validation loss"), msg);
      assertTrue(msg.contains("epoch 3"), msg);
      assertTrue(msg.contains("kept epoch 2"), msg);
      assertEquals(List.of(1, 2), o.epochsSeen(), "listeners never see the diverged epoch");
      assertEquals(3, o.csv().size(), "header and epochs 1, 2: " + o.csv());
      assertFalse(String.join("\n", o.csv()).contains("NaN"), o.csv().toString());
      assertEquals(2, o.ck().header().epochsCompleted());
      assertAllFinite(o.ck());
    }
  }

  /** A sabotage that writes {@code value} into element {@code index} of the model array {@code name}. */
  private Consumer<Optimizer> poison(Mlp model, String name, int index, double value) {
    return o -> {
      DeviceArray w = model.namedArrays().get(name);
      double[] v = backend.download(w);
      v[index] = value;
      backend.upload(w, v);
    };
  }

  @Test
  void nanWeightsAreCaughtWhileTheLossStaysFinite() throws IOException {
    // A NaN in the first layer: ReLU maps the NaN pre-activation to 0, so every loss stays finite and the
    // run would train on silently with a NaN weight.
    try (Mlp model = new Mlp(backend, plain(), 500);
        Optimizer opt = new Saboteur(OptimizerSpec.sgd(0.1).create(model), 20, poison(model, "W1", 3, Double.NaN))) {
      Outcome o = run(model, opt, 5);
      String msg = o.stop().getMessage();
      assertTrue(msg.contains("W1"), msg);
      assertTrue(msg.contains("epoch 2"), msg);
      assertTrue(msg.contains("kept epoch 1"), msg);
      assertEquals(List.of(1), o.epochsSeen());
      assertEquals(1, o.ck().header().epochsCompleted());
      assertAllFinite(o.ck());
    }
  }

  @Test
  void divergenceInTheFirstEpochSaysNothingWasKept() throws IOException {
    try (Mlp model = new Mlp(backend, plain(), 500);
        Optimizer opt = new Saboteur(OptimizerSpec.sgd(0.1).create(model), 10,
            poison(model, "W2", 0, Double.POSITIVE_INFINITY))) {
      Outcome o = run(model, opt, 3);
      String msg = o.stop().getMessage();
      assertTrue(msg.contains("epoch 1"), msg);
      assertTrue(msg.contains("no epoch was kept"), msg);
      assertEquals(List.of(), o.epochsSeen());
      assertEquals(1, o.csv().size(), o.csv().toString());
      assertEquals(null, o.ck());
    }
  }
}
