//! Links libjunction, found the ordinary way: the directory named by
//! JUNCTION_LIB_DIR (for example the CMake build's cpp-host directory), or
//! else the installed pkg-config package "junction".

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=JUNCTION_LIB_DIR");
    if let Some(dir) = env::var_os("JUNCTION_LIB_DIR") {
        let Some(dir) = dir.to_str() else {
            fail("JUNCTION_LIB_DIR is not valid UTF-8");
        };
        if !Path::new(dir).is_absolute() {
            fail(&format!(
                "JUNCTION_LIB_DIR must be an absolute path, not {dir:?}"
            ));
        }
        if !Path::new(dir).join("libjunction.so").exists() {
            fail(&format!(
                "JUNCTION_LIB_DIR={dir} holds no libjunction.so (build it with \
                 `cmake --preset dev && cmake --build --preset dev` at the repository root)"
            ));
        }
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib=dylib=junction");
        return;
    }
    if let Err(error) = pkg_config::Config::new()
        .atleast_version("1.0")
        .probe("junction")
    {
        fail(&format!(
            "libjunction not found: set JUNCTION_LIB_DIR to the directory holding \
             libjunction.so (the CMake build's cpp-host directory, e.g. \
             build/dev/cpp-host), or install junction where pkg-config finds \
             junction.pc ({error})"
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("junction-sys: {message}");
    std::process::exit(1);
}
