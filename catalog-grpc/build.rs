//! Compiles the protos with `protox` (pure Rust): no system `protoc` is needed.
//!
//! - `proto/catalog.proto` → server and client code, plus a descriptor set for reflection;
//! - `proto/seed/catalog.proto` (the seed's text, verbatim) → a client only, used by the tests
//!   to prove that callers generated from the seed work against this server unchanged.

use prost::Message;
use std::{env, error::Error, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=../proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let catalog = protox::compile(["catalog.proto"], ["../proto"])?;
    fs::write(out_dir.join("catalog_descriptor.bin"), catalog.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(catalog)?;

    let seed_dir = out_dir.join("seed");
    fs::create_dir_all(&seed_dir)?;
    let seed = protox::compile(["catalog.proto"], ["../proto/seed"])?;
    fs::write(seed_dir.join("seed_descriptor.bin"), seed.encode_to_vec())?;
    tonic_prost_build::configure().build_server(false).out_dir(&seed_dir).compile_fds(seed)?;
    Ok(())
}
