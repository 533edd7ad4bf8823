// The emulator's launch machinery (see cuda_emu.hpp for the model). Exposes a C API to Rust:
// stsm_emu_launch runs one kernel by name and returns 0 or an error message.
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <array>
#include <exception>
#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_emu.hpp"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

// Bounds of the section holding every emulated static __shared__ array (set by the linker;
// weak so a build without any shared array still links).
extern "C" char __start_stsm_shared[] __attribute__((weak));
extern "C" char __stop_stsm_shared[] __attribute__((weak));

namespace stsm_emu {

extern const KernelEntry* const kTables[];
extern const KernelEntry* const kMutantTables[];

namespace {

// Thrown inside a thread to unwind it once the launch has failed.
struct Abort {};

// One emulated cp.async: destination and the source bytes read at issue (zero-filled past
// src_bytes), written to the destination when its group retires.
struct PendingCopy {
    unsigned char* dst;
    unsigned char bytes[16];
};

// One shared-memory access of a thread, for the bank-conflict count.
struct SharedAccess {
    const void* addr;
    int bytes;
};

// Shared-memory traffic of one kind: warp-level instructions, the 128-byte wavefronts they
// took, and how many of those were extra (bank conflicts) beyond one per phase.
struct AccessCounts {
    u64 instructions = 0, wavefronts = 0, extra = 0;
    void add(const AccessCounts& o) {
        instructions += o.instructions;
        wavefronts += o.wavefronts;
        extra += o.extra;
    }
};
enum AccessKind { kLdmatrix = 0, kCpAsync = 1, kStShared = 2, kAccessKinds = 3 };

// Per emulated thread, reset before each block.
struct ThreadCtx {
    std::vector<PendingCopy> open_copies;               // issued, not yet committed
    std::deque<std::vector<PendingCopy>> copy_groups;   // committed, oldest first
    std::vector<SharedAccess> stores[2];                // [0] cp.async, [1] st.shared, in issue order
    AccessCounts ldmatrix;                              // warps' ldmatrix, counted by lane 0

    void reset() {
        open_copies.clear();
        copy_groups.clear();
        stores[0].clear();
        stores[1].clear();
        ldmatrix = AccessCounts{};
    }
};

// The wavefronts one warp-level shared access takes: lanes are served in phases of 128 bytes
// (32 lanes of 4 bytes, 16 of 8, 8 of 16); within a phase each of the 32 four-byte banks
// delivers one distinct word per wavefront (lanes touching the same word share it).
AccessCounts count_wavefronts(const SharedAccess* by_lane, const bool* active, int lanes) {
    int width = 4;
    for (int l = 0; l < lanes; ++l)
        if (active[l]) width = std::max(width, by_lane[l].bytes);
    const int per_phase = 128 / width;
    AccessCounts c;
    c.instructions = 1;
    for (int p0 = 0; p0 < lanes; p0 += per_phase) {
        uintptr_t words[32][32];  // per bank, the distinct words requested
        int count[32] = {};
        bool any = false;
        for (int l = p0; l < std::min(lanes, p0 + per_phase); ++l) {
            if (!active[l]) continue;
            any = true;
            const uintptr_t first = (uintptr_t)by_lane[l].addr / 4;
            for (uintptr_t w = first; w < first + (uintptr_t)std::max(1, by_lane[l].bytes / 4); ++w) {
                const int bank = (int)(w % 32);
                bool seen = false;
                for (int i = 0; i < count[bank]; ++i) seen = seen || words[bank][i] == w;
                if (!seen && count[bank] < 32) words[bank][count[bank]++] = w;
            }
        }
        if (!any) continue;
        const int wave = *std::max_element(count, count + 32);
        c.wavefronts += (u64)wave;
        c.extra += (u64)(wave - 1);
    }
    return c;
}

// Participants of one barrier (the block's __syncthreads, or one warp's shuffle barrier).
// Each barrier has its own condition variable: a completing warp shuffle then wakes only its
// 32 lanes, not every thread of the block (which made emulation quadratic in block size).
struct BarrierState {
    int size = 0, arrived = 0, exited = 0;
    u64 generation = 0;
    std::condition_variable cv;

    void reset(int n) {
        size = n;
        arrived = exited = 0;
    }
};

struct Launch {
    const KernelEntry* kernel = nullptr;
    const void* params = nullptr;
    dim3 grid, block;
    int threads = 0;
    u64 blocks = 0, next_block = 0, current_block = 0;
    bool stop = false;
    std::vector<u64> dynamic_shared;  // u64 for 8-byte alignment
    std::vector<u64> gather;          // kGatherSlotBytes per thread for warp collectives
    std::vector<ThreadCtx> ctx;       // per emulated thread
    AccessCounts counts[kAccessKinds];  // bank-conflict tally of the whole launch
    double watchdog_s = 30;

    std::mutex m;
    bool failed = false;
    std::string error;
    BarrierState block_barrier;
    std::vector<BarrierState> warp_barriers;  // sized once per launch, never reallocated

    void fail(std::string msg) {  // m held
        if (!failed) {
            failed = true;
            error = std::move(msg);
        }
        block_barrier.cv.notify_all();
        for (auto& w : warp_barriers) w.cv.notify_all();
    }
    std::string where() const {
        return std::string(kernel->name) + " block " + std::to_string(current_block);
    }
};

thread_local ThreadState tls_state;
thread_local Launch* tls_launch = nullptr;
thread_local int tls_tid = 0;
thread_local ThreadCtx* tls_ctx = nullptr;

// Adds the finished block's shared-memory accesses to the launch's tally: the n-th store of
// each lane of a warp counts as one warp-level instruction (exact for warp-uniform code).
void tally_block(Launch& L) {
    for (int w0 = 0; w0 < L.threads; w0 += 32) {
        const int lanes = std::min(32, L.threads - w0);
        for (int kind = 0; kind < 2; ++kind) {
            size_t n = 0;
            for (int l = 0; l < lanes; ++l) n = std::max(n, L.ctx[w0 + l].stores[kind].size());
            for (size_t i = 0; i < n; ++i) {
                SharedAccess by_lane[32];
                bool active[32];
                for (int l = 0; l < lanes; ++l) {
                    const auto& v = L.ctx[w0 + l].stores[kind];
                    active[l] = i < v.size();
                    if (active[l]) by_lane[l] = v[i];
                }
                L.counts[kind == 0 ? kCpAsync : kStShared].add(count_wavefronts(by_lane, active, lanes));
            }
        }
    }
    for (auto& c : L.ctx) {
        L.counts[kLdmatrix].add(c.ldmatrix);
        c.reset();
    }
}

// Waits at `b` until all its live participants arrive; detects divergence (some exited while
// others wait) and deadlock (nobody came for watchdog_s).
void barrier_wait(Launch& L, BarrierState& b, const char* what) {
    std::unique_lock<std::mutex> lk(L.m);
    if (L.failed) throw Abort{};
    ++b.arrived;
    if (b.arrived == b.size) {
        b.arrived = 0;
        ++b.generation;
        b.cv.notify_all();
        return;
    }
    if (b.arrived + b.exited == b.size) {
        L.fail(L.where() + ": " + what + " reached by " + std::to_string(b.arrived) + " of " +
               std::to_string(b.size) + " threads; the others had returned (divergent barrier)");
        throw Abort{};
    }
    const u64 gen = b.generation;
    const auto start = std::chrono::steady_clock::now();
    while (b.generation == gen && !L.failed) {
        b.cv.wait_for(lk, std::chrono::milliseconds(50));
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (b.generation == gen && !L.failed && waited > L.watchdog_s) {
            L.fail(L.where() + ": deadlock at " + what + ": " + std::to_string(b.arrived) + " of " +
                   std::to_string(b.size) + " threads waited " + std::to_string((int)waited) + " s");
        }
    }
    if (b.generation == gen) throw Abort{};
}

// A thread finished its block: it no longer counts for barriers; if everyone else is
// already waiting, that barrier can never complete.
void thread_exited(Launch& L, int tid) {
    std::unique_lock<std::mutex> lk(L.m);
    auto check = [&](BarrierState& b, const char* what) {
        ++b.exited;
        if (b.arrived > 0 && b.arrived + b.exited == b.size)
            L.fail(L.where() + ": " + what + " reached by " + std::to_string(b.arrived) + " of " +
                   std::to_string(b.size) + " threads; the others had returned (divergent barrier)");
    };
    check(L.block_barrier, "__syncthreads");
    check(L.warp_barriers[tid / 32], "a warp shuffle");
}

// Fills every emulated static __shared__ array with 0xFF bytes. Under AddressSanitizer the
// section also holds the redzones that catch out-of-bounds shared indices; those stay intact.
void fill_static_shared() {
#ifdef __SANITIZE_ADDRESS__
    for (char* p = __start_stsm_shared; p < __stop_stsm_shared; ++p)
        if (!__asan_address_is_poisoned(p)) *p = (char)0xFF;
#else
    std::memset(__start_stsm_shared, 0xFF, (size_t)(__stop_stsm_shared - __start_stsm_shared));
#endif
}

// Runs between blocks, by one thread, while all others wait: next block or stop.
void prepare_next_block(Launch& L) {
    std::lock_guard<std::mutex> lk(L.m);
    if (L.failed || L.next_block == L.blocks) {
        tally_block(L);
        L.stop = true;
        return;
    }
    tally_block(L);
    L.current_block = L.next_block++;
    L.block_barrier.reset(L.threads);
    for (size_t w = 0; w < L.warp_barriers.size(); ++w) {
        const int size = std::min(32, L.threads - (int)w * 32);
        L.warp_barriers[w].reset(size);
    }
    // Garbage in shared memory before each block: a kernel that reads shared memory it did
    // not write this block sees NaN (floats) or all-ones (integers).
    if (__start_stsm_shared && __stop_stsm_shared) fill_static_shared();
    std::memset(L.dynamic_shared.data(), 0xFF, L.dynamic_shared.size() * sizeof(u64));
}

struct PrepareCompletion {
    Launch* L;
    void operator()() noexcept { prepare_next_block(*L); }
};

void thread_main(Launch& L, std::barrier<PrepareCompletion>& between_blocks, int tid) {
    tls_launch = &L;
    tls_tid = tid;
    tls_ctx = &L.ctx[tid];
    tls_state.block_dim = L.block;
    tls_state.grid_dim = L.grid;
    tls_state.thread_idx = dim3{(unsigned)tid % L.block.x, (unsigned)tid / L.block.x % L.block.y,
                                (unsigned)tid / (L.block.x * L.block.y)};
    for (;;) {
        between_blocks.arrive_and_wait();
        if (L.stop) break;
        const u64 b = L.current_block;
        tls_state.block_idx = dim3{(unsigned)(b % L.grid.x), (unsigned)(b / L.grid.x % L.grid.y),
                                   (unsigned)(b / ((u64)L.grid.x * L.grid.y))};
        try {
            L.kernel->run(L.params);
        } catch (const Abort&) {
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lk(L.m);
            L.fail(L.where() + ": exception: " + e.what());
        }
        thread_exited(L, tid);
    }
    tls_launch = nullptr;
}

const KernelEntry* find_kernel(const char* name, bool mutant) {
    for (const KernelEntry* const* t = mutant ? kMutantTables : kTables; *t; ++t)
        for (const KernelEntry* e = *t; e->name; ++e)
            if (std::strcmp(e->name, name) == 0) return e;
    return nullptr;
}

// Emulated launches are serialised process-wide: static __shared__ storage is one copy.
std::mutex launch_lock;

// OS threads kept across launches (creating a block's worth of threads per launch cost more
// than the small kernels themselves). Worker i runs emulated thread i of every launch with
// more than i threads; run() returns when all of them have finished.
class WorkerPool {
  public:
    void run(int n, const std::function<void(int)>& job) {
        std::unique_lock<std::mutex> lk(m_);
        while ((int)workers_ < n) {
            std::thread(&WorkerPool::worker, this, (int)workers_).detach();
            ++workers_;
        }
        job_ = &job;
        job_threads_ = n;
        remaining_ = n;
        ++generation_;
        work_.notify_all();
        done_.wait(lk, [&] { return remaining_ == 0; });
        job_ = nullptr;
    }

  private:
    void worker(int i) {
        u64 seen = 0;
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            work_.wait(lk, [&] { return generation_ != seen; });
            seen = generation_;
            if (i >= job_threads_) continue;
            const std::function<void(int)>* job = job_;
            lk.unlock();
            (*job)(i);
            lk.lock();
            if (--remaining_ == 0) done_.notify_one();
        }
    }

    std::mutex m_;
    std::condition_variable work_, done_;
    size_t workers_ = 0;
    u64 generation_ = 0;
    const std::function<void(int)>* job_ = nullptr;
    int job_threads_ = 0, remaining_ = 0;
};

// Leaked on purpose: detached workers block on it until the process exits.
WorkerPool& worker_pool() {
    static WorkerPool* pool = new WorkerPool;
    return *pool;
}

// Per kernel name, the shared-memory access counts of its last launch.
std::mutex counts_lock;
std::map<std::string, std::array<AccessCounts, kAccessKinds>> last_counts;

// Seconds a barrier may wait before the launch is declared deadlocked.
std::atomic<double> watchdog_secs{30.0};

}  // namespace

ThreadState& state() { return tls_state; }

void syncthreads() { barrier_wait(*tls_launch, tls_launch->block_barrier, "__syncthreads"); }

void* dynamic_shared() { return tls_launch->dynamic_shared.data(); }

int lane_id() { return tls_tid % 32; }

const void* warp_gather_begin(const void* mine, size_t bytes, const char* what, bool full_warp) {
    Launch& L = *tls_launch;
    const int warp = tls_tid / 32;
    BarrierState& b = L.warp_barriers[warp];
    if (full_warp && b.size != 32)
        throw std::runtime_error(std::string(what) + " needs a full warp of 32 threads; this warp has " +
                                 std::to_string(b.size));
    if (bytes > kGatherSlotBytes) throw std::runtime_error(std::string(what) + ": warp gather slot too small");
    unsigned char* area = reinterpret_cast<unsigned char*>(L.gather.data());
    std::memcpy(area + (size_t)tls_tid * kGatherSlotBytes, mine, bytes);
    barrier_wait(L, b, what);
    return area + (size_t)warp * 32 * kGatherSlotBytes;
}

void warp_gather_end(const char* what) {
    Launch& L = *tls_launch;
    barrier_wait(L, L.warp_barriers[tls_tid / 32], what);
}

u64 warp_exchange(u64 bits, int src) {
    const unsigned char* all =
        static_cast<const unsigned char*>(warp_gather_begin(&bits, sizeof bits, "a warp shuffle", false));
    const int size = tls_launch->warp_barriers[tls_tid / 32].size;
    u64 r = bits;
    if (src >= 0 && src < size) std::memcpy(&r, all + (size_t)src * kGatherSlotBytes, sizeof r);
    warp_gather_end("a warp shuffle");
    return r;
}

void cp_async_16(void* smem_dst, const void* gmem_src, int src_bytes) {
    if (((uintptr_t)smem_dst | (uintptr_t)gmem_src) % 16 != 0)
        throw std::runtime_error("cp.async: shared and global addresses must be 16-byte aligned");
    if (src_bytes < 0 || src_bytes > 16) throw std::runtime_error("cp.async: src_bytes outside [0, 16]");
    PendingCopy c;
    c.dst = static_cast<unsigned char*>(smem_dst);
    std::memset(c.bytes, 0, sizeof c.bytes);
    if (src_bytes > 0) std::memcpy(c.bytes, gmem_src, (size_t)src_bytes);
    // Poison until the matching wait: a read before it sees NaN.
    std::memset(smem_dst, 0xFF, 16);
    tls_ctx->open_copies.push_back(c);
    tls_ctx->stores[0].push_back(SharedAccess{smem_dst, 16});
}

void cp_async_commit() {
    ThreadCtx& t = *tls_ctx;
    t.copy_groups.push_back(std::move(t.open_copies));
    t.open_copies.clear();
}

void cp_async_wait(int pending_groups) {
    ThreadCtx& t = *tls_ctx;
    while (t.copy_groups.size() > (size_t)std::max(0, pending_groups)) {
        for (const PendingCopy& c : t.copy_groups.front()) std::memcpy(c.dst, c.bytes, sizeof c.bytes);
        t.copy_groups.pop_front();
    }
}

void note_shared_store(const void* addr, int bytes) {
    if ((uintptr_t)addr % (uintptr_t)bytes != 0)
        throw std::runtime_error("st.shared of " + std::to_string(bytes) + " bytes at a misaligned address");
    tls_ctx->stores[1].push_back(SharedAccess{addr, bytes});
}

void note_ldmatrix(const void* const* rows, int matrices) {
    SharedAccess by_lane[32];
    bool active[32];
    for (int l = 0; l < 32; ++l) {
        active[l] = l < 8 * matrices;
        by_lane[l] = SharedAccess{rows[l], 16};
    }
    tls_ctx->ldmatrix.add(count_wavefronts(by_lane, active, 32));
}

}  // namespace stsm_emu

void stsm_emu_require_full_mask(unsigned mask) {
    if (mask != 0xffffffffu) throw std::runtime_error("partial-mask warp shuffles are not emulated");
}

namespace {
void write_error(char* err, size_t cap, const std::string& msg) {
    if (cap == 0) return;
    const size_t n = std::min(cap - 1, msg.size());
    std::memcpy(err, msg.data(), n);
    err[n] = 0;
}
}  // namespace

extern "C" void stsm_emu_set_watchdog_secs(double secs) { stsm_emu::watchdog_secs.store(secs); }

// Bytes of emulated static shared memory (the stsm_shared section): nonzero proves the
// linker resolved the section bounds, so the NaN refill before each block really happens.
extern "C" size_t stsm_emu_static_shared_bytes() {
    return (__start_stsm_shared && __stop_stsm_shared) ? (size_t)(__stop_stsm_shared - __start_stsm_shared) : 0;
}

extern "C" int stsm_emu_has_kernel(const char* name, int mutant) {
    return stsm_emu::find_kernel(name, mutant != 0) != nullptr;
}

// Runs kernel `name` on grid × block threads with `shared_bytes` of dynamic shared memory;
// `params` is the entry point's parameter struct (checked against its size). Returns 0, or 1
// with a message in `err`.
extern "C" int stsm_emu_launch(const char* name, int mutant, const unsigned grid[3], const unsigned block[3],
                               size_t shared_bytes, const void* params, size_t params_size, char* err,
                               size_t err_cap) {
    using namespace stsm_emu;
    const KernelEntry* k = find_kernel(name, mutant != 0);
    if (!k) {
        write_error(err, err_cap, std::string("no emulated kernel named ") + name);
        return 1;
    }
    if (k->param_size != params_size) {
        write_error(err, err_cap, std::string(name) + ": parameter struct is " + std::to_string(params_size) +
                                      " bytes from Rust but " + std::to_string(k->param_size) + " in C++");
        return 1;
    }
    const u64 threads = (u64)block[0] * block[1] * block[2];
    if (threads == 0 || threads > 1024 || grid[0] == 0 || grid[1] == 0 || grid[2] == 0) {
        write_error(err, err_cap, std::string(name) + ": invalid launch configuration");
        return 1;
    }
    std::lock_guard<std::mutex> serial(launch_lock);
    Launch L;
    L.kernel = k;
    L.params = params;
    L.grid = dim3{grid[0], grid[1], grid[2]};
    L.block = dim3{block[0], block[1], block[2]};
    L.threads = (int)threads;
    L.blocks = (u64)grid[0] * grid[1] * grid[2];
    L.dynamic_shared.assign((shared_bytes + 7) / 8 + 1, 0);
    L.gather.assign(threads * kGatherSlotBytes / sizeof(u64), 0);
    L.ctx.assign(threads, ThreadCtx{});
    L.warp_barriers = std::vector<BarrierState>((threads + 31) / 32);
    L.watchdog_s = watchdog_secs.load();
    if (const char* w = std::getenv("STSM_EMU_WATCHDOG_SECS")) L.watchdog_s = std::atof(w);
    std::barrier<PrepareCompletion> between_blocks((std::ptrdiff_t)threads, PrepareCompletion{&L});
    worker_pool().run((int)threads, [&](int t) { thread_main(L, between_blocks, t); });
    {
        std::lock_guard<std::mutex> lk(stsm_emu::counts_lock);
        auto& c = stsm_emu::last_counts[name];
        for (int k = 0; k < kAccessKinds; ++k) c[k] = L.counts[k];
    }
    if (L.failed) {
        write_error(err, err_cap, L.error);
        return 1;
    }
    return 0;
}

// Shared-memory traffic of the last launch of kernel `name`: out[3k..3k+3) = instructions,
// wavefronts, extra wavefronts (bank conflicts) for k = 0 ldmatrix, 1 cp.async, 2 st.shared.
// Returns 0 if the kernel has not been launched.
extern "C" int stsm_emu_shared_access_counts(const char* name, u64 out[9]) {
    using namespace stsm_emu;
    std::lock_guard<std::mutex> lk(counts_lock);
    auto it = last_counts.find(name);
    if (it == last_counts.end()) return 0;
    for (int k = 0; k < kAccessKinds; ++k) {
        out[3 * k] = it->second[k].instructions;
        out[3 * k + 1] = it->second[k].wavefronts;
        out[3 * k + 2] = it->second[k].extra;
    }
    return 1;
}
