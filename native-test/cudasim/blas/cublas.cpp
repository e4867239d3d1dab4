// cublas.cpp - stand-in libcublas.so.12 for GPU-less tests (cudasim). "Device" memory is host memory (the stand-in
// libcuda.so.1), so every routine computes synchronously on the calling thread, in double precision for float data,
// with cuBLAS semantics: column-major, op(N/T/C), leading dimensions, strided and pointer-array batches, host or
// device pointer mode for scalars, beta == 0 never reads C (it may hold NaN), argument errors ->
// CUBLAS_STATUS_INVALID_VALUE. Every other function JCublas2 imports is a generated stub returning
// CUBLAS_STATUS_NOT_SUPPORTED. The version node (libcublas.so.12) comes from the link's version script.
#include "blas_common.h"

namespace {
enum : int {
    ST_SUCCESS = 0, ST_NOT_INITIALIZED = 1, ST_ALLOC_FAILED = 3, ST_INVALID_VALUE = 7, ST_EXECUTION_FAILED = 13,
    ST_NOT_SUPPORTED = 15
};
const char* const LIB = "libcublas.so.12";
struct Handle {
    void* stream = nullptr;
    int pointer_mode = 0;  // CUBLAS_POINTER_MODE_HOST 0, DEVICE 1
    int math_mode = 0;
    unsigned magic = 0xC0B1A5u;
};
bool valid(const Handle* h) { return h && h->magic == 0xC0B1A5u; }
bool op_ok(int op) { return op == 0 || op == 1 || op == 2; }  // N, T, C (C == T for real data)
bool is_t(int op) { return op != 0; }
#define CHECK_H(h) do { if (!valid(h)) return ST_NOT_INITIALIZED; } while (0)
#define DEV(fn, what, p, bytes) do { if (!simblas::dev_ok(LIB, fn, what, p, bytes)) return ST_EXECUTION_FAILED; } while (0)
// scalar argument in the handle's pointer mode
bool scalar(const Handle* h, const char* fn, const char* what, const float* p, double* out) {
    if (!p) return false;
    if (h->pointer_mode == 1 && !simblas::dev_ok(LIB, fn, what, p, 4)) return false;
    *out = *p;
    return true;
}
// C(m x n, ldc) = alpha * op(A) op(B) + beta * C for one matrix triple
void gemm1(int ta, int tb, long m, long n, long k, double alpha, const float* A, long lda, const float* B, long ldb, double beta,
           float* C, long ldc) {
    std::vector<double> a, b;
    if (k > 0 && alpha != 0.0) {
        a = simblas::pack(A, lda, is_t(ta), m, k);
        b = simblas::pack(B, ldb, is_t(tb), k, n);
    }
    std::vector<double> acc(static_cast<size_t>(m));
    for (long j = 0; j < n; ++j) {
        std::fill(acc.begin(), acc.end(), 0.0);
        if (!a.empty())
            for (long l = 0; l < k; ++l) {
                const double blj = b[size_t(l + j * k)];
                const double* al = &a[size_t(l * m)];
                for (long i = 0; i < m; ++i) acc[size_t(i)] += al[i] * blj;
            }
        float* c = C + j * ldc;
        for (long i = 0; i < m; ++i) c[i] = float(alpha * acc[size_t(i)] + (beta == 0.0 ? 0.0 : beta * double(c[i])));
    }
}
int gemm_args(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
    if (!op_ok(ta) || !op_ok(tb) || m < 0 || n < 0 || k < 0) return ST_INVALID_VALUE;
    if (lda < std::max(1, is_t(ta) ? k : m) || ldb < std::max(1, is_t(tb) ? n : k) || ldc < std::max(1, m)) return ST_INVALID_VALUE;
    return ST_SUCCESS;
}
size_t a_bytes(int ta, int m, int k, int lda) { return is_t(ta) ? simblas::mat_bytes(k, m, lda) : simblas::mat_bytes(m, k, lda); }
// op(A) X = alpha B (left) or X op(A) = alpha B (right), B m x n overwritten by X
void trsm1(int side, int uplo, int trans, int diag, long m, long n, double alpha, const float* A, long lda, float* B, long ldb) {
    const long k = side == 0 ? m : n;
    std::vector<double> T(size_t(k * k), 0.0);
    for (long j = 0; j < k; ++j)
        for (long i = 0; i < k; ++i) {
            const bool in_tri = uplo == 0 ? i >= j : i <= j;
            if (in_tri) T[size_t(i + j * k)] = A[i + j * lda];
        }
    bool lower = uplo == 0;
    if (is_t(trans)) {  // T := T^T
        std::vector<double> U(T.size());
        for (long j = 0; j < k; ++j)
            for (long i = 0; i < k; ++i) U[size_t(j + i * k)] = T[size_t(i + j * k)];
        T.swap(U);
        lower = !lower;
    }
    const bool unit = diag == 1;
    std::vector<double> x(static_cast<size_t>(k));
    if (side == 0) {
        for (long j = 0; j < n; ++j) {
            for (long i = 0; i < m; ++i) x[size_t(i)] = alpha * B[i + j * ldb];
            simblas::solve_tri(T.data(), k, lower, unit, x.data());
            for (long i = 0; i < m; ++i) B[i + j * ldb] = float(x[size_t(i)]);
        }
    } else {  // X T = alpha B  <=>  T^T X^T = alpha B^T, row by row
        std::vector<double> TT(T.size());
        for (long j = 0; j < k; ++j)
            for (long i = 0; i < k; ++i) TT[size_t(j + i * k)] = T[size_t(i + j * k)];
        for (long i = 0; i < m; ++i) {
            for (long j = 0; j < n; ++j) x[size_t(j)] = alpha * B[i + j * ldb];
            simblas::solve_tri(TT.data(), k, !lower, unit, x.data());
            for (long j = 0; j < n; ++j) B[i + j * ldb] = float(x[size_t(j)]);
        }
    }
}
int trsm_args(int side, int uplo, int trans, int diag, int m, int n, int lda, int ldb) {
    if ((side != 0 && side != 1) || (uplo != 0 && uplo != 1) || !op_ok(trans) || (diag != 0 && diag != 1) || m < 0 || n < 0)
        return ST_INVALID_VALUE;
    if (lda < std::max(1, side == 0 ? m : n) || ldb < std::max(1, m)) return ST_INVALID_VALUE;
    return ST_SUCCESS;
}
// element i of a BLAS vector with increment inc (negative: starts from the far end)
inline long vidx(long i, long n, long inc) { return inc > 0 ? i * inc : (n - 1 - i) * (-inc); }
}  // namespace

API int cublasCreate_v2(Handle** h) {
    if (!h) return ST_INVALID_VALUE;
    *h = new Handle();
    simblas::trace(LIB, "cublasCreate_v2 -> %p", (void*)*h);
    return ST_SUCCESS;
}
API int cublasDestroy_v2(Handle* h) {
    CHECK_H(h);
    h->magic = 0;
    delete h;
    return ST_SUCCESS;
}
API int cublasSetStream_v2(Handle* h, void* s) { CHECK_H(h); h->stream = s; return ST_SUCCESS; }
API int cublasGetStream_v2(Handle* h, void** s) {
    CHECK_H(h);
    if (!s) return ST_INVALID_VALUE;
    *s = h->stream;
    return ST_SUCCESS;
}
API int cublasSetPointerMode_v2(Handle* h, int mode) {
    CHECK_H(h);
    if (mode != 0 && mode != 1) return ST_INVALID_VALUE;
    h->pointer_mode = mode;
    return ST_SUCCESS;
}
API int cublasGetPointerMode_v2(Handle* h, int* mode) {
    CHECK_H(h);
    if (!mode) return ST_INVALID_VALUE;
    *mode = h->pointer_mode;
    return ST_SUCCESS;
}
// CUBLAS_DEFAULT_MATH 0, TENSOR_OP 1, PEDANTIC 2, TF32_TENSOR_OP 3, + DISALLOW_REDUCED_PRECISION_REDUCTION 16
API int cublasSetMathMode(Handle* h, int mode) {
    CHECK_H(h);
    if ((mode & ~16) < 0 || (mode & ~16) > 3) return ST_INVALID_VALUE;
    h->math_mode = mode;
    return ST_SUCCESS;
}
API int cublasGetMathMode(Handle* h, int* mode) {
    CHECK_H(h);
    if (!mode) return ST_INVALID_VALUE;
    *mode = h->math_mode;
    return ST_SUCCESS;
}

API int cublasSgemm_v2(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B,
                       int ldb, const float* beta, float* C, int ldc) {
    static const char* fn = "cublasSgemm_v2";
    CHECK_H(h);
    if (int s = gemm_args(ta, tb, m, n, k, lda, ldb, ldc)) return s;
    double al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    if (k > 0 && al != 0.0) {
        DEV(fn, "A", A, a_bytes(ta, m, k, lda));
        DEV(fn, "B", B, a_bytes(tb, k, n, ldb));
    }
    DEV(fn, "C", C, simblas::mat_bytes(m, n, ldc));
    simblas::trace(LIB, "%s(ta=%d tb=%d m=%d n=%d k=%d alpha=%g lda=%d ldb=%d beta=%g ldc=%d)", fn, ta, tb, m, n, k, al, lda, ldb, be, ldc);
    if (simblas::deferred(h->stream, [=] { gemm1(ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc); })) return ST_SUCCESS;
    gemm1(ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc);
    return ST_SUCCESS;
}
API int cublasSgemmStridedBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                  long long strideA, const float* B, int ldb, long long strideB, const float* beta, float* C,
                                  int ldc, long long strideC, int batch) {
    static const char* fn = "cublasSgemmStridedBatched";
    CHECK_H(h);
    if (int s = gemm_args(ta, tb, m, n, k, lda, ldb, ldc)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    double al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    for (int b = 0; b < batch; ++b) {
        const float* Ab = A + b * strideA;
        const float* Bb = B + b * strideB;
        float* Cb = C + b * strideC;
        if (k > 0 && al != 0.0) {
            DEV(fn, "A[batch]", Ab, a_bytes(ta, m, k, lda));
            DEV(fn, "B[batch]", Bb, a_bytes(tb, k, n, ldb));
        }
        DEV(fn, "C[batch]", Cb, simblas::mat_bytes(m, n, ldc));
        if (simblas::deferred(h->stream, [=] { gemm1(ta, tb, m, n, k, al, Ab, lda, Bb, ldb, be, Cb, ldc); })) continue;
        gemm1(ta, tb, m, n, k, al, Ab, lda, Bb, ldb, be, Cb, ldc);
    }
    return ST_SUCCESS;
}
API int cublasSgemmBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* const A[], int lda,
                           const float* const B[], int ldb, const float* beta, float* const C[], int ldc, int batch) {
    static const char* fn = "cublasSgemmBatched";
    CHECK_H(h);
    if (int s = gemm_args(ta, tb, m, n, k, lda, ldb, ldc)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    double al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", A, size_t(batch) * sizeof(void*));
    DEV(fn, "Barray", B, size_t(batch) * sizeof(void*));
    DEV(fn, "Carray", C, size_t(batch) * sizeof(void*));
    for (int b = 0; b < batch; ++b) {
        if (k > 0 && al != 0.0) {
            DEV(fn, "Aarray[b]", A[b], a_bytes(ta, m, k, lda));
            DEV(fn, "Barray[b]", B[b], a_bytes(tb, k, n, ldb));
        }
        DEV(fn, "Carray[b]", C[b], simblas::mat_bytes(m, n, ldc));
        gemm1(ta, tb, m, n, k, al, A[b], lda, B[b], ldb, be, C[b], ldc);
    }
    return ST_SUCCESS;
}
// C = alpha op(A) op(A)^T + beta C, only the uplo triangle of C (n x n) is referenced and written
API int cublasSsyrk_v2(Handle* h, int uplo, int trans, int n, int k, const float* alpha, const float* A, int lda, const float* beta,
                       float* C, int ldc) {
    static const char* fn = "cublasSsyrk_v2";
    CHECK_H(h);
    if ((uplo != 0 && uplo != 1) || !op_ok(trans) || n < 0 || k < 0) return ST_INVALID_VALUE;
    if (lda < std::max(1, is_t(trans) ? k : n) || ldc < std::max(1, n)) return ST_INVALID_VALUE;
    double al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (n == 0) return ST_SUCCESS;
    if (k > 0 && al != 0.0) DEV(fn, "A", A, a_bytes(trans, n, k, lda));
    DEV(fn, "C", C, simblas::mat_bytes(n, n, ldc));
    std::vector<double> a;
    if (k > 0 && al != 0.0) a = simblas::pack(A, lda, is_t(trans), n, k);  // op(A): n x k
    for (long j = 0; j < n; ++j) {
        const long i0 = uplo == 0 ? j : 0, i1 = uplo == 0 ? n : j + 1;
        for (long i = i0; i < i1; ++i) {
            double s = 0.0;
            if (!a.empty())
                for (long l = 0; l < k; ++l) s += a[size_t(i + l * n)] * a[size_t(j + l * n)];
            float& c = C[i + j * ldc];
            c = float(al * s + (be == 0.0 ? 0.0 : be * double(c)));
        }
    }
    return ST_SUCCESS;
}
// y = alpha op(A) x + beta y, A m x n
API int cublasSgemv_v2(Handle* h, int trans, int m, int n, const float* alpha, const float* A, int lda, const float* x, int incx,
                       const float* beta, float* y, int incy) {
    static const char* fn = "cublasSgemv_v2";
    CHECK_H(h);
    if (!op_ok(trans) || m < 0 || n < 0 || lda < std::max(1, m) || incx == 0 || incy == 0) return ST_INVALID_VALUE;
    double al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    const long lx = is_t(trans) ? m : n, ly = is_t(trans) ? n : m;
    DEV(fn, "A", A, simblas::mat_bytes(m, n, lda));
    DEV(fn, "x", x, simblas::vec_bytes(lx, incx));
    DEV(fn, "y", y, simblas::vec_bytes(ly, incy));
    const simblas::Mat a{A, lda, is_t(trans)};
    std::vector<double> out(static_cast<size_t>(ly));
    for (long i = 0; i < ly; ++i) {
        double s = 0.0;
        for (long l = 0; l < lx; ++l) s += a(i, l) * double(x[vidx(l, lx, incx)]);
        out[size_t(i)] = s;
    }
    for (long i = 0; i < ly; ++i) {
        float& yi = y[vidx(i, ly, incy)];
        yi = float(al * out[size_t(i)] + (be == 0.0 ? 0.0 : be * double(yi)));
    }
    return ST_SUCCESS;
}
API int cublasSaxpy_v2(Handle* h, int n, const float* alpha, const float* x, int incx, float* y, int incy) {
    static const char* fn = "cublasSaxpy_v2";
    CHECK_H(h);
    double al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (n <= 0) return ST_SUCCESS;
    if (incx == 0 || incy == 0) return ST_INVALID_VALUE;
    DEV(fn, "x", x, simblas::vec_bytes(n, incx));
    DEV(fn, "y", y, simblas::vec_bytes(n, incy));
    for (long i = 0; i < n; ++i) {
        float& yi = y[vidx(i, n, incy)];
        yi = float(al * double(x[vidx(i, n, incx)]) + double(yi));
    }
    return ST_SUCCESS;
}
API int cublasSscal_v2(Handle* h, int n, const float* alpha, float* x, int incx) {
    static const char* fn = "cublasSscal_v2";
    CHECK_H(h);
    double al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (n <= 0 || incx <= 0) return ST_SUCCESS;  // reference BLAS quick return
    DEV(fn, "x", x, simblas::vec_bytes(n, incx));
    for (long i = 0; i < n; ++i) x[i * incx] = float(al * double(x[i * incx]));
    return ST_SUCCESS;
}
// result in the handle's pointer mode (host: a host float; device: device memory)
API int cublasSdot_v2(Handle* h, int n, const float* x, int incx, const float* y, int incy, float* result) {
    static const char* fn = "cublasSdot_v2";
    CHECK_H(h);
    if (!result) return ST_INVALID_VALUE;
    if (h->pointer_mode == 1) DEV(fn, "result", result, 4);
    double s = 0.0;
    if (n > 0) {
        if (incx == 0 || incy == 0) return ST_INVALID_VALUE;
        DEV(fn, "x", x, simblas::vec_bytes(n, incx));
        DEV(fn, "y", y, simblas::vec_bytes(n, incy));
        for (long i = 0; i < n; ++i) s += double(x[vidx(i, n, incx)]) * double(y[vidx(i, n, incy)]);
    }
    *result = float(s);
    return ST_SUCCESS;
}
API int cublasStrsm_v2(Handle* h, int side, int uplo, int trans, int diag, int m, int n, const float* alpha, const float* A, int lda,
                       float* B, int ldb) {
    static const char* fn = "cublasStrsm_v2";
    CHECK_H(h);
    if (int s = trsm_args(side, uplo, trans, diag, m, n, lda, ldb)) return s;
    double al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    const long k = side == 0 ? m : n;
    DEV(fn, "A", A, simblas::mat_bytes(k, k, lda));
    DEV(fn, "B", B, simblas::mat_bytes(m, n, ldb));
    trsm1(side, uplo, trans, diag, m, n, al, A, lda, B, ldb);
    return ST_SUCCESS;
}
API int cublasStrsmBatched(Handle* h, int side, int uplo, int trans, int diag, int m, int n, const float* alpha, const float* const A[],
                           int lda, float* const B[], int ldb, int batch) {
    static const char* fn = "cublasStrsmBatched";
    CHECK_H(h);
    if (int s = trsm_args(side, uplo, trans, diag, m, n, lda, ldb)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    double al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", A, size_t(batch) * sizeof(void*));
    DEV(fn, "Barray", B, size_t(batch) * sizeof(void*));
    const long k = side == 0 ? m : n;
    for (int b = 0; b < batch; ++b) {
        DEV(fn, "Aarray[b]", A[b], simblas::mat_bytes(k, k, lda));
        DEV(fn, "Barray[b]", B[b], simblas::mat_bytes(m, n, ldb));
        // the pointer arrays are device memory, read when the work runs (as on a GPU)
        if (simblas::deferred(h->stream, [=] { trsm1(side, uplo, trans, diag, m, n, al, A[b], lda, B[b], ldb); })) continue;
        trsm1(side, uplo, trans, diag, m, n, al, A[b], lda, B[b], ldb);
    }
    return ST_SUCCESS;
}
