//! Assembles and runs the gRPC server; `main` and the integration tests share it.

use crate::layers::{GrpcMetrics, ObservabilityLayer};
use crate::pb;
use crate::pb::catalog::catalog_service_server::CatalogServiceServer;
use crate::service::CatalogGrpc;
use catalog_core::config::Settings;
use catalog_core::health::HealthChecker;
use catalog_core::read::Catalog;
use catalog_core::shutdown::Shutdown;
use prometheus::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;

/// The name clients and Kubernetes probes ask `grpc.health.v1` about.
pub const CATALOG_SERVICE_NAME: &str = "catalog.CatalogService";

/// Largest request accepted; the biggest legitimate one is a batch of `GRPC_MAX_BATCH_SIZE` ids.
const MAX_DECODING_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

pub struct GrpcServer {
    pub settings: Arc<Settings>,
    pub catalog: Catalog,
    pub health: Arc<HealthChecker>,
    pub registry: Registry,
}

impl GrpcServer {
    /// Serves on `listener` until `stop` is triggered, then drains in-flight calls.
    pub async fn run(self, listener: TcpListener, stop: Shutdown) -> anyhow::Result<()> {
        let settings = &self.settings.grpc;
        let (reporter, health_service) = tonic_health::server::health_reporter();
        tokio::spawn(report_health(reporter, self.health.clone(), stop.clone()));

        let catalog = CatalogServiceServer::new(CatalogGrpc::new(self.catalog.clone(), settings.max_batch_size))
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        let metrics = GrpcMetrics::register(&self.registry)?;
        let token = Some(settings.service_token.expose().to_string());

        let mut builder = Server::builder();
        if let (Some(cert), Some(key)) = (&settings.tls_cert_path, &settings.tls_key_path) {
            let identity = Identity::from_pem(std::fs::read(cert)?, std::fs::read(key)?);
            builder = builder.tls_config(ServerTlsConfig::new().identity(identity))?;
        }
        let mut router = builder
            .timeout(Duration::from_secs(30))
            .layer(ObservabilityLayer::new(metrics, token))
            // GRPC_MAX_WORKERS bounds the calls served at once across all connections.
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(settings.max_workers))
            .add_service(health_service)
            .add_service(catalog);
        if settings.reflection {
            // Both versions: grpcurl and other tools older than v1 support ask v1alpha.
            let reflection = || {
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            };
            router = router.add_service(reflection().build_v1()?).add_service(reflection().build_v1alpha()?);
        }
        // Without TCP_NODELAY a response's frames wait for the client's delayed ACK: a constant
        // ~40 ms on every call. tonic only sets it on listeners it binds itself.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        router.serve_with_incoming_shutdown(incoming, async move { stop.wait().await }).await?;
        Ok(())
    }
}

/// `grpc.health.v1` says SERVING only while PostgreSQL answers, so Kubernetes takes a pod out
/// of rotation when its database is unreachable.
async fn report_health(reporter: tonic_health::server::HealthReporter, health: Arc<HealthChecker>, stop: Shutdown) {
    loop {
        let status = if health.report().await.ready { ServingStatus::Serving } else { ServingStatus::NotServing };
        reporter.set_service_status("", status).await;
        reporter.set_service_status(CATALOG_SERVICE_NAME, status).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = stop.wait() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                reporter.set_service_status(CATALOG_SERVICE_NAME, ServingStatus::NotServing).await;
                return;
            }
        }
    }
}
