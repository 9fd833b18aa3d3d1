//! What a call through junction costs over a direct Rust function call.
//!
//! Rust caller -> Rust handler through libjunction with a resolved
//! `Method`, against an indirect call of the same handler function, for
//! 0 B, 64 B, 64 KiB and 1 MiB requests. The handler only reads the request
//! length (zero copy) and answers 8 bytes, so both columns should be flat
//! across sizes. Each figure is the median of several timed runs after a
//! warm-up; direct and junction runs alternate so drift hits both alike.
//! Prints one Markdown table.
//!
//! Run against an optimised libjunction (see the README):
//! `JUNCTION_LIB_DIR=<build/release/cpp-host> cargo bench -p junction --bench call_overhead`

use std::hint::black_box;

use junction::{Deadline, Host, Service};

mod common;
use common::{cpu_model, median, time_run, RUNS, SIZES};

const WARM_UP_CALLS: u32 = 200_000;
const CALLS_PER_RUN: u32 = 100_000;

type Handler = fn(&[u8], Deadline) -> junction::Result<Vec<u8>>;

/// The handler both paths call: the request length, 8 bytes little-endian.
fn length(request: &[u8], _deadline: Deadline) -> junction::Result<Vec<u8>> {
    Ok((request.len() as u64).to_le_bytes().to_vec())
}

fn main() -> junction::Result<()> {
    let host = Host::new()?;
    host.register(Service::new("bench").method("length", length))?;
    let method = host.resolve("bench", "length")?;
    // Called through a function pointer: a real call, as junction's is.
    let direct: Handler = black_box(length);

    println!(
        "Rust caller -> Rust handler (reads the length only), median of {RUNS} runs of \
         {CALLS_PER_RUN} calls; {}, {} CPUs",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| request | direct ns/call | junction ns/call | difference ns | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (size, label) in SIZES {
        let request = vec![0x5a_u8; size];
        let call_direct = || {
            let response = direct(black_box(&request), Deadline::none()).unwrap();
            black_box(response);
        };
        let call_junction = || {
            let response = method.call(black_box(&request), Deadline::none()).unwrap();
            black_box(response);
        };
        for _ in 0..WARM_UP_CALLS {
            call_direct();
            call_junction();
        }
        let mut direct_runs = Vec::with_capacity(RUNS);
        let mut junction_runs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            direct_runs.push(time_run(CALLS_PER_RUN, call_direct));
            junction_runs.push(time_run(CALLS_PER_RUN, call_junction));
        }
        let direct_ns = median(direct_runs);
        let junction_ns = median(junction_runs);
        println!(
            "| {label} | {direct_ns:.1} | {junction_ns:.1} | {:.1} | {:.2} |",
            junction_ns - direct_ns,
            junction_ns / direct_ns
        );
    }
    Ok(())
}
