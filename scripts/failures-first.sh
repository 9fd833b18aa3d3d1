#!/usr/bin/env bash
# Usage: failures-first.sh SECONDS COMMAND [ARGS...]
# Runs a test command that reports many tests in one output (go test, cargo
# test) and passes its exit status on, stopping it after SECONDS (set below
# ctest's timeout, so that its output is never lost to ctest's kill). When
# it fails, the failing tests' own lines come first (Go's shuffle seed, its
# "--- FAIL" lines with their messages, a panic or a test timeout with the
# tests it was running; Rust's failed tests with their panic), then the
# whole output: a log cut short after its first lines still names the
# failure.
set -uo pipefail
limit=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout --kill-after=10 "${limit}" "$@" >"$log" 2>&1
status=$?
if ((status != 0)); then
  if ((status == 124 || status == 137)); then
    echo "junction: the test command ran past ${limit} s and was stopped"
  fi
  echo "junction: the test command failed (exit ${status}); its failure lines first:"
  grep -E -A 8 '^-test\.shuffle |^[[:space:]]*--- FAIL|^panic: |^---- .* stdout ----$|^test result: FAILED' "$log" |
    head -n 300
  echo "junction: its whole output:"
fi
cat "$log"
exit "${status}"
