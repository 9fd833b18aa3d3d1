#!/usr/bin/env bash
# Installs, idempotently, every Debian package junction needs to build and
# test. Safe to run on every invocation: it only calls apt-get when a package
# is missing. GoogleTest (googletest, libgtest-dev), cmake, ninja, gcc/g++,
# Go and Rust come with the machine; they are checked, not installed.
set -euo pipefail

packages=(
  pkg-config
  libboost-dev          # Boost.Asio and Boost.Beast (header-only)
  libzmq3-dev           # libzmq, used by the ZeroMQ transport
  cppzmq-dev            # cppzmq, the C++ binding over libzmq
  libbenchmark-dev      # Google Benchmark, bench/micro
  libgtest-dev          # GoogleTest (preinstalled on the reference machine)
  googletest
  clang                 # fuzz targets and sanitizer runs
  libclang-rt-14-dev    # clang's sanitizer and libFuzzer runtimes
  clang-format
  clang-tidy
  binutils              # nm, for the exported-symbol check
  python3               # benchmark reports, the fuzz seed corpus check
  python3-zmq           # pyzmq, for the Python wire protocol peer's tests
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in cmake ninja g++ go cargo; do
  command -v "$tool" >/dev/null || { echo "bootstrap: $tool is required but not installed" >&2; exit 1; }
done
echo "bootstrap: all build dependencies present"
