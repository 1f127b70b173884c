//! `catalog-worker`: relays the outbox to RabbitMQ and consumes other services' events.

use catalog_core::cli::SharedCommand;
use catalog_core::config::Settings;
use catalog_core::health::HealthChecker;
use catalog_core::{cache, db, ops, process, shutdown};
use clap::{Parser, Subcommand};
use std::sync::Arc;

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
        Command::Shared(shared) => catalog_core::cli::run(shared, &settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let postgres = db::pool(&settings.database)?;
    let redis = cache::pool(&settings.redis)?;
    let health = HealthChecker::new(postgres).with_redis(redis).with_rabbitmq(&settings.rabbitmq, true);
    let state = ops::OpsState { health: Arc::new(health), registry: ops::registry(SERVICE), service: SERVICE };
    let addr = (settings.worker.host.clone(), settings.worker.port);
    tracing::info!(host = %addr.0, port = addr.1, "worker health and metrics listening");
    ops::serve(addr, state, shutdown::signal()).await?;
    tracing::info!("worker stopped");
    Ok(())
}
