#!/usr/bin/env python3
"""Markdown report of junction_micro_bench: jn_call against a direct call.

Reads Google Benchmark JSON (--benchmark_format=json on stdout, or the file
written by --benchmark_out=FILE --benchmark_out_format=json) and prints, for
each request size, the direct function-pointer call's ns/call, jn_call's
ns/call, the difference and the ratio, all from the same run. The table is
printed and, if OUTPUT is given, written there too.

    report.py micro.json micro.md
    junction_micro_bench --benchmark_format=json | report.py - micro.md

With repetitions the median of each benchmark is used (--stat min or mean
to choose another) and its standard deviation shown; without, the single
run. --stat min needs the per-repetition entries (without them, as with
--benchmark_report_aggregates_only, the median is used). The machine, the
build, the command and the commit come from the JSON's context, where the
benchmark records them (bench/common/benchmark_context.h). A run shorter
than CONCLUSIVE_REPS repetitions of CONCLUSIVE_MIN_TIME seconds is said to
give indicative verdicts only. Standard library only.
"""

import argparse
import json
import re
import statistics
import sys

# (title, baseline family, candidate family, threads, does the target apply,
#  a note under the table)
COMPARISONS = [
    ("Call overhead: length handler (reads the request length), 1 thread",
     "BM_direct_length", "BM_jn_call_length", 1, True,
     "The handler does the same tiny job on both paths, so the difference is "
     "the cost of the ABI call."),
    ("jn_call with a real deadline (the host reads the clock), 1 thread",
     "BM_direct_length", "BM_jn_call_deadline_length", 1, True,
     "Same handler; jn_call is given a deadline one hour ahead instead of "
     "JN_NO_DEADLINE."),
    ("Checksum handler (reads every request byte), 1 thread",
     "BM_direct_checksum", "BM_jn_call_checksum", 1, False,
     "The handler's work grows with the request; at 64 KiB it dominates and "
     "the difference is within run-to-run noise."),
    ("The C++ API: junction::Method::call against calling the handler's "
     "std::function, 1 thread",
     "BM_cxx_direct_length", "BM_cxx_call_length", 1, False,
     "The same length handler written against junction.hpp, returning a "
     "junction::Buffer. The difference is jn_call, the API's trampoline and "
     "the Buffer's moves; the +5 ns target is jn_call's."),
    ("Call overhead: length handler, 2 threads calling at once",
     "BM_direct_length", "BM_jn_call_length", 2, True,
     "Both threads call the same method handle concurrently. CPU time is the "
     "cost of one call on one thread; real time is wall-clock time divided by "
     "the calls of both threads (inverse throughput)."),
]

UNIT_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# The shortest run whose verdicts the report calls more than indicative (the
# README's "Measured" settings): quick runs of one build flip verdicts.
CONCLUSIVE_REPS = 5
CONCLUSIVE_MIN_TIME = 1.0
DEFAULT_MIN_TIME = 0.5  # Google Benchmark's, without --benchmark_min_time
RUN_NAME = re.compile(r"^(?P<family>[^/]+)/bytes:(?P<bytes>\d+)(?P<rest>(?:/[^/]+)*)$")


def size_label(n):
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="Google Benchmark JSON file, or - for stdin")
    p.add_argument("output", nargs="?", help="write the Markdown table here too")
    p.add_argument("--time", choices=("cpu", "real"), default="cpu",
                   help="cpu_time (default) or real_time per iteration")
    p.add_argument("--stat", choices=("median", "min", "mean"), default="median",
                   help="statistic over repetitions (default median; min is the "
                        "least disturbed run on a busy machine)")
    p.add_argument("--target-ns", type=float, default=5.0,
                   help="allowed extra ns per jn_call over the direct call (default 5)")
    p.add_argument("--check", action="store_true",
                   help="exit 3 if jn_call (no deadline, 1 thread) misses the target")
    return p.parse_args(argv)


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def collect(doc, field, stat="median"):
    """Returns ({(family, bytes, threads): (value_ns, stddev_ns or None, reps)},
    errors, the statistics the values are, by name)."""
    runs = {}  # run_name -> {"iter": [values], "agg": {name: value}, "threads": n}
    errors = []
    for b in doc.get("benchmarks", []):
        run_name = b.get("run_name") or re.sub(r"_(mean|median|stddev|cv)$", "", b["name"])
        if b.get("error_occurred"):
            errors.append(f"{b['name']}: {b.get('error_message', 'error')}")
            continue
        scale = UNIT_TO_NS.get(b.get("time_unit", "ns"), 1.0)
        entry = runs.setdefault(run_name, {"iter": [], "agg": {}, "threads": b.get("threads", 1),
                                           "reps": b.get("repetitions", 1)})
        if b.get("run_type") == "aggregate":
            # cv is a ratio, not a time.
            if b.get("aggregate_name") != "cv":
                entry["agg"][b.get("aggregate_name")] = b[field] * scale
        else:
            entry["iter"].append(b[field] * scale)

    out = {}
    used = set()
    for run_name, entry in runs.items():
        m = RUN_NAME.match(run_name)
        if not m:
            continue
        threads = entry["threads"]
        t = re.search(r"/threads:(\d+)", m.group("rest"))
        if t:
            threads = int(t.group(1))
        values, agg = entry["iter"], entry["agg"]
        if stat == "min" and values:
            value, used_stat = min(values), "min"
        elif stat in agg:
            value, used_stat = agg[stat], stat
        elif "median" in agg:  # --stat min on aggregates-only output
            value, used_stat = agg["median"], "median"
        elif values:
            used_stat = "median" if stat == "median" else "mean"
            value = statistics.median(values) if stat == "median" else statistics.mean(values)
        elif "mean" in agg:
            value, used_stat = agg["mean"], "mean"
        else:
            continue
        used.add(used_stat)
        if "stddev" in agg:
            spread = agg["stddev"]
        elif len(values) > 1:
            spread = statistics.stdev(values)
        else:
            spread = None
        reps = max(len(values), entry["reps"], 1)
        out[(m.group("family"), int(m.group("bytes")), threads)] = (value, spread, reps)
    return out, errors, used


def min_time(ctx):
    """Seconds per repetition asked for (--benchmark_min_time in the recorded
    command), or None if unknown: no command recorded, or an iteration count."""
    command = ctx.get("command")
    if command is None:
        return None
    m = re.search(r"--benchmark_min_time=(\S+)", command)
    if not m:
        return DEFAULT_MIN_TIME
    try:
        return float(m.group(1).removesuffix("s"))
    except ValueError:
        return None


def caveat(reps, seconds):
    """What the verdicts of a run too short (or of a length not recorded) to
    conclude carry, or None."""
    if reps >= CONCLUSIVE_REPS and seconds is not None and seconds >= CONCLUSIVE_MIN_TIME:
        return None
    length = f"at least {seconds:g} s" if seconds is not None else "a length not recorded"
    least = f"{CONCLUSIVE_REPS} repetitions of {CONCLUSIVE_MIN_TIME:g} s"
    flags = (f"--benchmark_repetitions={CONCLUSIVE_REPS} "
             f"--benchmark_min_time={CONCLUSIVE_MIN_TIME:g}")
    settings = (f"JUNCTION_BENCH_REPS={CONCLUSIVE_REPS} "
                f"JUNCTION_BENCH_MIN_TIME={CONCLUSIVE_MIN_TIME:g}")
    return (f"**Verdicts indicative only.** Each benchmark ran {reps} "
            f"repetition{'s' if reps != 1 else ''} of {length}; runs shorter than {least} flip "
            f"verdicts from run to run of one build. For conclusions run at least that "
            f"(`{flags}`; `{settings} scripts/run.sh`).")


def fmt(value, spread):
    if spread is None:
        return f"{value:.2f}"
    return f"{value:.2f} ± {spread:.2f}"


def render(doc, data, errors, used, args):
    ctx = doc.get("context", {})
    field_label = "CPU time" if args.time == "cpu" else "wall-clock time"
    reps = sorted({r for (_, _, r) in data.values()})
    stat = (f"{' or '.join(sorted(used))} of {reps[-1]} repetitions (± standard deviation)"
            if reps and reps[-1] > 1 else "a single run per benchmark")
    warning = caveat(reps[0] if reps else 1, min_time(ctx))
    lines = ["# junction micro-benchmark: jn_call vs a direct function-pointer call", ""]
    lines.append(f"Target: a jn_call costs at most {args.target_ns:g} ns more than the "
                 "direct function-pointer call of the same handler.")
    lines.append("")
    if warning:
        lines += [warning, ""]

    def known(key):
        return ctx.get(key, "not recorded")

    lines.append(f"- Figures: ns per call, {field_label} per iteration, {stat}.")
    lines.append(f"- Machine: {known('cpu_model')}, {known('num_cpus')} CPUs, {known('kernel')}; "
                 f"host {known('host_name')}, run {known('date')}.")
    lines.append(f"- Build: {known('compiler')}; benchmark and libjunction "
                 f"{known('junction_bench_build_type')}; libbenchmark itself (outside the timed "
                 f"loop) {known('library_build_type')}; junction ABI "
                 f"{known('junction_abi_version')}.")
    command = f"`{ctx['command']}`" if "command" in ctx else "not recorded"
    lines.append(f"- Command: {command}; commit {known('commit')}.")
    if str(ctx.get("junction_bench_build_type", "")).lower() not in ("release", "", "unknown"):
        lines.append("- **Warning: the benchmark was not built in Release mode.**")
    if ctx.get("cpu_scaling_enabled"):
        lines.append("- Note: CPU frequency scaling was enabled; expect more noise.")
    lines.append("")

    missed_primary = []
    verdicts = []
    for title, base, cand, threads, target_applies, note in COMPARISONS:
        sizes = sorted({b for (f, b, t) in data if f in (base, cand) and t == threads})
        rows = []
        for size in sizes:
            d = data.get((base, size, threads))
            c = data.get((cand, size, threads))
            if d is None or c is None:
                continue
            diff = c[0] - d[0]
            ratio = c[0] / d[0] if d[0] > 0 else float("inf")
            if target_applies:
                ok = diff <= args.target_ns
                verdict = "met" if ok else "**missed**"
                verdicts.append((title, size, ok, diff))
                if not ok and cand == "BM_jn_call_length" and threads == 1:
                    missed_primary.append(size)
            else:
                verdict = "n/a"
            rows.append(f"| {size_label(size)} | {fmt(*d[:2])} | {fmt(*c[:2])} | "
                        f"{diff:+.2f} | {ratio:.2f}x | {verdict} |")
        if not rows:
            continue
        cand_label = cand.removeprefix("BM_")
        lines.append(f"## {title}")
        lines.append("")
        lines.append(f"| request | direct ns/call | {cand_label} ns/call | difference ns | "
                     f"ratio | ≤ +{args.target_ns:g} ns{' (indicative)' if warning else ''} |")
        lines.append("|---:|---:|---:|---:|---:|:---:|")
        lines.extend(rows)
        lines.append("")
        lines.append(note)
        lines.append("")

    primary = [v for v in verdicts if v[0] == COMPARISONS[0][0]]
    if primary:
        result = "Result (indicative only, see above)" if warning else "Result"
        if missed_primary:
            sizes = ", ".join(size_label(s) for s in missed_primary)
            lines.append(f"**{result}: target missed for plain jn_call at {sizes}.**")
        else:
            worst = max(v[3] for v in primary)
            lines.append(f"**{result}: target met for plain jn_call at every size "
                         f"(largest difference {worst:+.2f} ns).**")
        lines.append("")
    if errors:
        lines.append("## Benchmarks that reported errors")
        lines.append("")
        lines.extend(f"- {e}" for e in errors)
        lines.append("")
    return "\n".join(lines), missed_primary


def main(argv):
    args = parse_args(argv)
    try:
        doc = load(args.input)
    except (OSError, json.JSONDecodeError) as e:
        print(f"report.py: cannot read {args.input}: {e}", file=sys.stderr)
        return 2
    field = "cpu_time" if args.time == "cpu" else "real_time"
    data, errors, used = collect(doc, field, args.stat)
    if not data:
        print("report.py: no junction_micro_bench results in the input", file=sys.stderr)
        return 2
    text, missed = render(doc, data, errors, used, args)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    if errors:
        return 1
    if args.check and missed:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
