//! The stock read model (issue 19; `bench/stock.sh`).
//!
//! - `stock-events`: a burst of `inventory.stock.updated` events, each exactly as Inventory's
//!   page prints it (peers/inventory-service_14: no `event_id`, a `timestamp` to the second, the
//!   organization, `quantities` and `previous_quantities`), one per (variant, warehouse) of a
//!   seeded organization, published with publisher confirms as persistent messages to the
//!   exchange the worker binds (`{prefix}inventory_events`). `--consumer worker` then waits
//!   until the worker has consumed them all (its `events_consumed_total` for the inventory
//!   queue) and reads what it wrote (`variant_stock`: rows, first and last `applied_at`);
//!   `--consumer noop` is the broker's ceiling: a private durable queue on its own exchange,
//!   consumed in this process with the worker's prefetch and one ack per message, nothing else.
//!   Both start timing at the first publish and report the CPU each party used meanwhile.
//! - `rest-variants[-large][-in-stock]`: one page of `GET /products/{id}/variants`, with and
//!   without `in_stock=true`, for a random product of organization #1 (3 variants) or the
//!   2,000-variant bench product.
//! - SQL for `stock.sh`: the one-statement fill of `variant_stock` over `product_variants`, and
//!   the pgbench scripts of one event per transaction, as the worker applied them before it
//!   applied batches (commit 20a75ca: the upsert alone; the whole transaction).

use crate::fixture::{Scale, bench_product};
use crate::http::HttpConn;
use crate::load::{Op, mix, round3};
use amiquip::{
    AmqpProperties, Confirm, ConsumerMessage, ConsumerOptions, ExchangeDeclareOptions, ExchangeType, FieldTable,
    Publish, QueueDeclareOptions, QueueDeleteOptions,
};
use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Who consumes the burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// The running catalog-worker (its inventory queue), writing the read model.
    Worker,
    /// This process: ack each message, do nothing else (the broker's delivery ceiling).
    Noop,
}

impl std::str::FromStr for Consumer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "worker" => Ok(Self::Worker),
            "noop" => Ok(Self::Noop),
            other => Err(format!("{other:?}: worker or noop")),
        }
    }
}

pub struct EventsArgs {
    pub consumer: Consumer,
    pub amqp_url: String,
    /// The topic exchange to publish to (`{prefix}inventory_events` for the worker).
    pub exchange: String,
    /// `worker`: the worker's inventory queue (the metric's label); `noop`: the queue to declare.
    pub queue: String,
    pub database_url: String,
    /// The worker's Prometheus endpoint.
    pub metrics_url: String,
    pub worker_pid: Option<u32>,
    pub events: u64,
    pub warehouses: u32,
    /// Report for the warehouses `sql-stock-fill` wrote (updates of the rows it made, inserts
    /// where it made none) rather than for new warehouses of this run (inserts only).
    pub onto_fill: bool,
    /// `noop`: the consumer's prefetch (the worker's `RABBITMQ_PREFETCH`).
    pub prefetch: u16,
    pub timeout: Duration,
    pub scale: Scale,
}

/// The `i`-th variant of organization #1 (wrapping inside it).
fn org1_variant(scale: &Scale, i: u64) -> Uuid {
    let per_product = u64::from(scale.variants_per_product);
    let n = scale.nth_of_org(1, i / per_product);
    scale.variant(n, 1 + (i % per_product) as u32)
}

/// Variants organization #1 has in the seeded catalog.
fn org1_variants(scale: &Scale) -> u64 {
    (scale.products / u64::from(scale.organizations)).max(1) * u64::from(scale.variants_per_product)
}

/// A uuid made of a run's tag and a number (stock ids, movement ids).
fn tagged(tag: u32, kind: u16, k: u64) -> Uuid {
    Uuid::from_u128(
        (u128::from(tag) << 96) | (u128::from(kind) << 80) | (0x4000_u128 << 64) | (0x8000_u128 << 48) | u128::from(k),
    )
}

/// Event `k` of a burst: the page's `inventory.stock.updated`, its placeholders filled.
fn event_body(org: Uuid, variant: Uuid, warehouse: Uuid, tag: u32, k: u64, at: DateTime<Utc>) -> Vec<u8> {
    let r = mix(k ^ u64::from(tag));
    let total = 20 + r % 400;
    let damaged = (r >> 12) % 6;
    let reserved = (r >> 20) % (total - damaged).min(40);
    let available = total - damaged - reserved;
    let moved = 1 + (r >> 28) % 25;
    let (change_type, previous_total) = if (r >> 36) % 3 == 0 { ("out", total + moved) } else { ("in", total - moved) };
    let previous_available = (previous_total - damaged).saturating_sub(reserved);
    let body = json!({
        "event": "inventory.stock.updated",
        "version": "1.0",
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "organization_id": org,
        "data": {
            "stock_id": tagged(tag, 1, k),
            "variant_id": variant,
            "warehouse_id": warehouse,
            "quantities": { "total": total, "available": available, "reserved": reserved, "damaged": damaged },
            "previous_quantities": {
                "total": previous_total, "available": previous_available, "reserved": reserved, "damaged": damaged,
            },
            "change_type": change_type,
            "movement_id": tagged(tag, 2, k),
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Publishes `bodies` with publisher confirms; returns (first publish, all confirmed, nacked).
fn publish_all(url: &str, exchange: &str, bodies: &[Vec<u8>]) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>, u64)> {
    let mut connection = amiquip::Connection::insecure_open(url)?;
    let channel = connection.open_channel(None)?;
    channel.exchange_declare(
        ExchangeType::Topic,
        exchange,
        ExchangeDeclareOptions { durable: true, ..Default::default() },
    )?;
    channel.enable_publisher_confirms()?;
    let confirms = channel.listen_for_publisher_confirms()?;
    let properties = AmqpProperties::default().with_delivery_mode(2).with_content_type("application/json".into());
    let first = Utc::now();
    for body in bodies {
        channel
            .basic_publish(exchange, Publish::with_properties(body, "inventory.stock.updated", properties.clone()))?;
    }
    // Delivery tags run 1..=N; a confirm may cover every tag up to its own (`multiple`).
    let expected = bodies.len() as u64;
    let (mut settled, mut nacked) = (std::collections::BTreeSet::new(), 0_u64);
    let mut upto = 0_u64;
    while upto < expected && (settled.len() as u64) < expected {
        let confirm = confirms.recv_timeout(Duration::from_secs(60)).context("waiting for publisher confirms")?;
        let (payload, ack) = match confirm {
            Confirm::Ack(p) => (p, true),
            Confirm::Nack(p) => (p, false),
        };
        if payload.multiple {
            for tag in (upto + 1)..=payload.delivery_tag {
                if settled.insert(tag) && !ack {
                    nacked += 1;
                }
            }
        } else if settled.insert(payload.delivery_tag) && !ack {
            nacked += 1;
        }
        while settled.contains(&(upto + 1)) {
            upto += 1;
        }
    }
    let confirmed = Utc::now();
    let _ = channel.close();
    let _ = connection.close();
    Ok((first, confirmed, nacked))
}

/// Waits until `queue` exists (the worker declares it once its consumer connects): a message
/// published before would be routed nowhere.
fn wait_for_queue(url: &str, queue: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut connection = amiquip::Connection::insecure_open(url)?;
    loop {
        // A failed passive declare closes its channel: one channel per attempt.
        let channel = connection.open_channel(None)?;
        if channel.queue_declare_passive(queue).is_ok() {
            let _ = channel.close();
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "queue {queue} not declared within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = connection.close();
    Ok(())
}

/// The no-op consumer: a durable queue on its own exchange, emptied first; returns once it
/// consumes, then (joined) how many messages it acked and when the last ack went out.
fn noop_consumer(
    url: String,
    exchange: String,
    queue: String,
    prefetch: u16,
    expected: u64,
    timeout: Duration,
    ready: std::sync::mpsc::Sender<anyhow::Result<()>>,
) -> anyhow::Result<(u64, Option<DateTime<Utc>>)> {
    let setup = || -> anyhow::Result<_> {
        let connection = amiquip::Connection::insecure_open(&url)?;
        Ok(connection)
    };
    let mut connection = match setup() {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(anyhow::anyhow!("{e}")));
            return Err(e);
        }
    };
    let outcome = (|| -> anyhow::Result<(u64, Option<DateTime<Utc>>)> {
        let channel = connection.open_channel(None)?;
        channel.exchange_declare(
            ExchangeType::Topic,
            exchange.as_str(),
            ExchangeDeclareOptions { durable: true, ..Default::default() },
        )?;
        let q = channel.queue_declare(queue.as_str(), QueueDeclareOptions { durable: true, ..Default::default() })?;
        channel.queue_bind(q.name(), exchange.as_str(), "inventory.stock.updated", FieldTable::new())?;
        channel.queue_purge(q.name())?;
        channel.qos(0, prefetch, false)?;
        let consumer = q.consume(ConsumerOptions::default())?;
        let _ = ready.send(Ok(()));
        let deadline = Instant::now() + timeout;
        let (mut acked, mut last) = (0_u64, None);
        while acked < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match consumer.receiver().recv_timeout(left) {
                Ok(ConsumerMessage::Delivery(delivery)) => {
                    delivery.ack(&channel)?;
                    acked += 1;
                    last = Some(Utc::now());
                }
                _ => break,
            }
        }
        let _ = consumer.cancel();
        drop(consumer);
        let _ = q.delete(QueueDeleteOptions::default());
        let _ = channel.close();
        Ok((acked, last))
    })();
    if let Err(e) = &outcome {
        let _ = ready.send(Err(anyhow::anyhow!("no-op consumer: {e}")));
    }
    let _ = connection.close();
    outcome
}

/// CPU seconds (user + system) of every process, by pid, with its command name.
fn cpu_snapshot() -> HashMap<u32, (String, f64)> {
    let mut found = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(raw) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(open), Some(close)) = (raw.find('('), raw.rfind(')')) else { continue };
        let comm = raw[open + 1..close].to_string();
        let fields: Vec<&str> = raw[close + 1..].split_whitespace().collect();
        // After the name: state is field 3 of stat(5); utime and stime are fields 14 and 15.
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // USER_HZ is 100 on every Linux architecture this runs on.
        found.insert(pid, (comm, (ticks(11) + ticks(12)) as f64 / 100.0));
    }
    found
}

/// (busy, all) CPU seconds of the whole machine so far (`/proc/stat`): what every process used,
/// short-lived ones included (compilers of a concurrent build), which the per-process
/// snapshots miss.
fn machine_cpu() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return (0.0, 0.0) };
    let values: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let all: f64 = values.iter().sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    ((all - idle) / 100.0, all / 100.0)
}

/// CPU seconds each party used between two snapshots (processes born between count whole).
fn cpu_used(before: &HashMap<u32, (String, f64)>, after: &HashMap<u32, (String, f64)>, worker: Option<u32>) -> Value {
    let me = std::process::id();
    let mut by: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    for (pid, (comm, seconds)) in after {
        let start = before.get(pid).filter(|(c, _)| c == comm).map_or(0.0, |(_, s)| *s);
        let class = if Some(*pid) == worker {
            "catalog_worker"
        } else if *pid == me {
            "publisher_and_noop_consumer"
        } else if comm == "postgres" {
            "postgres"
        } else if comm == "beam.smp" || comm.ends_with("_scheduler") || comm == "erl_child_setup" {
            "rabbitmq"
        } else {
            "other"
        };
        *by.entry(class).or_default() += (seconds - start).max(0.0);
    }
    json!(by.into_iter().map(|(k, v)| (k.to_string(), json!(round3(v)))).collect::<serde_json::Map<_, _>>())
}

/// A counter's value (`name{labels} value`), summed over the lines that carry every label given.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

async fn scrape(url: &str) -> Option<String> {
    let response = crate::http::fetch(url, Duration::from_secs(2)).await.ok()?;
    String::from_utf8(response.body.to_vec()).ok()
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn seconds(later: DateTime<Utc>, earlier: DateTime<Utc>) -> f64 {
    (later - earlier).num_microseconds().unwrap_or(0) as f64 / 1e6
}

/// `stock-events`: see the module's documentation.
pub async fn events(args: &EventsArgs) -> anyhow::Result<Value> {
    let scale = args.scale;
    let warehouses = args.warehouses.max(1);
    let variants_needed = args.events.div_ceil(u64::from(warehouses));
    anyhow::ensure!(
        variants_needed <= org1_variants(&scale),
        "{} events over {warehouses} warehouses need {variants_needed} variants; organization #1 has {}",
        args.events,
        org1_variants(&scale)
    );
    // New warehouses of this run (Inventory's ids are uuids: every event writes a new row), or
    // the fill's (an event updates the row the fill wrote, or adds the variant's second one).
    let tag = (Utc::now().timestamp() as u32) | 1;
    let warehouse_ids: Vec<Uuid> = if args.onto_fill {
        anyhow::ensure!(
            warehouses as usize <= FILL_WAREHOUSES.len(),
            "the fill has {} warehouses",
            FILL_WAREHOUSES.len()
        );
        FILL_WAREHOUSES[..warehouses as usize].iter().map(|w| w.parse()).collect::<Result<_, _>>()?
    } else {
        (0..warehouses).map(|w| tagged(tag, 3, u64::from(w))).collect()
    };
    let org = scale.organization(1);
    let at = Utc::now();
    let bodies: Vec<Vec<u8>> = (0..args.events)
        .map(|k| {
            let variant = org1_variant(&scale, k / u64::from(warehouses));
            event_body(org, variant, warehouse_ids[(k % u64::from(warehouses)) as usize], tag, k, at)
        })
        .collect();
    let body_bytes = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len().max(1);

    let mut db = AsyncPgConnection::establish(&args.database_url).await.context("database")?;
    let metrics_before = match args.consumer {
        Consumer::Worker => Some(scrape(&args.metrics_url).await.context("the worker's metrics did not answer")?),
        Consumer::Noop => None,
    };
    let queue_label = format!("queue=\"{}\"", args.queue);
    let consumed = |text: &str| metric(text, "catalog_events_consumed_total", &[queue_label.as_str()]);
    let consumed_before = metrics_before.as_deref().map_or(0.0, consumed);
    // Rows the fill made that the burst will update (the rest it inserts).
    let variant_list =
        |from: u64, to: u64| (from..to).map(|v| format!("'{}'", org1_variant(&scale, v))).collect::<Vec<_>>().join(",");
    let warehouse_list = warehouse_ids.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(",");
    let mut existing = 0_i64;
    for chunk in (0..variants_needed).step_by(5000) {
        let found: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM variant_stock WHERE organization_id = '{org}' AND variant_id IN ({}) \
             AND warehouse_id IN ({warehouse_list})",
            variant_list(chunk, (chunk + 5000).min(variants_needed))
        ))
        .get_result(&mut db)
        .await?;
        existing += found.n;
    }
    let outbox_since = Utc::now();

    // The no-op consumer is consuming before the first publish, as the worker is.
    let noop = if args.consumer == Consumer::Noop {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (url, exchange, queue) = (args.amqp_url.clone(), args.exchange.clone(), args.queue.clone());
        let (prefetch, expected, timeout) = (args.prefetch.max(1), args.events, args.timeout);
        let handle =
            std::thread::spawn(move || noop_consumer(url, exchange, queue, prefetch, expected, timeout, ready_tx));
        tokio::task::spawn_blocking(move || ready_rx.recv_timeout(Duration::from_secs(30)))
            .await?
            .context("no-op consumer setup")??;
        Some(handle)
    } else {
        None
    };

    if args.consumer == Consumer::Worker {
        let (url, queue) = (args.amqp_url.clone(), args.queue.clone());
        tokio::task::spawn_blocking(move || wait_for_queue(&url, &queue, Duration::from_secs(30))).await??;
    }
    let cpu_before = cpu_snapshot();
    let machine_before = machine_cpu();
    let (url, exchange) = (args.amqp_url.clone(), args.exchange.clone());
    let publisher = tokio::task::spawn_blocking(move || publish_all(&url, &exchange, &bodies));

    let mut line = json!({
        "consumer": match args.consumer { Consumer::Worker => "worker", Consumer::Noop => "noop" },
        "events": args.events,
        "warehouses": warehouses,
        "variants": variants_needed,
        "onto_fill": args.onto_fill,
        "rows_existing_before": existing,
        "body_bytes": body_bytes,
        "exchange": args.exchange,
        "queue": args.queue,
    });
    let done_at;
    match noop {
        Some(handle) => {
            let (first, confirmed, nacked) = publisher.await??;
            let (acked, last) = tokio::task::spawn_blocking(move || handle.join())
                .await?
                .map_err(|_| anyhow::anyhow!("no-op consumer panicked"))??;
            let last = last.unwrap_or(first);
            done_at = Utc::now();
            let span = seconds(last, first);
            crate::merge(
                &mut line,
                &json!({
                    "prefetch": args.prefetch.max(1),
                    "published_per_s": round3(args.events as f64 / seconds(confirmed, first).max(1e-9)),
                    "publish_seconds": round3(seconds(confirmed, first)),
                    "nacked": nacked,
                    "consumed": acked,
                    "seconds": round3(span),
                    "events_per_s": round3(acked as f64 / span.max(1e-9)),
                }),
            );
        }
        None => {
            // Waits on the worker's own count of what it consumed from its inventory queue.
            let deadline = Instant::now() + args.timeout;
            let mut seen = 0.0;
            let mut publish = None;
            let mut publisher = Some(publisher);
            loop {
                if let Some(p) = publisher.take_if(|p| p.is_finished()) {
                    publish = Some(p.await??);
                }
                if let Some(text) = scrape(&args.metrics_url).await {
                    seen = consumed(&text) - consumed_before;
                }
                if seen >= args.events as f64 && publish.is_some() {
                    break;
                }
                if Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if publish.is_none() {
                if let Some(p) = publisher.take() {
                    publish = Some(p.await??);
                }
            }
            let (first, confirmed, nacked) = publish.context("publishing did not end")?;
            done_at = Utc::now();
            // `applied_at` is the writing transaction's start (now()), on insert and on update.
            let applied: Applied = diesel::sql_query(format!(
                "SELECT count(*) AS rows, min(applied_at) AS first, max(applied_at) AS last FROM variant_stock \
                 WHERE warehouse_id IN ({warehouse_list}) AND applied_at >= '{}'",
                outbox_since.to_rfc3339()
            ))
            .get_result(&mut db)
            .await?;
            let announced: Count = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM outbox WHERE event_type = 'catalog.variant.stock_updated' \
                 AND organization_id = '{org}' AND created_at >= '{}'",
                outbox_since.to_rfc3339()
            ))
            .get_result(&mut db)
            .await?;
            let last = applied.last.unwrap_or(first);
            let span = seconds(last, first);
            let metrics_after = scrape(&args.metrics_url).await.unwrap_or_default();
            let before = metrics_before.as_deref().unwrap_or_default();
            let delta = |name: &str| metric(&metrics_after, name, &[]) - metric(before, name, &[]);
            let outcomes: serde_json::Map<String, Value> = ["handled", "duplicate", "ignored", "dead_lettered"]
                .iter()
                .map(|o| {
                    let labels = [queue_label.as_str(), &format!("outcome=\"{o}\"")];
                    let n = metric(&metrics_after, "catalog_events_consumed_total", &labels)
                        - metric(before, "catalog_events_consumed_total", &labels);
                    (o.to_string(), json!(n))
                })
                .collect();
            let handler_count = delta("catalog_event_handler_duration_seconds_count");
            let handler_sum = delta("catalog_event_handler_duration_seconds_sum");
            let statements = delta("catalog_db_statements_total");
            crate::merge(
                &mut line,
                &json!({
                    "published_per_s": round3(args.events as f64 / seconds(confirmed, first).max(1e-9)),
                    "publish_seconds": round3(seconds(confirmed, first)),
                    "nacked": nacked,
                    "consumed": seen,
                    "outcomes": outcomes,
                    "rows_written": applied.rows,
                    "seconds": round3(span),
                    "events_per_s": round3(applied.rows as f64 / span.max(1e-9)),
                    "first_publish_to_first_apply_s": applied.first.map(|f| round3(seconds(f, first))),
                    "apply_span_s": applied.first.map(|f| round3(seconds(last, f))),
                    "apply_rate_per_s": applied.first.map(|f| round3((applied.rows - 1).max(0) as f64 / seconds(last, f).max(1e-9))),
                    "stock_updated_announced": announced.n,
                    // Both consumed queues (inventory and the catalog's own announcements).
                    "handler_calls": handler_count,
                    "handler_mean_ms": round3(handler_sum / handler_count.max(1.0) * 1000.0),
                    "sql_statements_per_event": round3(statements / (applied.rows.max(1) as f64)),
                }),
            );
        }
    }
    let cpu_after = cpu_snapshot();
    let machine_after = machine_cpu();
    line["wall_s"] = json!(round3(seconds(done_at, at)));
    line["cpu_s"] = cpu_used(&cpu_before, &cpu_after, args.worker_pid);
    // Everything the machine did meanwhile, and what it could have (wall time × cores).
    line["machine_cpu_s"] = json!({
        "busy": round3(machine_after.0 - machine_before.0),
        "capacity": round3(machine_after.1 - machine_before.1),
    });
    Ok(line)
}

// ---------------------------------------------------------------------------------------------
// REST: one page of a product's variants, with and without in_stock
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListScenario {
    /// A random product of organization #1 (3 variants), without / with `in_stock=true`.
    Scale { in_stock: bool },
    /// The 2,000-variant bench product (`run.sh`'s fixture), first page of 20.
    Large { in_stock: bool },
}

pub fn list_scenario(name: &str) -> Option<ListScenario> {
    Some(match name {
        "rest-variants" => ListScenario::Scale { in_stock: false },
        "rest-variants-in-stock" => ListScenario::Scale { in_stock: true },
        "rest-variants-large" => ListScenario::Large { in_stock: false },
        "rest-variants-large-in-stock" => ListScenario::Large { in_stock: true },
        _ => return None,
    })
}

pub struct ListOp {
    scenario: ListScenario,
    conn: HttpConn,
    authorization: String,
    tenant: String,
    scale: Scale,
}

impl ListOp {
    pub fn new(scenario: ListScenario, base: &str, token: &str, scale: Scale) -> anyhow::Result<Self> {
        Ok(Self {
            scenario,
            conn: HttpConn::new(base)?,
            authorization: format!("Bearer {token}"),
            tenant: scale.organization(1).to_string(),
            scale,
        })
    }
}

impl Op for ListOp {
    async fn call(&mut self, i: u64) -> Result<usize, String> {
        let per_org = (self.scale.products / u64::from(self.scale.organizations)).max(1);
        let (product, in_stock) = match self.scenario {
            ListScenario::Scale { in_stock } => {
                (self.scale.product(self.scale.nth_of_org(1, mix(i) % per_org)), in_stock)
            }
            ListScenario::Large { in_stock } => (bench_product(2000), in_stock),
        };
        let filter = if in_stock { "&in_stock=true" } else { "" };
        let path = format!("/api/v1/products/{product}/variants?first=20{filter}");
        let headers = [("authorization", self.authorization.as_str()), ("x-tenant-id", self.tenant.as_str())];
        let response = self.conn.get(&path, &headers).await.map_err(|e| format!("io: {e}"))?;
        if response.status != 200 {
            return Err(format!("status {}", response.status));
        }
        Ok(response.body.len())
    }
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

/// The two warehouses the fill uses (fixed: the fill is idempotent).
const FILL_WAREHOUSES: [&str; 2] = ["be4c0501-0000-4000-8000-000000000001", "be4c0501-0000-4000-8000-000000000002"];

/// One statement: a row in the main warehouse for 9 variants in 10 (every organization), a
/// second warehouse for a third of those; 1 row in 5 has nothing available, so about 12 % of
/// the variants (none of their rows available) are out of stock and 10 % have no row at all.
pub fn fill_sql() -> String {
    let [main, second] = FILL_WAREHOUSES;
    format!(
        "-- bench/stock.sh: variant_stock for most variants, in one statement (catalog-bench sql-stock-fill).\n\
         TRUNCATE variant_stock;\n\
         INSERT INTO variant_stock (organization_id, variant_id, warehouse_id, total, available, reserved, damaged, observed_at)\n\
         SELECT v.organization_id, v.id, w.id, q.total, q.available, q.total - q.available, 0, now() - interval '1 hour'\n\
         FROM product_variants v\n\
         CROSS JOIN LATERAL (SELECT abs(hashtext(v.id::text)::bigint) AS h) r\n\
         CROSS JOIN (VALUES ('{main}'::uuid, 0), ('{second}'::uuid, 1)) AS w(id, k)\n\
         CROSS JOIN LATERAL (SELECT (r.h / 7 + w.k) % 300 AS total) t\n\
         CROSS JOIN LATERAL (SELECT t.total, CASE WHEN (r.h / 11 + w.k) % 5 = 0 THEN 0 ELSE t.total * 4 / 5 END AS available) q\n\
         WHERE v.deleted_at IS NULL AND r.h % 10 <> 0 AND (w.k = 0 OR r.h % 3 = 0);\n\
         ANALYZE variant_stock;\n"
    )
}

/// The SQL expression of organization #1's variant `:i` (pgbench variable) of product number
/// `nth_of_org(1, :i / V)`, as the seed names it.
fn variant_expression(scale: &Scale) -> (String, String) {
    let sample = org1_variant(scale, 0).to_string();
    let prefix = &sample[..24];
    let orgs = scale.organizations;
    let per_product = scale.variants_per_product;
    let base = scale.nth_of_org(1, 0);
    let number = format!("(({base} + (:i / {per_product}) * {orgs}) * 100 + 1 + :i % {per_product})");
    let product_sample = scale.product(base).to_string();
    let product =
        format!("('{}' || lpad(to_hex({base} + (:i / {per_product}) * {orgs}), 12, '0'))::uuid", &product_sample[..24]);
    (format!("('{prefix}' || lpad(to_hex({number}), 12, '0'))::uuid"), product)
}

/// `catalog_core::stock::apply_after`'s upsert (with an event's `previous_quantities`), its
/// parameters drawn at random: one of organization
/// #1's variants in one of the fill's two warehouses (pgbench variables `:i`, `:w`), as of now,
/// as the burst's events do (an update of the fill's row, or an insert where it wrote none).
fn upsert(org: Uuid, variant: &str) -> String {
    let [main, second] = FILL_WAREHOUSES;
    format!(
        "INSERT INTO variant_stock AS s (organization_id, variant_id, warehouse_id, total, available, reserved, damaged, in_transit, observed_at) \
         SELECT v.organization_id, v.id, (CASE WHEN :w = 0 THEN '{main}' ELSE '{second}' END)::uuid, \
         150, 120, 25, 5, coalesce(NULL::numeric, 0), now() FROM product_variants v \
         WHERE v.organization_id = '{org}' AND v.id = {variant} \
         ON CONFLICT (organization_id, variant_id, warehouse_id) DO UPDATE \
         SET total = excluded.total, available = excluded.available, reserved = excluded.reserved, \
         damaged = excluded.damaged, in_transit = coalesce(NULL::numeric, s.in_transit), \
         observed_at = excluded.observed_at, applied_at = now() \
         WHERE s.observed_at < excluded.observed_at \
         OR (s.observed_at = excluded.observed_at AND 145::numeric IS NOT NULL \
         AND (s.total, s.available, s.reserved, s.damaged) = (145::numeric, 115::numeric, 25::numeric, 5::numeric) \
         AND (s.total, s.available, s.reserved, s.damaged) \
         IS DISTINCT FROM (excluded.total, excluded.available, excluded.reserved, excluded.damaged));"
    )
}

/// pgbench scripts: `upsert` (the statement alone) or `transaction` (every statement of
/// `apply_and_announce`, with the outbox insert in `announce_percent` % of them, the share
/// the worker announced in the same run).
pub fn pgbench_sql(scale: &Scale, kind: &str, announce_percent: u32) -> anyhow::Result<String> {
    let org = scale.organization(1);
    let (variant, product) = variant_expression(scale);
    let draw = format!("\\set i random(0, {})\n\\set w random(0, 1)\n", org1_variants(scale) - 1);
    let head = "-- Generated by `catalog-bench sql-stock-pgbench` for bench/stock.sh (the stock events' ceiling).\n";
    match kind {
        "upsert" => Ok(format!("{head}{draw}{}\n", upsert(org, &variant))),
        "transaction" => {
            let sums = format!(
                "SELECT variant_id, sum(total), sum(available), sum(reserved), sum(damaged), sum(in_transit), max(observed_at) \
                 FROM variant_stock WHERE organization_id = '{org}' AND variant_id = ANY(ARRAY[{variant}]) GROUP BY variant_id;"
            );
            // What `published::variant_stock_updated` + `outbox::envelope` write (about the size).
            let payload = r#"{"event":"catalog.variant.stock_updated","event_type":"catalog.variant.stock_updated","service":"catalog-service","version":"1.0","timestamp":"2026-12-06T00:00:00.000000Z","data":{"variant_id":"00000000-0000-0000-0000-000000000000","product_id":"00000000-0000-0000-0000-000000000000","sku":"SC-00000004-1","stock_total":150,"stock_available":120,"alert_threshold":4,"below_alert":false,"out_of_stock":false,"previous":{"stock_total":0,"stock_available":0,"below_alert":true,"out_of_stock":true},"last_stock_update":"2026-12-06T00:00:00Z","organization_id":"00000000-0000-0000-0000-000000000000","updated_at":"2026-12-06T00:00:00.000000Z"},"metadata":{"user_id":null,"correlation_id":null}}"#;
            Ok(format!(
                "{head}{draw}\\set announce random(1, 100)\n\
                 BEGIN;\n\
                 SELECT * FROM product_variants WHERE organization_id = '{org}' AND id = {variant} LIMIT 1 FOR UPDATE;\n\
                 SELECT alert_stock FROM products WHERE organization_id = '{org}' AND id = {product} LIMIT 1;\n\
                 {sums}\n\
                 {}\n\
                 {sums}\n\
                 \\if :announce <= {announce_percent}\n\
                 INSERT INTO outbox (event_id, organization_id, event_type, aggregate_type, aggregate_id, aggregate_version, payload, published_at) \
                 VALUES (gen_random_uuid(), '{org}', 'catalog.variant.stock_updated', 'variant', {variant}, 1, '{payload}'::jsonb, now());\n\
                 \\endif\n\
                 COMMIT;\n",
                upsert(org, &variant)
            ))
        }
        other => anyhow::bail!("unknown pgbench script {other:?}: upsert or transaction"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> Scale {
        Scale { products: 170_000, organizations: 4, variants_per_product: 3 }
    }

    #[test]
    fn events_name_variants_of_organization_one() {
        let s = scale();
        let v = org1_variant(&s, 0);
        assert_eq!(v, s.variant(4, 1));
        assert_eq!(org1_variant(&s, 5), s.variant(8, 3));
        assert_eq!(org1_variants(&s), 127_500);
        let body = event_body(s.organization(1), v, tagged(7, 3, 0), 7, 0, Utc::now());
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["event"], "inventory.stock.updated");
        assert!(parsed.get("event_id").is_none());
        let q = &parsed["data"]["quantities"];
        let n = |k: &str| q[k].as_u64().unwrap();
        assert_eq!(n("total"), n("available") + n("reserved") + n("damaged"));
        let ts = parsed["timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z') && !ts.contains('.'), "{ts}");
    }

    #[test]
    fn the_pgbench_variant_expression_follows_the_seed() {
        let s = scale();
        let (variant, product) = variant_expression(&s);
        // i = 5: product nth_of_org(1, 1) = 8, variant j = 3.
        assert!(variant.starts_with(&format!("('{}", &s.variant(8, 3).to_string()[..24])), "{variant}");
        assert!(variant.contains("((4 + (:i / 3) * 4) * 100 + 1 + :i % 3)"), "{variant}");
        assert!(product.contains(&s.product(4).to_string()[..24]), "{product}");
        assert!(pgbench_sql(&s, "transaction", 50).unwrap().contains("\\if :announce <= 50"));
        assert!(pgbench_sql(&s, "nope", 50).is_err());
    }

    #[test]
    fn counters_by_label() {
        let text = "catalog_events_consumed_total{outcome=\"handled\",queue=\"q1\"} 5\n\
                    catalog_events_consumed_total{outcome=\"handled\",queue=\"q2\"} 7\n";
        assert_eq!(metric(text, "catalog_events_consumed_total", &["queue=\"q1\""]), 5.0);
        assert_eq!(metric(text, "catalog_events_consumed_total", &["queue=\"q2\"", "outcome=\"handled\""]), 7.0);
        assert_eq!(metric(text, "catalog_events_consumed_total", &[]), 12.0);
    }
}
