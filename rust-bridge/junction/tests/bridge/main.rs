//! Integration tests of the Rust bridge: Rust callers and Rust services
//! through libjunction, Rust modules loaded by the host, panics at the wall
//! and live-object accounting. Every test runs serially (the accounting is
//! process-wide), within a time bound, and ends with every host object and
//! Rust buffer it made released.

mod async_calls;
mod cancels;
mod common;
mod modules;
mod panics;
mod sync_calls;
mod transports;
