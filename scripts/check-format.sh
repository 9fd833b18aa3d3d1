#!/usr/bin/env bash
# Fails when a tracked C or C++ file is not clang-formatted. Generated
# headers (cbindgen output under rust-bridge/*/include/) are excluded: their
# check is that regeneration reproduces them byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
# Listed first, so that a failing git fails the check (a process
# substitution's status is lost) instead of checking no file.
listing=$(git ls-files '*.c' '*.cc' '*.h' '*.hh' '*.hpp' ':!:rust-bridge/*/include/*.h')
mapfile -t files <<<"${listing}"
if [[ -z "${listing}" ]]; then
  echo "clang-format: git lists no C or C++ file to check" >&2
  exit 1
fi
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
