#!/bin/sh
# Installs the Debian packages Herald needs, and only those missing.
# Usage: scripts/install-deps.sh [run|test|bench]   (each set includes the previous)
# Works as root; uses sudo otherwise. Idempotent: a second run installs nothing.
set -eu

set_name=${1:-run}
build_pkgs="cmake make gcc libc6-dev pkg-config libzmq3-dev libczmq-dev libmicrohttpd-dev
 libmsgpack-dev libsodium-dev libwslay-dev libjansson-dev nettle-dev liblmdb-dev"
run_pkgs="curl"
test_pkgs="libcmocka-dev clang libclang-rt-14-dev python3 python3-zmq
 python3-msgpack python3-websockets python3-jwt python3-cryptography chromium
 iproute2 nftables golang-go yamllint prometheus podman mmdebstrap
 python3-yaml"
bench_pkgs="nginx-light libnginx-mod-nchan linux-perf python3-matplotlib"

pkgs="$build_pkgs $run_pkgs"
case "$set_name" in
  run) ;;
  test) pkgs="$pkgs $test_pkgs" ;;
  bench) pkgs="$pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "usage: $0 [run|test|bench]" >&2; exit 2 ;;
esac
# Node.js comes with npm on some images (NodeSource); Debian splits them.
if ! command -v node >/dev/null 2>&1 && [ "$set_name" != run ]; then
  pkgs="$pkgs nodejs"
fi
if ! command -v npm >/dev/null 2>&1 && [ "$set_name" != run ]; then
  pkgs="$pkgs npm"
fi

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
