// Axis permutation of a contiguous tensor of rank <= 5: one output element per thread,
// grid-stride; the output index is decomposed over out_dims and re-weighted by the input
// strides of the permuted axes.
#include "common.cuh"

// x: contiguous input -> out: contiguous, dims out_dims[0..rank).
template <typename T>
__device__ void permute_fwd(const PermuteParams<T>& p) {
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) {
        i64 rest = e, src = 0;
        for (int a = p.rank - 1; a >= 0; --a) {
            src += (rest % p.out_dims[a]) * p.in_strides[a];
            rest /= p.out_dims[a];
        }
        p.out[e] = p.x[src];
    }
}

extern "C" __global__ void permute_fwd_f32(PermuteParams<float> p) { permute_fwd(p); }
extern "C" __global__ void permute_fwd_f64(PermuteParams<double> p) { permute_fwd(p); }
