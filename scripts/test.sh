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
summaries=()
# ctest's output also goes to build/PRESET/ctest.log, whose summary line
# ("N% tests passed, ...") is printed again at the end, one per preset.
run_preset() {
  local preset=$1
  echo "== junction: ${preset} build and tests"
  mkdir -p "build/${preset}"
  cmake --preset "${preset}" >/dev/null &&
    cmake --build --preset "${preset}" -j "${jobs}" &&
    ctest --preset "${preset}" -j "${jobs}" | tee "build/${preset}/ctest.log"
}
summarise() {
  local preset=$1 line
  line=$(grep -E '^[0-9]+% tests passed' "build/${preset}/ctest.log" 2>/dev/null || true)
  summaries+=("${preset}: ${line:-no test ran (the build failed)}")
}

presets=(dev)
if [[ "${JUNCTION_SANITIZERS:-1}" != 0 ]]; then
  presets+=(asan tsan)
fi
for preset in "${presets[@]}"; do
  rm -f "build/${preset}/ctest.log"
  run_preset "${preset}" || failed+=("${preset}")
  summarise "${preset}"
done

echo "== junction: test summary"
printf 'junction: %s\n' "${summaries[@]}"
if ((${#failed[@]})); then
  echo "junction: tests FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "junction: all test suites passed"
