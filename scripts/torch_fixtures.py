#!/usr/bin/env python3
"""Writes PyTorch reference fixtures for conv3d, max_pool3d and avg_pool3d.

Each case records, in float64 and at full precision, the inputs, the options, PyTorch's
forward output, a fixed upstream gradient and the gradients PyTorch's autograd returns for
every input. `tests/torch_fixtures.rs` replays the cases through our engine without PyTorch.

Run it through `scripts/make-torch-fixtures.sh` (which provides the virtual environment).
Developer-only: never run in CI. `--check` regenerates in memory and fails if the committed
files differ (reproducibility check); nothing is written then.
"""

import argparse
import json
import os
import sys
import zlib

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "torch")
SEED = 20240531
SIZE_BUDGET = 224 * 1024  # all fixture files together (well under 300 KB)

DT = torch.float64


def triple(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v, v]


def gen_for(name):
    """A generator seeded from the global seed and the case name, so that adding or
    reordering cases leaves every other case's data unchanged."""
    g = torch.Generator().manual_seed(SEED ^ zlib.crc32(name.encode()))
    return g


def randn(g, shape):
    return torch.randn(*shape, generator=g, dtype=DT)


def distinct_in_f32(t):
    """True when no two elements collide once rounded to float32 (so max-pooling has no
    ties in either precision and the argmax is the same in f32 and f64)."""
    flat = t.reshape(-1).to(torch.float32)
    return flat.unique().numel() == flat.numel()


def tensor_entry(t):
    t = t.detach().contiguous()
    data = t.reshape(-1).tolist()
    for v in data:
        if not (v == v) or v in (float("inf"), float("-inf")):
            raise ValueError("non-finite value in fixture")
    return {"shape": list(t.shape), "data": data}


def conv_case(name, x_shape, w_shape, stride, padding, bias):
    g = gen_for(name)
    x = randn(g, x_shape).requires_grad_()
    w = (randn(g, w_shape) * 0.5).requires_grad_()
    b = randn(g, (w_shape[0],)).requires_grad_() if bias else None
    y = F.conv3d(x, w, b, stride=tuple(triple(stride)), padding=tuple(triple(padding)))
    gy = randn(g, y.shape)
    y.backward(gy)
    case = {
        "name": name,
        "input": tensor_entry(x),
        "weight": tensor_entry(w),
        "bias": tensor_entry(b) if bias else None,
        "options": {"kernel": list(w_shape[2:]), "stride": triple(stride), "padding": triple(padding)},
        "output": tensor_entry(y),
        "grad_output": tensor_entry(gy),
        "grad_input": tensor_entry(x.grad),
        "grad_weight": tensor_entry(w.grad),
        "grad_bias": tensor_entry(b.grad) if bias else None,
    }
    return case


def max_pool_case(name, x_shape, kernel, stride, padding, ceil_mode, negative=False):
    g = gen_for(name)
    while True:
        x = randn(g, x_shape)
        if negative:
            # All below -1: a zero-padded max would show up as 0 in the output.
            x = -x.abs() - 1.0
        if distinct_in_f32(x):
            break
    x.requires_grad_()
    y, idx = F.max_pool3d(
        x,
        kernel_size=tuple(triple(kernel)),
        stride=tuple(triple(stride)),
        padding=tuple(triple(padding)),
        ceil_mode=ceil_mode,
        return_indices=True,
    )
    gy = randn(g, y.shape)
    y.backward(gy)
    return {
        "name": name,
        "input": tensor_entry(x),
        "options": {
            "kernel": triple(kernel),
            "stride": triple(stride),
            "padding": triple(padding),
            "ceil_mode": ceil_mode,
        },
        "output": tensor_entry(y),
        # Flat index of the chosen element within its (T, H, W) plane, as PyTorch returns it.
        "indices": idx.reshape(-1).tolist(),
        "grad_output": tensor_entry(gy),
        "grad_input": tensor_entry(x.grad),
    }


def avg_pool_case(name, x_shape, kernel, stride, padding, ceil_mode, count_include_pad):
    g = gen_for(name)
    x = randn(g, x_shape).requires_grad_()
    y = F.avg_pool3d(
        x,
        kernel_size=tuple(triple(kernel)),
        stride=tuple(triple(stride)),
        padding=tuple(triple(padding)),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )
    gy = randn(g, y.shape)
    y.backward(gy)
    return {
        "name": name,
        "input": tensor_entry(x),
        "options": {
            "kernel": triple(kernel),
            "stride": triple(stride),
            "padding": triple(padding),
            "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad,
        },
        "output": tensor_entry(y),
        "grad_output": tensor_entry(gy),
        "grad_input": tensor_entry(x.grad),
    }


def conv_cases():
    return [
        # Non-cubic kernel, no padding, unit stride, bias.
        conv_case("conv_kernel_2x3x1_bias", (1, 2, 3, 5, 4), (3, 2, 2, 3, 1), 1, 0, True),
        # Odd non-cubic input, batch 2, per-axis stride and padding, non-cubic kernel.
        conv_case("conv_odd_input_stride_1_2_3_pad_1_0_2", (2, 2, 5, 7, 6), (2, 2, 2, 3, 1), (1, 2, 3), (1, 0, 2), True),
        # Same geometry without bias.
        conv_case("conv_stride_1_2_3_pad_1_0_2_no_bias", (1, 2, 3, 5, 7), (2, 2, 3, 2, 2), (1, 2, 3), (1, 0, 2), False),
        # C3D-style 3x3x3 padding 1, batch 3, no bias.
        conv_case("conv_batch3_k3_pad1_no_bias", (3, 2, 2, 3, 4), (2, 2, 3, 3, 3), 1, 1, False),
        # Stride larger than the kernel on every axis: some inputs get no gradient.
        conv_case("conv_stride_gt_kernel", (1, 1, 4, 7, 9), (3, 1, 1, 2, 2), (3, 3, 4), (0, 1, 0), True),
        # 1x1x1 kernel, batch 3, with bias.
        conv_case("conv_pointwise_batch3", (3, 3, 2, 3, 2), (4, 3, 1, 1, 1), 1, 0, True),
    ]


def max_pool_cases():
    return [
        max_pool_case("max_k2_s2", (1, 1, 4, 4, 6), 2, 2, 0, False),
        # Odd sizes in floor mode: the trailing row/column/frame is dropped.
        max_pool_case("max_k2_s2_odd_floor", (2, 1, 3, 5, 7), 2, 2, 0, False),
        # Odd sizes in ceil mode without padding: the last windows overhang the input.
        max_pool_case("max_k2_s2_odd_ceil", (1, 1, 3, 5, 7), 2, 2, 0, True),
        # Overlapping windows with padding, floor and ceil (T 4 -> 2 vs 3, H 6 -> 3 vs 4, W 5 -> 3).
        max_pool_case("max_k3_s2_p1_floor", (1, 1, 4, 6, 5), 3, 2, 1, False),
        max_pool_case("max_k3_s2_p1_ceil", (1, 1, 4, 6, 5), 3, 2, 1, True),
        # All values negative: padding must act as -inf, not 0.
        max_pool_case("max_k3_s2_p1_ceil_negative", (1, 1, 4, 6, 5), 3, 2, 1, True, negative=True),
        # C3D pool1 (kernel 1x2x2, stride 1x2x2), batch 3.
        max_pool_case("max_c3d_pool1", (3, 1, 2, 4, 6), (1, 2, 2), (1, 2, 2), 0, False),
        # Kernel 2, stride 2, padding 1, ceil: the last window on T (3) and H (5) would start in
        # the right padding and is dropped.
        max_pool_case("max_k2_s2_p1_ceil_drop", (2, 1, 3, 5, 4), 2, 2, 1, True),
        # C3D pool5 (kernel 2, stride 2, padding (0, 1, 1)) on a 2x7x7 map, as in C3D.
        max_pool_case("max_c3d_pool5", (1, 2, 2, 7, 7), 2, 2, (0, 1, 1), False),
        # Mixed per-axis kernel / stride / padding in ceil mode, stride > kernel on W.
        max_pool_case("max_mixed_axes_ceil", (1, 1, 4, 7, 8), (2, 3, 1), (1, 2, 3), (1, 1, 0), True),
    ]


def avg_pool_cases():
    cases = [avg_pool_case("avg_k2_s2", (1, 1, 4, 4, 6), 2, 2, 0, False, True)]
    # Kernel 3, stride 2, padding 1 on 4x4x6: in ceil mode the last window on every axis
    # starts inside the input and overhangs the right padding (e.g. W: [5, 8) with input +
    # padding ending at 7), so PyTorch's divisor with count_include_pad is 2, not 3.
    for ceil in (False, True):
        for include in (True, False):
            name = "avg_k3_s2_p1_{}_{}".format("ceil" if ceil else "floor", "incl_pad" if include else "excl_pad")
            cases.append(avg_pool_case(name, (1, 1, 4, 4, 6), 3, 2, 1, ceil, include))
    # Ceil mode without padding: the overhanging windows are averaged over the real input only.
    cases.append(avg_pool_case("avg_k2_s2_odd_ceil_incl_pad", (1, 1, 3, 5, 7), 2, 2, 0, True, True))
    # Kernel 2, stride 2, padding 1, ceil: on T (3) and H (5) a last window that would start in
    # the right padding is dropped; on W (4) the last window [3, 5) ends in the padding.
    cases.append(avg_pool_case("avg_k2_s2_p1_ceil_drop_incl_pad", (2, 1, 3, 5, 4), 2, 2, 1, True, True))
    cases.append(avg_pool_case("avg_k2_s2_p1_ceil_drop_excl_pad", (2, 1, 3, 5, 4), 2, 2, 1, True, False))
    # C3D pool5 geometry (padding (0, 1, 1)), batch 3, both divisor rules.
    cases.append(avg_pool_case("avg_pool5_incl_pad", (3, 1, 2, 5, 5), 2, 2, (0, 1, 1), False, True))
    cases.append(avg_pool_case("avg_pool5_excl_pad", (3, 1, 2, 5, 5), 2, 2, (0, 1, 1), False, False))
    # Mixed per-axis options in ceil mode with padding.
    cases.append(avg_pool_case("avg_mixed_axes_ceil_incl_pad", (1, 1, 4, 6, 5), (1, 3, 2), (1, 2, 2), (0, 1, 1), True, True))
    return cases


def dump(op, cases):
    """JSON with one case field per line and each array on a single line; floats are written
    with Python's shortest round-trip repr, so float64 values are preserved exactly."""
    head = {
        "op": op,
        "generator": "scripts/torch_fixtures.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "dtype": "float64",
    }
    lines = ["{"]
    for k, v in head.items():
        lines.append("{}: {},".format(json.dumps(k), json.dumps(v)))
    lines.append('"cases": [')
    for i, case in enumerate(cases):
        fields = ["  {}: {}".format(json.dumps(k), json.dumps(v, allow_nan=False, separators=(",", ":"))) for k, v in case.items()]
        lines.append(" {\n" + ",\n".join(fields) + "\n }" + ("," if i + 1 < len(cases) else ""))
    lines.append("]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # must parse
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    files = {
        "conv3d.json": dump("conv3d", conv_cases()),
        "max_pool3d.json": dump("max_pool3d", max_pool_cases()),
        "avg_pool3d.json": dump("avg_pool3d", avg_pool_cases()),
    }
    total = sum(len(t.encode()) for t in files.values())
    if total > SIZE_BUDGET:
        sys.exit("fixtures total {} bytes, over the {} byte budget".format(total, SIZE_BUDGET))

    status = 0
    for fname, text in files.items():
        path = os.path.join(OUT_DIR, fname)
        n_cases = len(json.loads(text)["cases"])
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            print("{}: {} ({} cases)".format(path, "up to date" if same else "DIFFERS", n_cases))
            status |= 0 if same else 1
        else:
            os.makedirs(OUT_DIR, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote {} ({} cases, {} bytes)".format(path, n_cases, len(text.encode())))
    print("total {} bytes (budget {})".format(total, SIZE_BUDGET))
    sys.exit(status)


if __name__ == "__main__":
    main()
