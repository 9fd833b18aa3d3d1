//! Rust calling Go: loads the Go services bundle given on the command line
//! (junction's `go.echo` bundle, a c-shared library built from
//! `go-bridge/cmd/junction-go-echo`) and checks, from the main thread and
//! from threads Rust spawned (none of them made by Go):
//!
//! - `echo`, `length` and `checksum` at 0 B, 1 B, 64 B, 64 KiB and 1 MiB,
//!   then the same from 8 threads at once;
//! - a Go panic answers INTERNAL with its message, many times in a row, and
//!   the host keeps serving;
//! - a deadline reaches the Go handler: a 10 s `sleep` called with a
//!   50 ms deadline answers DEADLINE_EXCEEDED seconds before its end;
//! - Rust -> Go -> Rust: `go.echo/relay` calls a Rust service registered on
//!   the same host, and its answers and errors come back unchanged;
//! - every host object made is released once the host is closed.
//!
//! Exits non-zero with a message at the first failed check; ctest runs it
//! against the bundle the CMake build makes.
//!
//! ```text
//! cargo run --example call_go_module -- build/dev/go-bridge/libjunction_go_echo.so
//! ```

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use junction::{live, Code, Deadline, Host, Method, Service, Status};

const SERVICE: &str = "go.echo";
/// The request sizes every method is checked at.
const SIZES: [usize; 5] = [0, 1, 64, 64 * 1024, 1024 * 1024];
const THREADS: usize = 8;
const CALLS_PER_THREAD: usize = 300;
const PANICS: usize = 200;
/// The deadline of calls that should answer at once: a hang fails the run
/// instead of stalling it.
const PROMPT: Duration = Duration::from_secs(10);
/// How long host objects may take to return to their baseline after the
/// host is closed (services are destroyed on a host thread).
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Counts the checks that passed; the first one that fails ends the run.
#[derive(Default)]
struct Checks(u64);

impl Checks {
    fn pass(&mut self) -> Result<(), String> {
        self.0 += 1;
        Ok(())
    }

    fn expect(&mut self, passed: bool, failure: impl FnOnce() -> String) -> Result<(), String> {
        if passed {
            self.pass()
        } else {
            Err(failure())
        }
    }

    /// Expects `outcome` to be the error `code` with exactly `message`.
    fn expect_error(
        &mut self,
        what: &str,
        outcome: junction::Result<junction::Buffer>,
        code: Code,
        message: &str,
    ) -> Result<(), String> {
        match outcome {
            Err(status) if status.code() == code && status.message() == message => self.pass(),
            Err(status) => Err(format!(
                "{what}: expected {code}: {message:?}, got {status}"
            )),
            Ok(response) => Err(format!(
                "{what}: expected {code}, got a {}-byte response",
                response.len()
            )),
        }
    }

    /// Expects `outcome` to be an error with `code`, whatever its message.
    fn expect_code(
        &mut self,
        what: &str,
        outcome: junction::Result<junction::Buffer>,
        code: Code,
    ) -> Result<(), String> {
        match outcome {
            Err(status) if status.code() == code => self.pass(),
            Err(status) => Err(format!("{what}: expected {code}, got {status}")),
            Ok(response) => Err(format!(
                "{what}: expected {code}, got a {}-byte response",
                response.len()
            )),
        }
    }
}

/// A request and the answers `checksum` must give for it.
struct Case {
    request: Vec<u8>,
    checksum: u64,
}

impl Case {
    fn new(size: usize) -> Case {
        let request: Vec<u8> = (0..size).map(|i| (i * 31 + size) as u8).collect();
        let checksum = fnv1a(&request);
        Case { request, checksum }
    }
}

/// FNV-1a 64, as go.echo/checksum computes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The 8-byte little-endian number `length` and `checksum` answer.
fn u64_of(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// The three data methods of go.echo, resolved once.
struct DataMethods {
    echo: Method,
    length: Method,
    checksum: Method,
}

impl DataMethods {
    /// Calls `echo` (0), `length` (1) or `checksum` (2) with `case` and
    /// checks the answer.
    fn check(&self, which: usize, case: &Case, checks: &mut Checks) -> Result<(), String> {
        let size = case.request.len();
        let deadline = Deadline::after(PROMPT);
        match which % 3 {
            0 => {
                let response = self
                    .echo
                    .call(&case.request, deadline)
                    .map_err(|e| format!("go.echo/echo of {size} bytes: {e}"))?;
                checks.expect(*response == *case.request, || {
                    format!("go.echo/echo of {size} bytes answered other bytes")
                })
            }
            1 => {
                let response = self
                    .length
                    .call(&case.request, deadline)
                    .map_err(|e| format!("go.echo/length of {size} bytes: {e}"))?;
                let length = u64_of(&response);
                checks.expect(length == Some(size as u64), || {
                    format!("go.echo/length of {size} bytes answered {response:?}")
                })
            }
            _ => {
                let response = self
                    .checksum
                    .call(&case.request, deadline)
                    .map_err(|e| format!("go.echo/checksum of {size} bytes: {e}"))?;
                let sum = u64_of(&response);
                checks.expect(sum == Some(case.checksum), || {
                    format!(
                        "go.echo/checksum of {size} bytes answered {response:?}, expected {:#x}",
                        case.checksum
                    )
                })
            }
        }
    }

    /// Calls made on the three methods so far.
    fn calls(&self) -> u64 {
        self.echo.stats().calls + self.length.stats().calls + self.checksum.stats().calls
    }
}

fn resolve(host: &Host, service: &str, method: &str) -> Result<Method, String> {
    host.resolve(service, method)
        .map_err(|e| format!("resolve {service}/{method}: {e}"))
}

/// Every size through every data method, on this thread.
fn sizes(data: &DataMethods, cases: &[Case], checks: &mut Checks) -> Result<(), String> {
    for case in cases {
        for which in 0..3 {
            data.check(which, case, checks)?;
        }
    }
    Ok(())
}

/// The data methods from `THREADS` threads at once, each cycling through
/// sizes and methods.
fn concurrent(data: &DataMethods, cases: &[Case], checks: &mut Checks) -> Result<(), String> {
    let before = data.calls();
    let passed = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|worker| {
                scope.spawn(move || -> Result<u64, String> {
                    let mut checks = Checks::default();
                    for call in 0..CALLS_PER_THREAD {
                        let case = &cases[(worker + call) % cases.len()];
                        data.check(call + worker, case, &mut checks)
                            .map_err(|e| format!("thread {worker}, call {call}: {e}"))?;
                    }
                    Ok(checks.0)
                })
            })
            .collect();
        workers.into_iter().try_fold(0, |total, worker| {
            let passed = worker
                .join()
                .map_err(|_| "a calling thread panicked".to_owned())??;
            Ok::<u64, String>(total + passed)
        })
    })?;
    checks.0 += passed;
    let made = data.calls() - before;
    let expected = (THREADS * CALLS_PER_THREAD) as u64;
    checks.expect(made == expected, || {
        format!("the methods' statistics count {made} calls from the threads, expected {expected}")
    })
}

/// go.echo/panic many times in a row, then an ordinary call.
fn panics(host: &Host, data: &DataMethods, checks: &mut Checks) -> Result<(), String> {
    let panic = resolve(host, SERVICE, "panic")?;
    for round in 0..PANICS {
        let size = round % 7;
        let message = format!("go handler panicked: go.echo/panic called with {size} bytes");
        let outcome = panic.call(&vec![0x21; size], Deadline::after(PROMPT));
        checks.expect_error("go.echo/panic", outcome, Code::Internal, &message)?;
    }
    data.check(0, &Case::new(64), checks)
        .map_err(|e| format!("after {PANICS} Go panics: {e}"))
}

/// go.echo/sleep: answered after a short delay, and cut off by a deadline
/// shorter than a long one.
fn deadlines(host: &Host, checks: &mut Checks) -> Result<(), String> {
    let sleep = resolve(host, SERVICE, "sleep")?;
    let short = 5_u64.to_le_bytes();
    let response = sleep
        .call(&short, Deadline::after(PROMPT))
        .map_err(|e| format!("go.echo/sleep of 5 ms: {e}"))?;
    checks.expect(response == short, || {
        format!("go.echo/sleep of 5 ms answered {response:?}")
    })?;

    let long = 10_000_u64.to_le_bytes();
    let started = Instant::now();
    let outcome = sleep.call(&long, Deadline::after(Duration::from_millis(50)));
    let took = started.elapsed();
    checks.expect_code(
        "go.echo/sleep of 10 s with a 50 ms deadline",
        outcome,
        Code::DeadlineExceeded,
    )?;
    checks.expect(took < Duration::from_secs(3), || {
        format!("go.echo/sleep of 10 s with a 50 ms deadline took {took:?}")
    })
}

/// Rust -> Go -> Rust through go.echo/relay, with a Rust service on the
/// same host.
fn round_trips(host: &Host, checks: &mut Checks) -> Result<(), String> {
    host.register(
        Service::new("rust.local")
            .method(
                "upper",
                |request: &[u8], _| Ok(request.to_ascii_uppercase()),
            )
            .method("fail", |_: &[u8], _| -> junction::Result<Vec<u8>> {
                Err(Status::new(Code::Unavailable, "rust.local/fail says no"))
            }),
    )
    .map_err(|e| format!("register rust.local: {e}"))?;
    let relay = resolve(host, SERVICE, "relay")?;
    let call = |request: &[u8]| relay.call(request, Deadline::after(PROMPT));

    let upper = call(b"rust.local/upper\nabc").map_err(|e| format!("relay to upper: {e}"))?;
    checks.expect(upper == b"ABC", || {
        format!("relay to rust.local/upper answered {upper:?}")
    })?;
    let twice = call(b"go.echo/relay\nrust.local/upper\nxyz")
        .map_err(|e| format!("relay to relay to upper: {e}"))?;
    checks.expect(twice == b"XYZ", || {
        format!("relay to relay to rust.local/upper answered {twice:?}")
    })?;

    checks.expect_error(
        "relay to rust.local/fail",
        call(b"rust.local/fail\nabc"),
        Code::Unavailable,
        "rust.local/fail says no",
    )?;
    checks.expect_code(
        "relay to an unknown service",
        call(b"rust.nowhere/upper\nabc"),
        Code::NotFound,
    )?;
    checks.expect_code(
        "relay to an unknown method",
        call(b"rust.local/lower\nabc"),
        Code::NotFound,
    )?;
    checks.expect_code(
        "relay without a newline",
        call(b"rust.local/upper"),
        Code::InvalidArgument,
    )?;
    checks.expect_code(
        "relay without a slash",
        call(b"rust.local.upper\nabc"),
        Code::InvalidArgument,
    )?;
    let mut late = b"go.echo/sleep\n".to_vec();
    late.extend_from_slice(&10_000_u64.to_le_bytes());
    let started = Instant::now();
    let outcome = relay.call(&late, Deadline::after(Duration::from_millis(50)));
    let took = started.elapsed();
    checks.expect_code(
        "relay to a 10 s sleep with a 50 ms deadline",
        outcome,
        Code::DeadlineExceeded,
    )?;
    checks.expect(took < Duration::from_secs(3), || {
        format!("relay to a 10 s sleep with a 50 ms deadline took {took:?}")
    })
}

fn run(bundle: &str) -> Result<u64, String> {
    let mut checks = Checks::default();
    let baseline = live::host_objects();
    let host = Host::new().map_err(|e| format!("host: {e}"))?;
    host.load_module(bundle)
        .map_err(|e| format!("load {bundle}: {e}"))?;
    {
        let data = DataMethods {
            echo: resolve(&host, SERVICE, "echo")?,
            length: resolve(&host, SERVICE, "length")?,
            checksum: resolve(&host, SERVICE, "checksum")?,
        };
        let cases: Vec<Case> = SIZES.into_iter().map(Case::new).collect();
        sizes(&data, &cases, &mut checks)?;
        concurrent(&data, &cases, &mut checks)?;
        panics(&host, &data, &mut checks)?;
    }
    deadlines(&host, &mut checks)?;
    round_trips(&host, &mut checks)?;
    host.close().map_err(|e| format!("close the host: {e}"))?;

    let give_up = Instant::now() + RELEASE_WAIT;
    while live::host_objects() != baseline && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(1));
    }
    let now = live::host_objects();
    checks.expect(now == baseline, || {
        format!("host objects not released after the host closed: {now:?}, before {baseline:?}")
    })?;
    Ok(checks.0)
}

fn main() -> ExitCode {
    let Some(bundle) = std::env::args().nth(1) else {
        eprintln!("usage: call_go_module PATH_TO_GO_ECHO_BUNDLE");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    match run(&bundle) {
        Ok(passed) => {
            println!(
                "call_go_module: {passed} checks passed in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("call_go_module: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}
