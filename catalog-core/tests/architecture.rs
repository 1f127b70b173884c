//! ARCHITECTURE.md against the tree: every module of the four crates is named in it, and every
//! path it names exists, so the page cannot drift from the code it describes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &["catalog-core", "catalog-api", "catalog-grpc", "catalog-worker"];
/// Where the page's short names (`read.rs`, `bulk/`) are looked for.
const SEARCHED: &[&str] = &[
    "catalog-core",
    "catalog-api",
    "catalog-grpc",
    "catalog-worker",
    "migrations",
    "proto",
    "bench",
    "deploy",
    "fuzz",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Every file and folder below `dir`, as paths relative to the root with `/` separators
/// (folders end in `/`); build output is skipped.
fn walk(root: &Path, dir: &Path, into: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry")) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        let relative = path.strip_prefix(root).expect("below root").to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            into.insert(format!("{relative}/"));
            walk(root, &path, into);
        } else {
            into.insert(relative);
        }
    }
}

/// The backticked words of the page that name files or folders (end in `.rs`, `.md` or `/`,
/// or contain a `/`), without spaces.
fn named_paths(page: &str) -> BTreeSet<String> {
    page.split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| !word.contains(' ') && (word.contains('/') || word.ends_with(".rs") || word.ends_with(".md")))
        .map(str::to_string)
        .collect()
}

#[test]
fn architecture_names_every_module_and_only_real_paths() {
    let root = root();
    let page = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md at the root");
    let named = named_paths(&page);
    let mut tree = BTreeSet::new();
    for dir in SEARCHED {
        tree.insert(format!("{dir}/"));
        walk(&root, &root.join(dir), &mut tree);
    }
    let exists = |word: &str| tree.contains(word) || tree.iter().any(|path| path.ends_with(&format!("/{word}")));
    let missing: Vec<&String> = named.iter().filter(|word| !exists(word)).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");

    let mut unnamed = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        for entry in std::fs::read_dir(&src).expect("src").map(|e| e.expect("entry")) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let module = if entry.path().is_dir() { format!("{name}/") } else { name };
            if module != "lib.rs" && module != "main.rs" && !named.contains(&module) {
                unnamed.push(format!("{krate}/src/{module}"));
            }
        }
    }
    assert!(unnamed.is_empty(), "modules ARCHITECTURE.md does not name: {unnamed:?}");
}

#[test]
fn only_backticked_file_names_count_as_paths() {
    let named = named_paths("`read.rs` and `repo/` but not `tenant_reads!`, `PATCH /api/v1/x` or `If-Match`");
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["read.rs", "repo/"]);
}
