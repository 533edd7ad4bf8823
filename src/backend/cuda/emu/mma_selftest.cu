// Self-test kernels of the tensor-core primitives (kernels/mma.cuh). Compiled by the emulator
// (included from selftest.cpp; run by tests/emulator_selftest.rs) and by the real NVRTC
// (tests/nvrtc_compile.rs), so both sides of mma.cuh build from the same code. Parameters
// reuse ElementwiseParams<float>: a, b and out are reinterpreted as the test's buffers.
#include "common.cuh"
#include "mma.cuh"

// Fragments packed straight from global memory by the PTX ISA layout (g = lane / 4,
// t = lane % 4). A: (16, 16·n) bf16 row-major in p.a; B: (16·n, 8) bf16 column-major in p.b,
// element (k, col) at col·16n + k; p.out: C (16, 8) fp32 row-major in, D = A·B + C out.
// MxNxK = 16×8×(16·n), one mma per 16-wide k slice. WrongLayout plants the classic bug of
// swapping a[1] and a[2] (rows g+8 and columns 8+ confused).
template <bool WrongLayout>
__device__ void mma_from_global(ElementwiseParams<float> p) {
    const unsigned short* A = reinterpret_cast<const unsigned short*>(p.a);
    const unsigned short* B = reinterpret_cast<const unsigned short*>(p.b);
    const int slices = (int)p.n, K = 16 * slices;
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    auto pair = [](unsigned short lo, unsigned short hi) { return (unsigned)lo | (unsigned)hi << 16; };
    float d[4];
    for (int i = 0; i < 4; ++i) d[i] = p.out[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
    for (int s = 0; s < slices; ++s) {
        const int k0 = 16 * s;
        unsigned a[4], b[2];
        for (int r = 0; r < 4; ++r) {
            const int row = g + 8 * (r % 2), col = k0 + 8 * (r / 2) + 2 * t;
            a[r] = pair(A[row * K + col], A[row * K + col + 1]);
        }
        if (WrongLayout) {
            const unsigned x = a[1];
            a[1] = a[2];
            a[2] = x;
        }
        for (int r = 0; r < 2; ++r) {
            const int k = k0 + 8 * r + 2 * t;
            b[r] = pair(B[g * K + k], B[g * K + k + 1]);
        }
        mma_m16n8k16_bf16(d, a, b);
    }
    for (int i = 0; i < 4; ++i) p.out[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = d[i];
}

// The production path: A (16, 32) bf16 row-major and B (32, 8) bf16 row-major (k-major) go to
// shared memory by cp.async, fragments come from ldmatrix (A: x4; B: x2.trans), then two mmas.
// p.out: C (16, 8) fp32 in, D out. MxNxK = 16×8×32.
__device__ void mma_via_ldmatrix(ElementwiseParams<float> p) {
    __shared__ __align__(16) unsigned short As[16][32];
    __shared__ __align__(16) unsigned short Bs[32][8];
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const unsigned char* a_bytes = reinterpret_cast<const unsigned char*>(p.a);
    const unsigned char* b_bytes = reinterpret_cast<const unsigned char*>(p.b);
    // 16 rows × 4 chunks of A and 32 rows × 1 chunk of B: 96 16-byte chunks, 3 per lane.
    for (int c = lane; c < 96; c += 32) {
        if (c < 64)
            cp_async_16(&As[c / 4][8 * (c % 4)], a_bytes + 16 * c);
        else
            cp_async_16(&Bs[c - 64][0], b_bytes + 16 * (c - 64));
    }
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    float d[4];
    for (int i = 0; i < 4; ++i) d[i] = p.out[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
    for (int k0 = 0; k0 < 32; k0 += 16) {
        unsigned a[4], b[2];
        // Lanes 0-15 address rows 0-15 at column k0 (matrices 0 and 1), lanes 16-31 the same
        // rows at k0 + 8 (matrices 2 and 3): exactly a[0..3].
        ldmatrix_x4(a, &As[lane % 16][k0 + 8 * (lane / 16)]);
        // Lanes 0-15 address k rows k0..k0+15; transposed, each lane gets B(2t..2t+1, g).
        ldmatrix_x2_trans(b, &Bs[k0 + lane % 16][0]);
        mma_m16n8k16_bf16(d, a, b);
    }
    for (int i = 0; i < 4; ++i) p.out[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = d[i];
}

// Every ldmatrix variant on a (32, 8) bf16 tile (four 8×8 matrices stacked) whose element
// (r, c) is r·8 + c; lane l addresses row l. out: 14 words per lane, lane-major: x1, x2 (2),
// x4 (4), x1.trans, x2.trans (2), x4.trans (4). For x1 and x2 the lanes whose addresses the
// instruction ignores (8-31, 16-31) pass misaligned ones. Misaligned (p.n = 1): lane 3 passes
// a misaligned row to x4, which the emulator must reject.
__device__ void ldmatrix_probe(ElementwiseParams<float> p) {
    __shared__ __align__(16) unsigned short tile[32][8];
    const int lane = threadIdx.x % 32;
    for (int c = 0; c < 8; ++c) tile[lane][c] = (unsigned short)(lane * 8 + c);
    __syncthreads();
    unsigned* out = reinterpret_cast<unsigned*>(p.out) + 14 * lane;
    unsigned r1[1], r2[2], r4[4];
    if (p.n == 1) {
        ldmatrix_x4(r4, &tile[lane][lane == 3 ? 1 : 0]);
        out[0] = r4[0];
        return;
    }
    ldmatrix_x1(r1, &tile[lane][lane < 8 ? 0 : 1]);
    out[0] = r1[0];
    ldmatrix_x2(r2, &tile[lane][lane < 16 ? 0 : 1]);
    out[1] = r2[0];
    out[2] = r2[1];
    ldmatrix_x4(r4, &tile[lane][0]);
    for (int i = 0; i < 4; ++i) out[3 + i] = r4[i];
    ldmatrix_x1_trans(r1, &tile[lane][0]);
    out[7] = r1[0];
    ldmatrix_x2_trans(r2, &tile[lane][0]);
    out[8] = r2[0];
    out[9] = r2[1];
    ldmatrix_x4_trans(r4, &tile[lane][0]);
    for (int i = 0; i < 4; ++i) out[10 + i] = r4[i];
}

// Two cp.async groups of 16 bytes per thread: group 1 copies chunk i of p.a into s1, group 2
// chunk i of p.b into s2; thread 5 copies only 7 bytes of its group-1 chunk and thread 6 none
// (zero fill). Waits<Waits>: 2 = wait_group 0 (both land), 1 = wait_group 1 (only group 1),
// 0 = no wait at all (the planted bug). Then out[0..16·T) = s1, out[16·T..) = s2 as words,
// each thread writing the chunks of its neighbour i+1 (so visibility crosses threads).
template <int Waits>
__device__ void cp_async_groups(ElementwiseParams<float> p) {
    __shared__ __align__(16) float s1[64][4];
    __shared__ __align__(16) float s2[64][4];
    const int i = threadIdx.x, n = blockDim.x;
    cp_async_16(&s1[i][0], p.a + 4 * i, i == 5 ? 7 : i == 6 ? 0 : 16);
    cp_async_commit();
    cp_async_16(&s2[i][0], p.b + 4 * i);
    cp_async_commit();
    if (Waits == 2) cp_async_wait<0>();
    if (Waits == 1) cp_async_wait<1>();
    __syncthreads();
    const int j = (i + 1) % n;
    for (int w = 0; w < 4; ++w) {
        p.out[4 * j + w] = s1[j][w];
        p.out[4 * n + 4 * j + w] = s2[j][w];
    }
    __syncthreads();     // every read above happens before any late landing below
    cp_async_wait<0>();  // nothing may stay in flight at exit
}

// Bank-conflict probes (one warp per block; counts hand-worked in tests/emulator_selftest.rs).
// Conflict-free: st.b32 to word l; st.b128 to bytes 16l; ldmatrix.x4 over rows of 144 bytes;
// cp.async to bytes 16l. Conflicting (Conflicts): st.b32 to word 2l and to word 32l;
// ldmatrix.x4 over rows of 128 bytes and ldmatrix.x1 over rows of 64 bytes; cp.async to bytes
// 128l. The two stores of a kernel go to regions 4096 bytes apart (a multiple of 128: the
// same banks) so that no lane overwrites another's store. p.a: 512 bytes of source; out[l] =
// xor of the loaded registers (keeps them live).
template <bool Conflicts>
__device__ void bank_probe(ElementwiseParams<float> p) {
    __shared__ __align__(16) unsigned char smem[8192];
    const int lane = threadIdx.x % 32;
    unsigned acc = 0, r4[4], r1[1];
    const unsigned v[4] = {1u, 2u, 3u, 4u};
    if (!Conflicts) {
        st_shared_b32(smem + 4 * lane, 7u);
        st_shared_b128(smem + 4096 + 16 * lane, v);
        __syncthreads();
        ldmatrix_x4(r4, smem + 144 * lane);
        cp_async_16(smem + 16 * lane, p.a + 4 * lane);
    } else {
        st_shared_b32(smem + 8 * lane, 7u);
        st_shared_b32(smem + 4096 + 128 * lane, 7u);
        __syncthreads();
        ldmatrix_x4(r4, smem + 128 * lane);
        ldmatrix_x1(r1, smem + 64 * (lane % 8));
        acc ^= r1[0];
        cp_async_16(smem + 128 * lane, p.a + 4 * lane);
    }
    cp_async_commit();
    cp_async_wait<0>();
    for (int i = 0; i < 4; ++i) acc ^= r4[i];
    reinterpret_cast<unsigned*>(p.out)[blockIdx.x * 32 + lane] = acc;
}

extern "C" __global__ void emu_selftest_mma_global_bf16(ElementwiseParams<float> p) { mma_from_global<false>(p); }
extern "C" __global__ void emu_selftest_mma_global_wrong_layout_bf16(ElementwiseParams<float> p) {
    mma_from_global<true>(p);
}
extern "C" __global__ void emu_selftest_mma_ldmatrix_bf16(ElementwiseParams<float> p) { mma_via_ldmatrix(p); }
extern "C" __global__ void emu_selftest_ldmatrix_probe(ElementwiseParams<float> p) { ldmatrix_probe(p); }
extern "C" __global__ void emu_selftest_cp_async_wait_all(ElementwiseParams<float> p) { cp_async_groups<2>(p); }
extern "C" __global__ void emu_selftest_cp_async_wait_one(ElementwiseParams<float> p) { cp_async_groups<1>(p); }
extern "C" __global__ void emu_selftest_cp_async_no_wait(ElementwiseParams<float> p) { cp_async_groups<0>(p); }
extern "C" __global__ void emu_selftest_banks_conflict_free(ElementwiseParams<float> p) { bank_probe<false>(p); }
extern "C" __global__ void emu_selftest_banks_conflicting(ElementwiseParams<float> p) { bank_probe<true>(p); }
