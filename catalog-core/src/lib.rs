//! The catalog's core: everything the three processes share. Binaries translate requests into
//! calls here and results back; the rules live here.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod ids;
pub mod models;
pub mod pagination;
pub mod repo;
pub mod schema;
mod schema_joins;
pub mod seed;
pub mod slug;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Entity, Error, FieldError, Result};
