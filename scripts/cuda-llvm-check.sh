#!/usr/bin/env bash
# Can `cargo build --release -p trainer --features cuda` build here? Burn 0.22's cubecl-cuda always
# builds cubecl-llvm, whose build script (tracel-llvm-bundler 23.1.0-4) needs an LLVM 23 bundle:
# with internet it downloads it (nothing to do); offline it uses an installed one or an archive
# already in its cache. This script says which of those holds, or exactly what is missing and the
# commands that fetch it on a machine with internet.
#   scripts/cuda-llvm-check.sh          # exit 0: the build will find LLVM; 1: it will not
set -euo pipefail
ver=23.1.0-4
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) file=linux-x64 ;;
  Linux-aarch64) file=linux-AArch64 ;;
  Darwin-x86_64) file=macos-x64 ;;
  Darwin-arm64) file=macos-AArch64 ;;
  *) echo "tracel-llvm-bundler has no LLVM bundle for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
installed="${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-$ver"
cache="$HOME/.cache/tracel"
archive="$cache/tracel-llvm-$ver-$file.tar.xz"
sums="$cache/tracel-llvm-$ver-$file.checksums.json"
url="https://github.com/tracel-ai/tracel-llvm/releases/download/v$ver"

if [ -f "$installed/.tracel-llvm-installed" ]; then
  echo "LLVM $ver is installed in $installed: cargo build --release -p trainer --features cuda"
  exit 0
fi
missing=0
[ -f "$archive" ] || { echo "missing: $archive"; missing=1; }
[ -f "$sums" ] || { echo "missing: $sums"; missing=1; }
if [ "$missing" = 0 ]; then
  want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archive_sha256"])' "$sums")
  got=$(sha256sum "$archive" | cut -d' ' -f1)
  if [ "$want" != "$got" ]; then
    echo "corrupt: $archive has sha256 $got, its checksums file says $want" >&2
    exit 1
  fi
  echo "LLVM $ver archive present and verified. Build offline with:"
  echo "  TRACEL_LLVM_BUNDLER_SKIP_CHECKSUM_DOWNLOAD=1 cargo build --release -p trainer --features cuda"
  echo "(the build script unpacks it into $installed)"
  exit 0
fi
cat <<MSG

With internet, nothing is needed: cargo build --release -p trainer --features cuda downloads it.
Offline, fetch these two files on a machine with internet and copy them to $cache/ here:
  curl -L -o tracel-llvm-$ver-$file.tar.xz $url/$file.tar.xz
  curl -L -o tracel-llvm-$ver-$file.checksums.json $url/$file.checksums.json
then run this script again. At run time CUDA also needs the driver's libcuda and libdevice.10.bc
from a CUDA toolkit (CUDA_PATH or /usr/local/cuda).
MSG
exit 1
