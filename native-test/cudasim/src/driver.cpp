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
// * cudasim_device_range(p, n) is exported for the stand-in cuBLAS/cuSOLVER to check their operands;
//   cudasim_stream_work / cudasim_stream_sync / cudasim_graph_alloc / cudasim_fail let them follow streams,
//   captures and the fault switches below (see blas_common.h).
// * CUDASIM_STRICT_STREAMS=1 (strict stream semantics): work on a created stream is queued, not run at once, and
//   runs only when the host waits for it (cuStreamSynchronize, cuEventSynchronize, cuCtxSynchronize, a synchronous
//   copy or memset or any legacy-stream operation, which waits for every blocking stream as the real legacy stream
//   does). An async copy from pageable host memory stages the bytes at the call (as the driver does); one from
//   pinned memory reads them when it runs. cuMemFree/cuMemFreeHost of memory that queued work still uses fails
//   with CUDA_ERROR_ILLEGAL_STATE (the driver promises no ordering there): code must synchronise first or free
//   at a point where the stream is known idle. Work on the legacy (NULL) stream still runs at once.
// * Graph capture failures on demand: CUDASIM_FAIL_CAPTURE=library|end|instantiate makes every capture that
//   begins after the first CUDASIM_FAIL_CAPTURE_AFTER (default 0) fail: a library call (stand-in cuBLAS/cuSOLVER)
//   on the capturing stream is refused and invalidates the capture, or cuStreamEndCapture reports the capture
//   invalidated, or cuGraphInstantiate fails (CUDA_ERROR_NOT_SUPPORTED).
// * Stream-ordered allocations inside a capture (cudasim_graph_alloc: the stand-in cuBLAS without a user
//   workspace, like CUDA 12.2+ cuBLAS) become memory of the graph: counted by cuMemGetInfo until the graph and
//   every executable graph made from it are destroyed.
// * CUDASIM_FAIL=name[@N][,name[@N]...] makes the named API call fail (every call, or only the N-th, 1-based):
//   driver calls return CUDA_ERROR_UNKNOWN, stand-in library calls their ..._NOT_INITIALIZED/INTERNAL_ERROR.
// * CUDASIM_LEAKS=1 prints, at process exit, what is still alive (allocations, graphs, executable graphs,
//   streams, events, pinned buffers, modules, primary-context references; the libraries add their handles).
// Self-contained: no CUDA header, only g++ and glibc.  CUDASIM_TRACE=1 logs every call.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
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
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
    CUDA_ERROR_STREAM_CAPTURE_UNJOINED = 904,
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
const bool g_queue = env_flag("CUDASIM_STRICT_STREAMS", false);
const bool g_leaks = env_flag("CUDASIM_LEAKS", false);
// CUDASIM_FAIL_CAPTURE: 0 off, 1 library, 2 end, 3 instantiate
const int g_fail_capture = [] {
    const char* v = std::getenv("CUDASIM_FAIL_CAPTURE");
    if (!v || !*v || !std::strcmp(v, "0") || !std::strcmp(v, "off")) return 0;
    if (!std::strcmp(v, "library")) return 1;
    if (!std::strcmp(v, "end") || !std::strcmp(v, "capture")) return 2;
    if (!std::strcmp(v, "instantiate")) return 3;
    std::fprintf(stderr, "[cudasim] ERROR CUDASIM_FAIL_CAPTURE=%s: expected library, end or instantiate\n", v);
    return 0;
}();
const long long g_fail_capture_after = env_ll("CUDASIM_FAIL_CAPTURE_AFTER", 0);

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
struct SimGraph;
struct SimStream;
struct SimEvent {
    std::chrono::steady_clock::time_point t{};
    // Recorded inside a capture: the graph, the stream that recorded it and whether that stream had issued
    // nothing since (a wait on it then joins that stream back to the capture's origin).
    SimGraph* capture_graph = nullptr;
    SimStream* capture_stream = nullptr;
    bool recorded = false;
    bool timing = true;  // false: created with CU_EVENT_DISABLE_TIMING (cuEventElapsedTime refuses it)
};
// Stream-ordered allocations made while a graph was captured (its memory nodes): freed when the graph and every
// executable graph instantiated from it are gone.
struct GraphMem {
    std::map<const void*, uintptr_t> by_key;  // one allocation per key (e.g. per cuBLAS handle) and capture
    size_t bytes = 0;
    ~GraphMem();
};
// One recorded operation of a captured stream, or one queued operation of a stream (CUDASIM_STRICT_STREAMS).
struct SimNode {
    enum Kind { KERNEL, COPY, SET8, SET32, EVENT, HOST } kind = KERNEL;
    SimFunc* f = nullptr;
    cudasim_launch_cfg cfg{};
    std::vector<std::vector<unsigned char>> args;  // kernel parameter values, copied at capture time
    void* dst = nullptr;
    const void* src = nullptr;
    std::shared_ptr<std::vector<unsigned char>> staged;  // COPY from pageable host memory: bytes taken at the call
    size_t n = 0;
    unsigned value = 0;
    SimEvent* ev = nullptr;
    void (*host_fn)(void*) = nullptr;  // HOST: library work recorded by the stand-in cuBLAS/cuSOLVER
    std::shared_ptr<void> host_ctx;    // its context, freed by the library's deleter when the last copy goes
    std::vector<const void*> refs;     // HOST: device pointers the work touches (for the strict free check)
};
struct SimGraph {
    std::vector<SimNode> nodes;
    SimStream* origin = nullptr;  // the stream whose cuStreamBeginCapture made this graph
    std::shared_ptr<GraphMem> mem = std::make_shared<GraphMem>();
    bool doomed = false;  // CUDASIM_FAIL_CAPTURE=instantiate
};
struct SimGraphExec {
    std::vector<SimNode> nodes;
    std::shared_ptr<GraphMem> mem;
};
struct SimStream {
    unsigned flags = 0;
    SimGraph* capture = nullptr;   // non-null while capturing
    int capture_mode = 0;          // CU_STREAM_CAPTURE_MODE_GLOBAL 0, THREAD_LOCAL 1, RELAXED 2
    bool invalidated = false;
    bool fail_capture = false;     // this capture fails (CUDASIM_FAIL_CAPTURE)
    std::thread::id capture_thread;
    // Cross-stream capture: a stream that waited on an event recorded in another stream's capture joins that
    // capture (origin: the stream that began it); joined: its last work has been waited on by the capture.
    SimStream* origin = nullptr;
    bool joined = true;
    std::deque<SimNode> pending;   // CUDASIM_STRICT_STREAMS: work not yet run (guarded by g_q_m)
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
// live objects, for CUDASIM_LEAKS
std::atomic<int> g_live_graphs{0}, g_live_execs{0}, g_live_streams{0}, g_live_events{0}, g_live_modules{0};
std::map<uintptr_t, size_t> g_pinned;  // cuMemAllocHost buffers: base -> size (g_m)

// ---- CUDASIM_FAIL: name -> call number to fail (0: every call); calls counted per name
struct FailSwitch {
    std::mutex m;
    std::map<std::string, std::set<long long>> which;  // call numbers to fail; {0}: every call
    std::map<std::string, long long> calls;
    FailSwitch() {
        const char* v = std::getenv("CUDASIM_FAIL");
        if (!v || !*v) return;
        std::stringstream ss(v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (item.empty()) continue;
            auto at = item.find('@');
            which[item.substr(0, at)].insert(at == std::string::npos ? 0 : std::atoll(item.c_str() + at + 1));
        }
    }
    bool hit(const char* fn) {
        std::lock_guard<std::mutex> g(m);
        if (which.empty()) return false;
        auto it = which.find(fn);
        if (it == which.end()) return false;
        const long long n = ++calls[fn];
        if (!it->second.count(0) && !it->second.count(n)) return false;
        std::fprintf(stderr, "[cudasim] %s: injected failure (CUDASIM_FAIL)\n", fn);
        return true;
    }
};
FailSwitch& fail_switch() {
    static FailSwitch f;
    return f;
}
#define INJECT(name) \
    do {             \
        if (fail_switch().hit(name)) return CUDA_ERROR_UNKNOWN; \
    } while (0)

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
// Registers a fresh device allocation (poisoned, guard page behind it); g_m not held.
CUresult dev_alloc(size_t bytes, uintptr_t* out) {
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
    *out = uintptr_t(p);
    return CUDA_SUCCESS;
}
// Unregisters and frees an allocation (g_m held); false if p is not one.
bool dev_free_locked(uintptr_t p) {
    auto it = g_allocs.find(p);
    if (it == g_allocs.end()) return false;
    g_allocated -= (it->second + 255) & ~size_t(255);
    g_allocs.erase(it);
    sim_free(p);
    return true;
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

}  // namespace

GraphMem::~GraphMem() {
    std::lock_guard<std::mutex> g(g_m);
    for (auto& kv : by_key) dev_free_locked(kv.second);
}

namespace {
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
    if (fail_switch().hit("cuModuleLoadData")) return CUDA_ERROR_UNKNOWN;
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
    g_live_modules++;
    return CUDA_SUCCESS;
}

// ---- stream capture bookkeeping
std::mutex g_cap_m;
std::set<SimStream*> g_capturing;
long long g_capture_count = 0;  // captures begun (g_cap_m), for CUDASIM_FAIL_CAPTURE_AFTER
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
// An op recorded into an invalidated capture fails, as on the real driver.
CUresult capture_ok(const char* fn, CUstream s) {
    std::lock_guard<std::mutex> g(g_cap_m);
    if (!s->invalidated) return CUDA_SUCCESS;
    trace("%s: the capture of stream %p is already invalidated", fn, (void*)s);
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
}
// Records an operation of stream s into the capture gr; work of a forked stream leaves it unjoined until the
// capture waits on an event it records afterwards.
void append_locked(SimGraph* gr, CUstream s, SimNode&& nd) {  // g_cap_m held
    if (s && s->origin) s->joined = false;
    gr->nodes.push_back(std::move(nd));
}
void append(SimGraph* gr, CUstream s, SimNode&& nd) {
    std::lock_guard<std::mutex> g(g_cap_m);
    append_locked(gr, s, std::move(nd));
}
CUresult stream_op_check(const char* fn, CUstream s) {  // an async op on s, outside capture of s
    if (s) return CUDA_SUCCESS;
    return capture_unsafe(fn, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);  // legacy stream vs. a global capture
}

// ---- CUDASIM_STRICT_STREAMS: queued work per created stream
std::mutex g_q_m;                      // guards g_streams and every stream's pending queue
std::recursive_mutex g_flush_m;        // one flush at a time, so queued work runs in issue order
std::set<SimStream*> g_streams;        // live created streams
CUresult run_node(const SimNode& nd);  // below, with the launch code
// Queued work runs only in strict-stream mode, on created streams that are not capturing.
bool queued(CUstream s) { return g_queue && s && !capturing(s); }
void enqueue(CUstream s, SimNode&& nd) {
    std::lock_guard<std::mutex> g(g_q_m);
    s->pending.push_back(std::move(nd));
}
// Runs s's queued work in order; with `until`, stops after the node that records that event. A failing node
// (a sticky kernel fault) drops the rest of the queue, as a faulted context would.
CUresult flush(SimStream* s, const SimEvent* until = nullptr) {
    std::lock_guard<std::recursive_mutex> f(g_flush_m);
    for (;;) {
        SimNode nd;
        {
            std::lock_guard<std::mutex> g(g_q_m);
            if (s->pending.empty()) return CUDA_SUCCESS;
            if (until) {
                bool there = false;
                for (const SimNode& p : s->pending)
                    if (p.kind == SimNode::EVENT && p.ev == until) there = true;
                if (!there) return CUDA_SUCCESS;
            }
            nd = std::move(s->pending.front());
            s->pending.pop_front();
        }
        if (CUresult r = run_node(nd)) {
            std::lock_guard<std::mutex> g(g_q_m);
            s->pending.clear();
            return r;
        }
        if (until && nd.kind == SimNode::EVENT && nd.ev == until) return CUDA_SUCCESS;
    }
}
std::vector<SimStream*> streams_snapshot() {
    std::lock_guard<std::mutex> g(g_q_m);
    return {g_streams.begin(), g_streams.end()};
}
// What the legacy stream waits for: every blocking stream (flag CU_STREAM_NON_BLOCKING 1 not set); or all.
CUresult flush_streams(bool all) {
    if (!g_queue) return CUDA_SUCCESS;
    CUresult first = CUDA_SUCCESS;
    for (SimStream* s : streams_snapshot())
        if (all || !(s->flags & 1))
            if (CUresult r = flush(s)) first = first ? first : r;
    return first;
}
CUresult flush_blocking() { return flush_streams(false); }
CUresult flush_event(const SimEvent* e) {
    if (!g_queue) return CUDA_SUCCESS;
    for (SimStream* s : streams_snapshot())
        if (CUresult r = flush(s, e)) return r;
    return CUDA_SUCCESS;
}
// Before work on stream s runs at once: in strict-stream mode, what s waits for must have run first.
CUresult order_before(CUstream s) {
    if (!g_queue) return CUDA_SUCCESS;
    return s ? flush(s) : flush_blocking();
}
// Which queued work (if any) still uses [base, base + size)? For the strict free check.
std::string pending_user(uintptr_t base, size_t size) {
    auto in = [&](const void* p) { return uintptr_t(p) >= base && uintptr_t(p) < base + size; };
    std::lock_guard<std::mutex> g(g_q_m);
    for (SimStream* s : g_streams)
        for (const SimNode& nd : s->pending) {
            switch (nd.kind) {
                case SimNode::KERNEL:
                    for (const auto& a : nd.args) {
                        if (a.size() != sizeof(void*)) continue;
                        uintptr_t v;
                        std::memcpy(&v, a.data(), sizeof v);
                        if (in(reinterpret_cast<const void*>(v))) return "kernel " + nd.f->name;
                    }
                    break;
                case SimNode::COPY:
                    if (in(nd.dst) || (!nd.staged && in(nd.src))) return "an async copy";
                    break;
                case SimNode::SET8:
                case SimNode::SET32:
                    if (in(nd.dst)) return "an async memset";
                    break;
                case SimNode::HOST:
                    for (const void* p : nd.refs)
                        if (in(p)) return "a cuBLAS/cuSOLVER call";
                    break;
                case SimNode::EVENT:
                    break;
            }
        }
    return "";
}
bool is_pinned(const void* p, size_t n) {
    std::lock_guard<std::mutex> g(g_m);
    auto it = g_pinned.upper_bound(uintptr_t(p));
    if (it == g_pinned.begin()) return false;
    --it;
    return uintptr_t(p) >= it->first && uintptr_t(p) + n <= it->first + it->second;
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
    INJECT("cuDevicePrimaryCtxRetain");
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
    {
        std::lock_guard<std::mutex> q(g_q_m);
        for (SimStream* s : g_streams) s->pending.clear();  // queued work dies with the context
    }
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
    if (CUresult r = capture_unsafe("cuCtxSynchronize")) return r;
    return flush_streams(true);
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
    INJECT("cuMemAlloc");
    uintptr_t p = 0;
    if (CUresult r = dev_alloc(bytes, &p)) return r;
    *dptr = CUdeviceptr(p);
    trace("cuMemAlloc_v2(%zu) -> 0x%llx", bytes, *dptr);
    return CUDA_SUCCESS;
}
API CUresult cuMemFree_v2(CUdeviceptr p) {
    REQUIRE_CTX();
    if (CUresult r = capture_unsafe("cuMemFree")) return r;
    size_t size = 0;
    {
        std::lock_guard<std::mutex> g(g_m);
        auto it = g_allocs.find(uintptr_t(p));
        if (it == g_allocs.end()) {
            complain("cuMemFree_v2(0x%llx): not an allocation (double free?)", p);
            return CUDA_ERROR_INVALID_VALUE;
        }
        size = it->second;
    }
    if (g_queue) {
        const std::string user = pending_user(uintptr_t(p), size);
        if (!user.empty()) {
            complain("cuMemFree_v2(0x%llx, %zu bytes): queued work (%s) may still use it; the driver promises no"
                     " ordering here: synchronise the stream first or free at a stream-ordered point"
                     " (CUDASIM_STRICT_STREAMS)", p, size, user.c_str());
            return CUDA_ERROR_ILLEGAL_STATE;
        }
    }
    std::lock_guard<std::mutex> g(g_m);
    dev_free_locked(uintptr_t(p));
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
    INJECT("cuMemAllocHost");
    *pp = std::aligned_alloc(256, (bytes + 255) & ~size_t(255));
    if (!*pp) return CUDA_ERROR_OUT_OF_MEMORY;
    std::lock_guard<std::mutex> g(g_m);
    g_pinned[uintptr_t(*pp)] = bytes;
    return CUDA_SUCCESS;
}
API CUresult cuMemHostAlloc(void** pp, size_t bytes, unsigned) { return cuMemAllocHost_v2(pp, bytes); }
API CUresult cuMemFreeHost(void* p) {
    REQUIRE_CTX();
    size_t size = 0;
    {
        std::lock_guard<std::mutex> g(g_m);
        auto it = g_pinned.find(uintptr_t(p));
        if (it == g_pinned.end()) {
            complain("cuMemFreeHost(%p): not a cuMemAllocHost buffer", p);
            return CUDA_ERROR_INVALID_VALUE;
        }
        size = it->second;
    }
    if (g_queue) {
        const std::string user = pending_user(uintptr_t(p), size);
        if (!user.empty()) {
            complain("cuMemFreeHost(%p): queued work (%s) may still read it (CUDASIM_STRICT_STREAMS)", p, user.c_str());
            return CUDA_ERROR_ILLEGAL_STATE;
        }
    }
    {
        std::lock_guard<std::mutex> g(g_m);
        g_pinned.erase(uintptr_t(p));
    }
    std::free(p);
    return CUDA_SUCCESS;
}
namespace {
CUresult copy_op(const char* fn, void* dst, const void* src, size_t n, bool dst_dev, bool src_dev, bool async, CUstream s) {
    REQUIRE_CTX();
    if (async) {
        if (SimGraph* gr = capturing(s)) {
            if (CUresult r = capture_ok(fn, s)) return r;
            if (dst_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(dst)), n)) return r;
            if (src_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(src)), n)) return r;
            SimNode nd;
            nd.kind = SimNode::COPY;
            nd.dst = dst;
            nd.src = src;
            nd.n = n;
            append(gr, s, std::move(nd));
            trace("%s captured", fn);
            return CUDA_SUCCESS;
        }
        if (CUresult r = stream_op_check(fn, s)) return r;
        if (queued(s)) {
            if (dst_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(dst)), n)) return r;
            if (src_dev)
                if (CUresult r = check_dev(fn, CUdeviceptr(uintptr_t(src)), n)) return r;
            if (n && (!dst || !src)) return CUDA_ERROR_INVALID_VALUE;
            const bool src_host = !src_dev && !in_device_range(CUdeviceptr(uintptr_t(src)), n ? n : 1);
            const bool dst_host = !dst_dev && !in_device_range(CUdeviceptr(uintptr_t(dst)), n ? n : 1);
            if (dst_host && !is_pinned(dst, n)) {
                // to pageable memory the driver returns only once the copy is done: wait for s, then copy
                if (CUresult r = flush(s)) return r;
                return memcpy_checked(fn, dst, src, n, dst_dev, src_dev);
            }
            SimNode nd;
            nd.kind = SimNode::COPY;
            nd.dst = dst;
            nd.src = src;
            nd.n = n;
            if (src_host && !is_pinned(src, n)) {  // from pageable memory: staged now, later host writes do not count
                nd.staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                                         static_cast<const unsigned char*>(src) + n);
            }
            enqueue(s, std::move(nd));
            trace("%s queued on stream %p", fn, (void*)s);
            return CUDA_SUCCESS;
        }
    } else if (CUresult r = capture_unsafe(fn)) {
        return r;
    }
    // synchronous copies belong to the legacy stream, which first waits for every blocking stream
    if (CUresult r = order_before(async ? s : nullptr)) return r;
    return memcpy_checked(fn, dst, src, n, dst_dev, src_dev);
}
template <class T>
CUresult set_op(const char* fn, CUdeviceptr d, T v, size_t count, bool async, CUstream s) {
    REQUIRE_CTX();
    if (async) {
        SimGraph* gr = capturing(s);
        if (gr || queued(s)) {
            if (gr)
                if (CUresult r = capture_ok(fn, s)) return r;
            if (CUresult r = check_dev(fn, d, count * sizeof(T))) return r;
            SimNode nd;
            nd.kind = sizeof(T) == 1 ? SimNode::SET8 : SimNode::SET32;
            nd.dst = reinterpret_cast<void*>(uintptr_t(d));
            nd.n = count;
            nd.value = unsigned(v);
            if (gr)
                append(gr, s, std::move(nd));
            else
                enqueue(s, std::move(nd));
            return CUDA_SUCCESS;
        }
        if (CUresult r = stream_op_check(fn, s)) return r;
    } else if (CUresult r = capture_unsafe(fn)) {
        return r;
    }
    if (CUresult r = order_before(async ? s : nullptr)) return r;
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
    INJECT("cuStreamCreate");
    *s = new SimStream{flags};
    {
        std::lock_guard<std::mutex> g(g_q_m);
        g_streams.insert(*s);
    }
    g_live_streams++;
    return CUDA_SUCCESS;
}
API CUresult cuStreamCreateWithPriority(CUstream* s, unsigned flags, int) { return cuStreamCreate(s, flags); }
API CUresult cuStreamDestroy_v2(CUstream s) {
    REQUIRE_CTX();
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = flush(s);  // the real destroy returns at once; the stream's queued work still completes
    {
        std::lock_guard<std::mutex> g(g_q_m);
        g_streams.erase(s);
    }
    {
        std::lock_guard<std::mutex> g(g_cap_m);
        g_capturing.erase(s);
        if (s->capture && !s->origin) {  // a stream that only joined another's capture does not own its graph
            g_live_graphs--;
            delete s->capture;
        }
    }
    delete s;
    g_live_streams--;
    return r;
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
    if (CUresult r = capture_unsafe("cuStreamSynchronize(legacy stream)")) return r;
    return order_before(s);
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
    return order_before(s);  // the "GPU" finishes the queued work meanwhile
}
// mode: CU_STREAM_CAPTURE_MODE_GLOBAL 0, THREAD_LOCAL 1, RELAXED 2
API CUresult cuStreamBeginCapture_v2(CUstream s, int mode) {
    REQUIRE_CTX();
    if (!s) {
        complain("cuStreamBeginCapture on the legacy NULL stream is not allowed");
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (mode < 0 || mode > 2) return CUDA_ERROR_INVALID_VALUE;
    INJECT("cuStreamBeginCapture");
    std::lock_guard<std::mutex> g(g_cap_m);
    if (s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    if (s->origin) return CUDA_ERROR_ILLEGAL_STATE;
    s->capture = new SimGraph();
    s->capture->origin = s;
    g_live_graphs++;
    s->capture_mode = mode;
    s->invalidated = false;
    s->fail_capture = g_fail_capture != 0 && g_capture_count >= g_fail_capture_after;
    g_capture_count++;
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
    if (s->origin) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;  // only the stream that began it ends a capture
    SimGraph* gr = s->capture;
    s->capture = nullptr;
    g_capturing.erase(s);
    bool unjoined = false;
    for (auto it = g_capturing.begin(); it != g_capturing.end();) {  // release the streams that joined
        SimStream* j = *it;
        if (j->capture == gr) {
            unjoined |= !j->joined;
            if (j->invalidated) s->invalidated = true;  // work refused on a joined stream breaks the whole capture
            j->invalidated = false;
            j->capture = nullptr;
            j->origin = nullptr;
            j->joined = true;
            it = g_capturing.erase(it);
        } else {
            ++it;
        }
    }
    if (unjoined) {
        complain("cuStreamEndCapture: a stream that joined the capture was not joined back (its last work was not"
                 " waited on): capture invalidated");
        delete gr;
        g_live_graphs--;
        *out = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
    }
    if (s->fail_capture && g_fail_capture == 2) {
        complain("cuStreamEndCapture: capture refused (CUDASIM_FAIL_CAPTURE=end)");
        s->invalidated = true;
    }
    if (s->invalidated) {
        delete gr;
        g_live_graphs--;
        *out = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    if (s->fail_capture && g_fail_capture == 3) gr->doomed = true;
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
// Cross-stream capture, as the real driver: waiting on an event recorded in a capture makes the waiting stream
// join that capture (its later work becomes part of the graph, in issue order: the replay is linear) and a wait of
// the capture on an event a joined stream recorded after its last work joins that stream back. The origin's
// cuStreamEndCapture fails with CUDA_ERROR_STREAM_CAPTURE_UNJOINED when a joined stream has work not waited on.
API CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    {
        std::lock_guard<std::mutex> g(g_cap_m);
        SimGraph* gr = e->capture_graph;
        SimStream* origin = nullptr;  // found among the capturing streams: gr may be gone already
        for (SimStream* c : g_capturing)
            if (gr && c->capture == gr && !c->origin) origin = c;
        if (origin) {  // e was recorded in a capture still going on
            if (!s) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
            if (s->capture == nullptr) {
                if (s->origin) return CUDA_ERROR_ILLEGAL_STATE;
                s->capture = gr;
                s->capture_mode = origin->capture_mode;
                s->invalidated = false;
                s->fail_capture = origin->fail_capture;
                s->capture_thread = std::this_thread::get_id();
                s->origin = origin;
                s->joined = true;
                g_capturing.insert(s);
                trace("cuStreamWaitEvent: stream %p joins the capture of %p", (void*)s, (void*)origin);
                return CUDA_SUCCESS;
            }
            if (s->capture != gr) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
            SimStream* from = e->capture_stream;
            if (from && from->origin && from->capture == gr) from->joined = true;
            return CUDA_SUCCESS;
        }
        if (s && s->capture) {
            s->invalidated = true;  // a capture cannot wait on work outside it (not simulated)
            complain("cuStreamWaitEvent: a capturing stream waits on an event recorded outside its capture");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    return flush_event(e);  // one stream at a time here: the waited-for work simply runs first
}
// flags: CU_EVENT_BLOCKING_SYNC 1, CU_EVENT_DISABLE_TIMING 2, CU_EVENT_INTERPROCESS 4
API CUresult cuEventCreate(CUevent* e, unsigned flags) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_VALUE;
    INJECT("cuEventCreate");
    *e = new SimEvent();
    (*e)->timing = !(flags & 2);
    g_live_events++;
    return CUDA_SUCCESS;
}
API CUresult cuEventDestroy_v2(CUevent e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    if (CUresult r = flush_event(e)) return r;  // a pending record of e must not touch freed memory
    delete e;
    g_live_events--;
    return CUDA_SUCCESS;
}
API CUresult cuEventRecord(CUevent e, CUstream s) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    if (SimGraph* gr = capturing(s)) {
        if (CUresult r = capture_ok("cuEventRecord", s)) return r;
        SimNode nd;
        nd.kind = SimNode::EVENT;
        nd.ev = e;
        gr->nodes.push_back(std::move(nd));  // orders nothing in a linear replay; a GPU graph makes it an edge
        std::lock_guard<std::mutex> g(g_cap_m);
        e->capture_graph = gr;
        e->capture_stream = s;
        return CUDA_SUCCESS;
    }
    {
        std::lock_guard<std::mutex> g(g_cap_m);
        e->capture_graph = nullptr;
        e->capture_stream = nullptr;
    }
    if (queued(s)) {
        SimNode nd;
        nd.kind = SimNode::EVENT;
        nd.ev = e;
        e->recorded = false;
        enqueue(s, std::move(nd));
        return CUDA_SUCCESS;
    }
    if (CUresult r = order_before(s)) return r;
    e->t = std::chrono::steady_clock::now();
    e->recorded = true;
    return CUDA_SUCCESS;
}
API CUresult cuEventRecordWithFlags(CUevent e, CUstream s, unsigned) { return cuEventRecord(e, s); }
API CUresult cuEventSynchronize(CUevent e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    return flush_event(e);
}
API CUresult cuEventQuery(CUevent e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    return flush_event(e);  // the "GPU" reaches the event meanwhile
}
API CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
    REQUIRE_CTX();
    if (!ms || !a || !b) return CUDA_ERROR_INVALID_VALUE;
    if (!a->timing || !b->timing) {
        complain("cuEventElapsedTime: an event was created with CU_EVENT_DISABLE_TIMING");
        return CUDA_ERROR_INVALID_HANDLE;
    }
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
    if (CUresult r = flush_streams(true)) return r;  // queued launches of its kernels run first
    delete m;
    g_live_modules--;
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
CUresult run_node(const SimNode& nd) {
    if (CUresult s = g_sticky_error.load()) return s;
    switch (nd.kind) {
        case SimNode::KERNEL: {
            std::vector<void*> ptrs;
            for (const auto& a : nd.args) ptrs.push_back(const_cast<unsigned char*>(a.data()));
            return run_kernel(nd.f, nd.cfg, ptrs.empty() ? nullptr : ptrs.data());
        }
        case SimNode::COPY:
            if (nd.n) std::memmove(nd.dst, nd.staged ? nd.staged->data() : nd.src, nd.n);
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
            nd.host_fn(nd.host_ctx.get());
            break;
    }
    return CUDA_SUCCESS;
}
CUresult replay(const std::vector<SimNode>& nodes) {
    for (const SimNode& nd : nodes)
        if (CUresult r = run_node(nd)) return r;
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
    SimGraph* gr = capturing(stream);
    if (gr)
        if (CUresult r = capture_ok("cuLaunchKernel", stream)) return r;
    if (gr || queued(stream)) {
        SimNode nd;
        nd.kind = SimNode::KERNEL;
        nd.f = f;
        nd.cfg = cfg;
        for (size_t i = 0; i < f->psizes.size(); ++i) {
            const unsigned char* b = static_cast<const unsigned char*>(params[i]);
            nd.args.emplace_back(b, b + f->psizes[i]);
        }
        if (gr)
            append(gr, stream, std::move(nd));
        else
            enqueue(stream, std::move(nd));
        trace("cuLaunchKernel(%s) %s", f->name.c_str(), gr ? "captured" : "queued");
        return CUDA_SUCCESS;
    }
    if (CUresult r = stream_op_check("cuLaunchKernel", stream)) return r;
    if (CUresult r = order_before(stream)) return r;
    return run_kernel(f, cfg, params);
}

// ---------------------------------------------------------------- graphs (from stream capture)
API CUresult cuGraphInstantiateWithFlags(CUgraphExec* out, CUgraph g, unsigned long long flags) {
    REQUIRE_CTX();
    if (!out || !g) return CUDA_ERROR_INVALID_VALUE;
    INJECT("cuGraphInstantiate");
    if (g->doomed) {
        complain("cuGraphInstantiate: refused (CUDASIM_FAIL_CAPTURE=instantiate)");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    *out = new SimGraphExec{g->nodes, g->mem};
    g_live_execs++;
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
    if (queued(s)) {
        std::lock_guard<std::mutex> g(g_q_m);
        for (const SimNode& nd : e->nodes) s->pending.push_back(nd);
        return CUDA_SUCCESS;
    }
    if (CUresult r = order_before(s)) return r;
    return replay(e->nodes);
}
API CUresult cuGraphExecDestroy(CUgraphExec e) {
    REQUIRE_CTX();
    if (!e) return CUDA_ERROR_INVALID_VALUE;
    delete e;  // queued launches hold copies of its nodes, as an in-flight graph completes on a GPU
    g_live_execs--;
    return CUDA_SUCCESS;
}
API CUresult cuGraphDestroy(CUgraph g) {
    REQUIRE_CTX();
    if (!g) return CUDA_ERROR_INVALID_VALUE;
    delete g;
    g_live_graphs--;
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

// ---------------------------------------------------------------- hooks for the stand-in cuBLAS/cuSOLVER
// Library work `fn(ctx)` on stream s. Returns 1 when the driver took it: recorded into the capture of s (replayed
// by cuGraphLaunch; ctx lives as long as the graph) or queued on s (CUDASIM_STRICT_STREAMS; ctx freed after it
// ran). Returns 0 when the caller must run it now: the driver has run everything it must wait for (queued work
// of s, or for the legacy stream every blocking stream). -1: refused because the capture of s is invalidated or
// fails on purpose (CUDASIM_FAIL_CAPTURE=library; this invalidates it). -2: waiting failed (a sticky error).
// del(ctx) frees ctx; refs are the device pointers the work touches (for the strict free check).
API int cudasim_stream_work(CUstream s, void (*fn)(void*), void (*del)(void*), void* ctx, const void* const* refs,
                            size_t nrefs) {
    if (!fn) return -2;
    SimNode nd;
    nd.kind = SimNode::HOST;
    nd.host_fn = fn;
    if (SimGraph* gr = capturing(s)) {
        std::lock_guard<std::mutex> g(g_cap_m);
        if (s->fail_capture && g_fail_capture == 1 && !s->invalidated) {
            complain("library call on a capturing stream refused (CUDASIM_FAIL_CAPTURE=library): capture invalidated");
            s->invalidated = true;
        }
        if (s->invalidated) return -1;
        nd.host_ctx = std::shared_ptr<void>(ctx, del ? del : [](void*) {});
        append_locked(gr, s, std::move(nd));
        trace("library call captured as a host node");
        return 1;
    }
    if (queued(s)) {
        nd.host_ctx = std::shared_ptr<void>(ctx, del ? del : [](void*) {});
        if (refs) nd.refs.assign(refs, refs + nrefs);
        enqueue(s, std::move(nd));
        return 1;
    }
    return order_before(s) ? -2 : 0;
}
// Waits for the queued work of s (legacy stream: every blocking stream); a CUresult.
API int cudasim_stream_sync(CUstream s) { return order_before(s); }
// A stream-ordered allocation made while s captures (a memory node of the graph, one per key and capture), or
// NULL when s is not capturing. Freed with the graph and the executable graphs made from it.
API void* cudasim_graph_alloc(CUstream s, const void* key, size_t bytes) {
    SimGraph* gr = capturing(s);
    if (!gr || !bytes) return nullptr;
    std::lock_guard<std::mutex> g(g_cap_m);
    auto it = gr->mem->by_key.find(key);
    if (it != gr->mem->by_key.end()) return reinterpret_cast<void*>(it->second);
    uintptr_t p = 0;
    if (dev_alloc(bytes, &p)) return nullptr;
    gr->mem->by_key[key] = p;
    gr->mem->bytes += bytes;
    trace("graph memory node: %zu bytes at %p", bytes, reinterpret_cast<void*>(p));
    return reinterpret_cast<void*>(p);
}
// A stand-in library found a bad operand while its deferred work ran (e.g. a device pointer array entry outside
// every allocation): the context faults, as a GPU would with CUDA_ERROR_ILLEGAL_ADDRESS.
API void cudasim_fault(const char* what) {
    complain("%s: illegal address while queued/captured library work ran", what ? what : "?");
    if (g_sticky) g_sticky_error = CUDA_ERROR_ILLEGAL_ADDRESS;
}
// CUDASIM_FAIL for the stand-in libraries: 1 when this call of `fn` must fail.
API int cudasim_fail(const char* fn) { return fn && fail_switch().hit(fn) ? 1 : 0; }
API int cudasim_device_range(const void* p, size_t n) { return in_device_range(CUdeviceptr(uintptr_t(p)), n ? n : 1) ? 1 : 0; }

// ---------------------------------------------------------------- leak report (CUDASIM_LEAKS=1)
namespace {
struct LeakReport {
    ~LeakReport() {
        if (!g_leaks) return;
        size_t n = 0, bytes = 0, pinned = 0;
        {
            std::lock_guard<std::mutex> g(g_m);
            n = g_allocs.size();
            bytes = g_allocated;
            pinned = g_pinned.size();
        }
        std::fprintf(stderr,
                     "[cudasim] exit: libcuda allocations=%zu bytes=%zu graphs=%d graph_execs=%d streams=%d events=%d"
                     " pinned=%zu modules=%d primary_refs=%d\n",
                     n, bytes, g_live_graphs.load(), g_live_execs.load(), g_live_streams.load(), g_live_events.load(),
                     pinned, g_live_modules.load(), g_primary_refs);
    }
} g_leak_report;
}  // namespace

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
        N(903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED")
        N(904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED") N(906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT") N(999, "CUDA_ERROR_UNKNOWN")
#undef N
        default: *s = nullptr; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
API CUresult cuGetErrorString(CUresult e, const char** s) { return cuGetErrorName(e, s); }
