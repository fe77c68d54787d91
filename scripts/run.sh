#!/usr/bin/env bash
# The main job: installs dependencies, builds, and serves rotor's embedded default model (a small
# random-weight Qwen3-MoE with the Qwen3 tokenizer) over the OpenAI API on 127.0.0.1:8000.
# Extra arguments go to `rotor serve` (e.g. a MODEL_DIR or Org/Name, --port 9000, --host
# 0.0.0.0); given ones replace the defaults. With a GPU (nvidia-smi sees one) and nvcc it builds
# the CUDA preset and serves on the GPU, else the CPU preset. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/cuda/bin:$PATH"
# Setup output goes to stderr: stdout is rotor's (--dry-run prints JSON there).
# ROTOR_NO_INSTALL=1: the dependencies are provided otherwise (a machine without apt; CMake and
# pkg-config then find them through CMAKE_PREFIX_PATH / PKG_CONFIG_* in the environment).
[ "${ROTOR_NO_INSTALL:-0}" = 1 ] || scripts/install-deps.sh >&2
preset=cpu
if command -v nvcc >/dev/null && command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  preset=cuda
fi
scripts/build.sh "$preset" >&2
# Passive OpenMP waits keep the CPU backend fast beside the HTTP threads (docs/perf-log.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Defaults only for what the arguments leave out (CLI11 refuses a flag given twice).
defaults=()
given() { local f; for f in "${@:2}"; do [[ $f == "$1" || $f == "$1="* ]] && return 0; done; return 1; }
given --host "$@" || defaults+=(--host 127.0.0.1)
given --port "$@" || defaults+=(--port 8000)
echo "rotor: serving with build/$preset" >&2
exec "build/$preset/apps/rotor" serve "${defaults[@]}" "$@"
