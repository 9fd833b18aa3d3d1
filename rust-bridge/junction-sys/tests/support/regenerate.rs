//! Shared by the tests that check a committed generated file against what
//! its generator makes now (junction-sys's bindings, the echo module's
//! header).

/// Whether to rewrite the committed file rather than check it: only with
/// `JUNCTION_REGENERATE=1`, and never under CI, where a stale file fails.
pub fn regenerate() -> bool {
    if std::env::var_os("JUNCTION_REGENERATE").is_none_or(|value| value != "1") {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "JUNCTION_REGENERATE=1 with CI set: CI checks the committed file, it does not rewrite it"
    );
    true
}
