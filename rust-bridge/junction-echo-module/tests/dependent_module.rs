//! Another module crate can build on this one: with `default-features =
//! false` (no `module` feature) the echo module exports no
//! `jn_module_init`/`jn_module_abi_version` of its own, so a `cdylib`
//! depending on it links with its own `junction::module!`, and a host loads
//! it. The dependent is built by cargo, offline, from a crate written under
//! the target directory (its own workspace: in this one, cargo would unify
//! the feature back on), pinned by this workspace's `Cargo.lock`.

use std::path::Path;
use std::process::Command;

use junction::{Deadline, Host};

const MANIFEST: &str = r#"[package]
name = "junction-echo-dependent"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
junction = { path = "JUNCTION" }
junction-echo-module = { path = "ECHO", default-features = false }

[workspace]
"#;

const LIB: &str = r#"
fn init(host: &junction::HostRef) -> junction::Result<()> {
    junction_echo_module::register(host)
}

junction::module!(init);
"#;

#[test]
fn a_module_depending_on_this_one_links_and_loads() {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = echo.parent().unwrap();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("echo-dependent");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let manifest = MANIFEST
        .replace("JUNCTION", workspace.join("junction").to_str().unwrap())
        .replace("ECHO", echo.to_str().unwrap());
    std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(root.join("src/lib.rs"), LIB).unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    let target = root.join("target");
    let output = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "the dependent module did not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let host = Host::new().unwrap();
    host.load_module(target.join("debug/libjunction_echo_dependent.so"))
        .unwrap();
    let echo = host.resolve(junction_echo_module::SERVICE, "echo").unwrap();
    assert_eq!(
        echo.call(b"dependent", Deadline::none()).unwrap(),
        b"dependent"
    );
}
