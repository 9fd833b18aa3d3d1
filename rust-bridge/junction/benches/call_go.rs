//! What a Rust -> Go call through junction costs over a raw cgo export.
//!
//! Rust caller -> Go handler: `go.echo/length` through libjunction with a
//! resolved `Method`, against `junction_go_length`, a plain cgo export of
//! the same Go library (looked up with `dlsym`), for 0 B, 64 B, 64 KiB and
//! 1 MiB requests. Both only read the request length: the raw export
//! answers a `u64`, the junction handler 8 bytes, which `Method::call_into`
//! receives in a reused buffer it lends (nothing allocated) and
//! `Method::call` as an owned `Buffer`.
//! Measured from the process's main thread, from a thread Rust spawned (Go
//! made neither), and from two spawned threads at once (wall time divided by
//! the calls of both: the cost per call at that throughput). Each figure is
//! the median of several timed runs after a warm-up; raw and junction runs
//! alternate so drift hits both alike. Prints Markdown tables.
//!
//! Needs the Go services bundle (built by CMake as
//! `<build>/go-bridge/libjunction_go_echo.so`, target `go_echo_bundle`) and
//! an optimised libjunction:
//!
//! ```text
//! JUNCTION_GO_ECHO_BUNDLE=<build/release>/go-bridge/libjunction_go_echo.so \
//!   JUNCTION_LIB_DIR=<build/release>/cpp-host LD_LIBRARY_PATH=<build/release>/cpp-host \
//!   cargo bench -p junction --bench call_go
//! ```
//!
//! `JUNCTION_BENCH_SCALE` (default 1) multiplies the number of calls, for
//! example 0.1 for a quick run.

use std::ffi::{CString, OsStr};
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use junction::{Deadline, Host, Method};

mod common;
use common::{cpu_model, median, time_run, RUNS, SIZES};

const BUNDLE_VARIABLE: &str = "JUNCTION_GO_ECHO_BUNDLE";
const SCALE_VARIABLE: &str = "JUNCTION_BENCH_SCALE";
const RAW_SYMBOL: &str = "junction_go_length";
const WARM_UP_CALLS: f64 = 100_000.0;
const CALLS_PER_RUN: f64 = 100_000.0;
/// Callers in the parallel variant.
const PARALLEL: usize = 2;

/// `junction_go_length`: the length of `data[0..len)`, reading none of it.
type RawLength = unsafe extern "C" fn(data: *const u8, len: usize) -> u64;

/// The two paths under test, callable from any thread.
struct Paths {
    raw: RawLength,
    length: Method,
    /// Junction calls that failed while timed: counted rather than
    /// panicking, which would leave the other callers waiting at a barrier.
    failures: AtomicU64,
}

impl Paths {
    fn call_raw(&self, request: &[u8]) {
        // SAFETY: junction_go_length reads none of `data` (and `request` is
        // live and `len` bytes long anyway).
        let length = unsafe { (self.raw)(black_box(request.as_ptr()), request.len()) };
        black_box(length);
    }

    /// `Method::call_into` with the caller's reused buffer: the Go
    /// handler's answer lands in it, nothing is allocated.
    fn call_junction(&self, request: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self
            .length
            .call_into(black_box(request), Deadline::none(), out)
        {
            Ok(()) => {
                black_box(&out[..]);
            }
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `Method::call`: the answer comes back as an owned `Buffer`.
    fn call_junction_owned(&self, request: &[u8]) {
        match self.length.call(black_box(request), Deadline::none()) {
            Ok(response) => drop(black_box(response)),
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Checks once that both paths answer the request's length.
    fn verify(&self, request: &[u8]) -> Result<(), String> {
        let expected = request.len() as u64;
        // SAFETY: as in call_raw.
        let raw = unsafe { (self.raw)(request.as_ptr(), request.len()) };
        let response = self
            .length
            .call(request, Deadline::none())
            .map_err(|e| format!("go.echo/length: {e}"))?;
        let junction = <[u8; 8]>::try_from(&*response).map(u64::from_le_bytes);
        if raw == expected && junction.ok() == Some(expected) {
            Ok(())
        } else {
            Err(format!(
                "for {expected} bytes {RAW_SYMBOL} answered {raw}, go.echo/length {response:?}"
            ))
        }
    }
}

/// How many calls each phase makes.
#[derive(Clone, Copy)]
struct Counts {
    warm_up: u32,
    per_run: u32,
}

/// Raw and junction nanoseconds per call, medians of `RUNS` runs
/// (`owned_ns`, `Method::call`, is measured on the calling thread only).
struct Row {
    raw_ns: f64,
    junction_ns: f64,
    owned_ns: Option<f64>,
}

/// Calls `call` `calls` times.
fn repeat(calls: u32, mut call: impl FnMut()) {
    for _ in 0..calls {
        call();
    }
}

/// One row measured on the calling thread.
fn measure_here(paths: &Paths, request: &[u8], counts: Counts) -> Row {
    let mut out = Vec::with_capacity(64);
    for _ in 0..counts.warm_up {
        paths.call_raw(request);
        paths.call_junction(request, &mut out);
    }
    let mut raw_runs = Vec::with_capacity(RUNS);
    let mut junction_runs = Vec::with_capacity(RUNS);
    let mut owned_runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        raw_runs.push(time_run(counts.per_run, || paths.call_raw(request)));
        junction_runs.push(time_run(counts.per_run, || {
            paths.call_junction(request, &mut out)
        }));
        owned_runs.push(time_run(counts.per_run, || {
            paths.call_junction_owned(request)
        }));
    }
    Row {
        raw_ns: median(raw_runs),
        junction_ns: median(junction_runs),
        owned_ns: Some(median(owned_runs)),
    }
}

/// One row measured from `PARALLEL` spawned threads calling at once: each
/// run's wall time (from all callers released to all done) divided by the
/// calls of all of them.
fn measure_parallel(paths: &Paths, request: &[u8], counts: Counts) -> Row {
    // The callers and this thread meet before and after every timed run.
    let barrier = Barrier::new(PARALLEL + 1);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                let mut out = Vec::with_capacity(64);
                for _ in 0..counts.warm_up {
                    paths.call_raw(request);
                    paths.call_junction(request, &mut out);
                }
                for _ in 0..RUNS {
                    barrier.wait();
                    repeat(counts.per_run, || paths.call_raw(request));
                    barrier.wait();
                    barrier.wait();
                    repeat(counts.per_run, || paths.call_junction(request, &mut out));
                    barrier.wait();
                }
            });
        }
        let total_calls = f64::from(counts.per_run) * PARALLEL as f64;
        let timed = || {
            barrier.wait();
            let start = Instant::now();
            barrier.wait();
            start.elapsed().as_nanos() as f64 / total_calls
        };
        let mut raw_runs = Vec::with_capacity(RUNS);
        let mut junction_runs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            raw_runs.push(timed());
            junction_runs.push(timed());
        }
        Row {
            raw_ns: median(raw_runs),
            junction_ns: median(junction_runs),
            owned_ns: None,
        }
    })
}

/// Prints one table: a row per request size, measured by `measure`. Fails
/// if a junction call failed meanwhile.
fn table(
    title: &str,
    paths: &Paths,
    counts: Counts,
    measure: fn(&Paths, &[u8], Counts) -> Row,
) -> Result<(), String> {
    println!("{title}");
    println!();
    println!(
        "| request | raw cgo export ns/call | junction `call_into` ns/call | ratio | \
         junction `call` ns/call | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (size, label) in SIZES {
        let request = vec![0x5a_u8; size];
        let row = measure(paths, &request, counts);
        let (owned, owned_ratio) = match row.owned_ns {
            Some(ns) => (format!("{ns:.1}"), format!("{:.2}", ns / row.raw_ns)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {label} | {:.1} | {:.1} | {:.2} | {owned} | {owned_ratio} |",
            row.raw_ns,
            row.junction_ns,
            row.junction_ns / row.raw_ns
        );
    }
    println!();
    match paths.failures.load(Ordering::Relaxed) {
        0 => Ok(()),
        failed => Err(format!("{failed} calls of go.echo/length failed")),
    }
}

/// `junction_go_length` from the already loaded library at `path`.
fn raw_length(path: &OsStr) -> Result<RawLength, String> {
    let shown = path.to_string_lossy();
    let c_path =
        CString::new(path.as_bytes()).map_err(|_| format!("{shown} contains a NUL byte"))?;
    let symbol = CString::new(RAW_SYMBOL).expect("no NUL in the symbol name");
    // SAFETY: both strings are NUL-terminated. RTLD_NOLOAD only finds the
    // library the host already loaded, so this is the same copy (one Go
    // runtime); it is never closed, as the host never unloads modules.
    let library = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if library.is_null() {
        return Err(format!("{shown} is not loaded in this process"));
    }
    // SAFETY: a live library handle and a NUL-terminated name.
    let address = unsafe { libc::dlsym(library, symbol.as_ptr()) };
    if address.is_null() {
        return Err(format!("{shown} does not export {RAW_SYMBOL}"));
    }
    // SAFETY: the bundle exports junction_go_length with this signature.
    Ok(unsafe { std::mem::transmute::<*mut libc::c_void, RawLength>(address) })
}

/// The call counts, scaled by `JUNCTION_BENCH_SCALE`.
fn counts() -> Result<Counts, String> {
    let scale = match std::env::var(SCALE_VARIABLE) {
        Ok(text) => text
            .parse::<f64>()
            .ok()
            .filter(|scale| scale.is_finite() && *scale > 0.0)
            .ok_or_else(|| format!("{SCALE_VARIABLE}={text:?} is not a positive number"))?,
        Err(_) => 1.0,
    };
    let scaled = |calls: f64| (calls * scale).clamp(1.0, f64::from(u32::MAX)) as u32;
    Ok(Counts {
        warm_up: scaled(WARM_UP_CALLS),
        per_run: scaled(CALLS_PER_RUN),
    })
}

fn run(bundle: &OsStr) -> Result<(), String> {
    let counts = counts()?;
    let host = Host::new().map_err(|e| format!("host: {e}"))?;
    host.load_module(bundle)
        .map_err(|e| format!("load {}: {e}", bundle.to_string_lossy()))?;
    let paths = Paths {
        raw: raw_length(bundle)?,
        length: host
            .resolve("go.echo", "length")
            .map_err(|e| format!("resolve go.echo/length: {e}"))?,
        failures: AtomicU64::new(0),
    };
    for (size, _) in SIZES {
        paths.verify(&vec![0x5a_u8; size])?;
    }

    println!(
        "Rust caller -> Go handler (reads the length only): `{RAW_SYMBOL}` (cgo export) against \
         `go.echo/length` through junction, median of {RUNS} runs of {} calls; {}, {} CPUs",
        counts.per_run,
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    table("From the main thread:", &paths, counts, measure_here)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| table("From a spawned thread:", &paths, counts, measure_here))
            .join()
    })
    .map_err(|_| "the spawned caller panicked".to_owned())??;
    table(
        &format!("From {PARALLEL} spawned threads at once (wall time / all calls):"),
        &paths,
        counts,
        measure_parallel,
    )
}

fn main() -> std::process::ExitCode {
    let Some(bundle) = std::env::var_os(BUNDLE_VARIABLE) else {
        println!(
            "call_go: set {BUNDLE_VARIABLE} to the Go services bundle to run this benchmark, e.g.\n  \
             {BUNDLE_VARIABLE}=build/release/go-bridge/libjunction_go_echo.so \
             cargo bench -p junction --bench call_go"
        );
        return std::process::ExitCode::SUCCESS;
    };
    match run(&bundle) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("call_go: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
