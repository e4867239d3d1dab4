// blas_common.h - shared helpers of the stand-in cuBLAS / cuSOLVER (host memory, column-major, float32 arithmetic).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <vector>

#include <dlfcn.h>

#define API extern "C" __attribute__((visibility("default")))

namespace simblas {
inline bool trace_on() {
    static const bool on = [] { const char* v = std::getenv("CUDASIM_TRACE"); return v && *v && std::atoi(v) != 0; }();
    return on;
}
inline bool leaks_on() {
    static const bool on = [] { const char* v = std::getenv("CUDASIM_LEAKS"); return v && *v && std::atoi(v) != 0; }();
    return on;
}
inline void complain(const char* lib, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[cudasim] %s ERROR ", lib);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}
inline void trace(const char* lib, const char* fmt, ...) {
    if (!trace_on()) return;
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[cudasim] %s ", lib);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}
// A symbol of the stand-in libcuda.so.1 (already loaded), or null without the simulator's driver.
inline void* driver_sym(const char* name) {
    void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    return h ? dlsym(h, name) : nullptr;
}
// cudasim_device_range(p, n): is [p, p+n) inside one cuMemAlloc allocation? With it, every operand is checked like a
// device pointer (a host pointer or a leading dimension that reads past the allocation is reported instead of
// faulting). Without the simulator's driver no check is made.
using range_fn = int (*)(const void*, size_t);
inline range_fn device_range() {
    static const range_fn f = reinterpret_cast<range_fn>(driver_sym("cudasim_device_range"));
    return f;
}
using work_fn = int (*)(void*, void (*)(void*), void (*)(void*), void*, const void* const*, size_t);
using sync_fn = int (*)(void*);
using galloc_fn = void* (*)(void*, const void*, size_t);
using fail_fn = int (*)(const char*);
using fault_fn = void (*)(const char*);
// CUDASIM_FAIL: this call of `fn` fails on purpose.
inline bool injected(const char* fn) {
    static const fail_fn f = reinterpret_cast<fail_fn>(driver_sym("cudasim_fail"));
    return f && f(fn);
}
// While `stream` captures: a stream-ordered allocation kept with the graph (a memory node), one per key; else null.
inline void* graph_alloc(void* stream, const void* key, size_t bytes) {
    static const galloc_fn f = reinterpret_cast<galloc_fn>(driver_sym("cudasim_graph_alloc"));
    return f && stream ? f(stream, key, bytes) : nullptr;
}
// Waits for the work queued on `stream` (CUDASIM_STRICT_STREAMS), e.g. before a result goes to host memory.
inline int sync(void* stream) {
    static const sync_fn f = reinterpret_cast<sync_fn>(driver_sym("cudasim_stream_sync"));
    return f ? f(stream) : 0;
}
// Deferred work found a bad operand: the context faults (sticky CUDA_ERROR_ILLEGAL_ADDRESS).
inline void fault(const char* what) {
    static const fault_fn f = reinterpret_cast<fault_fn>(driver_sym("cudasim_fault"));
    if (f) f(what);
}
// Hands `work` to the driver for `stream`: 1 = taken (recorded into the stream's capture, replayed by cuGraphLaunch,
// or queued under CUDASIM_STRICT_STREAMS), 0 = the caller runs it now (the driver has run what it waits for),
// -1 = refused by the capture (invalidated; CUDASIM_FAIL_CAPTURE=library), -2 = waiting failed (sticky error).
// `refs` are the device pointers the work touches (the strict free check looks for them).
template <class F>
inline int take(void* stream, std::initializer_list<const void*> refs, F work) {
    static const work_fn f = reinterpret_cast<work_fn>(driver_sym("cudasim_stream_work"));
    if (!f) return 0;
    struct Box { F w; };
    Box* b = new Box{work};
    std::vector<const void*> r(refs);
    const int rc = f(stream, [](void* p) { static_cast<Box*>(p)->w(); }, [](void* p) { delete static_cast<Box*>(p); }, b,
                     r.data(), r.size());
    if (rc != 1) delete b;
    return rc;
}
// bytes spanned by a column-major rows x cols matrix with leading dimension ld
inline size_t mat_bytes(long rows, long cols, long ld, size_t elem = 4) {
    if (rows <= 0 || cols <= 0) return 0;
    return size_t((cols - 1) * ld + rows) * elem;
}
inline size_t vec_bytes(long n, long inc, size_t elem = 4) {
    if (n <= 0) return 0;
    return size_t(1 + (n - 1) * std::labs(inc)) * elem;
}
inline bool in_device(const void* p, size_t bytes) {
    if (bytes == 0) return true;
    range_fn f = device_range();
    if (!f) return p != nullptr;
    return f(p, bytes) != 0;
}
inline bool dev_ok(const char* lib, const char* fn, const char* what, const void* p, size_t bytes) {
    if (in_device(p, bytes)) return true;
    complain(lib, "%s: %s = %p (%zu bytes) is not inside one device allocation (host pointer? leading dimension or count too large?)",
             fn, what, p, bytes);
    return false;
}
// TF32 (CUBLAS_TF32_TENSOR_OP_MATH): the operand rounded to 10 explicit mantissa bits, to nearest even
inline float tf32(float x) {
    if (!std::isfinite(x)) return x;
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0xFFFu + ((u >> 13) & 1u);
    u &= ~0x1FFFu;
    std::memcpy(&x, &u, 4);
    return x;
}
// packs op(X) (rows x cols of a column-major matrix) row by row: r[i * cols + l] = op(X)(i, l)
inline std::vector<float> pack_rows(const float* p, long ld, bool trans, long rows, long cols, bool round_tf32) {
    std::vector<float> r(size_t(rows) * size_t(cols));
    for (long i = 0; i < rows; ++i)
        for (long l = 0; l < cols; ++l) {
            const float v = trans ? p[l + i * ld] : p[i + l * ld];
            r[size_t(i * cols + l)] = round_tf32 ? tf32(v) : v;
        }
    return r;
}
// solves T x = b in place in float; T dense column-major k x k, lower or upper triangular (the other half ignored)
inline void solve_tri(const float* T, long k, bool lower, bool unit, float* x) {
    if (lower) {
        for (long i = 0; i < k; ++i) {
            float s = x[i];
            for (long l = 0; l < i; ++l) s -= T[i + l * k] * x[l];
            x[i] = unit ? s : s / T[i + i * k];
        }
    } else {
        for (long i = k - 1; i >= 0; --i) {
            float s = x[i];
            for (long l = i + 1; l < k; ++l) s -= T[i + l * k] * x[l];
            x[i] = unit ? s : s / T[i + i * k];
        }
    }
}
}  // namespace simblas
