#!/usr/bin/env python3
"""`stsm-engine predict` against a PyTorch implementation of the reference's test procedure.

The reference (../shared/reference-implementation-notes.md §4) scores a video like this: the
whole video goes through the 3D VGG in one fully convolutional pass (batch 1, no augmentation),
giving per-frame logits (1, K, L); a 1-D max-pool over time with window k = min(L, 16), stride 1,
gives the window scores S; per class, f = sum_t softmax_t(gamma S) S; the prediction is the argmax
of log_softmax(f).

This script builds tiny-vgg3d in PyTorch (torchvision vgg16's layout with channels / 8, convs
inflated to 3x3x3, pools (1, 2, 2); per-frame classifier and head), initialises it with
He init, saves its state dict and converts it with scripts/convert-torch.py,
writes a video as PNG frames, runs the procedure above in float32, and with --compare BIN runs
`BIN predict` on the converted checkpoint (one pass, and chunked) for several poolings and
compares pooled scores, probabilities and window scores; it fails above --tolerance (1e-4).

  scripts/predict-reference.sh --compare target/debug/stsm-engine
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ["Angry", "Happy", "Sad"]
REFERENCE_MEAN = [0.2572, 0.2000, 0.1644]  # the reference's per-channel mean, std 1
CLIP = 16


class TinyVGG3D(nn.Module):
    """vgg16 configuration D with channels / 8, inflated; names follow torchvision + the head."""

    def __init__(self, classes, size=64):
        super().__init__()
        layers, c = [], 3
        for block in ([8, 8], [16, 16], [32, 32, 32], [64, 64, 64], [64, 64, 64]):
            for o in block:
                layers += [nn.Conv3d(c, o, 3, padding=1), nn.ReLU(inplace=True)]
                c = o
            layers.append(nn.MaxPool3d((1, 2, 2), (1, 2, 2)))
        self.features = nn.Sequential(*layers)
        flat = c * (size // 32) ** 2
        self.classifier = nn.Sequential(
            nn.Linear(flat, 256), nn.ReLU(True), nn.Dropout(), nn.Linear(256, 256), nn.ReLU(True), nn.Dropout()
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, classes))

    def frame_logits(self, x):
        b, t = x.shape[0], x.shape[2]
        f = self.features(x).permute(0, 2, 1, 3, 4).reshape(b * t, -1)
        return self.head(self.classifier(f)).reshape(b, t, -1).permute(0, 2, 1)


def write_video(path, frames, size, seed):
    """A moving bright blob over a gradient with noise: per-frame logits vary along the video."""
    rng = np.random.default_rng(seed)
    os.makedirs(path, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for t in range(frames):
        cx, cy = 0.5 + 0.3 * np.cos(t / 5), 0.5 + 0.3 * np.sin(t / 7)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.02)
        img = np.stack([blob, 0.5 * xx + 0.3 * blob, yy * (t % 9) / 9], axis=-1)
        img = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(os.path.join(path, f"frame_{t + 1:04d}.png"))


def load_video(path):
    names = sorted(n for n in os.listdir(path) if n.endswith(".png"))
    frames = [np.asarray(Image.open(os.path.join(path, n)).convert("RGB"), dtype=np.float32) / 255 for n in names]
    video = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2)  # (3, T, H, W)
    video -= torch.tensor(REFERENCE_MEAN).view(3, 1, 1, 1)
    return video.unsqueeze(0)


def reference_predict(model, video, pooling, gamma):
    with torch.no_grad():
        logits = model.frame_logits(video)  # (1, K, L)
        k = min(logits.shape[2], CLIP)
        s = F.max_pool1d(logits, kernel_size=k, stride=1)  # (1, K, W)
        if pooling == "max":
            f = s.max(dim=2).values
        else:
            g = 0.0 if pooling == "mean" else gamma
            f = (torch.softmax(g * s, dim=2) * s).sum(dim=2)
        return {
            "pooled": f[0].double().tolist(),
            "probabilities": torch.softmax(f, dim=1)[0].double().tolist(),
            "window_scores": s[0].double().tolist(),
        }


def max_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "predict-reference"))
    ap.add_argument("--compare", metavar="BIN", help="stsm-engine binary to run and compare")
    ap.add_argument("--frames", type=int, nargs="+", default=[57, 11], help="video lengths to test")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.manual_seed(0)
    model = TinyVGG3D(len(CLASSES)).eval()
    # He init: PyTorch's default init fades through 13 ReLU convs, leaving logits that are almost
    # the biases and window scores too flat for the comparison to mean much.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv3d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.1, 0.1)
    os.makedirs(args.out, exist_ok=True)
    pth, st = os.path.join(args.out, "tiny-vgg3d.pth"), os.path.join(args.out, "tiny-vgg3d.safetensors")
    torch.save(model.state_dict(), pth)
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "convert-torch.py"), pth, st], check=True,
                   stdout=subprocess.DEVNULL)

    worst = 0.0
    for frames in args.frames:
        video_dir = os.path.join(args.out, f"video-{frames}")
        write_video(video_dir, frames, 64, seed=frames)
        video = load_video(video_dir)
        for pooling, gamma in (("softmax", 1.0), ("softmax", 5.0), ("mean", 0.0), ("max", 0.0)):
            ref = reference_predict(model, video, pooling, gamma)
            line = f"L={frames:3d} {pooling:7s} gamma={gamma:g}: predicted {CLASSES[int(np.argmax(ref['pooled']))]}"
            if not args.compare:
                print(line, json.dumps(ref["probabilities"]))
                continue
            for chunk in ("0", "8"):
                cmd = [args.compare, "predict", "--checkpoint", st, "--model", "tiny-vgg3d", "--class-names",
                       ",".join(CLASSES), "--video", video_dir, "--pool", pooling, "--gamma", str(gamma),
                       "--chunk-frames", chunk, "--json"]
                ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
                diffs = {key: max_diff(ours[key], ref[key]) for key in ("pooled", "probabilities", "window_scores")}
                worst = max(worst, *diffs.values())
                same = ours["predicted_index"] == int(np.argmax(ref["pooled"]))
                print(f"{line}; chunk {chunk:>2}: max |diff| " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
                      + ("" if same else "  PREDICTION DIFFERS"))
                worst = worst if same else float("inf")
    if args.compare:
        print(f"worst difference {worst:.2e} (tolerance {args.tolerance:g})")
        return 0 if worst <= args.tolerance else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
