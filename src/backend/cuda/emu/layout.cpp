// sizeof/offsetof of every parameter struct as the C++ compiler lays it out, for the Rust test
// that checks src/backend/cuda/params.rs mirrors kernels/common.cuh byte for byte.
#include <cstddef>
#include <cstring>
#include <string>

#include "cuda_emu.hpp"
#include "common.cuh"

namespace {

struct Row {
    const char* type;
    const char* field;  // "sizeof" for the struct size
    size_t value;
};

#define SIZE(T, name) Row{name, "sizeof", sizeof(T)}
#define OFF(T, name, f) Row{name, #f, offsetof(T, f)}

#define CONV(T, name)                                                                                             \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, w), OFF(T, name, b), OFF(T, name, gy), OFF(T, name, out),          \
        OFF(T, name, batch), OFF(T, name, in_ch), OFF(T, name, out_ch), OFF(T, name, in_t), OFF(T, name, in_h),     \
        OFF(T, name, in_w), OFF(T, name, k_t), OFF(T, name, k_h), OFF(T, name, k_w), OFF(T, name, s_t),            \
        OFF(T, name, s_h), OFF(T, name, s_w), OFF(T, name, p_t), OFF(T, name, p_h), OFF(T, name, p_w),             \
        OFF(T, name, out_t), OFF(T, name, out_h), OFF(T, name, out_w), OFF(T, name, k_splits), OFF(T, name, partial)
#define POOL(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, gy), OFF(T, name, arg), OFF(T, name, arg_out), OFF(T, name, out),  \
        OFF(T, name, planes), OFF(T, name, in_t), OFF(T, name, in_h), OFF(T, name, in_w), OFF(T, name, k_t),        \
        OFF(T, name, k_h), OFF(T, name, k_w), OFF(T, name, s_t), OFF(T, name, s_h), OFF(T, name, s_w),             \
        OFF(T, name, p_t), OFF(T, name, p_h), OFF(T, name, p_w), OFF(T, name, out_t), OFF(T, name, out_h),         \
        OFF(T, name, out_w), OFF(T, name, count_include_pad)
#define ELEM(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, a), OFF(T, name, b), OFF(T, name, out), OFF(T, name, n), OFF(T, name, factor),      \
        OFF(T, name, seed), OFF(T, name, threshold)
#define LIN(T, name)                                                                                               \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, w), OFF(T, name, b), OFF(T, name, gy), OFF(T, name, out),          \
        OFF(T, name, rows), OFF(T, name, ins), OFF(T, name, outs)
#define TEMP(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, gy), OFF(T, name, f), OFF(T, name, p), OFF(T, name, arg),          \
        OFF(T, name, arg_out), OFF(T, name, out), OFF(T, name, out2), OFF(T, name, rows), OFF(T, name, len),        \
        OFF(T, name, windows), OFF(T, name, gamma)
#define LOSS(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, gy), OFF(T, name, labels), OFF(T, name, out), OFF(T, name, rows),  \
        OFF(T, name, classes), OFF(T, name, scale)
#define PERM(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, out), OFF(T, name, n), OFF(T, name, rank), OFF(T, name, out_dims), \
        OFF(T, name, in_strides)
#define SLOT(T, name)                                                                                              \
    SIZE(T, name), OFF(T, name, p), OFF(T, name, g), OFF(T, name, buf), OFF(T, name, p_out), OFF(T, name, buf_out), \
        OFF(T, name, offset), OFF(T, name, len)
#define SGD(T, name)                                                                                               \
    SIZE(T, name), OFF(T, name, slots), OFF(T, name, num_slots), OFF(T, name, nesterov), OFF(T, name, total),       \
        OFF(T, name, lr), OFF(T, name, weight_decay), OFF(T, name, momentum), OFF(T, name, dampening),             \
        OFF(T, name, grad_scale)

#define DIV(T, name) SIZE(T, name), OFF(T, name, mul), OFF(T, name, shift)
#define CONVBF(T, name)                                                                                           \
    SIZE(T, name), OFF(T, name, x), OFF(T, name, w), OFF(T, name, b), OFF(T, name, gy), OFF(T, name, out),          \
        OFF(T, name, out_f32), OFF(T, name, partial), OFF(T, name, batch), OFF(T, name, in_ch),                     \
        OFF(T, name, out_ch), OFF(T, name, in_chp), OFF(T, name, out_chp), OFF(T, name, in_t), OFF(T, name, in_h),  \
        OFF(T, name, in_w), OFF(T, name, k_t), OFF(T, name, k_h), OFF(T, name, k_w), OFF(T, name, s_t),            \
        OFF(T, name, s_h), OFF(T, name, s_w), OFF(T, name, p_t), OFF(T, name, p_h), OFF(T, name, p_w),             \
        OFF(T, name, out_t), OFF(T, name, out_h), OFF(T, name, out_w), OFF(T, name, relu), OFF(T, name, k_splits),  \
        OFF(T, name, split_steps), OFF(T, name, div_vecs), OFF(T, name, div_kw), OFF(T, name, div_kh),              \
        OFF(T, name, div_w), OFF(T, name, div_h), OFF(T, name, div_t), OFF(T, name, div_st), OFF(T, name, div_sh),  \
        OFF(T, name, div_sw), OFF(T, name, div_tiles_n), OFF(T, name, div_tiles)
#define BFLAYOUT(T, name)                                                                                         \
    SIZE(T, name), OFF(T, name, src), OFF(T, name, dst), OFF(T, name, n), OFF(T, name, outer),                      \
        OFF(T, name, channels), OFF(T, name, channels_p), OFF(T, name, inner)

const Row kRows[] = {
    DIV(StsmDiv, "StsmDiv"), CONVBF(Conv3dBf16Params, "Conv3dBf16Params"),
    BFLAYOUT(Bf16LayoutParams, "Bf16LayoutParams"),
    CONV(Conv3dParams<float>, "Conv3dParams<f32>"),       CONV(Conv3dParams<double>, "Conv3dParams<f64>"),
    POOL(Pool3dParams<float>, "Pool3dParams<f32>"),       POOL(Pool3dParams<double>, "Pool3dParams<f64>"),
    ELEM(ElementwiseParams<float>, "ElementwiseParams<f32>"), ELEM(ElementwiseParams<double>, "ElementwiseParams<f64>"),
    LIN(LinearParams<float>, "LinearParams<f32>"),        LIN(LinearParams<double>, "LinearParams<f64>"),
    TEMP(TemporalParams<float>, "TemporalParams<f32>"),   TEMP(TemporalParams<double>, "TemporalParams<f64>"),
    LOSS(LossParams<float>, "LossParams<f32>"),           LOSS(LossParams<double>, "LossParams<f64>"),
    PERM(PermuteParams<float>, "PermuteParams<f32>"),     PERM(PermuteParams<double>, "PermuteParams<f64>"),
    SLOT(SgdSlot<float>, "SgdSlot<f32>"),                 SLOT(SgdSlot<double>, "SgdSlot<f64>"),
    SGD(SgdParams<float>, "SgdParams<f32>"),              SGD(SgdParams<double>, "SgdParams<f64>"),
};

}  // namespace

// The offset of `field` in `type` (or its size for field "sizeof"); SIZE_MAX if unknown.
extern "C" size_t stsm_emu_layout(const char* type, const char* field) {
    for (const Row& r : kRows)
        if (std::strcmp(r.type, type) == 0 && std::strcmp(r.field, field) == 0) return r.value;
    return (size_t)-1;
}

// How many (type, field) rows the C++ side knows: the Rust test checks it covers them all.
extern "C" size_t stsm_emu_layout_rows() { return sizeof(kRows) / sizeof(kRows[0]); }
