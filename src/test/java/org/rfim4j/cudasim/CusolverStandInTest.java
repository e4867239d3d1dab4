package org.rfim4j.cudasim;

import static jcuda.jcublas.cublasFillMode.*;
import static jcuda.jcusolver.JCusolverDn.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.rfim4j.cudasim.Dev.*;
import static org.rfim4j.cudasim.Mat.*;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.jcusolver.JCusolver;
import jcuda.jcusolver.cusolverDnHandle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The cuSOLVER Cholesky family the project uses, through JCusolverDn, against plain Java checks: factors reproduce A,
 * only the uplo triangle is written, a non-SPD matrix reports info = order of the failing leading minor, inverses and
 * solves satisfy A X = B, batched variants with pointer arrays and info arrays.
 */
@GpuTest
class CusolverStandInTest {
    static cusolverDnHandle h;

    @BeforeAll
    static void create() {
        Dev.init();
        JCusolver.setExceptionsEnabled(true);
        h = new cusolverDnHandle();
        cusolverDnCreate(h);
    }

    @AfterAll
    static void destroy() {
        cusolverDnDestroy(h);
    }

    @BeforeEach
    void current() {
        Dev.init();
    }

    static boolean inTri(int uplo, int i, int j) { return uplo == CUBLAS_FILL_MODE_LOWER ? i >= j : i <= j; }

    /** potrf of a on the device; returns {factor (downloaded), info} */
    static int potrf(int uplo, int n, float[] a, int lda, float[] out) {
        CUdeviceptr dA = upload(a), info = alloc(4);
        int[] lwork = new int[1];
        cusolverDnSpotrf_bufferSize(h, uplo, n, dA, lda, lwork);
        assertTrue(lwork[0] > 0);
        CUdeviceptr work = alloc(4L * lwork[0]);
        cusolverDnSpotrf(h, uplo, n, dA, lda, work, lwork[0], info);
        System.arraycopy(download(dA, a.length), 0, out, 0, a.length);
        int r = downloadInts(info, 1)[0];
        free(dA, info, work);
        return r;
    }

    @Test
    void spotrfLowerAndUpperReproduceA() {
        int n = 6, lda = n + 2;
        float[] a = spd(n, lda, 1);
        for (int uplo : new int[] {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
            float[] f = new float[a.length];
            assertEquals(0, potrf(uplo, n, a, lda, f));
            for (int j = 0; j < n; j++)
                for (int i = 0; i < lda; i++) {
                    if (i >= n || !inTri(uplo, i, j)) assertEquals(a[i + j * lda], f[i + j * lda], "untouched (" + i + "," + j + ")");
                }
            // lower: A = L L^T ; upper: A = U^T U
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int l = 0; l < n; l++) {
                        double x = uplo == CUBLAS_FILL_MODE_LOWER ? (i >= l ? f[i + l * lda] : 0) : (l <= i ? f[l + i * lda] : 0);
                        double y = uplo == CUBLAS_FILL_MODE_LOWER ? (j >= l ? f[j + l * lda] : 0) : (l <= j ? f[l + j * lda] : 0);
                        s += x * y;
                    }
                    assertClose(a[i + j * lda], s, 1e-5, "uplo " + uplo + " (" + i + "," + j + ")");
                }
        }
    }

    @Test
    void spotrfOfNonSpdReportsTheFailingMinor() {
        int n = 5, lda = n;
        float[] a = spd(n, lda, 2);
        // make the leading 3x3 minor indefinite: a22 := a20^2/a00 + a21^2 - ... simplest: a large off-diagonal pair
        a[2 + 1 * lda] = a[1 + 2 * lda] = (float) Math.sqrt((double) a[1 + lda] * a[2 + 2 * lda]) * 1.5f;
        float[] f = new float[a.length];
        assertEquals(3, potrf(CUBLAS_FILL_MODE_LOWER, n, a, lda, f), "info = order of the first leading minor that is not positive definite");
        assertEquals(3, potrf(CUBLAS_FILL_MODE_UPPER, n, a, lda, f));
        float[] neg = spd(n, lda, 3);
        neg[0] = -1f;
        assertEquals(1, potrf(CUBLAS_FILL_MODE_LOWER, n, neg, lda, f));
    }

    @Test
    void spotriInvertsFromTheFactor() {
        int n = 5, lda = n + 1;
        float[] a = spd(n, lda, 4);
        for (int uplo : new int[] {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
            CUdeviceptr dA = upload(a), info = alloc(4);
            int[] lwork = new int[1];
            cusolverDnSpotrf_bufferSize(h, uplo, n, dA, lda, lwork);
            CUdeviceptr work = alloc(4L * Math.max(1, lwork[0]));
            cusolverDnSpotrf(h, uplo, n, dA, lda, work, lwork[0], info);
            assertEquals(0, downloadInts(info, 1)[0]);
            int[] lwork2 = new int[1];
            cusolverDnSpotri_bufferSize(h, uplo, n, dA, lda, lwork2);
            CUdeviceptr work2 = alloc(4L * Math.max(1, lwork2[0]));
            cusolverDnSpotri(h, uplo, n, dA, lda, work2, lwork2[0], info);
            assertEquals(0, downloadInts(info, 1)[0]);
            float[] inv = download(dA, a.length);
            // symmetric inverse from its uplo triangle; A * inv = I
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int l = 0; l < n; l++) s += a[i + l * lda] * (inTri(uplo, l, j) ? inv[l + j * lda] : inv[j + l * lda]);
                    assertClose(i == j ? 1 : 0, s, 1e-4, "A*inv uplo " + uplo + " (" + i + "," + j + ")");
                }
            free(dA, info, work, work2);
        }
    }

    @Test
    void spotrsSolvesSeveralRightHandSides() {
        int n = 6, lda = n + 1, nrhs = 3, ldb = n + 2;
        float[] a = spd(n, lda, 5), b = random(n, nrhs, ldb, 6);
        for (int uplo : new int[] {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER}) {
            float[] f = new float[a.length];
            assertEquals(0, potrf(uplo, n, a, lda, f));
            CUdeviceptr dF = upload(f), dB = upload(b), info = alloc(4);
            cusolverDnSpotrs(h, uplo, n, nrhs, dF, lda, dB, ldb, info);
            assertEquals(0, downloadInts(info, 1)[0]);
            float[] x = download(dB, b.length);
            for (int c = 0; c < nrhs; c++)
                for (int i = 0; i < n; i++) {
                    double s = 0;
                    for (int l = 0; l < n; l++) s += a[i + l * lda] * x[l + c * ldb];
                    assertClose(b[i + c * ldb], s, 1e-4, "A x = b, uplo " + uplo + " rhs " + c + " row " + i);
                }
            for (int c = 0; c < nrhs; c++)
                for (int i = n; i < ldb; i++) assertEquals(PAD, x[i + c * ldb]);
            free(dF, dB, info);
        }
    }

    static CUdeviceptr pointerArray(CUdeviceptr... ps) {
        CUdeviceptr arr = alloc((long) ps.length * Sizeof.POINTER);
        jcuda.driver.JCudaDriver.cuMemcpyHtoD(arr, Pointer.to(ps), (long) ps.length * Sizeof.POINTER);
        return arr;
    }

    @Test
    void batchedFactorAndSolveWithInfoArray() {
        int n = 4, lda = n + 1, ldb = n, batch = 3;
        float[][] a = new float[batch][], b = new float[batch][];
        CUdeviceptr[] dA = new CUdeviceptr[batch], dB = new CUdeviceptr[batch];
        for (int i = 0; i < batch; i++) {
            a[i] = spd(n, lda, 10 + i);
            b[i] = random(n, 1, ldb, 20 + i);
        }
        a[1][3 + 3 * lda] = -100f;  // matrix 1 fails at its 4th leading minor
        for (int i = 0; i < batch; i++) {
            dA[i] = upload(a[i]);
            dB[i] = upload(b[i]);
        }
        CUdeviceptr pA = pointerArray(dA), pB = pointerArray(dB), infos = alloc(4L * batch), info = alloc(4);
        cusolverDnSpotrfBatched(h, CUBLAS_FILL_MODE_LOWER, n, pA, lda, infos, batch);
        assertArrayEquals(new int[] {0, 4, 0}, downloadInts(infos, batch));
        cusolverDnSpotrsBatched(h, CUBLAS_FILL_MODE_LOWER, n, 1, pA, lda, pB, ldb, info, batch);
        assertEquals(0, downloadInts(info, 1)[0]);
        for (int k : new int[] {0, 2}) {
            float[] x = download(dB[k], b[k].length);
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int l = 0; l < n; l++) s += a[k][i + l * lda] * x[l];
                assertClose(b[k][i], s, 1e-4, "batch " + k + " row " + i);
            }
        }
        // cuSOLVER's batched potrs supports nrhs = 1 only
        CudaException e = assertThrows(CudaException.class,
                () -> cusolverDnSpotrsBatched(h, CUBLAS_FILL_MODE_LOWER, n, 2, pA, lda, pB, ldb, info, batch));
        assertEquals("CUSOLVER_STATUS_INVALID_VALUE", e.getMessage());
        for (int i = 0; i < batch; i++) free(dA[i], dB[i]);
        free(pA, pB, infos, info);
    }

    @Test
    void unsimulatedSolverFunctionIsNotSupported() {
        CudaSimSupport.assumeSimulated();
        CUdeviceptr d = alloc(64);
        CudaException e = assertThrows(CudaException.class, () -> cusolverDnSgetrf(h, 2, 2, d, 2, d, d, d));
        assertEquals("CUSOLVER_STATUS_NOT_SUPPORTED", e.getMessage());
        free(d);
    }

    /**
     * A NaN pivot: LAPACK flags it, real cuSOLVER need not, and neither does the stand-in (info 0, a NaN factor), so
     * the library's own check of the factor's diagonal (rfim_inverse_status) is what catches it in the backend tests.
     */
    @Test
    void nanPivotIsNotFlagged() {
        CudaSimSupport.assumeSimulated();
        int n = 4, lda = n;
        float[] a = spd(n, lda, 21);
        a[2 + 2 * lda] = Float.NaN;
        float[] f = new float[a.length];
        assertEquals(0, potrf(CUBLAS_FILL_MODE_LOWER, n, a, lda, f), "info stays 0");
        assertTrue(Float.isNaN(f[2 + 2 * lda]), "the factor's diagonal carries the NaN");
        assertEquals(a[0], f[0] * f[0], 1e-4 * a[0], "the columns before the NaN are a proper factor");
    }
}
