#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, runs the
# host demonstration, then the in-process call benchmarks on a quick default:
# jn_call against a direct function-pointer call (table and report written
# to bench/results/), and a C++ caller calling the Rust module through
# junction against its typed export.
#   JUNCTION_BENCH_MIN_TIME  seconds per benchmark (default 0.2)
#   JUNCTION_BENCH_REPS      repetitions per benchmark (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

echo "== junction host demonstration"
build/release/examples/host-demo/junction_host_demo

echo
echo "== in-process call benchmark (release build)"
mkdir -p bench/results
json=bench/results/micro-latest.json
report=bench/results/micro-latest.md
build/release/bench/micro/junction_micro_bench \
  --benchmark_min_time="${JUNCTION_BENCH_MIN_TIME:-0.2}" \
  --benchmark_repetitions="${JUNCTION_BENCH_REPS:-3}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="${json}" --benchmark_out_format=json >/dev/null
python3 bench/micro/report.py "${json}" "${report}"
echo
echo "report written to ${report} (raw results: ${json})"

echo
echo "== C++ caller -> Rust handler (rust.echo/length through jn_call vs the typed export)"
build/release/bench/micro/junction_rust_module_bench \
  --benchmark_min_time="${JUNCTION_BENCH_MIN_TIME:-0.2}" \
  --benchmark_repetitions="${JUNCTION_BENCH_REPS:-3}" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out=bench/results/rust-module-latest.json --benchmark_out_format=json |
  grep -E '^(Benchmark|-+$|BM_.*_median)'
