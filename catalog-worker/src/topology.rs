//! Exchange and queue names, and how the queues are declared. `RABBITMQ_QUEUE_PREFIX` prefixes
//! every queue and every exchange the worker does not publish to, so tests (and several
//! deployments) can share one broker.
//!
//! The consumed queues and the dead-letter queue are quorum queues by default
//! (`RABBITMQ_QUEUE_TYPE`): a RabbitMQ cluster replicates them, so losing a node loses no event.
//! A queue's type and arguments cannot change once declared, and a declaration that disagrees
//! with the existing queue is refused by the broker (`PRECONDITION_FAILED`): [`verify`] finds
//! that before any consumer starts and names the queue and the disagreement.

use amiquip::{AmqpValue, Channel, Connection, ExchangeDeclareOptions, ExchangeType, FieldTable, QueueDeclareOptions};
use catalog_core::config::{QueueType, RabbitSettings};

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
    pub queue_type: QueueType,
    /// Quorum queues: deliveries without an acknowledgement before the broker dead-letters.
    pub delivery_limit: u32,
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
            queue_type: settings.queue_type,
            delivery_limit: settings.delivery_limit,
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

impl Topology {
    /// The dead-letter queue's arguments.
    pub fn dead_letter_queue_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if self.queue_type == QueueType::Quorum {
            arguments.insert("x-queue-type".into(), AmqpValue::LongString("quorum".into()));
        }
        arguments
    }

    /// A consumed queue's arguments: dead letters go to the dead-letter exchange; on a quorum
    /// queue the broker also counts deliveries, so a message whose consumer dies handling it
    /// (no retry in this process can count that) is dead-lettered after `delivery_limit`, and
    /// dead-lettering is at-least-once (the broker keeps the message until the DLQ confirmed it).
    pub fn consumed_queue_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        arguments.insert("x-dead-letter-exchange".into(), AmqpValue::LongString(self.dead_letter_exchange.clone()));
        if self.queue_type == QueueType::Quorum {
            arguments.insert("x-queue-type".into(), AmqpValue::LongString("quorum".into()));
            arguments.insert("x-delivery-limit".into(), AmqpValue::LongLongInt(i64::from(self.delivery_limit)));
            arguments.insert("x-dead-letter-strategy".into(), AmqpValue::LongString("at-least-once".into()));
            // At-least-once dead-lettering requires it; without a length limit it never rejects.
            arguments.insert("x-overflow".into(), AmqpValue::LongString("reject-publish".into()));
        }
        arguments
    }
}

/// Declares `queue`, bound to `exchange` by `bindings`, and the dead-letter queue (idempotent).
pub fn declare(
    channel: &Channel,
    topology: &Topology,
    queue: &str,
    exchange: &str,
    bindings: &[&str],
) -> amiquip::Result<()> {
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel.exchange_declare(ExchangeType::Fanout, topology.dead_letter_exchange.as_str(), durable.clone())?;
    channel.queue_declare(
        topology.dead_letter_queue.as_str(),
        QueueDeclareOptions { durable: true, arguments: topology.dead_letter_queue_arguments(), ..Default::default() },
    )?;
    channel.queue_bind(
        topology.dead_letter_queue.as_str(),
        topology.dead_letter_exchange.as_str(),
        "",
        FieldTable::default(),
    )?;

    channel.exchange_declare(ExchangeType::Topic, exchange, durable)?;
    let arguments = topology.consumed_queue_arguments();
    channel.queue_declare(queue, QueueDeclareOptions { durable: true, arguments, ..Default::default() })?;
    for key in bindings {
        channel.queue_bind(queue, exchange, *key, FieldTable::default())?;
    }
    Ok(())
}

/// Why the worker's queues cannot be used as configured.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The broker refused a declaration: an existing queue disagrees with the configuration.
    #[error(
        "queue {queue} exists with other settings than RABBITMQ_QUEUE_TYPE={wanted:?} declares ({broker}); \
         its consumer is not started — see deploy/README.md, \"Replicated queues\", to migrate it"
    )]
    Mismatch { queue: String, wanted: QueueType, broker: String },
    /// The broker could not be reached or failed otherwise: worth retrying.
    #[error("rabbitmq: {0}")]
    Broker(#[from] amiquip::Error),
}

/// Declares every consumed queue (and the dead-letter queue) as configured, each on its own
/// channel since a refused declaration closes its channel; reports the first disagreement.
pub fn verify(url: &str, topology: &Topology) -> Result<(), TopologyError> {
    let mut connection = Connection::insecure_open(url)?;
    let outcome = topology.consumers().into_iter().try_for_each(|(queue, exchange, bindings)| {
        let channel = connection.open_channel(None)?;
        match declare(&channel, topology, &queue, &exchange, bindings) {
            Ok(()) => {
                let _ = channel.close();
                Ok(())
            }
            Err(amiquip::Error::ServerClosedChannel { code: 406, message, .. }) => {
                // The message names the queue the broker refused: the DLQ or this one.
                let refused = if message.contains(&format!("'{}'", topology.dead_letter_queue)) {
                    topology.dead_letter_queue.clone()
                } else {
                    queue
                };
                Err(TopologyError::Mismatch { queue: refused, wanted: topology.queue_type, broker: message })
            }
            Err(e) => Err(e.into()),
        }
    });
    let _ = connection.close();
    outcome
}
