#!/usr/bin/env bash
# Install the Debian packages taskroute builds and tests with, only those missing.
# Quiet when everything is there; says what to run by hand when it cannot install.
# `scripts/deps.sh mpi` (or TR_DEPS_MPI=1) adds Open MPI for `make mpi`.
set -euo pipefail
pkgs=(build-essential pkg-config libigraph-dev libopenblas-dev liblapacke-dev
      libsentencepiece-dev libhnswlib-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
      libcurl4-openssl-dev curl python3
      # what `pkg-config --static --libs taskroute` names beyond the above:
      # igraph's private dependencies (tests/e2e_install.sh links statically)
      libglpk-dev libarpack2-dev libplfit-dev)
[ "${TR_DEPS_EXTRA:-}" ] && pkgs+=(${TR_DEPS_EXTRA})
if [ "${TR_DEPS_MPI:-}" = 1 ] || [ "${1:-}" = mpi ]; then pkgs+=(libopenmpi-dev openmpi-bin); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: no apt-get here; install these packages (or their equivalents) by hand: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "deps: not root and no sudo; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || { echo "deps: apt-get update failed (network?)" >&2; exit 1; }
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
  echo "deps: apt-get install failed; run by hand: apt-get install -y ${missing[*]}" >&2; exit 1; }
echo "deps: installed ${#missing[@]} package(s)" >&2
