//! Keeps `src/bindings.rs` in step with `abi/junction.h`: regenerates the
//! bindings with bindgen in memory and fails when they differ from the
//! committed file. With `JUNCTION_REGENERATE=1` (and only that value) it
//! rewrites the file instead, except under CI (`CI` set), where it fails.

use std::path::{Path, PathBuf};

use bindgen::callbacks::{IntKind, ItemInfo, ParseCallbacks};

#[path = "support/regenerate.rs"]
mod support;
use support::regenerate;

const REGENERATE: &str = "JUNCTION_REGENERATE=1 cargo test -p junction-sys --test bindings_fresh";

/// Types the header's macros and names the anonymous status-code enum.
#[derive(Debug)]
struct Naming;

impl ParseCallbacks for Naming {
    fn int_macro(&self, name: &str, _value: i64) -> Option<IntKind> {
        match name {
            "JN_NO_DEADLINE" => Some(IntKind::I64),
            "JN_STATUS_CODE_MAX" => Some(IntKind::I32),
            _ if name.starts_with("JN_ABI_VERSION") => Some(IntKind::U32),
            _ if name.starts_with("JN_THREAD_SLICE") => Some(IntKind::U64),
            "JN_MAX_UNREAD_ANSWERS" => Some(IntKind::U64),
            _ => None,
        }
    }

    fn item_name(&self, info: ItemInfo) -> Option<String> {
        (info.name == "_bindgen_ty_1").then(|| "jn_status_code".to_owned())
    }

    /// Drops the header's `/* ---- */` section rulers, which clang glues to
    /// the comment that follows them.
    fn process_comment(&self, comment: &str) -> Option<String> {
        let parts: Vec<&str> = comment
            .split("*/\n/*")
            .filter(|part| !part.trim().chars().all(|c| c == '-'))
            .collect();
        Some(parts.join("\n"))
    }
}

/// A temporary directory of this process's own, removed on drop: bindgen's
/// macro fallback writes files of fixed names (`.macro_eval.c`,
/// `-precompile.h.pch`) into its build directory, which concurrent
/// runs sharing one directory would overwrite under each other.
struct PrivateTempDir(PathBuf);

impl PrivateTempDir {
    fn new() -> PrivateTempDir {
        let path =
            std::env::temp_dir().join(format!("junction-sys-bindgen-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary directory for bindgen");
        PrivateTempDir(path)
    }
}

impl Drop for PrivateTempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn generate(header: &Path) -> String {
    let build_dir = PrivateTempDir::new();
    bindgen::Builder::default()
        .header(header.to_str().expect("header path is UTF-8"))
        .allowlist_item("jn_.*|JN_.*")
        .clang_arg("-fparse-all-comments")
        .clang_macro_fallback()
        .clang_macro_fallback_build_dir(&build_dir.0)
        .derive_default(true)
        .layout_tests(true)
        .formatter(bindgen::Formatter::Prettyplease)
        .parse_callbacks(Box::new(Naming))
        .generate()
        .expect("bindgen could not parse abi/junction.h (is libclang installed?)")
        .to_string()
}

#[test]
fn bindings_match_the_header() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../../abi/junction.h");
    let committed_path = crate_dir.join("src/bindings.rs");
    let fresh = generate(&header);
    if regenerate() {
        std::fs::write(&committed_path, &fresh).expect("write src/bindings.rs");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "junction-sys/src/bindings.rs is out of date with abi/junction.h \
             (first difference at line {}); regenerate it with:\n    {REGENERATE}",
            line + 1
        );
    }
}
