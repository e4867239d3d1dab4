package org.rfim4j.cudasim;

import java.util.Random;

/** Column-major float matrices with padded leading dimensions, and plain-Java double-precision references. */
final class Mat {
    static final float PAD = 777.25f;

    private Mat() {}

    /** rows x cols with leading dimension ld >= rows; the padding rows hold PAD. */
    static float[] random(int rows, int cols, int ld, long seed) {
        Random r = new Random(seed);
        float[] a = new float[Math.max(1, ld * cols)];
        java.util.Arrays.fill(a, PAD);
        for (int j = 0; j < cols; j++)
            for (int i = 0; i < rows; i++) a[i + j * ld] = r.nextFloat() * 2 - 1;
        return a;
    }

    /** element (i, j) of op(A) for A stored column-major with leading dimension ld */
    static double op(float[] a, int ld, boolean trans, int i, int j) {
        return trans ? a[j + i * ld] : a[i + j * ld];
    }

    /** C = alpha op(A) op(B) + beta C (beta == 0: C not read) */
    static float[] gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, float[] a, int lda, float[] b, int ldb,
                        double beta, float[] c, int ldc) {
        float[] r = c.clone();
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int l = 0; l < k; l++) s += op(a, lda, ta, i, l) * op(b, ldb, tb, l, j);
                r[i + j * ldc] = (float) (alpha * s + (beta == 0 ? 0 : beta * c[i + j * ldc]));
            }
        return r;
    }

    /** Symmetric positive definite n x n (leading dimension ld): M M^T + n I. */
    static float[] spd(int n, int ld, long seed) {
        float[] m = random(n, n, n, seed);
        float[] a = new float[ld * n];
        java.util.Arrays.fill(a, PAD);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                double s = i == j ? n : 0;
                for (int l = 0; l < n; l++) s += (double) m[i + l * n] * m[j + l * n];
                a[i + j * ld] = (float) s;
            }
        return a;
    }

    static void assertClose(double want, double got, double relTol, String what) {
        double tol = relTol * Math.max(1.0, Math.abs(want));
        if (!(Math.abs(want - got) <= tol)) throw new AssertionError(what + ": expected " + want + " but got " + got + " (tol " + tol + ")");
    }

    static void assertClose(float[] want, float[] got, double relTol, String what) {
        if (want.length != got.length) throw new AssertionError(what + ": length " + want.length + " vs " + got.length);
        for (int i = 0; i < want.length; i++) assertClose(want[i], got[i], relTol, what + "[" + i + "]");
    }
}
