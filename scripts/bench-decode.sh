#!/usr/bin/env bash
# Decoding speed of video files as stsm-engine reads them, in frames per CPU-second (user + system
# time of the whole process tree, so the number is per core and does not depend on what else the
# machine runs; everything pinned with `taskset -c 0`), against FFmpeg's own decoder on the same
# files:
#   ffmpeg -f null   decode only, frames thrown away (the anchor)
#   ffmpeg rgb24     decode + conversion to RGB, raw frames written to /dev/null
#   stsm-engine pack the whole path: ffprobe, ffmpeg -> rgb24 pipe -> frames -> pack file
# on two files made by ffmpeg's testsrc: 720x576 MPEG-4 Part 2 .avi (AFEW-like) and 1280x720
# H.264 .mp4 (phone-like). The last column is pack's speed as a fraction of the anchor.
# Usage: scripts/bench-decode.sh   (FRAMES=N to change the clip length, default 125)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-125}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The pack holds raw frames: keep it in memory when /dev/shm is there.
packdir=$work
[ -d /dev/shm ] && packdir=$(mktemp -d /dev/shm/stsm-bench-decode.XXXXXX) && trap 'rm -rf "$work" "$packdir"' EXIT

cargo build --quiet
engine=target/debug/stsm-engine
pin=(taskset -c 0)
command -v taskset >/dev/null || pin=()

mkdir -p "$work/root/clips/A" "$work/root/clips/B"
ffmpeg -nostdin -v error -f lavfi -i "testsrc=size=720x576:rate=25" -frames:v "$frames" \
    -c:v mpeg4 -q:v 3 "$work/root/clips/A/mpeg4-720x576.avi"
ffmpeg -nostdin -v error -f lavfi -i "testsrc=size=1280x720:rate=25" -frames:v "$frames" \
    -c:v libx264 -preset medium -crf 23 -pix_fmt yuv420p "$work/root/clips/B/h264-1280x720.mp4"

seconds() { # runs "$@" and prints the CPU time (user + system) it and its children used
    # `times` in a subshell: its second line is the subshell's reaped children, "1m2.5s 0m0.1s".
    (
        "$@" >/dev/null 2>&1
        times
    ) | awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] } print t }'
}
best_of_3() {
    local best="" t
    for _ in 1 2 3; do
        t=$(seconds "$@")
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

printf '%-22s %8s %14s %14s %18s %8s\n' file frames "ffmpeg -f null" "ffmpeg rgb24" "stsm-engine pack" "pack/null"
printf '%-22s %8s %14s %14s %18s %8s\n' "" "" "frames/s/core" "frames/s/core" "frames/s/core" ""
for class in A B; do
    file=$(ls "$work/root/clips/$class"/*)
    t_null=$(best_of_3 "${pin[@]}" ffmpeg -nostdin -v error -threads 1 -i "$file" -f null -)
    t_rgb=$(best_of_3 "${pin[@]}" ffmpeg -nostdin -v error -threads 1 -i "$file" -fps_mode passthrough \
        -pix_fmt rgb24 -f rawvideo -y /dev/null)
    # A root with this one video (the other class folder empty is allowed for pack).
    rm -rf "$work/one" && mkdir -p "$work/one/clips/$class" && ln -s "$file" "$work/one/clips/$class/"
    t_pack=$(best_of_3 "${pin[@]}" "$engine" --threads 1 pack --root "$work/one" --split clips \
        --out "$packdir/p.stsmpack" --quiet)
    printf '%-22s %8d %14.0f %14.0f %18.0f %8.2f\n' "$(basename "$file")" "$frames" \
        "$(echo "$frames / $t_null" | bc -l)" "$(echo "$frames / $t_rgb" | bc -l)" \
        "$(echo "$frames / $t_pack" | bc -l)" "$(echo "$t_null / $t_pack" | bc -l)"
done
