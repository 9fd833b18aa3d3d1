#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, runs the
# host demonstration, the transport benchmark (junction over ZeroMQ ipc and
# tcp against plain REQ/REP ping-pong, server in another process; report
# written to bench/results/zmq-latest.{md,json}) and asynchronous calls kept
# in flight on a route (bench/results/async-route-latest.txt), then the
# in-process call benchmarks on a quick default:
# jn_call against a direct function-pointer call (table and report written
# to bench/results/), a C++ caller calling the Rust module through junction
# against its typed export, and Go and Rust calling each other in one
# process through junction against raw cgo calls (reports written to
# bench/results/go-latest.md and rust-latest.md).
#   JUNCTION_BENCH_MIN_TIME  seconds per benchmark (default 0.2)
#   JUNCTION_BENCH_REPS      repetitions per benchmark (default 3)
#   JUNCTION_BENCH_SCALE     share of the Rust -> Go benchmark's calls (default 0.5)
#   JUNCTION_ZMQ_SECONDS     seconds per transport benchmark case (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

echo "== junction host demonstration"
build/release/examples/host-demo/junction_host_demo

echo
echo "== transport benchmark: junction over ZeroMQ against plain REQ/REP (release build)"
build/release/bench/zmq/junction_zmq_bench --seconds "${JUNCTION_ZMQ_SECONDS:-1}" \
  --out-dir bench/results

echo
echo "== asynchronous calls kept in flight on a route, against calls one after another"
build/release/bench/zmq/junction_async_route_bench \
  --benchmark_min_time="${JUNCTION_BENCH_MIN_TIME:-0.2}" \
  --benchmark_repetitions="${JUNCTION_BENCH_REPS:-3}" \
  --benchmark_report_aggregates_only=true 2>&1 | grep -v '^\*\*\*WARNING' |
  tee bench/results/async-route-latest.txt
echo "report written to bench/results/async-route-latest.txt"

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
  grep -vE '^BM_.*_(mean|stddev|cv) '  # the medians (every row, at one repetition) and errors

echo
echo "== Go <-> Rust in one process (go test -bench; Go's figures are the median of ${JUNCTION_BENCH_REPS:-3} runs)"
release=$PWD/build/release
(cd go-bridge &&
  env PKG_CONFIG_PATH="${release}/pkgconfig" LD_LIBRARY_PATH="${release}/cpp-host" \
    JUNCTION_RUST_ECHO_MODULE="${release}/rust-target/release/libjunction_echo_module.so" \
    GOFLAGS=-buildvcs=false RUST_BACKTRACE=0 \
    go test -tags interop -run '^$' -bench . -benchtime "${JUNCTION_BENCH_MIN_TIME:-0.2}s" \
    -count "${JUNCTION_BENCH_REPS:-3}" .) >bench/results/go-latest.txt
python3 bench/micro/go_report.py bench/results/go-latest.txt bench/results/go-latest.md
echo "report written to bench/results/go-latest.md (raw results: bench/results/go-latest.txt)"

echo
echo "== Rust caller -> Rust and Go handlers (cargo bench; medians of 31 runs)"
(cd rust-bridge &&
  env JUNCTION_LIB_DIR="${release}/cpp-host" LD_LIBRARY_PATH="${release}/cpp-host" \
    CARGO_TARGET_DIR="${release}/rust-target" \
    JUNCTION_GO_ECHO_BUNDLE="${release}/go-bridge/libjunction_go_echo.so" \
    JUNCTION_BENCH_SCALE="${JUNCTION_BENCH_SCALE:-0.5}" RUST_BACKTRACE=0 \
    sh -c 'cargo bench --locked --quiet -p junction --bench call_overhead &&
      echo && cargo bench --locked --quiet -p junction --bench call_go') |
  tee bench/results/rust-latest.md
echo "report written to bench/results/rust-latest.md"
