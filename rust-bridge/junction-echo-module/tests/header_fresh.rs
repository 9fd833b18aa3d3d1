//! Keeps `include/junction_echo.h` in step with the typed functions: runs
//! cbindgen in memory with the committed `cbindgen.toml` and fails on any
//! difference. With `JUNCTION_REGENERATE=1` (and only that value) it rewrites
//! the header instead, except under CI (`CI` set), where it fails.

use std::path::Path;

#[path = "../../junction-sys/tests/support/regenerate.rs"]
mod support;
use support::regenerate;

const REGENERATE: &str =
    "JUNCTION_REGENERATE=1 cargo test -p junction-echo-module --test header_fresh";

#[test]
fn header_matches_the_crate() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let header_path = crate_dir.join("include/junction_echo.h");
    if regenerate() {
        std::fs::write(&header_path, &fresh).expect("write include/junction_echo.h");
        return;
    }
    let committed = std::fs::read(&header_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "junction-echo-module/include/junction_echo.h is out of date with the crate; \
         regenerate it with:\n    {REGENERATE}\n--- generated now ---\n{}",
        String::from_utf8_lossy(&fresh)
    );
}
