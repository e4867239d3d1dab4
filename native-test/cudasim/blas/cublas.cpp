// cublas.cpp - stand-in libcublas.so.12 (and, linked again under that name, libcublas.so.13) for GPU-less tests
// (cudasim). "Device" memory is host memory (the stand-in libcuda.so.1). cuBLAS semantics: column-major, op(N/T/C),
// leading dimensions, strided and pointer-array batches, host or device pointer mode for scalars, beta == 0 never
// reads C (it may hold NaN), argument errors -> CUBLAS_STATUS_INVALID_VALUE.
//
// Arithmetic is float32 with float32 accumulation, as the real library's S routines (products and sums rounded to
// float, summed in index order, no FMA); CUBLAS_TF32_TENSOR_OP_MATH rounds the GEMM operands to TF32 first.
//
// Work follows the handle's stream through the driver (blas_common.h): recorded as a graph node while the stream
// captures, queued under CUDASIM_STRICT_STREAMS, else run at once. Like CUDA 12.2+ cuBLAS, a level-3 call on a
// capturing stream without a user workspace (cublasSetWorkspace) makes a stream-ordered allocation inside the
// capture, which stays with the graph (GRAPH_WORKSPACE bytes per handle and capture), and cublasSetStream resets the
// user workspace to the default pool. CUDASIM_FAIL can fail cublasCreate_v2, cublasSetStream_v2,
// cublasSetWorkspace_v2; CUDASIM_LEAKS=1 reports live handles at exit. Every other function JCublas2 imports is a
// generated stub returning CUBLAS_STATUS_NOT_SUPPORTED. The version node comes from the link's version script.
#include "blas_common.h"

namespace {
enum : int {
    ST_SUCCESS = 0, ST_NOT_INITIALIZED = 1, ST_ALLOC_FAILED = 3, ST_INVALID_VALUE = 7, ST_EXECUTION_FAILED = 13,
    ST_INTERNAL_ERROR = 14, ST_NOT_SUPPORTED = 15
};
const char* lib_name() {  // libcublas.so.12 or .13, whichever name this copy was loaded as
    static const char* n = [] {
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(&lib_name), &info) && info.dli_fname && std::strstr(info.dli_fname, ".so.13"))
            return "libcublas.so.13";
        return "libcublas.so.12";
    }();
    return n;
}
#define LIB lib_name()
// the workspace a capture allocates per handle without cublasSetWorkspace
constexpr size_t GRAPH_WORKSPACE = size_t(4) << 20;
std::atomic<int> g_handles{0};
struct LeakReport {
    ~LeakReport() {
        if (simblas::leaks_on()) std::fprintf(stderr, "[cudasim] exit: %s handles=%d\n", LIB, g_handles.load());
    }
} g_leak_report;

struct Handle {
    void* stream = nullptr;
    int pointer_mode = 0;  // CUBLAS_POINTER_MODE_HOST 0, DEVICE 1
    int math_mode = 0;
    bool user_workspace = false;  // cublasSetWorkspace since the last cublasSetStream
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    unsigned magic = 0xC0B1A5u;
};
bool valid(const Handle* h) { return h && h->magic == 0xC0B1A5u; }
bool op_ok(int op) { return op == 0 || op == 1 || op == 2; }  // N, T, C (C == T for real data)
bool is_t(int op) { return op != 0; }
bool tf32_on(const Handle* h) { return (h->math_mode & 15) == 3; }
#define CHECK_H(h) do { if (!valid(h)) return ST_NOT_INITIALIZED; } while (0)
#define DEV(fn, what, p, bytes) do { if (!simblas::dev_ok(LIB, fn, what, p, bytes)) return ST_EXECUTION_FAILED; } while (0)
// scalar argument in the handle's pointer mode (read at the call)
bool scalar(const Handle* h, const char* fn, const char* what, const float* p, float* out) {
    if (!p) return false;
    if (h->pointer_mode == 1 && !simblas::dev_ok(LIB, fn, what, p, 4)) return false;
    *out = *p;
    return true;
}
// Runs `work` on the handle's stream (see the file comment). level3: a call that uses the workspace.
template <class F>
int run(Handle* h, const char* fn, bool level3, std::initializer_list<const void*> refs, F work) {
    if (level3 && !h->user_workspace) simblas::graph_alloc(h->stream, h, GRAPH_WORKSPACE);
    const int rc = simblas::take(h->stream, refs, work);
    if (rc == -1) {
        simblas::complain(LIB, "%s: refused on a capturing stream whose capture is invalidated or set to fail", fn);
        return ST_NOT_SUPPORTED;
    }
    if (rc < 0) return ST_EXECUTION_FAILED;
    if (rc == 0) work();
    return ST_SUCCESS;
}
// C(m x n, ldc) = alpha * op(A) op(B) + beta * C for one matrix triple, in float
void gemm1(int ta, int tb, long m, long n, long k, float alpha, const float* A, long lda, const float* B, long ldb, float beta,
           float* C, long ldc, bool tf) {
    std::vector<float> a, bt;
    if (k > 0 && alpha != 0.0f) {
        a = simblas::pack_rows(A, lda, is_t(ta), m, k, tf);    // a[i * k + l] = op(A)(i, l)
        bt = simblas::pack_rows(B, ldb, !is_t(tb), n, k, tf);  // bt[j * k + l] = op(B)(l, j)
    }
    for (long j = 0; j < n; ++j) {
        float* c = C + j * ldc;
        for (long i = 0; i < m; ++i) {
            float acc = 0.0f;
            if (!a.empty()) {
                const float* ai = &a[size_t(i * k)];
                const float* bj = &bt[size_t(j * k)];
                for (long l = 0; l < k; ++l) acc += ai[l] * bj[l];
            }
            c[i] = alpha * acc + (beta == 0.0f ? 0.0f : beta * c[i]);
        }
    }
}
int gemm_args(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc) {
    if (!op_ok(ta) || !op_ok(tb) || m < 0 || n < 0 || k < 0) return ST_INVALID_VALUE;
    if (lda < std::max(1, is_t(ta) ? k : m) || ldb < std::max(1, is_t(tb) ? n : k) || ldc < std::max(1, m)) return ST_INVALID_VALUE;
    return ST_SUCCESS;
}
size_t a_bytes(int ta, int m, int k, int lda) { return is_t(ta) ? simblas::mat_bytes(k, m, lda) : simblas::mat_bytes(m, k, lda); }
// op(A) X = alpha B (left) or X op(A) = alpha B (right), B m x n overwritten by X, in float
void trsm1(int side, int uplo, int trans, int diag, long m, long n, float alpha, const float* A, long lda, float* B, long ldb) {
    const long k = side == 0 ? m : n;
    std::vector<float> T(size_t(k * k), 0.0f);
    for (long j = 0; j < k; ++j)
        for (long i = 0; i < k; ++i) {
            const bool in_tri = uplo == 0 ? i >= j : i <= j;
            if (in_tri) T[size_t(i + j * k)] = A[i + j * lda];
        }
    bool lower = uplo == 0;
    if (is_t(trans)) {  // T := T^T
        std::vector<float> U(T.size());
        for (long j = 0; j < k; ++j)
            for (long i = 0; i < k; ++i) U[size_t(j + i * k)] = T[size_t(i + j * k)];
        T.swap(U);
        lower = !lower;
    }
    const bool unit = diag == 1;
    std::vector<float> x(static_cast<size_t>(k));
    if (side == 0) {
        for (long j = 0; j < n; ++j) {
            for (long i = 0; i < m; ++i) x[size_t(i)] = alpha * B[i + j * ldb];
            simblas::solve_tri(T.data(), k, lower, unit, x.data());
            for (long i = 0; i < m; ++i) B[i + j * ldb] = x[size_t(i)];
        }
    } else {  // X T = alpha B  <=>  T^T X^T = alpha B^T, row by row
        std::vector<float> TT(T.size());
        for (long j = 0; j < k; ++j)
            for (long i = 0; i < k; ++i) TT[size_t(j + i * k)] = T[size_t(i + j * k)];
        for (long i = 0; i < m; ++i) {
            for (long j = 0; j < n; ++j) x[size_t(j)] = alpha * B[i + j * ldb];
            simblas::solve_tri(TT.data(), k, !lower, unit, x.data());
            for (long j = 0; j < n; ++j) B[i + j * ldb] = x[size_t(j)];
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
    if (simblas::injected("cublasCreate_v2")) return ST_NOT_INITIALIZED;
    *h = new Handle();
    g_handles++;
    simblas::trace(LIB, "cublasCreate_v2 -> %p", (void*)*h);
    return ST_SUCCESS;
}
API int cublasDestroy_v2(Handle* h) {
    CHECK_H(h);
    h->magic = 0;
    delete h;
    g_handles--;
    return ST_SUCCESS;
}
// Like the real cublasSetStream: also resets a user workspace to the default pool.
API int cublasSetStream_v2(Handle* h, void* s) {
    CHECK_H(h);
    if (simblas::injected("cublasSetStream_v2")) return ST_INTERNAL_ERROR;
    h->stream = s;
    h->user_workspace = false;
    h->workspace = nullptr;
    h->workspace_bytes = 0;
    return ST_SUCCESS;
}
API int cublasGetStream_v2(Handle* h, void** s) {
    CHECK_H(h);
    if (!s) return ST_INVALID_VALUE;
    *s = h->stream;
    return ST_SUCCESS;
}
// A user workspace (device memory, 256-byte aligned); 0 bytes: use none. Level-3 calls then allocate nothing
// inside a capture.
API int cublasSetWorkspace_v2(Handle* h, void* ws, size_t bytes) {
    static const char* fn = "cublasSetWorkspace_v2";
    CHECK_H(h);
    if (simblas::injected(fn)) return ST_INTERNAL_ERROR;
    if (bytes > 0) {
        if (!ws || (uintptr_t(ws) & 255u) != 0) return ST_INVALID_VALUE;
        DEV(fn, "workspace", ws, bytes);
    }
    h->user_workspace = true;
    h->workspace = ws;
    h->workspace_bytes = bytes;
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
    float al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    if (k > 0 && al != 0.0f) {
        DEV(fn, "A", A, a_bytes(ta, m, k, lda));
        DEV(fn, "B", B, a_bytes(tb, k, n, ldb));
    }
    DEV(fn, "C", C, simblas::mat_bytes(m, n, ldc));
    simblas::trace(LIB, "%s(ta=%d tb=%d m=%d n=%d k=%d alpha=%g lda=%d ldb=%d beta=%g ldc=%d)", fn, ta, tb, m, n, k, al, lda, ldb, be, ldc);
    const bool tf = tf32_on(h);
    return run(h, fn, true, {A, B, C}, [=] { gemm1(ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc, tf); });
}
API int cublasSgemmStridedBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                  long long strideA, const float* B, int ldb, long long strideB, const float* beta, float* C,
                                  int ldc, long long strideC, int batch) {
    static const char* fn = "cublasSgemmStridedBatched";
    CHECK_H(h);
    if (int s = gemm_args(ta, tb, m, n, k, lda, ldb, ldc)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    float al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    for (int b = 0; b < batch; ++b) {
        if (k > 0 && al != 0.0f) {
            DEV(fn, "A[batch]", A + b * strideA, a_bytes(ta, m, k, lda));
            DEV(fn, "B[batch]", B + b * strideB, a_bytes(tb, k, n, ldb));
        }
        DEV(fn, "C[batch]", C + b * strideC, simblas::mat_bytes(m, n, ldc));
    }
    const bool tf = tf32_on(h);
    return run(h, fn, true, {A, B, C}, [=] {
        for (int b = 0; b < batch; ++b)
            gemm1(ta, tb, m, n, k, al, A + b * strideA, lda, B + b * strideB, ldb, be, C + b * strideC, ldc, tf);
    });
}
API int cublasSgemmBatched(Handle* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* const A[], int lda,
                           const float* const B[], int ldb, const float* beta, float* const C[], int ldc, int batch) {
    static const char* fn = "cublasSgemmBatched";
    CHECK_H(h);
    if (int s = gemm_args(ta, tb, m, n, k, lda, ldb, ldc)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    float al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", A, size_t(batch) * sizeof(void*));
    DEV(fn, "Barray", B, size_t(batch) * sizeof(void*));
    DEV(fn, "Carray", C, size_t(batch) * sizeof(void*));
    const bool tf = tf32_on(h);
    // the pointer arrays are device memory, read when the work runs (as on a GPU): checked then
    return run(h, fn, true, {A, B, C}, [=] {
        for (int b = 0; b < batch; ++b) {
            if ((k > 0 && al != 0.0f && (!simblas::in_device(A[b], a_bytes(ta, m, k, lda)) ||
                                         !simblas::in_device(B[b], a_bytes(tb, k, n, ldb)))) ||
                !simblas::in_device(C[b], simblas::mat_bytes(m, n, ldc))) {
                simblas::fault(fn);
                return;
            }
            gemm1(ta, tb, m, n, k, al, A[b], lda, B[b], ldb, be, C[b], ldc, tf);
        }
    });
}
// C = alpha op(A) op(A)^T + beta C, only the uplo triangle of C (n x n) is referenced and written
API int cublasSsyrk_v2(Handle* h, int uplo, int trans, int n, int k, const float* alpha, const float* A, int lda, const float* beta,
                       float* C, int ldc) {
    static const char* fn = "cublasSsyrk_v2";
    CHECK_H(h);
    if ((uplo != 0 && uplo != 1) || !op_ok(trans) || n < 0 || k < 0) return ST_INVALID_VALUE;
    if (lda < std::max(1, is_t(trans) ? k : n) || ldc < std::max(1, n)) return ST_INVALID_VALUE;
    float al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (n == 0) return ST_SUCCESS;
    if (k > 0 && al != 0.0f) DEV(fn, "A", A, a_bytes(trans, n, k, lda));
    DEV(fn, "C", C, simblas::mat_bytes(n, n, ldc));
    return run(h, fn, true, {A, C}, [=] {
        std::vector<float> a;
        if (k > 0 && al != 0.0f) a = simblas::pack_rows(A, lda, is_t(trans), n, k, false);  // op(A): n x k, by rows
        for (long j = 0; j < n; ++j) {
            const long i0 = uplo == 0 ? j : 0, i1 = uplo == 0 ? n : j + 1;
            for (long i = i0; i < i1; ++i) {
                float s = 0.0f;
                if (!a.empty())
                    for (long l = 0; l < k; ++l) s += a[size_t(i * k + l)] * a[size_t(j * k + l)];
                float& c = C[i + j * ldc];
                c = al * s + (be == 0.0f ? 0.0f : be * c);
            }
        }
    });
}
// y = alpha op(A) x + beta y, A m x n
API int cublasSgemv_v2(Handle* h, int trans, int m, int n, const float* alpha, const float* A, int lda, const float* x, int incx,
                       const float* beta, float* y, int incy) {
    static const char* fn = "cublasSgemv_v2";
    CHECK_H(h);
    if (!op_ok(trans) || m < 0 || n < 0 || lda < std::max(1, m) || incx == 0 || incy == 0) return ST_INVALID_VALUE;
    float al, be;
    if (!scalar(h, fn, "alpha", alpha, &al) || !scalar(h, fn, "beta", beta, &be)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    const long lx = is_t(trans) ? m : n, ly = is_t(trans) ? n : m;
    DEV(fn, "A", A, simblas::mat_bytes(m, n, lda));
    DEV(fn, "x", x, simblas::vec_bytes(lx, incx));
    DEV(fn, "y", y, simblas::vec_bytes(ly, incy));
    const bool t = is_t(trans);
    return run(h, fn, false, {A, x, y}, [=] {
        std::vector<float> out(static_cast<size_t>(ly));
        for (long i = 0; i < ly; ++i) {
            float s = 0.0f;
            for (long l = 0; l < lx; ++l) s += (t ? A[l + i * lda] : A[i + l * lda]) * x[vidx(l, lx, incx)];
            out[size_t(i)] = s;
        }
        for (long i = 0; i < ly; ++i) {
            float& yi = y[vidx(i, ly, incy)];
            yi = al * out[size_t(i)] + (be == 0.0f ? 0.0f : be * yi);
        }
    });
}
API int cublasSaxpy_v2(Handle* h, int n, const float* alpha, const float* x, int incx, float* y, int incy) {
    static const char* fn = "cublasSaxpy_v2";
    CHECK_H(h);
    float al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (n <= 0) return ST_SUCCESS;
    if (incx == 0 || incy == 0) return ST_INVALID_VALUE;
    DEV(fn, "x", x, simblas::vec_bytes(n, incx));
    DEV(fn, "y", y, simblas::vec_bytes(n, incy));
    return run(h, fn, false, {x, y}, [=] {
        for (long i = 0; i < n; ++i) {
            float& yi = y[vidx(i, n, incy)];
            yi = al * x[vidx(i, n, incx)] + yi;
        }
    });
}
API int cublasSscal_v2(Handle* h, int n, const float* alpha, float* x, int incx) {
    static const char* fn = "cublasSscal_v2";
    CHECK_H(h);
    float al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (n <= 0 || incx <= 0) return ST_SUCCESS;  // reference BLAS quick return
    DEV(fn, "x", x, simblas::vec_bytes(n, incx));
    return run(h, fn, false, {x}, [=] {
        for (long i = 0; i < n; ++i) x[i * incx] = al * x[i * incx];
    });
}
// result in the handle's pointer mode (host: a host float, so the call waits for the stream; device: device memory)
API int cublasSdot_v2(Handle* h, int n, const float* x, int incx, const float* y, int incy, float* result) {
    static const char* fn = "cublasSdot_v2";
    CHECK_H(h);
    if (!result) return ST_INVALID_VALUE;
    if (h->pointer_mode == 1) DEV(fn, "result", result, 4);
    if (n > 0) {
        if (incx == 0 || incy == 0) return ST_INVALID_VALUE;
        DEV(fn, "x", x, simblas::vec_bytes(n, incx));
        DEV(fn, "y", y, simblas::vec_bytes(n, incy));
    }
    auto work = [=] {
        float s = 0.0f;
        for (long i = 0; i < n; ++i) s += x[vidx(i, n, incx)] * y[vidx(i, n, incy)];
        *result = s;
    };
    if (h->pointer_mode == 1) return run(h, fn, false, {x, y, result}, work);
    if (simblas::sync(h->stream)) return ST_EXECUTION_FAILED;
    work();
    return ST_SUCCESS;
}
API int cublasStrsm_v2(Handle* h, int side, int uplo, int trans, int diag, int m, int n, const float* alpha, const float* A, int lda,
                       float* B, int ldb) {
    static const char* fn = "cublasStrsm_v2";
    CHECK_H(h);
    if (int s = trsm_args(side, uplo, trans, diag, m, n, lda, ldb)) return s;
    float al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0) return ST_SUCCESS;
    const long k = side == 0 ? m : n;
    DEV(fn, "A", A, simblas::mat_bytes(k, k, lda));
    DEV(fn, "B", B, simblas::mat_bytes(m, n, ldb));
    return run(h, fn, true, {A, B}, [=] { trsm1(side, uplo, trans, diag, m, n, al, A, lda, B, ldb); });
}
API int cublasStrsmBatched(Handle* h, int side, int uplo, int trans, int diag, int m, int n, const float* alpha, const float* const A[],
                           int lda, float* const B[], int ldb, int batch) {
    static const char* fn = "cublasStrsmBatched";
    CHECK_H(h);
    if (int s = trsm_args(side, uplo, trans, diag, m, n, lda, ldb)) return s;
    if (batch < 0) return ST_INVALID_VALUE;
    float al;
    if (!scalar(h, fn, "alpha", alpha, &al)) return ST_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return ST_SUCCESS;
    DEV(fn, "Aarray", A, size_t(batch) * sizeof(void*));
    DEV(fn, "Barray", B, size_t(batch) * sizeof(void*));
    const long k = side == 0 ? m : n;
    // the pointer arrays are device memory, read when the work runs (as on a GPU): checked then
    return run(h, fn, true, {A, B}, [=] {
        for (int b = 0; b < batch; ++b) {
            if (!simblas::in_device(A[b], simblas::mat_bytes(k, k, lda)) || !simblas::in_device(B[b], simblas::mat_bytes(m, n, ldb))) {
                simblas::complain(LIB, "%s: Aarray[%d] = %p or Barray[%d] = %p is not a device matrix", fn, b, (void*)A[b], b,
                                  (void*)B[b]);
                simblas::fault(fn);
                return;
            }
            trsm1(side, uplo, trans, diag, m, n, al, A[b], lda, B[b], ldb);
        }
    });
}
