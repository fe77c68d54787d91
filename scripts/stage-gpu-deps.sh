#!/usr/bin/env bash
# Unpacks the Debian 12 packages rotor builds against into .gpu-deps/ (git-ignored), so a
# checkout can be built on a GPU machine that has a CUDA toolkit but none of our packages and
# no network. Run here (where apt works), then carry .gpu-deps with the tree; on the GPU
# machine scripts/gpu-check.sh points CMake, pkg-config and the loader at it.
#   scripts/stage-gpu-deps.sh [DEST]        (default: .gpu-deps, run from the project root)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.gpu-deps}
PACKAGES=(
  libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libssl3 libbrotli-dev libbrotli1 zlib1g-dev zlib1g
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libutf8proc-dev libutf8proc2 libzstd-dev libzstd1 libgtest-dev libgmock-dev libboost1.74-dev
)
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
(cd "$debs" && apt-get download -qq "${PACKAGES[@]}" 2>/dev/null) ||
  { echo "apt-get download failed (run 'apt-get update' first?)" >&2; exit 1; }
rm -rf "$dest" && mkdir -p "$dest"
for f in "$debs"/*.deb; do dpkg -x "$f" "$dest"; done
# Only what a build and a run need: headers, libraries, CMake and pkg-config files.
rm -rf "$dest/usr/share/doc" "$dest/usr/share/man" "$dest/usr/share/lintian" "$dest/usr/bin" "$dest/usr/sbin" \
  "$dest/etc" "$dest/usr/lib/ssl" "$dest/usr/src"
find "$dest" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' -delete  # shared libraries suffice
# Boost (160 MB of headers): keep the ones the HTTP server includes (Asio, Beast; as g++ sees
# them here) and boost/config (compiler detection), and Boost's CMake package files.
probe=$debs/probe.cpp
printf '#include <utility>\n#include <boost/asio.hpp>\n#include <boost/beast/core.hpp>\n#include <boost/beast/http.hpp>\n' >"$probe"
boost_deps() {
  g++ -std=c++20 -DBOOST_BEAST_USE_STD_STRING_VIEW -DBOOST_ASIO_NO_DEPRECATED -I"$dest/usr/include" -M "$probe" |
    tr ' \\' '\n\n' | grep '/boost/' | xargs -r realpath -m
}
boost_deps | sort -u >"$debs/keep"
find "$dest/usr/include/boost" -type f ! -path '*/boost/config/*' | xargs realpath -m | sort >"$debs/all"
comm -23 "$debs/all" "$debs/keep" | xargs -r rm -f
find "$dest/usr/include/boost" -type d -empty -delete
find "$dest/usr/lib/x86_64-linux-gnu/cmake" -maxdepth 1 -name 'boost_*' ! -name 'boost_headers-*' -exec rm -rf {} +
if boost_deps | grep -v "^$(realpath "$dest")/" | grep -q .; then
  echo "stage-gpu-deps: a Boost header the server needs was pruned" >&2; exit 1
fi
# Absolute symlinks would point outside the folder on the other machine: make them relative.
find "$dest" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dest$target")" "$link" ;;
  esac
done
du -sh "$dest"
echo "staged ${#PACKAGES[@]} packages in $dest: name it in carry"
