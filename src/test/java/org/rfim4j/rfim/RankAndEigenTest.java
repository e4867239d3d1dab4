package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Jacobi eigen solver, numerical rank, pseudo-inverse and the Section 4 rank table. */
class RankAndEigenTest {

  @Test
  void jacobiRecoversKnownSpectrum() {
    // A = Q diag(5, 2, 0, -1) Q^T with a random orthogonal Q (Gram-Schmidt)
    Random rng = new Random(3);
    int n = 4;
    double[][] q = new double[n][n];
    for (int j = 0; j < n; j++) {
      double[] v = ClosedFormVsDefinitionTest.gauss(rng, n, 1);
      for (int k = 0; k < j; k++) {
        double[] qk = Mat.column(q, k);
        double d = Mat.dot(v, qk);
        for (int i = 0; i < n; i++) {
          v[i] -= d * qk[i];
        }
      }
      double norm = Math.sqrt(Mat.dot(v, v));
      for (int i = 0; i < n; i++) {
        q[i][j] = v[i] / norm;
      }
    }
    double[][] lam = {{5, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, -1}};
    double[][] a = Mat.mul(Mat.mul(q, lam), Mat.transpose(q));
    SymmetricEigen e = new SymmetricEigen(a);
    double[] vals = e.values();
    assertEquals(5, vals[0], 1e-13);
    assertEquals(2, vals[1], 1e-13);
    assertEquals(0, vals[2], 1e-13);
    assertEquals(-1, vals[3], 1e-13);
    double[][] v = e.vectors();
    double[][] back = Mat.mul(Mat.mul(v, diag(vals)), Mat.transpose(v));
    assertTrue(Mat.maxAbsDiff(back, a) < 1e-13);
    assertTrue(Mat.maxAbsDiff(Mat.mul(Mat.transpose(v), v), Mat.identity(n)) < 1e-13);
    assertEquals(3, e.rank(1e-10));
    // Moore-Penrose conditions
    double[][] p = e.pseudoInverse(1e-10);
    assertTrue(Mat.maxAbsDiff(Mat.mul(Mat.mul(a, p), a), a) < 1e-12);
    assertTrue(Mat.maxAbsDiff(Mat.mul(Mat.mul(p, a), p), p) < 1e-12);
  }

  private static double[][] diag(double[] d) {
    double[][] r = new double[d.length][d.length];
    for (int i = 0; i < d.length; i++) {
      r[i][i] = d[i];
    }
    return r;
  }

  @Test
  void rankOfZeroAndIdentity() {
    assertEquals(0, Rank.of(new double[3][3]));
    assertEquals(7, Rank.of(Mat.identity(7)));
  }

  @Test
  void sectionFourRankTable() {
    RankTable t = RankTable.standard();
    assertEquals(12, t.rows().size());
    int[] fim = new int[12];
    int[] neuron = new int[12];
    int[] layer = new int[12];
    for (RankTable.Row r : t.rows()) {
      fim[r.n() - 1] = r.fimRank();
      neuron[r.n() - 1] = r.neuronRank();
      layer[r.n() - 1] = r.layerRank();
    }
    assertArrayEquals(new int[] {2, 4, 6, 8, 10, 12, 14, 14, 14, 14, 14, 14}, fim);
    assertArrayEquals(new int[] {1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4}, neuron);
    assertArrayEquals(new int[] {2, 4, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8}, layer);
    for (RankTable.Row r : t.rows()) {
      assertEquals(r.fimBound(), r.fimRank());
      assertEquals(r.neuronBound(), r.neuronRank());
      assertEquals(r.layerBound(), r.layerRank());
    }
    String s = t.format();
    assertTrue(s.contains("FIM rank") && s.lines().count() == 14, s);
  }

  @Test
  void rankTableHoldsForOtherSeeds() {
    for (long seed = 1; seed <= 3; seed++) {
      for (RankTable.Row r : RankTable.compute(8, seed).rows()) {
        assertEquals(Math.min(2 * r.n(), 14), r.fimRank(), "seed " + seed + " n " + r.n());
      }
    }
  }

  @Test
  void softmaxBatchRankBound() {
    // (m-1) min(n, D+1) for m = 4, D = 3
    Random rng = new Random(5);
    double[][] w = ClosedFormVsDefinitionTest.gauss(rng, 4, 4, 0.8);
    for (int n = 1; n <= 6; n++) {
      double[][] xs = ClosedFormVsDefinitionTest.gauss(rng, n, 3, 1.0);
      assertEquals(3 * Math.min(n, 4), Rank.of(ClosedForms.softmaxLayerBatchMean(w, xs)), "n=" + n);
    }
  }

  private static void assertArrayEquals(int[] exp, int[] got) {
    org.junit.jupiter.api.Assertions.assertArrayEquals(exp, got, java.util.Arrays.toString(got));
  }
}
