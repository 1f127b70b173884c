//! The catalog's core: everything the three processes share. Binaries translate requests into
//! calls here and results back; the rules live here.

pub mod asyncapi;
pub mod auth;
mod breaker;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod ids;
pub mod imports;
pub mod inbound;
pub mod media;
pub mod models;
pub mod ops;
pub mod organizations;
pub mod pagination;
pub mod pricing;
pub mod process;
pub mod read;
pub mod repo;
pub mod schema;
mod schema_joins;
pub mod search;
pub mod seed;
pub mod shutdown;
pub mod slug;
pub mod stale;
pub mod stock;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transfer;
pub mod units;
pub mod validate;

pub use error::{Entity, Error, FieldError, Result};
