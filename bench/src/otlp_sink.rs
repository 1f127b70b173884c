//! An OTLP/gRPC trace endpoint for the export-overhead benchmark (bench/tracing.sh): accepts
//! what the processes export, as a collector would, and counts the spans; the count is
//! rewritten to a file after each export so the script can read it at the end.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

struct Sink {
    spans: AtomicU64,
    count_file: PathBuf,
}

#[tonic::codegen::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let received: usize =
            request.into_inner().resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        let total = self.spans.fetch_add(received as u64, Ordering::Relaxed) + received as u64;
        let _ = tokio::fs::write(&self.count_file, total.to_string()).await;
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// Serves on `port` until killed.
pub async fn run(port: u16, count_file: PathBuf) -> anyhow::Result<()> {
    tokio::fs::write(&count_file, "0").await?;
    let sink = Arc::new(Sink { spans: AtomicU64::new(0), count_file });
    tonic::transport::Server::builder()
        .add_service(TraceServiceServer::from_arc(sink))
        .serve(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    Ok(())
}
