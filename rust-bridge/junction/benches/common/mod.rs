//! What the Rust benchmarks share: the request sizes, timing and the
//! machine line.

use std::time::Instant;

/// Request sizes of every benchmark, with their labels.
pub const SIZES: [(usize, &str); 4] = [
    (0, "0 B"),
    (64, "64 B"),
    (64 * 1024, "64 KiB"),
    (1024 * 1024, "1 MiB"),
];

/// Timed runs per figure; each figure is their median.
pub const RUNS: usize = 31;

/// Nanoseconds per call of `call`, over `calls` calls.
pub fn time_run(calls: u32, mut call: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        call();
    }
    start.elapsed().as_nanos() as f64 / f64::from(calls)
}

pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The CPU model, from /proc/cpuinfo where there is one.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}
