// Log-softmax and cross-entropy over the last axis of (R, K) logits. One block per row
// (grid-stride over rows), block-wide max and sum reductions; blockDim.x a multiple of 32,
// dynamic shared memory one T per warp.
#include "common.cuh"

// log(sum_k exp(x_k)) of one row, shifted by the row max; every thread gets it.
template <typename T>
__device__ inline T row_logsumexp(const T* x, int classes, T* scratch) {
    T top = -stsm_inf<T>();
    for (int k = threadIdx.x; k < classes; k += blockDim.x) top = stsm_fmax(top, x[k]);
    top = block_reduce<T, true>(top, scratch);
    T sum = T(0);
    for (int k = threadIdx.x; k < classes; k += blockDim.x) sum += stsm_exp(x[k] - top);
    return stsm_log(block_reduce<T, false>(sum, scratch)) + top;
}

// x: (R, K) -> out: (R, K) = x - logsumexp(x).
template <typename T>
__device__ void log_softmax_fwd(const LossParams<T>& p) {
    DYNAMIC_SHARED(T, scratch);
    for (int r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const T* x = p.x + (i64)r * p.classes;
        const T lse = row_logsumexp(x, p.classes, scratch);
        for (int k = threadIdx.x; k < p.classes; k += blockDim.x) p.out[(i64)r * p.classes + k] = x[k] - lse;
    }
}

// gy, y = log_softmax(x): (R, K) -> gx = gy - exp(y) * sum_k gy.
template <typename T>
__device__ void log_softmax_bwd(const LossParams<T>& p) {
    DYNAMIC_SHARED(T, scratch);
    for (int r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const i64 base = (i64)r * p.classes;
        T total = T(0);
        for (int k = threadIdx.x; k < p.classes; k += blockDim.x) total += p.gy[base + k];
        total = block_reduce<T, false>(total, scratch);
        for (int k = threadIdx.x; k < p.classes; k += blockDim.x)
            p.out[base + k] = p.gy[base + k] - stsm_exp(p.x[base + k]) * total;
    }
}

// x: (R, K), labels: (R) -> out: (1) = mean_r (logsumexp(x_r) - x_r[label_r]). Launched with
// one block: rows are visited in order, so the mean is deterministic without atomics.
template <typename T>
__device__ void cross_entropy_fwd(const LossParams<T>& p) {
    DYNAMIC_SHARED(T, scratch);
    if (blockIdx.x != 0) return;
    T total = T(0);
    for (int r = 0; r < p.rows; ++r) {
        const T* x = p.x + (i64)r * p.classes;
        total += row_logsumexp(x, p.classes, scratch) - x[p.labels[r]];
    }
    if (threadIdx.x == 0) p.out[0] = total / T(p.rows);
}

// x: (R, K), labels: (R) -> gx: (R, K) = (softmax(x) - onehot(label)) * scale.
template <typename T>
__device__ void cross_entropy_bwd(const LossParams<T>& p) {
    DYNAMIC_SHARED(T, scratch);
    for (int r = blockIdx.x; r < p.rows; r += gridDim.x) {
        const i64 base = (i64)r * p.classes;
        const T lse = row_logsumexp(p.x + base, p.classes, scratch);
        for (int k = threadIdx.x; k < p.classes; k += blockDim.x) {
            const T onehot = (u32)k == p.labels[r] ? T(1) : T(0);
            p.out[base + k] = (stsm_exp(p.x[base + k] - lse) - onehot) * p.scale;
        }
    }
}

extern "C" __global__ void log_softmax_fwd_f32(LossParams<float> p) { log_softmax_fwd(p); }
extern "C" __global__ void log_softmax_fwd_f64(LossParams<double> p) { log_softmax_fwd(p); }
extern "C" __global__ void log_softmax_bwd_f32(LossParams<float> p) { log_softmax_bwd(p); }
extern "C" __global__ void log_softmax_bwd_f64(LossParams<double> p) { log_softmax_bwd(p); }
extern "C" __global__ void cross_entropy_fwd_f32(LossParams<float> p) { cross_entropy_fwd(p); }
extern "C" __global__ void cross_entropy_fwd_f64(LossParams<double> p) { cross_entropy_fwd(p); }
extern "C" __global__ void cross_entropy_bwd_f32(LossParams<float> p) { cross_entropy_bwd(p); }
extern "C" __global__ void cross_entropy_bwd_f64(LossParams<double> p) { cross_entropy_bwd(p); }
