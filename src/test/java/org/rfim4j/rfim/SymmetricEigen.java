package org.rfim4j.rfim;

import java.util.Arrays;

/**
 * The test oracle for {@link Rank} (LAPACK {@code dsyevr}), formerly the library's own solver: a
 * cyclic Jacobi eigen-decomposition of a real symmetric matrix, {@code A = V diag(lambda) V^T}. Robust
 * and accurate to a few ulps relative to ||A||; O(n^3) per sweep, intended for the small metrics of this
 * package (n up to ~100). Eigenvalues are returned in descending order, eigenvectors as the columns of
 * {@link #vectors()}.
 */
public final class SymmetricEigen {
  private static final int MAX_SWEEPS = 100;

  private final double[] values;
  private final double[][] vectors;

  /**
   * Decomposes {@code a}. The input must be square; it is symmetrised ({@code (A+A^T)/2}) first and not
   * modified.
   */
  public SymmetricEigen(double[][] a) {
    int n = a.length;
    for (double[] row : a) {
      if (row.length != n) {
        throw new IllegalArgumentException("matrix must be square, got " + n + " x " + row.length);
      }
    }
    double[][] m = Mat.symmetrize(a);
    double[][] v = Mat.identity(n);
    for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
      double off = 0, total = 0;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          double s = m[i][j] * m[i][j];
          total += s;
          if (i != j) {
            off += s;
          }
        }
      }
      if (off == 0 || off <= 1e-32 * total) {
        break;
      }
      for (int p = 0; p < n - 1; p++) {
        for (int q = p + 1; q < n; q++) {
          double apq = m[p][q];
          if (apq == 0) {
            continue;
          }
          double app = m[p][p], aqq = m[q][q];
          double theta = (aqq - app) / (2 * apq);
          double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta == 0) {
            t = 1;
          }
          double c = 1 / Math.sqrt(t * t + 1), s = t * c;
          for (int k = 0; k < n; k++) {
            double mkp = m[k][p], mkq = m[k][q];
            m[k][p] = c * mkp - s * mkq;
            m[k][q] = s * mkp + c * mkq;
          }
          for (int k = 0; k < n; k++) {
            double mpk = m[p][k], mqk = m[q][k];
            m[p][k] = c * mpk - s * mqk;
            m[q][k] = s * mpk + c * mqk;
          }
          m[p][q] = 0;
          m[q][p] = 0;
          for (int k = 0; k < n; k++) {
            double vkp = v[k][p], vkq = v[k][q];
            v[k][p] = c * vkp - s * vkq;
            v[k][q] = s * vkp + c * vkq;
          }
        }
      }
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    final double[][] mf = m;
    Arrays.sort(order, (x, y) -> Double.compare(mf[y][y], mf[x][x]));
    values = new double[n];
    vectors = new double[n][n];
    for (int c = 0; c < n; c++) {
      values[c] = m[order[c]][order[c]];
      for (int r = 0; r < n; r++) {
        vectors[r][c] = v[r][order[c]];
      }
    }
  }

  /** Eigenvalues, descending. */
  public double[] values() {
    return values.clone();
  }

  /** Orthonormal eigenvectors as columns, matching {@link #values()}. */
  public double[][] vectors() {
    return Mat.copy(vectors);
  }

  /** Largest |eigenvalue|. */
  public double maxAbsValue() {
    double m = 0;
    for (double x : values) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  /**
   * Numerical rank: the number of eigenvalues with {@code |lambda| > relTol * max|lambda|}. A zero
   * matrix has rank 0.
   */
  public int rank(double relTol) {
    double thr = relTol * maxAbsValue();
    int r = 0;
    for (double x : values) {
      if (Math.abs(x) > thr && x != 0) {
        r++;
      }
    }
    return r;
  }

  /**
   * Moore-Penrose pseudo-inverse of the (symmetric) matrix: eigenvalues with {@code |lambda| <= relTol *
   * max|lambda|} are treated as zero.
   */
  public double[][] pseudoInverse(double relTol) {
    int n = values.length;
    double thr = relTol * maxAbsValue();
    double[][] r = new double[n][n];
    for (int c = 0; c < n; c++) {
      double lam = values[c];
      if (Math.abs(lam) <= thr || lam == 0) {
        continue;
      }
      double inv = 1.0 / lam;
      for (int i = 0; i < n; i++) {
        double vi = vectors[i][c] * inv;
        if (vi == 0) {
          continue;
        }
        for (int j = 0; j < n; j++) {
          r[i][j] += vi * vectors[j][c];
        }
      }
    }
    return r;
  }
}
