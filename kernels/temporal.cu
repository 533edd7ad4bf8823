// Temporal ops along the last axis of (rows, len) score tensors: sliding-window max,
// temporal softmax pooling (paper Eq. 3) and the two fused for test-time scoring. Grid-stride, one output or row per thread; rows are
// short (tens of windows), so a row per thread keeps the CPU reference's summation order.
#include "common.cuh"

// x: (R, L) -> out: (R, W), arg_out: (R, W) with W = L - k + 1, k = L - W + 1.
template <typename T>
__device__ void sliding_max_fwd(const TemporalParams<T>& p) {
    const int k = p.len - p.windows + 1;
    const i64 n = (i64)p.rows * p.windows;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const i64 r = e / p.windows;
        const int t = (int)(e % p.windows);
        const T* row = p.x + r * p.len;
        int best = t;
        for (int j = t + 1; j < t + k; ++j)
            if (row[j] > row[best] || (stsm_isnan(row[j]) && !stsm_isnan(row[best]))) best = j;
        p.out[e] = row[best];
        p.arg_out[e] = (u32)best;
    }
}

// gy, arg: (R, W) -> out: (R, L); gx[j] gathers the windows t in [j-k+1, j] that chose j.
template <typename T>
__device__ void sliding_max_bwd(const TemporalParams<T>& p) {
    const int k = p.len - p.windows + 1;
    const i64 n = (i64)p.rows * p.len;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const i64 r = e / p.len;
        const int j = (int)(e % p.len);
        T acc = T(0);
        for (int t = stsm_imax(j - k + 1, 0); t <= stsm_imin(j, p.windows - 1); ++t)
            if (p.arg[r * p.windows + t] == (u32)j) acc += p.gy[r * p.windows + t];
        p.out[e] = acc;
    }
}

// s: (R, W) -> f: (R) = sum_j p_j s_j, p: (R, W) = softmax(gamma s), shifted by the row max.
template <typename T>
__device__ void softmax_pool_fwd(const TemporalParams<T>& p) {
    for (i64 r = stsm_global_thread(); r < p.rows; r += stsm_grid_threads()) {
        const T* s = p.x + r * p.windows;
        T* w = p.out2 + r * p.windows;
        T top = -stsm_inf<T>();
        for (int j = 0; j < p.windows; ++j) top = stsm_fmax(top, p.gamma * s[j]);
        T total = T(0);
        for (int j = 0; j < p.windows; ++j) {
            w[j] = stsm_exp(p.gamma * s[j] - top);
            total += w[j];
        }
        T f = T(0);
        for (int j = 0; j < p.windows; ++j) {
            w[j] = w[j] / total;
            f += w[j] * s[j];
        }
        p.out[r] = f;
    }
}

// gs_j = gf * p_j * (1 + gamma (s_j - f)).  gy: gf (R); x: s, p: (R, W); f: (R) -> (R, W).
template <typename T>
__device__ void softmax_pool_bwd(const TemporalParams<T>& p) {
    const i64 n = (i64)p.rows * p.windows;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const i64 r = e / p.windows;
        p.out[e] = p.gy[r] * p.p[e] * (T(1) + p.gamma * (p.x[e] - p.f[r]));
    }
}

// Fused test-time scoring: x: (R, L) per-frame scores -> out: (R, 4) online-softmax states
// (anchor = the window maximising gamma*S, the max for gamma = 0, z = sum e^(gamma (S - anchor)), n = sum S e^(...),
// max S) over the W = L - k + 1 windows S_t = max x[t .. t+k). One block per row (grid-stride
// over rows); each thread folds windows t = tid, tid + blockDim, ... into a private state, then
// the block agrees on the anchor and sums the rescaled z and n. Window scores stay in registers.
template <typename T>
__device__ void window_pool_fwd(const TemporalParams<T>& p) {
    DYNAMIC_SHARED(T, scratch);
    const int k = p.len - p.windows + 1;
    // Anchors are compared as sign * S, so one block max serves both signs of gamma.
    const T sign = p.gamma < T(0) ? T(-1) : T(1);
    for (int r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const T* row = p.x + (i64)r * p.len;
        T anchor = T(0), z = T(0), n = T(0), smax = -stsm_inf<T>();
        for (int t = threadIdx.x; t < p.windows; t += blockDim.x) {
            T s = row[t];
            for (int j = t + 1; j < t + k; ++j)
                if (row[j] > s || (stsm_isnan(row[j]) && !stsm_isnan(s))) s = row[j];
            if (z == T(0)) {
                anchor = s;
            } else if (sign * (s - anchor) > T(0)) {  // a better window: rescale to it
                const T rescale = stsm_exp(p.gamma * (anchor - s));
                z *= rescale;
                n *= rescale;
                anchor = s;
            }
            const T e = stsm_exp(p.gamma * (s - anchor));
            z += e;
            n += s * e;
            smax = stsm_fmax(smax, s);
        }
        const bool empty = z == T(0);
        const T best = sign * block_reduce<T, true>(empty ? -stsm_inf<T>() : sign * anchor, scratch);
        // A thread without windows has zero sums: its factor must be 0, never NaN.
        const T rescale = empty ? T(0) : stsm_exp(p.gamma * (anchor - best));
        z = block_reduce<T, false>(z * rescale, scratch);
        n = block_reduce<T, false>(n * rescale, scratch);
        smax = block_reduce<T, true>(smax, scratch);
        if (threadIdx.x == 0) {
            T* out = p.out + (i64)r * 4;
            out[0] = best;
            out[1] = z;
            out[2] = n;
            out[3] = smax;
        }
    }
}

extern "C" __global__ void sliding_max_fwd_f32(TemporalParams<float> p) { sliding_max_fwd(p); }
extern "C" __global__ void sliding_max_fwd_f64(TemporalParams<double> p) { sliding_max_fwd(p); }
extern "C" __global__ void sliding_max_bwd_f32(TemporalParams<float> p) { sliding_max_bwd(p); }
extern "C" __global__ void sliding_max_bwd_f64(TemporalParams<double> p) { sliding_max_bwd(p); }
extern "C" __global__ void softmax_pool_fwd_f32(TemporalParams<float> p) { softmax_pool_fwd(p); }
extern "C" __global__ void softmax_pool_fwd_f64(TemporalParams<double> p) { softmax_pool_fwd(p); }
extern "C" __global__ void softmax_pool_bwd_f32(TemporalParams<float> p) { softmax_pool_bwd(p); }
extern "C" __global__ void softmax_pool_bwd_f64(TemporalParams<double> p) { softmax_pool_bwd(p); }
extern "C" __global__ void window_pool_fwd_f32(TemporalParams<float> p) { window_pool_fwd(p); }
extern "C" __global__ void window_pool_fwd_f64(TemporalParams<double> p) { window_pool_fwd(p); }
