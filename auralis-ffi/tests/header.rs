//! `include/auralis.h` is what cbindgen generates from this crate: regenerated here and compared
//! with the checked-in file. `AURALIS_UPDATE_HEADER=1` rewrites the file instead.

use std::path::Path;

fn generate() -> String {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let mut config = cbindgen::Config::from_file(Path::new(crate_dir).join("cbindgen.toml"))
        .expect("cbindgen.toml parses");
    config.after_includes = Some(format!(
        "\n#define AURALIS_VERSION \"{}\"\n#define AURALIS_VERSION_MAJOR {}\n\
         #define AURALIS_VERSION_MINOR {}\n#define AURALIS_VERSION_PATCH {}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/auralis.h");
    let generated = generate();
    if std::env::var_os("AURALIS_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        println!("rewrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/auralis.h is out of date with auralis-ffi/src/lib.rs: run \
         AURALIS_UPDATE_HEADER=1 cargo test -p auralis-ffi --test header"
    );
    for name in [
        "auralis_stream_open",
        "AURALIS_STATUS_OK = 0",
        "#ifndef AURALIS_H",
        "extern \"C\"",
        "size_t len",
        "AURALIS_VERSION_MAJOR",
    ] {
        assert!(generated.contains(name), "{name} missing from the header");
    }
}
