//! `catalog-grpc`: the gRPC server other services call (tonic, port 50052).

use catalog_core::cache::{self, Cache};
use catalog_core::cli::SharedCommand;
use catalog_core::config::Settings;
use catalog_core::db::replicas::Reads;
use catalog_core::health::HealthChecker;
use catalog_core::read::Catalog;
use catalog_core::shutdown::{self, Shutdown};
use catalog_core::{db, ops, process};
use catalog_grpc::server::GrpcServer;
use clap::{Parser, Subcommand};
use std::sync::Arc;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const SERVICE: &str = "catalog-grpc";

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

/// glibc's malloc led this server's profiles (`_int_malloc` alone 13-22 % of its samples on
/// warm details and cold random batches); with mimalloc's thread-local pages the random batch
/// ran 61 % faster and warm details 16 % (bench/NOTES.md). The API and the worker keep glibc:
/// there mimalloc doubled idle memory and halved the relay's publishing rate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    process::announce(SERVICE, &settings);
    let settings = Arc::new(settings);
    let postgres = db::pool(&settings.database)?;
    let redis = cache::pool(&settings.redis)?;
    let health = Arc::new(HealthChecker::new(postgres.clone()).with_redis(redis.clone()));
    let registry = ops::registry(SERVICE);
    ops::register_pools(&registry, &postgres, &redis, &settings);
    let stop = Shutdown::default();

    let ops_state = ops::OpsState { health: health.clone(), registry: registry.clone(), service: SERVICE };
    let ops_addr = (settings.grpc.host.clone(), settings.grpc.metrics_port);
    let ops_stop = stop.clone();
    let ops_server = tokio::spawn(ops::serve(ops_addr, ops_state, async move { ops_stop.wait().await }));

    let listener = tokio::net::TcpListener::bind((settings.grpc.host.as_str(), settings.grpc.port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "gRPC server listening");
    let reads = Reads::start(&settings.database, &registry, stop.clone())?;
    let catalog = Catalog::new(postgres, Cache::new(redis, &settings).with_near_cache(&settings)).with_reads(reads);
    let server = GrpcServer { settings: settings.clone(), catalog, health, registry };
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        shutdown::signal().await;
        signal_stop.trigger();
    });
    server.run(listener, stop).await?;
    ops_server.await??;
    tracing::info!("gRPC server stopped");
    Ok(())
}
