// Tensor-core primitives for bf16 kernels (contract: /work/MMA_CONTRACT.md at the time of
// writing; DESIGN.md "Tensor cores without a GPU"). Under NVRTC each is one PTX instruction in
// inline assembly (no CUDA header needed); under the CPU emulator (STSM_EMULATION) each is C++
// that follows the PTX ISA's fragment layouts and runs collectively per warp.
//
// Registers hold packed bf16 pairs as `unsigned`: the lower 16 bits are the element with the
// lower column (or k) index. Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"), with g = lane / 4 and t = lane % 4:
//   a[0]: A(g,     2t..2t+1)   a[1]: A(g + 8, 2t..2t+1)
//   a[2]: A(g, 8 + 2t..)       a[3]: A(g + 8, 8 + 2t..)
//   b[0]: B(2t..2t+1, g)       b[1]: B(8 + 2t..8 + 2t+1, g)
//   d[0], d[1]: D(g, 2t), D(g, 2t+1)      d[2], d[3]: D(g + 8, 2t), D(g + 8, 2t+1)
// ldmatrix (m8n8, b16): lanes 8i..8i+7 give the 8 row addresses (16 bytes each) of matrix i;
// r[i] of lane l then holds row l/4, columns 2(l%4)..2(l%4)+1 of matrix i, or with .trans the
// elements (2(l%4), l/4) and (2(l%4)+1, l/4): matrix i transposed.
#pragma once

#ifndef STSM_EMULATION

// 32-bit shared-window address of a generic pointer into shared memory.
__device__ __forceinline__ unsigned stsm_smem_addr(const void* p) {
    unsigned a;
    asm("{ .reg .u64 s; cvta.to.shared.u64 s, %1; cvt.u32.u64 %0, s; }" : "=r"(a) : "l"(p));
    return a;
}

// D = A·B + D for one warp: M×N×K = 16×8×16, A row-major bf16, B column-major bf16, D fp32.
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void ldmatrix_x1(unsigned (&r)[1], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(stsm_smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(stsm_smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(stsm_smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x1_trans(unsigned (&r)[1], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
                 : "=r"(r[0])
                 : "r"(stsm_smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(stsm_smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(stsm_smem_addr(row)));
}

// 16-byte global -> shared copy that bypasses L1; src_bytes < 16 zero-fills the rest (0: all
// zeros, the source is not read). Both addresses 16-byte aligned.
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src, int src_bytes = 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(stsm_smem_addr(smem_dst)), "l"(gmem_src),
                 "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Shared stores of 4, 8 and 16 bytes (the emulator counts their bank conflicts).
__device__ __forceinline__ void st_shared_b32(void* dst, unsigned v) { *static_cast<unsigned*>(dst) = v; }
__device__ __forceinline__ void st_shared_b64(void* dst, unsigned v0, unsigned v1) {
    *static_cast<uint2*>(dst) = make_uint2(v0, v1);
}
__device__ __forceinline__ void st_shared_b128(void* dst, const unsigned (&v)[4]) {
    *static_cast<uint4*>(dst) = make_uint4(v[0], v[1], v[2], v[3]);
}

#else  // STSM_EMULATION: C++ following the layouts above, collective per warp.

__device__ __forceinline__ float stsm_bf16_bits_to_f32(unsigned bits16) {
    return std::bit_cast<float>((u32)(bits16 & 0xFFFFu) << 16);
}

// The emulated mma: every lane deposits its fragments and accumulators; the last lane of the
// warp to arrive computes all of D, and every lane takes its four elements. Accumulation order
// (fixed, documented): d = c, then d += A(r, k)·B(k, n) for k = 0, 1, ..., 15 in fp32 (bf16
// products are exact in fp32, so this is the sequential fp32 dot product; real tensor cores
// add in another order).
struct StsmMmaIn {
    unsigned a[4], b[2];
    float d[4];
};

inline void stsm_mma_warp(const unsigned char* in, unsigned char* out, int, const void*) {
    StsmMmaIn lanes[32];
    for (int l = 0; l < 32; ++l) std::memcpy(&lanes[l], in + (size_t)l * ::stsm_emu::kWarpSlotBytes, sizeof lanes[l]);
    // Element (r, k) of A sits in lane (r % 8)·4 + (k % 8)/2, register r/8 + 2·(k/8), half k % 2;
    // element (k, n) of B in lane n·4 + (k % 8)/2, register k/8, half k % 2.
    float A[16][16], B[16][8];
    for (int r = 0; r < 16; ++r)
        for (int k = 0; k < 16; ++k) {
            const unsigned w = lanes[(r % 8) * 4 + (k % 8) / 2].a[r / 8 + 2 * (k / 8)];
            A[r][k] = stsm_bf16_bits_to_f32(k % 2 ? w >> 16 : w);
        }
    for (int k = 0; k < 16; ++k)
        for (int n = 0; n < 8; ++n) {
            const unsigned w = lanes[n * 4 + (k % 8) / 2].b[k / 8];
            B[k][n] = stsm_bf16_bits_to_f32(k % 2 ? w >> 16 : w);
        }
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        float d[4];
        for (int i = 0; i < 4; ++i) {
            const int r = g + 8 * (i / 2), n = 2 * t + i % 2;
            float acc = lanes[lane].d[i];
            for (int k = 0; k < 16; ++k) acc += A[r][k] * B[k][n];
            d[i] = acc;
        }
        std::memcpy(out + (size_t)lane * ::stsm_emu::kWarpSlotBytes, d, sizeof d);
    }
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    const StsmMmaIn mine{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}, {d[0], d[1], d[2], d[3]}};
    ::stsm_emu::warp_collective(&mine, sizeof mine, d, sizeof d, &stsm_mma_warp, nullptr, "mma.m16n8k16", true);
}

// ldmatrix for the whole warp, run by the last lane to arrive: shared memory is read after
// every lane's earlier code and before any lane's later code, as one instruction would.
template <int Matrices, bool Trans>
void stsm_ldmatrix_warp(const unsigned char* in, unsigned char* out, int, const void*) {
    const unsigned char* rows[32];
    for (int l = 0; l < 32; ++l) std::memcpy(&rows[l], in + (size_t)l * ::stsm_emu::kWarpSlotBytes, sizeof rows[l]);
    // Only lanes 0 .. 8·Matrices-1 give addresses (the others are ignored, as on the GPU).
    for (int l = 0; l < 8 * Matrices; ++l)
        if ((uintptr_t)rows[l] % 16 != 0)
            throw std::runtime_error("ldmatrix: row address of lane " + std::to_string(l) + " not 16-byte aligned");
    ::stsm_emu::note_ldmatrix(reinterpret_cast<const void* const*>(rows), Matrices);
    for (int lane = 0; lane < 32; ++lane) {
        unsigned r[Matrices];
        for (int m = 0; m < Matrices; ++m) {
            if (!Trans) {
                std::memcpy(&r[m], rows[8 * m + lane / 4] + 4 * (lane % 4), 4);
            } else {
                unsigned short lo, hi;
                std::memcpy(&lo, rows[8 * m + 2 * (lane % 4)] + 2 * (lane / 4), 2);
                std::memcpy(&hi, rows[8 * m + 2 * (lane % 4) + 1] + 2 * (lane / 4), 2);
                r[m] = (unsigned)lo | (unsigned)hi << 16;
            }
        }
        std::memcpy(out + (size_t)lane * ::stsm_emu::kWarpSlotBytes, r, sizeof r);
    }
}

template <int Matrices, bool Trans>
__device__ __forceinline__ void stsm_ldmatrix(unsigned* r, const void* row) {
    ::stsm_emu::warp_collective(&row, sizeof row, r, Matrices * sizeof(unsigned), &stsm_ldmatrix_warp<Matrices, Trans>,
                                nullptr, "ldmatrix", true);
}

__device__ __forceinline__ void ldmatrix_x1(unsigned (&r)[1], const void* row) { stsm_ldmatrix<1, false>(r, row); }
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* row) { stsm_ldmatrix<2, false>(r, row); }
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* row) { stsm_ldmatrix<4, false>(r, row); }
__device__ __forceinline__ void ldmatrix_x1_trans(unsigned (&r)[1], const void* row) { stsm_ldmatrix<1, true>(r, row); }
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* row) { stsm_ldmatrix<2, true>(r, row); }
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* row) { stsm_ldmatrix<4, true>(r, row); }

// Deferred: the destination holds NaN bytes until the cp_async_wait that retires its group.
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src, int src_bytes = 16) {
    ::stsm_emu::cp_async_16(smem_dst, gmem_src, src_bytes);
}
__device__ __forceinline__ void cp_async_commit() { ::stsm_emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    ::stsm_emu::cp_async_wait(N);
}

__device__ __forceinline__ void st_shared_b32(void* dst, unsigned v) {
    ::stsm_emu::note_shared_store(dst, 4);
    std::memcpy(dst, &v, 4);
}
__device__ __forceinline__ void st_shared_b64(void* dst, unsigned v0, unsigned v1) {
    ::stsm_emu::note_shared_store(dst, 8);
    const unsigned v[2] = {v0, v1};
    std::memcpy(dst, v, 8);
}
__device__ __forceinline__ void st_shared_b128(void* dst, const unsigned (&v)[4]) {
    ::stsm_emu::note_shared_store(dst, 16);
    std::memcpy(dst, v, 16);
}

#endif
