#!/usr/bin/env python3
"""The engine against PyTorch on the performance workloads (src/workloads.rs), in one run.

Run it through scripts/bench-vs-torch.sh, which builds the engine in release mode and installs
PyTorch into .venv-torch if missing (never in CI):

  scripts/bench-vs-torch.sh                          # every workload, 5 rounds
  scripts/bench-vs-torch.sh conv2a-fwd-b1 pool1      # workloads whose names contain a filter
  scripts/bench-vs-torch.sh --rounds 7 --markdown conv

The workload list comes from `stsm-engine bench --list`, so both sides run the same shapes. For
each workload, every round runs, each in its own process: the engine (`stsm-engine --threads T
bench NAME --repeat R --json`), PyTorch with default settings (T threads, NCDHW, no huge pages) and
PyTorch at its best (THP_MEM_ALLOC_ENABLE=1 set before torch is imported; channels_last_3d or
NCDHW; for the small batch-1 convolutions that PyTorch's heuristic keeps away from oneDNN, oneDNN
called directly). The first round times every variant of PyTorch at its best and later rounds the
fastest of them (the last column names it). Each process warms up, then reports its best of R
runs; the table shows each side's best over all rounds; speedup = PyTorch time / engine time.
The memory-copy bandwidth (read + write of a 256 MB float32 array, numpy single-threaded and
torch with T threads, the higher counts) is measured between workloads in the same run, and the
engine's pool rates are printed as a percentage of it.

The output starts with the machine: the CPU model and family (/proc/cpuinfo), the SIMD level of
each side (the engine's `--cpu-isa`, set with --engine-isa; PyTorch's
torch.backends.cpu.get_cpu_capability()) and the f32 FMA peak of each engine level on T threads
(`stsm-engine bench --fma-peak`, a short FMA-chain probe), so a table says where it came from.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPY_BYTES = 256 << 20


# ---------------------------------------------------------------------------------------------
# Worker side: one process per (mode, workload); prints {"best_ms": .., "config": ..} as JSON.


def _build_c3d(nn, channels, fc_width, classes, input_thw):
    """C3D's layout (Tran et al.; src/nn/config.rs c3d_blocks) with the given channels."""
    conv = lambda i, o: nn.Conv3d(i, o, kernel_size=3, padding=1)
    layers, prev = [], 3
    pools = [((1, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)), ((2, 2, 2), (0, 0, 0)),
             ((2, 2, 2), (0, 1, 1))]
    blocks = [[channels[0]], [channels[1]], channels[2:4], channels[4:6], channels[6:8]]
    t, h, w = input_thw
    for chs, (k, p) in zip(blocks, pools):
        for c in chs:
            layers += [conv(prev, c), nn.ReLU(inplace=False)]
            prev = c
        layers.append(nn.MaxPool3d(k, k, padding=p))
        t, h, w = [(d + 2 * pp - kk) // kk + 1 for d, kk, pp in zip((t, h, w), k, p)]
    return nn.Sequential(
        *layers,
        nn.Flatten(1),
        nn.Linear(prev * t * h * w, fc_width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(fc_width, fc_width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(fc_width, classes),
    )


MODELS = {
    # name: (channels, fc width, input T×H×W) — the presets of src/nn/config.rs.
    "c3d": ([64, 128, 256, 256, 512, 512, 512, 512], 4096, (16, 112, 112)),
    "tiny-c3d": ([8, 16, 32, 32, 32, 32, 64, 64], 256, (16, 64, 64)),
}


def candidates(torch, spec, best):
    """(label, run-once closure) pairs: one for PyTorch's defaults, the variants for its best."""
    F, nn = torch.nn.functional, torch.nn
    layouts = [torch.channels_last_3d, torch.contiguous_format] if best else [torch.contiguous_format]
    lname = {torch.channels_last_3d: "channels_last", torch.contiguous_format: "ncdhw"}
    out = []
    kind = spec["kind"]
    if kind == "conv":
        n, c, t, h, w = spec["input"]
        o = spec["out_channels"]
        for fmt in layouts:
            conv = nn.Conv3d(c, o, 3, padding=1, bias=True).to(memory_format=fmt)
            x = torch.rand(n, c, t, h, w).mul_(2).sub_(1).to(memory_format=fmt)
            x.requires_grad_(spec["backward"] and spec["input_grad"])
            gy = torch.rand(n, o, t, h, w).mul_(2).sub_(1).to(memory_format=fmt)
            forwards = [("nn.Conv3d", lambda conv=conv, x=x: conv(x))]
            if best and n == 1 and n * c * t * h <= 20480:
                # PyTorch's heuristic sends these batch-1 layers (conv1a, conv4*, conv5*) to its
                # slow native kernel; call oneDNN directly. The backward pass still goes through
                # convolution_backward, which applies the same heuristic.
                forwards.append(("onednn", lambda conv=conv, x=x: torch.ops.aten.mkldnn_convolution(
                    x, conv.weight, conv.bias, [1, 1, 1], [1, 1, 1], [1, 1, 1], 1)))
            for label, fwd in forwards:
                if not spec["backward"]:
                    def run(fwd=fwd):
                        with torch.no_grad():
                            fwd()
                else:
                    def run(fwd=fwd, conv=conv, x=x, gy=gy):
                        conv.weight.grad = conv.bias.grad = x.grad = None
                        fwd().backward(gy)
                out.append((f"{lname[fmt]}+{label}", run))
    elif kind == "max_pool":
        shape, k, p = spec["input"], spec["kernel"], spec["padding"]
        for fmt in layouts:
            x = torch.rand(*shape).mul_(2).sub_(1).to(memory_format=fmt).requires_grad_(True)
            with torch.no_grad():
                gy = torch.rand_like(F.max_pool3d(x, k, k, p))

            def run(x=x, gy=gy):
                x.grad = None
                F.max_pool3d(x, k, k, p).backward(gy)
            out.append((lname[fmt], run))
    elif kind == "train_step":
        channels, fc, thw = MODELS[spec["model"]]
        batch, classes = spec["batch"], spec["classes"]
        for fmt in layouts:
            torch.manual_seed(7)
            model = _build_c3d(nn, channels, fc, classes, thw).to(memory_format=fmt)
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
            x = torch.rand(batch, 3, *thw).mul_(2).sub_(1).to(memory_format=fmt)
            labels = torch.arange(batch) % classes

            def run(model=model, opt=opt, x=x, labels=labels):
                opt.zero_grad()
                F.cross_entropy(model(x), labels).backward()
                opt.step()
            out.append((lname[fmt], run))
    else:
        raise SystemExit(f"unknown workload kind {kind!r}")
    return out


def worker(mode, spec, repeat, threads, config):
    import torch  # the parent set THP_MEM_ALLOC_ENABLE (or not) before this import

    torch.set_num_threads(threads)
    runs = [(label, f) for label, f in candidates(torch, spec, mode == "best") if config in (None, label)]
    if not runs:
        raise SystemExit(f"no PyTorch variant {config!r} for {spec}")

    def timed(f):
        start = time.perf_counter()
        f()
        return time.perf_counter() - start

    # Warm up every variant, time each once, then spend the remaining runs on the fastest.
    for _, f in runs:
        f()
    first = [(timed(f), label, f) for label, f in runs]
    best, label, f = min(first, key=lambda r: r[0])
    for _ in range(repeat - 1):
        best = min(best, timed(f))
    print(json.dumps({"best_ms": best * 1e3, "config": label}))


def info_worker():
    import torch

    print(json.dumps({"torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}))


def cpu_model():
    """'MODEL NAME (family F, model M)' from /proc/cpuinfo, or what the platform module knows."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        import platform
        return platform.processor() or "unknown CPU"
    return (f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')}), {os.cpu_count()} CPUs online")


def copy_worker(threads):
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    n = COPY_BYTES // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.zeros(n, dtype=np.float32)  # touched below before any timing
    best_np = best_torch = float("inf")
    for _ in range(4):
        start = time.perf_counter()
        np.copyto(dst, src)
        best_np = min(best_np, time.perf_counter() - start)
    ts, td = torch.from_numpy(src), torch.from_numpy(dst)
    for _ in range(4):
        start = time.perf_counter()
        td.copy_(ts)
        best_torch = min(best_torch, time.perf_counter() - start)
    gbs = lambda s: 2 * COPY_BYTES / s / 1e9  # read + write
    print(json.dumps({"numpy_gbs": gbs(best_np), "torch_gbs": gbs(best_torch)}))


# ---------------------------------------------------------------------------------------------
# Driver side.


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-4000:]}")
    # The engine and torch may log lines before the JSON; it is the last thing printed.
    text = p.stdout
    start = text.find("{")
    try:
        return json.loads(text[start:])
    except ValueError:
        raise SystemExit(f"no JSON from {' '.join(cmd)}:\n{text[-2000:]}\n{p.stderr[-2000:]}")


def torch_env(best, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("THP_MEM_ALLOC_ENABLE", None)
    if best:
        env["THP_MEM_ALLOC_ENABLE"] = "1"
    return env


def table(rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                              for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join(fmt(r).rstrip() for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("filters", nargs="*", help="run the workloads whose names contain any of these (default: all)")
    ap.add_argument("--rounds", type=int, default=5, help="alternations engine / torch / torch-best (default 5)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per process after its warm-up (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="compute threads on both sides (default 2)")
    ap.add_argument("--engine", default=os.path.join(ROOT, "target", "release", "stsm-engine"))
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--list", action="store_true", help="print the selected workload names and exit")
    ap.add_argument("--engine-isa", default=None, metavar="LEVEL",
                    help="the engine's --cpu-isa: auto, avx512, avx2 or portable (default: its own default)")
    ap.add_argument("--worker", choices=["default", "best", "copy", "info"], help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker == "copy":
        return copy_worker(a.threads)
    if a.worker == "info":
        return info_worker()
    if a.worker:
        return worker(a.worker, json.loads(a.spec), a.repeat, a.threads, a.config)

    if os.environ.get("CI"):
        raise SystemExit("bench-vs-torch needs PyTorch (~2.5 GB) and must not run in CI")
    p = subprocess.run([a.engine, "bench", "--list"], capture_output=True, text=True, check=True)
    workloads = json.loads(p.stdout)
    if a.filters:
        unmatched = [f for f in a.filters if not any(f in w["name"] for w in workloads)]
        if unmatched:
            names = ", ".join(w["name"] for w in workloads)
            raise SystemExit(f"no workload matches {unmatched}; known: {names}")
        workloads = [w for w in workloads if any(f in w["name"] for f in a.filters)]
    if a.list:
        print("\n".join(w["name"] for w in workloads))
        return
    if a.rounds < 5:
        print(f"note: --rounds {a.rounds} is below the 5 the targets are measured with", file=sys.stderr)

    me = [sys.executable, os.path.abspath(__file__), "--threads", str(a.threads), "--repeat", str(a.repeat)]
    engine = [a.engine, "--threads", str(a.threads)] + (["--cpu-isa", a.engine_isa] if a.engine_isa else [])
    peak = run_json(engine + ["bench", "--fma-peak", "--json"])
    tinfo = run_json(me + ["--worker", "info"], torch_env(False, a.threads))
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in peak["fma_peak_gflops"].items()) or "none"
    machine = (f"# machine: {cpu_model()}\n"
               f"# SIMD level: engine {peak['cpu_isa']}, PyTorch {tinfo['torch']} {tinfo['capability']}; "
               f"f32 FMA peak on {a.threads} threads (GFLOP/s): {peaks}")
    print(machine, file=sys.stderr, flush=True)
    copy = {"numpy_gbs": 0.0, "torch_gbs": 0.0}

    def measure_copy():
        r = run_json(me + ["--worker", "copy"], torch_env(False, a.threads))
        for k in copy:
            copy[k] = max(copy[k], r[k])

    header = ["name", "engine_ms", "torch_ms", "speedup", "torch_best_ms", "speedup_vs_best", "best_config"]
    rows, pools = [header], []
    started = time.time()
    for i, w in enumerate(workloads):
        measure_copy()
        spec = json.dumps(w["spec"])
        eng = tor = best = float("inf")
        best_cfg = ""
        for _ in range(max(a.rounds, 1)):
            e = run_json(engine + ["bench", w["name"], "--repeat", str(a.repeat), "--json"])
            eng = min(eng, e["results"][0]["best_ms"])
            tor = min(tor, run_json(me + ["--worker", "default", "--spec", spec], torch_env(False, a.threads))["best_ms"])
            # The first round tries every variant of PyTorch at its best; later rounds time its winner.
            pin = ["--config", best_cfg] if best_cfg else []
            b = run_json(me + ["--worker", "best", "--spec", spec] + pin, torch_env(True, a.threads))
            if b["best_ms"] < best:
                best, best_cfg = b["best_ms"], b["config"]
        rows.append([w["name"], f"{eng:.2f}", f"{tor:.2f}", f"{tor / eng:.2f}x", f"{best:.2f}", f"{best / eng:.2f}x",
                     best_cfg])
        if w["unit"] == "GB/s":
            pools.append((w["name"], w["work"] / (eng / 1e3) / 1e9))
        print(f"[{i + 1}/{len(workloads)}] {w['name']} done ({time.time() - started:.0f} s)", file=sys.stderr,
              flush=True)
    measure_copy()

    print(machine)
    print(f"# engine: {a.threads} threads, best of {a.repeat} runs x {a.rounds} rounds per side; "
          f"speedup = torch_ms / engine_ms (> 1: engine faster)")
    print(table(rows, a.markdown))
    bw = max(copy.values())
    print(f"\nmemory-copy bandwidth (256 MB, read + write): {bw:.1f} GB/s "
          f"(numpy 1 thread {copy['numpy_gbs']:.1f}, torch {a.threads} threads {copy['torch_gbs']:.1f})")
    for name, rate in pools:
        print(f"{name}: engine {rate:.2f} GB/s = {100 * rate / bw:.0f} % of the copy bandwidth")


if __name__ == "__main__":
    main()
