package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rfim4j.rfim.Vectors.close;
import static org.rfim4j.rfim.Vectors.mat;
import static org.rfim4j.rfim.Vectors.vec;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** vectors/theorem3.json: the joint FIM of a stochastic 3-2-2 net is block-diagonal. */
class Theorem3VectorsTest {
  private static final JsonNode D = Vectors.load("theorem3.json");
  private static final Theorem3 T3 = new Theorem3(mat(D.get("X")), vec(D.get("pi")), mat(D.get("W")), mat(D.get("C")));

  @Test
  void closedFormsReproduced() {
    close("h_values", T3.hValues(), D.get("h_values"));
    close("p_h", T3.marginalH(), D.get("p_h"));
    close("E_g_h_W", T3.expectedHiddenRfim(), D.get("E_g_h_W"));
    close("E_g_y_C", T3.expectedOutputRfim(), D.get("E_g_y_C"));
    close("joint_FIM", T3.jointFimClosedForm(), D.get("joint_FIM"));
  }

  @Test
  void enumerationGivesBlockDiagonalJointFim() {
    double[][] byDef = T3.jointFimByEnumeration();
    double err = Mat.maxAbsDiff(byDef, mat(D.get("joint_FIM")));
    assertTrue(err < 1e-8, "joint FIM by enumeration vs Theorem 3: " + err);
    // the off-diagonal (W, C) block vanishes
    assertTrue(Mat.maxAbs(Mat.subMatrix(byDef, 0, 8, 8, 14)) < 1e-8);
  }
}
