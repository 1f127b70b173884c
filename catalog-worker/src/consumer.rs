//! Consumers of other services' events (and of the catalog's own, for cache invalidation).
//!
//! One blocking thread per queue (amiquip is blocking). Each message is handled to completion
//! before it is acknowledged; transient failures are retried with backoff a bounded number of
//! times; what cannot succeed — unparseable, unknown shape, still failing — is rejected to the
//! dead-letter queue, so one poison message never blocks the queue.

use crate::backoff::Backoff;
use crate::metrics::WorkerMetrics;
use crate::topology::Topology;
use amiquip::{
    AmqpValue, Channel, Connection, ConsumerMessage, ConsumerOptions, Delivery, ExchangeDeclareOptions, ExchangeType,
    FieldTable, Publish, QueueDeclareOptions,
};
use catalog_core::events::{self, EventHandler, Outcome};
use catalog_core::shutdown::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Consumers {
    pub url: String,
    pub topology: Topology,
    pub handler: EventHandler,
    pub metrics: WorkerMetrics,
    pub max_retries: u32,
}

impl Consumers {
    /// Starts one thread per queue; they stop (after the message in hand) when `stop` fires.
    pub fn start(self, runtime: tokio::runtime::Handle, stop: Shutdown) -> Vec<std::thread::JoinHandle<()>> {
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        runtime.spawn(async move {
            stop.wait().await;
            flag.store(true, Ordering::SeqCst);
        });
        let shared = Arc::new(self);
        shared
            .topology
            .consumers()
            .into_iter()
            .filter_map(|(queue, exchange, bindings)| {
                let (me, runtime, stopping) = (shared.clone(), runtime.clone(), stopping.clone());
                std::thread::Builder::new()
                    .name(format!("consume-{queue}"))
                    .spawn(move || me.consume_forever(&runtime, &stopping, &queue, &exchange, bindings))
                    .ok()
            })
            .collect()
    }

    fn consume_forever(
        &self,
        runtime: &tokio::runtime::Handle,
        stopping: &AtomicBool,
        queue: &str,
        exchange: &str,
        bindings: &[&str],
    ) {
        let mut backoff = Backoff::default();
        while !stopping.load(Ordering::SeqCst) {
            match self.session(runtime, stopping, queue, exchange, bindings, &mut backoff) {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(queue, error = %e, "consumer disconnected; reconnecting");
                    std::thread::sleep(backoff.pause());
                }
            }
        }
    }

    /// Declares the topology this queue needs (idempotent) and consumes until stopped or broken.
    fn session(
        &self,
        runtime: &tokio::runtime::Handle,
        stopping: &AtomicBool,
        queue: &str,
        exchange: &str,
        bindings: &[&str],
        backoff: &mut Backoff,
    ) -> amiquip::Result<()> {
        let mut connection = Connection::insecure_open(&self.url)?;
        let channel = connection.open_channel(None)?;
        declare(&channel, &self.topology, queue, exchange, bindings)?;
        channel.qos(0, self.topology.prefetch, false)?;
        let consumer = channel.basic_consume(queue, ConsumerOptions::default())?;
        tracing::info!(queue, "consuming");
        backoff.reset();
        while !stopping.load(Ordering::SeqCst) {
            match consumer.receiver().recv_timeout(Duration::from_millis(500)) {
                Ok(ConsumerMessage::Delivery(delivery)) => self.process(runtime, &channel, queue, delivery)?,
                Ok(_) => return Err(amiquip::Error::ClientClosedChannel),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(amiquip::Error::ClientClosedChannel);
                }
            }
        }
        let _ = consumer.cancel();
        drop(consumer);
        let _ = channel.close();
        connection.close()
    }

    fn process(
        &self,
        runtime: &tokio::runtime::Handle,
        channel: &Channel,
        queue: &str,
        delivery: Delivery,
    ) -> amiquip::Result<()> {
        let started = Instant::now();
        let message_id = delivery.properties.message_id().clone();
        let outcome = match events::parse(&delivery.body, message_id.as_deref()) {
            Err(e) => Err(format!("unparseable: {e}")),
            Ok(event) => {
                let mut attempt = 0;
                loop {
                    match runtime.block_on(self.handler.handle(&event)) {
                        Ok(outcome) => {
                            if outcome == Outcome::Handled && event.name.starts_with("inventory.stock.") {
                                self.note_stock_report(&event);
                            }
                            break Ok(outcome);
                        }
                        Err(e) if e.is_transient() && attempt < self.max_retries => {
                            attempt += 1;
                            let pause = Duration::from_millis(100 * 2u64.pow(attempt.min(5)));
                            tracing::warn!(queue, event = %event.name, attempt, error = %e, "transient failure; retrying");
                            std::thread::sleep(pause);
                        }
                        Err(e) => break Err(format!("{} failed: {e}", event.name)),
                    }
                }
            }
        };
        self.metrics.handler_seconds.observe(started.elapsed().as_secs_f64());
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
    fn note_stock_report(&self, event: &catalog_core::events::IncomingEvent) {
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

fn declare(
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
        QueueDeclareOptions { durable: true, ..Default::default() },
    )?;
    channel.queue_bind(
        topology.dead_letter_queue.as_str(),
        topology.dead_letter_exchange.as_str(),
        "",
        FieldTable::default(),
    )?;

    channel.exchange_declare(ExchangeType::Topic, exchange, durable)?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-dead-letter-exchange".into(), AmqpValue::LongString(topology.dead_letter_exchange.clone()));
    channel.queue_declare(queue, QueueDeclareOptions { durable: true, arguments, ..Default::default() })?;
    for key in bindings {
        channel.queue_bind(queue, exchange, *key, FieldTable::default())?;
    }
    Ok(())
}
