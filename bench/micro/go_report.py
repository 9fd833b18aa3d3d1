#!/usr/bin/env python3
"""Markdown report of the Go bridge's benchmarks (go-bridge/bench_test.go).

Reads `go test -bench` output (a file, or - for standard input), takes the
median ns/op of each benchmark over all its runs (-count, or several go test
runs appended to one file), and prints what the input records of the run
(its "key: value" configuration lines: go test's goos, goarch, pkg and cpu,
and those scripts/run.sh adds, the commit, CPU model, cores, kernel, Go
version and command; GOMAXPROCS from the benchmark names' suffix), then one
table per comparison, every ratio from the same run:

- Go -> Rust: the Rust module's typed export called directly through cgo
  (the floor) against junction's Method.CallAppend, Call and CallBorrowed;
- Go -> Rust echo: Call (copies the response) against CallBorrowed;
- Go -> Rust through a host worker (CallAsync);
- Go -> Go over a route (ipc): Call one at a time, and 64 goroutines with
  Call and with CallAsync;
- Rust -> Go: C code calling the Go handler go.echo/length through jn_call
  against a raw cgo export doing the same work, from a thread Go created and
  from one it did not.

    go_report.py go-bench.txt go-bench.md

The table is printed and, if OUTPUT is given, written there too. A run of
fewer than CONCLUSIVE_RUNS runs per benchmark, or of runs shorter than
CONCLUSIVE_SECONDS, is said to give indicative figures only. Standard
library only.
"""

import argparse
import re
import statistics
import sys

LINE = re.compile(r"^(?P<name>Benchmark\S+?)(?:-(?P<procs>\d+))?\s+(?P<iterations>\d+)\s+"
                  r"(?P<ns>[\d.]+) ns/op")
# Go's benchmark format: a key starts lower case and holds no space or
# upper case letter.
CONFIG = re.compile(r"^(?P<key>[a-z][^\sA-Z:]*): (?P<value>.*)$")
SIZES = ["0B", "64B", "64KiB", "1MiB"]
# The shortest run whose figures the report calls more than indicative (the
# README's "Measured" settings): quick runs of one build move the ratios.
CONCLUSIVE_RUNS = 5
CONCLUSIVE_SECONDS = 1.0


def read_run(lines):
    """Returns (median ns/op by benchmark, the configuration's values by key
    in order of appearance, GOMAXPROCS values, runs per benchmark, the median
    length of a run in seconds)."""
    runs, config, procs, seconds = {}, {}, set(), []
    for line in lines:
        line = line.strip()
        match = LINE.match(line)
        if match:
            runs.setdefault(match["name"], []).append(float(match["ns"]))
            procs.add(int(match["procs"] or 1))  # Go omits the suffix at 1
            seconds.append(int(match["iterations"]) * float(match["ns"]) * 1e-9)
        elif match := CONFIG.match(line):
            values = config.setdefault(match["key"], [])
            if match["value"] not in values:
                values.append(match["value"])
    medians = {name: statistics.median(values) for name, values in runs.items()}
    counts = min((len(values) for values in runs.values()), default=0)
    return medians, config, procs, counts, statistics.median(seconds) if seconds else 0.0


def header(config, procs, counts, seconds):
    """What the run records of itself, and a short run's caveat."""
    def known(key):
        return " / ".join(config.get(key, ["not recorded"]))

    out = ["## Go bridge benchmarks (go test -bench)", ""]
    if counts < CONCLUSIVE_RUNS or seconds < CONCLUSIVE_SECONDS:
        out += [f"**Figures indicative only: a short run.** Each benchmark ran {counts} "
                f"time{'s' if counts != 1 else ''}, for about {seconds:.3g} s each (the median "
                f"of iterations x ns/op); quick runs of one build move these ratios. For "
                f"conclusions run at least {CONCLUSIVE_RUNS} runs of {CONCLUSIVE_SECONDS:g} s "
                f"(`JUNCTION_BENCH_REPS={CONCLUSIVE_RUNS} "
                f"JUNCTION_BENCH_MIN_TIME={CONCLUSIVE_SECONDS:g} scripts/run.sh`).", ""]
    command = " / ".join(f"`{c}`" for c in config["command"]) if "command" in config else None
    out += [f"- Figures: median ns/op of {counts} runs per benchmark, each of about "
            f"{seconds:.3g} s.",
            f"- Machine: {known('cpu-model')} (go test's cpu: {known('cpu')}), cores "
            f"{known('cores')}, kernel {known('kernel')}, {known('goos')}/{known('goarch')}.",
            f"- Toolchain: Go version {known('go-version')}, GOMAXPROCS "
            f"{' / '.join(map(str, sorted(procs))) or 'not recorded'}.",
            f"- Command: {command or 'not recorded'}; commit {known('commit')}.", ""]
    return "\n".join(out) + "\n"


def table(title, note, header, rows):
    out = [f"### {title}", "", note, "", "| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def ratio(numerator, denominator):
    return f"{numerator / denominator:.2f}x" if numerator and denominator else "-"


def ns(value):
    return f"{value:.1f}" if value else "-"


def report(medians):
    sections = []
    go_rust = "BenchmarkGoToRust/"
    rows = []
    for label, prefix in (("", ""), (", GOMAXPROCS callers", "parallel/")):
        for size in SIZES:
            typed = medians.get(f"{go_rust}{prefix}typed-cgo/{size}")
            append = medians.get(f"{go_rust}{prefix}junction-CallAppend/{size}")
            call = medians.get(f"{go_rust}{prefix}junction-Call/{size}")
            borrowed = medians.get(f"{go_rust}{prefix}junction-CallBorrowed/{size}")
            if typed or call:
                rows.append([size + label, ns(typed), ns(append), ratio(append, typed), ns(call),
                             ratio(call, typed), ns(borrowed)])
    if rows:
        sections.append(table(
            "Go -> Rust: rust.echo/length (reads only the length)",
            "ns per call. The floor is the module's typed export `junction_echo_length` "
            "called through cgo. Through junction: CallAppend into a reused buffer (the "
            "Rust handler answers into the room the call lends: nothing is allocated), "
            "Call (allocates the returned slice), CallBorrowed (lends the response until "
            "Release, a second cgo crossing).",
            ["request", "typed cgo", "CallAppend", "CallAppend / typed", "Call", "Call / typed",
             "CallBorrowed"], rows))
    handoff = medians.get(f"{go_rust}junction-CallAsync/64B")
    if handoff:
        sections.append(table(
            "Go -> Rust through a host worker: CallAsync on rust.echo/length",
            "ns per call: the call runs on a host worker thread while the goroutine waits "
            "without holding an OS thread; the handoff is what this measures.",
            ["request", "CallAsync", "CallAsync / Call"],
            [["64B", ns(handoff), ratio(handoff, medians.get(f"{go_rust}junction-Call/64B"))]]))
    rows = []
    for size in SIZES:
        call = medians.get(f"{go_rust}echo-Call/{size}")
        borrowed = medians.get(f"{go_rust}echo-CallBorrowed/{size}")
        if call or borrowed:
            rows.append([size, ns(call), ns(borrowed), ratio(borrowed, call)])
    if rows:
        sections.append(table(
            "Go -> Rust: rust.echo/echo (answers the request)",
            "ns per call: Call copies the response into Go memory, CallBorrowed lends the "
            "Rust buffer until Release (a second cgo crossing).",
            ["response", "Call", "CallBorrowed", "CallBorrowed / Call"], rows))
    rows = []
    for thread in ("go-thread", "c-thread"):
        for size in SIZES:
            raw = medians.get(f"BenchmarkRustToGo/raw-export/{thread}/{size}")
            junction = medians.get(f"BenchmarkRustToGo/junction/{thread}/{size}")
            if raw or junction:
                rows.append([thread, size, ns(raw), ns(junction), ratio(junction, raw)])
    if rows:
        sections.append(table(
            "Rust -> Go: go.echo/length from C (the ABI Rust calls through)",
            "ns per call, in a C loop: junction's jn_call_into (lending 64 bytes of room) "
            "into the Go handler against a raw cgo export doing the same work; go-thread: "
            "the loop runs on a thread Go created, c-thread: on one C started.",
            ["caller thread", "request", "raw export", "junction", "junction / raw"], rows))
    one = medians.get("BenchmarkRouted/Call")
    many_call = medians.get("BenchmarkRouted/64-goroutines/Call")
    many_async = medians.get("BenchmarkRouted/64-goroutines/CallAsync")
    if one or many_call or many_async:
        sections.append(table(
            "Go -> Go over a route: go.echo/echo over ipc, 64 B",
            "ns per call (so 1e9 / ns is the calls per second), the listener in the same "
            "process: Call one at a time, then 64 goroutines at once with Call (each holding "
            "an OS thread in its cgo call) and with CallAsync (parked; the route's own thread "
            "receives every answer).",
            ["Call, one at a time", "64 goroutines, Call", "64 goroutines, CallAsync",
             "CallAsync / Call (64 goroutines)"],
            [[ns(one), ns(many_call), ns(many_async), ratio(many_async, many_call)]]))
    return "\n".join(sections)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="go test -bench output, or - for stdin")
    parser.add_argument("output", nargs="?", help="also write the Markdown here")
    args = parser.parse_args()
    source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
    with source:
        medians, config, procs, counts, seconds = read_run(source)
    if not medians:
        sys.exit("go_report.py: no benchmark lines in the input")
    text = header(config, procs, counts, seconds) + report(medians)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
