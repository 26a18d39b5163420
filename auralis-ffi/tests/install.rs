//! The C library installed the way C and C++ users install libraries: `make install
//! PREFIX=<tmp>`, then the C example and the C++ example (the `auralis.hpp` wrapper) built
//! against that prefix alone, by pkg-config and by CMake (the package config and
//! `pkg_check_modules`), and run on a synthesized file. Oracles: the installed file layout and
//! soname, the programs' own output, and the chunk file they write against the library's own
//! bytes for the same file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `cmd`, asserting success; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(tool: &str) -> bool {
    let present = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        auralis_testkit::skip(&format!("{tool} (CI installs it)"));
    }
    present
}

/// The CMake the project's set-up installs (.venv, from PyPI), else one on PATH.
fn cmake() -> Option<PathBuf> {
    let venv = common::workspace().join(".venv/bin/cmake");
    if venv.is_file() {
        return Some(venv);
    }
    have("cmake").then(|| PathBuf::from("cmake"))
}

/// The installed programs' checks: the C example writes the stream's chunk files (its chunk 0 is
/// the library's own bytes for it), the C++ example prints what the wrapper read and catches
/// the past-the-end error as an exception with its status.
fn check_programs(c_program: &Path, cpp_program: &Path, lib_dir: &Path, track: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    run(Command::new(c_program)
        .arg(track)
        .arg(out)
        .env("LD_LIBRARY_PATH", lib_dir));
    let stream = auralis_core::Engine::default()
        .open(track, auralis_core::StreamSettings::default())
        .unwrap();
    assert_eq!(
        std::fs::read(out.join("chunk_00000.webm")).unwrap(),
        stream.chunk_file(0, None).unwrap(),
        "the C program's chunk differs from the library's"
    );
    let printed = run(Command::new(cpp_program)
        .arg(track)
        .arg(out)
        .env("LD_LIBRARY_PATH", lib_dir));
    assert!(
        printed.contains(&format!(
            "auralis {VERSION}: 96000 frames at 48000 Hz, 2 channels"
        )) && printed.contains("source 88200 frames at 44100 Hz")
            && printed.contains("first second: 44100 frames")
            && printed.contains("past the end: AURALIS_STATUS_INDEX_OUT_OF_RANGE"),
        "{printed}"
    );
    assert_eq!(
        std::fs::read(out.join("chunk_0.webm")).unwrap(),
        stream.chunk_file(0, None).unwrap()
    );
    assert_eq!(
        std::fs::metadata(out.join("first_second.f32"))
            .unwrap()
            .len(),
        44_100 * 2 * 4
    );
}

#[test]
fn the_installed_library_builds_and_runs_c_and_cpp_programs_by_pkg_config_and_cmake() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    run(Command::new("make")
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .current_dir(common::workspace()));

    // The layout: the library under its full version, its soname and development links, the
    // static library, both headers, the pkg-config file and the CMake package.
    let lib = prefix.join("lib");
    let so = format!("libauralis.so.{}", common::soversion());
    assert!(lib.join(format!("libauralis.so.{VERSION}")).is_file());
    assert_eq!(
        std::fs::read_link(lib.join(&so)).unwrap(),
        PathBuf::from(format!("libauralis.so.{VERSION}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libauralis.so")).unwrap(),
        PathBuf::from(&so)
    );
    assert!(lib.join("libauralis.a").is_file());
    for header in ["auralis.h", "auralis.hpp"] {
        assert!(
            prefix.join("include/auralis").join(header).is_file(),
            "{header}"
        );
    }
    let pc = std::fs::read_to_string(lib.join("pkgconfig/auralis.pc")).unwrap();
    assert!(pc.contains(&format!("Version: {VERSION}")), "{pc}");
    assert!(lib.join("cmake/auralis/auralisConfig.cmake").is_file());
    if have("readelf") {
        let dynamic = run(Command::new("readelf")
            .arg("-d")
            .arg(lib.join(format!("libauralis.so.{VERSION}"))));
        assert!(dynamic.contains(&format!("[{so}]")), "{dynamic}");
    }
    let header = std::fs::read_to_string(prefix.join("include/auralis/auralis.h")).unwrap();
    assert!(header.contains(&format!("#define AURALIS_VERSION \"{VERSION}\"")));

    let track = dir.path().join("track.wav");
    common::wav(&track, 2);
    let examples = common::workspace().join("examples");

    // pkg-config: cc and c++ with the flags it gives, nothing from this checkout.
    if have("pkg-config") && have("c++") {
        let flags = run(Command::new("pkg-config")
            .args(["--cflags", "--libs", "auralis"])
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig")));
        let flags: Vec<&str> = flags.split_whitespace().collect();
        assert!(flags.contains(&"-lauralis"), "{flags:?}");
        let c_program = dir.path().join("stream_c");
        run(Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
            .arg(examples.join("c/stream.c"))
            .args(&flags)
            .arg("-o")
            .arg(&c_program));
        let cpp_program = dir.path().join("stream_cpp");
        run(Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror"])
            .arg(examples.join("cpp/stream.cpp"))
            .args(&flags)
            .arg("-o")
            .arg(&cpp_program));
        check_programs(
            &c_program,
            &cpp_program,
            &lib,
            &track,
            &dir.path().join("out-pkg-config"),
        );
    }

    // CMake: the package config (find_package), then pkg_check_modules.
    let Some(cmake) = cmake() else { return };
    for (name, extra) in [
        ("cmake-package", "-DAURALIS_USE_PKG_CONFIG=OFF"),
        ("cmake-pkg-config", "-DAURALIS_USE_PKG_CONFIG=ON"),
    ] {
        if extra.ends_with("ON") && !have("pkg-config") {
            continue;
        }
        let build = dir.path().join(name);
        run(Command::new(&cmake)
            .arg("-S")
            .arg(examples.join("cmake"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg(extra)
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig")));
        run(Command::new(&cmake).arg("--build").arg(&build));
        check_programs(
            &build.join("stream_c"),
            &build.join("stream_cpp"),
            &lib,
            &track,
            &dir.path().join(format!("out-{name}")),
        );
    }
}
