//! REST resources under `/api/v1`, one module each.

pub mod brands;
pub mod bulk;
pub mod collections;
pub mod images;
pub mod options;
pub mod price_tiers;
pub mod products;
pub mod recipes;
pub mod stock;
pub mod tags;
pub mod transfer;
pub mod variants;

use actix_web::web;
use catalog_core::error::{Entity, Error};
use catalog_core::models::ActiveStatus;
use catalog_core::repo::ListFilter;
use catalog_core::validate::Check;
use serde::Deserialize;
use utoipa::IntoParams;

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
        .configure(recipes::configure)
        .configure(stock::configure)
        .configure(transfer::configure)
        .route("/noop", web::get().to(noop))
        .route("/noop/authenticated", web::get().to(noop_authenticated));
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
        _ if images::is_upload_path(path) => BodyReading::Buffered(Some(images::UPLOAD_BODY_LIMIT_BYTES)),
        _ => BodyReading::Buffered(None),
    }
}

/// Does nothing, through the same middleware as every endpoint: the HTTP ceiling benchmarks
/// compare real endpoints against.
async fn noop() -> actix_web::HttpResponse {
    crate::reply::ok(serde_json::Value::Null)
}

/// The same, after authenticating the caller as every read does (token and tenant header): the
/// ceiling that tells a read's own cost from the token's.
async fn noop_authenticated(_caller: crate::caller::Caller) -> actix_web::HttpResponse {
    crate::reply::ok(serde_json::Value::Null)
}

/// `true`/`false` (also `1`/`0`) from a query string.
pub(crate) fn flag(check: &mut Check, field: &str, raw: Option<&str>) -> Option<bool> {
    check.choice(
        field,
        raw,
        |v| match v.trim().to_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        "true, false",
    )
}

/// The state a request asks for by SPEC.md's `status` or the pages' `is_active`; both given
/// and disagreeing is a field error.
pub(crate) fn active_status(check: &mut Check, status: Option<&str>, is_active: Option<bool>) -> Option<ActiveStatus> {
    let status = check.choice("status", status, ActiveStatus::parse, &ActiveStatus::expected());
    let from_flag = is_active.map(|active| if active { ActiveStatus::Active } else { ActiveStatus::Inactive });
    match (status, from_flag) {
        (Some(s), Some(f)) if s != f => {
            check.fail("is_active", "disagrees with status");
            None
        }
        (s, f) => s.or(f),
    }
}

const SEARCH_MAX: usize = 200;

/// The list filters the pages document for brands, collections, tags and price tiers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NamedListArgs {
    /// Part of the name or the description, case-insensitive.
    #[param(schema_with = crate::openapi::accepts::text::<SEARCH_MAX>)]
    pub search: Option<String>,
    /// `true` or `false`.
    #[param(schema_with = crate::openapi::accepts::flag)]
    pub is_active: Option<String>,
}

impl NamedListArgs {
    pub(crate) fn filter(&self, entity: Entity) -> Result<ListFilter, Error> {
        let mut check = Check::new(entity);
        let search = check.text("search", self.search.as_deref(), SEARCH_MAX);
        let is_active = flag(&mut check, "is_active", self.is_active.as_deref());
        check.finish()?;
        Ok(ListFilter { search, is_active })
    }
}

/// A validation error's fields renamed to the names the request used (`sale_price` sent as
/// `base_price`), so the caller finds its own field names in the answer.
pub(crate) fn rename_fields(err: Error, renames: &[(&str, &str)]) -> Error {
    match err {
        Error::Validation { entity, fields } => Error::Validation {
            entity,
            fields: fields
                .into_iter()
                .map(|mut e| {
                    if let Some((_, to)) = renames.iter().find(|(from, _)| *from == e.field) {
                        e.field = (*to).to_string();
                    }
                    e
                })
                .collect(),
        },
        other => other,
    }
}
