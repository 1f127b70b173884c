//! REST scenarios: one keep-alive HTTP/1.1 connection per worker, the bearer token on every
//! request (the no-op endpoint ignores it: the HTTP ceiling; its authenticated twin checks it).

use crate::fixture::{Scale, WARM_PRODUCT, bench_variant};
use crate::http::HttpConn;
use crate::load::{Op, mix};
use bytes::Bytes;
use http::Method;

/// Words a shopper types in the web shop's search box.
pub const SEARCH_WORDS: &[&str] =
    &["camiseta", "lampara", "mochila", "taladro", "botella", "sarten", "almohada", "reloj", "alfombra", "cuaderno"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestScenario {
    Noop,
    /// The no-op endpoint that authenticates the caller first.
    NoopAuthenticated,
    Product,
    ProductsFiltered,
    Search,
    /// PATCH one variant of the bench product with this many variants.
    VariantUpdate(u32),
    /// POST a photo (multipart) to the next product in turn: every product takes 10 images.
    Upload,
}

pub struct RestOp {
    scenario: RestScenario,
    conn: HttpConn,
    authorization: String,
    scale: Scale,
    worker: u64,
    workers: u64,
    calls: u64,
    /// rest-upload: the form's content type and body.
    upload: Option<(String, Bytes)>,
}

impl RestOp {
    pub fn new(
        scenario: RestScenario,
        base: &str,
        token: &str,
        scale: Scale,
        worker: usize,
        workers: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            scenario,
            conn: HttpConn::new(base)?,
            authorization: format!("Bearer {token}"),
            scale,
            worker: worker as u64,
            workers: workers.max(1) as u64,
            calls: 0,
            upload: None,
        })
    }

    pub fn with_upload(self, upload: Option<(String, Bytes)>) -> Self {
        Self { upload, ..self }
    }
}

impl Op for RestOp {
    async fn call(&mut self, i: u64) -> Result<usize, String> {
        let scale = self.scale;
        let org1 = scale.organization(1);
        let (method, path, body) = match self.scenario {
            RestScenario::Noop => (Method::GET, "/api/v1/noop".to_string(), None),
            RestScenario::NoopAuthenticated => (Method::GET, "/api/v1/noop/authenticated".to_string(), None),
            RestScenario::Product => (Method::GET, format!("/api/v1/products/{}", scale.product(WARM_PRODUCT)), None),
            RestScenario::ProductsFiltered => {
                let brand = scale.brand(1, 1 + (i % 20) as u32);
                (Method::GET, format!("/api/v1/products?status=active&first=20&brand_id={brand}"), None)
            }
            RestScenario::Search => {
                let word = SEARCH_WORDS[(mix(i) % SEARCH_WORDS.len() as u64) as usize];
                (Method::GET, format!("/api/v1/products?search={word}&first=20"), None)
            }
            RestScenario::VariantUpdate(variants) => {
                // Each worker updates its own variants (no row-lock queueing between workers)
                // and every call changes the price, so each one is a real write with an event.
                let per_worker = (u64::from(variants) / self.workers).max(1);
                let j = 1 + (self.worker + (self.calls % per_worker) * self.workers) as u32;
                self.calls += 1;
                let variant = bench_variant(variants, j);
                let cents = 10_000 + mix(i) % 90_000;
                let body = format!("{{\"sale_price\":\"{}.{:02}\"}}", cents / 100, cents % 100);
                (Method::PATCH, format!("/api/v1/variants/{variant}"), Some(Bytes::from(body)))
            }
            RestScenario::Upload => {
                let n = 1 + (self.worker + self.calls * self.workers) % scale.products;
                self.calls += 1;
                let body = self.upload.as_ref().map(|(_, body)| body.clone());
                (Method::POST, format!("/api/v1/products/{}/images", scale.product(n)), body)
            }
        };
        let tenant = org1.to_string();
        let mut headers = vec![("authorization", self.authorization.as_str()), ("x-tenant-id", tenant.as_str())];
        if let Some((content_type, _)) = &self.upload {
            headers.push(("content-type", content_type.as_str()));
        }
        let response = self.conn.send(method, &path, &headers, body).await.map_err(|e| format!("io: {e}"))?;
        if !matches!(response.status, 200 | 201) {
            return Err(format!("status {}", response.status));
        }
        Ok(response.body.len())
    }
}
