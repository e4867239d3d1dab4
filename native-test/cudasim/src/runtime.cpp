// runtime.cpp - execution engine of the CUDA simulator; linked into libkernels_sim.so together with the
// host-compiled kernels (it defines the __thread threadIdx/blockIdx/blockDim/gridDim the kernels read).
//
// Default engine ("fibers"): a launch's blocks are handed out to a few OS worker threads (the calling thread
// plus CUDASIM_WORKERS-1 helpers, default = number of CPUs). A worker runs one block at a time; the block's
// CUDA threads are fibers (own stack each, 256 KiB virtual by default) switched cooperatively on that worker,
// only at __syncthreads/__syncwarp/shuffles/votes. A fiber that never synchronizes runs start to finish
// without a switch. Deadlocks (a barrier nobody can complete) and __trap/assert end the launch with an error
// instead of hanging or killing the JVM.
//
// (The probe's "one std::thread per CUDA thread" engine is not kept: 15-120x slower, hangs on deadlocks.)
// -DCUDASIM_UCONTEXT: portable swapcontext fiber switch for non-x86-64 hosts (slow: a syscall per switch).
//
// Faults: while a worker runs fibers, a SIGSEGV/SIGBUS (guard page after a cuMemAlloc buffer, unmapped memory)
// is caught by a handler chained in front of the JVM's; the faulting fiber is redirected into trap(), the
// block is abandoned and the launch fails with CUDA_ERROR_ILLEGAL_ADDRESS naming kernel, block and thread.
// Faults outside simulated kernels go to the previous handler untouched. CUDASIM_CATCH_FAULTS=0 disables it.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "cudasim.h"  // after the std headers: it defines __shared__, __device__, ...

CUDASIM_TLS uint3 threadIdx;
CUDASIM_TLS uint3 blockIdx;
CUDASIM_TLS dim3 blockDim;
CUDASIM_TLS dim3 gridDim;

namespace cudasim {
namespace {
enum : int { CU_OK = 0, CU_INVALID_VALUE = 1, CU_ILLEGAL_ADDRESS = 700, CU_ASSERT = 710, CU_LAUNCH_FAILED = 719 };

int env_int(const char* name, int dflt) {
    const char* v = std::getenv(name);
    return (v && *v) ? std::atoi(v) : dflt;
}
const bool g_strict = env_int("CUDASIM_STRICT", 0) != 0;   // divergent __syncthreads -> launch error
const bool g_poison = env_int("CUDASIM_POISON", 1) != 0;   // dynamic shared memory starts as NaN bytes
// Order in which the fibers of a block are first run and resumed after each barrier: 0 forward (default),
// 1 reverse, 2 pseudo-random per block (seed CUDASIM_SEED). Running a test under several orders exposes
// missing-__syncthreads races in both directions.
const int g_order = [] {
    const char* v = std::getenv("CUDASIM_ORDER");
    if (!v || !*v || !std::strcmp(v, "forward")) return 0;
    if (!std::strcmp(v, "reverse")) return 1;
    return 2;
}();
const unsigned g_seed = unsigned(env_int("CUDASIM_SEED", 12345));
// CUDASIM_STATS=1: totals printed at exit (how much simulated work the tests did, and where it ran)
struct Stats {
    std::atomic<uint64_t> launches{0}, blocks{0}, helper_blocks{0}, threads{0}, switches{0};
    ~Stats() {
        if (env_int("CUDASIM_STATS", 0))
            std::fprintf(stderr, "[cudasim] stats: %llu launches, %llu blocks (%llu on helper threads), %llu CUDA threads, %llu fiber switches\n",
                         (unsigned long long)launches, (unsigned long long)blocks, (unsigned long long)helper_blocks,
                         (unsigned long long)threads, (unsigned long long)switches);
    }
};
Stats g_stats;

struct Job {
    cudasim_launch_cfg cfg{};
    BodyFn body = nullptr;
    void* ctx = nullptr;
    const char* name = "?";
    unsigned nthreads = 0;
    uint64_t nblocks = 0;
    std::atomic<uint64_t> next{0};
    std::atomic<int> error{0};
    std::mutex msg_m;
    std::string msg;
    void fail(int code, const std::string& m) {
        int expected = 0;
        if (error.compare_exchange_strong(expected, code)) {
            std::lock_guard<std::mutex> g(msg_m);
            msg = m;
        }
    }
};

std::mutex g_launch_m;      // launches are serialized (valid: a GPU may also run them one after another)
std::mutex g_err_m;
std::string g_last_error;
std::atomic<int> g_warnings{0};

uint3 block_index(const Job& j, uint64_t b) {
    uint3 r;
    r.x = unsigned(b % j.cfg.grid[0]);
    r.y = unsigned((b / j.cfg.grid[0]) % j.cfg.grid[1]);
    r.z = unsigned(b / (uint64_t(j.cfg.grid[0]) * j.cfg.grid[1]));
    return r;
}
std::string where(const Job& j, uint3 b) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "kernel %s block (%u,%u,%u)", j.name, b.x, b.y, b.z);
    return buf;
}
[[maybe_unused]] void divergent_sync(Job& j, uint3 b, unsigned mn, unsigned mx) {
    std::string m = where(j, b) + ": threads executed different numbers of __syncthreads() (min " +
                    std::to_string(mn) + ", max " + std::to_string(mx) +
                    "); __syncthreads in divergent code is undefined behaviour on a GPU";
    if (g_strict) {
        j.fail(CU_LAUNCH_FAILED, m);
    } else if (g_warnings.fetch_add(1) < 10) {
        std::fprintf(stderr, "[cudasim] WARNING %s\n", m.c_str());
    }
}
}  // namespace

// =====================================================================================================
// Fiber engine
// =====================================================================================================
#if defined(__x86_64__) && !defined(CUDASIM_UCONTEXT)
#define CUDASIM_SWITCH_ASM 1
// void cudasim_ctx_switch(void** save_sp, void* load_sp): saves callee-saved regs + MXCSR/x87 CW on the
// current stack, stores rsp in *save_sp, switches to load_sp and restores the same frame from there.
extern "C" void cudasim_ctx_switch(void** save_sp, void* load_sp);
extern "C" void cudasim_fiber_trampoline();
asm(R"(
    .text
    .p2align 4
    .globl cudasim_ctx_switch
    .hidden cudasim_ctx_switch
    .type cudasim_ctx_switch,@function
cudasim_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cudasim_ctx_switch, .-cudasim_ctx_switch

    .p2align 4
    .globl cudasim_fiber_trampoline
    .hidden cudasim_fiber_trampoline
    .type cudasim_fiber_trampoline,@function
cudasim_fiber_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cudasim_fiber_trampoline, .-cudasim_fiber_trampoline
)");
#else
#include <ucontext.h>
#endif

namespace {
struct Worker;
void fiber_main(void* arg);

struct Fiber {
#if CUDASIM_SWITCH_ASM
    void* sp = nullptr;
#else
    ucontext_t uc;
#endif
    char* stack = nullptr;
    size_t stack_size = 0;
    uint3 tid{};
    unsigned linear = 0;
    bool done = true;
    const uint32_t* wait_ptr = nullptr;  // runnable unless *wait_ptr == wait_gen
    uint32_t wait_gen = 0;
    uint32_t syncs = 0;
};

struct WarpState {
    uint32_t size = 0, live = 0, arrived = 0, gen = 0, exited = 0;
    uint64_t slot[32];
};

struct Worker {
#if CUDASIM_SWITCH_ASM
    void* sched_sp = nullptr;
#else
    ucontext_t sched_uc;
#endif
    std::vector<Fiber*> fibers;
    Fiber* cur = nullptr;
    Job* job = nullptr;
    uint32_t live = 0, arrived = 0, gen = 0;  // block barrier (__syncthreads)
    int acc[2] = {0, 0};                       // __syncthreads_count accumulators (by generation parity)
    WarpState warps[32];
    uint64_t progress = 0;
    uint64_t switches = 0;
    std::vector<unsigned char> dyn;            // dynamic shared memory of the running block
    std::vector<unsigned> order;               // fiber scheduling order of the running block
    bool trapped = false;
    int trap_code = 0;
    std::string trap_msg;
    // fault handling (read by the signal handler: plain fields, no TLS access there)
    volatile int in_fiber = 0;
    volatile int faulting = 0;
    void* fault_addr = nullptr;
    uintptr_t fault_pc = 0;
    int fault_write = 0;
    int os_tid = 0;
    ~Worker();
    void destroy_fibers() {
        for (Fiber* f : fibers) {
            munmap(f->stack, f->stack_size);
            delete f;
        }
    }
};
// Registry of worker threads for the fault handler (which must not touch TLS of a dlopen'ed library).
constexpr int kMaxWorkers = 256;
std::atomic<int> g_worker_tid[kMaxWorkers];
Worker* g_worker_ptr[kMaxWorkers];
void register_worker(Worker* w) {
    w->os_tid = int(syscall(SYS_gettid));
    for (int i = 0; i < kMaxWorkers; ++i) {
        int expected = 0;
        if (g_worker_tid[i].load() == 0 && g_worker_tid[i].compare_exchange_strong(expected, -1)) {
            g_worker_ptr[i] = w;
            g_worker_tid[i].store(w->os_tid);
            return;
        }
    }
}
Worker* find_worker(int tid) {
    for (int i = 0; i < kMaxWorkers; ++i)
        if (g_worker_tid[i].load(std::memory_order_acquire) == tid) return g_worker_ptr[i];
    return nullptr;
}
Worker::~Worker() {
    for (int i = 0; i < kMaxWorkers; ++i)
        if (g_worker_ptr[i] == this && g_worker_tid[i].load() == os_tid) {
            g_worker_tid[i].store(-1);
            g_worker_ptr[i] = nullptr;
            g_worker_tid[i].store(0);
        }
    destroy_fibers();
}
CUDASIM_TLS Worker* tl_w = nullptr;              // hot: read at every switch
thread_local std::unique_ptr<Worker> tl_owner;  // frees the worker's fiber stacks at thread exit
inline Worker& worker() {
    if (__builtin_expect(tl_w == nullptr, 0)) {
        tl_owner = std::make_unique<Worker>();
        register_worker(tl_owner.get());
        tl_w = tl_owner.get();
    }
    return *tl_w;
}

const size_t g_stack_bytes = size_t(std::max(16, env_int("CUDASIM_STACK_KB", 256))) * 1024;

void init_ctx(Fiber* f, Worker* w) {
#if CUDASIM_SWITCH_ASM
    uint64_t* top = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(f->stack) + f->stack_size) & ~uintptr_t(15));
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    top[-1] = 0;
    top[-2] = 0;
    top[-3] = reinterpret_cast<uint64_t>(&cudasim_fiber_trampoline);  // ret -> rsp%16==0 at the call
    top[-4] = 0;                                                       // rbp
    top[-5] = 0;                                                       // rbx
    top[-6] = reinterpret_cast<uint64_t>(w);                           // r12 = arg
    top[-7] = reinterpret_cast<uint64_t>(&fiber_main);                 // r13 = entry
    top[-8] = 0;                                                       // r14
    top[-9] = 0;                                                       // r15
    top[-10] = uint64_t(mxcsr) | (uint64_t(fpucw) << 32);
    f->sp = &top[-10];
#else
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack + sysconf(_SC_PAGESIZE);
    f->uc.uc_stack.ss_size = f->stack_size - sysconf(_SC_PAGESIZE);
    f->uc.uc_link = nullptr;
    uintptr_t p = reinterpret_cast<uintptr_t>(w);
    makecontext(&f->uc, reinterpret_cast<void (*)()>(+[](unsigned hi, unsigned lo) {
                    fiber_main(reinterpret_cast<void*>((uintptr_t(hi) << 32) | lo));
                }),
                2, unsigned(p >> 32), unsigned(p & 0xffffffffu));
#endif
}

inline void to_fiber(Worker& w, Fiber* f) {
#if CUDASIM_SWITCH_ASM
    cudasim_ctx_switch(&w.sched_sp, f->sp);
#else
    swapcontext(&w.sched_uc, &f->uc);
#endif
}
inline void to_scheduler(Worker& w, Fiber* f) {
#if CUDASIM_SWITCH_ASM
    cudasim_ctx_switch(&f->sp, w.sched_sp);
#else
    swapcontext(&f->uc, &w.sched_uc);
#endif
}

Fiber* new_fiber(Worker* w) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t total = g_stack_bytes + page;
    void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    mprotect(mem, page, PROT_NONE);  // guard page: a fiber stack overflow faults instead of corrupting
    Fiber* f = new Fiber();
    f->stack = static_cast<char*>(mem);
    f->stack_size = total;
    init_ctx(f, w);
    return f;
}

void fiber_exit(Worker& w) {
    Fiber* f = w.cur;
    f->done = true;
    w.live--;
    w.progress++;
    WarpState& ws = w.warps[f->linear / 32];
    ws.live--;
    ws.exited |= 1u << (f->linear % 32);
    if (w.arrived > 0 && w.arrived == w.live) {  // exited threads no longer hold back __syncthreads
        w.arrived = 0;
        w.acc[(w.gen + 1) & 1] = 0;
        w.gen++;
    }
    if (ws.arrived > 0 && ws.arrived == ws.live) {
        ws.arrived = 0;
        ws.gen++;
    }
    to_scheduler(w, f);  // resumed here when the fiber is given the next CUDA thread
}

void fiber_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    for (;;) {
        w.job->body(w.job->ctx);
        fiber_exit(w);
    }
}

void wait_on(Worker& w, Fiber* f, const uint32_t* gen_ptr, uint32_t g) {
    f->wait_ptr = gen_ptr;
    f->wait_gen = g;
    to_scheduler(w, f);
    f->wait_ptr = nullptr;
}

int block_barrier(int pred) {
    Worker& w = *tl_w;
    Fiber* f = w.cur;
    f->syncs++;
    const uint32_t g = w.gen;
    w.acc[g & 1] += pred;
    if (++w.arrived == w.live) {
        w.arrived = 0;
        w.acc[(g + 1) & 1] = 0;
        w.gen++;
        w.progress++;
    } else {
        wait_on(w, f, &w.gen, g);
    }
    return w.acc[g & 1];
}

void warp_barrier(Worker& w, Fiber* f) {
    WarpState& ws = w.warps[f->linear / 32];
    const uint32_t g = ws.gen;
    if (++ws.arrived == ws.live) {
        ws.arrived = 0;
        ws.gen++;
        w.progress++;
    } else {
        wait_on(w, f, &ws.gen, g);
    }
}

void ensure_fibers(Worker& w, unsigned n) {
    while (w.fibers.size() < n) {
        Fiber* f = new_fiber(&w);
        if (!f) throw std::bad_alloc();
        w.fibers.push_back(f);
    }
}

void run_block(Worker& w, Job& j, uint64_t b) {
    const uint3 bid = block_index(j, b);
    blockIdx = bid;
    blockDim = dim3(j.cfg.block[0], j.cfg.block[1], j.cfg.block[2]);
    gridDim = dim3(j.cfg.grid[0], j.cfg.grid[1], j.cfg.grid[2]);
    const unsigned n = j.nthreads, bx = j.cfg.block[0], by = j.cfg.block[1];
    w.job = &j;
    w.live = n;
    w.arrived = 0;
    w.acc[0] = w.acc[1] = 0;
    w.trapped = false;
    w.faulting = 0;
    if (w.dyn.size() < j.cfg.shared_bytes) w.dyn.resize(j.cfg.shared_bytes);
    if (g_poison && j.cfg.shared_bytes) std::memset(w.dyn.data(), 0xff, j.cfg.shared_bytes);
    for (unsigned k = 0; k < (n + 31) / 32; ++k) {
        WarpState& ws = w.warps[k];
        ws.size = ws.live = std::min(32u, n - 32 * k);
        ws.arrived = 0;
        ws.exited = 0;
    }
    for (unsigned i = 0; i < n; ++i) {
        Fiber* f = w.fibers[i];
        f->done = false;
        f->wait_ptr = nullptr;
        f->syncs = 0;
        f->linear = i;
        f->tid = uint3{i % bx, (i / bx) % by, i / (bx * by)};
    }
    auto abort_block = [&](int code, const std::string& m) {
        for (unsigned i = 0; i < n; ++i) init_ctx(w.fibers[i], &w);  // abandon the suspended frames
        j.fail(code, m);
    };
    if (w.order.size() < n) w.order.resize(n);
    for (unsigned i = 0; i < n; ++i) w.order[i] = g_order == 1 ? n - 1 - i : i;
    if (g_order == 2) {  // Fisher-Yates with a per-block xorshift seed
        uint32_t x = g_seed ^ uint32_t(b * 2654435761u) ^ 0x9e3779b9u;
        for (unsigned i = n - 1; i > 0; --i) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            std::swap(w.order[i], w.order[x % (i + 1)]);
        }
    }
    while (w.live > 0) {
        const uint64_t p0 = w.progress;
        for (unsigned k = 0; k < n; ++k) {
            Fiber* f = w.fibers[w.order[k]];
            if (f->done || (f->wait_ptr && *f->wait_ptr == f->wait_gen)) continue;
            w.cur = f;
            threadIdx = f->tid;
            w.switches++;
            w.in_fiber = 1;
            to_fiber(w, f);
            w.in_fiber = 0;
            if (w.trapped) {
                abort_block(w.trap_code, where(j, bid) + " thread (" + std::to_string(f->tid.x) + "," +
                                           std::to_string(f->tid.y) + "," + std::to_string(f->tid.z) + "): " + w.trap_msg);
                return;
            }
        }
        if (w.live > 0 && w.progress == p0) {
            unsigned at_block = 0, at_warp = 0;
            for (unsigned i = 0; i < n; ++i) {
                Fiber* f = w.fibers[i];
                if (f->done) continue;
                (f->wait_ptr == &w.gen ? at_block : at_warp)++;
            }
            abort_block(CU_LAUNCH_FAILED, where(j, bid) + ": deadlock, " + std::to_string(at_block) +
                                              " threads wait in __syncthreads and " + std::to_string(at_warp) +
                                              " in warp-level sync (__syncwarp/__shfl*/__ballot) that can never complete");
            return;
        }
    }
    unsigned mn = ~0u, mx = 0;
    for (unsigned i = 0; i < n; ++i) {
        mn = std::min(mn, w.fibers[i]->syncs);
        mx = std::max(mx, w.fibers[i]->syncs);
    }
    if (mn != mx) divergent_sync(j, bid, mn, mx);
    g_stats.switches.fetch_add(w.switches, std::memory_order_relaxed);
    w.switches = 0;
}

void work(Job& j, bool helper) {
    Worker& w = worker();
    try {
        ensure_fibers(w, j.nthreads);
    } catch (...) {
        j.fail(CU_LAUNCH_FAILED, "cannot allocate fiber stacks");
        return;
    }
    for (;;) {
        if (j.error.load(std::memory_order_relaxed)) return;
        const uint64_t b = j.next.fetch_add(1, std::memory_order_relaxed);
        if (b >= j.nblocks) return;
        run_block(w, j, b);
        g_stats.blocks.fetch_add(1, std::memory_order_relaxed);
        if (helper) g_stats.helper_blocks.fetch_add(1, std::memory_order_relaxed);
    }
}

// helper threads that take whole blocks of the same launch
struct Pool {
    std::mutex m;
    std::condition_variable cv, cv_done;
    std::vector<std::thread> threads;
    Job* job = nullptr;
    uint64_t seq = 0;
    bool open = false;
    unsigned want = 0, joined = 0, active = 0;

    Pool() {
        unsigned hw = std::max(1u, std::thread::hardware_concurrency());
        int n = env_int("CUDASIM_WORKERS", int(hw));
        for (int i = 1; i < n; ++i) threads.emplace_back([this] { loop(); });
    }
    void loop() {
        uint64_t seen = 0;
        for (;;) {
            Job* j = nullptr;
            {
                std::unique_lock<std::mutex> lk(m);
                cv.wait(lk, [&] { return seq != seen; });
                seen = seq;
                if (!open || joined >= want) continue;
                joined++;
                active++;
                j = job;
            }
            work(*j, true);
            std::lock_guard<std::mutex> lk(m);
            if (--active == 0) cv_done.notify_all();
        }
    }
    void run(Job& j) {
        const unsigned helpers = unsigned(std::min<uint64_t>(threads.size(), j.nblocks - 1));
        if (helpers) {
            std::lock_guard<std::mutex> lk(m);
            job = &j;
            seq++;
            open = true;
            want = helpers;
            joined = 0;
            cv.notify_all();
        }
        work(j, false);
        if (helpers) {
            std::unique_lock<std::mutex> lk(m);
            open = false;
            cv_done.wait(lk, [&] { return active == 0; });
        }
    }
};
Pool& pool() {
    static Pool* p = new Pool();  // never destroyed: helper threads live until process exit
    return *p;
}
}  // namespace

void syncthreads() { block_barrier(0); }
int syncthreads_count(int pred) { return block_barrier(pred ? 1 : 0); }
void syncwarp(unsigned) {
    Worker& w = *tl_w;
    warp_barrier(w, w.cur);
}
void* dynamic_shared() { return tl_w->dyn.data(); }
int lane_id() { return int(tl_w->cur->linear % 32); }
uint64_t warp_exchange(uint64_t mine, int src) {
    Worker& w = *tl_w;
    Fiber* f = w.cur;
    WarpState& ws = w.warps[f->linear / 32];
    ws.slot[f->linear % 32] = mine;
    warp_barrier(w, f);
    const uint64_t r = (unsigned(src) < ws.size) ? ws.slot[src] : mine;  // non-existent lane: own value
    warp_barrier(w, f);
    return r;
}
unsigned warp_ballot(int pred) {
    Worker& w = *tl_w;
    Fiber* f = w.cur;
    WarpState& ws = w.warps[f->linear / 32];
    ws.slot[f->linear % 32] = pred ? 1 : 0;
    warp_barrier(w, f);
    unsigned r = 0;
    for (unsigned l = 0; l < ws.size; ++l)
        if (!(ws.exited & (1u << l)) && ws.slot[l]) r |= 1u << l;
    warp_barrier(w, f);
    return r;
}
unsigned active_mask() {
    Worker& w = *tl_w;
    const WarpState& ws = w.warps[w.cur->linear / 32];
    const unsigned full = ws.size == 32 ? 0xffffffffu : ((1u << ws.size) - 1);
    return full & ~ws.exited;
}
[[noreturn]] void trap_with(int code, const char* why) {
    Worker& w = *tl_w;
    w.trapped = true;
    w.trap_code = code;
    w.trap_msg = why;
    to_scheduler(w, w.cur);  // never resumed: the scheduler abandons the block
    std::abort();
}

int run_grid_impl(Job& j) {
    pool().run(j);
    return j.error.load();
}
const char* engine_name() {
#if CUDASIM_SWITCH_ASM
    return "fibers(x86-64 asm switch)";
#else
    return "fibers(ucontext)";
#endif
}


[[noreturn]] void trap(const char* why) { trap_with(CU_ASSERT, why); }

// ---- faults in kernels -> CUDA_ERROR_ILLEGAL_ADDRESS ------------------------------------------------------
namespace {
struct sigaction g_old_segv, g_old_bus;
// Runs on the faulting fiber's stack once the signal handler has returned (see on_fault).
[[noreturn]] void fault_entry() {
    Worker& w = *tl_w;
    char buf[200];
    std::snprintf(buf, sizeof buf, "illegal address: invalid %s of address %p (pc %p; past the end of an allocation = guard page, or freed memory)",
                  w.fault_write ? "write" : "read", w.fault_addr, reinterpret_cast<void*>(w.fault_pc));
    trap_with(CU_ILLEGAL_ADDRESS, buf);
}
void chain(int sig, siginfo_t* si, void* uc) {
    const struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
    if (old.sa_flags & SA_SIGINFO) {
        if (old.sa_sigaction) old.sa_sigaction(sig, si, uc);
        return;
    }
    if (old.sa_handler == SIG_IGN) return;
    if (old.sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);  // the faulting instruction runs again and the default action ends the process
        return;
    }
    old.sa_handler(sig);
}
void on_fault(int sig, siginfo_t* si, void* ucv) {
#if defined(__x86_64__)
    Worker* w = find_worker(int(syscall(SYS_gettid)));
    if (w && w->in_fiber && !w->faulting) {
        ucontext_t* uc = static_cast<ucontext_t*>(ucv);
        w->faulting = 1;
        w->fault_addr = si->si_addr;
        w->fault_pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
        w->fault_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
        greg_t sp = uc->uc_mcontext.gregs[REG_RSP];
        sp = ((sp - 512) & ~greg_t(15)) - 8;  // below the red zone, aligned as right after a call
        uc->uc_mcontext.gregs[REG_RSP] = sp;
        uc->uc_mcontext.gregs[REG_RIP] = greg_t(reinterpret_cast<uintptr_t>(&fault_entry));
        return;
    }
#endif
    chain(sig, si, ucv);
}
void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (!env_int("CUDASIM_CATCH_FAULTS", 1)) return;
        struct sigaction sa {};
        sa.sa_sigaction = &on_fault;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, nullptr, &g_old_segv);
        sigaction(SIGBUS, nullptr, &g_old_bus);
        sa.sa_flags = SA_SIGINFO | SA_RESTART | (g_old_segv.sa_flags & SA_ONSTACK);
        sigaction(SIGSEGV, &sa, nullptr);
        sa.sa_flags = SA_SIGINFO | SA_RESTART | (g_old_bus.sa_flags & SA_ONSTACK);
        sigaction(SIGBUS, &sa, nullptr);
    });
}
}  // namespace

int run_grid(const cudasim_launch_cfg& cfg, BodyFn body, void* ctx, const char* name) {
    install_fault_handler();
    const uint64_t nthreads = uint64_t(cfg.block[0]) * cfg.block[1] * cfg.block[2];
    const uint64_t nblocks = uint64_t(cfg.grid[0]) * cfg.grid[1] * cfg.grid[2];
    if (nthreads == 0 || nthreads > 1024 || nblocks == 0) return CU_INVALID_VALUE;
    std::lock_guard<std::mutex> launch_lock(g_launch_m);
    Job j;
    j.cfg = cfg;
    j.body = body;
    j.ctx = ctx;
    j.name = name;
    j.nthreads = unsigned(nthreads);
    j.nblocks = nblocks;
    g_stats.launches.fetch_add(1, std::memory_order_relaxed);
    g_stats.threads.fetch_add(nblocks * nthreads, std::memory_order_relaxed);
    const int rc = run_grid_impl(j);
    if (rc) {
        std::lock_guard<std::mutex> g(g_err_m);
        g_last_error = j.msg;
    }
    return rc;
}
int run_grid(const cudasim_launch_cfg& cfg, BodyFn body, void* ctx) { return run_grid(cfg, body, ctx, "?"); }
}  // namespace cudasim

// C API for the stand-in driver
extern "C" __attribute__((visibility("default"))) const char* cudasim_last_error() {
    std::lock_guard<std::mutex> g(cudasim::g_err_m);
    static thread_local std::string copy;
    copy = cudasim::g_last_error;
    return copy.c_str();
}
extern "C" __attribute__((visibility("default"))) const char* cudasim_engine() { return cudasim::engine_name(); }

// assert() in kernel code -> the launch fails with CUDA_ERROR_ASSERT instead of abort()ing the JVM.
// Hidden, so it binds inside libkernels_sim.so only.
extern "C" __attribute__((visibility("hidden"), noreturn)) void __assert_fail(const char* expr, const char* file,
                                                                               unsigned int line, const char* fn) noexcept {
    static thread_local char buf[512];
    std::snprintf(buf, sizeof buf, "assert(%s) failed at %s:%u in %s", expr, file, line, fn);
    cudasim::trap(buf);
}
