#!/usr/bin/env bash
# The Debian 12 packages rotor builds against, for a GPU machine that has a CUDA toolkit but
# none of our packages and no network. Two halves:
#   scripts/stage-gpu-deps.sh            here (where apt works): download the .debs into .gpu-debs/
#                                        (git-ignored; name it in carry: compressed, it travels small)
#   scripts/stage-gpu-deps.sh --unpack   there: unpack .gpu-debs/ into .gpu-deps/, which
#                                        scripts/gpu-check.sh points CMake, pkg-config and the loader at
set -euo pipefail
cd "$(dirname "$0")/.."
debs=.gpu-debs dest=.gpu-deps
PACKAGES=(
  libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 nlohmann-json3-dev libcli11-dev
  libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libssl3 libbrotli-dev libbrotli1 zlib1g-dev zlib1g
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libutf8proc-dev libutf8proc2 libzstd-dev libzstd1 libgtest-dev libgmock-dev
  libboost1.74-dev libhwloc-dev libhwloc15 libcurl4-openssl-dev libcurl4 libnghttp2-14 librtmp1 libssh2-1
  libpsl5 libldap-2.5-0 libsasl2-2 libbrotli1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
  libkeyutils1 libidn2-0 libunistring2 libudev1
)
if [ "${1:-}" != --unpack ]; then
  rm -rf "$debs" && mkdir -p "$debs"
  (cd "$debs" && apt-get download -qq "${PACKAGES[@]}" 2>/dev/null) ||
    { echo "apt-get download failed (run 'apt-get update' first?)" >&2; exit 1; }
  grep -qx "/$debs/" .git/info/exclude 2>/dev/null || echo "/$debs/" >> .git/info/exclude
  du -sh "$debs"
  echo "downloaded ${#PACKAGES[@]} packages into $debs: name it in carry; unpack there with $0 --unpack"
  exit 0
fi
rm -rf "$dest" && mkdir -p "$dest"
unpack_deb() {  # dpkg -x, or (where there is no dpkg) the deb's ar members by hand
  if command -v dpkg >/dev/null; then dpkg -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8  # "!<arch>\n", then 60-byte member headers
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
PY
}
for f in "$debs"/*.deb; do unpack_deb "$f" "$dest"; done
rm -rf "$dest/usr/share/doc" "$dest/usr/share/man" "$dest/usr/share/lintian" "$dest/usr/bin" "$dest/usr/sbin" \
  "$dest/etc" "$dest/usr/lib/ssl" "$dest/usr/src"
find "$dest" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' -delete  # shared libraries suffice
# Absolute symlinks would point outside the folder: make them relative.
find "$dest" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dest$target")" "$link" ;;
  esac
done
du -sh "$dest"
