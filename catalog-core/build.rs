//! - Fingerprints the migrations so test templates are rebuilt whenever a migration changes.
//! - Compiles the Auth and Inventory Services' contracts (`proto/auth.proto`,
//!   `proto/inventory.proto`) with `protox` (pure Rust, no system `protoc`) into clients, plus
//!   servers used only by the test stand-ins.
use std::{error::Error, fs, path::Path};

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../proto/auth.proto");
    println!("cargo:rerun-if-changed=../proto/inventory.proto");
    migrations_hash();

    let peers = protox::compile(["auth.proto", "inventory.proto"], ["../proto"])?;
    tonic_prost_build::configure().compile_fds(peers)?;
    Ok(())
}

fn migrations_hash() {
    let mut files = Vec::new();
    collect(Path::new("../migrations"), &mut files);
    files.sort();
    // FNV-1a: stable across Rust versions, unlike DefaultHasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in files {
        for byte in path.to_string_lossy().bytes().chain(fs::read(&path).unwrap_or_default()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=CATALOG_MIGRATIONS_HASH={hash:016x}");
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
