// The linear layer y = x · Wᵀ + b (PyTorch's (out, in) weight layout) and its gradients, on
// the tiled GEMM of gemm.cuh. Launch: GEMM_THREADS threads per block, any grid; bias
// gradient: a multiple of 32 threads, dynamic shared one T per warp.
#include "common.cuh"
#include "gemm.cuh"

// M×N×K = R × O × I.
template <typename T>
__device__ void linear_fwd(const LinearParams<T>& p) {
    auto load_a = [&](int r, int i) { return p.x[(i64)r * p.ins + i]; };
    auto load_b = [&](int i, int o) { return p.w[(i64)o * p.ins + i]; };
    auto store = [&](int r, int o, T v) { p.out[(i64)r * p.outs + o] = v + (p.b ? p.b[o] : T(0)); };
    gemm_tiled<T>(p.rows, p.outs, p.ins, load_a, load_b, store);
}

// gx = gy · W.  M×N×K = R × I × O.
template <typename T>
__device__ void linear_xbwd(const LinearParams<T>& p) {
    auto load_a = [&](int r, int o) { return p.gy[(i64)r * p.outs + o]; };
    auto load_b = [&](int o, int i) { return p.w[(i64)o * p.ins + i]; };
    auto store = [&](int r, int i, T v) { p.out[(i64)r * p.ins + i] = v; };
    gemm_tiled<T>(p.rows, p.ins, p.outs, load_a, load_b, store);
}

// gw = gyᵀ · x.  M×N×K = O × I × R.
template <typename T>
__device__ void linear_wbwd(const LinearParams<T>& p) {
    auto load_a = [&](int o, int r) { return p.gy[(i64)r * p.outs + o]; };
    auto load_b = [&](int r, int i) { return p.x[(i64)r * p.ins + i]; };
    auto store = [&](int o, int i, T v) { p.out[(i64)o * p.ins + i] = v; };
    gemm_tiled<T>(p.outs, p.ins, p.rows, load_a, load_b, store);
}

// gb[o] = sum over rows of gy[r, o].
template <typename T>
__device__ void linear_bbwd(const LinearParams<T>& p) {
    channel_sum(p.gy, p.out, p.rows, p.outs, 1);
}

extern "C" __global__ void linear_fwd_f32(LinearParams<float> p) { linear_fwd(p); }
extern "C" __global__ void linear_fwd_f64(LinearParams<double> p) { linear_fwd(p); }
extern "C" __global__ void linear_xbwd_f32(LinearParams<float> p) { linear_xbwd(p); }
extern "C" __global__ void linear_xbwd_f64(LinearParams<double> p) { linear_xbwd(p); }
extern "C" __global__ void linear_wbwd_f32(LinearParams<float> p) { linear_wbwd(p); }
extern "C" __global__ void linear_wbwd_f64(LinearParams<double> p) { linear_wbwd(p); }
extern "C" __global__ void linear_bbwd_f32(LinearParams<float> p) { linear_bbwd(p); }
extern "C" __global__ void linear_bbwd_f64(LinearParams<double> p) { linear_bbwd(p); }
