//! The catalog's event worker: relays the outbox to RabbitMQ and consumes other services'
//! events (and its own, for the guaranteed cache invalidation), and removes uploaded images'
//! files that nothing references any more, and keeps the stock read model's lag measured and
//! its content reconciled with Inventory.

pub mod backoff;
pub mod consumer;
pub mod janitor;
pub mod metrics;
pub mod publisher;
pub mod relay;
pub mod stock;
pub mod topology;
