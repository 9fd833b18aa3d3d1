#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a temporary prefix, then proves a
# consumer finds it the ordinary ways: find_package(junction CONFIG) for the
# C++ API and the static library, pkg-config for the shared C library.
# Usage: check_install.sh BUILD_DIR
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
prefix=${work}/prefix

cmake --install "${build_dir}" --prefix "${prefix}" >/dev/null

cmake -S "${here}/consumer" -B "${work}/consumer" -G Ninja -DCMAKE_PREFIX_PATH="${prefix}" >/dev/null
cmake --build "${work}/consumer" >/dev/null
"${work}/consumer/consumer_cxx"
"${work}/consumer/consumer_static"

export PKG_CONFIG_PATH=${prefix}/lib/pkgconfig
[[ $(pkg-config --modversion junction) == 1.* ]] || { echo "pkg-config: wrong version" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=c99 -o "${work}/consumer_pc" "${here}/consumer/consumer.c" \
  $(pkg-config --cflags --libs junction) -Wl,-rpath,"${prefix}/lib"
"${work}/consumer_pc"
readelf -d "${work}/consumer_pc" | grep -q 'NEEDED.*libjunction.so.1' ||
  { echo "pkg-config consumer is not linked against libjunction.so.1" >&2; exit 1; }
echo "install: find_package and pkg-config consumers build and run"
