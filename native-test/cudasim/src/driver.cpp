// driver.cpp - stand-in libcuda.so.1 for tests on machines without a GPU ("cudasim").
//
// * Device memory is host memory: a CUdeviceptr holds a host address (aligned_alloc, 256-byte aligned).
// * cuModuleLoadData* take the PTX text, record every `.entry NAME(` with its .param sizes.
// * cuModuleGetFunction(NAME) binds to `sim_launch_NAME` of the host-compiled kernels library
//   (CUDASIM_KERNELS=path[:path...], else libkernels_sim.so next to this file, else by soname), after checking
//   that the host signature (`sim_sig_NAME`) has the same parameter sizes as the PTX .entry.
// * Launches, copies, memsets run synchronously on the calling thread; streams and events are bookkeeping;
//   events carry host timestamps, so cuEventElapsedTime measures simulated time.
// * Like the real driver: cuInit first, a current context per thread (CUDA_ERROR_INVALID_CONTEXT otherwise),
//   launch-configuration limits, sticky errors after a failed kernel (cleared by cuDevicePrimaryCtxReset).
// * Every other function JCuda's JNI library imports is exported by stubs.cpp (generated): it prints its name
//   once and returns CUDA_ERROR_NOT_SUPPORTED.
// * Stream capture (cuStreamBeginCapture_v2 .. cuStreamEndCapture) records kernel launches (parameter values
//   copied at capture time), async copies, memsets and event records on the capturing stream into a graph;
//   cuGraphInstantiateWithFlags + cuGraphLaunch replay them in capture order. Unsafe calls during a global
//   capture (synchronous copies, cuMemAlloc/Free, synchronizing) fail with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
//   and invalidate the capture, like the real driver.
// * cudasim_device_range(p, n) is exported for the stand-in cuBLAS/cuSOLVER to check their operands.
// Self-contained: no CUDA header, only g++ and glibc.  CUDASIM_TRACE=1 logs every call.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cudasim_abi.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
struct SimCtx;
struct SimModule;
struct SimFunc;
struct SimStream;
struct SimEvent;
struct SimGraph;
struct SimGraphExec;
typedef SimCtx* CUcontext;
typedef SimGraph* CUgraph;
typedef SimGraphExec* CUgraphExec;
typedef SimModule* CUmodule;
typedef SimFunc* CUfunction;
typedef SimStream* CUstream;
typedef SimEvent* CUevent;

#define API extern "C" __attribute__((visibility("default")))

enum : CUresult {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_ASSERT = 710,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_UNKNOWN = 999,
};

namespace {
bool env_flag(const char* n, bool d) {
    const char* v = std::getenv(n);
    return (v && *v) ? std::atoi(v) != 0 : d;
}
long long env_ll(const char* n, long long d) {
    const char* v = std::getenv(n);
    return (v && *v) ? std::atoll(v) : d;
}
const bool g_trace = env_flag("CUDASIM_TRACE", false);
const bool g_poison = env_flag("CUDASIM_POISON", true);   // fresh allocations are 0xFF (NaN) bytes
const bool g_sticky = env_flag("CUDASIM_STICKY_ERRORS", true);
// Each allocation ends exactly at a PROT_NONE page, so a kernel writing/reading past the end faults at once
// (the JVM dies with an hs_err naming the kernel) instead of corrupting the heap. The start is aligned to
// the largest power of two dividing the size (max 256), i.e. at least the element size.
const bool g_guard = env_flag("CUDASIM_GUARD", true);
const size_t g_total_mem = size_t(env_ll("CUDASIM_TOTAL_MEM_MB", 16384)) << 20;
const int g_sm_count = int(env_ll("CUDASIM_SM_COUNT", 8));

void trace(const char* fmt, ...) {
    if (!g_trace) return;
    va_list ap;
    va_start(ap, fmt);
    std::fputs("[cudasim] ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}
void complain(const char* fmt, ...) {  // always printed: Java only sees the numeric error code
    va_list ap;
    va_start(ap, fmt);
    std::fputs("[cudasim] ERROR ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}
}  // namespace

struct SimCtx {
    CUdevice dev = 0;
    unsigned flags = 0;
    bool primary = false;
};
struct SimFunc {
    std::string name;
    cudasim_launch_fn launch = nullptr;
    const char* (*last_error)() = nullptr;  // cudasim_last_error of the library that holds the kernel
    size_t nparams = 0;
    std::vector<int> psizes;  // from the PTX .entry
    int max_dyn_smem = 48 * 1024;
};
struct SimModule {
    std::map<std::string, std::vector<int>> entries;  // .entry name -> .param sizes in bytes
    std::map<std::string, std::unique_ptr<SimFunc>> funcs;
};
struct SimEvent {
    std::chrono::steady_clock::time_point t{};
    bool recorded = false;
};
// One recorded operation of a captured stream.
struct SimNode {
    enum Kind { KERNEL, COPY, SET8, SET32, EVENT, HOST } kind = KERNEL;
    SimFunc* f = nullptr;
    cudasim_launch_cfg cfg{};
    std::vector<std::vector<unsigned char>> args;  // kernel parameter values, copied at capture time
    void* dst = nullptr;
    const void* src = nullptr;
    size_t n = 0;
    unsigned value = 0;
    SimEvent* ev = nullptr;
    void (*host_fn)(void*) = nullptr;  // HOST: library work recorded by the stand-in cuBLAS/cuSOLVER
    void* host_ctx = nullptr;
};
struct SimGraph {
    std::vector<SimNode> nodes;
};
struct SimGraphExec {
    std::vector<SimNode> nodes;
};
struct SimStream {
    unsigned flags = 0;
    SimGraph* capture = nullptr;   // non-null while capturing
    int capture_mode = 0;          // CU_STREAM_CAPTURE_MODE_GLOBAL 0, THREAD_LOCAL 1, RELAXED 2
    bool invalidated = false;
    std::thread::id capture_thread;
};

namespace {
std::mutex g_m;
bool g_init = false;
SimCtx g_primary{0, 0, true};
int g_primary_refs = 0;
thread_local CUcontext tl_ctx = nullptr;
thread_local std::vector<CUcontext> tl_ctx_stack;
std::map<uintptr_t, size_t> g_allocs;  // base -> size
std::map<uintptr_t, std::pair<void*, size_t>> g_maps;  // base -> mmap region (guard mode)
size_t g_allocated = 0;
std::atomic<CUresult> g_sticky_error{CUDA_SUCCESS};
std::vector<void*> g_kernel_libs;
bool g_libs_loaded = false;

#define REQUIRE_INIT() \
    do {               \
        if (!g_init) return CUDA_ERROR_NOT_INITIALIZED; \
    } while (0)
#define REQUIRE_CTX()                                                   \
    do {                                                                \
        if (!g_init) return CUDA_ERROR_NOT_INITIALIZED;                 \
        if (!tl_ctx) return CUDA_ERROR_INVALID_CONTEXT;                 \
        if (CUresult s_ = g_sticky_error.load()) return s_;             \
    } while (0)

void* sim_alloc(size_t bytes, void** map_base, size_t* map_len) {
    if (!g_guard) return std::aligned_alloc(256, (bytes + 255) & ~size_t(255));
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t len = ((bytes + page - 1) / page + 1) * page;
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    char* guard = static_cast<char*>(m) + len - page;
    mprotect(guard, page, PROT_NONE);
    size_t align = bytes & (~bytes + 1);  // lowest set bit
    if (align > 256) align = 256;
    *map_base = m;
    *map_len = len;
    return reinterpret_cast<void*>((uintptr_t(guard) - bytes) & ~uintptr_t(align - 1));
}
void sim_free(uintptr_t p) {  // g_m held
    auto m = g_maps.find(p);
    if (m != g_maps.end()) {
        munmap(m->second.first, m->second.second);
        g_maps.erase(m);
    } else {
        std::free(reinterpret_cast<void*>(p));
    }
}
// [p, p+n) inside one live allocation?
bool in_device_range(CUdeviceptr p, size_t n) {
    std::lock_guard<std::mutex> g(g_m);
    auto it = g_allocs.upper_bound(uintptr_t(p));
    if (it == g_allocs.begin()) return false;
    --it;
    return uintptr_t(p) >= it->first && uintptr_t(p) + n <= it->first + it->second;
}
CUresult check_dev(const char* fn, CUdeviceptr p, size_t n) {
    if (n == 0 || in_device_range(p, n)) return CUDA_SUCCESS;
    complain("%s: device range [0x%llx, +%zu) is not inside one cuMemAlloc allocation", fn, p, n);
    return CUDA_ERROR_INVALID_VALUE;
}

std::string dirname_of_self() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&dirname_of_self), &info) && info.dli_fname) {
        std::string s = info.dli_fname;
        auto pos = s.rfind('/');
        if (pos != std::string::npos) return s.substr(0, pos);
    }
    return ".";
}
void load_kernel_libs() {  // g_m held
    if (g_libs_loaded) return;
    g_libs_loaded = true;
    std::vector<std::string> paths;
    if (const char* env = std::getenv("CUDASIM_KERNELS"); env && *env) {
        std::stringstream ss(env);
        std::string p;
        while (std::getline(ss, p, ':'))
            if (!p.empty()) paths.push_back(p);
    } else {  // the project's kernels and the simulator's self-test kernels, next to this library
        const std::string dir = dirname_of_self();
        for (const char* n : {"/libkernels_sim.so", "/libtestkernels_sim.so"})
            if (access((dir + n).c_str(), R_OK) == 0) paths.push_back(dir + n);
        if (paths.empty()) paths.push_back("libkernels_sim.so");
    }
    for (const auto& p : paths) {
        void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (h) {
            g_kernel_libs.push_back(h);
            auto engine = reinterpret_cast<const char* (*)()>(dlsym(h, "cudasim_engine"));
            trace("kernels library %s (engine %s)", p.c_str(), engine ? engine() : "?");
        } else {
            complain("cannot load kernels library %s: %s", p.c_str(), dlerror());
        }
    }
    if (g_kernel_libs.empty()) complain("no host kernels library found (set CUDASIM_KERNELS=/path/libkernels_sim.so)");
}
void* kernel_sym(const std::string& sym, void** lib = nullptr) {
    for (void* h : g_kernel_libs)
        if (void* s = dlsym(h, sym.c_str())) {
            if (lib) *lib = h;
            return s;
        }
    return nullptr;
}

// size in bytes of a PTX .param line, -1 if it is not one
int ptx_param_size(const std::string& line) {
    std::istringstream ss(line);
    std::string tok, last;
    int bits = 0;
    bool is_param = false;
    while (ss >> tok) {
        if (tok == ".param") is_param = true;
        if (!bits && tok.size() >= 3 && tok[0] == '.' && std::strchr("usbf", tok[1])) {
            int b = std::atoi(tok.c_str() + 2);
            if (b == 8 || b == 16 || b == 32 || b == 64) bits = b;
        }
        last = tok;
    }
    if (!is_param || !bits) return -1;
    int count = 1;
    if (auto lb = last.find('['); lb != std::string::npos) count = std::atoi(last.c_str() + lb + 1);
    return bits / 8 * count;
}
// Collect `.entry NAME(` and their params. Returns false if the text is not PTX.
bool parse_ptx(const char* text, SimModule& m) {
    if (!text) return false;
    std::istringstream in(text);
    std::string line;
    bool seen_target = false;
    std::string cur;
    bool in_params = false;
    while (std::getline(in, line)) {
        if (line.find(".target") != std::string::npos) seen_target = true;
        if (in_params) {
            if (line.find(')') != std::string::npos && line.find(".param") == std::string::npos) {
                in_params = false;
                continue;
            }
            int sz = ptx_param_size(line);
            if (sz > 0) m.entries[cur].push_back(sz);
            if (line.find(')') != std::string::npos) in_params = false;
            continue;
        }
        auto e = line.find(".entry");
        if (e == std::string::npos) continue;
        size_t s = e + 6;
        while (s < line.size() && (line[s] == ' ' || line[s] == '\t')) ++s;
        size_t t = s;
        while (t < line.size() && (std::isalnum((unsigned char)line[t]) || line[t] == '_' || line[t] == '$')) ++t;
        if (t == s) continue;
        cur = line.substr(s, t - s);
        m.entries[cur];
        in_params = line.find('(', t) != std::string::npos && line.find(')', t) == std::string::npos;
    }
    return seen_target;
}
std::string join(const std::vector<int>& v) {
    std::string r;
    for (int x : v) r += (r.empty() ? "" : ",") + std::to_string(x);
    return r;
}

CUresult load_module(CUmodule* out, const void* image, const char* via) {
    REQUIRE_CTX();
    if (!out || !image) return CUDA_ERROR_INVALID_VALUE;
    const unsigned char* b = static_cast<const unsigned char*>(image);
    if (b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') {
        complain("%s: a cubin was passed; the simulator needs PTX text", via);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (b[0] == 0x50 && b[1] == 0xed && b[2] == 0x55 && b[3] == 0xba) {
        complain("%s: a fatbinary was passed; the simulator needs PTX text", via);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    auto m = std::make_unique<SimModule>();
    if (!parse_ptx(static_cast<const char*>(image), *m)) {
        complain("%s: image is not PTX text (no .target)", via);
        return CUDA_ERROR_INVALID_PTX;
    }
    {
        std::lock_guard<std::mutex> g(g_m);
        load_kernel_libs();
    }
    trace("%s -> module with %zu entries", via, m->entries.size());
    *out = m.release();
    return CUDA_SUCCESS;
}

// ---- stream capture bookkeeping
std::mutex g_cap_m;
std::set<SimStream*> g_capturing;
// A call that is not allowed while a stream captures in global mode (or thread-local mode on this thread):
// the real driver fails it and invalidates the capture.
CUresult capture_unsafe(const char* fn, CUresult code = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) {
    std::lock_guard<std::mutex> g(g_cap_m);
    bool hit = false;
    for (SimStream* s : g_capturing)
        if (s->capture_mode == 0 || (s->capture_mode == 1 && s->capture_thread == std::this_thread::get_id())) {
            s->invalidated = true;
            hit = true;
        }
    if (!hit) return CUDA_SUCCESS;
    complain("%s during stream capture: not allowed, the capture is invalidated", fn);
    return code;
}
// Non-null: the op on stream s must be recorded into this graph instead of executed.
SimGraph* capturing(CUstream s) {
    if (!s) return nullptr;
    std::lock_guard<std::mutex> g(g_cap_m);
    return s->capture;
}
CUresult stream_op_check(const char* fn, CUstream s) {  // an async op on s, outside capture of s
    if (s) return CUDA_SUCCESS;
    return capture_unsafe(fn, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);  // legacy stream vs. a global capture
}

CUresult memcpy_checked(const char* fn, void* dst, const void* src, size_t n, bool dst_dev, bool src_dev) {
    REQUIRE_CTX();
    if (dst_dev)
        if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(dst)), n)) return r;
    if (src_dev)
        if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(src)), n)) return r;
    if (n && (!dst || !src)) return CUDA_ERROR_INVALID_VALUE;
    trace("%s(dst=%p, src=%p, %zu bytes)", fn, dst, src, n);
    if (n) std::memmove(dst, src, n);
    return CUDA_SUCCESS;
}
template <class T>
CUresult memset_checked(const char* fn, CUdeviceptr dst, T value, size_t count) {
    REQUIRE_CTX();
    if (CUresult r = check_dev(fn, dst, count * sizeof(T))) return r;
    T* p = reinterpret_cast<T*>(uintptr_t(dst));
    std::fill(p, p + count, value);
    trace("%s(0x%llx, %zu elements)", fn, dst, count);
    return CUDA_SUCCESS;
}
}  // namespace

// ---------------------------------------------------------------- init, version, device
API CUresult cuInit(unsigned flags) {
    trace("cuInit(%u)", flags);
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    g_init = true;
    return CUDA_SUCCESS;
}
API CUresult cuDriverGetVersion(int* v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = int(env_ll("CUDASIM_DRIVER_VERSION", 13000));
    return CUDA_SUCCESS;
}
API CUresult cuDeviceGetCount(int* n) {
    REQUIRE_INIT();
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *n = 1;
    return CUDA_SUCCESS;
}
API CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    REQUIRE_INIT();
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}
API CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
    REQUIRE_INIT();
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, size_t(len), "cudasim CPU simulator");
    return CUDA_SUCCESS;
}
API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
    REQUIRE_INIT();
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = g_total_mem;
    return CUDA_SUCCESS;
}
API CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice d) {
    REQUIRE_INIT();
    if (!major || !minor) return CUDA_ERROR_INVALID_VALUE;
    *major = 9;
    *minor = 0;
    return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}
API CUresult cuDeviceGetAttribute(int* v, int attrib, CUdevice d) {
    REQUIRE_INIT();
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attrib) {  // values of an sm_90-like device; unknown attributes read as 0
        case 1: *v = 1024; break;              // MAX_THREADS_PER_BLOCK
        case 2: case 3: *v = 1024; break;      // MAX_BLOCK_DIM_X/Y
        case 4: *v = 64; break;                // MAX_BLOCK_DIM_Z
        case 5: *v = 2147483647; break;        // MAX_GRID_DIM_X
        case 6: case 7: *v = 65535; break;     // MAX_GRID_DIM_Y/Z
        case 8: *v = 48 * 1024; break;         // MAX_SHARED_MEMORY_PER_BLOCK
        case 9: *v = 64 * 1024; break;         // TOTAL_CONSTANT_MEMORY
        case 10: *v = 32; break;               // WARP_SIZE
        case 12: case 82: *v = 65536; break;   // MAX_REGISTERS_PER_BLOCK / _PER_MULTIPROCESSOR
        case 13: *v = 1000000; break;          // CLOCK_RATE kHz
        case 16: *v = g_sm_count; break;       // MULTIPROCESSOR_COUNT
        case 19: case 41: case 83: *v = 1; break;  // CAN_MAP_HOST_MEMORY, UNIFIED_ADDRESSING, MANAGED_MEMORY
        case 31: *v = 1; break;                // CONCURRENT_KERNELS
        case 39: *v = 2048; break;             // MAX_THREADS_PER_MULTIPROCESSOR
        case 75: *v = 9; break;                // COMPUTE_CAPABILITY_MAJOR
        case 76: *v = 0; break;                // COMPUTE_CAPABILITY_MINOR
        case 81: *v = 228 * 1024; break;       // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
        case 97: *v = 227 * 1024; break;       // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
        case 106: *v = 32; break;              // MAX_BLOCKS_PER_MULTIPROCESSOR
        default: *v = 0;
    }
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- contexts
API CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
    REQUIRE_INIT();
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(g_m);
    g_primary_refs++;
    *c = &g_primary;
    trace("cuDevicePrimaryCtxRetain -> %p (refs %d)", (void*)*c, g_primary_refs);
    return CUDA_SUCCESS;
}
API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    REQUIRE_INIT();
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(g_m);
    if (g_primary_refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
    g_primary_refs--;
    return CUDA_SUCCESS;
}
API CUresult cuDevicePrimaryCtxGetState(CUdevice d, unsigned* flags, int* active) {
    REQUIRE_INIT();
    if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_m);
    *flags = g_primary.flags;
    *active = g_primary_refs > 0;
    return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}
API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice d, unsigned flags) {
    REQUIRE_INIT();
    g_primary.flags = flags;
    return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}
API CUresult cuDevicePrimaryCtxReset_v2(CUdevice d) {
    REQUIRE_INIT();
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> g(g_m);
    for (auto& a : g_allocs) sim_free(a.first);  // the real reset frees everything too
    g_allocs.clear();
    g_allocated = 0;
    g_sticky_error = CUDA_SUCCESS;
    trace("cuDevicePrimaryCtxReset: allocations freed, sticky error cleared");
    return CUDA_SUCCESS;
}
API CUresult cuCtxCreate_v2(CUcontext* c, unsigned flags, CUdevice d) {
    REQUIRE_INIT();
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    *c = new SimCtx{d, flags, false};
    tl_ctx = *c;
    return CUDA_SUCCESS;
}
API CUresult cuCtxDestroy_v2(CUcontext c) {
    REQUIRE_INIT();
    if (!c || c->primary) return CUDA_ERROR_INVALID_CONTEXT;
    if (tl_ctx == c) tl_ctx = nullptr;
    delete c;
    return CUDA_SUCCESS;
}
API CUresult cuCtxSetCurrent(CUcontext c) {
    REQUIRE_INIT();
    tl_ctx = c;
    trace("cuCtxSetCurrent(%p) on thread %zu", (void*)c, std::hash<std::thread::id>()(std::this_thread::get_id()) % 100000);
    return CUDA_SUCCESS;
}
API CUresult cuCtxGetCurrent(CUcontext* c) {
    REQUIRE_INIT();
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    *c = tl_ctx;
    return CUDA_SUCCESS;
}
API CUresult cuCtxPushCurrent_v2(CUcontext c) {
    REQUIRE_INIT();
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    tl_ctx_stack.push_back(tl_ctx);
    tl_ctx = c;
    return CUDA_SUCCESS;
}
API CUresult cuCtxPopCurrent_v2(CUcontext* c) {
    REQUIRE_INIT();
    if (!tl_ctx) return CUDA_ERROR_INVALID_CONTEXT;
    if (c) *c = tl_ctx;
    tl_ctx = tl_ctx_stack.empty() ? nullptr : tl_ctx_stack.back();
    if (!tl_ctx_stack.empty()) tl_ctx_stack.pop_back();
    return CUDA_SUCCESS;
}
API CUresult cuCtxGetDevice(CUdevice* d) {
    REQUIRE_CTX();
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    *d = tl_ctx->dev;
    return CUDA_SUCCESS;
}
API CUresult cuCtxGetFlags(unsigned* f) {
    REQUIRE_CTX();
    if (!f) return CUDA_ERROR_INVALID_VALUE;
    *f = tl_ctx->flags;
    return CUDA_SUCCESS;
}
API CUresult cuCtxSynchronize() {
    REQUIRE_CTX();
    return capture_unsafe("cuCtxSynchronize");
}
API CUresult cuCtxSetLimit(int, size_t) { REQUIRE_CTX(); return CUDA_SUCCESS; }
API CUresult cuCtxGetLimit(size_t* v, int limit) {
    REQUIRE_CTX();
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = limit == 0 ? 1024 : 0;  // STACK_SIZE
    return CUDA_SUCCESS;
}
API CUresult cuCtxSetCacheConfig(int) { REQUIRE_CTX(); return CUDA_SUCCESS; }

// ---------------------------------------------------------------- memory
API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
    REQUIRE_CTX();
    if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = capture_unsafe("cuMemAlloc")) return r;
    const size_t rounded = (bytes + 255) & ~size_t(255);
    {
        std::lock_guard<std::mutex> g(g_m);
        if (g_allocated + rounded > g_total_mem) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void* mbase = nullptr;
    size_t mlen = 0;
    void* p = sim_alloc(bytes, &mbase, &mlen);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    if (g_poison) std::memset(p, 0xff, bytes);
    std::lock_guard<std::mutex> g(g_m);
    g_allocs[uintptr_t(p)] = bytes;
    if (mbase) g_maps[uintptr_t(p)] = {mbase, mlen};
    g_allocated += rounded;
    *dptr = CUdeviceptr(uintptr_t(p));
    trace("cuMemAlloc_v2(%zu) -> 0x%llx", bytes, *dptr);
    return CUDA_SUCCESS;
}
API CUresult cuMemFree_v2(CUdeviceptr p) {
    REQUIRE_CTX();
    if (CUresult r = capture_unsafe("cuMemFree")) return r;
    std::lock_guard<std::mutex> g(g_m);
    auto it = g_allocs.find(uintptr_t(p));
    if (it == g_allocs.end()) {
        complain("cuMemFree_v2(0x%llx): not an allocation (double free?)", p);
        return CUDA_ERROR_INVALID_VALUE;
    }
    g_allocated -= (it->second + 255) & ~size_t(255);
    g_allocs.erase(it);
    sim_free(uintptr_t(p));
    trace("cuMemFree_v2(0x%llx)", p);
    return CUDA_SUCCESS;
}
API CUresult cuMemGetInfo_v2(size_t* free_b, size_t* total_b) {
    REQUIRE_CTX();
    if (!free_b || !total_b) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_m);
    *total_b = g_total_mem;
    *free_b = g_total_mem - g_allocated;
    return CUDA_SUCCESS;
}
API CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr p) {
    REQUIRE_CTX();
    std::lock_guard<std::mutex> g(g_m);
    auto it = g_allocs.upper_bound(uintptr_t(p));
    if (it == g_allocs.begin()) return CUDA_ERROR_NOT_FOUND;
    --it;
    if (uintptr_t(p) >= it->first + it->second) return CUDA_ERROR_NOT_FOUND;
    if (base) *base = it->first;
    if (size) *size = it->second;
    return CUDA_SUCCESS;
}
API CUresult cuMemAllocHost_v2(void** pp, size_t bytes) {
    REQUIRE_CTX();
    if (!pp) return CUDA_ERROR_INVALID_VALUE;
    *pp = std::aligned_alloc(256, (bytes + 255) & ~size_t(255));
    return *pp ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}
API CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned) { return cuMemAllocHost_v2(pp, bytes); }
API CUresult cuMemFreeHost(void* p) {
    REQUIRE_CTX();
    std::free(p);
    return CUDA_SUCCESS;
}
namespace {
CUresult copy_op(const char* fn, void* dst, const void* src, size_t n, bool dst_dev, bool src_dev, bool async, CUstream s) {
    REQUIRE_CTX();
    if (async) {
        if (SimGraph* gr = capturing(s)) {
            if (dst_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(dst)), n)) return r;
            if (src_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(src)), n)) return r;
            SimNode nd;
            nd.kind = SimNode::COPY;
            nd.dst = dst;
            nd.src = src;
            nd.n = n;
            gr->nodes.push_back(std::move(nd));
            trace("%s captured", fn);
            return CUDA_SUCCESS;
        }
        if (CUresult r = stream_op_check(fn, s)) return r;
    } else if (CUresult r = capture_unsafe(fn)) {
        return r;
    }
    return memcpy_checked(fn, dst, src, n, dst_dev, src_dev);
}
template <class T>
CUresult set_op(const char* fn, CUdeviceptr d, T v, size_t count, bool async, CUstream s) {
    REQUIRE_CTX();
    if (async) {
        if (SimGraph* gr = capturing(s)) {
            if (CUresult r = check_dev(fn, d, count * sizeof(T))) return r;
            SimNode nd;
            nd.kind = sizeof(T) == 1 ? SimNode::SET8 : SimNode::SET32;
            nd.dst = reinterpret_cast<void*>(uintptr_t(d));
            nd.n = count;
            nd.value = unsigned(v);
            gr->nodes.push_back(std::move(nd));
            return CUDA_SUCCESS;
        }
        if (CUresult r = stream_op_check(fn, s)) return r;
    } else if (CUresult r = capture_unsafe(fn)) {
        return r;
    }
    return memset_checked(fn, d, v, count);
}
void* vp(CUdeviceptr p) { return reinterpret_cast<void*>(uintptr_t(p)); }
}  // namespace
API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    return copy_op("cuMemcpyHtoD_v2", vp(dst), src, n, true, false, false, nullptr);
}
API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    return copy_op("cuMemcpyDtoH_v2", dst, vp(src), n, false, true, false, nullptr);
}
API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    return copy_op("cuMemcpyDtoD_v2", vp(dst), vp(src), n, true, true, false, nullptr);
}
API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
    return copy_op("cuMemcpyHtoDAsync_v2", vp(dst), src, n, true, false, true, s);
}
API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy_op("cuMemcpyDtoHAsync_v2", dst, vp(src), n, false, true, true, s);
}
API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy_op("cuMemcpyDtoDAsync_v2", vp(dst), vp(src), n, true, true, true, s);
}
API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {  // unified addressing: any pointers
    return copy_op("cuMemcpy", vp(dst), vp(src), n, false, false, false, nullptr);
}
API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    return copy_op("cuMemcpyAsync", vp(dst), vp(src), n, false, false, true, s);
}
API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return set_op("cuMemsetD8_v2", d, v, n, false, nullptr); }
API CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) { return set_op("cuMemsetD16_v2", d, v, n, false, nullptr); }
API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) { return set_op("cuMemsetD32_v2", d, v, n, false, nullptr); }
API CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) { return set_op("cuMemsetD8Async", d, v, n, true, s); }
API CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, CUstream s) { return set_op("cuMemsetD32Async", d, v, n, true, s); }

// ---------------------------------------------------------------- streams, events
API CUresult cuStreamCreate(CUstream* s, unsigned flags) {
    REQUIRE_CTX();
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    *s = new SimStream{flags};
    return CUDA_SUCCESS;
}
API CUresult cuStreamCreateWithPriority(CUstream* s, unsigned flags, int) { return cuStreamCreate(s, flags); }
API CUresult cuStreamDestroy_v2(CUstream s) {
    REQUIRE_CTX();
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    {
        std::lock_guard<std::mutex> g(g_cap_m);
        g_capturing.erase(s);
        delete s->capture;
    }
    delete s;
    return CUDA_SUCCESS;
}
API CUresult cuStreamSynchronize(CUstream s) {
    REQUIRE_CTX();
    if (s) {
        std::lock_guard<std::mutex> g(g_cap_m);
        if (s->capture) {
            s->invalidated = true;
            complain("cuStreamSynchronize on a capturing stream: not allowed, the capture is invalidated");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    return capture_unsafe("cuStreamSynchronize(legacy stream)");
}
API CUresult cuStreamQuery(CUstream s) {
    REQUIRE_CTX();
    if (s) {
        std::lock_guard<std::mutex> g(g_cap_m);
        if (s->capture) {
            s->invalidated = true;
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    return CUDA_SUCCESS;
}
// mode: CU_STREAM_CAPTURE_MODE_GLOBAL 0, THREAD_LOCAL 1, RELAXED 2
API CUresult cuStreamBeginCapture_v2(CUstream s, int mode) {
    REQUIRE_CTX();
    if (!s) {
        complain("cuStreamBeginCapture on the legacy NULL stream is not allowed");
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (mode < 0 || mode > 2) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_cap_m);
    if (s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    s->capture = new SimGraph();
    s->capture_mode = mode;
    s->invalidated = false;
    s->capture_thread = std::this_thread::get_id();
    g_capturing.insert(s);
    trace("cuStreamBeginCapture(%p, mode %d)", (void*)s, mode);
    return CUDA_SUCCESS;
}
API CUresult cuStreamEndCapture(CUstream s, CUgraph* out) {
    REQUIRE_CTX();
    if (!s || !out) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_cap_m);
    if (!s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    SimGraph* gr = s->capture;
    s->capture = nullptr;
    g_capturing.erase(s);
    if (s->invalidated) {
        delete gr;
        *out = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    trace("cuStreamEndCapture(%p) -> graph with %zu nodes", (void*)s, gr->nodes.size());
    *out = gr;
    return CUDA_SUCCESS;
}
// status: CU_STREAM_CAPTURE_STATUS_NONE 0, ACTIVE 1, INVALIDATED 2
API CUresult cuStreamIsCapturing(CUstream s, int* status) {
    REQUIRE_CTX();
    if (!status) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> g(g_cap_m);
    if (!s) {
        *status = 0;
        for (SimStream* c : g_capturing)
            if (c->capture_mode == 0) *status = c->invalidated ? 2 : 1;
        return CUDA_SUCCESS;
    }
    *status = s->capture ? (s->invalidated ? 2 : 1) : 0;
    return CUDA_SUCCESS;
}
API CUresult cuStreamWaitEvent(CUstream, CUevent, unsigned) { REQUIRE_CTX(); return CUDA_SUCCESS; }
API CUresult cuEventCreate(CUevent* e, unsigned) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_VALUE;
    *e = new SimEvent();
    return CUDA_SUCCESS;
}
API CUresult cuEventDestroy_v2(CUevent e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    delete e;
    return CUDA_SUCCESS;
}
API CUresult cuEventRecord(CUevent e, CUstream s) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    if (SimGraph* gr = capturing(s)) {
        SimNode nd;
        nd.kind = SimNode::EVENT;
        nd.ev = e;
        gr->nodes.push_back(std::move(nd));
        return CUDA_SUCCESS;
    }
    e->t = std::chrono::steady_clock::now();
    e->recorded = true;
    return CUDA_SUCCESS;
}
API CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned) { return cuEventRecord(e, s); }
API CUresult cuEventSynchronize(CUevent e) {
    REQUIRE_CTX();
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
API CUresult cuEventQuery(CUevent e) {
    REQUIRE_CTX();
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
API CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
    REQUIRE_CTX();
    if (!ms || !a || !b) return CUDA_ERROR_INVALID_VALUE;
    if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- modules, functions, launch
API CUresult cuModuleLoadData(CUmodule* m, const void* image) { return load_module(m, image, "cuModuleLoadData"); }
API CUresult cuModuleLoadDataEx(CUmodule* m, const void* image, unsigned, void*, void**) {
    return load_module(m, image, "cuModuleLoadDataEx");  // JIT options are irrelevant here
}
API CUresult cuModuleLoad(CUmodule* m, const char* fname) {
    REQUIRE_CTX();
    if (!fname) return CUDA_ERROR_INVALID_VALUE;
    std::ifstream f(fname, std::ios::binary);
    if (!f) return CUDA_ERROR_FILE_NOT_FOUND;
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return load_module(m, text.c_str(), "cuModuleLoad");
}
API CUresult cuModuleUnload(CUmodule m) {
    REQUIRE_CTX();
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    delete m;
    return CUDA_SUCCESS;
}
API CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
    REQUIRE_CTX();
    if (!f || !m || !name) return CUDA_ERROR_INVALID_VALUE;
    auto e = m->entries.find(name);
    if (e == m->entries.end()) {
        trace("cuModuleGetFunction(%s): no such .entry in the PTX", name);
        return CUDA_ERROR_NOT_FOUND;
    }
    auto& slot = m->funcs[name];
    if (!slot) {
        std::lock_guard<std::mutex> g(g_m);
        void* lib = nullptr;
        auto launch = reinterpret_cast<cudasim_launch_fn>(kernel_sym(std::string("sim_launch_") + name, &lib));
        auto sig = reinterpret_cast<const char* (*)()>(kernel_sym(std::string("sim_sig_") + name));
        if (!launch || !sig) {
            complain("kernel '%s' is in the PTX but not in the host kernels library (rebuild libkernels_sim.so)", name);
            m->funcs.erase(name);
            return CUDA_ERROR_NOT_FOUND;
        }
        const std::string want = join(e->second), have = sig();
        if (want != have) {
            complain("kernel '%s': PTX parameter sizes (%s) differ from the host build (%s); stale PTX or library?",
                     name, want.c_str(), have.c_str());
            m->funcs.erase(name);
            return CUDA_ERROR_INVALID_IMAGE;
        }
        slot = std::make_unique<SimFunc>();
        slot->name = name;
        slot->launch = launch;
        slot->last_error = reinterpret_cast<const char* (*)()>(dlsym(lib, "cudasim_last_error"));
        slot->nparams = e->second.size();
        slot->psizes = e->second;
    }
    *f = slot.get();
    trace("cuModuleGetFunction(%s) -> %p", name, (void*)*f);
    return CUDA_SUCCESS;
}
API CUresult cuFuncGetAttribute(int* v, int attrib, CUfunction f) {
    REQUIRE_CTX();
    if (!v || !f) return CUDA_ERROR_INVALID_VALUE;
    switch (attrib) {
        case 0: *v = 1024; break;             // MAX_THREADS_PER_BLOCK
        case 4: *v = 32; break;               // NUM_REGS
        case 5: case 6: *v = 90; break;       // PTX_VERSION, BINARY_VERSION
        case 8: *v = f->max_dyn_smem; break;  // MAX_DYNAMIC_SHARED_SIZE_BYTES
        default: *v = 0;
    }
    return CUDA_SUCCESS;
}
API CUresult cuFuncSetAttribute(CUfunction f, int attrib, int value) {
    REQUIRE_CTX();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (attrib == 8) {
        if (value < 0 || value > 227 * 1024) return CUDA_ERROR_INVALID_VALUE;
        f->max_dyn_smem = value;
    }
    return CUDA_SUCCESS;
}
API CUresult cuFuncSetCacheConfig(CUfunction, int) { REQUIRE_CTX(); return CUDA_SUCCESS; }

namespace {
CUresult run_kernel(SimFunc* f, const cudasim_launch_cfg& cfg, void** params) {
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = f->launch(&cfg, params);
    if (g_trace) {
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        trace("launch %s grid (%u,%u,%u) block (%u,%u,%u) shmem %u -> %d in %.3f ms", f->name.c_str(), cfg.grid[0],
              cfg.grid[1], cfg.grid[2], cfg.block[0], cfg.block[1], cfg.block[2], cfg.shared_bytes, rc, ms);
    }
    if (rc) {
        complain("kernel %s failed (%d): %s", f->name.c_str(), rc, f->last_error ? f->last_error() : "?");
        if (g_sticky) g_sticky_error = rc;  // like a real device fault: the context is unusable until reset
    }
    return rc;
}
CUresult replay(const std::vector<SimNode>& nodes) {
    for (const SimNode& nd : nodes) {
        if (CUresult s = g_sticky_error.load()) return s;
        switch (nd.kind) {
            case SimNode::KERNEL: {
                std::vector<void*> ptrs;
                for (const auto& a : nd.args) ptrs.push_back(const_cast<unsigned char*>(a.data()));
                if (CUresult r = run_kernel(nd.f, nd.cfg, ptrs.empty() ? nullptr : ptrs.data())) return r;
                break;
            }
            case SimNode::COPY:
                if (nd.n) std::memmove(nd.dst, nd.src, nd.n);
                break;
            case SimNode::SET8:
                std::memset(nd.dst, int(nd.value & 0xff), nd.n);
                break;
            case SimNode::SET32:
                std::fill(static_cast<unsigned*>(nd.dst), static_cast<unsigned*>(nd.dst) + nd.n, nd.value);
                break;
            case SimNode::EVENT:
                nd.ev->t = std::chrono::steady_clock::now();
                nd.ev->recorded = true;
                break;
            case SimNode::HOST:
                nd.host_fn(nd.host_ctx);
                break;
        }
    }
    return CUDA_SUCCESS;
}
}  // namespace

API CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shmem, CUstream stream, void** params, void** extra) {
    REQUIRE_CTX();
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    const unsigned long long threads = 1ull * bx * by * bz;
    if (!gx || !gy || !gz || !bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 || threads > 1024 || gy > 65535 ||
        gz > 65535 || gx > 2147483647u) {
        complain("cuLaunchKernel(%s): invalid configuration grid (%u,%u,%u) block (%u,%u,%u)", f->name.c_str(), gx, gy, gz,
                 bx, by, bz);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (shmem > unsigned(f->max_dyn_smem)) {
        complain("cuLaunchKernel(%s): %u bytes of dynamic shared memory > limit %d", f->name.c_str(), shmem, f->max_dyn_smem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!params && f->nparams) {
        if (extra) complain("cuLaunchKernel(%s): the `extra` parameter buffer is not simulated; use kernelParams", f->name.c_str());
        return extra ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
    }
    cudasim_launch_cfg cfg{{gx, gy, gz}, {bx, by, bz}, shmem};
    if (SimGraph* gr = capturing(stream)) {
        SimNode nd;
        nd.kind = SimNode::KERNEL;
        nd.f = f;
        nd.cfg = cfg;
        for (size_t i = 0; i < f->psizes.size(); ++i) {
            const unsigned char* b = static_cast<const unsigned char*>(params[i]);
            nd.args.emplace_back(b, b + f->psizes[i]);
        }
        gr->nodes.push_back(std::move(nd));
        trace("cuLaunchKernel(%s) captured", f->name.c_str());
        return CUDA_SUCCESS;
    }
    if (CUresult r = stream_op_check("cuLaunchKernel", stream)) return r;
    return run_kernel(f, cfg, params);
}

// ---------------------------------------------------------------- graphs (from stream capture)
API CUresult cuGraphInstantiateWithFlags(CUgraphExec* out, CUgraph g, unsigned long long flags) {
    REQUIRE_CTX();
    if (!out || !g) return CUDA_ERROR_INVALID_VALUE;
    *out = new SimGraphExec{g->nodes};
    trace("cuGraphInstantiateWithFlags(%p, flags %llu) -> %p", (void*)g, flags, (void*)*out);
    return CUDA_SUCCESS;
}
API CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_VALUE;
    if (capturing(s)) {
        complain("cuGraphLaunch into a capturing stream is not simulated");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (CUresult r = stream_op_check("cuGraphLaunch", s)) return r;
    trace("cuGraphLaunch(%p): %zu nodes", (void*)e, e->nodes.size());
    return replay(e->nodes);
}
API CUresult cuGraphExecDestroy(CUgraphExec e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_VALUE;
    delete e;
    return CUDA_SUCCESS;
}
API CUresult cuGraphDestroy(CUgraph g) {
    REQUIRE_CTX();
    if (!g) return CUDA_ERROR_INVALID_VALUE;
    delete g;
    return CUDA_SUCCESS;
}
// nodes == NULL: *num = number of nodes; else up to *num opaque node handles
API CUresult cuGraphGetNodes(CUgraph g, void** nodes, size_t* num) {
    REQUIRE_CTX();
    if (!g || !num) return CUDA_ERROR_INVALID_VALUE;
    if (nodes) {
        const size_t k = std::min(*num, g->nodes.size());
        for (size_t i = 0; i < k; ++i) nodes[i] = &g->nodes[i];
        for (size_t i = k; i < *num; ++i) nodes[i] = nullptr;
        *num = k;
    } else {
        *num = g->nodes.size();
    }
    return CUDA_SUCCESS;
}

// For the stand-in cuBLAS/cuSOLVER: 1 if [p, p+n) lies inside one live cuMemAlloc allocation, else 0.
// For the stand-in cuBLAS/cuSOLVER: while `s` is capturing, append their work as a node replayed in capture order
// (real cuBLAS/cuSOLVER calls on a capturing stream become graph nodes too) and return 1; otherwise return 0 and
// the caller computes now. ctx is owned by the graph node for the life of the process.
API int cudasim_capture_host(CUstream s, void (*fn)(void*), void* ctx) {
    SimGraph* gr = capturing(s);
    if (!gr || !fn) return 0;
    SimNode nd;
    nd.kind = SimNode::HOST;
    nd.host_fn = fn;
    nd.host_ctx = ctx;
    std::lock_guard<std::mutex> g(g_cap_m);
    gr->nodes.push_back(std::move(nd));
    trace("library call captured as a host node");
    return 1;
}
API int cudasim_device_range(const void* p, size_t n) { return in_device_range(CUdeviceptr(uintptr_t(p)), n ? n : 1) ? 1 : 0; }

// ---------------------------------------------------------------- errors
API CUresult cuGetErrorName(CUresult e, const char** s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    switch (e) {
#define N(v, name) case v: *s = name; break;
        N(0, "CUDA_SUCCESS") N(1, "CUDA_ERROR_INVALID_VALUE") N(2, "CUDA_ERROR_OUT_OF_MEMORY")
        N(3, "CUDA_ERROR_NOT_INITIALIZED") N(100, "CUDA_ERROR_NO_DEVICE") N(101, "CUDA_ERROR_INVALID_DEVICE")
        N(200, "CUDA_ERROR_INVALID_IMAGE") N(201, "CUDA_ERROR_INVALID_CONTEXT") N(218, "CUDA_ERROR_INVALID_PTX")
        N(301, "CUDA_ERROR_FILE_NOT_FOUND") N(400, "CUDA_ERROR_INVALID_HANDLE") N(401, "CUDA_ERROR_ILLEGAL_STATE")
        N(500, "CUDA_ERROR_NOT_FOUND") N(600, "CUDA_ERROR_NOT_READY") N(700, "CUDA_ERROR_ILLEGAL_ADDRESS")
        N(710, "CUDA_ERROR_ASSERT") N(719, "CUDA_ERROR_LAUNCH_FAILED") N(801, "CUDA_ERROR_NOT_SUPPORTED")
        N(900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED") N(901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED")
        N(906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT") N(999, "CUDA_ERROR_UNKNOWN")
#undef N
        default: *s = nullptr; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
API CUresult cuGetErrorString(CUresult e, const char** s) { return cuGetErrorName(e, s); }
