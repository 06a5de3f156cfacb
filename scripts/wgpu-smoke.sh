#!/usr/bin/env bash
# Smoke run of a GPU backend on a machine without a GPU: Mesa's lavapipe (a Vulkan driver on the
# CPU) runs Burn's wgpu backend. Trains configs/tiny.toml through both stages on the GPU backend
# and on the CPU backend with the same seed, then prints both test F1, wall times, and the GPU
# run's host reads per epoch (the GPU path reads only the summed loss).
#
#   scripts/wgpu-smoke.sh            # wgpu; installs lavapipe when missing (apt), builds, runs
#   BACKEND=vulkan scripts/wgpu-smoke.sh   # the vulkan feature and backend (SPIR-V kernels)
#   SKIP_INSTALL=1 scripts/wgpu-smoke.sh
#
# lavapipe compiles every shader on the CPU, so the first steps take minutes; this is a check that
# the wgpu path trains and evaluates, not a benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SKIP_INSTALL:-}" ]] && ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1
fi
icd=$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -n1 || true)
if [[ -z "$icd" ]]; then
    echo "lavapipe (mesa-vulkan-drivers) is not installed" >&2
    exit 1
fi

backend="${BACKEND:-wgpu}"
# Its own target directory: a GPU feature set would otherwise replace target/release/nerco.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/gpu}"
cargo build --release -p trainer --features "$backend"
nerco="$CARGO_TARGET_DIR/release/nerco"
out="${OUT:-runs/wgpu-smoke}"
rm -rf "$out"
mkdir -p "$out"

run() { # backend
    local start end
    start=$(date +%s.%N)
    VK_ICD_FILENAMES="$icd" WGPU_BACKEND=vulkan "$nerco" train --config configs/tiny.toml \
        --backend "$1" --seed 7 --out "$out/$1" >"$out/$1.log" 2>&1
    end=$(date +%s.%N)
    python3 - "$out/$1/metrics.json" "$1" "$start" "$end" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
t = m.get("test", m)
f1 = t.get("f1", t.get("overall", {}).get("f1"))
print(f"{sys.argv[2]}: test F1 {f1}, wall {float(sys.argv[4]) - float(sys.argv[3]):.1f} s")
EOF
}
run cpu
run "$backend"
grep -h "host reads" "$out/$backend/train.log" | sed "s/^/$backend: /"
