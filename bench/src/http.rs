//! A minimal HTTP/1.1 keep-alive client on hyper: one connection per worker, like `wrk`.

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::time::Duration;

pub struct HttpConn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl HttpConn {
    /// `base` is `http://host:port`; the connection opens on first use and reopens after errors.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let uri: Uri = base.parse().with_context(|| format!("bad URL {base}"))?;
        let authority = uri.authority().map(|a| a.to_string()).context("URL without host:port")?;
        Ok(Self { authority, sender: None })
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(&self.authority).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().context("no connection")
    }

    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        let authority = self.authority.clone();
        let mut builder = Request::builder().method(method).uri(path_and_query).header("host", authority);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if body.is_some() && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder.body(Full::new(body.unwrap_or_default()))?;
        let sender = self.connect().await?;
        sender.ready().await?;
        let outcome = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Response { status, body })
        }
        .await;
        if outcome.is_err() {
            self.sender = None;
        }
        outcome
    }

    pub async fn get(&mut self, path_and_query: &str, headers: &[(&str, &str)]) -> anyhow::Result<Response> {
        self.send(Method::GET, path_and_query, headers, None).await
    }
}

/// GETs a whole URL once (metrics scrapes, readiness probes), with a timeout.
pub async fn fetch(url: &str, timeout: Duration) -> anyhow::Result<Response> {
    let uri: Uri = url.parse().with_context(|| format!("bad URL {url}"))?;
    let base = format!("http://{}", uri.authority().context("URL without host")?);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut conn = HttpConn::new(&base)?;
    tokio::time::timeout(timeout, conn.get(&path, &[])).await.context("timed out")?
}

/// The sum of every sample of `name` (all label sets) in a Prometheus text exposition.
pub fn prometheus_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else { continue };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// Scrapes `name` from a metrics endpoint; `None` when unreachable or absent.
pub async fn scrape(url: &str, name: &str) -> Option<f64> {
    let response = fetch(url, Duration::from_secs(2)).await.ok()?;
    prometheus_sum(std::str::from_utf8(&response.body).ok()?, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_counter_over_its_labels() {
        let text = "# HELP catalog_db_statements_total x\n# TYPE catalog_db_statements_total counter\n\
                    catalog_db_statements_total{service=\"catalog-grpc\"} 42\n\
                    catalog_db_statements_total_other 5\ncatalog_outbox_backlog 7\n";
        assert_eq!(prometheus_sum(text, "catalog_db_statements_total"), Some(42.0));
        assert_eq!(prometheus_sum(text, "catalog_outbox_backlog"), Some(7.0));
        assert_eq!(prometheus_sum(text, "missing"), None);
    }
}
