//! Generated protobuf code.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod catalog {
    tonic::include_proto!("catalog");
}

/// For gRPC server reflection (`GRPC_REFLECTION=true`).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/catalog_descriptor.bin"));

/// A client generated from the seed's proto text, verbatim: compatibility tests use it.
pub mod seed {
    include!(concat!(env!("OUT_DIR"), "/seed/catalog.rs"));

    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seed/seed_descriptor.bin"));
}
