// Conversions between the engine's f32 tensors and the bf16 operands of the tensor-core
// convolutions (conv3d_bf16.cu): flat f32 <-> bf16, activations NCDHW f32 <-> channels-last
// (N, T, H, W, Cp) bf16 with the channels padded to a multiple of 8 (one 16-byte vector per
// tap and 8 channels; the pad channels are 0), and the two weight layouts the GEMMs read,
// made once per step. Grid-stride, one output element per thread.
#include "common.cuh"
#include "bf16.cuh"

// dst (n) bf16 <- src (n) f32.
__device__ void f32_to_bf16_flat(const Bf16LayoutParams& p) {
    const float* src = static_cast<const float*>(p.src);
    stsm_bf16* dst = static_cast<stsm_bf16*>(p.dst);
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) dst[e] = stsm_bf16_from_f32(src[e]);
}

// dst (n) f32 <- src (n) bf16, exact.
__device__ void bf16_to_f32_flat(const Bf16LayoutParams& p) {
    const stsm_bf16* src = static_cast<const stsm_bf16*>(p.src);
    float* dst = static_cast<float*>(p.dst);
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) dst[e] = stsm_bf16_to_f32(src[e]);
}

// dst (outer, inner, channels_p) bf16 <- src (outer, channels, inner) f32, pad channels 0.
// Activations: (N, C, T·H·W) -> (N, T·H·W, Cp). Forward weights: (O, C, taps) -> (O, taps, Cp).
__device__ void to_channels_last_padded(const Bf16LayoutParams& p) {
    const float* src = static_cast<const float*>(p.src);
    stsm_bf16* dst = static_cast<stsm_bf16*>(p.dst);
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) {
        const int c = (int)(e % p.channels_p);
        const i64 row = e / p.channels_p;  // outer · inner + i
        const i64 o = row / p.inner, i = row % p.inner;
        dst[e] = c < p.channels ? stsm_bf16_from_f32(src[(o * p.channels + c) * p.inner + i]) : 0;
    }
}

// dst (outer, channels, inner) f32 <- src (outer, inner, channels_p) bf16: the inverse.
__device__ void from_channels_last_padded(const Bf16LayoutParams& p) {
    const stsm_bf16* src = static_cast<const stsm_bf16*>(p.src);
    float* dst = static_cast<float*>(p.dst);
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) {
        const i64 i = e % p.inner, oc = e / p.inner;
        const i64 o = oc / p.channels, c = oc % p.channels;
        dst[e] = stsm_bf16_to_f32(src[(o * p.inner + i) * p.channels_p + c]);
    }
}

// Input-gradient weights: dst (C, taps, Op) bf16 <- w (O, C, taps) f32, with outer = O,
// channels = O, channels_p = Op and inner = taps; C = n / (taps · Op). Pad outputs are 0.
__device__ void weight_to_xgemm_layout(const Bf16LayoutParams& p) {
    const float* src = static_cast<const float*>(p.src);
    stsm_bf16* dst = static_cast<stsm_bf16*>(p.dst);
    const i64 in_ch = p.n / ((i64)p.inner * p.channels_p);
    for (i64 e = stsm_global_thread(); e < p.n; e += stsm_grid_threads()) {
        const int o = (int)(e % p.channels_p);
        const i64 row = e / p.channels_p;  // c · taps + tap
        const i64 c = row / p.inner, tap = row % p.inner;
        dst[e] = o < p.channels ? stsm_bf16_from_f32(src[((i64)o * in_ch + c) * p.inner + tap]) : 0;
    }
}

extern "C" __global__ void convert_f32_to_bf16(Bf16LayoutParams p) { f32_to_bf16_flat(p); }
extern "C" __global__ void convert_bf16_to_f32(Bf16LayoutParams p) { bf16_to_f32_flat(p); }
extern "C" __global__ void to_channels_last_bf16(Bf16LayoutParams p) { to_channels_last_padded(p); }
extern "C" __global__ void from_channels_last_bf16(Bf16LayoutParams p) { from_channels_last_padded(p); }
extern "C" __global__ void weight_to_xgemm_bf16(Bf16LayoutParams p) { weight_to_xgemm_layout(p); }
