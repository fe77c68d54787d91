#!/usr/bin/env bash
# The Python packages the e2e suite needs that the device image lacks (openai and what it
# imports), downloaded here as x86-64 CPython 3.12 wheels into the git-ignored .whl, which a
# device call carries for gpu-check's e2e steps (docs/gpu.md). Versions: this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >>"$(git rev-parse --git-common-dir)/info/exclude"
pkgs=(openai pydantic pydantic-core annotated-types typing-inspection typing-extensions jiter sniffio
      httpx2 httpcore2 truststore)
specs=()
for p in "${pkgs[@]}"; do specs+=("$p==$(python3 -m pip show "$p" | sed -n 's/^Version: //p')"); done
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl "${specs[@]}"
ls .whl
