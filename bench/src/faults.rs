//! `catalog-bench fault-load`: the steady load and the bookkeeping of one fault scenario
//! (`deploy/local/faults.sh` injects the fault itself and writes its moments to `--marks`).
//!
//! While it runs, paced workers PATCH products (REST), read them (REST and gRPC) and probe every
//! process's readiness; a durable private queue bound to `#` on the catalog's exchange collects
//! every published event, surviving a RabbitMQ outage. When the load stops it waits for the
//! outbox rows the run committed to arrive, then checks, against PostgreSQL's own record:
//! - lost events: an outbox row committed during the run that never arrived;
//! - duplicated events: the same event id delivered more than once (at-least-once delivery);
//! - acknowledged writes without their event, and products whose version is not their last
//!   event's (a write and its event commit together, or neither does);
//! - failed requests by kind and phase (before the fault, during it, after the return), how
//!   each failed, and how long after the return requests, readiness and events recovered.
//!
//! The verdict follows the scenario's promise (RELIABILITY.md); a broken promise exits non-zero.

use crate::fixture::Scale;
use crate::http::HttpConn;
use amiquip::{AmqpValue, ConsumerMessage, ConsumerOptions, ExchangeDeclareOptions, ExchangeType, FieldTable};
use amiquip::{Connection, QueueDeclareOptions, QueueDeleteOptions};
use anyhow::Context as _;
use bytes::Bytes;
use catalog_grpc::pb::catalog as pb;
use catalog_grpc::pb::catalog::catalog_service_client::CatalogServiceClient;
use chrono::Utc;
use diesel::sql_types::{BigInt, Integer, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use http::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use uuid::Uuid;

/// A dependency is back when every process answers and every request succeeds within this.
const RECOVERY_LIMIT_S: f64 = 10.0;
/// How much longer than planned the load runs at most, waiting for the fault to end.
const MAX_EXTENSION: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Each load worker sends at most one request per pace (a steady load, not a saturating one).
const PACE: Duration = Duration::from_millis(50);
const WORKERS_PER_KIND: usize = 2;
const PRODUCTS_PER_WORKER: u64 = 40;

pub struct FaultArgs {
    pub scenario: String,
    pub duration: Duration,
    pub marks: std::path::PathBuf,
    pub drain_timeout: Duration,
    pub api_url: String,
    pub grpc_addr: String,
    pub token: String,
    pub database_url: String,
    pub amqp_url: String,
    pub exchange: String,
    /// Readiness URLs (HTTP) of the processes to probe, besides gRPC health on `grpc_addr`.
    pub ready_urls: Vec<String>,
    pub scale: Scale,
}

/// What each scenario promises, beyond "nothing lost" (which every scenario promises).
struct Promise {
    /// Requests may fail (cleanly) between the fault and the return, plus the recovery limit.
    failures_allowed: bool,
}

fn promise(scenario: &str) -> anyhow::Result<Promise> {
    Ok(match scenario {
        "postgres-restart" => Promise { failures_allowed: true },
        "rabbitmq-outage" | "redis-outage" | "worker-kill" | "worker-failover" => Promise { failures_allowed: false },
        other => anyhow::bail!(
            "unknown fault scenario {other:?}: postgres-restart, rabbitmq-outage, redis-outage, worker-kill, worker-failover"
        ),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Write,
    RestRead,
    GrpcRead,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Write => "rest_write",
            Kind::RestRead => "rest_read",
            Kind::GrpcRead => "grpc_read",
        }
    }
}

/// One request: when it started and ended (epoch ms) and how it failed, if it did.
struct Sample {
    kind: Kind,
    started_ms: i64,
    ended_ms: i64,
    failure: Option<String>,
}

/// A failure the caller can act on: the service said "unavailable, retry" rather than breaking.
fn is_clean(failure: &str) -> bool {
    failure == "http 503" || failure == "grpc Unavailable"
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub async fn run(args: FaultArgs) -> anyhow::Result<(Value, bool)> {
    let promise = promise(&args.scenario)?;
    let queue = format!("faults.{}.{}", args.scenario, std::process::id());
    let deliveries = Arc::new(Mutex::new(HashMap::<String, Vec<i64>>::new()));
    let stop_consumer = Arc::new(AtomicBool::new(false));
    let consumer = start_consumer(&args, &queue, deliveries.clone(), stop_consumer.clone()).await?;

    let started_ms = now_ms();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(Uuid, i32)>::new()));
    // Several replicas of a process (deploy/local/cluster.sh): comma-separated, the load spread
    // over them, one replica per load task in turn.
    let api_urls: Vec<String> = args.api_url.split(',').map(|u| u.trim().to_string()).collect();
    let grpc_addrs: Vec<String> = args.grpc_addr.split(',').map(|a| a.trim().to_string()).collect();
    let api_url = |w: usize| api_urls[w % api_urls.len()].clone();
    let grpc_addr = |w: usize| grpc_addrs[w % grpc_addrs.len()].clone();
    let mut workers = Vec::new();
    for w in 0..WORKERS_PER_KIND {
        let products = worker_products(args.scale, w);
        workers.push(tokio::spawn(rest_writer(api_url(w), args.token.clone(), products, acked.clone(), stop.clone())));
        let products = worker_products(args.scale, WORKERS_PER_KIND + w);
        workers.push(tokio::spawn(rest_reader(api_url(w + 1), args.token.clone(), products, stop.clone())));
        let products = worker_products(args.scale, 2 * WORKERS_PER_KIND + w);
        let org = args.scale.organization(1).to_string();
        workers.push(tokio::spawn(grpc_reader(grpc_addr(w), org, products, stop.clone())));
    }
    let probes = tokio::spawn(probe_readiness(args.ready_urls.clone(), grpc_addrs[0].clone(), stop.clone()));
    tokio::time::sleep(args.duration).await;
    // A fault that outlasts the planned load (quorum queues make RabbitMQ's start slower) keeps
    // the load running until the recovery window after its end has passed: recovery is always
    // measured under load.
    let extended_until = tokio::time::Instant::now() + MAX_EXTENSION;
    while tokio::time::Instant::now() < extended_until {
        let restored = read_marks(&args.marks).ok().and_then(|marks| marks.get("restore").copied());
        if restored.is_some_and(|at| now_ms() >= at + (RECOVERY_LIMIT_S * 1000.0) as i64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await?);
    }
    let readiness = probes.await?;
    let ended_ms = now_ms();

    let marks = read_marks(&args.marks)?;
    let (Some(&fault_ms), Some(&restore_ms)) = (marks.get("fault"), marks.get("restore")) else {
        // The private queue's consumer is a blocking thread: stopped, or the process never exits.
        stop_consumer.store(true, Ordering::SeqCst);
        anyhow::bail!("the marks file lacks its `fault` or `restore` line");
    };

    // Wait for PostgreSQL (it may be the dependency that just came back), then for the events.
    let mut db = connect_with_retry(&args.database_url, Duration::from_secs(30)).await?;
    let organization = args.scale.organization(1);
    let committed = committed_events(&mut db, organization, started_ms, ended_ms).await?;
    let deadline = tokio::time::Instant::now() + args.drain_timeout;
    while tokio::time::Instant::now() < deadline {
        let all_arrived = {
            let arrived = deliveries.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            committed.iter().all(|e| arrived.contains_key(&e.event_id.to_string()))
        };
        if all_arrived {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Late duplicates (a redelivered batch) get a moment to show up too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_consumer.store(true, Ordering::SeqCst);
    consumer.await??;
    let deliveries = std::mem::take(&mut *deliveries.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let acked = std::mem::take(&mut *acked.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let touched: Vec<Uuid> = acked.iter().map(|(id, _)| *id).collect::<HashSet<_>>().into_iter().collect();
    let version_mismatches = version_mismatches(&mut db, organization, &touched).await?;

    let window = Window { fault_ms, restore_ms };
    let report = Report { samples: &samples, readiness: &readiness, committed: &committed, deliveries: &deliveries };
    let mut line = report.summarize(&window, &acked, version_mismatches);
    let verdicts = report.verdicts(&line, &window, &promise);
    let passed = verdicts.iter().all(|(_, ok)| *ok);
    line["scenario"] = json!(format!("fault-{}", args.scenario));
    line["run_seconds"] = json!(round1((ended_ms - started_ms) as f64 / 1000.0));
    line["fault_at_s"] = json!(round1((fault_ms - started_ms) as f64 / 1000.0));
    line["outage_s"] = json!(round1((restore_ms - fault_ms) as f64 / 1000.0));
    line["verdicts"] =
        verdicts.iter().map(|(name, ok)| (name.clone(), json!(ok))).collect::<serde_json::Map<_, _>>().into();
    line["passed"] = json!(passed);
    Ok((line, passed))
}

/// Products of organization #1 for load worker `w`: disjoint sets, so writers never conflict.
fn worker_products(scale: Scale, w: usize) -> Vec<Uuid> {
    (0..PRODUCTS_PER_WORKER)
        .map(|i| scale.product(scale.nth_of_org(1, 10 + w as u64 * PRODUCTS_PER_WORKER + i)))
        .collect()
}

async fn paced<F: Future<Output = Option<String>>>(kind: Kind, call: F) -> Sample {
    let started = tokio::time::Instant::now();
    let started_ms = now_ms();
    let failure = match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(failure) => failure,
        Err(_) => Some("timeout".into()),
    };
    let sample = Sample { kind, started_ms, ended_ms: now_ms(), failure };
    tokio::time::sleep_until(started + PACE).await;
    sample
}

fn http_failure(outcome: &anyhow::Result<crate::http::Response>) -> Option<String> {
    match outcome {
        Ok(response) if response.status < 300 => None,
        Ok(response) => Some(format!("http {}", response.status)),
        Err(_) => Some("connection".into()),
    }
}

async fn rest_writer(
    api: String,
    token: String,
    products: Vec<Uuid>,
    acked: Arc<Mutex<Vec<(Uuid, i32)>>>,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    let Ok(mut conn) = HttpConn::new(&api) else { return Vec::new() };
    let authorization = format!("Bearer {token}");
    let mut samples = Vec::new();
    let mut i = 0_u64;
    while !stop.load(Ordering::SeqCst) {
        let product = products[(i % products.len() as u64) as usize];
        // A value no earlier write used, so every acknowledged write changed its row.
        let body = Bytes::from(json!({ "description": format!("fault run {} write {i}", now_ms()) }).to_string());
        let path = format!("/api/v1/products/{product}");
        let sample = paced(Kind::Write, async {
            let outcome =
                conn.send(Method::PATCH, &path, &[("authorization", authorization.as_str())], Some(body)).await;
            let failure = http_failure(&outcome);
            if let (None, Ok(response)) = (&failure, &outcome) {
                let version = serde_json::from_slice::<Value>(&response.body)
                    .ok()
                    .and_then(|v| v.pointer("/data/version").and_then(Value::as_i64));
                match version {
                    Some(version) => acked.lock().map(|mut a| a.push((product, version as i32))).unwrap_or(()),
                    None => return Some("2xx without data.version".into()),
                }
            }
            failure
        })
        .await;
        samples.push(sample);
        i += 1;
    }
    samples
}

async fn rest_reader(api: String, token: String, products: Vec<Uuid>, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let Ok(mut conn) = HttpConn::new(&api) else { return Vec::new() };
    let authorization = format!("Bearer {token}");
    let mut samples = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let path = format!("/api/v1/products/{}", products[i % products.len()]);
        let sample = paced(Kind::RestRead, async {
            http_failure(&conn.get(&path, &[("authorization", authorization.as_str())]).await)
        })
        .await;
        samples.push(sample);
        i += 1;
    }
    samples
}

async fn grpc_reader(addr: String, org: String, products: Vec<Uuid>, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let Ok(endpoint) = Endpoint::from_shared(addr) else { return Vec::new() };
    // Lazy: the channel reconnects by itself after the server or the network comes back.
    let mut client = CatalogServiceClient::new(endpoint.tcp_nodelay(true).connect_lazy());
    let mut samples = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let request = pb::GetProductDetailsRequest {
            organization_id: org.clone(),
            product_id: products[i % products.len()].to_string(),
            include_variants: true,
            include_images: false,
        };
        let sample = paced(Kind::GrpcRead, async {
            match client.get_product_details(request).await {
                Ok(response) if response.get_ref().success => None,
                Ok(_) => Some("grpc success=false".into()),
                Err(status) => Some(format!("grpc {:?}", status.code())),
            }
        })
        .await;
        samples.push(sample);
        i += 1;
    }
    samples
}

/// (process, epoch ms, ready) every 200 ms for each process.
type Readiness = Vec<(String, i64, bool)>;

async fn probe_readiness(urls: Vec<String>, grpc_addr: String, stop: Arc<AtomicBool>) -> Readiness {
    let mut seen = Vec::new();
    let health = Endpoint::from_shared(grpc_addr).map(|e| HealthClient::new(e.connect_lazy()));
    while !stop.load(Ordering::SeqCst) {
        for url in &urls {
            let ready = crate::http::fetch(url, Duration::from_secs(2)).await.is_ok_and(|r| r.status == 200);
            seen.push((url.clone(), now_ms(), ready));
        }
        if let Ok(health) = &health {
            let mut health = health.clone();
            let check = health.check(HealthCheckRequest { service: String::new() });
            let ready = tokio::time::timeout(Duration::from_secs(2), check)
                .await
                .is_ok_and(|r| r.is_ok_and(|r| r.get_ref().status == 1));
            seen.push(("grpc-health".into(), now_ms(), ready));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

/// `fault <epoch ms>` and `restore <epoch ms>` lines, as faults.sh writes them.
fn read_marks(path: &std::path::Path) -> anyhow::Result<HashMap<String, i64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut marks = HashMap::new();
    for line in text.lines() {
        if let Some((name, at)) = line.split_once(' ') {
            marks.insert(name.to_string(), at.trim().parse().with_context(|| format!("bad mark {line:?}"))?);
        }
    }
    Ok(marks)
}

async fn connect_with_retry(url: &str, patience: Duration) -> anyhow::Result<AsyncPgConnection> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match AsyncPgConnection::establish(url).await {
            Ok(conn) => return Ok(conn),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e).context("PostgreSQL"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Committed {
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    aggregate_id: Uuid,
    #[diesel(sql_type = Integer)]
    aggregate_version: i32,
    #[diesel(sql_type = BigInt)]
    committed_ms: i64,
}

/// The outbox rows organization #1 committed while the load ran: PostgreSQL's record of what
/// must be published.
async fn committed_events(
    db: &mut AsyncPgConnection,
    organization: Uuid,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<Vec<Committed>> {
    // Scoped: RunQueryDsl's `load` would shadow AtomicBool's elsewhere in this file.
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(
        "SELECT event_id, aggregate_id, aggregate_version, (extract(epoch FROM created_at) * 1000)::int8 AS committed_ms \
         FROM outbox WHERE organization_id = $1 AND created_at >= to_timestamp($2 / 1000.0) \
         AND created_at <= to_timestamp($3 / 1000.0) ORDER BY id",
    )
    .bind::<SqlUuid, _>(organization)
    .bind::<BigInt, _>(from_ms - 1000)
    .bind::<BigInt, _>(to_ms + 1000)
    .load(db)
    .await
    .context("reading the outbox")
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Products whose stored version differs from the version of their newest product event.
async fn version_mismatches(db: &mut AsyncPgConnection, organization: Uuid, products: &[Uuid]) -> anyhow::Result<i64> {
    use diesel_async::RunQueryDsl as _;
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM products p WHERE p.organization_id = $1 AND p.id = ANY($2) \
         AND p.version IS DISTINCT FROM (SELECT max(o.aggregate_version) FROM outbox o \
           WHERE o.organization_id = $1 AND o.aggregate_type = 'product' AND o.aggregate_id = p.id)",
    )
    .bind::<SqlUuid, _>(organization)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(products)
    .get_result(db)
    .await
    .context("comparing product versions with their events")?;
    Ok(count.n)
}

/// A durable (not exclusive) queue: it keeps collecting while this consumer is disconnected
/// during a RabbitMQ outage, and survives the broker's restart. It expires if left behind.
async fn start_consumer(
    args: &FaultArgs,
    queue: &str,
    deliveries: Arc<Mutex<HashMap<String, Vec<i64>>>>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let (url, exchange, queue) = (args.amqp_url.clone(), args.exchange.clone(), queue.to_string());
    declare_queue(&url, &exchange, &queue).context("declaring the private queue")?;
    Ok(tokio::task::spawn_blocking(move || {
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = consume(&url, &queue, &deliveries, &stop) {
                eprintln!("fault-load: consumer reconnecting after: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let mut connection = Connection::insecure_open(&url)?;
        let channel = connection.open_channel(None)?;
        channel.queue_delete(queue, QueueDeleteOptions::default())?;
        let _ = connection.close();
        Ok(())
    }))
}

fn declare_queue(url: &str, exchange: &str, queue: &str) -> anyhow::Result<()> {
    let mut connection = Connection::insecure_open(url)?;
    let channel = connection.open_channel(None)?;
    channel.exchange_declare(
        ExchangeType::Topic,
        exchange,
        ExchangeDeclareOptions { durable: true, ..Default::default() },
    )?;
    let mut arguments = FieldTable::default();
    arguments.insert("x-expires".into(), AmqpValue::LongInt(600_000));
    channel.queue_declare(queue, QueueDeclareOptions { durable: true, arguments, ..Default::default() })?;
    channel.queue_bind(queue, exchange, "#", FieldTable::default())?;
    connection.close()?;
    Ok(())
}

fn consume(
    url: &str,
    queue: &str,
    deliveries: &Mutex<HashMap<String, Vec<i64>>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut connection = Connection::insecure_open(url)?;
    let channel = connection.open_channel(None)?;
    channel.qos(0, 1000, false)?;
    let consumer = channel.basic_consume(queue, ConsumerOptions { no_ack: true, ..Default::default() })?;
    while !stop.load(Ordering::SeqCst) {
        match consumer.receiver().recv_timeout(Duration::from_millis(200)) {
            Ok(ConsumerMessage::Delivery(delivery)) => {
                let id = delivery.properties.message_id().clone().unwrap_or_default();
                deliveries.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.entry(id).or_default().push(now_ms());
            }
            Ok(other) => anyhow::bail!("consumer ended: {other:?}"),
            Err(e) if e.is_timeout() => {}
            Err(_) => anyhow::bail!("connection lost"),
        }
    }
    let _ = consumer.cancel();
    drop(consumer);
    let _ = channel.close();
    let _ = connection.close();
    Ok(())
}

struct Window {
    fault_ms: i64,
    restore_ms: i64,
}

impl Window {
    fn phase(&self, at_ms: i64) -> &'static str {
        if at_ms < self.fault_ms {
            "before"
        } else if at_ms < self.restore_ms {
            "during"
        } else {
            "after"
        }
    }

    /// Seconds from the return until `last_bad_ms`, or 0 when nothing was bad after the fault.
    fn recovery_s(&self, last_bad_ms: Option<i64>) -> f64 {
        last_bad_ms
            .filter(|&at| at >= self.fault_ms)
            .map_or(0.0, |at| ((at - self.restore_ms) as f64 / 1000.0).max(0.0))
    }
}

struct Report<'a> {
    samples: &'a [Sample],
    readiness: &'a Readiness,
    committed: &'a [Committed],
    deliveries: &'a HashMap<String, Vec<i64>>,
}

impl Report<'_> {
    fn summarize(&self, window: &Window, acked: &[(Uuid, i32)], version_mismatches: i64) -> Value {
        let mut requests = serde_json::Map::new();
        for kind in [Kind::Write, Kind::RestRead, Kind::GrpcRead] {
            let of_kind: Vec<&Sample> = self.samples.iter().filter(|s| s.kind == kind).collect();
            let mut failed: BTreeMap<&str, u64> = BTreeMap::new();
            let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
            for sample in &of_kind {
                if let Some(failure) = &sample.failure {
                    *failed.entry(window.phase(sample.started_ms)).or_default() += 1;
                    *reasons.entry(failure.clone()).or_default() += 1;
                }
            }
            let last_failure = of_kind.iter().filter(|s| s.failure.is_some()).map(|s| s.ended_ms).max();
            requests.insert(
                kind.name().into(),
                json!({
                    "total": of_kind.len(),
                    "failed": of_kind.iter().filter(|s| s.failure.is_some()).count(),
                    "failed_by_phase": failed,
                    "failures": reasons,
                    "recovery_s": round1(window.recovery_s(last_failure)),
                }),
            );
        }
        let mut readiness = serde_json::Map::new();
        let processes: HashSet<&String> = self.readiness.iter().map(|(p, _, _)| p).collect();
        for process in processes {
            let last_unready =
                self.readiness.iter().filter(|(p, _, ready)| p == process && !ready).map(|(_, at, _)| *at).max();
            let unready = self.readiness.iter().filter(|(p, _, ready)| p == process && !ready).count();
            readiness.insert(
                process.clone(),
                json!({ "unready_probes": unready, "recovery_s": round1(window.recovery_s(last_unready)) }),
            );
        }
        let committed_ids: HashSet<String> = self.committed.iter().map(|e| e.event_id.to_string()).collect();
        let lost = committed_ids.iter().filter(|id| !self.deliveries.contains_key(*id)).count();
        let duplicated: usize = self
            .deliveries
            .iter()
            .filter(|(id, _)| committed_ids.contains(*id))
            .map(|(_, arrivals)| arrivals.len() - 1)
            .sum();
        // How long after the return every event was flowing again: for each event, its first
        // arrival after the later of its commit and the return.
        let event_recovery_ms = self
            .committed
            .iter()
            .filter_map(|e| {
                let first = *self.deliveries.get(&e.event_id.to_string())?.iter().min()?;
                Some(first - e.committed_ms.max(window.restore_ms))
            })
            .max()
            .unwrap_or(0)
            .max(0);
        let versions: HashSet<(Uuid, i32)> =
            self.committed.iter().map(|e| (e.aggregate_id, e.aggregate_version)).collect();
        let acked_without_event = acked.iter().filter(|w| !versions.contains(w)).count();
        json!({
            "requests": requests,
            "readiness": readiness,
            "events": {
                "committed": self.committed.len(),
                "received": committed_ids.len() - lost,
                "lost": lost,
                "duplicated": duplicated,
                "recovery_s": round1(event_recovery_ms as f64 / 1000.0),
            },
            "acknowledged_writes": acked.len(),
            "acknowledged_writes_without_event": acked_without_event,
            "products_version_not_last_event": version_mismatches,
        })
    }

    fn verdicts(&self, line: &Value, window: &Window, promise: &Promise) -> Vec<(String, bool)> {
        let number = |pointer: &str| line.pointer(pointer).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let mut verdicts = vec![
            ("writes were acknowledged".to_string(), number("/acknowledged_writes") > 0.0),
            ("events were committed".to_string(), number("/events/committed") > 0.0),
            ("zero lost events".to_string(), number("/events/lost") == 0.0),
            (
                "no acknowledged write without its event".to_string(),
                number("/acknowledged_writes_without_event") == 0.0,
            ),
            (
                "every product's version is its last event's".to_string(),
                number("/products_version_not_last_event") == 0.0,
            ),
            (
                format!("events flowing within {RECOVERY_LIMIT_S} s of the return"),
                number("/events/recovery_s") <= RECOVERY_LIMIT_S,
            ),
        ];
        let failures: Vec<&Sample> = self.samples.iter().filter(|s| s.failure.is_some()).collect();
        if promise.failures_allowed {
            let grace_ms = window.restore_ms + (RECOVERY_LIMIT_S * 1000.0) as i64;
            verdicts.push((
                "requests fail only while the dependency is away".into(),
                failures.iter().all(|s| s.ended_ms >= window.fault_ms && s.started_ms <= grace_ms),
            ));
            verdicts.push((
                "every failure is a clean 503 / UNAVAILABLE".into(),
                failures.iter().all(|s| s.failure.as_deref().is_some_and(is_clean)),
            ));
        } else {
            verdicts.push(("zero failed requests".into(), failures.is_empty()));
        }
        for kind in [Kind::Write, Kind::RestRead, Kind::GrpcRead] {
            let pointer = format!("/requests/{}/recovery_s", kind.name());
            verdicts.push((
                format!("{} recovered within {RECOVERY_LIMIT_S} s", kind.name()),
                number(&pointer) <= RECOVERY_LIMIT_S,
            ));
        }
        if let Some(readiness) = line.get("readiness").and_then(Value::as_object) {
            for (process, seen) in readiness {
                let recovered = seen.get("recovery_s").and_then(Value::as_f64).is_some_and(|s| s <= RECOVERY_LIMIT_S);
                verdicts.push((format!("{process} ready within {RECOVERY_LIMIT_S} s"), recovered));
            }
        }
        verdicts
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One Markdown table row per scenario line of `fault-load` (for RELIABILITY.md).
pub fn table(lines: &[Value]) -> String {
    let mut out = String::from(
        "| Scenario | Outage | Requests (failed: write / REST read / gRPC read) | How they failed | Events committed | Lost | Duplicated | Recovery: requests / readiness / events | Verdict |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for line in lines {
        let get = |p: &str| line.pointer(p).cloned().unwrap_or(Value::Null);
        let requests = ["rest_write", "rest_read", "grpc_read"];
        let failed: Vec<String> = requests
            .iter()
            .map(|k| format!("{}/{}", get(&format!("/requests/{k}/failed")), get(&format!("/requests/{k}/total"))))
            .collect();
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        for k in requests {
            if let Some(map) = line.pointer(&format!("/requests/{k}/failures")).and_then(Value::as_object) {
                for (reason, n) in map {
                    *reasons.entry(reason.clone()).or_default() += n.as_u64().unwrap_or(0);
                }
            }
        }
        let reasons = if reasons.is_empty() {
            "—".to_string()
        } else {
            reasons.iter().map(|(r, n)| format!("{n}× {r}")).collect::<Vec<_>>().join(", ")
        };
        let request_recovery = requests
            .iter()
            .filter_map(|k| line.pointer(&format!("/requests/{k}/recovery_s"))?.as_f64())
            .fold(0.0, f64::max);
        let readiness_recovery = line
            .get("readiness")
            .and_then(Value::as_object)
            .map_or(0.0, |m| m.values().filter_map(|v| v.get("recovery_s")?.as_f64()).fold(0.0, f64::max));
        let failed_verdicts: Vec<String> = line
            .get("verdicts")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter(|(_, ok)| ok.as_bool() != Some(true)).map(|(name, _)| name.clone()).collect())
            .unwrap_or_default();
        let verdict = if failed_verdicts.is_empty() {
            "pass".to_string()
        } else {
            format!("**FAIL**: {}", failed_verdicts.join("; "))
        };
        out.push_str(&format!(
            "| {} | {} s | {} | {} | {} | {} | {} | {} s / {} s / {} s | {} |\n",
            get("/scenario").as_str().unwrap_or("?").trim_start_matches("fault-"),
            get("/outage_s"),
            failed.join(" · "),
            reasons,
            get("/events/committed"),
            get("/events/lost"),
            get("/events/duplicated"),
            round1(request_recovery),
            round1(readiness_recovery),
            get("/events/recovery_s"),
            verdict,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(n: u128, committed_ms: i64) -> Committed {
        Committed {
            event_id: Uuid::from_u128(n),
            aggregate_id: Uuid::from_u128(1000 + n),
            aggregate_version: 2,
            committed_ms,
        }
    }

    fn sample(kind: Kind, started_ms: i64, failure: Option<&str>) -> Sample {
        Sample { kind, started_ms, ended_ms: started_ms + 5, failure: failure.map(str::to_string) }
    }

    const WINDOW: Window = Window { fault_ms: 10_000, restore_ms: 40_000 };

    #[test]
    fn a_committed_event_that_never_arrived_is_lost_and_a_second_delivery_is_a_duplicate() {
        let events = [committed(1, 1_000), committed(2, 20_000), committed(3, 41_000)];
        let deliveries: HashMap<String, Vec<i64>> = [
            (Uuid::from_u128(1).to_string(), vec![1_010, 40_500]),
            (Uuid::from_u128(3).to_string(), vec![41_020]),
            // Not committed by this run: ignored.
            (Uuid::from_u128(9).to_string(), vec![5_000, 6_000]),
        ]
        .into();
        let report = Report { samples: &[], readiness: &Vec::new(), committed: &events, deliveries: &deliveries };
        let line = report.summarize(&WINDOW, &[(Uuid::from_u128(1001), 2), (Uuid::from_u128(77), 5)], 1);
        assert_eq!(line["events"]["lost"], 1);
        assert_eq!(line["events"]["duplicated"], 1);
        assert_eq!(line["acknowledged_writes_without_event"], 1);
        let verdicts = report.verdicts(&line, &WINDOW, &Promise { failures_allowed: false });
        let broken: Vec<&str> = verdicts.iter().filter(|(_, ok)| !ok).map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            broken,
            [
                "zero lost events",
                "no acknowledged write without its event",
                "every product's version is its last event's"
            ]
        );
    }

    #[test]
    fn events_delivered_long_after_the_return_break_the_recovery_promise() {
        let events = [committed(1, 20_000)];
        let deliveries: HashMap<String, Vec<i64>> = [(Uuid::from_u128(1).to_string(), vec![52_500])].into();
        let report = Report { samples: &[], readiness: &Vec::new(), committed: &events, deliveries: &deliveries };
        let line = report.summarize(&WINDOW, &[], 0);
        assert_eq!(line["events"]["recovery_s"], 12.5);
        let verdicts = report.verdicts(&line, &WINDOW, &Promise { failures_allowed: false });
        assert!(verdicts.iter().any(|(name, ok)| name.starts_with("events flowing") && !ok));
    }

    #[test]
    fn failures_are_allowed_only_inside_the_window_and_only_when_clean() {
        let readiness = vec![("api".to_string(), 15_000, false), ("api".to_string(), 43_000, false)];
        let inside =
            [sample(Kind::Write, 20_000, Some("http 503")), sample(Kind::GrpcRead, 41_000, Some("grpc Unavailable"))];
        let report = Report { samples: &inside, readiness: &readiness, committed: &[], deliveries: &HashMap::new() };
        let line = report.summarize(&WINDOW, &[], 0);
        assert_eq!(line["requests"]["rest_write"]["failed_by_phase"]["during"], 1);
        assert_eq!(line["requests"]["grpc_read"]["recovery_s"], 1.0);
        assert_eq!(line["readiness"]["api"]["recovery_s"], 3.0);
        let allowed = Promise { failures_allowed: true };
        let broken = |verdicts: Vec<(String, bool)>| {
            verdicts.into_iter().filter(|(_, ok)| !ok).map(|(n, _)| n).collect::<Vec<_>>()
        };
        // Nothing was written in this synthetic run, so only those two verdicts fail.
        assert_eq!(
            broken(report.verdicts(&line, &WINDOW, &allowed)),
            ["writes were acknowledged", "events were committed"]
        );
        assert!(
            broken(report.verdicts(&line, &WINDOW, &Promise { failures_allowed: false }))
                .contains(&"zero failed requests".to_string())
        );

        let outside = [sample(Kind::RestRead, 5_000, Some("http 503")), sample(Kind::Write, 20_000, Some("http 500"))];
        let report = Report { samples: &outside, readiness: &readiness, committed: &[], deliveries: &HashMap::new() };
        let line = report.summarize(&WINDOW, &[], 0);
        let names = broken(report.verdicts(&line, &WINDOW, &allowed));
        assert!(names.contains(&"requests fail only while the dependency is away".to_string()));
        assert!(names.contains(&"every failure is a clean 503 / UNAVAILABLE".to_string()));
    }
}
