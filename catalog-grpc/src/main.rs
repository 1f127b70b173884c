//! `catalog-grpc`: the gRPC server other services call (tonic, port 50052).

use catalog_core::cli::SharedCommand;
use catalog_core::config::Settings;
use catalog_core::health::HealthChecker;
use catalog_core::shutdown::{self, Shutdown};
use catalog_core::{cache, db, ops, process};
use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::time::Duration;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const SERVICE: &str = "catalog-grpc";
/// The name clients and Kubernetes probes ask `grpc.health.v1` about.
const CATALOG_SERVICE_NAME: &str = "catalog.CatalogService";

#[derive(Debug, Parser)]
#[command(name = SERVICE, version, about = "Catalog gRPC server (tonic)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC on GRPC_HOST:GRPC_PORT, metrics and health on GRPC_METRICS_PORT.
    Serve,
    /// Ask a running server's grpc.health.v1 whether it is serving; exit 0 if so.
    HealthCheck {
        #[arg(long, default_value = "http://127.0.0.1:50052")]
        addr: String,
        /// The service to ask about; empty means the whole server.
        #[arg(long, default_value = "")]
        service: String,
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
        Command::HealthCheck { addr, service } => {
            let channel = tonic::transport::Endpoint::from_shared(addr.clone())?.connect().await?;
            let mut client = HealthClient::new(channel);
            let status = client.check(HealthCheckRequest { service }).await?.into_inner().status();
            println!("{addr}: {}", status.as_str_name());
            anyhow::ensure!(status == tonic_health::pb::health_check_response::ServingStatus::Serving, "not serving");
            Ok(())
        }
        Command::Shared(shared) => catalog_core::cli::run(shared, &settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let postgres = db::pool(&settings.database)?;
    let redis = cache::pool(&settings.redis)?;
    let health = Arc::new(HealthChecker::new(postgres).with_redis(redis));
    let registry = ops::registry(SERVICE);
    let stop = Shutdown::default();

    let (reporter, health_service) = tonic_health::server::health_reporter();
    tokio::spawn(report_health(reporter, health.clone(), stop.clone()));

    let ops_state = ops::OpsState { health, registry, service: SERVICE };
    let ops_addr = (settings.grpc.host.clone(), settings.grpc.metrics_port);
    let ops_stop = stop.clone();
    let ops_server = tokio::spawn(ops::serve(ops_addr, ops_state, async move { ops_stop.wait().await }));

    let addr = format!("{}:{}", settings.grpc.host, settings.grpc.port).parse()?;
    tracing::info!(%addr, "gRPC server listening");
    let server_stop = stop.clone();
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(settings.grpc.max_workers)
        .add_service(health_service)
        .serve_with_shutdown(addr, async move {
            shutdown::signal().await;
            server_stop.trigger();
        })
        .await?;
    ops_server.await??;
    tracing::info!("gRPC server stopped");
    Ok(())
}

/// `grpc.health.v1` says SERVING only while PostgreSQL answers, so Kubernetes takes a pod out
/// of rotation when its database is unreachable.
async fn report_health(reporter: tonic_health::server::HealthReporter, health: Arc<HealthChecker>, stop: Shutdown) {
    loop {
        let status = if health.report().await.ready { ServingStatus::Serving } else { ServingStatus::NotServing };
        reporter.set_service_status("", status).await;
        reporter.set_service_status(CATALOG_SERVICE_NAME, status).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = stop.wait() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                return;
            }
        }
    }
}
