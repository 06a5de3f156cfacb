#!/usr/bin/env bash
# The GPU check: on a Linux machine with an NVIDIA GPU and its driver, Python with PyTorch (CUDA),
# and no Rust toolchain. Make the payload on a build machine first (scripts/gpu-payload.sh: a
# stripped `nerco` built with --features vulkan, and the Vulkan loader), then, in a copy of this
# repository with target/gpu-payload/ in it:
#   scripts/gpu-check.sh 2>&1 | tee gpu-check.txt
# It prints, on Resume: tokens/s of one stage-1 and one stage-2 epoch on `vulkan` and on `cpu`,
# with the dev F1 after them; the BERT-base-sized encoder (forward, forward + backward) on
# `vulkan`; and `nerco bench --suite train` on `vulkan` beside bench/torch_tagger.py on CUDA with
# the same batches. Sized for ≤ 8 minutes on one H200.
# GPU_CHECK_CONFIG=configs/tiny.toml runs the same steps on the tiny config (a dry run: e.g. on
# lavapipe, where Vulkan runs on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
say() { printf '[gpu-check %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
payload="${PAYLOAD:-target/gpu-payload}"
config="${GPU_CHECK_CONFIG:-configs/resume.toml}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -f "$payload/nerco.xz" ] || { echo "no $payload/nerco.xz: run scripts/gpu-payload.sh on a build machine" >&2; exit 1; }
xz -dc "$payload/nerco.xz" > "$work/nerco"
chmod +x "$work/nerco"
nerco="$work/nerco"
export LD_LIBRARY_PATH="$PWD/$payload${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
say "nerco from commit $(cat "$payload/commit" 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || say "nvidia-smi: not found"

# Containers often carry the driver's libraries but no Vulkan ICD manifest: write one.
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  lib=$(ldconfig -p | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}')
  if [ -n "$lib" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" > "$work/nvidia_icd.json"
    export VK_ICD_FILENAMES="$work/nvidia_icd.json"
    say "Vulkan ICD manifest written for $lib"
  else
    say "no NVIDIA Vulkan ICD and no libGLX_nvidia.so.0: vulkan will use whatever adapter exists"
  fi
fi

# One stage-1 and one stage-2 epoch of the config, no head-only epoch.
cat > "$work/check.toml" <<TOML
extends = "$PWD/$config"
name = "gpu-check"
[stage1]
epochs = 1
patience = 1
[stage2]
epochs = 1
patience = 1
head_only_epochs = 0
TOML
summary() {
  python3 - "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/metrics.json"))
for e in m["history"]:
    print(f"  {m['backend']:>10} {e['phase']:>8} epoch {e['epoch']}: {e['tokens_per_second']:9.0f} tokens/s, {e['seconds']:6.1f} s, loss {e['train_loss']:.4f}")
print(f"  {m['backend']:>10} dev F1 {m['dev']['overall']['f1']:.2f} after one epoch of each stage ({m['seconds']:.0f} s)")
PY
}
for backend in vulkan cpu; do
  say "train on $backend"
  if timeout "$([ "$backend" = vulkan ] && echo 150 || echo 120)" "$nerco" --backend "$backend" train --config "$work/check.toml" --recipe nerco \
      --seed 1 --out "$work/run-$backend" > "$work/train-$backend.log" 2>&1; then
    summary "$work/run-$backend"
  else
    say "train on $backend failed or ran out of time:"; tail -5 "$work/train-$backend.log"
  fi
done

say "BERT-base-sized encoder on vulkan"
NERCO_BERT_BATCH=32 timeout 60 "$nerco" --backend vulkan bench --suite bert --report "$work/bench.md" 2>&1 | tail -6 || say "bert bench failed"

say "training steps: Burn on vulkan beside PyTorch on CUDA, same batches"
NERCO_TORCH_DEVICE=cuda timeout 120 "$nerco" --backend vulkan bench --suite train --report "$work/bench.md" 2>&1 | grep -E '^\|' || say "train bench failed"
say "done"
