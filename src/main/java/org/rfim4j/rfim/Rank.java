package org.rfim4j.rfim;

import dev.ludovic.netlib.lapack.LAPACK;
import org.netlib.util.intW;

/**
 * Numerical rank, eigenvalues and pseudo-inverse of symmetric (PSD) metrics, by LAPACK's {@code dsyevr}
 * (through dev.ludovic.netlib: the system's LAPACK when it loads, its Java translation otherwise). The
 * hand-written Jacobi solver that came before is kept in the tests as an oracle.
 */
public final class Rank {
  /** Default relative tolerance: eigenvalues below {@code 1e-10 * max|eig|} count as zero. */
  public static final double DEFAULT_REL_TOL = 1e-10;

  private Rank() {}

  /** Numerical rank with {@link #DEFAULT_REL_TOL}. */
  public static int of(double[][] symmetric) {
    return of(symmetric, DEFAULT_REL_TOL);
  }

  /** Numerical rank: number of eigenvalues with |lambda| &gt; relTol * max|lambda| (0 for a zero matrix). */
  public static int of(double[][] symmetric, double relTol) {
    if (symmetric.length == 0) {
      return 0;
    }
    double[] values = eigen(symmetric, false).values;
    double max = 0;
    for (double v : values) {
      max = Math.max(max, Math.abs(v));
    }
    int r = 0;
    for (double v : values) {
      if (Math.abs(v) > relTol * max && v != 0) {
        r++;
      }
    }
    return r;
  }

  /** Eigenvalues, descending. */
  public static double[] eigenvalues(double[][] symmetric) {
    double[] asc = eigen(symmetric, false).values;
    double[] desc = new double[asc.length];
    for (int i = 0; i < asc.length; i++) {
      desc[i] = asc[asc.length - 1 - i];
    }
    return desc;
  }

  /** Pseudo-inverse with {@link #DEFAULT_REL_TOL}. */
  public static double[][] pseudoInverse(double[][] symmetric) {
    int n = symmetric.length;
    Eigen e = eigen(symmetric, true);
    double max = 0;
    for (double v : e.values) {
      max = Math.max(max, Math.abs(v));
    }
    double[][] r = new double[n][n];
    for (int c = 0; c < n; c++) {
      double lam = e.values[c];
      if (Math.abs(lam) <= DEFAULT_REL_TOL * max || lam == 0) {
        continue;
      }
      for (int i = 0; i < n; i++) {
        double vi = e.vector(i, c) / lam;
        for (int j = 0; j < n; j++) {
          r[i][j] += vi * e.vector(j, c);
        }
      }
    }
    return r;
  }

  /** Eigenvalues ascending; eigenvectors column-major (column c is the vector of values[c]) when asked. */
  record Eigen(double[] values, double[] vectors, int n) {
    double vector(int row, int col) {
      return vectors[col * n + row];
    }
  }

  /** dsyevr on the symmetric part of a square matrix (all eigenvalues, vectors if {@code vectors}). */
  static Eigen eigen(double[][] a, boolean vectors) {
    int n = a.length;
    for (int i = 0; i < n; i++) {
      if (a[i].length != n) {
        throw new IllegalArgumentException("not a square matrix: row " + i + " has " + a[i].length + " entries, "
            + n + " rows");
      }
    }
    double[] packed = new double[n * n]; // (A + A^T) / 2, column-major
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        packed[j * n + i] = 0.5 * (a[i][j] + a[j][i]);
      }
    }
    LAPACK lapack = LAPACK.getInstance();
    String jobz = vectors ? "V" : "N";
    double[] w = new double[n];
    double[] z = new double[vectors ? n * n : Math.max(1, n)];
    int ldz = vectors ? Math.max(1, n) : 1;
    int[] isuppz = new int[2 * Math.max(1, n)];
    intW m = new intW(0);
    intW info = new intW(0);
    double[] work = new double[1];
    int[] iwork = new int[1];
    lapack.dsyevr(jobz, "A", "L", n, packed, Math.max(1, n), 0, 0, 0, 0, 0.0, m, w, z, ldz, isuppz, work, -1, iwork,
        -1, info); // workspace query
    work = new double[Math.max(1, (int) work[0])];
    iwork = new int[Math.max(1, iwork[0])];
    lapack.dsyevr(jobz, "A", "L", n, packed, Math.max(1, n), 0, 0, 0, 0, 0.0, m, w, z, ldz, isuppz, work,
        work.length, iwork, iwork.length, info);
    if (info.val != 0) {
      throw new IllegalArgumentException("the eigenvalue solver (dsyevr) failed on a " + n + " x " + n
          + " matrix (info " + info.val + "); is it finite?");
    }
    return new Eigen(w, z, n);
  }
}
