// cusolver.cpp - stand-in libcusolver.so.11 (dense Cholesky family) for GPU-less tests (cudasim). Host memory,
// column-major, double precision for float data, cuSOLVER semantics: only the uplo triangle is referenced and
// written, devInfo / infoArray receive the LAPACK info (potrf: the 1-based order of the leading minor that is not
// positive definite), argument errors -> CUSOLVER_STATUS_INVALID_VALUE. Every other function JCusolver imports is
// a generated stub returning CUSOLVER_STATUS_NOT_SUPPORTED.
#include "blas_common.h"

namespace {
enum : int { ST_SUCCESS = 0, ST_NOT_INITIALIZED = 1, ST_INVALID_VALUE = 3, ST_EXECUTION_FAILED = 6, ST_NOT_SUPPORTED = 9 };
const char* const LIB = "libcusolver.so.11";
struct Handle {
    void* stream = nullptr;
    unsigned magic = 0xC050A7u;
};
bool valid(const Handle* h) { return h && h->magic == 0xC050A7u; }
#define CHECK_H(h) do { if (!valid(h)) return ST_NOT_INITIALIZED; } while (0)
#define DEV(fn, what, p, bytes) do { if (!simblas::dev_ok(LIB, fn, what, p, bytes)) return ST_EXECUTION_FAILED; } while (0)
bool uplo_ok(int uplo) { return uplo == 0 || uplo == 1; }  // CUBLAS_FILL_MODE_LOWER 0, UPPER 1

// The uplo triangle of A as a dense lower-triangular double matrix L (upper: transposed, U = L^T).
std::vector<double> load_lower(int uplo, long n, const float* A, long lda) {
    std::vector<double> L(size_t(n * n), 0.0);
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) L[size_t(i + j * n)] = uplo == 0 ? A[i + j * lda] : A[j + i * lda];
    return L;
}
void store_lower(int uplo, long n, const std::vector<double>& L, float* A, long lda) {
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) (uplo == 0 ? A[i + j * lda] : A[j + i * lda]) = float(L[size_t(i + j * n)]);
}
// In-place Cholesky (left-looking, column by column) of the lower triangle; returns LAPACK info.
// On failure at column j the columns before j hold the factor, j and later are unchanged.
int chol(std::vector<double>& L, long n) {
    for (long j = 0; j < n; ++j) {
        double d = L[size_t(j + j * n)];
        for (long k = 0; k < j; ++k) d -= L[size_t(j + k * n)] * L[size_t(j + k * n)];
        if (!(d > 0.0)) return int(j + 1);  // also NaN
        const double r = std::sqrt(d);
        L[size_t(j + j * n)] = r;
        for (long i = j + 1; i < n; ++i) {
            double s = L[size_t(i + j * n)];
            for (long k = 0; k < j; ++k) s -= L[size_t(i + k * n)] * L[size_t(j + k * n)];
            L[size_t(i + j * n)] = s / r;
        }
    }
    return 0;
}
int potrf1(int uplo, long n, float* A, long lda) {
    std::vector<double> L = load_lower(uplo, n, A, lda);
    const int info = chol(L, n);
    store_lower(uplo, n, L, A, lda);
    return info;
}
// B (n x nrhs) := A^-1 B with A = L L^T (L from the uplo triangle of the factor)
void potrs1(int uplo, long n, long nrhs, const float* A, long lda, float* B, long ldb) {
    std::vector<double> L = load_lower(uplo, n, A, lda), LT(size_t(n * n));
    for (long j = 0; j < n; ++j)
        for (long i = 0; i < n; ++i) LT[size_t(j + i * n)] = L[size_t(i + j * n)];
    std::vector<double> x(static_cast<size_t>(n));
    for (long c = 0; c < nrhs; ++c) {
        for (long i = 0; i < n; ++i) x[size_t(i)] = B[i + c * ldb];
        simblas::solve_tri(L.data(), n, true, false, x.data());
        simblas::solve_tri(LT.data(), n, false, false, x.data());
        for (long i = 0; i < n; ++i) B[i + c * ldb] = float(x[size_t(i)]);
    }
}
// potri of one matrix: the uplo triangle of inv(L L^T) from the factor in place; returns the info.
int potri1(int uplo, long n, float* A, long lda) {
    std::vector<double> L = load_lower(uplo, n, A, lda);
    for (long i = 0; i < n; ++i)
        if (L[size_t(i + i * n)] == 0.0) return int(i + 1);
    // W = inv(L), column by column (lower triangular)
    std::vector<double> W(size_t(n * n), 0.0), e(static_cast<size_t>(n));
    for (long j = 0; j < n; ++j) {
        std::fill(e.begin(), e.end(), 0.0);
        e[size_t(j)] = 1.0;
        simblas::solve_tri(L.data(), n, true, false, e.data());
        for (long i = 0; i < n; ++i) W[size_t(i + j * n)] = e[size_t(i)];
    }
    // inv(A) = W^T W; keep its lower triangle (symmetric)
    std::vector<double> R(size_t(n * n), 0.0);
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) {
            double s = 0.0;
            for (long k = i; k < n; ++k) s += W[size_t(k + i * n)] * W[size_t(k + j * n)];
            R[size_t(i + j * n)] = s;
        }
    store_lower(uplo, n, R, A, lda);
    return 0;
}
int workspace(long n) { return int(std::max(1L, 2 * n)); }
}  // namespace

API int cusolverDnCreate(Handle** h) {
    if (!h) return ST_INVALID_VALUE;
    *h = new Handle();
    return ST_SUCCESS;
}
API int cusolverDnDestroy(Handle* h) {
    CHECK_H(h);
    h->magic = 0;
    delete h;
    return ST_SUCCESS;
}
API int cusolverDnSetStream(Handle* h, void* s) { CHECK_H(h); h->stream = s; return ST_SUCCESS; }
API int cusolverDnGetStream(Handle* h, void** s) {
    CHECK_H(h);
    if (!s) return ST_INVALID_VALUE;
    *s = h->stream;
    return ST_SUCCESS;
}
API int cusolverDnSpotrf_bufferSize(Handle* h, int uplo, int n, float* A, int lda, int* lwork) {
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || !lwork) return ST_INVALID_VALUE;
    *lwork = workspace(n);
    return ST_SUCCESS;
}
API int cusolverDnSpotrf(Handle* h, int uplo, int n, float* A, int lda, float* work, int lwork, int* devInfo) {
    static const char* fn = "cusolverDnSpotrf";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || !devInfo) return ST_INVALID_VALUE;
    DEV(fn, "devInfo", devInfo, 4);
    DEV(fn, "A", A, simblas::mat_bytes(n, n, lda));
    if (n > 0 && lwork > 0) DEV(fn, "Workspace", work, size_t(lwork) * 4);
    if (simblas::deferred(h->stream, [=] { *devInfo = n == 0 ? 0 : potrf1(uplo, n, A, lda); })) return ST_SUCCESS;
    *devInfo = n == 0 ? 0 : potrf1(uplo, n, A, lda);
    simblas::trace(LIB, "%s(uplo=%d n=%d lda=%d) info=%d", fn, uplo, n, lda, *devInfo);
    return ST_SUCCESS;
}
API int cusolverDnSpotri_bufferSize(Handle* h, int uplo, int n, float* A, int lda, int* lwork) {
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || !lwork) return ST_INVALID_VALUE;
    *lwork = workspace(n);
    return ST_SUCCESS;
}
// A holds the Cholesky factor (uplo triangle) on entry, the uplo triangle of inv(L L^T) on exit.
// info = i > 0: the (i,i) element of the factor is zero, the inverse cannot be computed.
API int cusolverDnSpotri(Handle* h, int uplo, int n, float* A, int lda, float* work, int lwork, int* devInfo) {
    static const char* fn = "cusolverDnSpotri";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || !devInfo) return ST_INVALID_VALUE;
    DEV(fn, "devInfo", devInfo, 4);
    DEV(fn, "A", A, simblas::mat_bytes(n, n, lda));
    if (n > 0 && lwork > 0) DEV(fn, "work", work, size_t(lwork) * 4);
    if (simblas::deferred(h->stream, [=] { *devInfo = potri1(uplo, n, A, lda); })) return ST_SUCCESS;
    *devInfo = potri1(uplo, n, A, lda);
    return ST_SUCCESS;
}
API int cusolverDnSpotrs(Handle* h, int uplo, int n, int nrhs, const float* A, int lda, float* B, int ldb, int* devInfo) {
    static const char* fn = "cusolverDnSpotrs";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || nrhs < 0 || lda < std::max(1, n) || ldb < std::max(1, n) || !devInfo) return ST_INVALID_VALUE;
    DEV(fn, "devInfo", devInfo, 4);
    DEV(fn, "A", A, simblas::mat_bytes(n, n, lda));
    DEV(fn, "B", B, simblas::mat_bytes(n, nrhs, ldb));
    if (n > 0 && nrhs > 0) potrs1(uplo, n, nrhs, A, lda, B, ldb);
    *devInfo = 0;
    return ST_SUCCESS;
}
API int cusolverDnSpotrfBatched(Handle* h, int uplo, int n, float* Aarray[], int lda, int* infoArray, int batch) {
    static const char* fn = "cusolverDnSpotrfBatched";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || batch < 0 || !infoArray) return ST_INVALID_VALUE;
    if (batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", Aarray, size_t(batch) * sizeof(void*));
    DEV(fn, "infoArray", infoArray, size_t(batch) * 4);
    for (int b = 0; b < batch; ++b) {
        DEV(fn, "Aarray[b]", Aarray[b], simblas::mat_bytes(n, n, lda));
        if (simblas::deferred(h->stream, [=] { infoArray[b] = n == 0 ? 0 : potrf1(uplo, n, Aarray[b], lda); })) continue;
        infoArray[b] = n == 0 ? 0 : potrf1(uplo, n, Aarray[b], lda);
    }
    return ST_SUCCESS;
}
// cuSOLVER supports only nrhs == 1 here; d_info is a single int
API int cusolverDnSpotrsBatched(Handle* h, int uplo, int n, int nrhs, float* A[], int lda, float* B[], int ldb, int* d_info, int batch) {
    static const char* fn = "cusolverDnSpotrsBatched";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || nrhs != 1 || lda < std::max(1, n) || ldb < std::max(1, n) || batch < 0 || !d_info)
        return ST_INVALID_VALUE;
    DEV(fn, "d_info", d_info, 4);
    if (batch > 0) {
        DEV(fn, "Aarray", A, size_t(batch) * sizeof(void*));
        DEV(fn, "Barray", B, size_t(batch) * sizeof(void*));
    }
    for (int b = 0; b < batch; ++b) {
        DEV(fn, "Aarray[b]", A[b], simblas::mat_bytes(n, n, lda));
        DEV(fn, "Barray[b]", B[b], simblas::mat_bytes(n, nrhs, ldb));
        if (n > 0) potrs1(uplo, n, nrhs, A[b], lda, B[b], ldb);
    }
    *d_info = 0;
    return ST_SUCCESS;
}
