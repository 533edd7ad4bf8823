// The emulator's launch machinery (see cuda_emu.hpp for the model). Exposes a C API to Rust:
// stsm_emu_launch runs one kernel by name and returns 0 or an error message.
//
// A launch runs its blocks one after another on the calling OS thread. The threads of a block
// are fibers (fiber.hpp) that a scheduler resumes in thread order, pass after pass; a fiber
// runs until it waits at a barrier (__syncthreads, or its warp's barrier inside a shuffle,
// mma or ldmatrix) or returns. The last thread to arrive completes the barrier and runs on;
// the others become runnable. A pass in which no fiber can run is a deadlock, reported at
// once; a barrier that threads can no longer complete because others returned is a divergent
// barrier. A fiber never yields between barriers, so a kernel that spin-waits on memory
// another thread writes (without a barrier in the loop) hangs: not supported.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_emu.hpp"
#include "fiber.hpp"

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

// Thrown inside a fiber to unwind it once the launch has failed.
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


// Emulator bookkeeping that several fibers of a block touch. Fiber switches carry no
// synchronisation as far as ThreadSanitizer knows, so this state is kept in relaxed atomics:
// never a reported race, and no happens-before edge that could hide a race in a kernel. A
// barrier's real ordering is modelled by tsan_release / tsan_acquire.
template <typename T>
struct Relaxed {
    std::atomic<T> v{};
    T get() const { return v.load(std::memory_order_relaxed); }
    void set(T x) { v.store(x, std::memory_order_relaxed); }
};

// Participants of one barrier (the block's __syncthreads, or one warp's collective barrier).
struct BarrierState {
    Relaxed<int> size, arrived, exited;
    Relaxed<u64> generation;
    // ThreadSanitizer sync objects, alternating by generation: a fiber that completes
    // generation g and runs on to arrive at g + 1 must not release into the object that a
    // slower waiter of g has yet to acquire.
    char sync[2] = {};

    void reset(int n) {
        size.set(n);
        arrived.set(0);
        exited.set(0);
    }
};

enum FiberStatus : int { kRunnable = 0, kWaiting = 1, kDone = 2 };

struct Launch;

// One emulated CUDA thread: its fiber and state. Kept in a pool across launches.
struct EmuThread {
    std::unique_ptr<Fiber> fiber;
    FiberContext* fiber_ctx = nullptr;  // fiber->context(), read without a (TSan-visible) call
    Launch* launch = nullptr;
    int tid = 0;
    ThreadState state;
    ThreadCtx ctx;
    Relaxed<int> status;
    Relaxed<BarrierState*> waiting_on;
    Relaxed<u64> waiting_gen;
};

// 16-byte aligned storage for dynamic shared memory (cp.async and ldmatrix need it).
struct alignas(16) Chunk16 {
    unsigned char b[16];
};

struct Launch {
    const KernelEntry* kernel = nullptr;
    const void* params = nullptr;
    dim3 grid, block;
    int threads = 0;
    u64 blocks = 0, current_block = 0;
    std::vector<Chunk16> dynamic_shared;
    std::vector<u64> warp_in, warp_out;  // kWarpSlotBytes per thread for warp collectives
    std::vector<EmuThread*> thread;
    AccessCounts counts[kAccessKinds];  // bank-conflict tally of the whole launch

    Relaxed<bool> failed;
    std::string error;  // written once, by whoever fails first
    BarrierState block_barrier;
    std::vector<BarrierState> warp_barriers;  // sized once per launch, never reallocated
    FiberContext scheduler;                   // the OS thread's own context
    char block_start_sync = 0, block_end_sync = 0;  // TSan: scheduler <-> fibers per block

    void fail(const std::string& msg) {
        if (failed.get()) return;
        error = msg;
        failed.set(true);
    }
    std::string where() const {
        return std::string(kernel->name) + " block " + std::to_string(current_block);
    }
};

// The running emulated thread (launches are serialised process-wide, so one pointer does).
std::atomic<EmuThread*> g_current{nullptr};

EmuThread& current() { return *g_current.load(std::memory_order_relaxed); }

std::string divergent(const Launch& L, const BarrierState& b, const char* what) {
    return L.where() + ": " + what + " reached by " + std::to_string(b.arrived.get()) + " of " +
           std::to_string(b.size.get()) + " threads; the others had returned (divergent barrier)";
}

// Waits at `b` until all its participants arrive (see the file comment). The last to arrive
// runs on_complete() before it lets the others go (a warp collective's computation).
template <typename OnComplete>
void barrier_wait(BarrierState& b, const char* what, const OnComplete& on_complete) {
    EmuThread& t = current();
    Launch& L = *t.launch;
    if (L.failed.get()) throw Abort{};
    const u64 gen = b.generation.get();
    void* sync = &b.sync[gen & 1];
    tsan_release(sync);
    const int arrived = b.arrived.get() + 1;
    if (arrived == b.size.get()) {
        tsan_acquire(sync);
        on_complete();  // may throw: the waiters then unwind with the failed launch
        tsan_release(sync);
        b.arrived.set(0);
        b.generation.set(gen + 1);
        return;
    }
    b.arrived.set(arrived);
    if (arrived + b.exited.get() == b.size.get()) {
        L.fail(divergent(L, b, what));
        throw Abort{};
    }
    t.waiting_on.set(&b);
    t.waiting_gen.set(gen);
    t.status.set(kWaiting);
    switch_fiber(*t.fiber_ctx, L.scheduler, false);
    if (b.generation.get() == gen) throw Abort{};  // resumed only to unwind a failed launch
    tsan_acquire(sync);
}

// A thread finished its block: it no longer counts for barriers; if everyone else is
// already waiting, that barrier can never complete.
void thread_exited(EmuThread& t) {
    Launch& L = *t.launch;
    auto check = [&](BarrierState& b, const char* what) {
        b.exited.set(b.exited.get() + 1);
        if (b.arrived.get() > 0 && b.arrived.get() + b.exited.get() == b.size.get()) L.fail(divergent(L, b, what));
    };
    check(L.block_barrier, "__syncthreads");
    check(L.warp_barriers[t.tid / 32], "a warp-collective operation");
}

// The body of every fiber: one emulated thread's run through the current block.
STSM_NO_TSAN void fiber_main(void* arg) {
    EmuThread& t = *static_cast<EmuThread*>(arg);
    fiber_started(*t.fiber_ctx);
    Launch& L = *t.launch;
    tsan_acquire(&L.block_start_sync);
    try {
        L.kernel->run(L.params);
    } catch (const Abort&) {
    } catch (const std::exception& e) {
        L.fail(L.where() + ": exception: " + e.what());
    } catch (...) {
        L.fail(L.where() + ": unknown exception");
    }
    thread_exited(t);
    t.status.set(kDone);
    tsan_release(&L.block_end_sync);
    switch_fiber(*t.fiber_ctx, L.scheduler, true);
    __builtin_unreachable();
}

// Runs every thread of the current block to completion (or to the launch's failure).
void run_block(Launch& L) {
    for (EmuThread* t : L.thread) {
        t->status.set(kRunnable);
        t->fiber->start(&fiber_main, t);
    }
    int done = 0;
    while (done < L.threads) {
        bool progressed = false;
        for (EmuThread* t : L.thread) {
            const int st = t->status.get();
            if (st == kDone) continue;
            if (st == kWaiting && !L.failed.get() && t->waiting_on.get()->generation.get() == t->waiting_gen.get())
                continue;
            t->status.set(kRunnable);
            g_current.store(t, std::memory_order_relaxed);
            switch_fiber(L.scheduler, *t->fiber_ctx, false);
            progressed = true;
            if (t->status.get() == kDone) ++done;
        }
        if (!progressed && done < L.threads) {
            // Nobody can run and not everyone has returned: a barrier deadlock. The next pass
            // resumes the waiters, which unwind.
            int at_sync = 0, at_warp = 0;
            for (EmuThread* t : L.thread)
                if (t->status.get() == kWaiting) (t->waiting_on.get() == &L.block_barrier ? at_sync : at_warp)++;
            L.fail(L.where() + ": deadlock: no thread can proceed: " + std::to_string(at_sync) + " of " +
                   std::to_string(L.threads) + " threads wait at __syncthreads, " + std::to_string(at_warp) +
                   " at warp-collective operations, " + std::to_string(done) + " had returned");
        }
    }
    g_current.store(nullptr, std::memory_order_relaxed);
    tsan_acquire(&L.block_end_sync);
}

// Adds the finished block's shared-memory accesses to the launch's tally: the n-th store of
// each lane of a warp counts as one warp-level instruction (exact for warp-uniform code).
void tally_block(Launch& L) {
    for (int w0 = 0; w0 < L.threads; w0 += 32) {
        const int lanes = std::min(32, L.threads - w0);
        for (int kind = 0; kind < 2; ++kind) {
            size_t n = 0;
            for (int l = 0; l < lanes; ++l) n = std::max(n, L.thread[w0 + l]->ctx.stores[kind].size());
            for (size_t i = 0; i < n; ++i) {
                SharedAccess by_lane[32];
                bool active[32];
                for (int l = 0; l < lanes; ++l) {
                    const auto& v = L.thread[w0 + l]->ctx.stores[kind];
                    active[l] = i < v.size();
                    if (active[l]) by_lane[l] = v[i];
                }
                L.counts[kind == 0 ? kCpAsync : kStShared].add(count_wavefronts(by_lane, active, lanes));
            }
        }
    }
    for (EmuThread* t : L.thread) {
        L.counts[kLdmatrix].add(t->ctx.ldmatrix);
        t->ctx.reset();
    }
}

// The byte ranges of the stsm_shared section that hold emulated __shared__ arrays. Under
// AddressSanitizer the section also holds the poisoned redzones that catch out-of-bounds
// shared indices; those must stay intact, so the ranges are worked out once.
const std::vector<std::pair<char*, size_t>>& static_shared_ranges() {
    static const std::vector<std::pair<char*, size_t>> ranges = [] {
        std::vector<std::pair<char*, size_t>> r;
        if (!__start_stsm_shared || !__stop_stsm_shared) return r;
#ifdef __SANITIZE_ADDRESS__
        for (char* p = __start_stsm_shared; p < __stop_stsm_shared; ++p) {
            if (__asan_address_is_poisoned(p)) continue;
            if (!r.empty() && r.back().first + r.back().second == p)
                ++r.back().second;
            else
                r.emplace_back(p, 1);
        }
#else
        r.emplace_back(__start_stsm_shared, (size_t)(__stop_stsm_shared - __start_stsm_shared));
#endif
        return r;
    }();
    return ranges;
}

// Before each block, by the scheduler: barriers reset, block index set, and garbage in shared
// memory: a kernel that reads shared memory it did not write this block sees NaN (floats) or
// all-ones (integers).
void prepare_block(Launch& L) {
    const u64 b = L.current_block;
    const dim3 block_idx{(unsigned)(b % L.grid.x), (unsigned)(b / L.grid.x % L.grid.y),
                         (unsigned)(b / ((u64)L.grid.x * L.grid.y))};
    for (EmuThread* t : L.thread) t->state.block_idx = block_idx;
    L.block_barrier.reset(L.threads);
    for (size_t w = 0; w < L.warp_barriers.size(); ++w) L.warp_barriers[w].reset(std::min(32, L.threads - (int)w * 32));
    for (const auto& [p, n] : static_shared_ranges()) std::memset(p, 0xFF, n);
    std::memset(L.dynamic_shared.data(), 0xFF, L.dynamic_shared.size() * sizeof(Chunk16));
}

// Bytes of each fiber's stack: kernels keep small register-like arrays; sanitizers add
// redzones and bigger frames.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kStackBytes = 1 << 20;
#else
constexpr size_t kStackBytes = 256 << 10;
#endif

// Emulated threads kept across launches (a fiber's stack is an mmap); guarded by launch_lock.
std::vector<std::unique_ptr<EmuThread>> g_pool;

const KernelEntry* find_kernel(const char* name, bool mutant) {
    for (const KernelEntry* const* t = mutant ? kMutantTables : kTables; *t; ++t)
        for (const KernelEntry* e = *t; e->name; ++e)
            if (std::strcmp(e->name, name) == 0) return e;
    return nullptr;
}

// Emulated launches are serialised process-wide: static __shared__ storage is one copy.
std::mutex launch_lock;

// Per kernel name, the shared-memory access counts of its last launch.
std::mutex counts_lock;
std::map<std::string, std::array<AccessCounts, kAccessKinds>> last_counts;

// Runs the launch: blocks one after another (L prepared by the caller, launch_lock held).
void run_launch(Launch& L) {
    while (g_pool.size() < (size_t)L.threads) {
        auto t = std::make_unique<EmuThread>();
        t->fiber = std::make_unique<Fiber>(kStackBytes);
        t->fiber_ctx = &t->fiber->context();
        g_pool.push_back(std::move(t));
    }
    L.thread.resize(L.threads);
    for (int i = 0; i < L.threads; ++i) {
        EmuThread& t = *g_pool[i];
        t.launch = &L;
        t.tid = i;
        t.ctx.reset();
        t.state.block_dim = L.block;
        t.state.grid_dim = L.grid;
        t.state.thread_idx = dim3{(unsigned)i % L.block.x, (unsigned)i / L.block.x % L.block.y,
                                  (unsigned)i / (L.block.x * L.block.y)};
        L.thread[i] = &t;
    }
    L.scheduler = thread_context();
    for (u64 b = 0; b < L.blocks && !L.failed.get(); ++b) {
        L.current_block = b;
        prepare_block(L);
        tsan_release(&L.block_start_sync);
        run_block(L);
        tally_block(L);
    }
    for (EmuThread* t : L.thread) t->launch = nullptr;
}

}  // namespace

ThreadState& state() { return current().state; }

void syncthreads() {
    barrier_wait(current().launch->block_barrier, "__syncthreads", [] {});
}

void* dynamic_shared() { return current().launch->dynamic_shared.data(); }

void warp_collective(const void* in, size_t in_bytes, void* out, size_t out_bytes, WarpCompute compute,
                     const void* ctx, const char* what, bool full_warp) {
    EmuThread& t = current();
    Launch& L = *t.launch;
    const int warp = t.tid / 32, lane = t.tid % 32;
    BarrierState& b = L.warp_barriers[warp];
    if (full_warp && b.size.get() != 32)
        throw std::runtime_error(std::string(what) + " needs a full warp of 32 threads; this warp has " +
                                 std::to_string(b.size.get()));
    if (in_bytes > kWarpSlotBytes || out_bytes > kWarpSlotBytes)
        throw std::runtime_error(std::string(what) + ": warp collective slot too small");
    unsigned char* in_area = reinterpret_cast<unsigned char*>(L.warp_in.data()) + (size_t)warp * 32 * kWarpSlotBytes;
    unsigned char* out_area = reinterpret_cast<unsigned char*>(L.warp_out.data()) + (size_t)warp * 32 * kWarpSlotBytes;
    std::memcpy(in_area + (size_t)lane * kWarpSlotBytes, in, in_bytes);
    barrier_wait(b, what, [&] { compute(in_area, out_area, b.size.get(), ctx); });
    std::memcpy(out, out_area + (size_t)lane * kWarpSlotBytes, out_bytes);
}

u64 warp_exchange(u64 bits, int src) {
    struct In {
        u64 bits;
        int src;
    };
    const In mine{bits, src};
    auto compute = [](const unsigned char* in, unsigned char* out, int lanes, const void*) {
        for (int l = 0; l < lanes; ++l) {
            In me, from;
            std::memcpy(&me, in + (size_t)l * kWarpSlotBytes, sizeof me);
            from = me;
            if (me.src >= 0 && me.src < lanes) std::memcpy(&from, in + (size_t)me.src * kWarpSlotBytes, sizeof from);
            std::memcpy(out + (size_t)l * kWarpSlotBytes, &from.bits, sizeof from.bits);
        }
    };
    u64 r;
    warp_collective(&mine, sizeof mine, &r, sizeof r, compute, nullptr, "a warp shuffle", false);
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
    current().ctx.open_copies.push_back(c);
    current().ctx.stores[0].push_back(SharedAccess{smem_dst, 16});
}

void cp_async_commit() {
    ThreadCtx& t = current().ctx;
    t.copy_groups.push_back(std::move(t.open_copies));
    t.open_copies.clear();
}

void cp_async_wait(int pending_groups) {
    ThreadCtx& t = current().ctx;
    while (t.copy_groups.size() > (size_t)std::max(0, pending_groups)) {
        for (const PendingCopy& c : t.copy_groups.front()) std::memcpy(c.dst, c.bytes, sizeof c.bytes);
        t.copy_groups.pop_front();
    }
}

void note_shared_store(const void* addr, int bytes) {
    if ((uintptr_t)addr % (uintptr_t)bytes != 0)
        throw std::runtime_error("st.shared of " + std::to_string(bytes) + " bytes at a misaligned address");
    current().ctx.stores[1].push_back(SharedAccess{addr, bytes});
}

void note_ldmatrix(const void* const* rows, int matrices) {
    SharedAccess by_lane[32];
    bool active[32];
    for (int l = 0; l < 32; ++l) {
        active[l] = l < 8 * matrices;
        by_lane[l] = SharedAccess{rows[l], 16};
    }
    current().ctx.ldmatrix.add(count_wavefronts(by_lane, active, 32));
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
    try {
        L.dynamic_shared.resize(shared_bytes / sizeof(Chunk16) + 1);
        L.warp_in.assign(threads * kWarpSlotBytes / sizeof(u64), 0);
        L.warp_out.assign(threads * kWarpSlotBytes / sizeof(u64), 0);
        L.warp_barriers = std::vector<BarrierState>((threads + 31) / 32);
        run_launch(L);
    } catch (const std::exception& e) {  // the emulator's own failure (memory for stacks)
        L.fail(std::string(name) + ": emulator: " + e.what());
    }
    {
        std::lock_guard<std::mutex> lk(counts_lock);
        auto& c = last_counts[name];
        for (int i = 0; i < kAccessKinds; ++i) c[i] = L.counts[i];
    }
    if (L.failed.get()) {
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
