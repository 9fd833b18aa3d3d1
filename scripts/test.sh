#!/usr/bin/env bash
# Runs every junction test. Installs what is missing (scripts/bootstrap.sh),
# then builds and runs the whole ctest suite three times: the dev build
# (which also runs the format and clang-tidy checks), the ASan+UBSan build
# and the ThreadSanitizer build. Set JUNCTION_SANITIZERS=0 to skip the
# sanitizer builds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

jobs=$(nproc)
failed=()
run_preset() {
  local preset=$1
  echo "== junction: ${preset} build and tests"
  cmake --preset "${preset}" >/dev/null &&
    cmake --build --preset "${preset}" -j "${jobs}" &&
    ctest --preset "${preset}" -j "${jobs}"
}

run_preset dev || failed+=(dev)
if [[ "${JUNCTION_SANITIZERS:-1}" != 0 ]]; then
  run_preset asan || failed+=(asan)
  run_preset tsan || failed+=(tsan)
fi

if ((${#failed[@]})); then
  echo "junction: tests FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "junction: all test suites passed"
