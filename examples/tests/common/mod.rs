//! Helpers shared by the example tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The render example, built (once per test run) by the cargo and profile running the tests:
/// `cargo test` builds examples with dev-dependencies under another name and leaves
/// `examples/render` as the last `cargo build` left it, so it must not be trusted as is.
pub fn render_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/render_cli-<hash> -> target/<profile>
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let mut cargo = Command::new(env!("CARGO"));
            cargo.args([
                "build",
                "--quiet",
                "-p",
                "auralis-examples",
                "--example",
                "render",
            ]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cargo.arg("--release");
            }
            let status = cargo.status().expect("cargo runs");
            assert!(status.success(), "building the render example failed");
            profile_dir.join("examples").join("render")
        })
        .clone()
}

/// The corpus directory, or `None` with a printed reason (a failure under CI).
pub fn corpus() -> Option<PathBuf> {
    auralis_testkit::corpus()
}
