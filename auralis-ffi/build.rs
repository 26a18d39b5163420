//! Gives the shared library a versioned soname on Linux, so that programs linked against it
//! name the ABI they were built for: `libauralis.so.MAJOR`, or `libauralis.so.0.MINOR` while the
//! major version is 0 (where, as in Cargo's own rules, a new minor version may break the ABI).
//! `make install` installs the file under that name with the usual links.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("set by cargo");
    let soversion = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libauralis.so.{soversion}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
