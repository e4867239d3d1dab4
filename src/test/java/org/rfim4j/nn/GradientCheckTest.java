package org.rfim4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rfim4j.backend.Activation;
import org.rfim4j.backend.DeviceArray;
import org.rfim4j.backend.cpu.CpuBackend;

/**
 * Compares every parameter gradient of {@link Mlp#lossAndGradient} with central finite differences of
 * the objective {@code E = mean cross-entropy + l2Penalty()} on the float64 CPU backend, for every
 * activation and both architectures, with L2 on. Kinks of (P)ReLU and ELU are avoided by choosing a data
 * seed whose pre-activations all stay at least {@link #KINK_MARGIN} away from 0.
 */
class GradientCheckTest {
  static final double STEP = 1e-6;
  static final double RTOL = 1e-6;
  /** Absolute floor: central differences of an O(1) objective carry ~1e-10 of rounding at step 1e-6. */
  static final double ATOL = 1e-9;
  static final double KINK_MARGIN = 1e-4;
  static final int BATCH = 6;
  static final int INPUTS = 5;
  static final int CLASSES = 3;

  CpuBackend backend;

  @BeforeEach
  void open() {
    backend = new CpuBackend();
  }

  @AfterEach
  void close() {
    backend.close();
  }

  static Stream<Arguments> cases() {
    List<Activation> acts = List.of(Activation.IDENTITY, Activation.TANH, Activation.SIGMOID, Activation.RELU,
        Activation.prelu(0.2), Activation.elu(0.7));
    List<Arguments> out = new ArrayList<>();
    for (Architecture arch : Architecture.values()) {
      for (Activation a : acts) {
        out.add(Arguments.of(a, arch));
      }
    }
    return out.stream();
  }

  /** A 5-4-3-3 network with its data, chosen so no hidden pre-activation sits near a kink. */
  final class Problem implements AutoCloseable {
    final Mlp model;
    final DeviceArray x;
    final DeviceArray y;
    final DeviceArray stats;

    Problem(Activation act, Architecture arch, long seed) {
      // initStd 0.5 makes the hidden layers do real work; l2 = 0.05 makes the penalty term visible.
      MlpConfig cfg = new MlpConfig(INPUTS, new int[] {4, 3}, CLASSES, act, arch, 0.05, 0.5, seed, 0.999, 1e-3);
      model = new Mlp(backend, cfg, BATCH);
      Random r = new Random(seed * 31 + 7);
      double[] xs = new double[BATCH * INPUTS];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = r.nextGaussian();
      }
      double[] ys = new double[BATCH];
      for (int i = 0; i < BATCH; i++) {
        ys[i] = r.nextInt(CLASSES);
      }
      x = backend.allocate(BATCH, INPUTS);
      y = backend.allocate(BATCH, 1);
      stats = backend.allocate(2);
      backend.upload(x, xs);
      backend.upload(y, ys);
    }

    /** E = mean CE + L2 penalty at the current parameters, batch statistics, running stats untouched. */
    double objective() {
      model.forward(x, true, false);
      backend.fill(stats, 0);
      model.loss(y, stats);
      return backend.download(stats)[0] / BATCH + model.l2Penalty();
    }

    /** Smallest |pre-activation| over the hidden layers of the current forward pass. */
    double closestToKink() {
      model.forward(x, true, false);
      double min = Double.POSITIVE_INFINITY;
      for (DenseLayer layer : model.layers()) {
        if (layer.isOutput()) {
          continue;
        }
        for (double a : backend.download(layer.lastPreActivation(backend))) {
          min = Math.min(min, Math.abs(a));
        }
      }
      return min;
    }

    List<double[]> analyticGradients() {
      model.forward(x, true, false);
      backend.fill(stats, 0);
      model.lossAndGradient(y, stats);
      List<double[]> g = new ArrayList<>();
      for (Parameter p : model.parameters()) {
        g.add(backend.download(p.grad()));
      }
      return g;
    }

    double[] numericGradient(Parameter p) {
      double[] v = backend.download(p.value());
      double[] g = new double[v.length];
      for (int i = 0; i < v.length; i++) {
        double orig = v[i];
        v[i] = orig + STEP;
        backend.upload(p.value(), v);
        double plus = objective();
        v[i] = orig - STEP;
        backend.upload(p.value(), v);
        double minus = objective();
        v[i] = orig;
        backend.upload(p.value(), v);
        g[i] = (plus - minus) / (2 * STEP);
      }
      return g;
    }

    @Override
    public void close() {
      model.close();
      x.close();
      y.close();
      stats.close();
    }
  }

  /** Entries where analytic and numeric gradients disagree beyond RTOL (relative) + ATOL. */
  static List<String> mismatches(String name, double[] analytic, double[] numeric) {
    List<String> bad = new ArrayList<>();
    if (analytic.length != numeric.length) {
      bad.add(name + ": " + analytic.length + " analytic vs " + numeric.length + " numeric entries");
      return bad;
    }
    for (int i = 0; i < analytic.length; i++) {
      double a = analytic[i];
      double n = numeric[i];
      double tol = RTOL * Math.max(Math.abs(a), Math.abs(n)) + ATOL;
      if (!(Math.abs(a - n) <= tol)) {
        bad.add(String.format("%s[%d]: analytic %.12g, numeric %.12g, |diff| %.3g > tol %.3g", name, i, a, n,
            Math.abs(a - n), tol));
      }
    }
    return bad;
  }

  /** Data/init seed whose forward pass keeps every hidden pre-activation away from the kinks. */
  Problem kinkFreeProblem(Activation act, Architecture arch) {
    for (long seed = 1; seed < 200; seed++) {
      Problem p = new Problem(act, arch, seed);
      if (p.closestToKink() > KINK_MARGIN) {
        return p;
      }
      p.close();
    }
    throw new AssertionError("no kink-free seed found for " + act + " " + arch);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void gradientsMatchCentralDifferences(Activation act, Architecture arch) {
    try (Problem p = kinkFreeProblem(act, arch)) {
      List<double[]> analytic = p.analyticGradients();
      List<Parameter> params = p.model.parameters();
      assertEquals(arch == Architecture.BNA ? 3 + 2 * 2 : 3, params.size(), "parameters of " + arch);
      List<String> bad = new ArrayList<>();
      double largest = 0;
      for (int k = 0; k < params.size(); k++) {
        double[] numeric = p.numericGradient(params.get(k));
        bad.addAll(mismatches(params.get(k).name(), analytic.get(k), numeric));
        for (double g : analytic.get(k)) {
          largest = Math.max(largest, Math.abs(g));
        }
      }
      if (!bad.isEmpty()) {
        fail(act + " " + arch + ": " + bad.size() + " gradient entries disagree:\n" + String.join("\n", bad));
      }
      assertTrue(largest > 1e-3, "gradients are suspiciously small (max |g| " + largest + ")");
      // The finite differences must not have disturbed the model: still kink-free and the same objective.
      assertTrue(p.closestToKink() > KINK_MARGIN);
    }
  }

  /** Every weight (bias row included) and every BN gamma/beta gets a gradient: none is left at zero. */
  @Test
  void everyParameterEntryIsCovered() {
    try (Problem p = kinkFreeProblem(Activation.TANH, Architecture.BNA)) {
      List<double[]> analytic = p.analyticGradients();
      List<Parameter> params = p.model.parameters();
      List<String> names = new ArrayList<>();
      params.forEach(q -> names.add(q.name()));
      assertEquals(List.of("W1", "bn1.gamma", "bn1.beta", "W2", "bn2.gamma", "bn2.beta", "W3"), names);
      int[][] shapes = {{6, 4}, {1, 4}, {1, 4}, {5, 3}, {1, 3}, {1, 3}, {4, 3}};
      for (int k = 0; k < params.size(); k++) {
        assertEquals(shapes[k][0] * shapes[k][1], analytic.get(k).length, names.get(k));
      }
    }
  }

  /** The comparator itself: exact agreement passes; one entry off by 1e-5 (relative) fails, naming it. */
  @Test
  void checkerRejectsAWrongGradient() {
    try (Problem p = kinkFreeProblem(Activation.TANH, Architecture.PLAIN)) {
      List<double[]> analytic = p.analyticGradients();
      Parameter w2 = p.model.parameters().get(1);
      double[] numeric = p.numericGradient(w2);
      double[] good = analytic.get(1);
      assertTrue(mismatches("W2", good, numeric).isEmpty(), () -> mismatches("W2", good, numeric).toString());

      double[] wrong = good.clone();
      int i = 4;
      assertTrue(Math.abs(wrong[i]) > 1e-3, "test needs a non-negligible entry, got " + wrong[i]);
      wrong[i] *= 1 + 1e-5;
      List<String> bad = mismatches("W2", wrong, numeric);
      assertEquals(1, bad.size(), bad.toString());
      assertTrue(bad.get(0).startsWith("W2[4]"), bad.get(0));

      // A gradient without the L2 term is also caught.
      double[] noL2 = good.clone();
      double[] w = p.model.backend().download(w2.value());
      for (int k = 0; k < 4 * 3; k++) {
        noL2[k] -= 0.05 * w[k];
      }
      assertFalse(mismatches("W2", noL2, numeric).isEmpty());

      // Sign error in the whole gradient.
      double[] flipped = good.clone();
      for (int k = 0; k < flipped.length; k++) {
        flipped[k] = -flipped[k];
      }
      assertFalse(mismatches("W2", flipped, numeric).isEmpty());
    }
  }
}
