//! REST resources under `/api/v1`, one module each.

pub mod brands;
pub mod bulk;
pub mod collections;
pub mod images;
pub mod options;
pub mod price_tiers;
pub mod products;
pub mod tags;
pub mod transfer;
pub mod variants;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(brands::configure)
        .configure(bulk::configure)
        .configure(products::configure)
        .configure(variants::configure)
        .configure(images::configure)
        .configure(options::configure)
        .configure(collections::configure)
        .configure(tags::configure)
        .configure(price_tiers::configure)
        .configure(transfer::configure)
        .route("/noop", web::get().to(noop));
}

/// How a route's body may be read before its handler runs (the idempotency middleware reads it
/// to fingerprint the request): each route's own terms, in one place.
pub enum BodyReading {
    /// Spooled to disk ([`transfer::Spooled`]); the handler takes the file.
    Spooled,
    /// Buffered up to this many bytes; `None`: the application's limit.
    Buffered(Option<usize>),
}

pub fn body_reading(path: &str) -> BodyReading {
    match path {
        transfer::IMPORTS_PATH => BodyReading::Spooled,
        bulk::PATH => BodyReading::Buffered(Some(bulk::BODY_LIMIT_BYTES)),
        _ => BodyReading::Buffered(None),
    }
}

/// Does nothing, through the same middleware as every endpoint: the HTTP ceiling benchmarks
/// compare real endpoints against.
async fn noop() -> actix_web::HttpResponse {
    crate::reply::ok(serde_json::Value::Null)
}
