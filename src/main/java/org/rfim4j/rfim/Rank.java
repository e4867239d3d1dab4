package org.rfim4j.rfim;

/** Numerical rank and pseudo-inverse of symmetric (PSD) metrics via {@link SymmetricEigen}. */
public final class Rank {
  /** Default relative tolerance: eigenvalues below {@code 1e-10 * max|eig|} count as zero. */
  public static final double DEFAULT_REL_TOL = 1e-10;

  private Rank() {}

  /** Numerical rank with {@link #DEFAULT_REL_TOL}. */
  public static int of(double[][] symmetric) {
    return of(symmetric, DEFAULT_REL_TOL);
  }

  /** Numerical rank: number of eigenvalues with |lambda| &gt; relTol * max|lambda|. */
  public static int of(double[][] symmetric, double relTol) {
    if (symmetric.length == 0) {
      return 0;
    }
    return new SymmetricEigen(symmetric).rank(relTol);
  }

  /** Pseudo-inverse with {@link #DEFAULT_REL_TOL}. */
  public static double[][] pseudoInverse(double[][] symmetric) {
    return new SymmetricEigen(symmetric).pseudoInverse(DEFAULT_REL_TOL);
  }
}
