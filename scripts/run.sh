#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs rotor on its default model.
# (Until the server lands: a short generation on a dummy 2-layer Qwen3-30B-A3B layout.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh cpu
exec build/cpu/apps/rotor generate "${ROTOR_SHARED:-../shared}/configs/qwen3-30b-a3b/config.json" \
  --load-format dummy --num-layers 2 --prompt-ids 785,6722,315 --max-tokens 8 "$@"
