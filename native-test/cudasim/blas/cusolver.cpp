// cusolver.cpp - stand-in libcusolver.so.11 (and, linked again under that name, libcusolver.so.12): the dense
// Cholesky family for GPU-less tests (cudasim). Host memory, column-major, float32 arithmetic as the real S routines,
// cuSOLVER semantics: only the uplo triangle is referenced and written, devInfo / infoArray receive the LAPACK info
// (potrf: the 1-based order of the leading minor whose pivot is zero or negative), argument errors ->
// CUSOLVER_STATUS_INVALID_VALUE. Like the real library, a NaN pivot is NOT flagged: potrf goes on and leaves a NaN
// factor with info 0, so callers must check the factor themselves (rfim_inverse_status does). Work follows the
// handle's stream like the stand-in cuBLAS (captures, CUDASIM_STRICT_STREAMS). CUDASIM_FAIL can fail
// cusolverDnCreate and cusolverDnSetStream; CUDASIM_LEAKS=1 reports live handles at exit. Every other function
// JCusolver imports is a generated stub returning CUSOLVER_STATUS_NOT_SUPPORTED.
#include "blas_common.h"

namespace {
enum : int {
    ST_SUCCESS = 0, ST_NOT_INITIALIZED = 1, ST_INVALID_VALUE = 3, ST_EXECUTION_FAILED = 6, ST_INTERNAL_ERROR = 7,
    ST_NOT_SUPPORTED = 9
};
const char* lib_name() {  // libcusolver.so.11 or .12, whichever name this copy was loaded as
    static const char* n = [] {
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(&lib_name), &info) && info.dli_fname && std::strstr(info.dli_fname, ".so.12"))
            return "libcusolver.so.12";
        return "libcusolver.so.11";
    }();
    return n;
}
#define LIB lib_name()
std::atomic<int> g_handles{0};
struct LeakReport {
    ~LeakReport() {
        if (simblas::leaks_on()) std::fprintf(stderr, "[cudasim] exit: %s handles=%d\n", LIB, g_handles.load());
    }
} g_leak_report;
struct Handle {
    void* stream = nullptr;
    unsigned magic = 0xC050A7u;
};
bool valid(const Handle* h) { return h && h->magic == 0xC050A7u; }
#define CHECK_H(h) do { if (!valid(h)) return ST_NOT_INITIALIZED; } while (0)
#define DEV(fn, what, p, bytes) do { if (!simblas::dev_ok(LIB, fn, what, p, bytes)) return ST_EXECUTION_FAILED; } while (0)
bool uplo_ok(int uplo) { return uplo == 0 || uplo == 1; }  // CUBLAS_FILL_MODE_LOWER 0, UPPER 1

// The uplo triangle of A as a dense lower-triangular float matrix L (upper: transposed, U = L^T).
std::vector<float> load_lower(int uplo, long n, const float* A, long lda) {
    std::vector<float> L(size_t(n * n), 0.0f);
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) L[size_t(i + j * n)] = uplo == 0 ? A[i + j * lda] : A[j + i * lda];
    return L;
}
void store_lower(int uplo, long n, const std::vector<float>& L, float* A, long lda) {
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) (uplo == 0 ? A[i + j * lda] : A[j + i * lda]) = L[size_t(i + j * n)];
}
// In-place Cholesky (left-looking, column by column) of the lower triangle in float; returns the info. A pivot that
// is zero or negative stops it (info = its order; columns before it hold the factor, it and later are unchanged).
// A NaN pivot does not: sqrt(NaN) goes on into the factor, info stays 0 (real cuSOLVER need not flag NaN either).
int chol(std::vector<float>& L, long n) {
    for (long j = 0; j < n; ++j) {
        float d = L[size_t(j + j * n)];
        for (long k = 0; k < j; ++k) d -= L[size_t(j + k * n)] * L[size_t(j + k * n)];
        if (d <= 0.0f) return int(j + 1);
        const float r = std::sqrt(d);
        L[size_t(j + j * n)] = r;
        for (long i = j + 1; i < n; ++i) {
            float s = L[size_t(i + j * n)];
            for (long k = 0; k < j; ++k) s -= L[size_t(i + k * n)] * L[size_t(j + k * n)];
            L[size_t(i + j * n)] = s / r;
        }
    }
    return 0;
}
int potrf1(int uplo, long n, float* A, long lda) {
    std::vector<float> L = load_lower(uplo, n, A, lda);
    const int info = chol(L, n);
    store_lower(uplo, n, L, A, lda);
    return info;
}
// B (n x nrhs) := A^-1 B with A = L L^T (L from the uplo triangle of the factor)
void potrs1(int uplo, long n, long nrhs, const float* A, long lda, float* B, long ldb) {
    std::vector<float> L = load_lower(uplo, n, A, lda), LT(size_t(n * n));
    for (long j = 0; j < n; ++j)
        for (long i = 0; i < n; ++i) LT[size_t(j + i * n)] = L[size_t(i + j * n)];
    std::vector<float> x(static_cast<size_t>(n));
    for (long c = 0; c < nrhs; ++c) {
        for (long i = 0; i < n; ++i) x[size_t(i)] = B[i + c * ldb];
        simblas::solve_tri(L.data(), n, true, false, x.data());
        simblas::solve_tri(LT.data(), n, false, false, x.data());
        for (long i = 0; i < n; ++i) B[i + c * ldb] = x[size_t(i)];
    }
}
// potri of one matrix: the uplo triangle of inv(L L^T) from the factor in place; returns the info.
int potri1(int uplo, long n, float* A, long lda) {
    std::vector<float> L = load_lower(uplo, n, A, lda);
    for (long i = 0; i < n; ++i)
        if (L[size_t(i + i * n)] == 0.0f) return int(i + 1);
    // W = inv(L), column by column (lower triangular)
    std::vector<float> W(size_t(n * n), 0.0f), e(static_cast<size_t>(n));
    for (long j = 0; j < n; ++j) {
        std::fill(e.begin(), e.end(), 0.0f);
        e[size_t(j)] = 1.0f;
        simblas::solve_tri(L.data(), n, true, false, e.data());
        for (long i = 0; i < n; ++i) W[size_t(i + j * n)] = e[size_t(i)];
    }
    // inv(A) = W^T W; keep its lower triangle (symmetric)
    std::vector<float> R(size_t(n * n), 0.0f);
    for (long j = 0; j < n; ++j)
        for (long i = j; i < n; ++i) {
            float s = 0.0f;
            for (long k = i; k < n; ++k) s += W[size_t(k + i * n)] * W[size_t(k + j * n)];
            R[size_t(i + j * n)] = s;
        }
    store_lower(uplo, n, R, A, lda);
    return 0;
}
// Runs `work` on the handle's stream (recorded into a capture, queued under strict streams, or now).
template <class F>
int run(void* stream, const char* fn, std::initializer_list<const void*> refs, F work) {
    const int rc = simblas::take(stream, refs, work);
    if (rc == -1) {
        simblas::complain(LIB, "%s: refused on a capturing stream whose capture is invalidated or set to fail", fn);
        return ST_NOT_SUPPORTED;
    }
    if (rc < 0) return ST_EXECUTION_FAILED;
    if (rc == 0) work();
    return ST_SUCCESS;
}
int workspace(long n) { return int(std::max(1L, 2 * n)); }
}  // namespace

API int cusolverDnCreate(Handle** h) {
    if (!h) return ST_INVALID_VALUE;
    if (simblas::injected("cusolverDnCreate")) return ST_NOT_INITIALIZED;
    *h = new Handle();
    g_handles++;
    return ST_SUCCESS;
}
API int cusolverDnDestroy(Handle* h) {
    CHECK_H(h);
    h->magic = 0;
    delete h;
    g_handles--;
    return ST_SUCCESS;
}
API int cusolverDnSetStream(Handle* h, void* s) {
    CHECK_H(h);
    if (simblas::injected("cusolverDnSetStream")) return ST_INTERNAL_ERROR;
    h->stream = s;
    return ST_SUCCESS;
}
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
    simblas::trace(LIB, "%s(uplo=%d n=%d lda=%d)", fn, uplo, n, lda);
    return run(h->stream, fn, {A, work, devInfo}, [=] { *devInfo = n == 0 ? 0 : potrf1(uplo, n, A, lda); });
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
    return run(h->stream, fn, {A, work, devInfo}, [=] { *devInfo = potri1(uplo, n, A, lda); });
}
API int cusolverDnSpotrs(Handle* h, int uplo, int n, int nrhs, const float* A, int lda, float* B, int ldb, int* devInfo) {
    static const char* fn = "cusolverDnSpotrs";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || nrhs < 0 || lda < std::max(1, n) || ldb < std::max(1, n) || !devInfo) return ST_INVALID_VALUE;
    DEV(fn, "devInfo", devInfo, 4);
    DEV(fn, "A", A, simblas::mat_bytes(n, n, lda));
    DEV(fn, "B", B, simblas::mat_bytes(n, nrhs, ldb));
    return run(h->stream, fn, {A, B, devInfo}, [=] {
        if (n > 0 && nrhs > 0) potrs1(uplo, n, nrhs, A, lda, B, ldb);
        *devInfo = 0;
    });
}
API int cusolverDnSpotrfBatched(Handle* h, int uplo, int n, float* Aarray[], int lda, int* infoArray, int batch) {
    static const char* fn = "cusolverDnSpotrfBatched";
    CHECK_H(h);
    if (!uplo_ok(uplo) || n < 0 || lda < std::max(1, n) || batch < 0 || !infoArray) return ST_INVALID_VALUE;
    if (batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", Aarray, size_t(batch) * sizeof(void*));
    DEV(fn, "infoArray", infoArray, size_t(batch) * 4);
    // the pointer array is device memory, read when the work runs (as on a GPU): checked then
    return run(h->stream, fn, {Aarray, infoArray}, [=] {
        for (int b = 0; b < batch; ++b) {
            if (!simblas::in_device(Aarray[b], simblas::mat_bytes(n, n, lda))) {
                simblas::complain(LIB, "%s: Aarray[%d] = %p is not a device matrix", fn, b, (void*)Aarray[b]);
                simblas::fault(fn);
                return;
            }
            infoArray[b] = n == 0 ? 0 : potrf1(uplo, n, Aarray[b], lda);
        }
    });
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
    return run(h->stream, fn, {A, B, d_info}, [=] {
        for (int b = 0; b < batch; ++b) {
            if (!simblas::in_device(A[b], simblas::mat_bytes(n, n, lda)) || !simblas::in_device(B[b], simblas::mat_bytes(n, nrhs, ldb))) {
                simblas::complain(LIB, "%s: Aarray[%d] or Barray[%d] is not a device matrix", fn, b, b);
                simblas::fault(fn);
                return;
            }
            if (n > 0) potrs1(uplo, n, nrhs, A[b], lda, B[b], ldb);
        }
        *d_info = 0;
    });
}
