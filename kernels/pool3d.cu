// 3D max and average pooling, one output (forward) or one input element (backward) per
// thread, grid-stride. Windows follow Pool3dGeometry::window: start o*s - p, clipped to the
// input; the padded length (avg with count_include_pad) stops at input + p. Backward passes
// gather: an input element visits the outputs whose window covers it in ascending order,
// the same order in which the CPU reference scatters, so sums match it exactly.
#include "common.cuh"

struct PoolWindow {
    int lo, hi, padded;
};

__device__ inline PoolWindow pool_window(int o, int k, int s, int p, int in) {
    const int start = o * s - p;
    const int end_padded = stsm_imin(start + k, in + p);
    PoolWindow w;
    w.padded = end_padded - start;
    w.lo = stsm_imax(start, 0);
    w.hi = stsm_imax(stsm_imin(end_padded, in), w.lo);
    return w;
}

// The outputs [first, last] whose window [o*s - p, o*s - p + k) holds input index i.
__device__ inline void covering_outputs(int i, int k, int s, int p, int out, int& first, int& last) {
    const int hi = i + p;             // o*s <= i + p
    const int lo = i + p - k + 1;     // o*s >= i + p - k + 1
    first = lo <= 0 ? 0 : (lo + s - 1) / s;
    last = stsm_imin(hi / s, out - 1);
}

template <typename T>
__device__ void max_pool3d_fwd(const Pool3dParams<T>& p) {
    const int out_plane = p.out_t * p.out_h * p.out_w, in_plane = p.in_t * p.in_h * p.in_w;
    const i64 n = (i64)p.planes * out_plane;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int plane = (int)(e / out_plane), pos = (int)(e % out_plane);
        const PoolWindow wt = pool_window(pos / (p.out_h * p.out_w), p.k_t, p.s_t, p.p_t, p.in_t);
        const PoolWindow wh = pool_window((pos / p.out_w) % p.out_h, p.k_h, p.s_h, p.p_h, p.in_h);
        const PoolWindow ww = pool_window(pos % p.out_w, p.k_w, p.s_w, p.p_w, p.in_w);
        const T* x = p.x + (i64)plane * in_plane;
        T best = -stsm_inf<T>();
        u32 arg = STSM_NO_ARGMAX;
        for (int t = wt.lo; t < wt.hi; ++t)
            for (int h = wh.lo; h < wh.hi; ++h)
                for (int w = ww.lo; w < ww.hi; ++w) {
                    const int i = (t * p.in_h + h) * p.in_w + w;
                    const T v = x[i];
                    // NaN wins (as PyTorch); the first maximum wins ties.
                    if (arg == STSM_NO_ARGMAX || v > best || (stsm_isnan(v) && !stsm_isnan(best))) {
                        best = v;
                        arg = (u32)i;
                    }
                }
        p.out[e] = best;
        p.arg_out[e] = arg;
    }
}

template <typename T>
__device__ void max_pool3d_bwd(const Pool3dParams<T>& p) {
    const int out_plane = p.out_t * p.out_h * p.out_w, in_plane = p.in_t * p.in_h * p.in_w;
    const i64 n = (i64)p.planes * in_plane;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int plane = (int)(e / in_plane), i = (int)(e % in_plane);
        int t0, t1, h0, h1, w0, w1;
        covering_outputs(i / (p.in_h * p.in_w), p.k_t, p.s_t, p.p_t, p.out_t, t0, t1);
        covering_outputs((i / p.in_w) % p.in_h, p.k_h, p.s_h, p.p_h, p.out_h, h0, h1);
        covering_outputs(i % p.in_w, p.k_w, p.s_w, p.p_w, p.out_w, w0, w1);
        const i64 base = (i64)plane * out_plane;
        T acc = T(0);
        for (int t = t0; t <= t1; ++t)
            for (int h = h0; h <= h1; ++h)
                for (int w = w0; w <= w1; ++w) {
                    const i64 o = base + (t * p.out_h + h) * p.out_w + w;
                    if (p.arg[o] == (u32)i) acc += p.gy[o];
                }
        p.out[e] = acc;
    }
}

template <typename T>
__device__ inline T avg_divisor(const Pool3dParams<T>& p, PoolWindow a, PoolWindow b, PoolWindow c) {
    const int count = p.count_include_pad ? a.padded * b.padded * c.padded
                                          : (a.hi - a.lo) * (b.hi - b.lo) * (c.hi - c.lo);
    return T(stsm_imax(count, 1));
}

template <typename T>
__device__ void avg_pool3d_fwd(const Pool3dParams<T>& p) {
    const int out_plane = p.out_t * p.out_h * p.out_w, in_plane = p.in_t * p.in_h * p.in_w;
    const i64 n = (i64)p.planes * out_plane;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int plane = (int)(e / out_plane), pos = (int)(e % out_plane);
        const PoolWindow wt = pool_window(pos / (p.out_h * p.out_w), p.k_t, p.s_t, p.p_t, p.in_t);
        const PoolWindow wh = pool_window((pos / p.out_w) % p.out_h, p.k_h, p.s_h, p.p_h, p.in_h);
        const PoolWindow ww = pool_window(pos % p.out_w, p.k_w, p.s_w, p.p_w, p.in_w);
        const T* x = p.x + (i64)plane * in_plane;
        T acc = T(0);
        for (int t = wt.lo; t < wt.hi; ++t)
            for (int h = wh.lo; h < wh.hi; ++h)
                for (int w = ww.lo; w < ww.hi; ++w) acc += x[(t * p.in_h + h) * p.in_w + w];
        p.out[e] = acc / avg_divisor(p, wt, wh, ww);
    }
}

template <typename T>
__device__ void avg_pool3d_bwd(const Pool3dParams<T>& p) {
    const int out_plane = p.out_t * p.out_h * p.out_w, in_plane = p.in_t * p.in_h * p.in_w;
    const i64 n = (i64)p.planes * in_plane;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int plane = (int)(e / in_plane), i = (int)(e % in_plane);
        const int it = i / (p.in_h * p.in_w), ih = (i / p.in_w) % p.in_h, iw = i % p.in_w;
        int t0, t1, h0, h1, w0, w1;
        covering_outputs(it, p.k_t, p.s_t, p.p_t, p.out_t, t0, t1);
        covering_outputs(ih, p.k_h, p.s_h, p.p_h, p.out_h, h0, h1);
        covering_outputs(iw, p.k_w, p.s_w, p.p_w, p.out_w, w0, w1);
        const i64 base = (i64)plane * out_plane;
        T acc = T(0);
        for (int t = t0; t <= t1; ++t) {
            const PoolWindow wt = pool_window(t, p.k_t, p.s_t, p.p_t, p.in_t);
            for (int h = h0; h <= h1; ++h) {
                const PoolWindow wh = pool_window(h, p.k_h, p.s_h, p.p_h, p.in_h);
                for (int w = w0; w <= w1; ++w) {
                    const PoolWindow ww = pool_window(w, p.k_w, p.s_w, p.p_w, p.in_w);
                    acc += p.gy[base + (t * p.out_h + h) * p.out_w + w] / avg_divisor(p, wt, wh, ww);
                }
            }
        }
        p.out[e] = acc;
    }
}

extern "C" __global__ void max_pool3d_fwd_f32(Pool3dParams<float> p) { max_pool3d_fwd(p); }
extern "C" __global__ void max_pool3d_fwd_f64(Pool3dParams<double> p) { max_pool3d_fwd(p); }
extern "C" __global__ void max_pool3d_bwd_f32(Pool3dParams<float> p) { max_pool3d_bwd(p); }
extern "C" __global__ void max_pool3d_bwd_f64(Pool3dParams<double> p) { max_pool3d_bwd(p); }
extern "C" __global__ void avg_pool3d_fwd_f32(Pool3dParams<float> p) { avg_pool3d_fwd(p); }
extern "C" __global__ void avg_pool3d_fwd_f64(Pool3dParams<double> p) { avg_pool3d_fwd(p); }
extern "C" __global__ void avg_pool3d_bwd_f32(Pool3dParams<float> p) { avg_pool3d_bwd(p); }
extern "C" __global__ void avg_pool3d_bwd_f64(Pool3dParams<double> p) { avg_pool3d_bwd(p); }
