//! Structured logging (JSON lines in production, readable text for local runs) and distributed
//! tracing.
//!
//! W3C trace context (`traceparent`/`tracestate`) is always handled: taken from what comes in
//! (REST headers, gRPC metadata, AMQP headers or an event's `metadata.traceparent`), made current
//! while the request runs and written into what goes out (Auth calls, outbox events, AMQP
//! headers). Spans are made and exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the SDK reads the other standard variables
//! (`OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, headers,
//! timeout). Without it the process takes part in no trace of its own: the caller's context is
//! passed on unchanged, and a request that brings none starts none.

use crate::config::{LogFormat, LogSettings};
use futures_util::future::Either;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The header (and metadata, and event field) names of W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

static EXPORTING: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs logging and, when an OTLP endpoint is configured, span export for `service`
/// (`OTEL_SERVICE_NAME` overrides it). Later calls are no-ops.
pub fn init(settings: &LogSettings, service: &'static str) {
    install(settings, service, export_configured().then_some(Endpoint::FromEnvironment));
}

/// [`init`] exporting to `endpoint` whatever the environment says (tests: the environment of
/// a running process cannot be changed safely).
pub fn init_exporting_to(settings: &LogSettings, service: &'static str, endpoint: &str) {
    install(settings, service, Some(Endpoint::Given(endpoint.to_string())));
}

enum Endpoint {
    FromEnvironment,
    Given(String),
}

fn install(settings: &LogSettings, service: &'static str, export: Option<Endpoint>) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_target(true)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(true).boxed(),
    }
    .with_filter(filter);
    let provider = export.and_then(|endpoint| tracer_provider(service, endpoint));
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_level(false)
            .with_target(false)
            .with_filter(span_filter())
    });
    if tracing_subscriber::registry().with(logs).with(spans).try_init().is_ok() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if let Some(provider) = provider {
            EXPORTING.store(true, Ordering::Relaxed);
            let _ = PROVIDER.set(provider);
        }
    }
}

/// What becomes a span: the catalog's own, at info or finer; never the HTTP/2 and transport
/// crates' (the exporter's own calls would feed back into it).
fn span_filter() -> EnvFilter {
    EnvFilter::new("info,h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,opentelemetry=off")
}

fn export_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn tracer_provider(service: &'static str, endpoint: Endpoint) -> Option<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    let built = exporter_runtime().map_err(|e| e.to_string()).and_then(|runtime| {
        // The exporter's channel lives on its own runtime: the processes start theirs later,
        // and export must not take turns with requests.
        let _inside = runtime.enter();
        let builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        match endpoint {
            Endpoint::FromEnvironment => builder.build(),
            Endpoint::Given(url) => builder.with_endpoint(url).build(),
        }
        .map_err(|e| e.to_string())
    });
    let exporter = match built {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("{service}: OTLP span export disabled: {e}");
            return None;
        }
    };
    // The builder's resource already holds OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the
    // process's name only fills in when neither names the service.
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !named {
        resource = resource.with_service_name(service);
    }
    let resource = resource.with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION"))).build();
    Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// A one-thread runtime, running for the life of the process, for the exporter's connection.
fn exporter_runtime() -> std::io::Result<tokio::runtime::Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

/// Sends the spans still buffered (at exit).
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}

/// Whether spans are made and exported.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// A client span (database, cache, broker, peer call) made by `make` inside a traced unit of
/// work; none at all when nothing is exported (a span would cost an allocation per call for
/// nothing) or outside any span (background checks would each start a trace of their own).
pub fn client_span(make: impl FnOnce() -> Span) -> Span {
    if exporting() && !Span::current().is_none() { make() } else { Span::none() }
}

/// The span of a unit of work joined to a caller's trace ([`Served::start`]): `kind` is
/// `otel.kind` (server, consumer, producer); the fields every such span records later
/// (`trace_id`, the status) are declared; `$fields` are the rest, as `tracing` takes them.
#[macro_export]
macro_rules! work_span {
    ($name:expr, $kind:expr, $($fields:tt)*) => {
        ::tracing::info_span!(
            $name,
            otel.kind = $kind,
            trace_id = ::tracing::field::Empty,
            otel.status_code = ::tracing::field::Empty,
            otel.status_description = ::tracing::field::Empty,
            $($fields)*
        )
    };
}

/// The client span of a call to a peer's gRPC service (none without export).
pub fn rpc_client_span(service: &'static str, method: &'static str, host: &str, port: u16) -> Span {
    client_span(|| {
        tracing::info_span!(
            "RPC",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            server.address = host,
            server.port = i64::from(port),
        )
    })
}

/// Writes the current context into an outgoing gRPC request, so the callee joins the trace.
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    for (name, value) in current_headers() {
        if let Ok(value) = value.parse() {
            metadata.insert(name, value);
        }
    }
}

/// Reads trace context from any carrier through a lookup function.
struct Carrier<'a, F>(F, std::marker::PhantomData<&'a ()>);

impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Carrier<'a, F> {
    fn get(&self, key: &str) -> Option<&str> {
        (self.0)(key)
    }
    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// The caller's context as a carrier gives it (empty when it gives none or an invalid one).
pub fn extract<'a>(lookup: impl Fn(&str) -> Option<&'a str>) -> Context {
    TraceContextPropagator::new().extract(&Carrier(lookup, std::marker::PhantomData))
}

/// Extracts from an event's `metadata` (`traceparent`, `tracestate`).
pub fn extract_event(metadata: &serde_json::Value) -> Context {
    extract(|key| metadata.get(key)?.as_str())
}

/// Extracts from HTTP/2 headers (gRPC metadata).
pub fn extract_http(headers: &tonic::codegen::http::HeaderMap) -> Context {
    extract(|key| headers.get(key).and_then(|v| v.to_str().ok()))
}

struct Pairs(Vec<(&'static str, String)>);

impl Injector for Pairs {
    fn set(&mut self, key: &str, value: String) {
        let key = if key == TRACEPARENT { TRACEPARENT } else { TRACESTATE };
        self.0.push((key, value));
    }
}

/// The current context as `traceparent` (and `tracestate`, when not empty) header pairs;
/// empty outside any trace.
pub fn current_headers() -> Vec<(&'static str, String)> {
    headers_of(&Context::current())
}

/// `context` as header pairs.
pub fn headers_of(context: &Context) -> Vec<(&'static str, String)> {
    let mut pairs = Pairs(Vec::with_capacity(2));
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(context, &mut pairs);
    }
    pairs.0.retain(|(_, value)| !value.is_empty());
    pairs.0
}

/// Marks `span` failed (`otel.status_code = ERROR`; the span declares both fields).
pub fn fail(span: &Span, reason: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", reason);
}

/// One unit of work continuing a caller's trace (a request, an RPC, a consumed or relayed
/// event): its span (when exporting) under the caller's context, and the context that is
/// current while it runs.
pub struct Served {
    context: Context,
    span: Option<Span>,
}

impl Served {
    /// `make` names the span and its attributes (declaring `trace_id` as `Empty` puts the id
    /// in every log line within it); it is called only when spans are exported.
    pub fn start(parent: Context, make: impl FnOnce() -> Span) -> Self {
        if !exporting() {
            return Self::passing(parent);
        }
        let span = make();
        let _ = span.set_parent(parent);
        let context = span.context();
        let ids = context.span().span_context().clone();
        if ids.is_valid() {
            span.record("trace_id", ids.trace_id().to_string());
        }
        Self { context, span: Some(span) }
    }

    /// Passes the caller's context on without a span of its own (health probes, scrapes).
    pub fn passing(parent: Context) -> Self {
        Self { context: parent, span: None }
    }

    /// Runs `work` with this request's context current (and inside its span when exporting).
    pub fn run<F: Future>(&self, work: F) -> impl Future<Output = F::Output> + use<F> {
        use opentelemetry::context::FutureExt as _;
        use tracing::Instrument as _;
        match &self.span {
            Some(span) => Either::Left(work.instrument(span.clone())),
            None => Either::Right(work.with_context(self.context.clone())),
        }
    }

    /// Runs blocking `work` the same way.
    pub fn run_blocking<R>(&self, work: impl FnOnce() -> R) -> R {
        match &self.span {
            Some(span) => span.in_scope(work),
            None => {
                let _attached = self.context.clone().attach();
                work()
            }
        }
    }

    /// This side's context as header pairs, for what it sends on.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        headers_of(&self.context)
    }

    /// The span, when exporting: to record the outcome on.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    /// The trace id, for logs (`None` outside any trace); displays as 32 hex digits.
    pub fn trace_id(&self) -> Option<TraceId> {
        let span = self.context.span();
        let ids = span.span_context();
        ids.is_valid().then(|| ids.trace_id())
    }

    /// This side's span id (the caller's when not exporting), for logs; 16 hex digits.
    pub fn span_id(&self) -> Option<SpanId> {
        let span = self.context.span();
        let ids = span.span_context();
        ids.is_valid().then(|| ids.span_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn without_export_the_caller_s_context_is_passed_on_unchanged() {
        let parent = extract(|key| (key == TRACEPARENT).then_some(PARENT));
        let served = Served::start(parent, || unreachable!("no span is made without export"));
        assert_eq!(served.trace_id().map(|id| id.to_string()).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let headers = served.run_blocking(current_headers);
        assert_eq!(headers, vec![(TRACEPARENT, PARENT.to_string())]);
    }

    #[test]
    fn no_context_in_gives_none_out_and_a_malformed_one_is_ignored() {
        let served = Served::start(extract(|_| None), Span::none);
        assert_eq!(served.trace_id(), None);
        assert!(served.run_blocking(current_headers).is_empty());
        let malformed = extract(|key| (key == TRACEPARENT).then_some("00-zz-00f067aa0ba902b7-01"));
        assert!(headers_of(&malformed).is_empty());
    }

    #[tokio::test]
    async fn the_context_stays_current_across_awaits() {
        let parent = extract(|key| (key == TRACEPARENT).then_some(PARENT));
        let served = Served::start(parent, Span::none);
        let headers = served
            .run(async {
                tokio::task::yield_now().await;
                current_headers()
            })
            .await;
        assert_eq!(headers, vec![(TRACEPARENT, PARENT.to_string())]);
        assert!(current_headers().is_empty(), "the context does not leak past the request");
    }
}
