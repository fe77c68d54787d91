#!/usr/bin/env bash
# Configures and builds one preset: scripts/build.sh cpu|cuda [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-cpu}; shift || true
export PATH="/usr/local/cuda/bin:$PATH"
jobs=$(nproc)
cmake --preset "$preset" "$@" >/dev/null
cmake --build "build/$preset" -j"$jobs"
