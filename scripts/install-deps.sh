#!/usr/bin/env bash
# Installs everything rotor needs to build and test on Debian 12 (the README and .ci/run use this).
#   scripts/install-deps.sh            build + test dependencies (apt and pip)
# Idempotent: packages already present are skipped by apt and pip.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git zstd
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libspdlog-dev libfmt-dev
  libpcre2-dev libutf8proc-dev libhwloc-dev libzstd-dev libssl-dev libcurl4-openssl-dev
  libboost-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pip openssl
)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -m pip install -q --disable-pip-version-check -r "$(dirname "$0")/../tests/requirements.txt"
