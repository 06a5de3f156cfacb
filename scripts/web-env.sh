# Sourced by scripts/build-web.sh and scripts/browser-test.sh: tool paths and the size-optimised
# release settings for the wasm build. The workspace's release profile (opt-level 3, incremental)
# serves the native trainer; these variables override it only for the wasm build, whose
# artifacts live apart under target/wasm32-unknown-unknown.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_PROFILE_RELEASE_INCREMENTAL=false
