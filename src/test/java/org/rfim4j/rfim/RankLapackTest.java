package org.rfim4j.rfim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link Rank} (LAPACK dsyevr) against the Jacobi oracle {@link SymmetricEigen} on random symmetric matrices. */
class RankLapackTest {
  /** B B^T / k for a random n x k matrix B: rank min(n, k), PSD, like the metrics. */
  static double[][] lowRank(int n, int k, SplittableRandom r) {
    double[][] b = new double[n][k];
    for (double[] row : b) {
      for (int j = 0; j < k; j++) {
        row[j] = r.nextGaussian();
      }
    }
    double[][] a = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          s += b[i][p] * b[j][p];
        }
        a[i][j] = s / k;
      }
    }
    return a;
  }

  @Test
  void eigenvaluesRanksAndPseudoInversesAgreeWithTheJacobiOracle() {
    SplittableRandom r = new SplittableRandom(7);
    for (int trial = 0; trial < 40; trial++) {
      int n = 1 + r.nextInt(40);
      int k = 1 + r.nextInt(45);
      double[][] a = lowRank(n, k, r);
      if (trial % 5 == 0) { // indefinite too
        a[0][0] -= 3;
      }
      SymmetricEigen oracle = new SymmetricEigen(a);
      double[] lapack = Rank.eigenvalues(a);
      double scale = Math.max(1e-300, oracle.maxAbsValue());
      for (int i = 0; i < n; i++) {
        assertEquals(oracle.values()[i], lapack[i], 1e-12 * scale, "n=" + n + " k=" + k + " eigenvalue " + i);
      }
      assertEquals(oracle.rank(Rank.DEFAULT_REL_TOL), Rank.of(a), "n=" + n + " k=" + k);
      if (trial % 5 != 0) {
        assertEquals(Math.min(n, k), Rank.of(a), "n=" + n + " k=" + k);
      }
      double[][] pj = oracle.pseudoInverse(Rank.DEFAULT_REL_TOL);
      double[][] pl = Rank.pseudoInverse(a);
      double ps = 0;
      for (double[] row : pj) {
        for (double v : row) {
          ps = Math.max(ps, Math.abs(v));
        }
      }
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          assertEquals(pj[i][j], pl[i][j], 1e-8 * ps, "pseudo-inverse n=" + n + " k=" + k);
        }
      }
    }
  }

  @Test
  void zeroAndEmptyMatrices() {
    assertEquals(0, Rank.of(new double[0][0]));
    assertEquals(0, Rank.of(new double[4][4]));
    assertEquals(3, Rank.of(Mat.identity(3)));
  }
}
