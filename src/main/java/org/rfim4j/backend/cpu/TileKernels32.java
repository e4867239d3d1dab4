package org.rfim4j.backend.cpu;

/**
 * {@link TileKernels} in float32 for the {@link CpuBackend32}'s Java kernels: the same loop shapes on
 * {@code float[]}, products accumulated with float fused multiply-adds (the rounding a float32 BLAS has),
 * plus a dot product accumulated in double for the short reductions where that is cheap.
 */
final class TileKernels32 {

  private TileKernels32() {}

  /** dst (cols x rows, row-major) = src^T for src rows x cols with leading dimension ld. */
  static void transpose(float[] src, int off, int ld, int rows, int cols, float[] dst) {
    for (int p = 0; p < rows; p++) {
      int sp = off + p * ld;
      for (int j = 0; j < cols; j++) {
        dst[j * rows + p] = src[sp + j];
      }
    }
  }

  /**
   * tile[r * 4 + q] = sum_{p < k} x[xo + r * ldx + p] * y[yo + q * ldy + p] for r < nr, q < nq (both at
   * most 4). Every entry is the same sequential fused multiply-add chain over p whatever the tile position,
   * so results do not depend on the split into tiles or threads.
   */
  static void dotTile(float[] x, int xo, int ldx, int nr, float[] y, int yo, int ldy, int nq, int k,
      float[] tile) {
    if (nr == 4 && nq == 4) {
      int x0 = xo;
      int x1 = xo + ldx;
      int x2 = x1 + ldx;
      int x3 = x2 + ldx;
      int y0 = yo;
      int y1 = yo + ldy;
      int y2 = y1 + ldy;
      int y3 = y2 + ldy;
      float s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      float s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      float s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      float s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (int p = 0; p < k; p++) {
        float a0 = x[x0 + p];
        float a1 = x[x1 + p];
        float a2 = x[x2 + p];
        float a3 = x[x3 + p];
        float b0 = y[y0 + p];
        float b1 = y[y1 + p];
        float b2 = y[y2 + p];
        float b3 = y[y3 + p];
        s00 = Math.fma(a0, b0, s00);
        s01 = Math.fma(a0, b1, s01);
        s02 = Math.fma(a0, b2, s02);
        s03 = Math.fma(a0, b3, s03);
        s10 = Math.fma(a1, b0, s10);
        s11 = Math.fma(a1, b1, s11);
        s12 = Math.fma(a1, b2, s12);
        s13 = Math.fma(a1, b3, s13);
        s20 = Math.fma(a2, b0, s20);
        s21 = Math.fma(a2, b1, s21);
        s22 = Math.fma(a2, b2, s22);
        s23 = Math.fma(a2, b3, s23);
        s30 = Math.fma(a3, b0, s30);
        s31 = Math.fma(a3, b1, s31);
        s32 = Math.fma(a3, b2, s32);
        s33 = Math.fma(a3, b3, s33);
      }
      tile[0] = s00;
      tile[1] = s01;
      tile[2] = s02;
      tile[3] = s03;
      tile[4] = s10;
      tile[5] = s11;
      tile[6] = s12;
      tile[7] = s13;
      tile[8] = s20;
      tile[9] = s21;
      tile[10] = s22;
      tile[11] = s23;
      tile[12] = s30;
      tile[13] = s31;
      tile[14] = s32;
      tile[15] = s33;
      return;
    }
    if (nr == 4) {
      // 4 x 1 strips: four independent sums share each load of y
      int x0 = xo;
      int x1 = xo + ldx;
      int x2 = x1 + ldx;
      int x3 = x2 + ldx;
      for (int q = 0; q < nq; q++) {
        int yq = yo + q * ldy;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int p = 0; p < k; p++) {
          float b = y[yq + p];
          s0 = Math.fma(x[x0 + p], b, s0);
          s1 = Math.fma(x[x1 + p], b, s1);
          s2 = Math.fma(x[x2 + p], b, s2);
          s3 = Math.fma(x[x3 + p], b, s3);
        }
        tile[q] = s0;
        tile[4 + q] = s1;
        tile[8 + q] = s2;
        tile[12 + q] = s3;
      }
      return;
    }
    if (nq == 4) {
      // 1 x 4 strips
      int y0 = yo;
      int y1 = yo + ldy;
      int y2 = y1 + ldy;
      int y3 = y2 + ldy;
      for (int r = 0; r < nr; r++) {
        int xr = xo + r * ldx;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int p = 0; p < k; p++) {
          float a = x[xr + p];
          s0 = Math.fma(a, y[y0 + p], s0);
          s1 = Math.fma(a, y[y1 + p], s1);
          s2 = Math.fma(a, y[y2 + p], s2);
          s3 = Math.fma(a, y[y3 + p], s3);
        }
        tile[r * 4] = s0;
        tile[r * 4 + 1] = s1;
        tile[r * 4 + 2] = s2;
        tile[r * 4 + 3] = s3;
      }
      return;
    }
    for (int r = 0; r < nr; r++) {
      int xr = xo + r * ldx;
      for (int q = 0; q < nq; q++) {
        int yq = yo + q * ldy;
        float sum = 0;
        for (int p = 0; p < k; p++) {
          sum = Math.fma(x[xr + p], y[yq + p], sum);
        }
        tile[r * 4 + q] = sum;
      }
    }
  }

  /** sum_{p < n} x[xo + p] * y[yo + p] with four partial sums. */
  static float dot4(float[] x, int xo, float[] y, int yo, int n) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    int p = 0;
    for (; p + 4 <= n; p += 4) {
      s0 = Math.fma(x[xo + p], y[yo + p], s0);
      s1 = Math.fma(x[xo + p + 1], y[yo + p + 1], s1);
      s2 = Math.fma(x[xo + p + 2], y[yo + p + 2], s2);
      s3 = Math.fma(x[xo + p + 3], y[yo + p + 3], s3);
    }
    for (; p < n; p++) {
      s0 = Math.fma(x[xo + p], y[yo + p], s0);
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** sum_{p < n} x[xo + p] * y[yo + p] accumulated in double (four partial sums). */
  static double dot4Double(float[] x, int xo, float[] y, int yo, int n) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int p = 0;
    for (; p + 4 <= n; p += 4) {
      s0 += (double) x[xo + p] * y[yo + p];
      s1 += (double) x[xo + p + 1] * y[yo + p + 1];
      s2 += (double) x[xo + p + 2] * y[yo + p + 2];
      s3 += (double) x[xo + p + 3] * y[yo + p + 3];
    }
    for (; p < n; p++) {
      s0 += (double) x[xo + p] * y[yo + p];
    }
    return (s0 + s1) + (s2 + s3);
  }
}
