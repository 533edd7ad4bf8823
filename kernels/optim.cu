// SGD with momentum (PyTorch semantics, see src/optim/sgd.rs) over any number of tensors in
// one launch: the slots' elements form one flat index space, each thread finds its slot by
// binary search over the slot offsets, grid-stride.
#include "common.cuh"

// The slot holding flat index e: the last slot whose offset <= e.
template <typename T>
__device__ inline int sgd_find_slot(const SgdParams<T>& p, i64 e) {
    int lo = 0, hi = p.num_slots - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (p.slots[mid].offset <= e) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// Per slot: p, g, buf (len) -> p_out, buf_out (len).
template <typename T>
__device__ void sgd_step(const SgdParams<T>& p) {
    for (i64 e = stsm_global_thread(); e < p.total; e += stsm_grid_threads()) {
        const SgdSlot<T>& s = p.slots[sgd_find_slot(p, e)];
        const i64 i = e - s.offset;
        const T d = s.g[i] * p.grad_scale + p.weight_decay * s.p[i];
        const T b = s.buf ? p.momentum * s.buf[i] + (T(1) - p.dampening) * d : d;
        const T step = p.momentum == T(0) ? d : (p.nesterov ? d + p.momentum * b : b);
        s.p_out[i] = s.p[i] - p.lr * step;
        s.buf_out[i] = b;
    }
}

extern "C" __global__ void sgd_step_f32(SgdParams<float> p) { sgd_step(p); }
extern "C" __global__ void sgd_step_f64(SgdParams<double> p) { sgd_step(p); }
