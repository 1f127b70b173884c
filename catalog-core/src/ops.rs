//! The operations endpoints every process serves: `/health`, `/health/live`, `/health/ready`,
//! `/metrics`. The API mounts them on its own port; the gRPC server and the worker serve them on
//! a small side port.

use crate::health::HealthChecker;
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, Registry, TextEncoder};
use std::sync::Arc;

#[derive(Clone)]
pub struct OpsState {
    pub health: Arc<HealthChecker>,
    pub registry: Registry,
    pub service: &'static str,
}

/// Registers the four routes on an actix app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(ready))
        .route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn live(state: web::Data<OpsState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "alive", "service": state.service }))
}

async fn ready(state: web::Data<OpsState>) -> HttpResponse {
    let report = state.health.report().await;
    let body = serde_json::json!({
        "status": if report.ready { "ready" } else { "not_ready" },
        "service": state.service,
        "checks": report.checks,
    });
    if report.ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

async fn metrics(state: web::Data<OpsState>) -> HttpResponse {
    let mut buffer = Vec::new();
    let families = state.registry.gather();
    match TextEncoder::new().encode(&families, &mut buffer) {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(buffer),
        Err(e) => {
            tracing::error!(error = %e, "metrics encoding failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// A registry with the process collector (RSS, CPU, open fds) already registered.
pub fn registry(service: &str) -> Registry {
    let labels = std::collections::HashMap::from([("service".to_string(), service.to_string())]);
    let registry = Registry::new_custom(Some("catalog".into()), Some(labels)).unwrap_or_default();
    let _ = registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()));
    if let Ok(statements) = prometheus::IntCounter::new("db_statements_total", "SQL statements sent to PostgreSQL") {
        let _ = registry.register(Box::new(StatementsCollector(statements)));
    }
    registry
}

/// Mirrors [`crate::db::STATEMENTS`] into a counter at scrape time.
struct StatementsCollector(prometheus::IntCounter);

impl prometheus::core::Collector for StatementsCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.0.inc_by(crate::db::statements_sent().saturating_sub(self.0.get()));
        self.0.collect()
    }
}

/// Serves only the operations endpoints (gRPC server and worker side port) until `shutdown`.
pub async fn serve(
    addr: (String, u16),
    state: OpsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let data = web::Data::new(state);
    let server = actix_web::HttpServer::new(move || actix_web::App::new().app_data(data.clone()).configure(configure))
        .workers(1)
        .disable_signals()
        .bind(addr)?
        .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.await;
        handle.stop(true).await;
    });
    server.await
}
