#!/usr/bin/env python3
"""PyTorch + cuDNN on the engine's C3D conv workloads, timed on the same card as the engine.

The GPU bundle's run.sh runs it after `stsm-engine bench --device cuda --batch N`, so that
scripts/gpu_table.py can print engine/PyTorch ratios from one card:

  torch_gpu_layers.py --workloads workloads-b16.json --precision bf16 fp32 --json torch-b16.json

The workloads are the engine's own (`stsm-engine bench --list --batch N [--tiny]` writes them; or
give --engine PATH --batch N and the script asks the engine itself). Each conv workload is a
3x3x3 convolution with padding 1 and bias; "fwdbwd" also computes the weight and bias gradients,
and the input gradient where the workload says so (all but conv1a). Precisions:
  bf16  bf16 tensors in channels-last (NDHWC) memory, as the engine's tensor-core kernels use;
  fp32  fp32 NCDHW tensors with TF32 allowed (PyTorch's default for convolutions).
cuDNN's autotuner is on (torch.backends.cudnn.benchmark). Every run is timed between two CUDA
events after warm-up runs; the best and the median of --repeat runs are reported. The inputs are
uniform in [-1, 1), never zeros.

  --device cpu --tiny   a smoke check of this script's logic on the CPU (host clock; tiny
                        shapes), for machines with PyTorch but no GPU. CI never installs PyTorch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def load_workloads(args):
    """The engine's conv workloads, from --workloads files or from `ENGINE bench --list`."""
    lists = []
    for path in args.workloads or []:
        with open(path) as f:
            lists.append(json.load(f))
    if args.engine:
        for batch in args.batch:
            cmd = [args.engine, "bench", "--list", "--batch", str(batch)] + (["--tiny"] if args.tiny else [])
            lists.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    if not lists:
        sys.exit("torch_gpu_layers: give --workloads FILE.json or --engine PATH --batch N")
    found = [w for wl in lists for w in wl if w["spec"]["kind"] == "conv"]
    if args.filter:
        found = [w for w in found if any(f in w["name"] for f in args.filter)]
    return found


class Timer:
    """CUDA events on a GPU, the host clock on the CPU (after synchronising)."""

    def __init__(self, torch, device):
        self.torch, self.cuda = torch, device.type == "cuda"

    def __call__(self, fn):
        torch = self.torch
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


def conv_closure(torch, spec, precision, device):
    """The workload as a closure run once per timing, with its inputs made here, once."""
    F = torch.nn.functional
    n, c, t, h, w = spec["input"]
    o = spec["out_channels"]
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    fmt = torch.channels_last_3d if precision == "bf16" else torch.contiguous_format

    def uniform(*shape):
        return (torch.rand(*shape, device=device) * 2 - 1).to(dtype)

    x = uniform(n, c, t, h, w).contiguous(memory_format=fmt)
    weight = uniform(o, c, 3, 3, 3).contiguous(memory_format=fmt)
    bias = uniform(o)
    if not spec["backward"]:
        def forward():
            with torch.no_grad():
                F.conv3d(x, weight, bias, padding=1)
        return forward

    x.requires_grad_(spec["input_grad"])
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    gy = uniform(n, o, t, h, w).contiguous(memory_format=fmt)

    def forward_backward():
        x.grad = weight.grad = bias.grad = None
        F.conv3d(x, weight, bias, padding=1).backward(gy)
    return forward_backward


def measure(timer, fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    times = [timer(fn) for _ in range(repeat)]
    return min(times), statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", nargs="*", help="JSON from `stsm-engine bench --list --batch N`")
    ap.add_argument("--engine", help="stsm-engine binary to ask for the workloads (with --batch)")
    ap.add_argument("--batch", type=int, nargs="*", default=[16, 32])
    ap.add_argument("--tiny", action="store_true", help="with --engine: the --tiny workloads")
    ap.add_argument("--filter", nargs="*", help="only workloads whose names contain one of these")
    ap.add_argument("--precision", nargs="+", choices=["bf16", "fp32"], default=["bf16", "fp32"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write the results here (else stdout)")
    args = ap.parse_args()

    workloads = load_workloads(args)
    import torch  # after the argument checks: --help works without PyTorch

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_gpu_layers: PyTorch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(0)
    timer = Timer(torch, device)
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "timer": "cuda events" if device.type == "cuda" else "host clock",
        "results": [],
    }
    for precision in args.precision:
        for w in workloads:
            row = {"name": w["name"], "precision": precision, "work": w["work"]}
            try:
                fn = conv_closure(torch, w["spec"], precision, device)
                best, median = measure(timer, fn, args.warmup, args.repeat)
                row.update(best_ms=best, median_ms=median, tflops=w["work"] / best / 1e9)
            except Exception as e:  # one failing workload (memory, an unsupported CPU kernel) must not hide the rest
                row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            finally:
                fn = None
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            report["results"].append(row)
            shown = f"{row['best_ms']:10.3f} ms {row['tflops']:8.2f} TFLOP/s" if "best_ms" in row else row["error"]
            print(f"{precision:5} {w['name']:24} {shown}", flush=True)
    text = json.dumps(report, indent=1)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            f.write(text)
        os.replace(args.json + ".tmp", args.json)
    else:
        print(text)
    if any("error" in r for r in report["results"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
