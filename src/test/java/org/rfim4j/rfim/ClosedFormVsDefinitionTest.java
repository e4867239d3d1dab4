package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every closed form against Definition 1 (finite-difference score, exact sums / Gauss-Hermite), on random
 * cases drawn with fixed seeds. Tolerance: max |closed - byDefinition| &le; 1e-7 * (1 + max|G|); the
 * finite-difference error with step 1e-5 is ~1e-10 here, so a wrong formula (errors 1e-2 .. 1) fails.
 */
class ClosedFormVsDefinitionTest {
  static final double TOL = 1e-7;

  static final List<NeuronFamily> FAMILIES = List.of(
      NeuronFamily.of("tanh"),
      NeuronFamily.of("sigmoid"),
      NeuronFamily.of("relu_smooth", Map.of("iota", 0.0, "omega", 1.0)),
      NeuronFamily.of("prelu_smooth", Map.of("iota", 0.25, "omega", 1.0)),
      NeuronFamily.of("prelu_smooth", Map.of("iota", 0.1, "omega", 0.3)),
      NeuronFamily.of("elu", Map.of("alpha", 0.7)),
      NeuronFamily.of("elu", Map.of("alpha", 1.0)),
      NeuronFamily.of("relu_exact"),
      NeuronFamily.of("prelu_exact", Map.of("iota", 0.25)),
      NeuronFamily.of("identity"),
      NeuronFamily.of("tanh_gauss"));

  static double[] gauss(Random r, int n, double s) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = s * r.nextGaussian();
    }
    return v;
  }

  static double[][] gauss(Random r, int rows, int cols, double s) {
    double[][] m = new double[rows][];
    for (int i = 0; i < rows; i++) {
      m[i] = gauss(r, cols, s);
    }
    return m;
  }

  static void agree(String what, double[][] closed, double[][] byDef) {
    double err = Mat.maxAbsDiff(closed, byDef);
    double scale = 1 + Mat.maxAbs(closed);
    assertTrue(err <= TOL * scale, what + ": max abs error " + err + " (scale " + scale + ")");
  }

  static void agreeNonzero(String what, double[][] closed, double[][] byDef) {
    agree(what, closed, byDef);
    assertTrue(Mat.maxAbs(closed) > 1e-6, what + ": degenerate test case");
  }

  @Test
  void singleNeuronAllFamilies() {
    Random rng = new Random(11);
    for (NeuronFamily fam : FAMILIES) {
      int nonzero = 0;
      for (int rep = 0; rep < 4; rep++) {
        double[] w = gauss(rng, 4, 0.8);
        double[] x = gauss(rng, 3, 1.0);
        double[][] closed = ClosedForms.neuron(fam, w, x);
        agree("neuron " + fam, closed, FisherByDefinition.neuron(fam, w, x));
        nonzero += Mat.maxAbs(closed) > 1e-6 ? 1 : 0; // exact ReLU legitimately gives 0 for a < 0
      }
      assertTrue(nonzero >= 2, fam + ": too few non-degenerate cases");
    }
  }

  @Test
  void neuronBatchMean() {
    Random rng = new Random(12);
    NeuronFamily fam = NeuronFamily.of("elu", Map.of("alpha", 0.7));
    double[] w = gauss(rng, 4, 0.8);
    double[][] xs = gauss(rng, 5, 3, 1.0);
    agreeNonzero("neuron batch", ClosedForms.neuronBatchMean(fam, w, xs), FisherByDefinition.neuronBatchMean(fam, w, xs));
  }

  @Test
  void linearLayerWithSigma() {
    Random rng = new Random(13);
    for (double sigma : new double[] {0.7, 1.0, 1.9}) {
      double[][] w = gauss(rng, 4, 3, 0.7);
      double[] x = gauss(rng, 3, 1.0);
      agreeNonzero("linear sigma=" + sigma, ClosedForms.linearLayer(3, x, sigma), FisherByDefinition.linearLayer(w, x, sigma));
    }
  }

  @Test
  void nonlinearLayers() {
    Random rng = new Random(14);
    for (NeuronFamily fam : FAMILIES) {
      double[][] w = gauss(rng, 4, 3, 0.7);
      double[] x = gauss(rng, 3, 1.0);
      agreeNonzero("layer " + fam, ClosedForms.nonlinearLayer(fam, w, x), FisherByDefinition.layer(fam, w, x));
    }
  }

  @Test
  void softmaxLayer() {
    Random rng = new Random(15);
    for (int rep = 0; rep < 3; rep++) {
      double[][] w = gauss(rng, 4, 4, 0.8);
      double[] x = gauss(rng, 3, 1.0);
      double[][] g = ClosedForms.softmaxLayer(w, x);
      agreeNonzero("softmax", g, FisherByDefinition.softmaxLayer(w, x));
      assertEquals(3, Rank.of(g), "one sample: rank m-1");
    }
  }

  @Test
  void twoLayerCorrectedAndFull() {
    Random rng = new Random(16);
    NeuronFamily[][] combos = {
      {FAMILIES.get(0), FAMILIES.get(0)},
      {FAMILIES.get(1), FAMILIES.get(1)},
      {FAMILIES.get(0), FAMILIES.get(10)},
      {FAMILIES.get(5), FAMILIES.get(5)},
      {FAMILIES.get(2), FAMILIES.get(2)},
      {NeuronFamily.of("prelu_smooth", Map.of("iota", 0.2, "omega", 0.5)), FAMILIES.get(9)},
      {FAMILIES.get(8), FAMILIES.get(9)},
      {FAMILIES.get(6), FAMILIES.get(1)},
    };
    for (NeuronFamily[] hc : combos) {
      double[][] w = gauss(rng, 4, 3, 0.8);
      double[][] c = gauss(rng, 4, 2, 0.8);
      double[] x = gauss(rng, 3, 1.0);
      String tag = hc[0] + "->" + hc[1];
      agreeNonzero("two-layer " + tag, ClosedForms.twoLayer(hc[0], hc[1], w, c, x),
          FisherByDefinition.twoLayer(hc[0], hc[1], w, c, x));
      agreeNonzero("two-layer full " + tag, ClosedForms.twoLayerFull(hc[0], hc[1], w, c, x),
          FisherByDefinition.twoLayerFull(hc[0], hc[1], w, c, x));
    }
  }

  @Test
  void printedTwoLayerFormulaFailsDefinitionForElu() {
    // negative hidden pre-activations so that ELU's nu != f'
    NeuronFamily elu = NeuronFamily.of("elu", Map.of("alpha", 0.7));
    double[][] w = {{0.5, -0.6, 0.2}, {-0.3, 0.4, -0.8}, {0.1, -0.2, 0.3}, {0.2, -0.9, -1.0}};
    double[][] c = {{0.9, -0.7}, {1.1, 0.4}, {-0.8, 1.3}, {0.1, -0.2}};
    double[] x = {0.3, -0.5, 0.8};
    double[][] byDef = FisherByDefinition.twoLayer(elu, elu, w, c, x);
    agreeNonzero("corrected", ClosedForms.twoLayer(elu, elu, w, c, x), byDef);
    double err = Mat.maxAbsDiff(ClosedForms.twoLayer(elu, elu, w, c, x, TwoLayerVariant.AS_PRINTED), byDef);
    assertTrue(err > 1e-2, "printed formula should differ from Definition 1, got " + err);
  }

  @Test
  void monteCarloOptionIsConsistent() {
    // ELU(0.7) neuron at a ~ -0.2: MC with 200k samples; standard error ~ 1e-3 relative to entries ~1
    NeuronFamily fam = NeuronFamily.of("elu", Map.of("alpha", 0.7));
    double[] w = {0.9, -0.4, 0.3, 0.1};
    double[] x = {-0.5, 0.6, 0.2};
    double[] xt = Mat.augment(x);
    double[][] mc = FisherByDefinition.independentOutputsMonteCarlo(
        th -> new double[] {Mat.dot(th, xt)}, new NeuronFamily[] {fam}, w, 200_000, new Random(17),
        FisherByDefinition.DEFAULT_STEP);
    double[][] closed = ClosedForms.neuron(fam, w, x);
    double err = Mat.maxAbsDiff(mc, closed);
    assertTrue(err < 2e-2 * Mat.maxAbs(closed), "Monte Carlo error " + err);
    // and it is genuinely noisy (not secretly the closed form)
    assertTrue(err > 1e-9);
  }

  @Test
  void gaussHermiteRuleMoments() {
    double[][] gh = FisherByDefinition.gaussHermiteStandardNormal(6);
    double m0 = 0, m1 = 0, m2 = 0, m4 = 0, m6 = 0;
    for (int i = 0; i < 6; i++) {
      double z = gh[0][i], w = gh[1][i];
      m0 += w;
      m1 += w * z;
      m2 += w * z * z;
      m4 += w * Math.pow(z, 4);
      m6 += w * Math.pow(z, 6);
    }
    assertEquals(1.0, m0, 1e-13);
    assertEquals(0.0, m1, 1e-13);
    assertEquals(1.0, m2, 1e-12);
    assertEquals(3.0, m4, 1e-11);
    assertEquals(15.0, m6, 1e-10);
  }
}
