//! The catalog's gRPC server (`catalog.CatalogService` on :50052) for Inventory, Order, POS and
//! Pricing. Handlers translate; `catalog-core` decides.

pub mod convert;
pub mod layers;
pub mod pb;
pub mod server;
pub mod service;
