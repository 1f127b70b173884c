//! Outbox relay scenarios. A private queue bound to `#` on the `catalog_events` exchange receives
//! what the worker publishes; each message's envelope `timestamp` (set when the write recorded
//! its event, just before commit) is compared with the time it arrived.
//!
//! - `relay-burst`: `--events` real product updates through the repositories (each one a
//!   transaction: row update + outbox row), from `--concurrency` connections as fast as
//!   PostgreSQL takes them. Measures commit-to-publish latency while writes stream in.
//! - `relay-drain`: `--events` outbox rows committed in ONE transaction, then timed until the
//!   last one arrives: the relay's drain rate from a standing backlog. Then the same messages
//!   are published again by the worker's `Publisher` without the database: the drain's ceiling.

use crate::fixture::Scale;
use crate::load::{mix, quantile_ms, round3};
use amiquip::{
    ConsumerMessage, ConsumerOptions, ExchangeDeclareOptions, ExchangeType, FieldTable, QueueDeclareOptions,
};
use anyhow::Context as _;
use catalog_core::ids::{OrganizationId, ProductId};
use catalog_core::models::{Actor, ProductChanges};
use catalog_core::repo::outbox;
use catalog_core::repo::published::{self, Aggregate, EventDraft};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct RelayArgs {
    pub database_url: String,
    pub amqp_url: String,
    pub exchange: String,
    pub events: u64,
    pub concurrency: usize,
    pub timeout: Duration,
    pub scale: Scale,
}

/// (arrival, envelope timestamp) of every message of this run.
struct Received {
    arrivals: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    foreign: u64,
}

/// Starts the consumer thread; returns once the queue is bound and consuming.
async fn start_consumer(
    args: &RelayArgs,
    tag: String,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<Received>>> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
    let (url, exchange, expected, timeout) = (args.amqp_url.clone(), args.exchange.clone(), args.events, args.timeout);
    let handle = tokio::task::spawn_blocking(move || consume(&url, &exchange, &tag, expected, timeout, ready_tx));
    ready_rx.await.context("consumer thread ended early")??;
    Ok(handle)
}

fn consume(
    url: &str,
    exchange: &str,
    tag: &str,
    expected: u64,
    timeout: Duration,
    ready: tokio::sync::oneshot::Sender<anyhow::Result<()>>,
) -> anyhow::Result<Received> {
    let mut ready = Some(ready);
    let outcome = receive(url, exchange, tag, expected, timeout, &mut ready);
    if let (Err(e), Some(ready)) = (&outcome, ready.take()) {
        let _ = ready.send(Err(anyhow::anyhow!("RabbitMQ consumer setup: {e}")));
    }
    outcome
}

fn receive(
    url: &str,
    exchange: &str,
    tag: &str,
    expected: u64,
    timeout: Duration,
    ready: &mut Option<tokio::sync::oneshot::Sender<anyhow::Result<()>>>,
) -> anyhow::Result<Received> {
    let mut connection = amiquip::Connection::insecure_open(url)?;
    let channel = connection.open_channel(None)?;
    channel.exchange_declare(
        ExchangeType::Topic,
        exchange,
        ExchangeDeclareOptions { durable: true, ..Default::default() },
    )?;
    let queue =
        channel.queue_declare("", QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() })?;
    channel.queue_bind(queue.name(), exchange, "#", FieldTable::new())?;
    channel.qos(0, 2000, false)?;
    let consumer = queue.consume(ConsumerOptions { no_ack: true, ..Default::default() })?;
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    let deadline = Instant::now() + timeout;
    let mut received = Received { arrivals: Vec::with_capacity(expected as usize), foreign: 0 };
    while (received.arrivals.len() as u64) < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let message = match consumer.receiver().recv_timeout(left) {
            Ok(message) => message,
            Err(_) => break,
        };
        let arrived = Utc::now();
        let ConsumerMessage::Delivery(delivery) = message else { break };
        let Ok(envelope) = serde_json::from_slice::<Value>(&delivery.body) else {
            received.foreign += 1;
            continue;
        };
        if envelope.pointer("/metadata/correlation_id").and_then(Value::as_str) != Some(tag) {
            received.foreign += 1;
            continue;
        }
        let stamped = envelope
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(stamped) = stamped {
            received.arrivals.push((arrived, stamped));
        }
    }
    let _ = consumer.cancel();
    drop(consumer);
    drop(queue);
    let _ = channel.close();
    let _ = connection.close();
    Ok(received)
}

fn latency_summary(mut samples_us: Vec<u32>) -> Value {
    samples_us.sort_unstable();
    json!({
        "p50": round3(quantile_ms(&samples_us, 0.50)),
        "p90": round3(quantile_ms(&samples_us, 0.90)),
        "p99": round3(quantile_ms(&samples_us, 0.99)),
        "max": round3(quantile_ms(&samples_us, 1.0)),
    })
}

fn micros(later: DateTime<Utc>, earlier: DateTime<Utc>) -> u32 {
    (later - earlier).num_microseconds().unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32
}

fn run_tag(kind: &str) -> String {
    format!("bench-{kind}-{}", Utc::now().timestamp_millis())
}

/// `relay-burst`: N product updates from C connections; latency of each event.
pub async fn burst(args: &RelayArgs) -> anyhow::Result<Value> {
    let tag = run_tag("burst");
    let consumer = start_consumer(args, tag.clone()).await?;
    let actor = Actor { user_id: None, correlation_id: Some(tag.clone()) };
    let next = Arc::new(AtomicU64::new(0));
    // A base far from the seed's alert_stock values (0..20) and unique per write, so every
    // update changes its row and publishes exactly one event (even when a product repeats).
    let base = 1_000 + (Utc::now().timestamp() % 1_000_000) as i32 * 100;
    let started = Instant::now();
    let first_write = Utc::now();
    let mut writers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (url, actor, next, scale, events) =
            (args.database_url.clone(), actor.clone(), next.clone(), args.scale, args.events);
        writers.push(tokio::spawn(async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            let mut failures = 0_u64;
            loop {
                let w = next.fetch_add(1, Ordering::Relaxed);
                if w >= events {
                    break;
                }
                let n = 1 + mix(w) % scale.products;
                let org = OrganizationId(scale.organization(scale.org_number(n)));
                let changes = ProductChanges { alert_stock: Some(base + w as i32 + 1), ..Default::default() };
                let updated = catalog_core::repo::products::update(
                    &mut conn,
                    org,
                    &actor,
                    ProductId(scale.product(n)),
                    None,
                    changes,
                )
                .await;
                if updated.is_err() {
                    failures += 1;
                }
            }
            Ok::<u64, anyhow::Error>(failures)
        }));
    }
    let mut failures = 0;
    for writer in writers {
        failures += writer.await??;
    }
    let write_seconds = started.elapsed().as_secs_f64();
    let received = consumer.await??;
    let latencies: Vec<u32> = received.arrivals.iter().map(|(arrived, stamped)| micros(*arrived, *stamped)).collect();
    let last = received.arrivals.iter().map(|(a, _)| *a).max().unwrap_or(first_write);
    let span = (last - first_write).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let got = received.arrivals.len() as u64;
    Ok(json!({
        "events_written": args.events - failures,
        "events_received": got,
        "write_failures": failures,
        "writes_per_s": round3((args.events - failures) as f64 / write_seconds.max(1e-9)),
        "write_seconds": round3(write_seconds),
        "events_per_s": round3(got as f64 / span.max(1e-9)),
        "first_write_to_last_publish_s": round3(span),
        "latency_ms": latency_summary(latencies),
        "foreign_messages": received.foreign,
    }))
}

/// `relay-drain`: N outbox rows in one transaction; time until the relay published them all.
pub async fn drain(args: &RelayArgs) -> anyhow::Result<Value> {
    let tag = run_tag("drain");
    let consumer = start_consumer(args, tag.clone()).await?;
    let actor = Actor { user_id: None, correlation_id: Some(tag.clone()) };
    let scale = args.scale;
    let mut conn = AsyncPgConnection::establish(&args.database_url).await?;
    let events = args.events;
    let insert_started = Instant::now();
    conn.transaction::<_, catalog_core::error::Error, _>(async |conn| {
        let mut w = 0;
        while w < events {
            let org_k = 1 + (w / 1000 % u64::from(scale.organizations)) as u32;
            let org = OrganizationId(scale.organization(org_k));
            let chunk_end = (w + 1000).min(events);
            // Each multi-row insert stays under PostgreSQL's bind-parameter limit; all rows of
            // a chunk belong to one organization, as `append` requires.
            let drafts: Vec<EventDraft> = (w..chunk_end)
                .map(|v| {
                    let n = scale.nth_of_org(org_k, mix(v));
                    let product = scale.product(n);
                    published::updated(Aggregate::Product, product, 1, &published::change("bench", None, Some(v)))
                })
                .collect();
            outbox::append(conn, org, &actor, drafts).await?;
            w = chunk_end;
        }
        Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("outbox insert: {e}"))?;
    let committed = Utc::now();
    let insert_seconds = insert_started.elapsed().as_secs_f64();
    let received = consumer.await??;
    let latencies: Vec<u32> = received.arrivals.iter().map(|(arrived, _)| micros(*arrived, committed)).collect();
    let last = received.arrivals.iter().map(|(a, _)| *a).max().unwrap_or(committed);
    let span = (last - committed).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let got = received.arrivals.len() as u64;
    let drain_rate = got as f64 / span.max(1e-9);
    let mut line = json!({
        "events_written": events,
        "events_received": got,
        "insert_seconds": round3(insert_seconds),
        "events_per_s": round3(drain_rate),
        "commit_to_last_publish_s": round3(span),
        "latency_from_commit_ms": latency_summary(latencies),
        "foreign_messages": received.foreign,
    });
    // bench/run.sh's profile of the drain leaves the ceiling out (BENCH_RELAY_CEILING=0).
    if std::env::var("BENCH_RELAY_CEILING").as_deref() != Ok("0") {
        let ceiling = publish_ceiling(args, &mut conn, &tag).await?;
        let ceiling_rate = ceiling["events_per_s"].as_f64().unwrap_or(0.0);
        line["ratio_to_publish_ceiling"] = json!(round3(drain_rate / ceiling_rate.max(1e-9)));
        line["publish_ceiling"] = ceiling;
    }
    Ok(line)
}

/// The drain's ceiling: the very messages it relayed, published again by the worker's own
/// `Publisher` in batches of the relay's size, with no database in the loop: what the broker,
/// the client library and this machine allow.
async fn publish_ceiling(args: &RelayArgs, conn: &mut AsyncPgConnection, tag: &str) -> anyhow::Result<Value> {
    use catalog_worker::publisher::{OutgoingMessage, Publisher};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Relayed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_type: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        body: String,
    }
    let relayed: Vec<Relayed> = diesel::sql_query(
        "SELECT event_type, event_id::text, payload::text AS body FROM outbox \
         WHERE payload->'metadata'->>'correlation_id' = $1 ORDER BY id",
    )
    .bind::<diesel::sql_types::Text, _>(tag)
    .load(conn)
    .await?;
    let batch_size: usize = std::env::var("WORKER_OUTBOX_BATCH_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let messages: Vec<OutgoingMessage> = relayed
        .into_iter()
        .map(|row| OutgoingMessage {
            routing_key: row.event_type,
            message_id: row.event_id,
            body: row.body.into_bytes(),
            headers: Vec::new(),
        })
        .collect();
    let consumer =
        start_consumer(&RelayArgs { events: messages.len() as u64, ..args.clone() }, tag.to_string()).await?;
    let publisher = Publisher::start(args.amqp_url.clone(), args.exchange.clone());
    let started = Utc::now();
    // Every batch handed over at once: the publisher writes each while earlier ones await their
    // confirms, as far as the broker lets it (the relay keeps only two in flight).
    let mut verdicts = Vec::new();
    for batch in messages.chunks(batch_size.max(1)) {
        verdicts.push(publisher.hand_over(batch.to_vec()).await.map_err(|e| anyhow::anyhow!("publish: {e}"))?);
    }
    for verdict in verdicts {
        verdict.confirmed().await.map_err(|e| anyhow::anyhow!("publish: {e}"))?;
    }
    let received = consumer.await??;
    let last = received.arrivals.iter().map(|(a, _)| *a).max().unwrap_or(started);
    let span = (last - started).num_microseconds().unwrap_or(0) as f64 / 1e6;
    Ok(json!({
        "events": messages.len(),
        "events_received": received.arrivals.len(),
        "batch_size": batch_size,
        "events_per_s": round3(received.arrivals.len() as f64 / span.max(1e-9)),
    }))
}
