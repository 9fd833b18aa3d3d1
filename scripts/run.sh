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
# bench/results/go-latest.md and rust-latest.md). Every report records the
# machine, the toolchain, the command and the commit.
#   JUNCTION_BENCH_MIN_TIME  seconds per benchmark run (default 0.2)
#   JUNCTION_BENCH_REPS      runs per benchmark (default 3)
#   JUNCTION_BENCH_SCALE     share of the Rust -> Go benchmark's calls (default 0.5)
#   JUNCTION_ZMQ_SECONDS     seconds per transport benchmark case (default 1)
# The quick defaults' verdicts are indicative only, and the reports say so;
# conclusions want JUNCTION_BENCH_MIN_TIME=1 JUNCTION_BENCH_REPS=5
# JUNCTION_ZMQ_SECONDS=6 (the README's "Measured" runs).
set -euo pipefail
cd "$(dirname "$0")/.."
min_time=${JUNCTION_BENCH_MIN_TIME:-0.2}
reps=${JUNCTION_BENCH_REPS:-3}
scale=${JUNCTION_BENCH_SCALE:-0.5}
zmq_seconds=${JUNCTION_ZMQ_SECONDS:-1}
# Exits 2 unless the setting NAME's VALUE matches PATTERN and is not zero:
# the settings go into shell arithmetic and the benchmarks' options, and a
# run of nothing would leave the reports nothing to read.
#   require_positive NAME VALUE PATTERN WANTED
require_positive() {
  if [[ ! $2 =~ $3 || ! $2 =~ [1-9] ]]; then
    echo "scripts/run.sh: $1=$2: wants $4" >&2
    exit 2
  fi
}
number='^[0-9]*\.?[0-9]+$'
require_positive JUNCTION_BENCH_REPS "${reps}" '^[1-9][0-9]*$' 'a positive integer'
require_positive JUNCTION_BENCH_MIN_TIME "${min_time}" "${number}" 'a positive number of seconds'
require_positive JUNCTION_BENCH_SCALE "${scale}" "${number}" 'a positive number'
require_positive JUNCTION_ZMQ_SECONDS "${zmq_seconds}" "${number}" 'a positive number of seconds'
# This job's command, its settings spelled out.
run_command="JUNCTION_BENCH_MIN_TIME=${min_time} JUNCTION_BENCH_REPS=${reps}"
run_command+=" JUNCTION_BENCH_SCALE=${scale} JUNCTION_ZMQ_SECONDS=${zmq_seconds} scripts/run.sh"

# The source tree's commit, "-dirty" when a tracked file differs from it
# (reading the status writes nothing to the index); "unknown" without git.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ ${commit} != unknown ]]; then
  if ! changes=$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null); then
    commit+=-status-unknown
  elif [[ -n ${changes} ]]; then
    commit+=-dirty
  fi
fi

# The value of /proc/cpuinfo's first "key : value" line for key.
cpuinfo() {
  awk -F': ' -v key="$1" '$1 ~ "^" key "[ \t]*$" { print $2; exit }' /proc/cpuinfo
}

# Where the figures come from, as "key: value" lines (the configuration
# lines of Go's benchmark format) for the reports the benchmarks' own
# output does not describe. The C++ benchmarks record the same themselves.
provenance() {
  echo "commit: ${commit}"
  echo "cpu-model: $(cpuinfo 'model name') (family $(cpuinfo 'cpu family')," \
    "model $(cpuinfo model), $(cpuinfo 'cpu MHz') MHz)"
  echo "cores: $(nproc)"
  echo "kernel: $(uname -srm)"
}

scripts/bootstrap.sh

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

echo "== ${run_command}"
provenance

echo
echo "== junction host demonstration"
build/release/examples/host-demo/junction_host_demo

echo
echo "== transport benchmark: junction over ZeroMQ against plain REQ/REP (release build)"
build/release/bench/zmq/junction_zmq_bench --seconds "${zmq_seconds}" --out-dir bench/results

echo
echo "== asynchronous calls kept in flight on a route, against calls one after another"
build/release/bench/zmq/junction_async_route_bench \
  --benchmark_min_time="${min_time}" \
  --benchmark_repetitions="${reps}" \
  --benchmark_report_aggregates_only=true 2>&1 | grep -v '^\*\*\*WARNING' |
  tee bench/results/async-route-latest.txt
echo "report written to bench/results/async-route-latest.txt"

echo
echo "== in-process call benchmark (release build)"
mkdir -p bench/results
json=bench/results/micro-latest.json
report=bench/results/micro-latest.md
build/release/bench/micro/junction_micro_bench \
  --benchmark_min_time="${min_time}" \
  --benchmark_repetitions="${reps}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="${json}" --benchmark_out_format=json >/dev/null
python3 bench/micro/report.py "${json}" "${report}"
echo
echo "report written to ${report} (raw results: ${json})"

echo
echo "== C++ caller -> Rust handler (rust.echo/length through jn_call vs the typed export)"
build/release/bench/micro/junction_rust_module_bench \
  --benchmark_min_time="${min_time}" \
  --benchmark_repetitions="${reps}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out=bench/results/rust-module-latest.json --benchmark_out_format=json |
  grep -vE '^BM_.*_(mean|stddev|cv) '  # the medians (every row, at one repetition) and errors

echo
echo "== Go <-> Rust in one process (go test -bench; Go's figures are the median of ${reps} runs)"
release=$PWD/build/release
# One benchmark run per go test, the whole set run reps times: each
# benchmark's runs are spread over the run, as the C++ benchmarks' are
# interleaved, not made back to back.
go_bench=(go test -tags interop -run '^$' -bench . -benchtime "${min_time}s" -count 1 .)
{
  provenance
  echo "go-version: $(go env GOVERSION)"
  echo "command: ${run_command}: in go-bridge, ${reps} times: ${go_bench[*]}"
  for ((run = 1; run <= reps; run++)); do
    (cd go-bridge &&
      env PKG_CONFIG_PATH="${release}/pkgconfig" LD_LIBRARY_PATH="${release}/cpp-host" \
        JUNCTION_RUST_ECHO_MODULE="${release}/rust-target/release/libjunction_echo_module.so" \
        GOFLAGS=-buildvcs=false RUST_BACKTRACE=0 "${go_bench[@]}")
  done
} >bench/results/go-latest.txt
python3 bench/micro/go_report.py bench/results/go-latest.txt bench/results/go-latest.md
echo "report written to bench/results/go-latest.md (raw results: bench/results/go-latest.txt)"

echo
echo "== Rust caller -> Rust and Go handlers (cargo bench; medians of 31 runs)"
{
  echo "## Rust benchmarks (cargo bench)"
  echo
  provenance | sed 's/^/- /'
  echo "- rustc: $(cd rust-bridge && rustc --version)"
  echo "- command: \`${run_command}\`: in rust-bridge, cargo bench --locked --quiet -p junction" \
    "--bench call_overhead, then --bench call_go (JUNCTION_BENCH_SCALE=${scale})"
  echo
  (cd rust-bridge &&
    env JUNCTION_LIB_DIR="${release}/cpp-host" LD_LIBRARY_PATH="${release}/cpp-host" \
      CARGO_TARGET_DIR="${release}/rust-target" \
      JUNCTION_GO_ECHO_BUNDLE="${release}/go-bridge/libjunction_go_echo.so" \
      JUNCTION_BENCH_SCALE="${scale}" RUST_BACKTRACE=0 \
      sh -c 'cargo bench --locked --quiet -p junction --bench call_overhead &&
        echo && cargo bench --locked --quiet -p junction --bench call_go')
} | tee bench/results/rust-latest.md
echo "report written to bench/results/rust-latest.md"
