// Kernels that test the emulator itself (not part of kernels/: they are deliberately wrong or
// probe emulator behaviour). Run by tests/emulator_selftest.rs.
#include "cuda_emu.hpp"
#include "common.cuh"

namespace {

// out[0..64) = static shared memory never written this block; out[64..128) = dynamic shared.
// Both must read as NaN: the emulator fills shared memory with garbage before every block.
extern "C" __global__ void emu_selftest_shared_garbage_f32(ElementwiseParams<float> p) {
    __shared__ float s[64];
    DYNAMIC_SHARED(float, d);
    if (threadIdx.x < 64) {
        p.out[threadIdx.x] = s[threadIdx.x];
        p.out[64 + threadIdx.x] = d[threadIdx.x];
    }
}

// A classic bug: one thread returns before a barrier the others wait at.
extern "C" __global__ void emu_selftest_divergent_sync_f32(ElementwiseParams<float> p) {
    if (threadIdx.x == 0) return;
    __syncthreads();
    p.out[threadIdx.x] = 1.0f;
}

// Half a warp waits at __syncthreads while the other half waits in a shuffle: neither barrier
// can complete and nobody exits: the scheduler finds no runnable thread and reports it.
extern "C" __global__ void emu_selftest_deadlock_f32(ElementwiseParams<float> p) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        p.out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
    }
}

// out[i] = sum of a over i's warp (every lane gets the total), and a block-wide sum in out[n+].
extern "C" __global__ void emu_selftest_reductions_f32(ElementwiseParams<float> p) {
    DYNAMIC_SHARED(float, scratch);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const float v = i < p.n ? p.a[i] : 0.0f;
    const float w = warp_sum(v);
    const float b = block_reduce<float, false>(v, scratch);
    if (i < p.n) {
        p.out[i] = w;
        p.out[p.n + i] = b;
    }
}

// Reads one element past a static shared array: AddressSanitizer must report it (only run in
// sanitized builds, by a child process of the self-test).
extern "C" __global__ void emu_selftest_shared_overflow_f32(ElementwiseParams<float> p) {
    __shared__ float s[32];
    s[threadIdx.x] = 1.0f;
    __syncthreads();
    p.out[threadIdx.x] = s[threadIdx.x + 1];
}

// A missing __syncthreads: each thread reads a shared slot another thread writes in the same
// phase. ThreadSanitizer must report the race (run in TSan builds only).
extern "C" __global__ void emu_selftest_missing_sync_f32(ElementwiseParams<float> p) {
    __shared__ float s[64];
    s[threadIdx.x] = p.a[0];
    p.out[threadIdx.x] = s[63 - threadIdx.x];
}

// The tensor-core primitives' self-tests, shared with the NVRTC compile test.
#include "mma_selftest.cu"

}  // namespace

extern "C" const stsm_emu::KernelEntry stsm_emu_table_selftest[] = {
    stsm_emu::entry<emu_selftest_shared_garbage_f32>("emu_selftest_shared_garbage_f32"),
    stsm_emu::entry<emu_selftest_divergent_sync_f32>("emu_selftest_divergent_sync_f32"),
    stsm_emu::entry<emu_selftest_deadlock_f32>("emu_selftest_deadlock_f32"),
    stsm_emu::entry<emu_selftest_reductions_f32>("emu_selftest_reductions_f32"),
    stsm_emu::entry<emu_selftest_shared_overflow_f32>("emu_selftest_shared_overflow_f32"),
    stsm_emu::entry<emu_selftest_missing_sync_f32>("emu_selftest_missing_sync_f32"),
    stsm_emu::entry<emu_selftest_mma_global_bf16>("emu_selftest_mma_global_bf16"),
    stsm_emu::entry<emu_selftest_mma_global_wrong_layout_bf16>("emu_selftest_mma_global_wrong_layout_bf16"),
    stsm_emu::entry<emu_selftest_mma_ldmatrix_bf16>("emu_selftest_mma_ldmatrix_bf16"),
    stsm_emu::entry<emu_selftest_ldmatrix_probe>("emu_selftest_ldmatrix_probe"),
    stsm_emu::entry<emu_selftest_cp_async_wait_all>("emu_selftest_cp_async_wait_all"),
    stsm_emu::entry<emu_selftest_cp_async_wait_one>("emu_selftest_cp_async_wait_one"),
    stsm_emu::entry<emu_selftest_cp_async_no_wait>("emu_selftest_cp_async_no_wait"),
    stsm_emu::entry<emu_selftest_banks_conflict_free>("emu_selftest_banks_conflict_free"),
    stsm_emu::entry<emu_selftest_banks_conflicting>("emu_selftest_banks_conflicting"),
    {nullptr, nullptr, 0},
};
