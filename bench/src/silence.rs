//! `catalog-bench inventory-silence`: the fault suite's scenario for the stock read model
//! (`deploy/local/faults.sh inventory-silence`). Inventory's events flow, stop for a while (as
//! when Inventory or its publisher is down), then resume; the worker under test must
//! - keep up while they flow (its lag metric for the organization stays low),
//! - show the silence (the lag rises to about its length),
//! - recover when they resume (the lag falls), and
//! - converge: every variant and warehouse fed holds the last report sent for it.
//!
//! Reports are `inventory.stock.updated` as Inventory's page prints them, each published with a
//! publisher confirm (a report the broker did not take would fail convergence for nothing). Each
//! report counts up its own variant and warehouse, so "the last report" is its count.

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Variants fed (of the organization, in id order) and warehouses per variant.
const VARIANTS: i64 = 100;
const WAREHOUSES: u128 = 2;
/// Pause between two reports while feeding (about 50 reports a second).
const PACE: Duration = Duration::from_millis(20);
/// The worker refreshes its lag gauge every 5 s; a scrape may be that old, plus slack.
const LAG_SLACK_S: f64 = 8.0;
const CONVERGE_WITHIN: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SilenceArgs {
    pub amqp_url: String,
    /// The exchange the worker binds for Inventory's events (`{prefix}inventory_events`).
    pub exchange: String,
    pub database_url: String,
    /// The worker's Prometheus endpoint.
    pub metrics_url: String,
    pub organization: Uuid,
    pub feed: Duration,
    pub silence: Duration,
    pub resume: Duration,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = SqlUuid)]
    variant_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    warehouse_id: Uuid,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

fn warehouse(n: u128) -> Uuid {
    Uuid::from_u128(0x5117_0000_0000_4000_8000_0000_0000_0000 | n)
}

fn report(org: Uuid, variant: Uuid, warehouse: Uuid, count: u64, at: DateTime<Utc>) -> Vec<u8> {
    let body = json!({
        "event": "inventory.stock.updated",
        "version": "1.0",
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "organization_id": org,
        "data": {
            "stock_id": Uuid::now_v7(),
            "variant_id": variant,
            "warehouse_id": warehouse,
            "quantities": { "total": count, "available": count, "reserved": 0, "damaged": 0 },
            "previous_quantities": { "total": count - 1, "available": count - 1, "reserved": 0, "damaged": 0 },
            "change_type": "in",
            "movement_id": Uuid::now_v7(),
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Publishes reports every [`PACE`] for `span`, each confirmed; `sent` keeps each pair's count.
fn feed(
    args: &SilenceArgs,
    variants: &[Uuid],
    span: Duration,
    sent: &mut HashMap<(Uuid, Uuid), u64>,
) -> anyhow::Result<()> {
    use amiquip::{AmqpProperties, Confirm, Publish};
    let mut connection = amiquip::Connection::insecure_open(&args.amqp_url)?;
    let channel = connection.open_channel(None)?;
    channel.enable_publisher_confirms()?;
    let confirms = channel.listen_for_publisher_confirms()?;
    let properties = AmqpProperties::default().with_delivery_mode(2).with_content_type("application/json".into());
    let until = Instant::now() + span;
    let mut n = sent.values().sum::<u64>();
    while Instant::now() < until {
        let variant = variants[(n as usize / WAREHOUSES as usize) % variants.len()];
        let warehouse = warehouse(u128::from(n) % WAREHOUSES);
        let count = sent.get(&(variant, warehouse)).copied().unwrap_or(0) + 1;
        let body = report(args.organization, variant, warehouse, count, Utc::now());
        channel.basic_publish(
            args.exchange.as_str(),
            Publish::with_properties(&body, "inventory.stock.updated", properties.clone()),
        )?;
        match confirms.recv_timeout(Duration::from_secs(10)).context("waiting for a publisher confirm")? {
            Confirm::Ack(_) => {}
            Confirm::Nack(_) => anyhow::bail!("the broker refused a report"),
        }
        sent.insert((variant, warehouse), count);
        n += 1;
        std::thread::sleep(PACE);
    }
    let _ = connection.close();
    Ok(())
}

/// The worker's lag gauge for the organization, if it has one yet.
async fn lag(args: &SilenceArgs) -> Option<f64> {
    let body = crate::http::fetch(&args.metrics_url, Duration::from_secs(2)).await.ok()?.body;
    let label = format!("organization_id=\"{}\"", args.organization);
    String::from_utf8_lossy(&body)
        .lines()
        .find(|line| line.starts_with("catalog_inventory_stock_lag_seconds{") && line.contains(&label))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// Samples the lag every second for `span`: (max, last).
async fn watch_lag(args: &SilenceArgs, span: Duration) -> (f64, f64) {
    let until = Instant::now() + span;
    let (mut max, mut last) = (0.0_f64, f64::NAN);
    while Instant::now() < until {
        if let Some(now) = lag(args).await {
            max = max.max(now);
            last = now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (max, last)
}

/// Pairs whose row does not hold the last report sent for it.
async fn behind(db: &mut AsyncPgConnection, org: Uuid, sent: &HashMap<(Uuid, Uuid), u64>) -> anyhow::Result<usize> {
    let held: Vec<Held> = sql_query(
        "SELECT variant_id, warehouse_id, total::bigint AS total FROM variant_stock WHERE organization_id = $1",
    )
    .bind::<SqlUuid, _>(org)
    .load(db)
    .await?;
    let held: HashMap<(Uuid, Uuid), i64> =
        held.into_iter().map(|row| ((row.variant_id, row.warehouse_id), row.total)).collect();
    Ok(sent.iter().filter(|(pair, count)| held.get(pair).copied() != i64::try_from(**count).ok()).count())
}

/// Runs the scenario; returns its JSON line and whether every promise held.
pub async fn run(args: SilenceArgs) -> anyhow::Result<(Value, bool)> {
    let mut db = AsyncPgConnection::establish(&args.database_url).await?;
    let variants: Vec<Uuid> =
        sql_query("SELECT id FROM product_variants WHERE organization_id = $1 ORDER BY id LIMIT $2")
            .bind::<SqlUuid, _>(args.organization)
            .bind::<BigInt, _>(VARIANTS)
            .load::<Id>(&mut db)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
    anyhow::ensure!(!variants.is_empty(), "the organization has no variants to feed");

    // Flowing: the worker keeps up.
    let feeding = spawn_feed(args.clone(), variants.clone(), args.feed, HashMap::new());
    let (_, lag_flowing) = watch_lag(&args, args.feed).await;
    let sent = feeding.await??;
    // Silence: the lag rises by itself.
    let (lag_peak, _) = watch_lag(&args, args.silence).await;
    // Resumed: the lag falls, the model converges.
    let resuming = spawn_feed(args.clone(), variants, args.resume, sent);
    let (_, lag_resumed) = watch_lag(&args, args.resume).await;
    let sent = resuming.await??;
    let started = Instant::now();
    let mut left = behind(&mut db, args.organization, &sent).await?;
    while left > 0 && started.elapsed() < CONVERGE_WITHIN {
        tokio::time::sleep(Duration::from_millis(250)).await;
        left = behind(&mut db, args.organization, &sent).await?;
    }
    let converged_s = started.elapsed().as_secs_f64();

    let silence_s = args.silence.as_secs_f64();
    let verdicts = [
        ("lag low while events flow", lag_flowing <= LAG_SLACK_S),
        ("lag rises during the silence", lag_peak >= silence_s - LAG_SLACK_S),
        ("lag falls once events resume", lag_resumed <= LAG_SLACK_S),
        ("model converges to the last report of every variant and warehouse", left == 0),
    ];
    let passed = verdicts.iter().all(|(_, ok)| *ok);
    let line = json!({
        "ts": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "scenario": "inventory-silence",
        "reports_sent": sent.values().sum::<u64>(),
        "pairs": sent.len(),
        "silence_s": silence_s,
        "lag_s": { "flowing": lag_flowing, "peak_in_silence": lag_peak, "after_resume": lag_resumed },
        "pairs_not_converged": left,
        "converged_after_s": (converged_s * 10.0).round() / 10.0,
        "verdicts": verdicts.iter().map(|(what, ok)| json!({ "promise": what, "kept": ok })).collect::<Vec<_>>(),
        "passed": passed,
    });
    Ok((line, passed))
}

/// [`feed`] on a blocking thread (amiquip is synchronous), continuing the counts in `sent`.
fn spawn_feed(
    args: SilenceArgs,
    variants: Vec<Uuid>,
    span: Duration,
    mut sent: HashMap<(Uuid, Uuid), u64>,
) -> tokio::task::JoinHandle<anyhow::Result<HashMap<(Uuid, Uuid), u64>>> {
    tokio::task::spawn_blocking(move || feed(&args, &variants, span, &mut sent).map(|()| sent))
}
