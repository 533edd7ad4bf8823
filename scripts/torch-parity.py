#!/usr/bin/env python3
"""Full-size parity of stsm-engine's C3D and VGG-3D with PyTorch.

Builds both networks in PyTorch independently of the engine's configs (C3D written from Tran et
al. 2015; VGG-3D by inflating torchvision's vgg16), fills every tensor with the closed-form
initialiser that src/nn/closed_form.rs also implements, runs one clip in eval mode, and records
the logits, the cross-entropy loss and per-tensor gradient norms plus sampled gradient entries,
all in float64 (the closed-form values are exact in float32, so they are the same tensors).

  scripts/torch-parity.sh                 # writes tests/fixtures/parity/{c3d,vgg3d}.json
  scripts/torch-parity.sh --compare BIN   # also runs `BIN parity` and prints max abs/rel diffs

Never run in CI (PyTorch is large); the Rust test tests/torch_parity.rs checks the committed
files on every CI run.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "parity")
CLASSES = 7
LABELS = [3]


def fnv1a(name: str) -> int:
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pattern(name: str, numel: int) -> np.ndarray:
    """Uniform in [-1, 1): 24 bits of splitmix64's mix of (fnv1a(name) << 32) ^ index."""
    z = np.uint64(fnv1a(name) << 32) ^ np.arange(numel, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / 8388608.0 - 1.0


def closed_form(name: str, shape) -> torch.Tensor:
    numel = int(np.prod(shape))
    amp = 0.01 if len(shape) == 1 else math.sqrt(6.0 * shape[0] / numel)
    return torch.from_numpy((pattern(name, numel) * amp).astype(np.float32).reshape(shape))


def clip_input(shape) -> torch.Tensor:
    # Quasi-random, not smooth: a smooth input makes near-ties in max pooling common, and which of
    # two nearly equal values wins then depends on rounding, not on the semantics under test.
    return torch.from_numpy(pattern("input", int(np.prod(shape))).astype(np.float32).reshape(shape))


class C3D(nn.Module):
    """Tran et al. 2015, with the parameter names of the widely used PyTorch port."""

    def __init__(self, classes):
        super().__init__()
        conv = lambda i, o: nn.Conv3d(i, o, kernel_size=3, padding=1)
        self.conv1, self.conv2 = conv(3, 64), conv(64, 128)
        self.conv3a, self.conv3b = conv(128, 256), conv(256, 256)
        self.conv4a, self.conv4b = conv(256, 512), conv(512, 512)
        self.conv5a, self.conv5b = conv(512, 512), conv(512, 512)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.pool = nn.MaxPool3d(2, 2)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6, self.fc7, self.fc8 = nn.Linear(8192, 4096), nn.Linear(4096, 4096), nn.Linear(4096, classes)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        r = torch.relu
        x = self.pool1(r(self.conv1(x)))
        x = self.pool(r(self.conv2(x)))
        x = self.pool(r(self.conv3b(r(self.conv3a(x)))))
        x = self.pool(r(self.conv4b(r(self.conv4a(x)))))
        x = self.pool5(r(self.conv5b(r(self.conv5a(x)))))
        x = x.flatten(1)
        x = self.drop(r(self.fc6(x)))
        x = self.drop(r(self.fc7(x)))
        return self.fc8(x)


class VGG3D(nn.Module):
    """torchvision's vgg16 (configuration D, no batch norm) inflated: Conv2d 3x3 -> Conv3d 3x3x3,
    MaxPool2d(2) -> MaxPool3d((1,2,2)); fc6/fc7 reused per frame; head Dropout-Linear-ReLU-Linear;
    clip score = max over frames."""

    def __init__(self, classes):
        super().__init__()
        vgg = torchvision.models.vgg16(weights=None, num_classes=classes)
        layers = []
        for m in vgg.features:
            if isinstance(m, nn.Conv2d):
                layers.append(nn.Conv3d(m.in_channels, m.out_channels, kernel_size=3, padding=1))
            elif isinstance(m, nn.MaxPool2d):
                layers.append(nn.MaxPool3d((1, 2, 2), (1, 2, 2)))
            else:
                layers.append(m)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(*list(vgg.classifier.children())[:6])
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(4096, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x):
        b, t = x.shape[0], x.shape[2]
        f = self.features(x).permute(0, 2, 1, 3, 4).reshape(b * t, -1)
        logits = self.head(self.classifier(f)).reshape(b, t, -1).permute(0, 2, 1)
        return logits.max(dim=2).values


def fill(model: nn.Module):
    # Every tensor, convs included, is filled on its own 3D shape. Inflated weights (equal taps
    # along time) would make VGG-3D's two frames compute identical activations, so the clip
    # score's max over frames would be a tie that rounding decides. Inflation is tested on its own
    # (tests/inflation.rs).
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(closed_form(name, tuple(p.shape)))


def sample_indices(numel):
    return [(k * 2654435761) % numel for k in range(1, 9)]


def run(name, model, input_shape):
    # float64: in float32, gradient sums with cancellation differ by ~1e-3 relative between any
    # two correct implementations (PyTorch's own float32 vs float64 included).
    fill(model)
    model = model.double()
    model.eval()
    x = clip_input(input_shape).double()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    grads = {}
    for pname, p in model.named_parameters():
        g = p.grad.detach().double().flatten()
        grads[pname] = {
            "shape": list(p.shape),
            "norm": float(g.norm()),
            "samples": [[i, float(g[i])] for i in sample_indices(g.numel())],
        }
    return {
        "model": name,
        "input": list(input_shape),
        "labels": LABELS,
        "logits": logits.detach().double().flatten().tolist(),
        "loss": loss.item(),
        "grads": grads,
        "torch": torch.__version__,
    }


def compare(ours, ref):
    worst = {"logits": 0.0, "norms": 0.0, "samples": 0.0}
    scale = max(abs(v) for v in ref["logits"])
    worst["logits"] = max(abs(a - b) / scale for a, b in zip(ours["logits"], ref["logits"]))
    for name, g in ref["grads"].items():
        o = ours["grads"][name]
        worst["norms"] = max(worst["norms"], abs(o["norm"] - g["norm"]) / max(g["norm"], 1e-30))
        s = max(max(abs(v) for _, v in g["samples"]), 1e-30)
        for (_, a), (_, b) in zip(o["samples"], g["samples"]):
            worst["samples"] = max(worst["samples"], abs(a - b) / s)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", metavar="BIN", help="stsm-engine binary whose `parity` output to compare")
    ap.add_argument("--only", choices=["c3d", "vgg3d"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = [
        ("c3d", lambda: C3D(CLASSES), (1, 3, 16, 112, 112)),
        ("vgg3d", lambda: VGG3D(CLASSES), (1, 3, 2, 224, 224)),
    ]
    for name, build, shape in cases:
        if args.only and args.only != name:
            continue
        ref = run(name, build(), shape)
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w") as f:
            json.dump(ref, f, indent=1)
        print(f"{name}: loss {ref['loss']:.6f}, logits {np.round(ref['logits'], 5).tolist()} -> {path}")
        if args.compare:
            out = subprocess.run([args.compare, "parity", "--model", name, "--json"], check=True, capture_output=True, text=True)
            worst = compare(json.loads(out.stdout), ref)
            print(f"{name}: max relative difference vs stsm-engine: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))


if __name__ == "__main__":
    sys.exit(main())
