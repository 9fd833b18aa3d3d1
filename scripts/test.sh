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
# A pass that finds no test fails (--no-tests=error); so does one whose log
# has no summary line, whatever the exit statuses said.
run_preset() {
  local preset=$1
  echo "== junction: ${preset} build and tests"
  mkdir -p "build/${preset}"
  cmake --preset "${preset}" >/dev/null &&
    cmake --build --preset "${preset}" -j "${jobs}" &&
    ctest --preset "${preset}" -j "${jobs}" --no-tests=error | tee "build/${preset}/ctest.log"
}
summarise() {
  local preset=$1 line
  line=$(grep -E '^[0-9]+% tests passed' "build/${preset}/ctest.log" 2>/dev/null || true)
  if [[ -z ${line} ]]; then
    line="no test summary (configure, build or ctest failed, or no test was found)"
    [[ " ${failed[*]} " == *" ${preset} "* ]] || failed+=("${preset}")
  fi
  summaries+=("${preset}: ${line}")
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
if ((${#presets[@]} == 1)); then
  summaries+=("asan, tsan: SKIPPED (JUNCTION_SANITIZERS=${JUNCTION_SANITIZERS})")
fi

echo "== junction: test summary"
printf 'junction: %s\n' "${summaries[@]}"
if ((${#failed[@]})); then
  echo "junction: tests FAILED in: ${failed[*]}" >&2
  exit 1
fi
if ((${#presets[@]} == 1)); then
  echo "junction: the dev test suite passed; the sanitizer suites were skipped"
else
  echo "junction: all test suites passed"
fi
