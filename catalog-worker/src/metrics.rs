//! The worker's Prometheus metrics.

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub struct WorkerMetrics {
    pub published: IntCounter,
    pub publish_failures: IntCounter,
    pub outbox_backlog: IntGauge,
    pub outbox_oldest_age_seconds: IntGauge,
    pub relay_leader: IntGauge,
    pub relay_partitions_held: IntGauge,
    pub relay_partitions: IntGauge,
    pub consumed: IntCounterVec,
    pub dead_lettered: IntCounter,
    pub dead_letter_queue_messages: IntGaugeVec,
    pub handler_seconds: Histogram,
    pub media_removed: IntCounter,
    pub media_removal_failures: IntCounter,
    pub media_deletions_backlog: IntGauge,
    pub stock_last_report: IntGauge,
    pub stock_lag_seconds: GaugeVec,
    pub stock_reconciled: IntCounterVec,
    pub stock_reconcile_failures: IntCounter,
}

impl WorkerMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            published: IntCounter::new("outbox_published_total", "Events published to RabbitMQ and confirmed")?,
            publish_failures: IntCounter::new("outbox_publish_failures_total", "Relay batches that failed to publish")?,
            outbox_backlog: IntGauge::new("outbox_backlog", "Outbox rows not yet published")?,
            outbox_oldest_age_seconds: IntGauge::new(
                "outbox_oldest_unpublished_age_seconds",
                "Age of the oldest unpublished row",
            )?,
            relay_leader: IntGauge::new(
                "outbox_relay_leader",
                "1 when this replica relays at least one outbox partition",
            )?,
            relay_partitions_held: IntGauge::new(
                "outbox_relay_partitions_held",
                "Outbox partitions this replica relays",
            )?,
            relay_partitions: IntGauge::new(
                "outbox_relay_partitions",
                "Outbox partitions in use (outbox_relay.partitions)",
            )?,
            consumed: IntCounterVec::new(
                Opts::new("events_consumed_total", "Consumed events by outcome"),
                &["queue", "outcome"],
            )?,
            dead_lettered: IntCounter::new(
                "events_dead_lettered_total",
                "Consumed events sent to the dead-letter queue",
            )?,
            dead_letter_queue_messages: IntGaugeVec::new(
                Opts::new(
                    "dead_letter_queue_messages",
                    "Messages waiting in the dead-letter queue (read by each consumer every 15 s)",
                ),
                &["queue"],
            )?,
            handler_seconds: Histogram::with_opts(HistogramOpts::new(
                "event_handler_duration_seconds",
                "Consumed event handling time (a batch of Inventory stock reports counts once)",
            ))?,
            media_removed: IntCounter::new(
                "media_files_removed_total",
                "Uploaded images' files removed from object storage",
            )?,
            media_removal_failures: IntCounter::new(
                "media_file_removal_failures_total",
                "Files object storage failed to remove (retried later)",
            )?,
            media_deletions_backlog: IntGauge::new(
                "media_deletions_backlog",
                "Files scheduled for removal, due or not (failed uploads wait out a grace period)",
            )?,
            stock_last_report: IntGauge::new(
                "inventory_stock_last_report_timestamp_seconds",
                "Time of the newest Inventory stock report applied to the stock read model (lag: time() minus this)",
            )?,
            stock_lag_seconds: GaugeVec::new(
                Opts::new(
                    "inventory_stock_lag_seconds",
                    "Age of the newest Inventory report applied to the stock read model, per organization",
                ),
                &["organization_id"],
            )?,
            stock_reconciled: IntCounterVec::new(
                Opts::new(
                    "stock_reconciled_variants_total",
                    "Variants compared with Inventory's answer (checked) and replaced because they differed (repaired)",
                ),
                &["outcome"],
            )?,
            stock_reconcile_failures: IntCounter::new(
                "stock_reconciliation_failures_total",
                "Organizations whose reconciliation with Inventory failed (retried next pass)",
            )?,
        };
        registry.register(Box::new(metrics.published.clone()))?;
        registry.register(Box::new(metrics.publish_failures.clone()))?;
        registry.register(Box::new(metrics.outbox_backlog.clone()))?;
        registry.register(Box::new(metrics.outbox_oldest_age_seconds.clone()))?;
        registry.register(Box::new(metrics.relay_leader.clone()))?;
        registry.register(Box::new(metrics.relay_partitions_held.clone()))?;
        registry.register(Box::new(metrics.relay_partitions.clone()))?;
        registry.register(Box::new(metrics.consumed.clone()))?;
        registry.register(Box::new(metrics.dead_lettered.clone()))?;
        registry.register(Box::new(metrics.dead_letter_queue_messages.clone()))?;
        registry.register(Box::new(metrics.handler_seconds.clone()))?;
        registry.register(Box::new(metrics.media_removed.clone()))?;
        registry.register(Box::new(metrics.media_removal_failures.clone()))?;
        registry.register(Box::new(metrics.media_deletions_backlog.clone()))?;
        registry.register(Box::new(metrics.stock_last_report.clone()))?;
        registry.register(Box::new(metrics.stock_lag_seconds.clone()))?;
        registry.register(Box::new(metrics.stock_reconciled.clone()))?;
        registry.register(Box::new(metrics.stock_reconcile_failures.clone()))?;
        Ok(metrics)
    }
}
