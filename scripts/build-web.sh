#!/usr/bin/env bash
# Builds the web demo into dist/ (trunk, release, offline) and prints the sizes of what a browser
# downloads. Needs the tools of scripts/install-web-tools.sh. Extra arguments go to trunk.
set -euo pipefail
source "$(dirname "$0")/web-env.sh"
cd "$ROOT"
for tool in trunk wasm-bindgen wasm-opt; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-web-tools.sh" >&2; exit 1; }
done
start=$(date +%s)
nice -n 19 trunk build --release "$@"
echo "trunk build: $(( $(date +%s) - start )) s"
size() { printf '%-48s %10d raw %10d gzip\n' "$1" "$(stat -c %s "$1")" "$(gzip -9 -c "$1" | wc -c)"; }
for f in dist/*.wasm dist/*.js dist/index.html dist/static/js/*.js dist/static/style.css; do
  [ -f "$f" ] && size "$f"
done
for d in dist/static/models/*/; do
  [ -d "$d" ] || continue
  total=0; gz=0
  for f in "$d"*; do total=$((total + $(stat -c %s "$f"))); gz=$((gz + $(gzip -9 -c "$f" | wc -c))); done
  printf '%-48s %10d raw %10d gzip\n' "$d (bundle)" "$total" "$gz"
done
