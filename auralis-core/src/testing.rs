//! Test support shared by the test suites of every crate (feature `testing`).

use std::io::Write;

/// Reports that a test cannot run here because `what` is missing (the corpus, a tool), and
/// returns so that the caller can skip its body.
///
/// Under CI (`CI` set) nothing may be skipped: this panics, so the test fails with the reason.
/// Elsewhere the reason is printed and, when `AURALIS_SKIP_LOG` names a file, appended to it
/// with the test's name, so the suite's summary lists every skip (cargo hides the output of
/// tests that pass).
pub fn skip(what: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: required in CI and missing: {what}"
    );
    println!("SKIP {test}: {what}");
    if let Some(log) = std::env::var_os("AURALIS_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            // One write of the whole line: appends of concurrent tests do not interleave.
            let _ = f.write_all(format!("SKIP {test}: {what}\n").as_bytes());
        }
    }
}

/// The corpus of real music excerpts: `AURALIS_CORPUS`, or `../shared/corpus` beside the
/// project (a directory holding its README.md), or `None` after [`skip`] (a failure under CI,
/// where it is required).
pub fn corpus() -> Option<std::path::PathBuf> {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let found = [
        std::env::var_os("AURALIS_CORPUS").map(Into::into),
        Some(beside),
    ]
    .into_iter()
    .flatten()
    .find(|p: &std::path::PathBuf| p.join("README.md").is_file());
    if found.is_none() {
        skip("the corpus (set AURALIS_CORPUS or place ../shared/corpus beside the project)");
    }
    found
}
