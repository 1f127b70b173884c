//! Exchange and queue names. `RABBITMQ_QUEUE_PREFIX` prefixes every queue and every exchange the
//! worker does not publish to, so tests (and several deployments) can share one broker.

use catalog_core::config::RabbitSettings;

#[derive(Debug, Clone)]
pub struct Topology {
    /// Topic exchange the catalog publishes to (`catalog_events`).
    pub catalog_exchange: String,
    pub auth_exchange: String,
    pub pricing_exchange: String,
    pub inventory_exchange: String,
    pub dead_letter_exchange: String,
    pub dead_letter_queue: String,
    pub auth_queue: String,
    pub pricing_queue: String,
    /// Inventory's stock and warehouse events, for the stock read model.
    pub inventory_queue: String,
    /// The catalog's own events, consumed again for the guaranteed cache invalidation.
    pub invalidation_queue: String,
    pub prefetch: u16,
}

/// Routing keys each consumed queue binds.
pub const AUTH_BINDINGS: &[&str] = &["auth.user.deactivated", "auth.local.*", "auth.organization.*"];
pub const PRICING_BINDINGS: &[&str] = &["pricing.price.updated"];
/// Inventory's page binds the catalog's queue to the three stock keys; the warehouse events
/// name the warehouses in the stock answers.
pub const INVENTORY_BINDINGS: &[&str] =
    &["inventory.stock.updated", "inventory.stock.low_level", "inventory.stock.depleted", "inventory.warehouse.*"];
pub const INVALIDATION_BINDINGS: &[&str] = &["catalog.#"];

impl Topology {
    pub fn new(settings: &RabbitSettings) -> Self {
        let p = &settings.queue_prefix;
        Self {
            catalog_exchange: settings.exchange.clone(),
            auth_exchange: settings.auth_exchange_name(),
            pricing_exchange: settings.pricing_exchange_name(),
            inventory_exchange: settings.inventory_exchange_name(),
            dead_letter_exchange: format!("{p}catalog_events.dlx"),
            dead_letter_queue: format!("{p}catalog_events_dlq"),
            auth_queue: format!("{p}catalog.auth_events"),
            pricing_queue: format!("{p}catalog.pricing_events"),
            inventory_queue: format!("{p}catalog.inventory_events"),
            invalidation_queue: format!("{p}catalog.cache_invalidation"),
            prefetch: settings.prefetch,
        }
    }

    /// (queue, exchange, routing keys) for every consumer.
    pub fn consumers(&self) -> Vec<(String, String, &'static [&'static str])> {
        vec![
            (self.auth_queue.clone(), self.auth_exchange.clone(), AUTH_BINDINGS),
            (self.pricing_queue.clone(), self.pricing_exchange.clone(), PRICING_BINDINGS),
            (self.inventory_queue.clone(), self.inventory_exchange.clone(), INVENTORY_BINDINGS),
            (self.invalidation_queue.clone(), self.catalog_exchange.clone(), INVALIDATION_BINDINGS),
        ]
    }
}
