// cudasim.h - host (g++) emulation of the CUDA C++ device dialect used by the project's kernels.
//
// Build a kernels/*.cu file for the host with:
//   g++ -std=c++20 -O2 -fPIC -x c++ -include cudasim.h -c foo.cu
// (or include it from a generated TU, see gen_launchers.sh). Never compiled by nvcc.
//
// Execution model (see runtime.cpp):
//   * blocks of a grid are distributed over a few OS worker threads;
//   * the threads of one block run as cooperative fibers on ONE worker thread, switching only
//     at __syncthreads / __syncwarp / warp shuffles / votes; so a __shared__ variable is
//     "static thread_local" (one copy per worker == one per running block).
#pragma once
#if defined(__CUDACC__)
#error "cudasim.h is for the host build only; nvcc must not see it"
#endif

#include <cstdint>
#include <cstddef>
#include <cstring>
#include <cstdio>
#include <cassert>
#include <cmath>
#include <math.h>
#include <atomic>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#define CUDASIM 1

// ---- declaration specifiers ----------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
// __noinline__ is NOT emulated: libstdc++ 12 itself uses __attribute__((__noinline__)); avoid it in kernels.
#define __launch_bounds__(...)
#define __grid_constant__
#define __managed__
#define __constant__ __attribute__((visibility("default")))
#define __shared__ static thread_local
// Dynamic shared memory. Kernels must write  CUDASIM_DYNAMIC_SHARED(float, buf);  instead of
// extern __shared__ float buf[];   (the device side defines the macro as exactly that).
#define CUDASIM_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::cudasim::dynamic_shared())

// ---- built-in types and variables -------------------------------------------------------------------
struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }

// __thread (no C++ TLS wrapper/init call) + initial-exec (no __tls_get_addr): these are read constantly.
#ifndef CUDASIM_TLS
#define CUDASIM_TLS __thread
#endif
extern CUDASIM_TLS uint3 threadIdx;
extern CUDASIM_TLS uint3 blockIdx;
extern CUDASIM_TLS dim3 blockDim;
extern CUDASIM_TLS dim3 gridDim;
constexpr int warpSize = 32;

// ---- runtime hooks (runtime.cpp) --------------------------------------------------------------------
#include "cudasim_abi.h"  // struct cudasim_launch_cfg, shared with the stand-in libcuda.so.1
namespace cudasim {
using BodyFn = void (*)(void* ctx);
int run_grid(const cudasim_launch_cfg& cfg, BodyFn body, void* ctx, const char* kernel_name);  // -> CUresult
int run_grid(const cudasim_launch_cfg& cfg, BodyFn body, void* ctx);
void syncthreads();
int syncthreads_count(int pred);
void syncwarp(unsigned mask);
void* dynamic_shared();
int lane_id();
uint64_t warp_exchange(uint64_t mine, int src_lane);  // all live lanes of the warp must call it
unsigned warp_ballot(int pred);
unsigned active_mask();
[[noreturn]] void trap(const char* why);

template <class T>
inline T exchange(T v, int src) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type > 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    bits = warp_exchange(bits, src);
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}
}  // namespace cudasim

// ---- synchronization, warp intrinsics ---------------------------------------------------------------
inline void __syncthreads() { ::cudasim::syncthreads(); }
inline int __syncthreads_count(int p) { return ::cudasim::syncthreads_count(p); }
inline int __syncthreads_or(int p) { return ::cudasim::syncthreads_count(p) != 0; }
inline int __syncthreads_and(int p) { return ::cudasim::syncthreads_count(!p) == 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::cudasim::syncwarp(mask); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned __activemask() { return ::cudasim::active_mask(); }
[[noreturn]] inline void __trap() { ::cudasim::trap("__trap()"); }

template <class T>
inline T __shfl_sync(unsigned, T var, int srcLane, int width = warpSize) {
    const int lane = ::cudasim::lane_id();
    return ::cudasim::exchange(var, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}
template <class T>
inline T __shfl_down_sync(unsigned, T var, unsigned delta, int width = warpSize) {
    const int lane = ::cudasim::lane_id();
    const int seg = lane & (width - 1);
    return ::cudasim::exchange(var, (seg + (int)delta < width) ? lane + (int)delta : lane);
}
template <class T>
inline T __shfl_up_sync(unsigned, T var, unsigned delta, int width = warpSize) {
    const int lane = ::cudasim::lane_id();
    const int seg = lane & (width - 1);
    return ::cudasim::exchange(var, (seg >= (int)delta) ? lane - (int)delta : lane);
}
template <class T>
inline T __shfl_xor_sync(unsigned, T var, int laneMask, int width = warpSize) {
    const int lane = ::cudasim::lane_id();
    const int src = lane ^ laneMask;
    const int group_end = (lane | (width - 1)) + 1;
    return ::cudasim::exchange(var, src < group_end ? src : lane);
}
inline unsigned __ballot_sync(unsigned, int pred) { return ::cudasim::warp_ballot(pred); }
inline int __any_sync(unsigned, int pred) { return ::cudasim::warp_ballot(pred) != 0; }
inline int __all_sync(unsigned, int pred) { return ::cudasim::warp_ballot(!pred) == 0; }

// ---- atomics (device scope, relaxed, like CUDA's atomicXxx) ----------------------------------------
#define CUDASIM_ATOMIC_REF(T, p) std::atomic_ref<T>(*(p))
inline int atomicAdd(int* p, int v) { return CUDASIM_ATOMIC_REF(int, p).fetch_add(v, std::memory_order_relaxed); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return CUDASIM_ATOMIC_REF(unsigned, p).fetch_add(v, std::memory_order_relaxed); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return CUDASIM_ATOMIC_REF(unsigned long long, p).fetch_add(v, std::memory_order_relaxed);
}
inline float atomicAdd(float* p, float v) { return CUDASIM_ATOMIC_REF(float, p).fetch_add(v, std::memory_order_relaxed); }
inline double atomicAdd(double* p, double v) { return CUDASIM_ATOMIC_REF(double, p).fetch_add(v, std::memory_order_relaxed); }
inline int atomicSub(int* p, int v) { return CUDASIM_ATOMIC_REF(int, p).fetch_sub(v, std::memory_order_relaxed); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return CUDASIM_ATOMIC_REF(unsigned, p).fetch_sub(v, std::memory_order_relaxed); }
inline int atomicExch(int* p, int v) { return CUDASIM_ATOMIC_REF(int, p).exchange(v, std::memory_order_relaxed); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return CUDASIM_ATOMIC_REF(unsigned, p).exchange(v, std::memory_order_relaxed); }
inline float atomicExch(float* p, float v) { return CUDASIM_ATOMIC_REF(float, p).exchange(v, std::memory_order_relaxed); }
template <class T>
inline T cudasim_cas(T* p, T cmp, T val) {
    CUDASIM_ATOMIC_REF(T, p).compare_exchange_strong(cmp, val, std::memory_order_relaxed);
    return cmp;  // old value
}
inline int atomicCAS(int* p, int c, int v) { return cudasim_cas(p, c, v); }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return cudasim_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) { return cudasim_cas(p, c, v); }
template <class T>
inline T cudasim_fetch_minmax(T* p, T v, bool is_max) {
    auto r = CUDASIM_ATOMIC_REF(T, p);
    T old = r.load(std::memory_order_relaxed);
    while ((is_max ? v > old : v < old) && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {}
    return old;
}
inline int atomicMax(int* p, int v) { return cudasim_fetch_minmax(p, v, true); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return cudasim_fetch_minmax(p, v, true); }
inline int atomicMin(int* p, int v) { return cudasim_fetch_minmax(p, v, false); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return cudasim_fetch_minmax(p, v, false); }
inline int atomicAnd(int* p, int v) { return CUDASIM_ATOMIC_REF(int, p).fetch_and(v, std::memory_order_relaxed); }
inline int atomicOr(int* p, int v) { return CUDASIM_ATOMIC_REF(int, p).fetch_or(v, std::memory_order_relaxed); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return CUDASIM_ATOMIC_REF(unsigned, p).fetch_or(v, std::memory_order_relaxed); }

// ---- device math / bit intrinsics that glibc does not provide -----------------------------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T>
inline T __ldg(const T* p) { return *p; }

// ---- generic launcher: unpack cuLaunchKernel's void** kernelParams by the kernel's C signature ------
namespace cudasim {
template <class T>
using param_t = std::remove_cv_t<std::remove_reference_t<T>>;

template <class... Args, std::size_t... I>
int launch_impl(void (*f)(Args...), const char* name, const cudasim_launch_cfg& cfg, void** params,
                std::index_sequence<I...>) {
    using Tup = std::tuple<param_t<Args>...>;
    struct Ctx {
        void (*f)(Args...);
        Tup args;
    };
    auto load = [](void* p, auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        T v;
        std::memcpy(&v, p, sizeof(T));
        return v;
    };
    if (sizeof...(Args) > 0 && params == nullptr) return 1;  // CUDA_ERROR_INVALID_VALUE
    Ctx ctx{f, Tup{load(params[I], static_cast<param_t<Args>*>(nullptr))...}};
    return run_grid(cfg, [](void* p) { auto* c = static_cast<Ctx*>(p); std::apply(c->f, c->args); }, &ctx, name);
}
template <class... Args>
int launch(void (*f)(Args...), const char* name, const cudasim_launch_cfg& cfg, void** params) {
    return launch_impl(f, name, cfg, params, std::index_sequence_for<Args...>{});
}
// "4,4,8,8": parameter sizes, compared by the stand-in driver with the .param list of the PTX .entry
template <class... Args>
const char* signature(void (*)(Args...)) {
    static const std::string s = [] {
        std::string r;
        ((r += (r.empty() ? "" : ","), r += std::to_string(sizeof(param_t<Args>))), ...);
        return r;
    }();
    return s.c_str();
}
}  // namespace cudasim

// One line per kernel, generated from the PTX .entry list (gen_launchers.sh)
#define CUDASIM_KERNEL(name)                                                                              \
    extern "C" __attribute__((visibility("default"))) int sim_launch_##name(const cudasim_launch_cfg* c, \
                                                                            void** p) {                   \
        return ::cudasim::launch(&name, #name, *c, p);                                                         \
    }                                                                                                     \
    extern "C" __attribute__((visibility("default"))) const char* sim_sig_##name() {                     \
        return ::cudasim::signature(&name);                                                               \
    }
