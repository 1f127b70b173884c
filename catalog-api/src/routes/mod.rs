//! REST resources under `/api/v1`, one module each.

pub mod brands;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(brands::configure).route("/noop", web::get().to(noop));
}

/// Does nothing, through the same middleware as every endpoint: the HTTP ceiling benchmarks
/// compare real endpoints against.
async fn noop() -> actix_web::HttpResponse {
    crate::reply::ok(serde_json::Value::Null)
}
