// The one tiled GEMM of the engine, used in implicit form by conv3d (forward, input
// gradient, weight gradient) and by the linear layer. The caller supplies loaders that
// produce A(m, k) and B(k, n) on the fly (implicit im2col: nothing is materialised) and a
// store for C(m, n); the tile loop stages BM×BK of A and BK×BN of B in shared memory and
// each thread accumulates a TM×TN register micro-tile.
#pragma once
#include "common.cuh"

#define GEMM_BM 32
#define GEMM_BN 32
#define GEMM_BK 16
#define GEMM_TM 2
#define GEMM_TN 2
// (BM / TM) * (BN / TN) threads per block.
#define GEMM_THREADS 256

// C = A · B with A: M×K, B: K×N, C: M×N (all implicit), with K optionally split into
// `splits` slices of whole BK steps (split-K: more blocks when M×N is small and K huge, as in
// conv weight gradients); slice s stores its partial product through store(s, m, n, v) and
// the caller sums the slices in a fixed order afterwards. Work items (tile, slice) are
// visited grid-stride so any grid covers any problem; every thread of a block walks the same
// items, which keeps the __syncthreads calls uniform. Loaders must return 0 outside
// [0, M)×[0, K) etc.
template <typename T, typename LoadA, typename LoadB, typename Store>
__device__ void gemm_tiled_split(int M, int N, int K, int splits, const LoadA& load_a, const LoadB& load_b,
                                 const Store& store) {
    __shared__ T As[GEMM_BK][GEMM_BM];  // A tile, k-major so the inner loop reads a row
    __shared__ T Bs[GEMM_BK][GEMM_BN];
    const int tid = threadIdx.x;
    const int tx = tid % (GEMM_BN / GEMM_TN), ty = tid / (GEMM_BN / GEMM_TN);
    const int tiles_m = (M + GEMM_BM - 1) / GEMM_BM, tiles_n = (N + GEMM_BN - 1) / GEMM_BN;
    const i64 tiles = (i64)tiles_m * tiles_n;
    // K per slice, rounded up to whole BK steps; trailing slices may be empty (they store 0).
    const int k_steps = (K + GEMM_BK - 1) / GEMM_BK;
    const int k_chunk = (k_steps + splits - 1) / splits * GEMM_BK;
    for (i64 item = blockIdx.x; item < tiles * splits; item += gridDim.x) {
        const int split = (int)(item / tiles);
        const i64 tile = item % tiles;
        const int m0 = (int)(tile / tiles_n) * GEMM_BM, n0 = (int)(tile % tiles_n) * GEMM_BN;
        const int k_begin = split * k_chunk, k_end = stsm_imin(K, k_begin + k_chunk);
        T acc[GEMM_TM][GEMM_TN];
        for (int i = 0; i < GEMM_TM; ++i)
            for (int j = 0; j < GEMM_TN; ++j) acc[i][j] = T(0);
        // M×N×K loop: k0 walks K in BK steps; the tile product is BM×BN×BK.
        for (int k0 = k_begin; k0 < k_end; k0 += GEMM_BK) {
            for (int e = tid; e < GEMM_BM * GEMM_BK; e += GEMM_THREADS) {
                const int mm = e / GEMM_BK, kk = e % GEMM_BK;
                const int m = m0 + mm, k = k0 + kk;
                As[kk][mm] = (m < M && k < k_end) ? load_a(m, k) : T(0);
            }
            for (int e = tid; e < GEMM_BK * GEMM_BN; e += GEMM_THREADS) {
                const int kk = e / GEMM_BN, nn = e % GEMM_BN;
                const int k = k0 + kk, n = n0 + nn;
                Bs[kk][nn] = (k < k_end && n < N) ? load_b(k, n) : T(0);
            }
            __syncthreads();
            for (int kk = 0; kk < GEMM_BK; ++kk) {
                T a[GEMM_TM], b[GEMM_TN];
                for (int i = 0; i < GEMM_TM; ++i) a[i] = As[kk][ty * GEMM_TM + i];
                for (int j = 0; j < GEMM_TN; ++j) b[j] = Bs[kk][tx * GEMM_TN + j];
                for (int i = 0; i < GEMM_TM; ++i)
                    for (int j = 0; j < GEMM_TN; ++j) acc[i][j] += a[i] * b[j];
            }
            __syncthreads();
        }
        for (int i = 0; i < GEMM_TM; ++i)
            for (int j = 0; j < GEMM_TN; ++j) {
                const int m = m0 + ty * GEMM_TM + i, n = n0 + tx * GEMM_TN + j;
                if (m < M && n < N) store(split, m, n, acc[i][j]);
            }
    }
}

// The unsplit GEMM: store(m, n, v).
template <typename T, typename LoadA, typename LoadB, typename Store>
__device__ void gemm_tiled(int M, int N, int K, const LoadA& load_a, const LoadB& load_b, const Store& store) {
    auto store_one = [&](int, int m, int n, T v) { store(m, n, v); };
    gemm_tiled_split<T>(M, N, K, 1, load_a, load_b, store_one);
}

// gb[c] = sum over (outer, inner) of gy[(o * channels + c) * inner + i]: bias gradients of
// conv3d (inner = T'·H'·W') and linear (inner = 1). One block per channel, grid-stride over
// channels, a fixed reduction order (deterministic, no atomics).
template <typename T>
__device__ void channel_sum(const T* gy, T* gb, int outer, int channels, int inner) {
    DYNAMIC_SHARED(T, scratch);  // one T per warp
    const i64 per_channel = (i64)outer * inner;
    for (int c = blockIdx.x; c < channels; c += gridDim.x) {
        T acc = T(0);
        for (i64 e = threadIdx.x; e < per_channel; e += blockDim.x) {
            const i64 o = e / inner, i = e % inner;
            acc += gy[(o * channels + c) * inner + i];
        }
        acc = block_reduce<T, false>(acc, scratch);
        if (threadIdx.x == 0) gb[c] = acc;
    }
}
