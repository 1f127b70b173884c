//! Consumers of other services' events (and of the catalog's own, for cache invalidation).
//!
//! One blocking thread per queue (amiquip is blocking). Each message is handled to completion
//! before it is acknowledged; transient failures are retried with backoff a bounded number of
//! times; what cannot succeed — unparseable, unknown shape, still failing — is rejected to the
//! dead-letter queue, so one poison message never blocks the queue.
//!
//! Inventory's stock reports come in bursts and each costs a transaction: the deliveries that
//! have already arrived (up to `STOCK_EVENTS_BATCH_SIZE`) are applied in one transaction and
//! acknowledged after it commits; a batch that fails for good is retried one event at a time,
//! so only the poison one is dead-lettered. Every other event is handled alone, in order.

use crate::backoff::Backoff;
use crate::metrics::WorkerMetrics;
use crate::topology::{Topology, declare};
use amiquip::{AmqpValue, Channel, Connection, ConsumerMessage, ConsumerOptions, Delivery, Publish};
use catalog_core::inbound::{self, EventHandler, IncomingEvent, Outcome};
use catalog_core::shutdown::Shutdown;
use catalog_core::telemetry::{self, Served};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often each consumer reads the dead-letter queue's depth.
const DEAD_LETTERS_EVERY: Duration = Duration::from_secs(15);

pub struct Consumers {
    pub url: String,
    pub topology: Topology,
    pub handler: EventHandler,
    pub metrics: WorkerMetrics,
    pub max_retries: u32,
    /// The most stock reports applied in one transaction.
    pub stock_batch_size: u16,
}

impl Consumers {
    /// Starts one thread per queue; they stop (after the message in hand) when `stop` fires.
    pub fn start(self, runtime: tokio::runtime::Handle, stop: Shutdown) -> Vec<std::thread::JoinHandle<()>> {
        let shared = Arc::new(self);
        shared
            .topology
            .consumers()
            .into_iter()
            .filter_map(|(queue, exchange, bindings)| {
                let (me, runtime, stop) = (shared.clone(), runtime.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("consume-{queue}"))
                    .spawn(move || me.consume_forever(&runtime, &stop, &queue, &exchange, bindings))
                    .ok()
            })
            .collect()
    }

    fn consume_forever(
        &self,
        runtime: &tokio::runtime::Handle,
        stop: &Shutdown,
        queue: &str,
        exchange: &str,
        bindings: &[&str],
    ) {
        let mut backoff = Backoff::default();
        while !stop.triggered() {
            match self.session(runtime, stop, queue, exchange, bindings, &mut backoff) {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(queue, error = %e, "consumer disconnected; reconnecting");
                    std::thread::sleep(backoff.pause());
                }
            }
        }
    }

    /// Deliveries taken together from `queue`, and the queue's prefetch.
    fn batching(&self, queue: &str) -> (usize, u16) {
        if queue == self.topology.inventory_queue {
            let batch = self.stock_batch_size.max(1);
            (usize::from(batch), self.topology.prefetch.max(batch.saturating_mul(2)))
        } else {
            (1, self.topology.prefetch)
        }
    }

    /// Declares the topology this queue needs (idempotent) and consumes until stopped or broken.
    fn session(
        &self,
        runtime: &tokio::runtime::Handle,
        stop: &Shutdown,
        queue: &str,
        exchange: &str,
        bindings: &[&str],
        backoff: &mut Backoff,
    ) -> amiquip::Result<()> {
        let mut connection = Connection::insecure_open(&self.url)?;
        let channel = connection.open_channel(None)?;
        declare(&channel, &self.topology, queue, exchange, bindings)?;
        let (batch_size, prefetch) = self.batching(queue);
        channel.qos(0, prefetch, false)?;
        let consumer = channel.basic_consume(queue, ConsumerOptions::default())?;
        // Every outcome's series exists from the start, so rates and alerts see its first event.
        for outcome in ["handled", "duplicate", "ignored", "dead_lettered"] {
            self.metrics.consumed.with_label_values(&[queue, outcome]);
        }
        tracing::info!(queue, "consuming");
        backoff.reset();
        let mut batch = Vec::with_capacity(batch_size);
        let mut dead_letters_counted: Option<Instant> = None;
        while !stop.triggered() {
            if dead_letters_counted.is_none_or(|at| at.elapsed() >= DEAD_LETTERS_EVERY) {
                self.count_dead_letters(&channel)?;
                dead_letters_counted = Some(Instant::now());
            }
            match consumer.receiver().recv_timeout(Duration::from_millis(500)) {
                Ok(ConsumerMessage::Delivery(delivery)) => batch.push(delivery),
                Ok(_) => return Err(amiquip::Error::ClientClosedChannel),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(amiquip::Error::ClientClosedChannel);
                }
            }
            // What has already arrived joins the batch; nothing waits for more.
            while batch.len() < batch_size {
                match consumer.receiver().try_recv() {
                    Ok(ConsumerMessage::Delivery(delivery)) => batch.push(delivery),
                    _ => break,
                }
            }
            self.process_batch(runtime, &channel, queue, std::mem::take(&mut batch))?;
        }
        let _ = consumer.cancel();
        drop(consumer);
        let _ = channel.close();
        connection.close()
    }

    /// Reads the dead-letter queue's depth (a passive declare) into its gauge.
    fn count_dead_letters(&self, channel: &Channel) -> amiquip::Result<()> {
        let dead_letters = channel.queue_declare_passive(self.topology.dead_letter_queue.as_str())?;
        if let Some(count) = dead_letters.declared_message_count() {
            self.metrics
                .dead_letter_queue_messages
                .with_label_values(&[self.topology.dead_letter_queue.as_str()])
                .set(i64::from(count));
        }
        Ok(())
    }

    /// Handles `deliveries` in order: runs of stock reports together, everything else alone.
    fn process_batch(
        &self,
        runtime: &tokio::runtime::Handle,
        channel: &Channel,
        queue: &str,
        deliveries: Vec<Delivery>,
    ) -> amiquip::Result<()> {
        let mut run: Vec<(Delivery, IncomingEvent)> = Vec::new();
        for delivery in deliveries {
            let message_id = delivery.properties.message_id().clone();
            match inbound::parse(&delivery.body, message_id.as_deref()) {
                Ok(event) if EventHandler::is_stock_report(&event) => run.push((delivery, event)),
                parsed => {
                    self.process_stock_reports(runtime, channel, queue, std::mem::take(&mut run))?;
                    let started = Instant::now();
                    let served = process_span(queue, &delivery, parsed.as_ref().ok());
                    let outcome = served.run_blocking(|| match parsed {
                        Err(e) => Err(format!("unparseable: {e}")),
                        Ok(event) => self.handle_with_retries(runtime, queue, &event),
                    });
                    if let (Some(span), Err(reason)) = (served.span(), &outcome) {
                        telemetry::fail(span, reason);
                    }
                    self.metrics.handler_seconds.observe(started.elapsed().as_secs_f64());
                    self.finish(channel, queue, delivery, outcome)?;
                }
            }
        }
        self.process_stock_reports(runtime, channel, queue, run)
    }

    fn handle_with_retries(
        &self,
        runtime: &tokio::runtime::Handle,
        queue: &str,
        event: &IncomingEvent,
    ) -> Result<Outcome, String> {
        self.with_retries(queue, &event.name, || runtime.block_on(self.handler.handle(event)))
            .map_err(|e| format!("{} failed: {e}", event.name))
    }

    /// Runs `attempt` again after a transient failure, up to `max_retries` times, with backoff.
    fn with_retries<T>(
        &self,
        queue: &str,
        what: &str,
        mut attempt: impl FnMut() -> catalog_core::error::Result<T>,
    ) -> catalog_core::error::Result<T> {
        let mut retries = 0;
        loop {
            match attempt() {
                Err(e) if e.is_transient() && retries < self.max_retries => {
                    retries += 1;
                    let pause = Duration::from_millis(100 * 2u64.pow(retries.min(5)));
                    tracing::warn!(queue, event = what, attempt = retries, error = %e, "transient failure; retrying");
                    std::thread::sleep(pause);
                }
                result => return result,
            }
        }
    }

    /// Applies a run of stock reports in one transaction, then acknowledges each. If the batch
    /// cannot succeed, each report is tried alone, so only what is itself broken is
    /// dead-lettered.
    fn process_stock_reports(
        &self,
        runtime: &tokio::runtime::Handle,
        channel: &Channel,
        queue: &str,
        run: Vec<(Delivery, IncomingEvent)>,
    ) -> amiquip::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let events: Vec<&IncomingEvent> = run.iter().map(|(_, event)| event).collect();
        let applied =
            self.with_retries(queue, "inventory.stock batch", || runtime.block_on(self.handler.handle_stock(&events)));
        self.metrics.handler_seconds.observe(started.elapsed().as_secs_f64());
        let outcomes: Vec<Result<Outcome, String>> = match applied {
            Ok(outcomes) => outcomes
                .into_iter()
                .zip(&events)
                .map(|(outcome, event)| outcome.map_err(|e| format!("{} failed: {e}", event.name)))
                .collect(),
            Err(e) if run.len() > 1 => {
                tracing::warn!(queue, events = run.len(), error = %e, "stock batch failed; applying its events one by one");
                events.iter().map(|event| self.handle_with_retries(runtime, queue, event)).collect()
            }
            Err(e) => vec![Err(format!("{} failed: {e}", events[0].name))],
        };
        for ((delivery, event), outcome) in run.into_iter().zip(outcomes) {
            if outcome == Ok(Outcome::Handled) {
                self.note_stock_report(&event);
            }
            self.finish(channel, queue, delivery, outcome)?;
        }
        Ok(())
    }

    /// Acknowledges a handled delivery, dead-letters a failed one; counts either.
    fn finish(
        &self,
        channel: &Channel,
        queue: &str,
        delivery: Delivery,
        outcome: Result<Outcome, String>,
    ) -> amiquip::Result<()> {
        match outcome {
            Ok(outcome) => {
                let label = match outcome {
                    Outcome::Handled => "handled",
                    Outcome::Duplicate => "duplicate",
                    Outcome::Ignored(_) => "ignored",
                };
                self.metrics.consumed.with_label_values(&[queue, label]).inc();
                delivery.ack(channel)
            }
            Err(reason) => {
                tracing::error!(queue, reason, "event dead-lettered");
                self.metrics.consumed.with_label_values(&[queue, "dead_lettered"]).inc();
                self.metrics.dead_lettered.inc();
                self.dead_letter(channel, queue, delivery, reason)
            }
        }
    }

    /// The stock model's freshness: the time of the newest Inventory report applied (its lag
    /// is `time() - inventory_stock_last_report_timestamp_seconds`; it grows while Inventory's
    /// events stop).
    fn note_stock_report(&self, event: &IncomingEvent) {
        let at = EventHandler::observed_at(event).timestamp();
        if at > self.metrics.stock_last_report.get() {
            self.metrics.stock_last_report.set(at);
        }
    }

    /// Sends the message to the DLQ with why (`x-dead-letter-reason`) and where it came from
    /// (`x-dead-letter-queue`, `x-original-routing-key`), so whoever drains the DLQ need not
    /// read the logs, then acks it. On the same channel the broker takes the copy before the
    /// ack; if the copy cannot be sent, the queue's dead-letter exchange takes the message
    /// (without the reason) through a reject.
    fn dead_letter(&self, channel: &Channel, queue: &str, delivery: Delivery, reason: String) -> amiquip::Result<()> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert("x-dead-letter-reason".into(), AmqpValue::LongString(reason));
        headers.insert("x-dead-letter-queue".into(), AmqpValue::LongString(queue.to_string()));
        headers.insert("x-original-routing-key".into(), AmqpValue::LongString(delivery.routing_key.clone()));
        let properties = delivery.properties.clone().with_headers(headers);
        let copy = Publish::with_properties(&delivery.body, "", properties);
        match channel.basic_publish(self.topology.dead_letter_exchange.as_str(), copy) {
            Ok(()) => delivery.ack(channel),
            Err(e) => {
                tracing::warn!(queue, error = %e, "could not send the dead letter with its reason; rejecting it");
                delivery.reject(channel, false)
            }
        }
    }
}

/// The consumer side of a delivery: it continues the trace its AMQP headers carry (or, from
/// producers that only write the envelope, `metadata.traceparent`).
fn process_span(queue: &str, delivery: &Delivery, event: Option<&IncomingEvent>) -> Served {
    let headers = delivery.properties.headers().as_ref();
    let header = |key: &str| match headers?.get(key)? {
        AmqpValue::LongString(value) => Some(value.as_str()),
        _ => None,
    };
    let parent = if header(telemetry::TRACEPARENT).is_some() {
        telemetry::extract(header)
    } else {
        event.map(|event| telemetry::extract_event(&event.metadata)).unwrap_or_default()
    };
    Served::start(parent, || {
        catalog_core::work_span!(
            "process",
            "consumer",
            otel.name = %format_args!("process {queue}"),
            messaging.system = "rabbitmq",
            messaging.operation.type = "process",
            messaging.destination.name = %delivery.exchange,
            messaging.rabbitmq.destination.routing_key = %delivery.routing_key,
            messaging.consumer.group.name = queue,
            messaging.message.id = event.map(|event| event.event_id.as_str()),
        )
    })
}
