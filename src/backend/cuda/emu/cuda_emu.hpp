// CPU emulation of the CUDA execution model, enough for kernels/*.cu (see kernels/README.md).
// A launch runs its blocks one after another; the threads of a block are fibers on one OS
// thread (runtime.cpp, fiber.hpp) that switch only at barriers; __syncthreads is a barrier
// whose deadlocks and divergence are reported at once; static __shared__ storage is
// process-wide static memory in the `stsm_shared` section (sound because one block runs at a
// time and launches are serialised), refilled with NaN bytes before every block; warp
// shuffles and the tensor-core primitives (kernels/mma.cuh) are one meeting of a per-warp
// barrier at which the last lane to arrive computes the whole warp's results.
#pragma once

#include <math.h>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#define STSM_EMULATION 1

typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace stsm_emu {

// The per-thread view of the launch: what threadIdx & co. read.
struct ThreadState {
    dim3 thread_idx, block_idx, block_dim, grid_dim;
};
ThreadState& state();
void syncthreads();
void* dynamic_shared();
// Exchanges `bits` among the lanes of the calling warp: returns the value lane `src` wrote
// (or the caller's own when `src` is outside the warp).
u64 warp_exchange(u64 bits, int src);

// Warp-collective operations (shuffles, mma, ldmatrix) as one meeting of the warp: every lane
// deposits `in_bytes` (at most kWarpSlotBytes) from `in`; the last lane to arrive runs
// compute(inputs, outputs, lanes, ctx) once for the whole warp (input and output slot of lane
// l at l·kWarpSlotBytes; shared memory read there is read as one instruction would, after
// every lane's earlier code and before any lane's later code); then every lane copies its
// output slot to `out` (out_bytes). `what` names the operation in errors; `full_warp` makes a
// warp of fewer than 32 threads an error (mma, ldmatrix).
constexpr size_t kWarpSlotBytes = 48;
using WarpCompute = void (*)(const unsigned char* in, unsigned char* out, int lanes, const void* ctx);
void warp_collective(const void* in, size_t in_bytes, void* out, size_t out_bytes, WarpCompute compute,
                     const void* ctx, const char* what, bool full_warp);

// cp.async emulation (kernels/mma.cuh): the copy is queued with its source bytes read now and
// its destination filled with NaN bytes; it lands at the cp_async_wait that retires its group.
void cp_async_16(void* smem_dst, const void* gmem_src, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending_groups);
// Bank-conflict accounting: a shared store of `bytes` (4, 8 or 16) at `addr` by this thread
// (grouped with the warp's other lanes by per-thread order), and one warp's ldmatrix of
// `matrices` 8x8 matrices whose 8·matrices row addresses are `rows` (called by one lane).
void note_shared_store(const void* addr, int bytes);
void note_ldmatrix(const void* const* rows, int matrices);

template <typename T>
T shuffle(T v, int src) {
    static_assert(sizeof(T) <= sizeof(u64), "shuffle of a type wider than 64 bits");
    u64 bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    bits = warp_exchange(bits, src);
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

// A kernel entry: the trampoline casts the parameter bytes back to the entry point's own
// parameter type, so Rust passes one opaque struct exactly as the CUDA driver would.
struct KernelEntry {
    const char* name;
    void (*run)(const void* params);
    size_t param_size;
};

template <typename P>
struct ParamOf;
template <typename P>
struct ParamOf<void (*)(P)> {
    using type = P;
};

template <auto F>
void trampoline(const void* params) {
    using P = typename ParamOf<decltype(F)>::type;
    F(*static_cast<const P*>(params));
}

template <auto F>
constexpr KernelEntry entry(const char* name) {
    return KernelEntry{name, &trampoline<F>, sizeof(typename ParamOf<decltype(F)>::type)};
}

}  // namespace stsm_emu

#define threadIdx (stsm_emu::state().thread_idx)
#define blockIdx (stsm_emu::state().block_idx)
#define blockDim (stsm_emu::state().block_dim)
#define gridDim (stsm_emu::state().grid_dim)

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
#define __shared__ static __attribute__((section("stsm_shared")))
#define __syncthreads() stsm_emu::syncthreads()
#define DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(stsm_emu::dynamic_shared())

inline float __int_as_float(int v) { return std::bit_cast<float>(v); }
inline double __longlong_as_double(long long v) { return std::bit_cast<double>(v); }

// Full-mask warp shuffles only; a partial mask is a test failure, not silently wrong.
void stsm_emu_require_full_mask(unsigned mask);
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    stsm_emu_require_full_mask(mask);
    return stsm_emu::shuffle(v, (int)(threadIdx.x % 32) ^ lane_mask);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta) {
    stsm_emu_require_full_mask(mask);
    return stsm_emu::shuffle(v, (int)(threadIdx.x % 32 + delta));
}
template <typename T>
T __shfl_sync(unsigned mask, T v, int src) {
    stsm_emu_require_full_mask(mask);
    return stsm_emu::shuffle(v, src);
}

template <typename T>
T atomicAdd(T* addr, T v) {
    return std::atomic_ref<T>(*addr).fetch_add(v);
}
template <typename T>
T atomicMax(T* addr, T v) {
    std::atomic_ref<T> a(*addr);
    T old = a.load();
    while (old < v && !a.compare_exchange_weak(old, v)) {
    }
    return old;
}
