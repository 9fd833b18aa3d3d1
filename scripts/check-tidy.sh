#!/usr/bin/env bash
# Runs clang-tidy (config: .clang-tidy) over junction's C++: libjunction's
# sources (host and transports), junction-host, the examples and the
# benchmarks (bench/.clang-tidy) with every check, and the tests with every
# check but the static analyzer's: its path search through GoogleTest's
# assertion macros is slow (cpp-host/tests/async_test.cc: 88 s with it, 9 s
# without, on a 2-vCPU machine), and the tests run under ASan/UBSan and TSan.
# Not covered: the fuzz target (built by clang alone, outside this build) and
# tests/install/consumer (built against an installed copy by its own test).
# Usage: check-tidy.sh BUILD_DIR (a build with compile_commands.json).
set -euo pipefail
build_dir=$1
cd "$(dirname "$0")/.."
# GCC-only warning flags in the compile commands are not clang-tidy's concern.
tidy=(clang-tidy --quiet -p "${build_dir}" --extra-arg=-Wno-unknown-warning-option)
# Listed first, so that a failing git fails the check (a process
# substitution's status is lost) instead of checking no file.
source_listing=$(git ls-files ':(glob)cpp-host/src/*.cc' ':(glob)transports/wire/frame.cc' \
  ':(glob)transports/zmq/*.cc' ':(glob)cpp-host/junction-host/*.cc' ':(glob)examples/**/*.cc' \
  ':(glob)bench/*/*.cc')
test_listing=$(git ls-files ':(glob)abi/tests/*.cc' ':(glob)cpp-host/tests/*.cc' \
  ':(glob)transports/wire/*_test.cc' ':(glob)transports/zmq/tests/*.cc' ':(glob)tests/**/*.cc' \
  ':!:tests/install/consumer/*')
if [[ -z "${source_listing}" || -z "${test_listing}" ]]; then
  echo "clang-tidy: git lists no source or no test to check" >&2
  exit 1
fi
mapfile -t sources <<<"${source_listing}"
mapfile -t tests <<<"${test_listing}"
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 2 "${tidy[@]}"
printf '%s\n' "${tests[@]}" | xargs -P "$(nproc)" -n 2 "${tidy[@]}" --checks=-clang-analyzer-*
echo "clang-tidy: ${#sources[@]} sources and ${#tests[@]} tests clean"
