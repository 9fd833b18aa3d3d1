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
# The C++ API alone, where pkg-config finds no libzmq (PKG_CONFIG_LIBDIR
# hides the system's .pc files): nothing of libzmq's is needed.
PKG_CONFIG_LIBDIR=${work}/nothing cmake -S "${here}/consumer" -B "${work}/consumer_no_zmq" -G Ninja \
  -DCMAKE_PREFIX_PATH="${prefix}" -DCONSUMER_STATIC=OFF >/dev/null
cmake --build "${work}/consumer_no_zmq" >/dev/null
"${work}/consumer_no_zmq/consumer_cxx"

# pkg-config sees junction.pc alone: the shared library needs no libzmq.pc.
export PKG_CONFIG_LIBDIR=${prefix}/lib/pkgconfig
[[ $(pkg-config --modversion junction) == 1.* ]] || { echo "pkg-config: wrong version" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=c99 -o "${work}/consumer_pc" "${here}/consumer/consumer.c" \
  $(pkg-config --cflags --libs junction) -Wl,-rpath,"${prefix}/lib"
"${work}/consumer_pc"
readelf -d "${work}/consumer_pc" | grep -q 'NEEDED.*libjunction.so.1' ||
  { echo "pkg-config consumer is not linked against libjunction.so.1" >&2; exit 1; }
echo "install: find_package and pkg-config consumers build and run"
