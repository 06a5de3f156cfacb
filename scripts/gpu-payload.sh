#!/usr/bin/env bash
# Build what scripts/gpu-check.sh runs on a GPU machine that has no Rust toolchain: `nerco` with
# `--features vulkan` (autotune + fusion, SPIR-V kernels), stripped and xz-compressed, plus the
# Vulkan loader it links (libvulkan.so.1). Output: target/gpu-payload/ (a few MB; carry it with
# the repository).
#   scripts/gpu-payload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own target directory: the vulkan feature set would otherwise replace target/release/nerco.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/gpu}"
cargo build --release -p trainer --features vulkan
out=target/gpu-payload
rm -rf "$out"
mkdir -p "$out"
strip -o "$out/nerco" "$CARGO_TARGET_DIR/release/nerco"
xz -T0 -9 "$out/nerco"
loader=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ {print $NF; exit}')
if [ -z "$loader" ]; then
  echo "the Vulkan loader is missing here: apt-get install libvulkan1" >&2
  exit 1
fi
cp -L "$loader" "$out/libvulkan.so.1"
git rev-parse HEAD > "$out/commit"
ls -l "$out"
