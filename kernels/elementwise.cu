// Flat elementwise ops over n elements, grid-stride: relu forward/backward, inverted dropout
// (mask drawn by the same counter hash as src/ops/dropout.rs), add, scale, fill.
#include "common.cuh"

// a: x (n) -> out (n).
template <typename T>
__device__ void relu_fwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) p.out[i] = p.a[i] > T(0) ? p.a[i] : T(0);
}

// a: gy (n), b: x (n) -> gx (n); zero where x <= 0 (as PyTorch).
template <typename T>
__device__ void relu_bwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) p.out[i] = p.b[i] > T(0) ? p.a[i] : T(0);
}

__device__ inline u64 splitmix64(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// a: x (n) -> out (n): kept elements times factor = 1/(1-p), dropped ones 0. Element i is
// kept iff the top 24 bits of splitmix64(seed ^ splitmix64(i)) reach the threshold.
template <typename T>
__device__ void dropout_fwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) {
        const u32 bits = (u32)(splitmix64(p.seed ^ splitmix64((u64)i)) >> 40);
        p.out[i] = bits >= p.threshold ? p.a[i] * p.factor : T(0);
    }
}

// a (n) + b (n) -> out (n).
template <typename T>
__device__ void add_fwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) p.out[i] = p.a[i] + p.b[i];
}

// a (n) * factor -> out (n).
template <typename T>
__device__ void scale_fwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) p.out[i] = p.a[i] * p.factor;
}

// out (n) = factor.
template <typename T>
__device__ void fill_fwd(const ElementwiseParams<T>& p) {
    for (i64 i = stsm_global_thread(); i < p.n; i += stsm_grid_threads()) p.out[i] = p.factor;
}

extern "C" __global__ void relu_fwd_f32(ElementwiseParams<float> p) { relu_fwd(p); }
extern "C" __global__ void relu_fwd_f64(ElementwiseParams<double> p) { relu_fwd(p); }
extern "C" __global__ void relu_bwd_f32(ElementwiseParams<float> p) { relu_bwd(p); }
extern "C" __global__ void relu_bwd_f64(ElementwiseParams<double> p) { relu_bwd(p); }
extern "C" __global__ void dropout_fwd_f32(ElementwiseParams<float> p) { dropout_fwd(p); }
extern "C" __global__ void dropout_fwd_f64(ElementwiseParams<double> p) { dropout_fwd(p); }
extern "C" __global__ void add_fwd_f32(ElementwiseParams<float> p) { add_fwd(p); }
extern "C" __global__ void add_fwd_f64(ElementwiseParams<double> p) { add_fwd(p); }
extern "C" __global__ void scale_fwd_f32(ElementwiseParams<float> p) { scale_fwd(p); }
extern "C" __global__ void scale_fwd_f64(ElementwiseParams<double> p) { scale_fwd(p); }
extern "C" __global__ void fill_fwd_f32(ElementwiseParams<float> p) { fill_fwd(p); }
extern "C" __global__ void fill_fwd_f64(ElementwiseParams<double> p) { fill_fwd(p); }
