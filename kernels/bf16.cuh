// bf16 on the device: storage as the raw 16 bits (NVRTC has no cuda_bf16.h without the
// runtime headers, and none is needed), conversions bit for bit as src/tensor/bf16.rs does on
// the CPU: f32 -> bf16 rounds to nearest even without flushing subnormals, every NaN becomes
// the canonical 0x7FFF; bf16 -> f32 is exact.
#pragma once
#include "common.cuh"

typedef unsigned short stsm_bf16;  // the bits of one bf16

__device__ __forceinline__ stsm_bf16 stsm_bf16_from_f32(float v) {
#ifdef STSM_EMULATION
    // The rounding that cvt.rn.bf16.f32 performs: adding 0x7FFF plus the kept part's lowest
    // bit carries into the kept half exactly when the dropped half is above a half ulp, or
    // equal to it with an odd kept part.
    if (v != v) return 0x7FFF;
    const u32 u = std::bit_cast<u32>(v);
    return (stsm_bf16)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
#else
    stsm_bf16 r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(v));
    return r;
#endif
}

__device__ __forceinline__ float stsm_bf16_to_f32(stsm_bf16 h) { return __int_as_float((int)((u32)h << 16)); }

// Two values as one packed pair: `lo` in the lower 16 bits (the lower column), as mma and
// 32-bit stores of adjacent elements expect.
__device__ __forceinline__ u32 stsm_bf16x2_from_f32(float lo, float hi) {
    return (u32)stsm_bf16_from_f32(lo) | ((u32)stsm_bf16_from_f32(hi) << 16);
}
