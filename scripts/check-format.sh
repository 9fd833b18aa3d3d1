#!/usr/bin/env bash
# Fails when a tracked C or C++ file is not clang-formatted. Generated
# headers (cbindgen output under rust-bridge/*/include/) are excluded: their
# check is that regeneration reproduces them byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.cc' '*.h' '*.hh' '*.hpp' ':!:rust-bridge/*/include/*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
