//! `catalog-worker`: relays the outbox to RabbitMQ and consumes other services' events.

use catalog_core::auth::Authenticator;
use catalog_core::cache::{self, Cache};
use catalog_core::cli::SharedCommand;
use catalog_core::config::Settings;
use catalog_core::health::{Condition, HealthChecker};
use catalog_core::ids::OrganizationId;
use catalog_core::inbound::EventHandler;
use catalog_core::media::MediaStore;
use catalog_core::read::Catalog;
use catalog_core::shutdown::Shutdown;
use catalog_core::stock::inventory::InventoryClient;
use catalog_core::stock::resync::{self, ResyncOptions};
use catalog_core::{db, ops, process, shutdown};
use catalog_worker::consumer::Consumers;
use catalog_worker::janitor::MediaJanitor;
use catalog_worker::metrics::WorkerMetrics;
use catalog_worker::relay::Relay;
use catalog_worker::stock::StockKeeper;
use catalog_worker::topology::{self, Topology, TopologyError};
use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::time::Duration;

const SERVICE: &str = "catalog-worker";

#[derive(Debug, Parser)]
#[command(name = SERVICE, version, about = "Catalog event worker (outbox relay, consumers)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker; health and metrics on WORKER_HOST:WORKER_PORT.
    Serve,
    /// Repair the stock read model from the Inventory Service (INVENTORY_GRPC_HOST): every
    /// organization with variants, or one.
    StockResync {
        /// Only this organization.
        #[arg(long)]
        organization: Option<uuid::Uuid>,
        /// Ask every variant's warehouses, not only those whose available quantity differs.
        #[arg(long)]
        full: bool,
    },
    #[command(flatten)]
    Shared(SharedCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = process::start(SERVICE);
    let outcome = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli.command, settings)),
        Err(e) => Err(e.into()),
    };
    process::exit(SERVICE, outcome)
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::StockResync { organization, full } => stock_resync(&settings, organization, full).await,
        Command::Shared(shared) => catalog_core::cli::run(shared, &settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    process::announce(SERVICE, &settings);
    let settings = Arc::new(settings);
    let postgres = db::pool(&settings.database)?;
    let redis = cache::pool(&settings.redis)?;
    let registry = ops::registry(SERVICE);
    ops::register_pools(&registry, &postgres, &redis, &settings);
    let metrics = WorkerMetrics::register(&registry)?;
    let queues_fit = Condition::default();
    let health = HealthChecker::new(postgres.clone())
        .with_redis(redis.clone())
        .with_rabbitmq(&settings.rabbitmq, true)
        .with_condition("rabbitmq_topology", queues_fit.clone());
    let stop = Shutdown::default();

    let rabbit_url = settings.rabbitmq.url().expose().to_string();
    let relay = Relay { settings: settings.clone(), amqp_url: rabbit_url.clone(), metrics: metrics.clone() };
    let relay_task = tokio::spawn(relay.run(stop.clone()));

    let auth = Arc::new(Authenticator::new(&settings, Some(redis.clone()), postgres.clone())?);
    let handler =
        EventHandler { pg: postgres.clone(), catalog: Catalog::new(postgres, Cache::new(redis, &settings)), auth };
    let janitor = MediaJanitor {
        pg: handler.pg.clone(),
        store: MediaStore::from_settings(&settings.storage)?,
        metrics: metrics.clone(),
        every: Duration::from_secs(2),
    };
    let janitor_task = tokio::spawn(janitor.run(stop.clone()));
    let stock_keeper = StockKeeper {
        pg: handler.pg.clone(),
        database_url: settings.database.url().expose().to_string(),
        inventory: InventoryClient::new(&settings.inventory, &settings.auth)?.map(Arc::new),
        options: ResyncOptions { batch_size: settings.inventory.batch_size, full: false },
        reconcile_every: Duration::from_secs(settings.inventory.reconcile_interval_secs),
        metrics: metrics.clone(),
    };
    let stock_task = tokio::spawn(stock_keeper.run(stop.clone()));
    let sweep_task = tokio::spawn(end_suspensions_on_their_date(handler.clone(), stop.clone()));
    let consumers = Consumers {
        url: rabbit_url,
        topology: Topology::new(&settings.rabbitmq),
        handler,
        metrics,
        max_retries: settings.worker.max_retries,
        stock_batch_size: settings.inventory.events_batch_size,
    };
    let consumers_task = tokio::spawn(start_consumers_once_queues_fit(consumers, queues_fit, stop.clone()));

    let state = ops::OpsState { health: Arc::new(health), registry, service: SERVICE };
    let addr = (settings.worker.host.clone(), settings.worker.port);
    tracing::info!(host = %addr.0, port = addr.1, "worker health and metrics listening");
    let ops_stop = stop.clone();
    let ops_server = tokio::spawn(ops::serve(addr, state, async move { ops_stop.wait().await }));

    shutdown::signal().await;
    stop.trigger();
    // In-flight messages finish before their consumer thread returns.
    let threads = consumers_task.await?;
    tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join()))).await?;
    relay_task.await?;
    sweep_task.await?;
    janitor_task.await?;
    stock_task.await?;
    ops_server.await??;
    tracing::info!("worker stopped");
    Ok(())
}

/// Starts the consumers once every queue can be declared as configured. A queue that exists
/// with another type or other arguments is reported (log and readiness) and checked again every
/// `RECHECK` — a configuration mistake or a migration in progress, which restarting the process
/// would not mend; the relay keeps publishing meanwhile. Returns the consumer threads.
async fn start_consumers_once_queues_fit(
    consumers: Consumers,
    queues_fit: Condition,
    stop: Shutdown,
) -> Vec<std::thread::JoinHandle<()>> {
    const RECHECK: Duration = Duration::from_secs(30);
    let mut backoff = catalog_worker::backoff::Backoff::default();
    loop {
        let (url, topology) = (consumers.url.clone(), consumers.topology.clone());
        let pause = match tokio::task::spawn_blocking(move || topology::verify(&url, &topology)).await {
            Ok(Ok(())) => {
                queues_fit.clear();
                return consumers.start(tokio::runtime::Handle::current(), stop);
            }
            Ok(Err(mismatch @ TopologyError::Mismatch { .. })) => {
                tracing::error!(error = %mismatch, "the worker's queues do not match RABBITMQ_QUEUE_TYPE");
                queues_fit.fail(mismatch.to_string());
                RECHECK
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot check the worker's queues yet; retrying");
                backoff.pause()
            }
            Err(e) => {
                tracing::error!(error = %e, "the queue check panicked; retrying");
                RECHECK
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.wait() => return Vec::new(),
        }
    }
}

/// A suspension with an end date lifts itself: every few seconds, cached validations of the
/// organizations whose date has passed are dropped (a failure is retried at the next tick).
async fn end_suspensions_on_their_date(handler: EventHandler, stop: Shutdown) {
    const EVERY: Duration = Duration::from_secs(5);
    loop {
        tokio::select! {
            () = stop.wait() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
        if let Err(error) = handler.end_expired_suspensions().await {
            tracing::warn!(%error, "ending expired suspensions failed; retrying");
        }
    }
}

/// `stock-resync`: one pass over the organizations (or one), reported per organization.
async fn stock_resync(settings: &Settings, organization: Option<uuid::Uuid>, full: bool) -> anyhow::Result<()> {
    let Some(inventory) = InventoryClient::new(&settings.inventory, &settings.auth)? else {
        anyhow::bail!("INVENTORY_GRPC_HOST is not set: there is no Inventory Service to ask");
    };
    let pool = db::pool(&settings.database)?;
    let organizations = match organization {
        Some(id) => vec![OrganizationId(id)],
        None => resync::organizations(&mut *pool.get().await?).await?,
    };
    let options = ResyncOptions { batch_size: settings.inventory.batch_size, full };
    for org in organizations {
        let report = resync::resync_organization(&pool, &inventory, org, options).await?;
        println!("organization {org}: {} variants checked, {} repaired", report.checked, report.repaired);
    }
    Ok(())
}
