//! Rust modules loaded by the host: the junction-echo-module cdylib and the
//! deliberately mismatched junction-mismatch-module.

use std::sync::Arc;
use std::time::Duration;

use junction::{Code, Deadline, Host};

use crate::common::{
    block_on, check_echo_length_checksum, checksum_from_threads, fixture_module, fnv1a, payload,
    run, tokio_runtime, u64_of, SIZES,
};

const WAIT: Duration = Duration::from_secs(30);

fn echo_module() -> std::path::PathBuf {
    fixture_module("junction-echo-module", "JUNCTION_ECHO_MODULE")
}

fn mismatch_module() -> std::path::PathBuf {
    fixture_module("junction-mismatch-module", "JUNCTION_MISMATCH_MODULE")
}

#[test]
fn the_echo_module_serves_rust_echo() {
    run(|| {
        let host = Host::new().unwrap();
        host.load_module(echo_module()).unwrap();
        let echo = host.resolve("rust.echo", "echo").unwrap();
        for size in SIZES {
            let request = check_echo_length_checksum(&host, "rust.echo", size);
            let back = block_on(echo.call_async(request.clone(), Deadline::none()), WAIT);
            assert_eq!(back.unwrap(), request);
        }
    });
}

#[test]
fn the_echo_module_from_several_threads_and_tasks() {
    run(|| {
        let host = Host::new().unwrap();
        host.load_module(echo_module()).unwrap();
        let checksum = Arc::new(host.resolve("rust.echo", "checksum").unwrap());
        checksum_from_threads(&checksum, 6, 100, 100_000);
        tokio_runtime().block_on(async move {
            let tasks: Vec<_> = (0..32)
                .map(|task| {
                    let checksum = Arc::clone(&checksum);
                    tokio::spawn(async move {
                        let request = payload(task * 1000);
                        let sum = checksum.call_async(request.clone(), Deadline::none()).await;
                        assert_eq!(u64_of(&sum.unwrap()), fnv1a(&request));
                    })
                })
                .collect();
            for task in tasks {
                tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
            }
        });
    });
}

#[test]
fn the_echo_module_reports_panics_and_async_outcomes() {
    run(|| {
        let host = Host::new().unwrap();
        host.load_module(echo_module()).unwrap();
        let panic = host.resolve("rust.echo", "panic").unwrap();
        for round in 0..100 {
            let error = panic.call(&vec![0; round], Deadline::none()).unwrap_err();
            assert_eq!(error.code(), Code::Internal);
            assert_eq!(
                error.message(),
                format!("handler panicked: rust.echo/panic called with {round} bytes")
            );
        }

        let sleep = host.resolve("rust.echo", "sleep_async").unwrap();
        let delay = 20_u64.to_le_bytes();
        assert_eq!(sleep.call(&delay, Deadline::none()).unwrap(), delay);
        let answer = block_on(sleep.call_async(delay.to_vec(), Deadline::none()), WAIT);
        assert_eq!(answer.unwrap(), delay);
        let late = sleep
            .call(&delay, Deadline::after(Duration::from_millis(1)))
            .unwrap_err();
        assert_eq!(late.code(), Code::DeadlineExceeded);
        let invalid = sleep.call(b"soon", Deadline::none()).unwrap_err();
        assert_eq!(invalid.code(), Code::InvalidArgument);
    });
}

#[test]
fn a_module_loads_once_per_host() {
    run(|| {
        let first = Host::new().unwrap();
        let second = Host::new().unwrap();
        first.load_module(echo_module()).unwrap();
        second.load_module(echo_module()).unwrap();
        let again = first.load_module(echo_module()).unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists);
        assert!(again.message().contains("failed to initialise"), "{again}");
        for host in [&first, &second] {
            let echo = host.resolve("rust.echo", "echo").unwrap();
            assert_eq!(echo.call(b"both", Deadline::none()).unwrap(), b"both");
        }
    });
}

#[test]
fn a_mismatched_module_is_refused() {
    run(|| {
        let host = Host::new().unwrap();
        let path = mismatch_module();
        let error = host.load_module(&path).unwrap_err();
        assert_eq!(error.code(), Code::FailedPrecondition, "{error}");
        let message = error.message();
        assert!(message.contains("ABI version mismatch"), "{message}");
        assert!(
            message.contains("2.0"),
            "names the module's version: {message}"
        );
        let host_version = format!(
            "{}.{}",
            junction::sys::JN_ABI_VERSION_MAJOR,
            junction::sys::JN_ABI_VERSION_MINOR
        );
        assert!(
            message.contains(&host_version),
            "names the host's version: {message}"
        );
        assert!(
            message.contains(&*path.to_string_lossy()),
            "names the module: {message}"
        );
        // Refused before jn_module_init, and the host is unaffected.
        host.load_module(echo_module()).unwrap();
    });
}

#[test]
fn a_missing_module_is_not_found() {
    run(|| {
        let host = Host::new().unwrap();
        let error = host.load_module("/nonexistent/libnothing.so").unwrap_err();
        assert_eq!(error.code(), Code::NotFound);
        assert!(
            error.message().contains("/nonexistent/libnothing.so"),
            "{error}"
        );
    });
}
