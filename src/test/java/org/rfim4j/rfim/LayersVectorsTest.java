package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rfim4j.rfim.Vectors.close;
import static org.rfim4j.rfim.Vectors.mat;
import static org.rfim4j.rfim.Vectors.vec;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** vectors/layers.json: linear, non-linear and softmax layers (MATH.md section 4). */
class LayersVectorsTest {
  private static final JsonNode D = Vectors.load("layers.json");
  private static final double[] X = vec(D.get("x"));
  private static final double[][] W = mat(D.get("W"));
  private static final double[][] XS = mat(D.get("X"));

  @Test
  void inputs() {
    close("x_tilde", Mat.augment(X), D.get("x_tilde"));
    close("a", Mat.mulTransposed(W, Mat.augment(X)), D.get("a"));
  }

  @Test
  void linearLayer() {
    JsonNode lin = D.get("linear");
    int m = W[0].length;
    close("linear G", ClosedForms.linearLayer(m, X, lin.get("sigma").doubleValue()), lin.get("G"));
    close("linear G_sigma1", ClosedForms.linearLayer(m, X, 1.0), lin.get("G_sigma1"));
    close("linear batch_mean_sigma1", ClosedForms.linearLayerBatchMean(m, XS, 1.0), lin.get("batch_mean_sigma1"));
    close("shared block", ClosedForms.sharedBlockBatchMean(XS), lin.get("shared_block_batch_mean"));
  }

  @Test
  void nonlinearLayers() {
    int n = 0;
    for (JsonNode c : D.get("nonlinear")) {
      NeuronFamily fam = Vectors.family(c.get("activation"), c.get("params"));
      double[] a = Mat.mulTransposed(W, Mat.augment(X));
      for (int i = 0; i < a.length; i++) {
        close(fam + " nu", fam.nu(a[i]), c.get("nu").get(i).doubleValue());
      }
      close(fam + " G", ClosedForms.nonlinearLayer(fam, W, X), c.get("G"));
      close(fam + " batch_mean", ClosedForms.nonlinearLayerBatchMean(fam, W, XS), c.get("batch_mean"));
      n++;
    }
    assertEquals(7, n);
  }

  @Test
  void softmaxLayer() {
    JsonNode s = D.get("softmax");
    double[][] ws = mat(s.get("W"));
    close("eta", ClosedForms.softmaxProbabilities(ws, X), s.get("eta"));
    double[][] g = ClosedForms.softmaxLayer(ws, X);
    close("softmax G", g, s.get("G"));
    assertEquals(s.get("rank_single").intValue(), Rank.of(g));
    double[][] gb = ClosedForms.softmaxLayerBatchMean(ws, XS);
    close("softmax batch_mean", gb, s.get("batch_mean"));
    assertEquals(s.get("rank_batch_mean").intValue(), Rank.of(gb));
    assertEquals(12, Rank.of(gb));

    // kernel: G * basis = 0, and our basis spans the same space as the stored one
    double[][] basis = ClosedForms.softmaxNullSpaceBasis(X.length + 1, ws[0].length);
    assertTrue(Mat.maxAbs(Mat.mul(gb, basis)) < 1e-14, "G (1 (x) v) = 0");
    assertTrue(Mat.maxAbs(Mat.mul(gb, mat(s.get("null_space_basis")))) < 1e-14, "stored kernel basis");
    double[][] stored = mat(s.get("null_space_basis"));
    double[][] proj = Mat.mul(basis, Mat.mul(Mat.transpose(basis), stored)); // P_ours * stored
    assertTrue(Mat.maxAbsDiff(proj, stored) < 1e-12, "stored kernel lies in span{1 (x) e_p}");

    int[] labels = new int[s.get("labels").size()];
    for (int k = 0; k < labels.length; k++) {
      labels[k] = s.get("labels").get(k).intValue();
    }
    double[][] grad = ClosedForms.crossEntropyGradient(ws, XS, labels);
    close("ce_gradient", grad, s.get("ce_gradient"));
    double[] gv = Mat.vec(grad);
    close("ce_gradient_vec", gv, s.get("ce_gradient_vec"));
    double[] nat = Mat.mul(Rank.pseudoInverse(gb), gv);
    close("natural_gradient_pinv_vec", nat, s.get("natural_gradient_pinv_vec"), Vectors.PINV_ATOL, Vectors.PINV_RTOL);
    // gradient is orthogonal to the kernel (class components sum to 0)
    for (double[] col : Mat.transpose(basis)) {
      assertTrue(Math.abs(Mat.dot(col, gv)) < 1e-15);
    }
  }
}
