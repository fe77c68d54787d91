#!/usr/bin/env bash
# One device call (docs/gpu.md): scripts/gpu-check.sh STEPS under CALL_LIMIT seconds (default
# 560, under the device's 600 a call), then every log it wrote tarred into $OUT/logs.tgz, so
# one file comes back whatever the step count, and a call cut by the limit keeps its logs.
#   CALL_LIMIT=400 STEP_TIMEOUT=200 ROTOR_COMMIT=abc1234 scripts/gpu-call.sh fixtures build test
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
OUT=$logs timeout -k 5 "${CALL_LIMIT:-560}" scripts/gpu-check.sh "$@"
echo "gpu-check exit $?"
tar -C "$logs" -czf "${OUT:-gpu-out}/logs.tgz" .
