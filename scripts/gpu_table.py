#!/usr/bin/env python3
"""The GPU bundle's final table (run.sh prints it last): the steps and how they ended, then per
C3D conv layer, batch and phase the engine's time against PyTorch + cuDNN's on the same card,
both precisions, with TFLOP/s and the bf16 floor. Plain Python (no PyTorch): tested in CI on
hand-made inputs (tests/gpu_bundle.rs).

  gpu_table.py --gpu NAME --steps steps.tsv --workloads workloads-b*.json \
               --engine engine-*.json --torch torch-b*.json

Ratio = PyTorch ms / engine ms: the engine's throughput as a multiple of cuDNN's (the goal is
>= 0.7 on conv2a-conv4b at batch 32). Ceilings (DESIGN.md, measured on this workplace's H100):
798 TFLOP/s for a bf16 matrix product, about 660 TFLOP/s for mma.sync kernels, 3.0 TB/s for a
device copy. The floor of a bf16 workload is the larger of FLOPs / 798 TFLOP/s and its fewest
bytes (each operand read once, each result written once) / 3.0 TB/s.
"""
import argparse
import json

BF16_MATMUL_TFLOPS = 798.0
MMA_SYNC_TFLOPS = 660.0
COPY_TBPS = 3.0


def load(paths):
    """JSON objects from `paths`, skipping files that are missing, empty or cut short (a step
    that failed or timed out); returns (objects, the paths skipped)."""
    found, skipped = [], []
    for p in paths or []:
        try:
            with open(p) as f:
                found.append(json.load(f))
        except (OSError, ValueError):
            skipped.append(p)
    return found, skipped


def padded(c):
    return (c + 7) // 8 * 8


def min_bytes(spec, precision):
    """Fewest bytes the workload must move: inputs read once, results written once. bf16:
    channels padded to 8, 2-byte activations and weights, fp32 weight and bias gradients."""
    n, c, t, h, w = spec["input"]
    o = spec["out_channels"]
    if precision == "bf16":
        e, c, o_act = 2, padded(c), padded(o)
    else:
        e, o_act = 4, o
    x, y, wt = n * c * t * h * w, n * o_act * t * h * w, o * c * 27
    total = e * (x + wt + y)
    if spec["backward"]:
        total += e * y + 4 * (wt + o)  # gy read; weight and bias gradients in fp32
        if spec["input_grad"]:
            total += e * x
    return total


def steps_table(path):
    lines = ["step                          result                        s"]
    try:
        with open(path) as f:
            for row in f:
                parts = row.rstrip("\n").split("\t")
                if len(parts) == 3:
                    lines.append(f"{parts[0]:<29} {parts[1]:<29} {parts[2]:>3}")
    except OSError:
        lines.append(f"(no {path})")
    return lines


def layer_table(workloads, engine, torch):
    """Rows per workload: bf16 (engine, PyTorch, ratio, TFLOP/s, % of ceilings, floor) and fp32
    (engine, PyTorch, ratio, TFLOP/s)."""
    eng = {(r["name"], e.get("precision")): r for e in engine for r in e.get("results", [])}
    tor = {(r["name"], r.get("precision")): r for t in torch for r in t.get("results", [])}

    def ms(table, key):
        r = table.get(key)
        return r.get("best_ms") if r else None

    def f(v, width, digits):
        return f"{v:{width}.{digits}f}" if v is not None else " " * (width - 1) + "-"

    head = (
        f"{'workload':<20} | {'bf16 eng ms':>11} {'torch ms':>9} {'ratio':>6} {'TFLOP/s':>8} "
        f"{'%798':>5} {'%660':>5} {'floor ms':>9} | {'fp32 eng ms':>11} {'torch ms':>9} {'ratio':>6} {'TFLOP/s':>8}"
    )
    lines = [head]
    ratios = []
    for w in workloads:
        name, flops = w["name"], w["work"]
        cells = []
        for precision in ("bf16", "fp32"):
            e, t = ms(eng, (name, precision)), ms(tor, (name, precision))
            ratio = t / e if e and t else None
            tflops = flops / e / 1e9 if e else None
            cells += [f(e, 11, 3), f(t, 9, 3), f(ratio, 6, 2), f(tflops, 8, 1)]
            if precision == "bf16":
                floor = max(flops / (BF16_MATMUL_TFLOPS * 1e12), min_bytes(w["spec"], "bf16") / (COPY_TBPS * 1e12))
                cells += [
                    f(100 * tflops / BF16_MATMUL_TFLOPS if tflops else None, 5, 0),
                    f(100 * tflops / MMA_SYNC_TFLOPS if tflops else None, 5, 0),
                    f(floor * 1e3, 9, 3),
                ]
                if ratio is not None:
                    ratios.append((name, ratio))
        b = cells
        lines.append(
            f"{name:<20} | {b[0]} {b[1]} {b[2]} {b[3]} {b[4]} {b[5]} {b[6]} | {b[7]} {b[8]} {b[9]} {b[10]}"
        )
    return lines, ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", default="?")
    ap.add_argument("--steps")
    ap.add_argument("--workloads", nargs="*")
    ap.add_argument("--engine", nargs="*")
    ap.add_argument("--torch", nargs="*")
    args = ap.parse_args()
    workloads, _ = load(args.workloads)
    engine, skipped_e = load(args.engine)
    torch, skipped_t = load(args.torch)
    out = []
    if args.steps:
        out += steps_table(args.steps) + [""]
    rows = [w for wl in workloads for w in wl if w["spec"]["kind"] == "conv"]
    lines, ratios = layer_table(rows, engine, torch)
    out.append(f"C3D conv layers on {args.gpu}: best ms, engine and PyTorch + cuDNN, same card")
    out += lines
    out.append(
        f"ratio = PyTorch ms / engine ms (engine throughput vs cuDNN); %798 / %660: bf16 TFLOP/s of "
        f"{BF16_MATMUL_TFLOPS:.0f} (bf16 matmul) / {MMA_SYNC_TFLOPS:.0f} (mma.sync); floor: FLOPs at "
        f"{BF16_MATMUL_TFLOPS:.0f} TFLOP/s or bytes at {COPY_TBPS} TB/s"
    )
    goal = [r for n, r in ratios if n.endswith("-b32") and any(n.startswith(c) for c in ("conv2a", "conv3", "conv4"))]
    if goal:
        out.append(f"bf16 conv2a-conv4b at batch 32: ratio min {min(goal):.2f}, goal >= 0.70")
    for p in skipped_e + skipped_t:
        out.append(f"missing or unreadable: {p}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
