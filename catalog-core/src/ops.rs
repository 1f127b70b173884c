//! The operations endpoints every process serves: `/health`, `/health/live`, `/health/ready`,
//! `/metrics`. The API mounts them on its own port; the gRPC server and the worker serve them on
//! a small side port.

use crate::cache::RedisPool;
use crate::config::Settings;
use crate::db::PgPool;
use crate::health::HealthChecker;
use actix_web::{HttpResponse, web};
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use std::sync::{Arc, LazyLock};

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

/// 1 while the last readiness check passed (`catalog_ready`): set by every probe and scrape, so
/// a dashboard sees a pod flap between the kubelet's probes too.
static READY: LazyLock<IntGauge> = LazyLock::new(|| {
    IntGauge::new("ready", "1 when the process's dependencies answered its last readiness check")
        .unwrap_or_else(|_| unreachable!("a valid metric name"))
});

async fn ready(state: web::Data<OpsState>) -> HttpResponse {
    let report = state.health.report().await;
    READY.set(i64::from(report.ready));
    let body = serde_json::json!({
        "status": if report.ready { "ready" } else { "not_ready" },
        "service": state.service,
        "checks": report.checks,
    });
    if report.ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

async fn metrics(state: web::Data<OpsState>) -> HttpResponse {
    READY.set(i64::from(state.health.report().await.ready));
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
        register_at_scrape(&registry, statements, |counter| {
            counter.inc_by(crate::db::statements_sent().saturating_sub(counter.get()));
        });
    }
    let lookups = IntCounterVec::new(
        Opts::new(
            "cache_lookups_total",
            "Cached entries looked up, by where the answer came from (near: this process's memory)",
        ),
        &["answered_from"],
    );
    if let Ok(lookups) = lookups {
        register_at_scrape(&registry, lookups, |counters| {
            for (answered_from, total) in crate::cache::lookups() {
                let counter = counters.with_label_values(&[answered_from]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        });
    }
    let _ = registry.register(Box::new(READY.clone()));
    registry
}

/// Serves the connection pools' occupancy at scrape time: `db_pool_connections{state}` and
/// `db_pool_max_connections`, and the same for Redis (`redis_pool_*`).
pub fn register_pools(registry: &Registry, postgres: &PgPool, redis: &RedisPool, settings: &Settings) {
    let postgres = postgres.clone();
    register_pool(registry, "db_pool", "PostgreSQL", settings.database.pool_size, move || postgres.state());
    let redis = redis.clone();
    register_pool(registry, "redis_pool", "Redis", settings.redis.pool_size, move || redis.state());
}

fn register_pool(
    registry: &Registry,
    name: &str,
    what: &str,
    max: u32,
    state: impl Fn() -> bb8::State + Send + Sync + 'static,
) {
    let connections = prometheus::IntGaugeVec::new(
        Opts::new(format!("{name}_connections"), format!("{what} connections of this process's pool, busy or idle")),
        &["state"],
    );
    let limit = IntGauge::new(format!("{name}_max_connections"), format!("The {what} pool's size"));
    if let (Ok(connections), Ok(limit)) = (connections, limit) {
        limit.set(i64::from(max));
        let _ = registry.register(Box::new(limit));
        register_at_scrape(registry, connections, move |connections| {
            let state = state();
            let busy = state.connections.saturating_sub(state.idle_connections);
            connections.with_label_values(&["busy"]).set(i64::from(busy));
            connections.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
        });
    }
}

/// Registers `metric`, brought up to date from its source by `refresh` each time it is scraped
/// (the sources are plain atomics or pool states, cheaper to read than to mirror on every change).
fn register_at_scrape<M: Collector + 'static>(
    registry: &Registry,
    metric: M,
    refresh: impl Fn(&M) + Send + Sync + 'static,
) {
    let _ = registry.register(Box::new(AtScrape { metric, refresh: Box::new(refresh) }));
}

struct AtScrape<M> {
    metric: M,
    refresh: Box<dyn Fn(&M) + Send + Sync>,
}

impl<M: Collector> Collector for AtScrape<M> {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.metric.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        (self.refresh)(&self.metric);
        self.metric.collect()
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
