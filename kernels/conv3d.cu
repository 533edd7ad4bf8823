// 3D convolution as implicit GEMM (see gemm.cuh): forward, input gradient (gather form:
// each input element pulls from the outputs it touched, so no atomics and a fixed order),
// weight gradient and bias gradient. Launch: GEMM_THREADS threads per block, any grid.
#include "common.cuh"
#include "gemm.cuh"

// Mutation testing: the emulator suite compiles this file once with the macro defined and
// asserts that the comparison with the CPU reference then FAILS.
#ifdef STSM_MUTATE_CONV_OFF_BY_ONE
#define STSM_CONV_W_SHIFT 1
#else
#define STSM_CONV_W_SHIFT 0
#endif

// Reads x at (n, c, output position (zt, zh, zw) + tap (dt, dh, dw)); 0 on the padding.
template <typename T>
__device__ inline T conv_x_tap(const Conv3dParams<T>& p, int n, int c, int zt, int zh, int zw, int dt, int dh,
                               int dw) {
    const int xt = zt * p.s_t + dt - p.p_t;
    const int xh = zh * p.s_h + dh - p.p_h;
    const int xw = zw * p.s_w + dw - p.p_w + STSM_CONV_W_SHIFT;
    if (xt < 0 || xt >= p.in_t || xh < 0 || xh >= p.in_h || xw < 0 || xw >= p.in_w) return T(0);
    return p.x[(((i64)(n * p.in_ch + c) * p.in_t + xt) * p.in_h + xh) * p.in_w + xw];
}

// y = W · im2col(x) + b.  M×N×K = O × (N·T'·H'·W') × (C·KT·KH·KW).
template <typename T>
__device__ void conv3d_fwd(const Conv3dParams<T>& p) {
    const int taps = p.k_t * p.k_h * p.k_w, plane = p.out_t * p.out_h * p.out_w;
    const int M = p.out_ch, N = p.batch * plane, K = p.in_ch * taps;
    auto load_a = [&](int o, int k) { return p.w[(i64)o * K + k]; };
    auto load_b = [&](int k, int n) {
        const int c = k / taps, kv = k % taps, nb = n / plane, pos = n % plane;
        return conv_x_tap(p, nb, c, pos / (p.out_h * p.out_w), (pos / p.out_w) % p.out_h, pos % p.out_w,
                          kv / (p.k_h * p.k_w), (kv / p.k_w) % p.k_h, kv % p.k_w);
    };
    auto store = [&](int o, int n, T v) {
        const int nb = n / plane, pos = n % plane;
        p.out[(i64)(nb * p.out_ch + o) * plane + pos] = v + (p.b ? p.b[o] : T(0));
    };
    gemm_tiled<T>(M, N, K, load_a, load_b, store);
}

// gx = Wᵀ · col2im(gy), as a gather.  M×N×K = C × (N·T·H·W) × (O·KT·KH·KW).
template <typename T>
__device__ void conv3d_xbwd(const Conv3dParams<T>& p) {
    const int taps = p.k_t * p.k_h * p.k_w, in_plane = p.in_t * p.in_h * p.in_w;
    const int M = p.in_ch, N = p.batch * in_plane, K = p.out_ch * taps;
    auto load_a = [&](int c, int k) {
        const int o = k / taps, kv = k % taps;
        return p.w[((i64)o * p.in_ch + c) * taps + kv];
    };
    // The output position whose tap kv lands on input (xt, xh, xw), if any.
    auto load_b = [&](int k, int n) {
        const int o = k / taps, kv = k % taps, nb = n / in_plane, pos = n % in_plane;
        const int dt = kv / (p.k_h * p.k_w), dh = (kv / p.k_w) % p.k_h, dw = kv % p.k_w;
        const int nt = pos / (p.in_h * p.in_w) + p.p_t - dt;
        const int nh = (pos / p.in_w) % p.in_h + p.p_h - dh;
        const int nw = pos % p.in_w + p.p_w - dw;
        if (nt < 0 || nh < 0 || nw < 0 || nt % p.s_t || nh % p.s_h || nw % p.s_w) return T(0);
        const int zt = nt / p.s_t, zh = nh / p.s_h, zw = nw / p.s_w;
        if (zt >= p.out_t || zh >= p.out_h || zw >= p.out_w) return T(0);
        return p.gy[(((i64)(nb * p.out_ch + o) * p.out_t + zt) * p.out_h + zh) * p.out_w + zw];
    };
    auto store = [&](int c, int n, T v) {
        const int nb = n / in_plane, pos = n % in_plane;
        p.out[(i64)(nb * p.in_ch + c) * in_plane + pos] = v;
    };
    gemm_tiled<T>(M, N, K, load_a, load_b, store);
}

// gw = gy · im2col(x)ᵀ.  M×N×K = O × (C·KT·KH·KW) × (N·T'·H'·W'). With k_splits > 1 the
// reduction over positions is cut into slices written to `partial` (split-K: the output is
// small but K is huge, so the unsplit GEMM would occupy only a few blocks), and
// conv3d_wbwd_reduce sums the slices in order — deterministic, no atomics.
template <typename T>
__device__ void conv3d_wbwd(const Conv3dParams<T>& p) {
    const int taps = p.k_t * p.k_h * p.k_w, plane = p.out_t * p.out_h * p.out_w;
    const int M = p.out_ch, N = p.in_ch * taps, K = p.batch * plane;
    auto load_a = [&](int o, int k) {
        const int nb = k / plane, pos = k % plane;
        return p.gy[(i64)(nb * p.out_ch + o) * plane + pos];
    };
    auto load_b = [&](int k, int n) {
        const int nb = k / plane, pos = k % plane, c = n / taps, kv = n % taps;
        return conv_x_tap(p, nb, c, pos / (p.out_h * p.out_w), (pos / p.out_w) % p.out_h, pos % p.out_w,
                          kv / (p.k_h * p.k_w), (kv / p.k_w) % p.k_h, kv % p.k_w);
    };
    if (p.k_splits <= 1) {
        auto store = [&](int, int o, int n, T v) { p.out[(i64)o * N + n] = v; };
        gemm_tiled_split<T>(M, N, K, 1, load_a, load_b, store);
    } else {
        auto store = [&](int s, int o, int n, T v) { p.partial[((i64)s * M + o) * N + n] = v; };
        gemm_tiled_split<T>(M, N, K, p.k_splits, load_a, load_b, store);
    }
}

// partial: (k_splits, O, C·KT·KH·KW) -> gw (O, C·KT·KH·KW), slices summed in order.
template <typename T>
__device__ void conv3d_wbwd_reduce(const Conv3dParams<T>& p) {
    const i64 n = (i64)p.out_ch * p.in_ch * p.k_t * p.k_h * p.k_w;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        T acc = T(0);
        for (int s = 0; s < p.k_splits; ++s) acc += p.partial[s * n + e];
        p.out[e] = acc;
    }
}

// gb[o] = sum of gy over (N, T', H', W'). Dynamic shared: one T per warp.
template <typename T>
__device__ void conv3d_bbwd(const Conv3dParams<T>& p) {
    channel_sum(p.gy, p.out, p.batch, p.out_ch, p.out_t * p.out_h * p.out_w);
}

extern "C" __global__ void conv3d_fwd_f32(Conv3dParams<float> p) { conv3d_fwd(p); }
extern "C" __global__ void conv3d_fwd_f64(Conv3dParams<double> p) { conv3d_fwd(p); }
extern "C" __global__ void conv3d_xbwd_f32(Conv3dParams<float> p) { conv3d_xbwd(p); }
extern "C" __global__ void conv3d_xbwd_f64(Conv3dParams<double> p) { conv3d_xbwd(p); }
extern "C" __global__ void conv3d_wbwd_f32(Conv3dParams<float> p) { conv3d_wbwd(p); }
extern "C" __global__ void conv3d_wbwd_f64(Conv3dParams<double> p) { conv3d_wbwd(p); }
extern "C" __global__ void conv3d_wbwd_reduce_f32(Conv3dParams<float> p) { conv3d_wbwd_reduce(p); }
extern "C" __global__ void conv3d_wbwd_reduce_f64(Conv3dParams<double> p) { conv3d_wbwd_reduce(p); }
extern "C" __global__ void conv3d_bbwd_f32(Conv3dParams<float> p) { conv3d_bbwd(p); }
extern "C" __global__ void conv3d_bbwd_f64(Conv3dParams<double> p) { conv3d_bbwd(p); }
