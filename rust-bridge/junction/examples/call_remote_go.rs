//! Rust calling Go in another process: starts the server command given on
//! the command line (the `junction-host` daemon loading the Go services
//! bundle, or `junction-go-serve`, a Go program serving `go.echo` with
//! `Host.Listen`), adding `--listen zmq+ipc:///TMP/go-echo.sock --listen
//! zmq+tcp://127.0.0.1:0` to it, reads the URLs it reports on standard
//! output, routes `go.echo` to each and checks, from the main thread and
//! from 8 Rust threads at once:
//!
//! - `echo`, `length` and `checksum` at 0 B, 1 B, 64 B, 64 KiB and 1 MiB;
//! - a Go panic answers INTERNAL with its message, many times in a row, and
//!   the server keeps serving;
//! - a deadline travels: a 10 s `sleep` called with a 50 ms deadline
//!   answers DEADLINE_EXCEEDED seconds before its end;
//! - `go.echo/relay` inside the server answers and fails as in process;
//! - SIGTERM: a call in flight is answered, the server exits with status 0,
//!   and calls then answer UNAVAILABLE promptly.
//!
//! Exits non-zero with a message at the first failed check; ctest runs it
//! (tests/cross-process/).
//!
//! ```text
//! cargo run --example call_remote_go -- build/dev/cpp-host/junction-host/junction-host \
//!     --module build/dev/go-bridge/libjunction_go_echo.so
//! cargo run --example call_remote_go -- build/dev/go-bridge/junction-go-serve
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use junction::{Code, Deadline, Host, Method, RouteOptions};

const SERVICE: &str = "go.echo";
const SIZES: [usize; 5] = [0, 1, 64, 64 * 1024, 1024 * 1024];
const THREADS: usize = 8;
const CALLS_PER_THREAD: usize = 100;
const PANICS: usize = 100;
/// The deadline of calls that should answer at once: a hang fails the run
/// instead of stalling it.
const PROMPT: Duration = Duration::from_secs(10);
/// How long the server may take to start, and to stop after SIGTERM.
const START: Duration = Duration::from_secs(30);
const STOP: Duration = Duration::from_secs(20);

type Check = Result<(), String>;

fn fail<T>(message: String) -> Result<T, String> {
    Err(message)
}

/// FNV-1a 64, as go.echo/checksum computes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + size) as u8).collect()
}

fn u64_of(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// Expects `outcome` to fail with `code` (and `message`, when given).
fn expect_error(
    what: &str,
    outcome: junction::Result<junction::Buffer>,
    code: Code,
    message: Option<&str>,
) -> Check {
    match outcome {
        Err(status) if status.code() == code && message.is_none_or(|m| m == status.message()) => {
            Ok(())
        }
        Err(status) => fail(format!("{what}: expected {code} {message:?}, got {status}")),
        Ok(response) => fail(format!(
            "{what}: expected {code}, got a {}-byte response",
            response.len()
        )),
    }
}

/// The server process: killed if still running when dropped.
struct Server {
    child: Child,
    urls: Vec<String>,
    dir: std::path::PathBuf,
}

impl Server {
    /// Starts `command` with two listeners and waits for its "ready" line.
    fn start(command: &[String]) -> Result<Server, String> {
        let dir = std::env::temp_dir().join(format!("jn-remote-go-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ipc = format!("zmq+ipc://{}", dir.join("go-echo.sock").display());
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .args(["--listen", &ipc, "--listen", "zmq+tcp://127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", command[0]))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The receiver is gone once the server is ready: discard.
                let _ = lines.send(line);
            }
        });
        let mut server = Server {
            child,
            urls: Vec::new(),
            dir,
        };
        let give_up = Instant::now() + START;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let line = match received.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return fail(format!("{} not ready after {START:?}", command[0]))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().map_err(|e| e.to_string())?;
                    return fail(format!(
                        "{} exited ({status}) before it was ready",
                        command[0]
                    ));
                }
            };
            // "<program>: serving SERVICES on URL", then "<program>: ready".
            if line.ends_with(": ready") {
                break;
            }
            match line
                .split_once(": serving ")
                .and_then(|(_, rest)| rest.rsplit_once(" on "))
            {
                Some((_, url)) => server.urls.push(url.to_owned()),
                None => println!("call_remote_go: the server said: {line}"),
            }
        }
        if server.urls.len() != 2 || server.urls[0] != ipc {
            return fail(format!(
                "the server reports the URLs {:?}; expected {ipc} and a tcp URL",
                server.urls
            ));
        }
        if !server.urls[1].starts_with("zmq+tcp://127.0.0.1:") || server.urls[1].ends_with(":0") {
            return fail(format!(
                "the tcp listener reports {}, not the port it was given",
                server.urls[1]
            ));
        }
        Ok(server)
    }

    /// Sends SIGTERM and expects exit status 0 within STOP.
    fn terminate(&mut self) -> Check {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        if sent != 0 {
            return fail(format!("kill: {}", std::io::Error::last_os_error()));
        }
        let give_up = Instant::now() + STOP;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    fail(format!("the server exited with {status} after SIGTERM"))
                };
            }
            if Instant::now() > give_up {
                return fail(format!("the server still runs {STOP:?} after SIGTERM"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// go.echo's data methods, resolved once on a host routing go.echo.
struct DataMethods {
    echo: Method,
    length: Method,
    checksum: Method,
}

impl DataMethods {
    fn resolve(host: &Host) -> Result<DataMethods, String> {
        let resolve = |method: &str| {
            host.resolve(SERVICE, method)
                .map_err(|e| format!("resolve {SERVICE}/{method}: {e}"))
        };
        Ok(DataMethods {
            echo: resolve("echo")?,
            length: resolve("length")?,
            checksum: resolve("checksum")?,
        })
    }

    /// Calls echo (0), length (1) or checksum (2) with `request`.
    fn check(&self, which: usize, request: &[u8]) -> Check {
        let size = request.len();
        let deadline = Deadline::after(PROMPT);
        let call = |method: &Method, name: &str| {
            method
                .call(request, deadline)
                .map_err(|e| format!("{SERVICE}/{name} of {size} bytes: {e}"))
        };
        match which % 3 {
            0 => {
                let response = call(&self.echo, "echo")?;
                if *response != *request {
                    return fail(format!(
                        "{SERVICE}/echo of {size} bytes answered other bytes"
                    ));
                }
            }
            1 => {
                let response = call(&self.length, "length")?;
                if u64_of(&response) != Some(size as u64) {
                    return fail(format!("{SERVICE}/length of {size} bytes: {response:?}"));
                }
            }
            _ => {
                let response = call(&self.checksum, "checksum")?;
                if u64_of(&response) != Some(fnv1a(request)) {
                    return fail(format!("{SERVICE}/checksum of {size} bytes: {response:?}"));
                }
            }
        }
        Ok(())
    }
}

/// Every check against go.echo routed to `url`.
fn check_url(url: &str) -> Check {
    let host = Host::new().map_err(|e| format!("host: {e}"))?;
    host.route(SERVICE, url, &RouteOptions::new())
        .map_err(|e| format!("route {SERVICE} to {url}: {e}"))?;
    let data = DataMethods::resolve(&host)?;
    let requests: Vec<Vec<u8>> = SIZES.into_iter().map(payload).collect();
    for request in &requests {
        for which in 0..3 {
            data.check(which, request)?;
        }
    }

    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|worker| {
                let (data, requests) = (&data, &requests);
                scope.spawn(move || -> Check {
                    for call in 0..CALLS_PER_THREAD {
                        // Up to 64 KiB: 1 MiB from every thread is slow
                        // under a debug build, and the sizes above cover it.
                        let request = &requests[(worker + call) % 4];
                        data.check(worker + call, request)
                            .map_err(|e| format!("thread {worker}, call {call}: {e}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .map_err(|_| "a calling thread panicked".to_owned())?
        })
    })?;

    let panic = host
        .resolve(SERVICE, "panic")
        .map_err(|e| format!("resolve panic: {e}"))?;
    for round in 0..PANICS {
        let size = round % 7;
        let message = format!("go handler panicked: go.echo/panic called with {size} bytes");
        let outcome = panic.call(&vec![0x21; size], Deadline::after(PROMPT));
        expect_error("go.echo/panic", outcome, Code::Internal, Some(&message))?;
    }
    data.check(0, &payload(64))
        .map_err(|e| format!("after {PANICS} Go panics: {e}"))?;

    let sleep = host
        .resolve(SERVICE, "sleep")
        .map_err(|e| format!("resolve sleep: {e}"))?;
    let started = Instant::now();
    let outcome = sleep.call(
        &10_000_u64.to_le_bytes(),
        Deadline::after(Duration::from_millis(50)),
    );
    expect_error(
        "go.echo/sleep of 10 s with a 50 ms deadline",
        outcome,
        Code::DeadlineExceeded,
        None,
    )?;
    if started.elapsed() > Duration::from_secs(3) {
        return fail(format!(
            "go.echo/sleep of 10 s with a 50 ms deadline took {:?}",
            started.elapsed()
        ));
    }

    let relay = host
        .resolve(SERVICE, "relay")
        .map_err(|e| format!("resolve relay: {e}"))?;
    let relayed = relay
        .call(b"go.echo/echo\nrelayed", Deadline::after(PROMPT))
        .map_err(|e| format!("relay to echo: {e}"))?;
    if relayed != b"relayed" {
        return fail(format!("relay to echo answered {relayed:?}"));
    }
    expect_error(
        "relay to a missing method",
        relay.call(b"go.echo/nothing\nx", Deadline::after(PROMPT)),
        Code::NotFound,
        None,
    )?;
    expect_error(
        "relay to panic",
        relay.call(b"go.echo/panic\nab", Deadline::after(PROMPT)),
        Code::Internal,
        Some("go handler panicked: go.echo/panic called with 2 bytes"),
    )
}

/// SIGTERM with a call in flight: it is answered, the server exits 0, and
/// later calls answer UNAVAILABLE promptly.
fn check_stop(server: &mut Server) -> Check {
    let host = Host::new().map_err(|e| format!("host: {e}"))?;
    let options = RouteOptions::new().connect_timeout(Duration::from_millis(200));
    host.route(SERVICE, &server.urls[1], &options)
        .map_err(|e| format!("route: {e}"))?;
    let sleep = host
        .resolve(SERVICE, "sleep")
        .map_err(|e| format!("resolve sleep: {e}"))?;
    let echo = host
        .resolve(SERVICE, "echo")
        .map_err(|e| format!("resolve echo: {e}"))?;
    echo.call(b"warm", Deadline::after(PROMPT))
        .map_err(|e| format!("echo before SIGTERM: {e}"))?;
    thread::scope(|scope| {
        let in_flight = scope.spawn(|| sleep.call(&500_u64.to_le_bytes(), Deadline::after(PROMPT)));
        thread::sleep(Duration::from_millis(150));
        server.terminate()?;
        let answered = in_flight
            .join()
            .map_err(|_| "the calling thread panicked".to_owned())?;
        match answered {
            Ok(response) if *response == 500_u64.to_le_bytes() => Ok(()),
            Ok(response) => fail(format!(
                "the call in flight at SIGTERM answered {response:?}"
            )),
            Err(status) => fail(format!("the call in flight at SIGTERM: {status}")),
        }
    })?;
    let started = Instant::now();
    expect_error(
        "a call to the stopped server",
        echo.call(b"x", Deadline::after(PROMPT)),
        Code::Unavailable,
        None,
    )?;
    if started.elapsed() > Duration::from_secs(3) {
        return fail(format!(
            "UNAVAILABLE from the stopped server after {:?}",
            started.elapsed()
        ));
    }
    Ok(())
}

fn run(command: &[String]) -> Check {
    let mut server = Server::start(command)?;
    for url in server.urls.clone() {
        check_url(&url).map_err(|e| format!("through {url}: {e}"))?;
    }
    check_stop(&mut server)
}

fn main() -> ExitCode {
    let command: Vec<String> = std::env::args().skip(1).collect();
    if command.is_empty() {
        eprintln!("usage: call_remote_go SERVER_COMMAND [ARGS...]");
        return ExitCode::from(2);
    }
    let started = Instant::now();
    match run(&command) {
        Ok(()) => {
            println!(
                "call_remote_go: every check passed against {} in {:.2} s",
                command[0],
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("call_remote_go: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}
