// blas_common.h - shared helpers of the stand-in cuBLAS / cuSOLVER (host memory, column-major, double accumulation).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <dlfcn.h>

#define API extern "C" __attribute__((visibility("default")))

namespace simblas {
inline bool trace_on() {
    static const bool on = [] { const char* v = std::getenv("CUDASIM_TRACE"); return v && *v && std::atoi(v) != 0; }();
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
// The stand-in libcuda.so.1 exports cudasim_device_range(p, n): is [p, p+n) inside one cuMemAlloc allocation?
// With it, every operand is checked like a device pointer (a host pointer or a leading dimension that reads past
// the allocation is reported instead of faulting). Without the simulator's driver no check is made.
using range_fn = int (*)(const void*, size_t);
inline range_fn device_range() {
    static const range_fn f = [] {
        void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
        return h ? reinterpret_cast<range_fn>(dlsym(h, "cudasim_device_range")) : nullptr;
    }();
    return f;
}
// Stream capture: while the handle's stream is capturing (simulator driver present), `work` is recorded as a graph
// node (replayed by cuGraphLaunch) instead of running now. Returns true when recorded.
using capture_fn = int (*)(void*, void (*)(void*), void*);
inline capture_fn capture_host() {
    static const capture_fn f = [] {
        void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
        return h ? reinterpret_cast<capture_fn>(dlsym(h, "cudasim_capture_host")) : nullptr;
    }();
    return f;
}
template <class F>
inline bool deferred(void* stream, F work) {
    capture_fn f = capture_host();
    if (!f || !stream) return false;
    struct Box { F w; };
    Box* b = new Box{work};
    if (f(stream, [](void* p) { static_cast<Box*>(p)->w(); }, b)) return true;
    delete b;
    return false;
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
inline bool dev_ok(const char* lib, const char* fn, const char* what, const void* p, size_t bytes) {
    if (bytes == 0) return true;
    range_fn f = device_range();
    if (!f) return p != nullptr;
    if (f(p, bytes)) return true;
    complain(lib, "%s: %s = %p (%zu bytes) is not inside one device allocation (host pointer? leading dimension or count too large?)",
             fn, what, p, bytes);
    return false;
}
// op(X) of a column-major matrix: element (i, j) of the rows x cols result
struct Mat {
    const float* p;
    long ld;
    bool trans;
    double operator()(long i, long j) const { return trans ? p[j + i * ld] : p[i + j * ld]; }
};
// packs op(X) (rows x cols) into a dense column-major double array
inline std::vector<double> pack(const float* p, long ld, bool trans, long rows, long cols) {
    std::vector<double> r(size_t(rows) * size_t(cols));
    for (long j = 0; j < cols; ++j)
        for (long i = 0; i < rows; ++i) r[size_t(i + j * rows)] = trans ? p[j + i * ld] : p[i + j * ld];
    return r;
}
// solves T x = b in place; T dense column-major k x k, lower or upper triangular (the other half is ignored)
inline void solve_tri(const double* T, long k, bool lower, bool unit, double* x) {
    if (lower) {
        for (long i = 0; i < k; ++i) {
            double s = x[i];
            for (long l = 0; l < i; ++l) s -= T[i + l * k] * x[l];
            x[i] = unit ? s : s / T[i + i * k];
        }
    } else {
        for (long i = k - 1; i >= 0; --i) {
            double s = x[i];
            for (long l = i + 1; l < k; ++l) s -= T[i + l * k] * x[l];
            x[i] = unit ? s : s / T[i + i * k];
        }
    }
}
}  // namespace simblas
