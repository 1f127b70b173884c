//! What trace-context handling adds to each request when nothing is exported: the work the REST
//! middleware and the gRPC layer do per call (read `traceparent`/`tracestate`, make the context
//! current around the handler's future, read the ids for the access log), timed in a loop
//! beside the same loop without it. bench/tracing.sh divides the difference by the CPU a warm
//! GetProductDetails costs the server in the same run.

use catalog_core::telemetry::{self, Served};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;

const CALLS: u32 = 2_000_000;

/// Nanoseconds per call of the bare loop, and with the context handled, for a request without
/// and with a `traceparent` (passed on unchanged, its ids written as the access log writes them).
pub async fn measure() -> Value {
    let mut bare = http::HeaderMap::new();
    bare.insert("content-type", http::HeaderValue::from_static("application/grpc"));
    bare.insert("te", http::HeaderValue::from_static("trailers"));
    let mut traced = bare.clone();
    traced.insert(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    let baseline = time(&bare, false).await.min(time(&bare, false).await);
    let without = time(&bare, true).await.min(time(&bare, true).await);
    let with = time(&traced, true).await.min(time(&traced, true).await);
    json!({
        "scenario": "tracing-context-cost",
        "calls": CALLS,
        "bare_ns": baseline,
        "no_traceparent_ns": without - baseline,
        "traceparent_ns": with - baseline,
    })
}

async fn time(headers: &http::HeaderMap, handled: bool) -> f64 {
    use std::fmt::Write as _;
    // The access log's fields, written as the log line would write them.
    let mut line = String::with_capacity(64);
    let started = Instant::now();
    for i in 0..CALLS {
        let work = std::future::ready(black_box(i));
        if handled {
            let served = Served::start(telemetry::extract_http(black_box(headers)), tracing::Span::none);
            black_box(served.run(work).await);
            line.clear();
            if let (Some(trace), Some(span)) = (served.trace_id(), served.span_id()) {
                let _ = write!(line, "{trace}{span}");
            }
            black_box(&line);
        } else {
            black_box(black_box(headers).get("x-request-id"));
            black_box(work.await);
        }
    }
    started.elapsed().as_nanos() as f64 / f64::from(CALLS)
}
