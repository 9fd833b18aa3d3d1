#!/usr/bin/env bash
# Runs clang-tidy (config: .clang-tidy) over libjunction's sources (host and
# transports) and the C++ benchmarks (bench/.clang-tidy).
# Usage: check-tidy.sh BUILD_DIR (a build with compile_commands.json).
set -euo pipefail
build_dir=$1
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files ':(glob)cpp-host/src/*.cc' ':(glob)transports/wire/*.cc' \
  ':(glob)transports/zmq/*.cc' ':(glob)bench/*/*.cc')
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 2 clang-tidy --quiet -p "${build_dir}"
echo "clang-tidy: ${#files[@]} files clean"
