package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rfim4j.rfim.Vectors.close;
import static org.rfim4j.rfim.Vectors.mat;
import static org.rfim4j.rfim.Vectors.vec;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** vectors/two_layer.json: 8 hidden/output combinations (MATH.md section 5). */
class TwoLayerVectorsTest {
  private static final JsonNode D = Vectors.load("two_layer.json");
  private static final double[] X = vec(D.get("x"));
  private static final double[][] W = mat(D.get("W"));
  private static final double[][] C = mat(D.get("C"));

  @Test
  void everyCaseReproduced() {
    close("x_tilde", Mat.augment(X), D.get("x_tilde"));
    int n = 0;
    for (JsonNode c : D.get("cases")) {
      NeuronFamily hid = Vectors.family(c.get("hidden"), c.get("hidden_params"));
      NeuronFamily out = Vectors.family(c.get("output"), c.get("output_params"));
      String tag = hid + "->" + out;
      ClosedForms.TwoLayerForward fw = ClosedForms.twoLayerForward(hid, W, C, X);
      close(tag + " a", fw.a, c.get("a"));
      close(tag + " h", fw.h, c.get("h"));
      close(tag + " h_tilde", fw.hTilde, c.get("h_tilde"));
      close(tag + " b", fw.b, c.get("b"));
      for (int i = 0; i < fw.a.length; i++) {
        close(tag + " df_hidden", hid.df(fw.a[i]), c.get("df_hidden").get(i).doubleValue());
        close(tag + " nu_hidden", hid.nu(fw.a[i]), c.get("nu_hidden_sec31").get(i).doubleValue());
      }
      for (int l = 0; l < fw.b.length; l++) {
        close(tag + " nu_out", out.nu(fw.b[l]), c.get("nu_out").get(l).doubleValue());
      }
      close(tag + " K", ClosedForms.twoLayerK(hid, out, W, C, X), c.get("K"));
      double[][] gc = ClosedForms.twoLayer(hid, out, W, C, X, TwoLayerVariant.CORRECTED);
      double[][] gp = ClosedForms.twoLayer(hid, out, W, C, X, TwoLayerVariant.AS_PRINTED);
      close(tag + " G_correct", gc, c.get("G_correct"));
      close(tag + " G_as_printed", gp, c.get("G_as_printed"));
      close(tag + " max diff printed", Mat.maxAbsDiff(gp, gc), c.get("max_abs_diff_printed_vs_correct").doubleValue(),
          1e-12, 1e-9);
      double[][] full = ClosedForms.twoLayerFull(hid, out, W, C, X);
      close(tag + " G_full_WC", full, c.get("G_full_WC"));
      // Proposition 2: the W-block of the full metric is the two-layer RFIM
      assertTrue(Mat.maxAbsDiff(Mat.subBlock(full, 0, 12), gc) < 1e-15, tag + " W block");
      n++;
    }
    assertEquals(8, n);
  }

  @Test
  void printedFormulaIsWrongExactlyForTheGaussianFamilies() {
    for (JsonNode c : D.get("cases")) {
      String h = c.get("hidden").asText();
      double diff = c.get("max_abs_diff_printed_vs_correct").doubleValue();
      boolean agrees = h.equals("tanh") || h.equals("sigmoid") || h.equals("relu_exact");
      NeuronFamily hid = Vectors.family(c.get("hidden"), c.get("hidden_params"));
      NeuronFamily out = Vectors.family(c.get("output"), c.get("output_params"));
      double ours = Mat.maxAbsDiff(ClosedForms.twoLayer(hid, out, W, C, X, TwoLayerVariant.AS_PRINTED),
          ClosedForms.twoLayer(hid, out, W, C, X));
      if (agrees) {
        assertTrue(ours < 1e-15 && diff < 1e-15, h + " printed formula should agree");
      } else {
        assertTrue(ours > 0.1 && diff > 0.1, h + " printed formula should be off by > 0.1, got " + ours);
      }
    }
  }
}
