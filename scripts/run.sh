#!/usr/bin/env bash
# The main job: installs dependencies, builds, and serves rotor's embedded default model (a small
# random-weight Qwen3-MoE with the Qwen3 tokenizer) over the OpenAI API on 127.0.0.1:8000.
# Extra arguments go to `rotor serve` (e.g. a MODEL_DIR, --port 9000). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh cpu
# Passive OpenMP waits keep the CPU backend fast beside the HTTP threads (docs/perf-log.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec build/cpu/apps/rotor serve --host 127.0.0.1 --port 8000 "$@"
