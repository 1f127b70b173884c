//! The catalog's event worker: relays the outbox to RabbitMQ and consumes other services'
//! events (and its own, for the guaranteed cache invalidation).

pub mod backoff;
pub mod consumer;
pub mod metrics;
pub mod publisher;
pub mod relay;
pub mod topology;
