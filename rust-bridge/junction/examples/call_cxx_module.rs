//! Rust calling a C++ service: loads the C++ module given on the command
//! line (junction's `cxx.text` test module), calls it from threads Rust
//! spawned, and checks its answers and its error mapping. Exits non-zero on
//! any mismatch; ctest runs it against the module the CMake build makes.
//!
//! ```text
//! cargo run --example call_cxx_module -- build/dev/tests/modules/libcxx_text_module.so
//! ```

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use junction::{Code, Deadline, Host};

fn run(module: &str) -> Result<(), String> {
    let host = Host::new().map_err(|e| format!("host: {e}"))?;
    host.load_module(module)
        .map_err(|e| format!("load {module}: {e}"))?;
    let upper = host
        .resolve("cxx.text", "upper")
        .map_err(|e| format!("resolve cxx.text/upper: {e}"))?;

    thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let upper = &upper;
                scope.spawn(move || -> Result<(), String> {
                    for call in 0..250 {
                        let request = format!("worker {worker} call {call}");
                        let response = upper
                            .call(request.as_bytes(), Deadline::after(Duration::from_secs(5)))
                            .map_err(|e| format!("upper: {e}"))?;
                        if *response != *request.to_uppercase().as_bytes() {
                            return Err(format!("upper({request}) answered {response:?}"));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().map_err(|_| "worker panicked".to_string())?)
    })?;

    let fail = host
        .resolve("cxx.text", "fail")
        .map_err(|e| format!("resolve cxx.text/fail: {e}"))?;
    let permission_denied = [Code::PermissionDenied as u8];
    match fail.call(&permission_denied, Deadline::none()) {
        Err(status)
            if status.code() == Code::PermissionDenied
                && status.message() == "cxx.text/fail was asked to fail" => {}
        other => return Err(format!("fail answered {other:?}")),
    }
    let calls = upper.stats().calls;
    if calls != 1000 {
        return Err(format!("stats count {calls} calls, expected 1000"));
    }
    println!("call_cxx_module: 1000 calls from 4 Rust threads and an error status mapped: OK");
    Ok(())
}

fn main() -> ExitCode {
    let Some(module) = std::env::args().nth(1) else {
        eprintln!("usage: call_cxx_module PATH_TO_CXX_MODULE");
        return ExitCode::from(2);
    };
    match run(&module) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("call_cxx_module: {message}");
            ExitCode::FAILURE
        }
    }
}
