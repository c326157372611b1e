//! Compile-fail and compile-pass cases of `#[stage]` and `pipeline!` (trybuild).
//!
//! Each file under `tests/ui/stage/` and `tests/ui/pipeline/` exercises one error class and
//! starts with a comment naming the expected error; its `.stderr` is the reviewed diagnostic.
//! Regenerate with `TRYBUILD=overwrite cargo test -p sqrtspace-examples --test ui` and read
//! every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/stage/*.rs");
    t.compile_fail("tests/ui/pipeline/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
