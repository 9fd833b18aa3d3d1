#!/usr/bin/env bash
# Fails when a Go file of the Go bridge is not gofmt-clean.
set -euo pipefail
cd "$(dirname "$0")/../go-bridge"
unformatted=$(gofmt -l .)
if [[ -n "${unformatted}" ]]; then
  echo "not gofmt-clean: ${unformatted//$'\n'/ }"
  exit 1
fi
echo "gofmt: Go files clean"
