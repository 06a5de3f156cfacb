#!/usr/bin/env bash
# Measures `.ci/run` as on a fresh machine: a clean clone of this repository's HEAD, an empty
# CARGO_HOME (every crate downloaded again, trunk and wasm-bindgen-cli built), an empty target dir
# and npm cache. Not cold: rustup's toolchain (with its wasm32 target, if installed) and apt
# packages (Chromium). Needs ../shared beside this checkout; takes ~30 min on 2 cores.
#
#   scripts/cold-ci.sh [WORK_DIR]      # default /tmp/nerco-cold (deleted and recreated)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/nerco-cold}
rm -rf "$root" && mkdir -p "$root/bin"
# The rustup proxies only, so no tool installed in ~/.cargo/bin is found.
for b in cargo rustc rustup rustdoc cargo-fmt rustfmt cargo-clippy clippy-driver; do
    ln -s "${CARGO_HOME:-$HOME/.cargo}/bin/$b" "$root/bin/$b"
done
ln -s "$(cd "$repo/../shared" && pwd)" "$root/shared"
git clone -q "$repo" "$root/repo"
cd "$root/repo"
export CARGO_HOME=$root/cargo PATH=$root/cargo/bin:$root/bin:/usr/local/bin:/usr/bin:/bin
export npm_config_cache=$root/npm
unset CARGO_TARGET_DIR RAYON_NUM_THREADS
echo "cold CI of $(git rev-parse --short HEAD), start $(date -u +%FT%TZ)"
s=$(date +%s)
.ci/run
rc=$?
echo "cold .ci/run: rc $rc, $(( $(date +%s) - s )) s, end $(date -u +%FT%TZ)"
exit $rc
