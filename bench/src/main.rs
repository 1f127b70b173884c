//! `catalog-bench`: a closed-loop load generator for the catalog's three processes.
//!
//! ```text
//! catalog-bench --scenario grpc-validate-batch --concurrency 16 --duration 10 --warmup 2
//! catalog-bench --scenario mix --mix grpc-product-details:6,rest-product:3,grpc-search-barcode:1
//! catalog-bench sql-validate-batch > bench/sql/validate_batch.sql
//! catalog-bench wait-ready --process catalog-api --http http://127.0.0.1:8002/health/ready --since-ns N
//! ```
//!
//! Every run prints one JSON line on stdout (appended to `--out` too) and a readable line on
//! stderr. `bench/run.sh` runs them all; `bench/report.py` renders `bench/RESULTS.md`.

mod faults;
mod fixture;
mod grpc;
mod http;
mod load;
mod otlp_sink;
mod relay;
mod rest;
mod silence;
mod stock;
mod trace_cost;
mod upload;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use fixture::{Scale, WARM_PRODUCT, bench_product, bench_variant};
use grpc::{GrpcOp, GrpcScenario};
use load::{LoadConfig, Measurement, Op, round3};
use rest::{RestOp, RestScenario};
use serde_json::{Value, json};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

const SCENARIOS: &[&str] = &[
    "grpc-health",
    "grpc-validate-batch",
    "grpc-validate-batch-random",
    "grpc-product-details",
    "grpc-product-details-cold",
    "grpc-search-barcode",
    "grpc-search-sku-prefix",
    "grpc-search-title-typo",
    "grpc-explode-ticket",
    "grpc-explode-ticket-cold",
    "rest-noop",
    "rest-noop-authenticated",
    "rest-product",
    "rest-products-filtered",
    "rest-search",
    "rest-variants",
    "rest-variants-in-stock",
    "rest-variants-large",
    "rest-variants-large-in-stock",
    "large-product-update",
    "rest-upload",
    "relay-burst",
    "relay-drain",
    "mix",
];

#[derive(Debug, Parser)]
#[command(name = "catalog-bench", version, about = "Closed-loop load generator for the catalog service")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    tool: Option<Tool>,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// One of: grpc-health, grpc-validate-batch, grpc-product-details, grpc-product-details-cold,
    /// grpc-search-barcode, grpc-search-sku-prefix, grpc-search-title-typo, grpc-explode-ticket,
    /// grpc-explode-ticket-cold (bench/recipes.sh's fixture), rest-noop,
    /// rest-product, rest-products-filtered, rest-search, rest-variants[-large][-in-stock]
    /// (bench/stock.sh), large-product-update, rest-upload (bench/uploads.sh), relay-burst,
    /// relay-drain, mix.
    #[arg(long)]
    scenario: Option<String>,
    /// Closed-loop workers (each waits for its answer before sending again).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds before.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// HTTP/2 connections the gRPC workers share (round-robin).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// With `--scenario mix`: weighted scenarios, e.g. `grpc-product-details:6,rest-product:3`.
    #[arg(long, default_value = "grpc-product-details:4,grpc-validate-batch:2,grpc-search-barcode:2,rest-product:2")]
    mix: String,
    /// large-product-update: the bench product with this many variants (2000 or 10).
    #[arg(long, default_value_t = 2000)]
    variants: u32,
    /// Relay scenarios: events to write.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Relay scenarios: give up waiting for events after this many seconds.
    #[arg(long, default_value_t = 120)]
    relay_timeout: u64,
    /// Where cold product numbers start (default: derived from the clock, so reruns differ).
    #[arg(long)]
    cold_offset: Option<u64>,
    /// A free-form tag stored in the JSON line (e.g. "ceiling").
    #[arg(long, default_value = "")]
    label: String,
    /// rest-upload: the photo to upload (made, about 2 MB, if the file does not exist).
    #[arg(long, default_value = "bench/.run/photo-2mb.jpg")]
    photo: std::path::PathBuf,
    /// Append the JSON line to this file as well.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Args, Clone)]
struct Target {
    #[arg(long, env = "BENCH_GRPC_ADDR", default_value = "http://127.0.0.1:50052")]
    grpc_addr: String,
    #[arg(long, env = "BENCH_API_URL", default_value = "http://127.0.0.1:8002")]
    api_url: String,
    /// catalog-grpc's Prometheus endpoint (statements per call).
    #[arg(long, env = "BENCH_GRPC_METRICS", default_value = "http://127.0.0.1:9101/metrics")]
    grpc_metrics_url: String,
    /// Bearer token for the REST API (`catalog-api dev-token --organization <org #1>`).
    #[arg(long, env = "BENCH_TOKEN", default_value = "", hide_env_values = true)]
    token: String,
    #[arg(long, env = "DATABASE_URL", default_value = "postgres://postgres@127.0.0.1:5432/catalog_bench")]
    database_url: String,
    #[arg(long, env = "BENCH_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    #[arg(long, env = "RABBITMQ_EXCHANGE", default_value = "catalog_events")]
    exchange: String,
    /// The Redis catalog-grpc caches in, and its key prefix (the cold recipe explosion bumps a
    /// generation there).
    #[arg(long, env = "BENCH_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    redis_key_prefix: String,
    /// The seeded catalog's shape (`seed --products N --organizations K --variants-per-product V`).
    #[arg(long, env = "BENCH_PRODUCTS", default_value_t = 170_000)]
    products: u64,
    #[arg(long, env = "BENCH_ORGANIZATIONS", default_value_t = 4)]
    organizations: u32,
    #[arg(long, env = "BENCH_VARIANTS_PER_PRODUCT", default_value_t = 3)]
    variants_per_product: u32,
}

impl Target {
    fn scale(&self) -> Scale {
        Scale {
            products: self.products,
            organizations: self.organizations.max(1),
            variants_per_product: self.variants_per_product.max(1),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Tool {
    /// Print the SQL statement equivalent to ValidateVariantsBatch with the scenario's 100 ids
    /// (for pgbench).
    SqlValidateBatch {
        #[command(flatten)]
        target: Target,
    },
    /// The same statement with 100 ids drawn at random over organization #1 on each execution,
    /// as grpc-validate-batch-random draws them.
    SqlValidateBatchRandom {
        #[command(flatten)]
        target: Target,
    },
    /// A pgbench script of the statement a cold GetProductDetails sends, for a product drawn at
    /// random over the whole catalog on each execution (as grpc-product-details-cold reads them).
    SqlProductDetailsCold {
        #[command(flatten)]
        target: Target,
    },
    /// Print a pgbench script (run with `-M prepared`, as the service prepares it) of the POS
    /// search's scanned-barcode lookup, a barcode of organization #1 drawn as
    /// grpc-search-barcode draws them.
    SqlSearchBarcode {
        #[command(flatten)]
        target: Target,
    },
    /// Time what trace-context handling adds to each call when nothing is exported (one JSON
    /// line, bench/tracing.sh).
    TraceContextCost {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Accept OTLP/gRPC trace exports on 127.0.0.1:`port` and count their spans into
    /// `count_file` (bench/tracing.sh).
    OtlpSink {
        #[arg(long, default_value_t = 4327)]
        port: u16,
        #[arg(long)]
        count_file: std::path::PathBuf,
    },
    /// Print the SQL that adds the benchmark's fixtures: images for the warm product, and two
    /// products with 2,000 and 10 variants (idempotent).
    SqlFixtures {
        #[command(flatten)]
        target: Target,
    },
    /// Print the one statement that fills `variant_stock` for most variants (bench/stock.sh).
    SqlStockFill,
    /// Print a pgbench script of what the worker sends per stock event: `upsert` (the statement
    /// alone) or `transaction` (all of `apply_and_announce`'s statements).
    SqlStockPgbench {
        kind: String,
        /// `transaction`: the share of events that append an outbox row (the worker's, measured).
        #[arg(long, default_value_t = 50)]
        announce_percent: u32,
        #[command(flatten)]
        target: Target,
    },
    /// Publish a burst of `inventory.stock.updated` events (as Inventory's page prints them) and
    /// time their consumption by the worker, or by a no-op consumer (bench/stock.sh).
    StockEvents {
        /// worker or noop.
        #[arg(long, default_value = "worker")]
        consumer: stock::Consumer,
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Warehouses per variant (the burst names events / warehouses variants of org #1).
        #[arg(long, default_value_t = 2)]
        warehouses: u32,
        /// Report for the warehouses of `sql-stock-fill` (updating its rows) instead of new ones.
        #[arg(long)]
        onto_fill: bool,
        /// The exchange to publish to (the worker binds `{RABBITMQ_QUEUE_PREFIX}inventory_events`).
        #[arg(long)]
        inventory_exchange: String,
        /// worker: its inventory queue (metric label); noop: the queue to declare and delete.
        #[arg(long)]
        queue: String,
        /// The worker's Prometheus endpoint.
        #[arg(long, default_value = "http://127.0.0.1:9102/metrics")]
        worker_metrics: String,
        /// The worker's pid, to report its CPU time apart.
        #[arg(long)]
        worker_pid: Option<u32>,
        /// noop: the consumer's prefetch (the worker's RABBITMQ_PREFETCH).
        #[arg(long, default_value_t = 10)]
        prefetch: u16,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Print the SQL of the recipe benchmark's fixture (bench/recipes.sh): 20 dishes, three
    /// levels of recipes deep (idempotent).
    SqlRecipeFixtures,
    /// Print ids the scripts need: `org1`, `warm-product`.
    Id {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// The stock model's fault scenario (deploy/local/faults.sh inventory-silence): Inventory's
    /// events flow, stop, then resume; exits non-zero on a broken promise.
    InventorySilence {
        /// The exchange the worker binds for Inventory's events (`{prefix}inventory_events`).
        #[arg(long, default_value = "inventory_events")]
        inventory_exchange: String,
        /// The worker's Prometheus endpoint.
        #[arg(long, default_value = "http://127.0.0.1:9103/metrics")]
        worker_metrics: String,
        /// Seconds of events, of silence, and of events again.
        #[arg(long, default_value_t = 15)]
        feed: u64,
        #[arg(long, default_value_t = 30)]
        silence: u64,
        #[arg(long, default_value_t = 15)]
        resume: u64,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Run one fault scenario's steady load and check what it promises (deploy/local/faults.sh
    /// injects the fault and writes its moments to `--marks`); exits non-zero on a broken promise.
    FaultLoad {
        /// postgres-restart, rabbitmq-outage, redis-outage, worker-kill or worker-failover.
        #[arg(long)]
        fault: String,
        /// Seconds of load.
        #[arg(long, default_value_t = 60.0)]
        duration: f64,
        /// The file where faults.sh writes `fault <epoch ms>` and `restore <epoch ms>`.
        #[arg(long)]
        marks: std::path::PathBuf,
        /// After the load, how long to wait for the committed events to arrive.
        #[arg(long, default_value_t = 60)]
        drain_timeout: u64,
        /// Readiness URLs to probe (repeatable).
        #[arg(long = "ready")]
        ready_urls: Vec<String>,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Render the upload photo in-process on THREADS threads for SECONDS (bench/uploads.sh's
    /// ceiling) and print renders per second as a JSON line.
    RenderCeiling {
        #[arg(long)]
        photo: std::path::PathBuf,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 8.0)]
        duration: f64,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print the Markdown table of the fault-load lines in FILE (for RELIABILITY.md).
    FaultTable { file: std::path::PathBuf },
    /// Wait until a process answers (HTTP 200, or grpc.health.v1 SERVING) and print its
    /// start-up time measured from `--since-ns` (epoch nanoseconds taken just before exec).
    WaitReady {
        #[arg(long)]
        process: String,
        #[arg(long)]
        http: Option<String>,
        #[arg(long)]
        grpc: Option<String>,
        #[arg(long)]
        since_ns: i64,
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("catalog-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catalog-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.tool {
        Some(Tool::SqlValidateBatch { target }) => {
            println!("{}", validate_batch_sql(&target.scale()));
            Ok(())
        }
        Some(Tool::SqlValidateBatchRandom { target }) => {
            println!("{}", validate_batch_random_sql(&target.scale()));
            Ok(())
        }
        Some(Tool::SqlProductDetailsCold { target }) => {
            println!("{}", product_details_cold_sql(&target.scale())?);
            Ok(())
        }
        Some(Tool::SqlSearchBarcode { target }) => {
            println!("{}", search_barcode_sql(&target.scale())?);
            Ok(())
        }
        Some(Tool::SqlFixtures { target }) => {
            println!("{}", fixtures_sql(&target.scale()));
            Ok(())
        }
        Some(Tool::RenderCeiling { photo, threads, duration, out }) => {
            let photo = upload::photo_at(&photo, upload::PHOTO_BYTES)?;
            let mut line = upload::render_ceiling(&photo, threads, Duration::from_secs_f64(duration))?;
            line["scenario"] = json!("render-ceiling");
            line["photo_bytes"] = json!(photo.len());
            emit(&line, out.as_deref())
        }
        Some(Tool::SqlStockFill) => {
            print!("{}", stock::fill_sql());
            Ok(())
        }
        Some(Tool::SqlStockPgbench { kind, announce_percent, target }) => {
            print!("{}", stock::pgbench_sql(&target.scale(), &kind, announce_percent.min(100))?);
            Ok(())
        }
        Some(Tool::StockEvents {
            consumer,
            events,
            warehouses,
            onto_fill,
            inventory_exchange,
            queue,
            worker_metrics,
            worker_pid,
            prefetch,
            timeout,
            label,
            out,
            target,
        }) => {
            let args = stock::EventsArgs {
                consumer,
                amqp_url: target.amqp_url.clone(),
                exchange: inventory_exchange,
                queue,
                database_url: target.database_url.clone(),
                metrics_url: worker_metrics,
                worker_pid,
                events,
                warehouses,
                onto_fill,
                prefetch,
                timeout: Duration::from_secs(timeout),
                scale: target.scale(),
            };
            let result = stock::events(&args).await?;
            let mut line = json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "scenario": "stock-events",
                "label": label,
            });
            merge(&mut line, &result);
            eprintln!("stock-events {}", serde_json::to_string(&result)?);
            emit(&line, out.as_deref())
        }
        Some(Tool::TraceContextCost { out }) => emit(&trace_cost::measure().await, out.as_deref()),
        Some(Tool::OtlpSink { port, count_file }) => otlp_sink::run(port, count_file).await,
        Some(Tool::SqlRecipeFixtures) => {
            println!("{}", fixture::recipe_fixture_sql());
            Ok(())
        }
        Some(Tool::Id { name, target }) => {
            let scale = target.scale();
            let value = match name.as_str() {
                "org1" => scale.organization(1).to_string(),
                "warm-product" => scale.product(WARM_PRODUCT).to_string(),
                "large-product" => bench_product(2000).to_string(),
                "small-product" => bench_product(10).to_string(),
                other => anyhow::bail!("unknown id {other:?}: org1, warm-product, large-product, small-product"),
            };
            println!("{value}");
            Ok(())
        }
        Some(Tool::InventorySilence { inventory_exchange, worker_metrics, feed, silence, resume, out, target }) => {
            let args = silence::SilenceArgs {
                amqp_url: target.amqp_url.clone(),
                exchange: inventory_exchange,
                database_url: target.database_url.clone(),
                metrics_url: worker_metrics,
                organization: target.scale().organization(1),
                feed: Duration::from_secs(feed),
                silence: Duration::from_secs(silence),
                resume: Duration::from_secs(resume),
            };
            let (line, passed) = silence::run(args).await?;
            emit(&line, out.as_deref())?;
            anyhow::ensure!(passed, "a promise of this scenario was broken (see verdicts)");
            Ok(())
        }
        Some(Tool::FaultLoad { fault, duration, marks, drain_timeout, ready_urls, out, target }) => {
            let args = faults::FaultArgs {
                scenario: fault,
                duration: Duration::from_secs_f64(duration.max(1.0)),
                marks,
                drain_timeout: Duration::from_secs(drain_timeout),
                api_url: target.api_url.clone(),
                grpc_addr: target.grpc_addr.clone(),
                token: target.token.clone(),
                database_url: target.database_url.clone(),
                amqp_url: target.amqp_url.clone(),
                exchange: target.exchange.clone(),
                ready_urls,
                scale: target.scale(),
            };
            let (line, passed) = faults::run(args).await?;
            emit(&line, out.as_deref())?;
            anyhow::ensure!(passed, "a promise of this scenario was broken (see verdicts)");
            Ok(())
        }
        Some(Tool::FaultTable { file }) => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let lines = text.lines().map(serde_json::from_str).collect::<Result<Vec<Value>, _>>()?;
            print!("{}", faults::table(&lines));
            Ok(())
        }
        Some(Tool::WaitReady { process, http, grpc, since_ns, timeout, out }) => {
            let line = wait_ready(&process, http.as_deref(), grpc.as_deref(), since_ns, timeout).await?;
            emit(&line, out.as_deref())
        }
        None => {
            let scenario = cli.load.scenario.clone().context("--scenario is required (see --help)")?;
            anyhow::ensure!(
                SCENARIOS.contains(&scenario.as_str()),
                "unknown scenario {scenario:?}; one of {SCENARIOS:?}"
            );
            let line = run_scenario(&scenario, &cli.load).await?;
            emit(&line, cli.load.out.as_deref())
        }
    }
}

fn emit(line: &Value, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let text = serde_json::to_string(line)?;
    println!("{text}");
    if let Some(path) = out {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{text}")?;
    }
    Ok(())
}

fn config(args: &LoadArgs) -> LoadConfig {
    LoadConfig {
        concurrency: args.concurrency.max(1),
        warmup: Duration::from_secs_f64(args.warmup.max(0.0)),
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
    }
}

fn grpc_scenario(name: &str) -> Option<GrpcScenario> {
    Some(match name {
        "grpc-health" => GrpcScenario::Health,
        "grpc-validate-batch" => GrpcScenario::ValidateBatch,
        "grpc-validate-batch-random" => GrpcScenario::ValidateBatchRandom,
        "grpc-product-details" => GrpcScenario::ProductDetails,
        "grpc-product-details-cold" => GrpcScenario::ProductDetailsCold,
        "grpc-search-barcode" => GrpcScenario::SearchBarcode,
        "grpc-search-sku-prefix" => GrpcScenario::SearchSkuPrefix,
        "grpc-search-title-typo" => GrpcScenario::SearchTitleTypo,
        "grpc-explode-ticket" => GrpcScenario::ExplodeTicket,
        "grpc-explode-ticket-cold" => GrpcScenario::ExplodeTicketCold,
        _ => return None,
    })
}

fn rest_scenario(name: &str, variants: u32) -> Option<RestScenario> {
    Some(match name {
        "rest-noop" => RestScenario::Noop,
        "rest-noop-authenticated" => RestScenario::NoopAuthenticated,
        "rest-product" => RestScenario::Product,
        "rest-products-filtered" => RestScenario::ProductsFiltered,
        "rest-search" => RestScenario::Search,
        "large-product-update" => RestScenario::VariantUpdate(variants),
        "rest-upload" => RestScenario::Upload,
        _ => return None,
    })
}

/// One of a mix's ops.
enum AnyOp {
    Grpc(Box<GrpcOp>),
    Rest(Box<RestOp>),
}

impl AnyOp {
    async fn call(&mut self, i: u64) -> Result<usize, String> {
        match self {
            AnyOp::Grpc(op) => op.call(i).await,
            AnyOp::Rest(op) => op.call(i).await,
        }
    }
}

struct MixOp {
    /// (cumulative weight, op)
    ops: Vec<(u64, AnyOp)>,
    total: u64,
}

impl Op for MixOp {
    async fn call(&mut self, i: u64) -> Result<usize, String> {
        let pick = load::mix(i ^ 0x5eed) % self.total.max(1);
        let index = self.ops.iter().position(|(upto, _)| pick < *upto).unwrap_or(0);
        match self.ops.get_mut(index) {
            Some((_, op)) => op.call(i).await,
            None => Err("empty mix".into()),
        }
    }
}

fn parse_mix(spec: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let mut parts = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, weight) = item.split_once(':').unwrap_or((item, "1"));
        let weight: u64 = weight.trim().parse().with_context(|| format!("bad weight in {item:?}"))?;
        anyhow::ensure!(
            grpc_scenario(name).is_some()
                || (rest_scenario(name, 0).is_some() && !matches!(name, "large-product-update" | "rest-upload")),
            "{name:?} cannot be part of a mix"
        );
        parts.push((name.to_string(), weight));
    }
    anyhow::ensure!(!parts.is_empty() && parts.iter().any(|(_, w)| *w > 0), "empty --mix");
    Ok(parts)
}

fn cold_offset(args: &LoadArgs) -> u64 {
    args.cold_offset.unwrap_or_else(|| (chrono::Utc::now().timestamp() as u64 % 10_000) * 17)
}

async fn run_scenario(name: &str, args: &LoadArgs) -> anyhow::Result<Value> {
    let scale = args.target.scale();
    let base = json!({
        "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "scenario": name,
        "label": args.label,
        "concurrency": args.concurrency.max(1),
    });
    if name == "relay-burst" || name == "relay-drain" {
        let relay_args = relay::RelayArgs {
            database_url: args.target.database_url.clone(),
            amqp_url: args.target.amqp_url.clone(),
            exchange: args.target.exchange.clone(),
            events: args.events,
            concurrency: args.concurrency.max(1),
            timeout: Duration::from_secs(args.relay_timeout),
            scale,
        };
        let started = Instant::now();
        let result =
            if name == "relay-burst" { relay::burst(&relay_args).await? } else { relay::drain(&relay_args).await? };
        let mut line = base;
        merge(&mut line, &result);
        line["wall_s"] = json!(round3(started.elapsed().as_secs_f64()));
        eprintln!("{name:<28} {}", serde_json::to_string(&result)?);
        return Ok(line);
    }

    let config = config(args);
    let needs_grpc = grpc_scenario(name).is_some()
        || (name == "mix" && parse_mix(&args.mix)?.iter().any(|(n, _)| grpc_scenario(n).is_some()));
    let channels =
        if needs_grpc { grpc::channels(&args.target.grpc_addr, args.connections).await? } else { Vec::new() };
    let grpc_op = |scenario: GrpcScenario, worker: usize| -> anyhow::Result<GrpcOp> {
        let channel = channels.get(worker % channels.len().max(1)).cloned().context("no gRPC channel")?;
        let recipe_cache = grpc::RecipeCache {
            redis_url: args.target.redis_url.clone(),
            key_prefix: args.target.redis_key_prefix.clone(),
        };
        Ok(GrpcOp::new(scenario, channel, scale, cold_offset(args), recipe_cache))
    };
    let upload_form = match name {
        "rest-upload" => Some(upload::form(&upload::photo_at(&args.photo, upload::PHOTO_BYTES)?)),
        _ => None,
    };
    let rest_op = |scenario: RestScenario, worker: usize| -> anyhow::Result<RestOp> {
        let op = RestOp::new(scenario, &args.target.api_url, &args.target.token, scale, worker, config.concurrency)?;
        Ok(op.with_upload(upload_form.clone()))
    };

    // SQL statements catalog-grpc sends, around the measured window.
    let metrics_url = args.target.grpc_metrics_url.clone();
    let counter = "catalog_db_statements_total";
    let scrape_grpc = needs_grpc;
    let mut idle_rate = None;
    if name.ends_with("-cold") {
        // Background statements (health checks) per second, to subtract.
        if let Some(a) = http::scrape(&metrics_url, counter).await {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Some(b) = http::scrape(&metrics_url, counter).await {
                idle_rate = Some((b - a) / 2.0);
            }
        }
    }
    let at_start: Arc<Mutex<Option<f64>>> = Arc::new(Mutex::new(None));
    let marker = {
        let (at_start, url) = (at_start.clone(), metrics_url.clone());
        async move {
            if scrape_grpc {
                *at_start.lock().await = http::scrape(&url, counter).await;
            }
        }
    };

    let measurement: Measurement = if let Some(scenario) = grpc_scenario(name) {
        let workers = (0..config.concurrency).map(|w| grpc_op(scenario, w)).collect::<anyhow::Result<Vec<_>>>()?;
        load::run(config, workers, marker).await?
    } else if let Some(scenario) = stock::list_scenario(name) {
        let workers = (0..config.concurrency)
            .map(|_| stock::ListOp::new(scenario, &args.target.api_url, &args.target.token, scale))
            .collect::<anyhow::Result<Vec<_>>>()?;
        load::run(config, workers, marker).await?
    } else if let Some(scenario) = rest_scenario(name, args.variants) {
        if let RestScenario::VariantUpdate(variants) = scenario {
            anyhow::ensure!(
                config.concurrency as u32 <= variants,
                "--concurrency must not exceed --variants (each worker updates its own variants)"
            );
        }
        let workers = (0..config.concurrency).map(|w| rest_op(scenario, w)).collect::<anyhow::Result<Vec<_>>>()?;
        load::run(config, workers, marker).await?
    } else {
        let parts = parse_mix(&args.mix)?;
        let mut workers = Vec::with_capacity(config.concurrency);
        for w in 0..config.concurrency {
            let mut ops = Vec::new();
            let mut upto = 0;
            for (part, weight) in &parts {
                upto += weight;
                let op = match (grpc_scenario(part), rest_scenario(part, args.variants)) {
                    (Some(g), _) => AnyOp::Grpc(Box::new(grpc_op(g, w)?)),
                    (None, Some(r)) => AnyOp::Rest(Box::new(rest_op(r, w)?)),
                    (None, None) => anyhow::bail!("unknown mix part {part}"),
                };
                ops.push((upto, op));
            }
            workers.push(MixOp { ops, total: upto });
        }
        load::run(config, workers, marker).await?
    };

    let mut extra = json!({});
    if scrape_grpc {
        let before = *at_start.lock().await;
        let after = http::scrape(&metrics_url, counter).await;
        if let (Some(before), Some(after)) = (before, after) {
            let requests = (measurement.ok + measurement.error_count()).max(1) as f64;
            let background = idle_rate.unwrap_or(0.0) * measurement.elapsed_s;
            extra["sql_statements"] = json!(after - before);
            extra["statements_per_call"] = json!(round3(((after - before) - background).max(0.0) / requests));
            if let Some(rate) = idle_rate {
                extra["idle_statements_per_s"] = json!(round3(rate));
            }
        }
    }
    if name == "large-product-update" {
        extra["variants"] = json!(args.variants);
    }
    if name == "mix" {
        extra["mix"] = json!(args.mix);
    }
    let total = measurement.ok + measurement.error_count();
    let line = {
        let mut line = base;
        merge(
            &mut line,
            &json!({
                "connections": if needs_grpc { args.connections.max(1) } else { config.concurrency },
                "warmup_s": config.warmup.as_secs_f64(),
                "duration_s": round3(measurement.elapsed_s),
                "requests": total,
                "ok": measurement.ok,
                "errors": measurement.error_count(),
                "error_kinds": measurement.errors,
                "throughput_rps": round3(measurement.throughput()),
                "latency_ms": measurement.latency_json(),
                "bytes_per_response": measurement.bytes.checked_div(measurement.ok).unwrap_or(0),
                "extra": extra,
            }),
        );
        line
    };
    eprintln!(
        "{name:<28} c={:<3} {:>10.1} req/s  p50 {:>8.3} ms  p90 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  errors {}{}",
        config.concurrency,
        measurement.throughput(),
        measurement.quantile_ms(0.5),
        measurement.quantile_ms(0.9),
        measurement.quantile_ms(0.99),
        measurement.quantile_ms(1.0),
        measurement.error_count(),
        line["extra"].get("statements_per_call").map(|s| format!("  statements/call {s}")).unwrap_or_default(),
    );
    if measurement.error_count() > 0 {
        eprintln!("    errors: {}", serde_json::to_string(&measurement.errors)?);
    }
    Ok(line)
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

async fn wait_ready(
    process: &str,
    http_url: Option<&str>,
    grpc_addr: Option<&str>,
    since_ns: i64,
    timeout: u64,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let ready = if let Some(url) = http_url {
            http::fetch(url, Duration::from_millis(500)).await.is_ok_and(|r| r.status == 200)
        } else if let Some(addr) = grpc_addr {
            grpc_serving(addr).await
        } else {
            anyhow::bail!("--http or --grpc is required");
        };
        if ready {
            let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let ms = (now_ns - since_ns) as f64 / 1e6;
            eprintln!("{process:<16} ready after {ms:.0} ms");
            return Ok(json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "scenario": "startup",
                "process": process,
                "startup_ms": round3(ms),
            }));
        }
        anyhow::ensure!(Instant::now() < deadline, "{process} not ready within {timeout} s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn grpc_serving(addr: &str) -> bool {
    let attempt = async {
        let channel = tonic::transport::Endpoint::from_shared(addr.to_string()).ok()?.connect().await.ok()?;
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        let response =
            client.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.ok()?.into_inner();
        Some(response.status() == tonic_health::pb::health_check_response::ServingStatus::Serving)
    };
    tokio::time::timeout(Duration::from_millis(500), attempt).await.ok().flatten().unwrap_or(false)
}

/// The statement `variants::validate_many` sends, for the ids `ids` (an SQL `uuid[]`).
fn validate_many_sql(org: Uuid, ids: &str) -> String {
    format!(
        "SELECT v.id, v.organization_id, v.product_id, v.title, v.sku, v.barcode, v.sale_price, v.cost_price, \
         v.compare_at_price, v.tax_rate, v.weight, v.dim_length, v.dim_width, v.dim_height, v.lot_number, v.vendor, \
         v.warehouse_id, v.track_inventory, v.default_min_stock, v.default_max_stock, v.attributes, \
         v.option_signature, v.position, v.is_active, v.metadata, v.created_at, v.updated_at, v.version, \
         v.deleted_at, p.status, p.deleted_at, os.suspended, os.deactivated_at \
         FROM product_variants v \
         JOIN products p ON p.id = v.product_id AND p.organization_id = v.organization_id \
         LEFT JOIN organization_states os ON os.organization_id = v.organization_id \
         WHERE v.organization_id = '{org}' AND p.organization_id = '{org}' \
         AND v.id = ANY({ids});"
    )
}

/// ValidateVariantsBatch's statement with the scenario's 100 ids inlined.
fn validate_batch_sql(scale: &Scale) -> String {
    let (org, ids) = scale.validate_batch_ids(100);
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    format!(
        "-- ValidateVariantsBatch's one statement (catalog-core/src/repo/variants.rs validate_many)\n\
         -- for the 100 variant ids catalog-bench's grpc-validate-batch sends (organization #1).\n\
         -- Generated by `catalog-bench sql-validate-batch`; run by bench/run.sh through pgbench.\n{}",
        validate_many_sql(org, &format!("'{{{}}}'::uuid[]", list.join(",")))
    )
}

/// ValidateVariantsBatch's statement for 100 ids drawn at random over organization #1 at each
/// execution (its variants' ids are the seed's numbering: product n, variant j → n * 100 + j).
fn validate_batch_random_sql(scale: &Scale) -> String {
    let org = scale.organization(1);
    let orgs = u64::from(scale.organizations);
    let per_org = (scale.products / orgs).max(1);
    let first = scale.nth_of_org(1, 0);
    let prefix = &scale.variant(first, 1).to_string()[..24];
    let draw = format!(
        "ARRAY(SELECT ('{prefix}' || lpad(to_hex(n * 100 + j), 12, '0'))::uuid FROM \
         (SELECT {first} + floor(random() * {per_org})::bigint * {orgs} AS n, \
         1 + floor(random() * {vpp})::int AS j FROM generate_series(1, 100)) AS draw)",
        vpp = scale.variants_per_product
    );
    format!(
        "-- ValidateVariantsBatch's one statement for 100 variant ids drawn at random over organization #1\n\
         -- on every execution, as catalog-bench's grpc-validate-batch-random draws them.\n\
         -- Generated by `catalog-bench sql-validate-batch-random`; run by bench/run.sh through pgbench.\n{}",
        validate_many_sql(org, &draw)
    )
}

/// `products::load_details`' statement with its two binds drawn from pgbench's `:n`: product
/// n of the seed and its organization.
fn product_details_cold_sql(scale: &Scale) -> anyhow::Result<String> {
    let statement = catalog_core::repo::products::details_statement();
    anyhow::ensure!(
        statement.contains("$1") && statement.contains("$2") && !statement.contains("$3"),
        "the details statement no longer has exactly two binds: {statement}"
    );
    let orgs = scale.organizations;
    let org_prefix = &scale.organization(1).to_string()[..24];
    let product_prefix = &scale.product(1).to_string()[..9];
    let org_number = format!("lpad(to_hex(1 + (:n)::bigint % {orgs}), 4, '0')");
    let org = format!("('{org_prefix}' || lpad(to_hex(1 + (:n)::bigint % {orgs}), 12, '0'))::uuid");
    let product = format!(
        "ARRAY[('{product_prefix}' || {org_number} || '-8000-8000-' || lpad(to_hex((:n)::bigint), 12, '0'))::uuid]"
    );
    Ok(format!(
        "-- The one statement of a cold GetProductDetails (catalog-core/src/repo/products.rs load_details),\n\
         -- for product n drawn at random over the whole seeded catalog on every execution.\n\
         -- Generated by `catalog-bench sql-product-details-cold`; run by bench/run.sh through pgbench.\n\
         \\set n random(1, {})\n{};",
        scale.products,
        statement.replace("$1", &org).replace("$2", &product)
    ))
}

/// `search::scanned_barcode_statement` for a barcode of organization #1: pgbench computes
/// product n, variant j and the EAN-13 check digit of `Scale::barcode(n, j)` client-side, so
/// the statement gets one text parameter, as the service sends it.
fn search_barcode_sql(scale: &Scale) -> anyhow::Result<String> {
    let statement = catalog_core::search::scanned_barcode_statement();
    anyhow::ensure!(
        statement.contains("$3") && !statement.contains("$4"),
        "the barcode statement no longer has exactly three binds: {statement}"
    );
    let orgs = u64::from(scale.organizations);
    let per_org = (scale.products / orgs).max(1);
    // Organization #1 owns products orgs, 2·orgs, …: what `nth_of_org(1, _)` draws from.
    anyhow::ensure!(
        scale.nth_of_org(1, 0) == orgs && scale.nth_of_org(1, 1) == 2 * orgs,
        "nth_of_org(1, _) changed its layout"
    );
    anyhow::ensure!(scale.barcode(1, 1) == catalog_core::seed::ean13(780_000_000_101), "barcode layout changed");
    // EAN-13 over the 12-digit body: digits weighted 1, 3, 1, … from the most significant.
    let weighted: Vec<String> = (0..12)
        .map(|i| format!("{} * (:body / {} % 10)", if i % 2 == 0 { 1 } else { 3 }, 10_u64.pow(11 - i)))
        .collect();
    let org = scale.organization(1);
    Ok(format!(
        "-- The POS search's scanned-barcode lookup (catalog-core/src/search.rs barcode_query!), for a\n\
         -- barcode of organization #1 drawn as grpc-search-barcode draws them. Run with -M prepared.\n\
         -- Generated by `catalog-bench sql-search-barcode`; run by bench/run.sh through pgbench.\n\
         \\set n {orgs} * random(1, {per_org})\n\
         \\set body 780000000000 + :n * 100 + random(1, {variants})\n\
         \\set sum {sum}\n\
         \\set code :body * 10 + (10 - :sum % 10) % 10\n\
         {sql};",
        variants = scale.variants_per_product,
        sum = weighted.join(" + "),
        sql = statement.replace("$1", &format!("'{org}'")).replace("$2", ":code").replace("$3", "20"),
    ))
}

/// Idempotent fixture SQL (organization #1): images for the warm product and its variants, and
/// two products with 2,000 and 10 variants for the large-product scenario.
fn fixtures_sql(scale: &Scale) -> String {
    let org = scale.organization(1);
    let warm = scale.product(WARM_PRODUCT);
    let mut sql = String::from("BEGIN;\n");
    sql.push_str(&format!(
        "INSERT INTO product_images (id, organization_id, product_id, url, alt, position, is_primary) VALUES \
         ('be4c0100-0000-4000-8000-000000000001', '{org}', '{warm}', 'https://cdn.example.com/bench/warm-1.jpg', 'Vista frontal', 0, true), \
         ('be4c0100-0000-4000-8000-000000000002', '{org}', '{warm}', 'https://cdn.example.com/bench/warm-2.jpg', 'Vista lateral', 1, false) \
         ON CONFLICT DO NOTHING;\n"
    ));
    for j in 1..=scale.variants_per_product {
        let variant = scale.variant(WARM_PRODUCT, j);
        sql.push_str(&format!(
            "INSERT INTO variant_images (id, organization_id, variant_id, url, alt, position, is_primary) VALUES \
             ('be4c0101-0000-4000-8000-{j:012x}', '{org}', '{variant}', 'https://cdn.example.com/bench/warm-v{j}.jpg', 'Talla {j}', 0, true) \
             ON CONFLICT DO NOTHING;\n"
        ));
    }
    for (variants, code) in [(2000_u32, "L"), (10, "S")] {
        let product = bench_product(variants);
        sql.push_str(&format!(
            "INSERT INTO products (id, organization_id, title, slug, sku, status, product_type, has_variants) VALUES \
             ('{product}', '{org}', 'Producto de prueba con {variants} variantes', 'bench-producto-{variants}-variantes', \
             'BENCH-{code}', 'active', 'bench', true) ON CONFLICT DO NOTHING;\n"
        ));
        let first = bench_variant(variants, 0).to_string();
        let family = &first[..8];
        sql.push_str(&format!(
            "INSERT INTO product_variants (id, organization_id, product_id, title, sku, sale_price, tax_rate, position) \
             SELECT ('{family}-0000-4000-8000-' || lpad(to_hex(j), 12, '0'))::uuid, '{org}', '{product}', \
             'Variante ' || j, 'BENCH-{code}-' || lpad(j::text, 5, '0'), 1000 + j, 19, j - 1 \
             FROM generate_series(1, {variants}) AS j ON CONFLICT DO NOTHING;\n"
        ));
    }
    sql.push_str("COMMIT;\nANALYZE product_images, variant_images;\n");
    sql
}
