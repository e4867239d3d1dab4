package org.rfim4j.cudasim;

import static jcuda.driver.JCudaDriver.*;
import static jcuda.jcublas.JCublas2.*;
import static jcuda.jcublas.cublasDiagType.*;
import static jcuda.jcublas.cublasFillMode.*;
import static jcuda.jcublas.cublasOperation.*;
import static jcuda.jcublas.cublasPointerMode.*;
import static jcuda.jcublas.cublasSideMode.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.rfim4j.cudasim.Dev.*;
import static org.rfim4j.cudasim.Mat.*;

import java.util.Arrays;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every cuBLAS function the project uses, through JCublas2 on "device" memory, against a plain Java double-precision
 * reference: transposes, padded leading dimensions (padding must stay untouched), strided and pointer-array batches,
 * host and device pointer modes, argument errors. On the simulator this checks the stand-in libcublas.so.12; on a
 * GPU the same assertions hold for the real cuBLAS (within the float tolerances used).
 */
@GpuTest
class CublasStandInTest {
    static cublasHandle h;
    static final double TOL = 2e-5;

    @BeforeAll
    static void create() {
        Dev.init();
        JCublas2.setExceptionsEnabled(true);
        h = new cublasHandle();
        cublasCreate(h);
    }

    @AfterAll
    static void destroy() {
        cublasDestroy(h);
    }

    @BeforeEach
    void current() {
        Dev.init();
    }

    static Pointer f(float v) { return Pointer.to(new float[] {v}); }

    static String status(Runnable r) {
        try {
            r.run();
        } catch (CudaException e) {
            return e.getMessage();
        }
        return "CUBLAS_STATUS_SUCCESS";
    }

    @Test
    void sgemmAllTransposesWithPaddedLeadingDimensions() {
        int m = 5, n = 4, k = 3;
        int[] ops = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};
        for (int ta : ops)
            for (int tb : ops) {
                boolean tA = ta != CUBLAS_OP_N, tB = tb != CUBLAS_OP_N;
                int ar = tA ? k : m, ac = tA ? m : k, br = tB ? n : k, bc = tB ? k : n;
                int lda = ar + 2, ldb = br + 3, ldc = m + 1;
                float[] a = random(ar, ac, lda, 1), b = random(br, bc, ldb, 2), c = random(m, n, ldc, 3);
                CUdeviceptr dA = upload(a), dB = upload(b), dC = upload(c);
                cublasSgemm(h, ta, tb, m, n, k, f(1.5f), dA, lda, dB, ldb, f(-0.5f), dC, ldc);
                float[] want = gemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, ldc);
                assertClose(want, download(dC, c.length), TOL, "sgemm ta=" + ta + " tb=" + tb);  // padding included
                free(dA, dB, dC);
            }
    }

    @Test
    void sgemmWithBetaZeroNeverReadsC() {
        int m = 6, n = 3, k = 4;
        float[] a = random(m, k, m, 4), b = random(k, n, k, 5);
        CUdeviceptr dA = upload(a), dB = upload(b), dC = alloc(4L * m * n);
        cuMemsetD32(dC, 0x7fc00000, m * n);  // NaN, as uninitialised memory may be
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, f(1f), dA, m, dB, k, f(0f), dC, m);
        float[] want = gemm(false, false, m, n, k, 1, a, m, b, k, 0, new float[m * n], m);
        assertClose(want, download(dC, m * n), TOL, "sgemm beta=0");
        free(dA, dB, dC);
    }

    @Test
    void sgemmStridedBatched() {
        int m = 4, n = 3, k = 5, batch = 3, lda = k + 1, ldb = k, ldc = m + 2;  // A transposed: stored k x m
        long sA = (long) lda * m + 7, sB = (long) ldb * n + 1, sC = (long) ldc * n + 3;
        float[] a = random((int) sA * batch, 1, (int) sA * batch, 6), b = random((int) sB * batch, 1, (int) sB * batch, 7);
        float[] c = random((int) sC * batch, 1, (int) sC * batch, 8);
        CUdeviceptr dA = upload(a), dB = upload(b), dC = upload(c);
        cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, f(2f), dA, lda, sA, dB, ldb, sB, f(1f), dC, ldc, sC, batch);
        float[] got = download(dC, c.length), want = c.clone();
        for (int bi = 0; bi < batch; bi++) {
            float[] ab = Arrays.copyOfRange(a, (int) (bi * sA), (int) (bi * sA + sA));
            float[] bb = Arrays.copyOfRange(b, (int) (bi * sB), (int) (bi * sB + sB));
            float[] cb = Arrays.copyOfRange(c, (int) (bi * sC), (int) (bi * sC + sC));
            float[] r = gemm(true, false, m, n, k, 2, ab, lda, bb, ldb, 1, cb, ldc);
            System.arraycopy(r, 0, want, (int) (bi * sC), (int) sC);
        }
        assertClose(want, got, TOL, "strided batched");
        free(dA, dB, dC);
    }

    /** device array holding the device addresses of the given buffers (what the *Batched routines take) */
    static CUdeviceptr pointerArray(CUdeviceptr... ps) {
        CUdeviceptr arr = alloc((long) ps.length * Sizeof.POINTER);
        cuMemcpyHtoD(arr, Pointer.to(ps), (long) ps.length * Sizeof.POINTER);
        return arr;
    }

    @Test
    void sgemmBatchedWithPointerArrays() {
        int m = 3, n = 4, k = 2, batch = 3, lda = m, ldb = n + 1, ldc = m + 1;  // B transposed: stored n x k
        float[][] a = new float[batch][], b = new float[batch][], c = new float[batch][];
        CUdeviceptr[] dA = new CUdeviceptr[batch], dB = new CUdeviceptr[batch], dC = new CUdeviceptr[batch];
        for (int i = 0; i < batch; i++) {
            a[i] = random(m, k, lda, 10 + i);
            b[i] = random(n, k, ldb, 20 + i);
            c[i] = random(m, n, ldc, 30 + i);
            dA[i] = upload(a[i]);
            dB[i] = upload(b[i]);
            dC[i] = upload(c[i]);
        }
        CUdeviceptr pA = pointerArray(dA), pB = pointerArray(dB), pC = pointerArray(dC);
        cublasSgemmBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, m, n, k, f(0.75f), pA, lda, pB, ldb, f(0.25f), pC, ldc, batch);
        for (int i = 0; i < batch; i++) {
            assertClose(gemm(false, true, m, n, k, 0.75, a[i], lda, b[i], ldb, 0.25, c[i], ldc), download(dC[i], c[i].length), TOL, "batch " + i);
            free(dA[i], dB[i], dC[i]);
        }
        free(pA, pB, pC);
    }

    @Test
    void ssyrkUpdatesOnlyItsTriangle() {
        int n = 5, k = 3;
        for (int uplo : new int[] {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER})
            for (int trans : new int[] {CUBLAS_OP_N, CUBLAS_OP_T}) {
                boolean t = trans != CUBLAS_OP_N;
                int ar = t ? k : n, ac = t ? n : k, lda = ar + 1, ldc = n + 2;
                float[] a = random(ar, ac, lda, 40), c = random(n, n, ldc, 41);
                CUdeviceptr dA = upload(a), dC = upload(c);
                cublasSsyrk(h, uplo, trans, n, k, f(1.25f), dA, lda, f(0.5f), dC, ldc);
                float[] want = c.clone();
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < n; i++) {
                        if (uplo == CUBLAS_FILL_MODE_LOWER ? i < j : i > j) continue;  // other triangle: untouched
                        double s = 0;
                        for (int l = 0; l < k; l++) s += op(a, lda, t, i, l) * op(a, lda, t, j, l);
                        want[i + j * ldc] = (float) (1.25 * s + 0.5 * c[i + j * ldc]);
                    }
                assertClose(want, download(dC, c.length), TOL, "ssyrk uplo=" + uplo + " trans=" + trans);
                free(dA, dC);
            }
    }

    /** BLAS vector element i (negative increments start from the far end) */
    static int vi(int i, int n, int inc) { return inc > 0 ? i * inc : (n - 1 - i) * -inc; }

    @Test
    void sgemvBothOpsWithIncrements() {
        int m = 4, n = 6, lda = m + 3;
        float[] a = random(m, n, lda, 50);
        for (int trans : new int[] {CUBLAS_OP_N, CUBLAS_OP_T})
            for (int[] inc : new int[][] {{1, 1}, {2, 3}, {-1, 2}}) {
                boolean t = trans != CUBLAS_OP_N;
                int lx = t ? m : n, ly = t ? n : m, incx = inc[0], incy = inc[1];
                float[] x = random(1 + (lx - 1) * Math.abs(incx), 1, 1 + (lx - 1) * Math.abs(incx), 51);
                float[] y = random(1 + (ly - 1) * Math.abs(incy), 1, 1 + (ly - 1) * Math.abs(incy), 52);
                CUdeviceptr dA = upload(a), dx = upload(x), dy = upload(y);
                cublasSgemv(h, trans, m, n, f(1.5f), dA, lda, dx, incx, f(-1f), dy, incy);
                float[] want = y.clone();
                for (int i = 0; i < ly; i++) {
                    double s = 0;
                    for (int l = 0; l < lx; l++) s += op(a, lda, t, i, l) * x[vi(l, lx, incx)];
                    want[vi(i, ly, incy)] = (float) (1.5 * s - y[vi(i, ly, incy)]);
                }
                assertClose(want, download(dy, y.length), TOL, "sgemv trans=" + trans + " incx=" + incx + " incy=" + incy);
                free(dA, dx, dy);
            }
    }

    @Test
    void saxpySscalSdotAndPointerModes() {
        int n = 7;
        float[] x = random(2 * n, 1, 2 * n, 60), y = random(n, 1, n, 61);
        CUdeviceptr dx = upload(x), dy = upload(y);
        cublasSaxpy(h, n, f(3f), dx, 2, dy, 1);  // y += 3 x (x with stride 2)
        float[] want = y.clone();
        for (int i = 0; i < n; i++) want[i] = (float) (3.0 * x[2 * i] + y[i]);
        assertClose(want, download(dy, n), TOL, "saxpy");

        cublasSscal(h, n, f(-2f), dy, 1);
        for (int i = 0; i < n; i++) want[i] = -2f * want[i];
        assertClose(want, download(dy, n), TOL, "sscal");

        double dot = 0;
        for (int i = 0; i < n; i++) dot += (double) x[2 * i] * want[i];
        float[] r = new float[1];
        cublasSdot(h, n, dx, 2, dy, 1, Pointer.to(r));  // host pointer mode, host result
        assertClose(dot, r[0], TOL, "sdot host mode");

        int[] mode = new int[1];
        cublasGetPointerMode(h, mode);
        assertEquals(CUBLAS_POINTER_MODE_HOST, mode[0]);
        cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE);
        try {
            cublasGetPointerMode(h, mode);
            assertEquals(CUBLAS_POINTER_MODE_DEVICE, mode[0]);
            CUdeviceptr dr = alloc(4), dAlpha = upload(new float[] {0.5f});
            cublasSdot(h, n, dx, 2, dy, 1, dr);  // result in device memory
            assertClose(dot, download(dr, 1)[0], TOL, "sdot device mode");
            cublasSscal(h, n, dAlpha, dy, 1);  // alpha read from device memory
            for (int i = 0; i < n; i++) want[i] = 0.5f * want[i];
            assertClose(want, download(dy, n), TOL, "sscal device alpha");
            free(dr, dAlpha);
        } finally {
            cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST);
        }
        free(dx, dy);
    }

    /** checks op(A) X = alpha B (left) or X op(A) = alpha B (right) using only the referenced triangle of A */
    static void checkTrsm(int side, int uplo, int trans, int diag, int m, int n, float alpha, float[] a, int lda, float[] b,
                          float[] x, int ldb, String what) {
        int k = side == CUBLAS_SIDE_LEFT ? m : n;
        double[][] t = new double[k][k];  // op(A) as used
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                int r = trans == CUBLAS_OP_N ? i : j, c = trans == CUBLAS_OP_N ? j : i;  // element (r, c) of A
                boolean inTri = uplo == CUBLAS_FILL_MODE_LOWER ? r >= c : r <= c;
                t[i][j] = r == c && diag == CUBLAS_DIAG_UNIT ? 1.0 : inTri ? a[r + c * lda] : 0.0;
            }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                if (side == CUBLAS_SIDE_LEFT) for (int l = 0; l < m; l++) s += t[i][l] * x[l + j * ldb];
                else for (int l = 0; l < n; l++) s += x[i + l * ldb] * t[l][j];
                assertClose(alpha * b[i + j * ldb], s, 1e-4, what + " (" + i + "," + j + ")");
            }
        for (int j = 0; j < n; j++)
            for (int i = m; i < ldb; i++) assertEquals(PAD, x[i + j * ldb], what + ": padding changed");
    }

    /** triangular, well conditioned; the unreferenced triangle (and a unit diagonal) hold NaN to prove it is not read */
    static float[] triangular(int k, int lda, int uplo, int diag, long seed) {
        float[] a = random(k, k, lda, seed);
        for (int j = 0; j < k; j++)
            for (int i = 0; i < k; i++) {
                boolean inTri = uplo == CUBLAS_FILL_MODE_LOWER ? i >= j : i <= j;
                if (!inTri || (i == j && diag == CUBLAS_DIAG_UNIT)) a[i + j * lda] = Float.NaN;
                else if (i == j) a[i + j * lda] = 3f + Math.abs(a[i + j * lda]);
                else a[i + j * lda] *= 0.3f;
            }
        return a;
    }

    @Test
    void strsmAllSidesTrianglesTransposesDiagonals() {
        int m = 5, n = 3, ldb = m + 2;
        for (int side : new int[] {CUBLAS_SIDE_LEFT, CUBLAS_SIDE_RIGHT})
            for (int uplo : new int[] {CUBLAS_FILL_MODE_LOWER, CUBLAS_FILL_MODE_UPPER})
                for (int trans : new int[] {CUBLAS_OP_N, CUBLAS_OP_T})
                    for (int diag : new int[] {CUBLAS_DIAG_NON_UNIT, CUBLAS_DIAG_UNIT}) {
                        int k = side == CUBLAS_SIDE_LEFT ? m : n, lda = k + 1;
                        float[] a = triangular(k, lda, uplo, diag, 70), b = random(m, n, ldb, 71);
                        CUdeviceptr dA = upload(a), dB = upload(b);
                        cublasStrsm(h, side, uplo, trans, diag, m, n, f(2f), dA, lda, dB, ldb);
                        checkTrsm(side, uplo, trans, diag, m, n, 2f, a, lda, b, download(dB, b.length), ldb,
                                "strsm side=" + side + " uplo=" + uplo + " trans=" + trans + " diag=" + diag);
                        free(dA, dB);
                    }
    }

    @Test
    void strsmBatchedWithPointerArrays() {
        int m = 4, n = 2, lda = m + 1, ldb = m, batch = 3;
        float[][] a = new float[batch][], b = new float[batch][];
        CUdeviceptr[] dA = new CUdeviceptr[batch], dB = new CUdeviceptr[batch];
        for (int i = 0; i < batch; i++) {
            a[i] = triangular(m, lda, CUBLAS_FILL_MODE_LOWER, CUBLAS_DIAG_NON_UNIT, 80 + i);
            b[i] = random(m, n, ldb, 90 + i);
            dA[i] = upload(a[i]);
            dB[i] = upload(b[i]);
        }
        CUdeviceptr pA = pointerArray(dA), pB = pointerArray(dB);
        cublasStrsmBatched(h, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, CUBLAS_DIAG_NON_UNIT, m, n, f(1f), pA, lda, pB, ldb, batch);
        for (int i = 0; i < batch; i++) {
            checkTrsm(CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T, CUBLAS_DIAG_NON_UNIT, m, n, 1f, a[i], lda, b[i],
                    download(dB[i], b[i].length), ldb, "strsmBatched " + i);
            free(dA[i], dB[i]);
        }
        free(pA, pB);
    }

    @Test
    void mathModeAndArgumentErrors() {
        int[] mode = new int[1];
        cublasSetMathMode(h, cublasMath.CUBLAS_TF32_TENSOR_OP_MATH);
        cublasGetMathMode(h, mode);
        assertEquals(cublasMath.CUBLAS_TF32_TENSOR_OP_MATH, mode[0]);
        cublasSetMathMode(h, cublasMath.CUBLAS_DEFAULT_MATH);
        CUdeviceptr d = alloc(4 * 16);
        // lda < m
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", status(() -> cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, f(1f), d, 3, d, 4, f(0f), d, 4)));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", status(() -> cublasSgemv(h, CUBLAS_OP_N, 4, 4, f(1f), d, 4, d, 0, f(0f), d, 1)));
        free(d);
    }

    @Test
    void simulatorChecksOperandsAndRefusesUnsimulatedFunctions() {
        CudaSimSupport.assumeSimulated();
        CUdeviceptr d = alloc(4 * 16);
        // a 4x4 matrix with ldc = 5 spans 19 floats: past the 16-float allocation
        assertEquals("CUBLAS_STATUS_EXECUTION_FAILED", status(() -> cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, f(1f), d, 4, d, 4, f(0f), d, 5)));
        // a host array where device memory is required
        assertEquals("CUBLAS_STATUS_EXECUTION_FAILED", status(() -> cublasSscal(h, 4, f(1f), Pointer.to(new float[4]), 1)));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", status(() -> cublasSswap(h, 4, d, 1, d, 1)));
        free(d);
    }

    /** Free device memory as the driver reports it (cuMemGetInfo). */
    static long freeBytes() {
        long[] free = new long[1], total = new long[1];
        cuMemGetInfo(free, total);
        return free[0];
    }

    /** Captures one SGEMM of handle hh on stream s into a new graph. */
    static jcuda.driver.CUgraph captureGemm(cublasHandle hh, jcuda.driver.CUstream s, CUdeviceptr a, CUdeviceptr c) {
        cuStreamBeginCapture(s, jcuda.driver.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
        cublasSgemm(hh, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, f(1f), a, 2, a, 2, f(0f), c, 2);
        jcuda.driver.CUgraph g = new jcuda.driver.CUgraph();
        cuStreamEndCapture(s, g);
        return g;
    }

    /**
     * Like CUDA 12.2+ cuBLAS, the stand-in makes a stream-ordered allocation for its workspace inside every capture
     * when the handle has no user workspace; that memory stays with the graph (and the executable graphs made from
     * it), so device memory grows with each captured graph. With cublasSetWorkspace it does not, and cublasSetStream
     * resets the user workspace (so it must be set after the stream).
     */
    @Test
    void captureWithoutUserWorkspaceKeepsWorkspaceMemoryWithEachGraph() {
        CudaSimSupport.assumeSimulated();
        cublasHandle hh = new cublasHandle();
        cublasCreate(hh);
        jcuda.driver.CUstream s = new jcuda.driver.CUstream();
        cuStreamCreate(s, 0);
        cublasSetStream(hh, new jcuda.runtime.cudaStream_t(s));
        CUdeviceptr a = upload(new float[] {1, 2, 3, 4}), c = alloc(16), ws = alloc(4 << 20);
        long before = freeBytes();
        jcuda.driver.CUgraph g1 = captureGemm(hh, s, a, c);
        long one = before - freeBytes();
        jcuda.driver.CUgraph g2 = captureGemm(hh, s, a, c);
        long two = before - freeBytes();
        assertTrue(one >= (1 << 20), "a capture without a user workspace allocates inside the graph: " + one);
        assertEquals(2 * one, two, "each graph keeps its own workspace");
        jcuda.driver.CUgraphExec e1 = new jcuda.driver.CUgraphExec();
        cuGraphInstantiate(e1, g1, 0);
        cuGraphDestroy(g1);
        assertEquals(two, before - freeBytes(), "the executable graph still holds the memory of g1");
        cuGraphExecDestroy(e1);
        cuGraphDestroy(g2);
        assertEquals(before, freeBytes(), "all graph memory freed with the graphs");
        // a user workspace: captures allocate nothing
        cublasSetWorkspace(hh, ws, 4 << 20);
        jcuda.driver.CUgraph g3 = captureGemm(hh, s, a, c), g4 = captureGemm(hh, s, a, c);
        assertEquals(before, freeBytes(), "with cublasSetWorkspace repeated captures do not grow device memory");
        // cublasSetStream resets the workspace to the library's pool: captures allocate again
        cublasSetStream(hh, new jcuda.runtime.cudaStream_t(s));
        jcuda.driver.CUgraph g5 = captureGemm(hh, s, a, c);
        assertEquals(one, before - freeBytes(), "cublasSetStream dropped the user workspace");
        for (jcuda.driver.CUgraph g : new jcuda.driver.CUgraph[] {g3, g4, g5}) cuGraphDestroy(g);
        cublasDestroy(hh);
        cuStreamDestroy(s);
        free(a, c, ws);
    }

    /** The stand-in computes in float32 with float32 accumulation (in index order), as cuBLAS's S routines. */
    @Test
    void arithmeticIsFloat32WithFloat32Accumulation() {
        CudaSimSupport.assumeSimulated();
        // (1e8 + 1) - 1e8: 0 in float32 (1e8 + 1 rounds to 1e8), 1 in double
        CUdeviceptr a = upload(new float[] {1e8f, 1f, -1e8f}), b = upload(new float[] {1f, 1f, 1f}), c = alloc(4);
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 3, f(1f), a, 1, b, 3, f(0f), c, 1);
        assertEquals(0f, download(c, 1)[0], "float32 accumulation");
        free(a, b, c);
    }

    /** CUBLAS_TF32_TENSOR_OP_MATH: the stand-in rounds SGEMM operands to TF32 (10 mantissa bits). */
    @Test
    void tf32MathRoundsGemmOperands() {
        CudaSimSupport.assumeSimulated();
        float x = 1f + 0x1p-12f;  // not a TF32 value: rounds to 1
        CUdeviceptr a = upload(new float[] {x}), b = upload(new float[] {1f}), c = alloc(4);
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, f(1f), a, 1, b, 1, f(0f), c, 1);
        assertEquals(x, download(c, 1)[0], "default math: float32 operands");
        cublasSetMathMode(h, cublasMath.CUBLAS_TF32_TENSOR_OP_MATH);
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, f(1f), a, 1, b, 1, f(0f), c, 1);
        cublasSetMathMode(h, cublasMath.CUBLAS_DEFAULT_MATH);
        assertEquals(1f, download(c, 1)[0], "TF32: the operand rounded to 10 mantissa bits");
        free(a, b, c);
    }
}
