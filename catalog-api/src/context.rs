//! Per-request context: the request id and path every envelope carries, kept in a task-local
//! for the duration of the request so errors raised with `?` anywhere still know them. The same
//! middleware writes the access log and the HTTP metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use catalog_core::telemetry::{self, Served};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub path: String,
    /// The W3C trace id, when the request is part of a trace (for logs).
    pub trace_id: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context; outside a request (tests calling helpers directly) a blank one.
pub fn current() -> RequestContext {
    CONTEXT.try_with(Clone::clone).unwrap_or_else(|_| RequestContext {
        request_id: String::new(),
        path: String::new(),
        trace_id: None,
    })
}

#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests, by route, method and status"),
            &["route", "method", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency, by route")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["route", "method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }
}

/// Assigns the request id (the caller's `X-Request-ID` when sane, else a new UUIDv7), joins the
/// caller's trace (`traceparent`), runs the request inside its context and server span, echoes
/// the id, logs and measures.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let method = req.method().to_string();
    // The route pattern, not the path: ids would explode the metric's cardinality.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let caller = telemetry::extract(|key| req.headers().get(key).and_then(|v| v.to_str().ok()));
    // Probes and scrapes come every few seconds and say nothing about a user's request.
    let operational = route == "/metrics" || route.starts_with("/health");
    let served = if operational {
        Served::passing(caller)
    } else {
        Served::start(caller, || {
            catalog_core::work_span!(
                "HTTP request",
                "server",
                otel.name = %format_args!("{method} {route}"),
                http.request.method = %method,
                url.path = req.path(),
                http.route = %route,
                http.response.status_code = tracing::field::Empty,
                catalog.request_id = %request_id,
            )
        })
    };
    let trace_id = served.trace_id().map(|id| id.to_string());
    let context = RequestContext { request_id: request_id.clone(), path: req.path().to_string(), trace_id };
    req.extensions_mut().insert(context.clone());
    let metrics = req.app_data::<actix_web::web::Data<HttpMetrics>>().cloned();
    let started = Instant::now();

    let mut response = served.run(CONTEXT.scope(context.clone(), next.call(req))).await?;

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(span) = served.span() {
        span.record("http.response.status_code", i64::from(status));
        if status >= 500 {
            telemetry::fail(span, response.status().canonical_reason().unwrap_or("server error"));
        }
    }
    if let Some(metrics) = metrics {
        metrics.requests.with_label_values(&[&route, &method, &status.to_string()]).inc();
        metrics.duration.with_label_values(&[&route, &method]).observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "catalog_api::access",
        method,
        route,
        path = response.request().path(),
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        request_id,
        trace_id = context.trace_id.as_deref(),
        span_id = served.span_id().map(tracing::field::display),
        "request"
    );
    Ok(response)
}
