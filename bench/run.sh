#!/usr/bin/env bash
# Runs every nerco benchmark and rewrites docs/BENCHMARKS.md (one section per suite).
#   bench/run.sh            # all suites
#   bench/run.sh train      # one suite: inference | infonce | crf | train
# The `train` and `inference` suites compare against PyTorch (CPU, 2 threads) in bench/.venv; create it with
#   python3 -m venv bench/.venv && bench/.venv/bin/pip install torch
# (without it the PyTorch column reads n/a).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
uptime
if [ $# -eq 0 ]; then
  target/release/nerco bench --report docs/BENCHMARKS.md
else
  for s in "$@"; do target/release/nerco bench --suite "$s" --report docs/BENCHMARKS.md; done
fi
uptime
