//! The C face, from C: `examples/c/stream.c` and `tests/c/test_api.c` are compiled with `cc`
//! against `include/auralis.h` and the built `libauralis.so`, and run: the example's chunk files
//! must equal what the Rust API returns, and the test program checks every success and error
//! path and 8 threads sharing one handle. The test program also runs under valgrind
//! (`--leak-check=full --error-exitcode=1`); in CI (`CI` set) valgrind and cc must be present.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use auralis_core::stream::{Engine, EngineConfig, StreamSettings};

/// Builds libauralis (release) and returns the directory holding it.
fn build_library() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "auralis-ffi", "--lib"])
        .current_dir(common::workspace())
        .status()
        .expect("running cargo");
    assert!(status.success(), "building libauralis failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| common::workspace().join("target"), PathBuf::from);
    let dir = target.join("release");
    assert!(dir.join("libauralis.so").is_file() && dir.join("libauralis.a").is_file());
    // The library's soname (build.rs) is what a program linked against it looks for at run
    // time: `make install` makes that link in a prefix, this makes it beside the build.
    let soname = dir.join(format!("libauralis.so.{}", common::soversion()));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libauralis.so", &soname).expect("linking the soname");
    dir
}

/// Compiles one C file against the header and the shared library.
fn compile(source: &Path, lib_dir: &Path, out: &Path) {
    compile_with(source, lib_dir, out, &[]);
}

/// [`compile`] with extra compiler flags.
fn compile_with(source: &Path, lib_dir: &Path, out: &Path, extra: &[&str]) {
    let output = Command::new("cc")
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", "-pthread",
        ])
        .args(extra)
        .arg("-I")
        .arg(common::workspace().join("include"))
        .arg(source)
        .arg("-L")
        .arg(lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lauralis", "-lm", "-o"])
        .arg(out)
        .output()
        .expect("running cc");
    assert!(
        output.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn have(tool: &str, arg: &str) -> bool {
    let present = Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        auralis_testkit::skip(&format!("{tool} (CI installs it)"));
    }
    present
}

#[test]
fn the_c_example_and_the_c_test_program_run_against_the_header_and_library() {
    if !have("cc", "--version") {
        return;
    }
    let lib_dir = build_library();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    common::wav(&good, 3);
    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(&garbage, vec![0x55u8; 4096]).unwrap();
    let missing = dir.path().join("missing.wav");

    // The example: info printed, init + every chunk file written, equal to the Rust API's.
    let example = dir.path().join("stream");
    compile(
        &common::workspace().join("examples/c/stream.c"),
        &lib_dir,
        &example,
    );
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let run = Command::new(&example)
        .arg(&good)
        .arg(&out_dir)
        .args(["bright", "0.7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("frames 144000, 48000 Hz, 2 channels, 3.000 s, 1 chunks"),
        "{stdout}"
    );
    let engine = Engine::new(&EngineConfig::default());
    let stream = engine
        .open(
            &good,
            StreamSettings {
                mastering: auralis_core::MasteringSettings::new(auralis_core::Preset::Bright, 0.7),
                ..StreamSettings::default()
            },
        )
        .unwrap();
    assert_eq!(
        std::fs::read(out_dir.join("init.webm")).unwrap(),
        stream.init_segment()
    );
    assert_eq!(
        std::fs::read(out_dir.join("chunk_00000.webm")).unwrap(),
        stream.chunk_file(0, None).unwrap()
    );
    // Its error path: the status name and the message, exit status 1.
    let run = Command::new(&example)
        .arg(&missing)
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr.contains("AURALIS_STATUS_NOT_FOUND") && stderr.contains("file not found"),
        "{stderr}"
    );

    // The test program: every path, 8 threads.
    let test = dir.path().join("test_api");
    compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/test_api.c"),
        &lib_dir,
        &test,
    );
    let args = |cache: &str| {
        [
            good.clone(),
            garbage.clone(),
            missing.clone(),
            dir.path().join(cache),
        ]
    };
    let run = Command::new(&test).args(args("cache1")).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains(" 0 failed"));

    // The same program built with AddressSanitizer (gcc's libasan): the library allocates
    // with malloc, so ASan's interceptors and LeakSanitizer watch its heap too (checked by
    // hand: dropping one `auralis_bytes_free` makes this fail with "16522 byte(s) leaked").
    let asan = dir.path().join("test_api_asan");
    compile_with(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/test_api.c"),
        &lib_dir,
        &asan,
        &["-fsanitize=address", "-fno-omit-frame-pointer"],
    );
    let run = Command::new(&asan)
        .args(args("cache_asan"))
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("asan: {}", String::from_utf8_lossy(&run.stdout).trim());
    assert!(
        run.status.success() && !stderr.contains("Sanitizer"),
        "AddressSanitizer found errors:\n{stderr}"
    );

    // Under valgrind: no leak, no invalid access.
    if !have("valgrind", "--version") {
        return;
    }
    let run = Command::new("valgrind")
        .args([
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=1",
            "--quiet",
        ])
        .arg(format!(
            "--suppressions={}",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/valgrind.supp")
                .display()
        ))
        .arg(&test)
        .args(args("cache2"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("valgrind: {}", String::from_utf8_lossy(&run.stdout).trim());
    assert!(run.status.success(), "valgrind found errors:\n{stderr}");
}
