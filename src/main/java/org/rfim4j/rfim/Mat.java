package org.rfim4j.rfim;

/**
 * Small dense float64 matrix helpers on {@code double[][]} (row-major, {@code M[row][col]}). Sizes in
 * this package are tiny (at most a few dozen), so everything is straightforward loops.
 */
public final class Mat {
  private Mat() {}

  /** n x n zero matrix. */
  public static double[][] zeros(int rows, int cols) {
    return new double[rows][cols];
  }

  /** Identity of order n. */
  public static double[][] identity(int n) {
    double[][] r = new double[n][n];
    for (int i = 0; i < n; i++) {
      r[i][i] = 1.0;
    }
    return r;
  }

  /** Augmented vector (x_1..x_D, 1): the bias is the last coordinate. */
  public static double[] augment(double[] x) {
    double[] r = new double[x.length + 1];
    System.arraycopy(x, 0, r, 0, x.length);
    r[x.length] = 1.0;
    return r;
  }

  /** Dot product. */
  public static double dot(double[] u, double[] v) {
    if (u.length != v.length) {
      throw new IllegalArgumentException("length mismatch " + u.length + " vs " + v.length);
    }
    double s = 0;
    for (int i = 0; i < u.length; i++) {
      s += u[i] * v[i];
    }
    return s;
  }

  /** Outer product u v^T. */
  public static double[][] outer(double[] u, double[] v) {
    double[][] r = new double[u.length][v.length];
    for (int i = 0; i < u.length; i++) {
      for (int j = 0; j < v.length; j++) {
        r[i][j] = u[i] * v[j];
      }
    }
    return r;
  }

  /** Kronecker product A (x) B: block (i,j) equals A_ij B. */
  public static double[][] kron(double[][] a, double[][] b) {
    int ar = a.length, ac = a[0].length, br = b.length, bc = b[0].length;
    double[][] r = new double[ar * br][ac * bc];
    for (int i = 0; i < ar; i++) {
      for (int j = 0; j < ac; j++) {
        double s = a[i][j];
        for (int p = 0; p < br; p++) {
          for (int q = 0; q < bc; q++) {
            r[i * br + p][j * bc + q] = s * b[p][q];
          }
        }
      }
    }
    return r;
  }

  /** Block-diagonal matrix diag[B_1, ..., B_m]. */
  public static double[][] blockDiag(double[][]... blocks) {
    int n = 0;
    for (double[][] b : blocks) {
      n += b.length;
    }
    double[][] r = new double[n][n];
    int k = 0;
    for (double[][] b : blocks) {
      for (int i = 0; i < b.length; i++) {
        System.arraycopy(b[i], 0, r[k + i], k, b[i].length);
      }
      k += b.length;
    }
    return r;
  }

  /** a * M (new matrix). */
  public static double[][] scale(double a, double[][] m) {
    double[][] r = new double[m.length][];
    for (int i = 0; i < m.length; i++) {
      r[i] = new double[m[i].length];
      for (int j = 0; j < m[i].length; j++) {
        r[i][j] = a * m[i][j];
      }
    }
    return r;
  }

  /** acc += a * M, in place; returns acc. */
  public static double[][] addScaledInPlace(double[][] acc, double a, double[][] m) {
    for (int i = 0; i < acc.length; i++) {
      for (int j = 0; j < acc[i].length; j++) {
        acc[i][j] += a * m[i][j];
      }
    }
    return acc;
  }

  /** A - B. */
  public static double[][] sub(double[][] a, double[][] b) {
    double[][] r = copy(a);
    return addScaledInPlace(r, -1.0, b);
  }

  /** Deep copy. */
  public static double[][] copy(double[][] m) {
    double[][] r = new double[m.length][];
    for (int i = 0; i < m.length; i++) {
      r[i] = m[i].clone();
    }
    return r;
  }

  /** Transpose. */
  public static double[][] transpose(double[][] m) {
    double[][] r = new double[m[0].length][m.length];
    for (int i = 0; i < m.length; i++) {
      for (int j = 0; j < m[0].length; j++) {
        r[j][i] = m[i][j];
      }
    }
    return r;
  }

  /** A B. */
  public static double[][] mul(double[][] a, double[][] b) {
    int n = a.length, k = b.length, m = b[0].length;
    if (a[0].length != k) {
      throw new IllegalArgumentException("inner dimension mismatch");
    }
    double[][] r = new double[n][m];
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < k; p++) {
        double s = a[i][p];
        if (s == 0) {
          continue;
        }
        for (int j = 0; j < m; j++) {
          r[i][j] += s * b[p][j];
        }
      }
    }
    return r;
  }

  /** A v. */
  public static double[] mul(double[][] a, double[] v) {
    double[] r = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      r[i] = dot(a[i], v);
    }
    return r;
  }

  /** A^T v for A of shape (D+1) x m: entry i is column i dotted with v (pre-activations W^T x~). */
  public static double[] mulTransposed(double[][] a, double[] v) {
    int rows = a.length, cols = a[0].length;
    if (v.length != rows) {
      throw new IllegalArgumentException("length mismatch " + v.length + " vs " + rows);
    }
    double[] r = new double[cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        r[j] += a[i][j] * v[i];
      }
    }
    return r;
  }

  /** Column j of M. */
  public static double[] column(double[][] m, int j) {
    double[] r = new double[m.length];
    for (int i = 0; i < m.length; i++) {
      r[i] = m[i][j];
    }
    return r;
  }

  /** vec(W): columns stacked, [w_1; w_2; ...; w_m]. */
  public static double[] vec(double[][] w) {
    int rows = w.length, cols = w[0].length;
    double[] r = new double[rows * cols];
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        r[j * rows + i] = w[i][j];
      }
    }
    return r;
  }

  /** Inverse of {@link #vec}: rebuild a rows x cols matrix from theta[offset ..]. */
  public static double[][] unvec(double[] theta, int offset, int rows, int cols) {
    double[][] r = new double[rows][cols];
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        r[i][j] = theta[offset + j * rows + i];
      }
    }
    return r;
  }

  /** Principal sub-block M[from:to, from:to]. */
  public static double[][] subBlock(double[][] m, int from, int to) {
    return subMatrix(m, from, to, from, to);
  }

  /** M[r0:r1, c0:c1]. */
  public static double[][] subMatrix(double[][] m, int r0, int r1, int c0, int c1) {
    double[][] r = new double[r1 - r0][c1 - c0];
    for (int i = r0; i < r1; i++) {
      System.arraycopy(m[i], c0, r[i - r0], 0, c1 - c0);
    }
    return r;
  }

  /** max |A_ij - B_ij|; shapes must agree. */
  public static double maxAbsDiff(double[][] a, double[][] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("row count mismatch " + a.length + " vs " + b.length);
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i].length != b[i].length) {
        throw new IllegalArgumentException("column count mismatch in row " + i);
      }
      for (int j = 0; j < a[i].length; j++) {
        m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return m;
  }

  /** max |A_ij|. */
  public static double maxAbs(double[][] a) {
    double m = 0;
    for (double[] row : a) {
      for (double v : row) {
        m = Math.max(m, Math.abs(v));
      }
    }
    return m;
  }

  /** (A + A^T) / 2. */
  public static double[][] symmetrize(double[][] a) {
    int n = a.length;
    double[][] r = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        r[i][j] = 0.5 * (a[i][j] + a[j][i]);
      }
    }
    return r;
  }
}
