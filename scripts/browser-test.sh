#!/usr/bin/env bash
# The web demo's end-to-end test, as CI runs it:
#   1. install the web tools where missing (scripts/install-web-tools.sh; a no-op once installed),
#   2. train the tiny test model (configs/tiny.toml, seconds) unless it exists, and its
#      no-contrast baseline for the viewer,
#   3. build the site (trunk build --release, offline) into dist/,
#   4. export the tiny model into dist/static/models/tiny-test (the committed site is untouched)
#      and list it in dist's models/index.json,
#   5. run tests/browser/test.mjs in headless Chromium (node --test): entities equal
#      `nerco predict`, the viewer draws, screenshots + timings in $OUT_DIR.
# NERCO_WEBGPU=1 also runs the WebGPU path on Chromium's software adapter. SKIP_INSTALL=1 and
# SKIP_BUILD=1 skip steps 1 and 3. WEB_BUILD=ci builds with the quick `wasm-ci` Cargo profile
# instead (opt-level 1, no LTO, no wasm-opt): the same code, a fraction of the cold build time,
# plenty fast for the tiny test model; `.ci/run` uses it.
set -euo pipefail
source "$(dirname "$0")/web-env.sh"
cd "$ROOT"
OUT_DIR="${OUT_DIR:-$ROOT/target/browser-test}"
RUNS="$OUT_DIR/runs"
NERCO="${CARGO_TARGET_DIR:-$ROOT/target}/release/nerco"
mkdir -p "$OUT_DIR" "$RUNS"
t0=$(date +%s)
step() { printf '[browser-test %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  step "tools"
  scripts/install-web-tools.sh
fi
if [ ! -x "$NERCO" ]; then
  step "building nerco"
  nice -n 19 cargo build --release -p trainer
fi
if [ ! -f "$RUNS/tiny/model.bpk" ]; then
  step "training the tiny test model"
  rm -rf "$RUNS/tiny"
  nice -n 19 "$NERCO" train --config configs/tiny.toml --out "$RUNS/tiny" > "$RUNS/tiny.log" 2>&1
fi
if [ ! -f "$RUNS/tiny-base/model.bpk" ]; then
  step "training its no-contrast baseline"
  rm -rf "$RUNS/tiny-base"
  nice -n 19 "$NERCO" train --config configs/tiny.toml --recipe no-contrast --out "$RUNS/tiny-base" > "$RUNS/tiny-base.log" 2>&1
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ "${WEB_BUILD:-release}" = ci ]; then
    step "trunk build --cargo-profile wasm-ci"
    nice -n 19 trunk build --release false --cargo-profile wasm-ci
  else
    step "trunk build --release"
    scripts/build-web.sh
  fi
fi
step "exporting the test model into dist/"
rm -rf dist/static/models/tiny-test
"$NERCO" export --run "$RUNS/tiny" --baseline "$RUNS/tiny-base" --out dist/static/models/tiny-test
node -e '
  const fs = require("fs"), f = "dist/static/models/index.json";
  const idx = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : { models: [] };
  idx.models = idx.models.filter((m) => m.id !== "tiny-test");
  idx.models.push({ id: "tiny-test", name: "Tiny (browser test)", dataset: "resume", path: "tiny-test" });
  fs.writeFileSync(f, JSON.stringify(idx, null, 2));'
step "headless Chromium"
cd tests/browser
DIST="$ROOT/dist" NERCO_BIN="$NERCO" NERCO_RUN="$RUNS/tiny" NERCO_MODEL=tiny-test OUT_DIR="$OUT_DIR" \
  node --test --test-reporter=spec test.mjs
step "done; screenshots and results.json in $OUT_DIR"
