#!/usr/bin/env bash
# Installs what the web build and the browser test need, each only when missing:
#   - the wasm32-unknown-unknown Rust target (rustup)
#   - trunk 0.21.14 (cargo install --locked; newer trunk needs a newer rustc)
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (no --locked)
#   - wasm-opt from npm binaryen@132 in ./node_modules (Debian's binaryen 108 breaks the module)
#   - Debian chromium + chromium-driver (playwright cannot download browsers here)
#   - playwright-core in tests/browser (npm ci from its package-lock.json)
#   - the wasm build's crates (cargo fetch for wasm32: trunk builds offline)
# Heavy steps run under `nice -n 19`. Safe to re-run; it prints what it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132
NICE="nice -n 19"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

# The two cargo-installed tools are build-time helpers whose own speed hardly matters: compile
# them with a light profile (opt-level 1: ≈ 1/3 less build time than their release profile,
# measured here). trunk only orchestrates, so it gets opt-level 0; wasm-bindgen rewrites a large
# module and keeps opt-level 1.
light_build() {
  env CARGO_PROFILE_RELEASE_OPT_LEVEL="$1" CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_INCREMENTAL=0 \
    "${@:2}"
}

log() { printf '[install-web-tools %(%H:%M:%S)T] %s\n' -1 "$*"; }

# wasm-bindgen version pinned by the lock file (the CLI must match it exactly).
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "wasm-bindgen not found in Cargo.lock" >&2; exit 1; }

# 1. wasm32 target
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "wasm32-unknown-unknown: present"
else
  log "wasm32-unknown-unknown: installing"
  rustup target add wasm32-unknown-unknown
fi

# 1b. The wasm build's crates. Trunk builds offline (Trunk.toml), and the native test suite
# downloads only what the native build needs, so on a fresh machine the web crate's wasm-only
# dependencies (the WebGPU backend's kernels, e.g. cubek-fft) would be missing.
log "crates for wasm32: cargo fetch"
cargo fetch --locked --target wasm32-unknown-unknown

# 2. Chromium and fonts (apt), early: quick and independent of the cargo builds.
APT_PACKAGES="chromium chromium-driver fonts-noto-cjk fonts-noto-color-emoji"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  log "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || true))"
else
  log "apt: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $NICE $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# 3. npm: binaryen (wasm-opt) in the repo root, playwright-core in tests/browser
if [ -x node_modules/.bin/wasm-opt ] && node_modules/.bin/wasm-opt --version | grep -q "version $BINARYEN_VERSION"; then
  log "wasm-opt: present ($(node_modules/.bin/wasm-opt --version))"
else
  log "wasm-opt: installing npm binaryen@$BINARYEN_VERSION into ./node_modules"
  $NICE npm install --no-save --no-audit --no-fund --no-package-lock "binaryen@$BINARYEN_VERSION"
fi
if [ -d tests/browser/node_modules/playwright-core ]; then
  log "playwright-core: present"
else
  log "playwright-core: installing in tests/browser"
  (cd tests/browser && $NICE npm ci --no-audit --no-fund)
fi

# 4. wasm-bindgen-cli (≈ 10 min on 2 cores)
if command -v wasm-bindgen >/dev/null 2>&1 && wasm-bindgen --version | grep -q " $WB_VERSION\$"; then
  log "wasm-bindgen-cli: present ($(wasm-bindgen --version))"
else
  log "wasm-bindgen-cli: installing $WB_VERSION"
  light_build 1 $NICE cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# 5. trunk (≈ 28 min on 2 cores)
if command -v trunk >/dev/null 2>&1 && trunk --version | grep -q " $TRUNK_VERSION\$"; then
  log "trunk: present ($(trunk --version))"
else
  log "trunk: installing $TRUNK_VERSION"
  light_build 0 $NICE cargo install trunk --version "$TRUNK_VERSION" --locked
fi

log "done"
