//! `catalog-api`: the REST API for the web and mobile front ends (actix-web, port 8002).

use actix_web::web;
use catalog_api::AppParts;
use catalog_api::context::HttpMetrics;
use catalog_api::state::ApiState;
use catalog_core::auth::Authenticator;
use catalog_core::auth::{Claims, mint_dev_token};
use catalog_core::cache::{self, Cache};
use catalog_core::cli::SharedCommand;
use catalog_core::config::{AuthMode, Settings};
use catalog_core::db::replicas::Reads;
use catalog_core::health::HealthChecker;
use catalog_core::ids::{LocalId, OrganizationId, UserId};
use catalog_core::media::MediaStore;
use catalog_core::read::Catalog;
use catalog_core::shutdown::Shutdown;
use catalog_core::{db, ops, process};
use clap::{Parser, Subcommand};
use std::sync::Arc;

const SERVICE: &str = "catalog-api";

#[derive(Debug, Parser)]
#[command(name = SERVICE, version, about = "Catalog REST API (actix-web)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API on API_HOST:API_PORT.
    Serve,
    /// Print a token for the local development auth mode (AUTH_MODE=dev).
    DevToken {
        #[arg(long)]
        organization: OrganizationId,
        #[arg(long)]
        user: Option<UserId>,
        #[arg(long, default_value = "dev@example.com")]
        email: String,
        /// Comma-separated permissions.
        #[arg(long, default_value = "catalog:*", value_delimiter = ',')]
        permissions: Vec<String>,
        /// Comma-separated local ids the user may act for.
        #[arg(long, value_delimiter = ',')]
        locals: Vec<LocalId>,
        #[arg(long, default_value_t = 15)]
        ttl_minutes: i64,
    },
    /// Print the OpenAPI document (what `/openapi.json` serves), e.g. to generate a client.
    Openapi,
    /// Print the AsyncAPI 3.0 document of the events (what `/asyncapi.json` serves).
    Asyncapi,
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
        Command::DevToken { organization, user, email, permissions, locals, ttl_minutes } => {
            anyhow::ensure!(settings.auth.mode == AuthMode::Dev, "dev-token needs AUTH_MODE=dev and AUTH_DEV_SECRET");
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                user_id: user.unwrap_or_else(UserId::generate),
                email,
                organization_id: organization,
                roles: vec!["admin".into()],
                permissions,
                locals,
                exp: now + ttl_minutes * 60,
                iat: now,
            };
            println!("{}", mint_dev_token(settings.auth.dev_secret.expose(), &claims)?);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&catalog_api::openapi::document_json())?);
            Ok(())
        }
        Command::Asyncapi => {
            println!("{}", serde_json::to_string_pretty(&catalog_core::asyncapi::for_settings(&settings.rabbitmq))?);
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
    let registry = ops::registry(SERVICE);
    ops::register_pools(&registry, &postgres, &redis, &settings);
    let health =
        HealthChecker::new(postgres.clone()).with_redis(redis.clone()).with_rabbitmq(&settings.rabbitmq, false);
    let auth = Authenticator::new(&settings, Some(redis.clone()), postgres.clone())?;
    // Replicas' lag is measured for as long as the process runs.
    let reads = Reads::start(&settings.database, &registry, Shutdown::default())?;
    let catalog =
        Catalog::new(postgres.clone(), Cache::new(redis, &settings).with_near_cache(&settings)).with_reads(reads);
    let media = MediaStore::from_settings(&settings.storage)?;
    let parts = AppParts {
        state: web::Data::new(ApiState::new(settings.clone(), postgres, catalog, auth, media)),
        metrics: web::Data::new(HttpMetrics::register(&registry)?),
        ops: web::Data::new(ops::OpsState { health: Arc::new(health), registry, service: SERVICE }),
    };
    // Import jobs run beside the requests, one batch (one pooled connection) at a time.
    tokio::spawn(catalog_api::imports::run(parts.state.clone()));
    let addr = (settings.api.host.clone(), settings.api.port);
    tracing::info!(host = %addr.0, port = addr.1, auth_mode = ?settings.auth.mode, "REST API listening");
    let mut server = actix_web::HttpServer::new(move || catalog_api::app(parts.clone()))
        // Kubernetes sends SIGTERM, then waits terminationGracePeriodSeconds: finish in-flight
        // requests well within it.
        .shutdown_timeout(20);
    if settings.api.workers > 0 {
        server = server.workers(settings.api.workers);
    }
    server.bind(addr)?.run().await?;
    tracing::info!("REST API stopped");
    Ok(())
}
