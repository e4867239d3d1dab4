package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.rfim4j.rfim.Vectors.close;
import static org.rfim4j.rfim.Vectors.mat;
import static org.rfim4j.rfim.Vectors.vec;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** vectors/single_neuron.json: a, f, f', nu and G for every activation, both inputs and the batch mean. */
class SingleNeuronVectorsTest {
  private static final JsonNode D = Vectors.load("single_neuron.json");

  @Test
  void everyCaseReproduced() {
    int n = 0;
    for (JsonNode c : D.get("cases")) {
      NeuronFamily fam = Vectors.family(c.get("activation"), c.get("params"));
      String tag = fam + " " + c.get("case").asText();
      double[] w = vec(c.get("w"));
      if (c.get("case").asText().equals("batch_mean")) {
        double[][] xs = mat(c.get("X"));
        for (int k = 0; k < xs.length; k++) {
          double a = Mat.dot(w, Mat.augment(xs[k]));
          close(tag + " a", a, c.get("a").get(k).doubleValue());
          close(tag + " nu", fam.nu(a), c.get("nu").get(k).doubleValue());
        }
        close(tag + " G", ClosedForms.neuronBatchMean(fam, w, xs), c.get("G"));
      } else {
        double[] x = vec(c.get("x"));
        close(tag + " x_tilde", Mat.augment(x), c.get("x_tilde"));
        double a = Mat.dot(w, Mat.augment(x));
        close(tag + " a", a, c.get("a").doubleValue());
        close(tag + " f", fam.f(a), c.get("f_a").doubleValue());
        close(tag + " df", fam.df(a), c.get("df_a").doubleValue());
        close(tag + " nu", fam.nu(a), c.get("nu").doubleValue());
        close(tag + " G", ClosedForms.neuron(fam, w, x), c.get("G"));
      }
      n++;
    }
    assertEquals(21, n);
  }

  @Test
  void noiseModelMatchesDeclaration() {
    for (JsonNode c : D.get("cases")) {
      NeuronFamily fam = Vectors.family(c.get("activation"), c.get("params"));
      String declared = c.get("noise_model").asText();
      NoiseModel expected = declared.startsWith("bernoulli_pm1") ? NoiseModel.BERNOULLI_PM1
          : declared.startsWith("bernoulli01") ? NoiseModel.BERNOULLI_01 : NoiseModel.GAUSSIAN;
      assertEquals(expected, fam.noise(), fam.toString());
    }
  }
}
