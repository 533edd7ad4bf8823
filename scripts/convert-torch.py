#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pth / .pt) to safetensors that stsm-engine loads.

  .venv-torch/bin/python scripts/convert-torch.py c3d.pickle c3d.safetensors
  .venv-torch/bin/python scripts/convert-torch.py vgg16_fer.pth vgg2d.safetensors --strip-prefix module.

Accepts a bare state dict, or one nested under 'state_dict' / 'model' / 'model_state_dict', or a
whole nn.Module. Tensors keep their names and PyTorch layouts ((O, I, T, H, W) convs, (out, in)
linears) and are written as float32 (float64 kept with --keep-f64). Non-tensor entries (step
counters, BatchNorm's num_batches_tracked) are skipped and listed. Names can then be checked
against a model with `stsm-engine info` and loaded with `--init` (mismatches are reported by name).
Torchvision VGG-16 2D weights become a 3D initialisation with `stsm-engine inflate`.

The safetensors format is written directly (8-byte little-endian header length, JSON header,
raw little-endian data), so nothing beyond PyTorch is needed.
"""
import argparse
import json
import struct
import sys

import torch


def find_state_dict(obj):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                return find_state_dict(obj[key])
        return obj
    raise SystemExit(f"cannot find a state dict in a {type(obj).__name__}")


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        dtype = {torch.float32: "F32", torch.float64: "F64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)  # align the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source")
    ap.add_argument("dest")
    ap.add_argument("--strip-prefix", default="", help="remove this prefix from names (e.g. 'module.')")
    ap.add_argument("--keep-f64", action="store_true", help="keep float64 tensors as float64")
    args = ap.parse_args()
    state = find_state_dict(torch.load(args.source, map_location="cpu", weights_only=False))
    tensors, skipped = {}, []
    for name, value in state.items():
        if not torch.is_tensor(value) or not value.is_floating_point():
            skipped.append(name)
            continue
        if args.strip_prefix and name.startswith(args.strip_prefix):
            name = name[len(args.strip_prefix):]
        keep = args.keep_f64 and value.dtype == torch.float64
        tensors[name] = value.detach().to(torch.float64 if keep else torch.float32)
    if not tensors:
        raise SystemExit(f"{args.source}: no floating-point tensors found")
    write_safetensors(args.dest, tensors, {"converted_from": args.source})
    total = sum(t.numel() for t in tensors.values())
    print(f"{len(tensors)} tensors ({total:,} values) -> {args.dest}")
    for name, t in tensors.items():
        print(f"  {name:40s} {tuple(t.shape)}")
    if skipped:
        print(f"skipped (not float tensors): {', '.join(skipped)}")


if __name__ == "__main__":
    sys.exit(main())
