//! Cross-cutting concerns as one tower layer around every RPC: request ids, trace context and
//! the server span, the optional shared service token, structured request logs and Prometheus
//! metrics (per method: count by status code, latency histogram).

use catalog_core::db::replicas;
use catalog_core::telemetry::{self, Served};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::body::Body;
use tower::{Layer, Service};

/// The request's id: taken from `x-request-id` when the caller sends one, generated otherwise.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Clone)]
pub struct GrpcMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl GrpcMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("grpc_requests_total", "gRPC requests handled, by method and status code"),
            &["method", "code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("grpc_request_duration_seconds", "gRPC request latency, by method")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["method"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }
}

#[derive(Clone)]
pub struct ObservabilityLayer {
    metrics: GrpcMetrics,
    service_token: Option<Arc<str>>,
}

impl ObservabilityLayer {
    pub fn new(metrics: GrpcMetrics, service_token: Option<String>) -> Self {
        Self { metrics, service_token: service_token.filter(|t| !t.is_empty()).map(Into::into) }
    }
}

impl<S> Layer<S> for ObservabilityLayer {
    type Service = Observed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observed { inner, layer: self.clone() }
    }
}

#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    layer: ObservabilityLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for Observed<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().rsplit('/').next().unwrap_or_default().to_string();
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        request.extensions_mut().insert(RequestId(request_id.clone()));
        let layer = self.layer.clone();
        let started = Instant::now();

        // The shared service token guards the catalog, not the health service probes use.
        let is_health = request.uri().path().starts_with("/grpc.health.v1.");
        let caller = telemetry::extract_http(request.headers());
        // Probes come every few seconds and say nothing about a caller's request.
        let served = if is_health {
            Served::passing(caller)
        } else {
            Served::start(caller, || {
                let service = request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
                catalog_core::work_span!(
                    "RPC",
                    "server",
                    otel.name = %request.uri().path().trim_start_matches('/'),
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = %method,
                    rpc.grpc.status_code = tracing::field::Empty,
                    catalog.request_id = %request_id,
                )
            })
        };

        if let (Some(token), false) = (&layer.service_token, is_health) {
            let presented = request.headers().get("authorization").and_then(|v| v.to_str().ok());
            if presented.and_then(|v| v.strip_prefix("Bearer ")) != Some(token.as_ref()) {
                if let Some(span) = served.span() {
                    span.record("rpc.grpc.status_code", tonic::Code::Unauthenticated as i32);
                }
                record(&layer.metrics, &method, tonic::Code::Unauthenticated as i32, started, &request_id, &served);
                let status = tonic::Status::unauthenticated("missing or invalid service token");
                return Box::pin(async move { Ok(status.into_http()) });
            }
        }

        // Take the service that was polled ready; leave a fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // Every catalog method reads: each runs read-only, after the caller's position if given.
        let after = request
            .headers()
            .get(replicas::READ_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|text| text.parse::<replicas::Lsn>().ok());
        Box::pin(async move {
            let mut response = served.run(replicas::read_only(after, inner.call(request))).await?;
            // Unary errors come back "trailers-only", with grpc-status in the headers; a
            // successful call carries it in the trailers (0).
            let code =
                response.headers().get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<i32>().ok()).unwrap_or(0);
            if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            if let Some(span) = served.span() {
                span.record("rpc.grpc.status_code", code);
                // Server errors, as the semantic conventions count them for gRPC servers.
                if is_server_error(code) {
                    telemetry::fail(span, "server error");
                }
            }
            record(&layer.metrics, &method, code, started, &request_id, &served);
            Ok(response)
        })
    }
}

/// UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
fn is_server_error(code: i32) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

fn record(metrics: &GrpcMetrics, method: &str, code: i32, started: Instant, request_id: &str, served: &Served) {
    let elapsed = started.elapsed();
    let code_name = format!("{:?}", tonic::Code::from_i32(code));
    metrics.requests.with_label_values(&[method, &code_name]).inc();
    metrics.duration.with_label_values(&[method]).observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "catalog_grpc::access",
        method,
        code = %code_name,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        request_id,
        trace_id = served.trace_id().map(tracing::field::display),
        span_id = served.span_id().map(tracing::field::display),
        "rpc"
    );
}
