#!/usr/bin/env bash
# System packages some tests and features need, from Debian's archive. Idempotent: when every
# command below is already on PATH, apt is not touched. Add a dependency as one more line in
# `packages` ("command package"), so branches that add different ones merge line by line.
# Usage: scripts/install-system-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
    "ffmpeg ffmpeg"   # video decoding and encoding (issue 21): ffmpeg and ffprobe
    "ffprobe ffmpeg"
)

missing=()
for entry in "${packages[@]}"; do
    read -r command package <<<"$entry"
    if ! command -v "$command" >/dev/null 2>&1; then
        case " ${missing[*]-} " in *" $package "*) ;; *) missing+=("$package") ;; esac
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system dependencies: all present"
    exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "system dependencies: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    }
    sudo_cmd=(sudo)
fi
echo "system dependencies: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
