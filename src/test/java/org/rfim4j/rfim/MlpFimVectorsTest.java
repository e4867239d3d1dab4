package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rfim4j.rfim.Vectors.close;
import static org.rfim4j.rfim.Vectors.mat;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.rfim4j.backend.ActivationMath;

/** vectors/mlp_fim.json: eq. (3) FIM of a 3-2-2 tanh / Bernoulli-sigmoid net and its blocks. */
class MlpFimVectorsTest {
  private static final JsonNode D = Vectors.load("mlp_fim.json");
  private static final double[][] XS = mat(D.get("X"));
  private static final double[][] W1 = mat(D.get("W1"));
  private static final double[][] W2 = mat(D.get("W2"));
  private static final NeuronFamily TANH = NeuronFamily.of("tanh");
  private static final NeuronFamily SIGM = NeuronFamily.of("sigmoid");

  @Test
  void perSampleForward() {
    for (int k = 0; k < XS.length; k++) {
      JsonNode ps = D.get("per_sample").get(k);
      close("x", XS[k], ps.get("x"));
      ClosedForms.TwoLayerForward fw = ClosedForms.twoLayerForward(TANH, W1, W2, XS[k]);
      close("a", fw.a, ps.get("a"));
      close("h", fw.h, ps.get("h"));
      close("b", fw.b, ps.get("b"));
      for (int j = 0; j < fw.b.length; j++) {
        close("mu", ActivationMath.sigm(fw.b[j]), ps.get("mu").get(j).doubleValue());
      }
    }
  }

  @Test
  void fimAndRank() {
    double[][] fim = MlpFisher.eq3(TANH, W1, W2, XS);
    close("FIM", fim, D.get("FIM"));
    assertEquals(D.get("rank").intValue(), Rank.of(fim));
    assertEquals(10, Rank.of(fim));
    // Lemma C form agrees with the literal eq. (3)
    close("FIM via Gauss-Newton", ClosedForms.twoLayerFullBatchMean(TANH, SIGM, W1, W2, XS), D.get("FIM"));
  }

  @Test
  void blocksAreRfims() {
    double[][] fim = MlpFisher.eq3(TANH, W1, W2, XS);
    close("last block", Mat.subBlock(fim, 8, 14), D.get("last_layer_block_equals"));
    close("first block", Mat.subBlock(fim, 0, 8), D.get("first_layer_block_equals_two_layer_rfim"));
    // the blocks are the averaged RFIMs computed independently
    double[][] hs = new double[XS.length][];
    for (int k = 0; k < XS.length; k++) {
      hs[k] = ClosedForms.twoLayerForward(TANH, W1, W2, XS[k]).h;
    }
    close("output-layer RFIM", ClosedForms.nonlinearLayerBatchMean(SIGM, W2, hs), D.get("last_layer_block_equals"));
    close("two-layer RFIM", ClosedForms.twoLayerBatchMean(TANH, SIGM, W1, W2, XS, TwoLayerVariant.CORRECTED),
        D.get("first_layer_block_equals_two_layer_rfim"));
    double[][] one = MlpFisher.firstLayerOneLayerRfim(TANH, W1, XS);
    close("one-layer RFIM", one, D.get("first_layer_one_layer_rfim_tanh_bernoulli"));
    assertTrue(Mat.maxAbsDiff(one, Mat.subBlock(fim, 0, 8)) > 0.1, "one-layer RFIM is not a FIM block");
  }

  @Test
  void eq3MatchesDefinitionByEnumeration() {
    double[][] enumerated = MlpFisher.byEnumeration(TANH, W1, W2, XS);
    double err = Mat.maxAbsDiff(enumerated, MlpFisher.eq3(TANH, W1, W2, XS));
    assertTrue(err < 1e-8, "eq. (3) vs enumeration: " + err);
  }
}
