#!/usr/bin/env bash
# Runs a test command that reports many tests in one output (go test) and
# passes its exit status on. When it fails, the failing tests' own lines
# come first (Go's "--- FAIL" lines with their messages, a panic or a test
# timeout with the tests it was running), then the whole output, so that a
# log cut short after its first lines still names the failure. The command
# must end by itself (go test -timeout below ctest's): the output is held
# until it does.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" >"$log" 2>&1
status=$?
if ((status != 0)); then
  echo "junction: the test command failed (exit ${status}); its failure lines first:"
  grep -E -A 8 '^[[:space:]]*--- FAIL|^panic: ' "$log" | head -n 300
  echo "junction: its whole output:"
fi
cat "$log"
exit "${status}"
