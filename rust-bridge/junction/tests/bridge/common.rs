//! Helpers shared by the bridge tests: time bounds, serial execution for
//! live-object accounting, a minimal executor and the fixture modules.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use junction::{live, Deadline, HostRef, Method};

/// The bound every test runs under.
pub const TEST_BOUND: Duration = Duration::from_secs(60);

/// Runs `body` on its own thread and fails the test if it has not finished
/// within `limit`. A panic in `body` fails the test with its message.
pub fn bounded<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    let worker = thread::spawn(move || {
        let value = body();
        let _ = sender.send(());
        value
    });
    match receiver.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(value) => value,
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test still running after {limit:?}"),
    }
}

/// Serialises the tests of this binary: live-object counts are
/// process-wide, so a test comparing them against a baseline must not
/// overlap another.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs one test: serially, bounded in time, and checking that every host
/// object and Rust buffer it made was released by the end.
pub fn run(body: impl FnOnce() + Send + 'static) {
    let _serial = serial();
    let baseline = Baseline::take();
    bounded(TEST_BOUND, body);
    baseline.assert_restored();
}

/// Live-object counts at one moment.
pub struct Baseline {
    host: live::HostObjects,
    rust_buffers: Option<u64>,
}

impl Baseline {
    pub fn take() -> Baseline {
        Baseline {
            host: live::host_objects(),
            rust_buffers: live::rust_buffers(),
        }
    }

    /// Waits (boundedly) for the counts to return to this baseline: some
    /// releases, such as a service's destroy after unregistering, happen
    /// on a host thread shortly after the call that caused them.
    pub fn assert_restored(&self) {
        wait_until(Duration::from_secs(5), || {
            (live::host_objects(), live::rust_buffers()) == (self.host, self.rust_buffers)
        });
        assert_eq!(live::host_objects(), self.host, "host objects leaked");
        assert_eq!(
            live::rust_buffers(),
            self.rust_buffers,
            "Rust buffers leaked"
        );
    }
}

/// Polls `condition` every millisecond until it holds or `limit` passes;
/// the caller asserts what it waited for.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + limit;
    while !condition() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(1));
    }
}

/// Polls `future` to completion on this thread with no runtime, failing if
/// it takes longer than `limit`.
pub fn block_on<F: Future>(future: F, limit: Duration) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let give_up = Instant::now() + limit;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        let now = Instant::now();
        assert!(now < give_up, "future still pending after {limit:?}");
        thread::park_timeout(give_up - now);
    }
}

/// A multi-threaded tokio runtime for the tests that use one.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Bytes of length `len` with a pattern that differs between sizes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + len) as u8).collect()
}

/// FNV-1a 64, as rust.echo/checksum computes it.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The 8-byte little-endian number a `length` or `checksum` method answers.
pub fn u64_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// Calls `checksum` from `threads` threads, `rounds` calls each, with request
/// sizes spread below `max_len`, checking every answer.
pub fn checksum_from_threads(
    checksum: &Arc<Method>,
    threads: usize,
    rounds: usize,
    max_len: usize,
) {
    let workers: Vec<_> = (0..threads)
        .map(|worker| {
            let checksum = Arc::clone(checksum);
            thread::spawn(move || {
                for round in 0..rounds {
                    let request = payload((worker * 7919 + round * 613) % max_len);
                    let sum = checksum.call(&request, Deadline::none()).unwrap();
                    assert_eq!(u64_of(&sum), fnv1a(&request));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// Checks `service`'s `echo`, `length` and `checksum` methods at `size`
/// bytes, returning the request for further checks.
pub fn check_echo_length_checksum(host: &HostRef, service: &str, size: usize) -> Vec<u8> {
    let request = payload(size);
    let call = |method: &str| {
        host.resolve(service, method)
            .unwrap()
            .call(&request, Deadline::none())
            .unwrap()
    };
    assert_eq!(call("echo"), request);
    assert_eq!(u64_of(&call("length")), size as u64);
    assert_eq!(u64_of(&call("checksum")), fnv1a(&request));
    request
}

/// The payload sizes every call path is tested with.
pub const SIZES: [usize; 6] = [0, 1, 64, 4096, 64 * 1024, 1024 * 1024];

/// The path of the fixture module built from the workspace package
/// `package`: the environment variable `variable` if set; otherwise the
/// package is built (once per test run, into the target directory and
/// profile this test executable was built in, which honour CARGO_TARGET_DIR,
/// so the module is never stale) and its cdylib located there. That build is
/// `--locked --offline`: it may neither rewrite the workspace's Cargo.lock
/// nor fetch (the modules need nothing the build of this test did not).
pub fn fixture_module(package: &str, variable: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(error) = BUILT.get_or_init(build_fixture_modules) {
        panic!("{error}");
    }
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = profile_dir().join(file);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `<target>/<profile>`, from this test executable's location
/// (`<target>/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("test executable in <target>/<profile>/deps")
        .to_path_buf()
}

fn build_fixture_modules() -> Result<(), String> {
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(name) => name.to_owned(),
    };
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args(["build", "--locked", "--offline", "--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir)
        .args([
            "-p",
            "junction-echo-module",
            "-p",
            "junction-mismatch-module",
        ])
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the fixture modules failed (set JUNCTION_ECHO_MODULE and \
             JUNCTION_MISMATCH_MODULE to prebuilt ones to skip this):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
