#!/usr/bin/env bash
# The test command: installs dependencies, builds the CPU configuration and runs every test
# (C++ tests through CTest, then the Python end-to-end tests against the built binary, with one
# rank and with two tensor-parallel CPU ranks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh cpu
(cd build/cpu && ctest -j"$(nproc)" --output-on-failure --timeout 900)
if compgen -G "tests/e2e/test_*.py" >/dev/null; then
  ROTOR_BINARY="$PWD/build/cpu/apps/rotor" python3 -m pytest -q tests/e2e
  # The same suite against a tensor-parallel server (two CPU ranks): about a minute.
  ROTOR_E2E_ARGS="--tensor-parallel-size 2" ROTOR_BINARY="$PWD/build/cpu/apps/rotor" python3 -m pytest -q tests/e2e
fi
