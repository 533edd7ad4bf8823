// Shared by every kernel file: the parameter structs (mirrored byte for byte by
// src/backend/cuda/params.rs; a test compares sizeof/offsetof), small device helpers, and
// the two pieces that differ between NVRTC and the CPU emulator (dynamic shared memory,
// infinities). Compiled by NVRTC (real GPU) and by g++ with STSM_EMULATION defined.
#pragma once

#ifndef STSM_EMULATION
// NVRTC has no <cstdint>; the fixed-width names the kernels use.
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;
// `extern __shared__` cannot be emulated on the host (one symbol, per-launch size), so every
// kernel declares its dynamic shared memory through this macro; the emulator redefines it.
#define DYNAMIC_SHARED(T, name)                                  \
    extern __shared__ __align__(16) unsigned char name##_raw[];  \
    T* name = reinterpret_cast<T*>(name##_raw)
#endif

#define STSM_NO_ARGMAX 0xFFFFFFFFu
#define STSM_WARP 32

// ---------------------------------------------------------------------------------------
// Parameter structs. Pointers are device addresses; sizes are 32-bit where the Rust launcher
// checks that they fit (windowed ops), 64-bit element counts for flat elementwise ops.
// ---------------------------------------------------------------------------------------

// conv3d_fwd / conv3d_xbwd / conv3d_wbwd / conv3d_bbwd.
template <typename T>
struct Conv3dParams {
    const T* x;   // (N, C, T, H, W)       fwd, wbwd
    const T* w;   // (O, C, KT, KH, KW)    fwd, xbwd
    const T* b;   // (O) or null           fwd
    const T* gy;  // (N, O, T', H', W')    xbwd, wbwd, bbwd
    T* out;       // y (fwd), gx (xbwd), gw (wbwd), gb (bbwd)
    int batch, in_ch, out_ch;
    int in_t, in_h, in_w;
    int k_t, k_h, k_w;
    int s_t, s_h, s_w;
    int p_t, p_h, p_w;
    int out_t, out_h, out_w;
    int k_splits;  // wbwd_split: slices of the N·T'·H'·W' reduction
    T* partial;    // wbwd_split: (k_splits, O, C·KT·KH·KW) workspace; wbwd_reduce reads it
};

// max_pool3d_fwd / _bwd, avg_pool3d_fwd / _bwd.
template <typename T>
struct Pool3dParams {
    const T* x;      // (N, C, T, H, W)      fwd
    const T* gy;     // (N, C, T', H', W')   bwd
    const u32* arg;  // (N, C, T', H', W')   max bwd (read), max fwd (written through arg_out)
    u32* arg_out;    // (N, C, T', H', W')   max fwd
    T* out;          // y (fwd) or gx (bwd)
    int planes;      // N * C
    int in_t, in_h, in_w;
    int k_t, k_h, k_w;
    int s_t, s_h, s_w;
    int p_t, p_h, p_w;
    int out_t, out_h, out_w;
    int count_include_pad;  // avg only
};

// relu, dropout, add, scale, fill: flat arrays of n elements.
template <typename T>
struct ElementwiseParams {
    const T* a;  // (n)
    const T* b;  // (n) or null
    T* out;      // (n)
    i64 n;
    T factor;         // scale: multiplier; dropout: 1/(1-p); fill: value
    u64 seed;         // dropout
    u32 threshold;    // dropout: drop when 24 hash bits < threshold = round(p * 2^24)
};

// linear_fwd / _xbwd / _wbwd / _bbwd.
template <typename T>
struct LinearParams {
    const T* x;   // (R, I)   fwd, wbwd
    const T* w;   // (O, I)   fwd, xbwd
    const T* b;   // (O) or null
    const T* gy;  // (R, O)   xbwd, wbwd, bbwd
    T* out;       // y (R, O), gx (R, I), gw (O, I), gb (O)
    int rows, ins, outs;
};

// sliding_max_fwd / _bwd, softmax_pool_fwd / _bwd: rows of a last axis.
template <typename T>
struct TemporalParams {
    const T* x;      // sliding: (R, L) fwd; softmax pool: s (R, W)
    const T* gy;     // sliding bwd: (R, W); softmax pool bwd: gf (R)
    const T* f;      // softmax pool bwd: pooled (R)
    const T* p;      // softmax pool bwd: weights (R, W)
    const u32* arg;  // sliding bwd: (R, W)
    u32* arg_out;    // sliding fwd: (R, W)
    T* out;          // sliding fwd y (R, W), bwd gx (R, L); pool fwd f (R), bwd gs (R, W)
    T* out2;         // pool fwd: weights p (R, W)
    int rows, len, windows;
    T gamma;
};

// log_softmax_fwd / _bwd, cross_entropy_fwd / _bwd over (R, K).
template <typename T>
struct LossParams {
    const T* x;       // logits (R, K) or log-probabilities y (log_softmax bwd)
    const T* gy;      // (R, K) log_softmax bwd
    const u32* labels;  // (R) cross entropy
    T* out;           // (R, K), or (1) for cross_entropy_fwd
    int rows, classes;
    T scale;          // cross_entropy_bwd: upstream gradient / rows
};

// permute of a contiguous tensor of rank <= 5 (unused trailing axes have size 1).
template <typename T>
struct PermuteParams {
    const T* x;  // input, contiguous
    T* out;      // output with dims out_dims
    i64 n;
    int rank;
    int out_dims[5];
    i64 in_strides[5];  // input stride of the axis that output axis a reads
};

// One tensor of a multi-tensor SGD launch.
template <typename T>
struct SgdSlot {
    const T* p;    // (len)
    const T* g;    // (len)
    const T* buf;  // (len) or null on the first momentum step
    T* p_out;      // (len)
    T* buf_out;    // (len)
    i64 offset;    // start of this slot in the flattened index space
    i64 len;
};

template <typename T>
struct SgdParams {
    const SgdSlot<T>* slots;  // (num_slots), sorted by offset
    int num_slots;
    int nesterov;
    i64 total;  // sum of the slots' lengths
    T lr, weight_decay, momentum, dampening, grad_scale;
};

// n / d for 0 <= n < 2^31 as (n · mul) >> shift in 64 bits (Granlund–Montgomery with
// mul = ceil(2^shift / d), shift = 31 + ceil(log2 d)): a division by a run-time size without
// the MUFU.RCP + I2F/F2I sequence. The launcher computes the pair (params.rs: StsmDiv::new).
struct StsmDiv {
    u32 mul, shift;
};

// conv3d_{fwd,xbwd,wbwd}_bf16_*: implicit GEMMs on bf16 tensor cores over channels-last
// tensors whose channel counts are padded to multiples of 8 (Cp, Op; the pad channels hold 0).
// taps = KT·KH·KW.
struct Conv3dBf16Params {
    const unsigned short* x;   // (N, T, H, W, Cp) bf16                    fwd, wbwd
    const unsigned short* w;   // fwd (O, taps, Cp), xbwd (C, taps, Op) bf16
    const float* b;            // (O) or null                              fwd
    const unsigned short* gy;  // (N, T', H', W', Op) bf16                 xbwd, wbwd
    unsigned short* out;       // fwd y (N, T', H', W', Op), xbwd gx (N, T, H, W, Cp) bf16
    float* out_f32;            // fwd (N, T', H', W', O), xbwd (N, T, H, W, C) or null;
                               // wbwd gw (O, C, KT, KH, KW)
    float* partial;            // (k_splits, GEMM rows, GEMM cols) split-K workspace, or null
    int batch, in_ch, out_ch, in_chp, out_chp;
    int in_t, in_h, in_w;
    int k_t, k_h, k_w;
    int s_t, s_h, s_w;
    int p_t, p_h, p_w;
    int out_t, out_h, out_w;
    int relu;         // fwd: clamp at 0 after the bias
    int k_splits;     // slices of the GEMM's K dimension
    int split_steps;  // 32-wide K steps per slice
    StsmDiv div_vecs;                 // 8-channel vectors per tap: Cp/8 (fwd, wbwd), Op/8 (xbwd)
    StsmDiv div_kw, div_kh;           // tap -> (dt, dh, dw)
    StsmDiv div_w, div_h, div_t;      // GEMM row/K position -> (n, t, h, w) over (T', H', W')
                                      // (fwd, wbwd) or (T, H, W) (xbwd)
    StsmDiv div_st, div_sh, div_sw;   // xbwd: strides
    StsmDiv div_tiles_n, div_tiles;   // work item -> (slice, tile row, tile column)
};

// Conversions and layout changes around the bf16 kernels (kernels/bf16.cu).
struct Bf16LayoutParams {
    const void* src;  // f32 or bf16, see the kernel
    void* dst;        // f32 or bf16, see the kernel
    i64 n;            // elements written
    int outer;        // N (activations) or O (weights)
    int channels;     // C
    int channels_p;   // C rounded up to a multiple of 8
    int inner;        // T·H·W (activations) or taps (weights)
};

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

// NVRTC has no INFINITY macro; build infinities from their bit patterns on both sides.
template <typename T> __device__ inline T stsm_inf();
template <> __device__ inline float stsm_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ inline double stsm_inf<double>() { return __longlong_as_double(0x7ff0000000000000LL); }

__device__ inline bool stsm_isnan(float v) { return v != v; }
__device__ inline bool stsm_isnan(double v) { return v != v; }
__device__ inline float stsm_exp(float v) { return expf(v); }
__device__ inline double stsm_exp(double v) { return exp(v); }
__device__ inline float stsm_log(float v) { return logf(v); }
__device__ inline double stsm_log(double v) { return log(v); }
// fmax ignores a NaN operand, exactly as the CPU reference's `fold(-inf, T::max)` does.
__device__ inline float stsm_fmax(float a, float b) { return fmaxf(a, b); }
__device__ inline double stsm_fmax(double a, double b) { return fmax(a, b); }
__device__ inline int stsm_imin(int a, int b) { return a < b ? a : b; }
__device__ inline int stsm_imax(int a, int b) { return a > b ? a : b; }
__device__ inline int stsm_div(int n, StsmDiv d) { return (int)(((u64)(u32)n * d.mul) >> d.shift); }

// Flat grid-stride index helpers: every kernel covers any n with any grid.
__device__ inline i64 stsm_global_thread() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ inline i64 stsm_grid_threads() { return (i64)gridDim.x * blockDim.x; }

// Sum of `v` over one full warp, every lane receives the total.
template <typename T>
__device__ inline T warp_sum(T v) {
    for (int d = STSM_WARP / 2; d > 0; d /= 2) v += __shfl_xor_sync(0xffffffffu, v, d);
    return v;
}

template <typename T>
__device__ inline T warp_max(T v) {
    for (int d = STSM_WARP / 2; d > 0; d /= 2) v = stsm_fmax(v, __shfl_xor_sync(0xffffffffu, v, d));
    return v;
}

// Block-wide sum or max; blockDim.x must be a multiple of 32 (the launchers use 256).
// `scratch` holds one T per warp (dynamic shared memory). Every thread gets the result.
// The trailing barrier lets the caller reuse `scratch` right away.
template <typename T, bool IsMax>
__device__ inline T block_reduce(T v, T* scratch) {
    const int lane = threadIdx.x % STSM_WARP, warp = threadIdx.x / STSM_WARP;
    const int warps = blockDim.x / STSM_WARP;
    v = IsMax ? warp_max(v) : warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    T r = scratch[0];
    for (int i = 1; i < warps; ++i) r = IsMax ? stsm_fmax(r, scratch[i]) : r + scratch[i];
    __syncthreads();
    return r;
}
