//! Compile-fail tests (trybuild): the thread-safety and lifetime rules the
//! API enforces at compile time. Each case under tests/compile_fail/ must
//! fail to build with the committed .stderr. After a deliberate change,
//! rewrite those with `TRYBUILD=overwrite cargo test -p junction --test
//! compile_fail`.

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
