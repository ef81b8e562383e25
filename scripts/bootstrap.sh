#!/usr/bin/env bash
# Installs the Debian 12 packages lastmile needs to build, test and run its
# demo. Says what it installs; silent and fast when everything is present.
#   bash scripts/bootstrap.sh          # build + test dependencies
set -euo pipefail

packages=(
  gcc make cmake pkg-config
  libsqlite3-dev libuv1-dev libmsgpack-dev zlib1g-dev libssl-dev libqrencode-dev
  sqlite3 python3 gzip qrencode
  clang libclang-rt-14-dev clang-format
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done" >&2
