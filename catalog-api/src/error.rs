//! Errors at the HTTP edge: the core's error mapped through its one status table into the error
//! envelope. Server-side detail is logged with the request id and never sent.

use crate::context;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error, FieldError};
use catalog_core::ids::OrganizationId;
use serde_json::json;
use std::fmt;

#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T = HttpResponse> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let ctx = context::current();
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(
                request_id = %ctx.request_id,
                trace_id = ctx.trace_id.as_deref(),
                path = %ctx.path,
                error = %self.0,
                "request failed"
            );
        }
        let details = match &self.0 {
            // `fields` (SPEC.md) and `validation_errors` (the pages): the same list.
            Error::Validation { fields, .. } => json!({ "fields": fields, "validation_errors": fields }),
            Error::Conflict { field, key, .. } => {
                let mut details = serde_json::Map::new();
                if let Some(field) = field {
                    details.insert("field".into(), json!(field));
                }
                details.extend(key.iter().map(|(k, v)| (k.clone(), json!(v))));
                serde_json::Value::Object(details)
            }
            Error::InUse { details, .. }
            | Error::Unprocessable { details, .. }
            | Error::InvalidFile { details, .. }
            | Error::FileTooLarge { details, .. }
            | Error::CircularCollection { details } => details.clone(),
            Error::NotFound(entity) => not_found_details(*entity, &ctx.path),
            Error::InvalidArgument { field, .. } => {
                json!({ "fields": [FieldError::new(*field, self.0.public_message())] })
            }
            Error::VersionMismatch { expected, current } => {
                json!({ "expected_version": expected, "current_version": current })
            }
            Error::RateLimited { retry_after_secs } => json!({ "retry_after_secs": retry_after_secs }),
            _ => json!({}),
        };
        let mut response = envelope(status, &self.0.code(), &self.0.public_message(), details);
        let headers = response.headers_mut();
        if let Error::RateLimited { retry_after_secs } = &self.0 {
            if let Ok(value) = retry_after_secs.to_string().parse() {
                headers.insert(actix_web::http::header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A uniqueness 409 with the clashing row's id beside its key, as the pages show it
/// (`{"sku": "MOUSE-001", "existing_product_id": "…"}`): one lookup, after the failed write.
/// Other errors pass through.
pub(crate) async fn explained(conn: &mut PgConn, org: OrganizationId, err: Error) -> ApiError {
    let Error::Conflict { code, message, field, mut key } = err else { return ApiError(err) };
    match catalog_core::db::constraints::existing_id(conn, org, code, &key).await {
        Ok(Some(id)) => {
            // PRODUCT_SKU_EXISTS → existing_product_id; PRICE_TIER_RULE_EXISTS → existing_rule_id.
            let owner = code.trim_end_matches("_EXISTS");
            let owner =
                if owner == "PRICE_TIER_RULE" { "RULE" } else { owner.rsplit_once('_').map_or(owner, |(o, _)| o) };
            key.push((format!("existing_{}_id", owner.to_lowercase()), id.to_string()));
        }
        Ok(None) => {}
        Err(err) => tracing::warn!(error = %err, "could not look up the row a conflict clashed with"),
    }
    ApiError(Error::Conflict { code, message, field, key })
}

/// `.explained(conn, org)` on a write's result: see [`explained`].
pub(crate) trait Explained<T> {
    async fn explained(self, conn: &mut PgConn, org: OrganizationId) -> Result<T, ApiError>;
}

impl<T> Explained<T> for Result<T, Error> {
    async fn explained(self, conn: &mut PgConn, org: OrganizationId) -> Result<T, ApiError> {
        match self {
            Ok(value) => Ok(value),
            Err(err) => Err(explained(conn, org, err).await),
        }
    }
}

/// `{"product_id": "<id>"}` for a missing entity named by the request path, as the pages show
/// it; `{}` when the path does not name it (a missing id sent in a body).
fn not_found_details(entity: Entity, path: &str) -> serde_json::Value {
    let (segment, key) = match entity {
        Entity::Product => ("products", "product_id"),
        Entity::Variant => ("variants", "variant_id"),
        Entity::Brand => ("brands", "brand_id"),
        Entity::Collection => ("collections", "collection_id"),
        Entity::Tag => ("tags", "tag_id"),
        Entity::PriceTier => ("price-tiers", "price_tier_id"),
        Entity::PriceTierRule => ("rules", "rule_id"),
        Entity::Image => ("images", "image_id"),
        Entity::ProductOption => ("options", "option_id"),
        Entity::OptionValue => ("values", "value_id"),
        Entity::Import => ("imports", "import_id"),
        Entity::Local => ("locals", "local_id"),
        Entity::Recipe => ("recipes", "recipe_id"),
    };
    let segments: Vec<&str> = path.split('/').collect();
    match segments.iter().position(|s| *s == segment).and_then(|i| segments.get(i + 1)) {
        Some(id) if !id.is_empty() => json!({ key: id }),
        _ => json!({}),
    }
}

/// Bad JSON bodies: 413 when too large, else 400 naming the field serde complained about.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let error = match &err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            Error::PayloadTooLarge(format!("request body larger than {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            Error::InvalidArgument { field: "body", message: "expected Content-Type: application/json".into() }
        }
        JsonPayloadError::Deserialize(e) => body_error(e),
        _ => Error::InvalidArgument { field: "body", message: "unreadable request body".into() },
    };
    ApiError(error).into()
}

/// serde's message names the field for unknown/missing/mistyped ones; keep it, drop positions.
pub fn body_error(err: &serde_json::Error) -> Error {
    let text = err.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text).to_string();
    let field = message.split('`').nth(1).unwrap_or("body").to_string();
    Error::Validation {
        entity: entity_for_path(&context::current().path),
        fields: vec![FieldError::new(field, message)],
    }
}

/// The entity a request is about, for `INVALID_<ENTITY>_DATA` on errors raised before a handler
/// runs (unparseable body, query or path). Nested resources win over their parent.
pub fn entity_for_path(path: &str) -> Entity {
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    let has = |name: &str| segments.contains(&name);
    if has("images") {
        Entity::Image
    } else if has("variants") {
        Entity::Variant
    } else if has("rules") {
        Entity::PriceTierRule
    } else if has("values") {
        Entity::OptionValue
    } else {
        match segments.first().copied() {
            Some("brands") => Entity::Brand,
            Some("collections") => Entity::Collection,
            Some("tags") => Entity::Tag,
            Some("price-tiers") => Entity::PriceTier,
            Some("options") => Entity::ProductOption,
            Some("imports") => Entity::Import,
            _ => Entity::Product,
        }
    }
}

/// Malformed path segments (an id that is not a UUID) are "not found", like a missing row.
pub fn path_error(_err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError(Error::NotFound(entity_for_path(&context::current().path))).into()
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let text = err.to_string();
    let message = text.trim_start_matches("Query deserialize error: ").to_string();
    let field = message.split('`').nth(1).unwrap_or("query").to_string();
    let fields = vec![FieldError::new(field, message)];
    ApiError(Error::Validation { entity: entity_for_path(&context::current().path), fields }).into()
}

/// Anything unrouted answers in the error envelope too.
pub async fn not_found() -> HttpResponse {
    envelope(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint", json!({}))
}

/// The published error table's numbers (page 16: `CAT-1001` …), answered as `catalog_code`
/// beside the name; `code` stays the name, as SPEC.md and every resource page answer it.
const CATALOG_CODES: &[(&str, &str)] = &[
    ("INVALID_PRODUCT_DATA", "CAT-1001"),
    ("INVALID_VARIANT_DATA", "CAT-1002"),
    ("INVALID_BRAND_DATA", "CAT-1003"),
    ("INVALID_COLLECTION_DATA", "CAT-1004"),
    ("INVALID_TAG_DATA", "CAT-1005"),
    ("INVALID_PRICE_TIER_DATA", "CAT-1006"),
    ("INVALID_PRICE_TIER_RULE", "CAT-1007"),
    ("INVALID_IMAGE_FORMAT", "CAT-1008"),
    ("CIRCULAR_COLLECTION_REFERENCE", "CAT-1009"),
    ("UNAUTHORIZED", "CAT-2001"),
    ("FORBIDDEN", "CAT-2002"),
    ("LOCAL_ACCESS_DENIED", "CAT-2003"),
    ("PRODUCT_NOT_FOUND", "CAT-3001"),
    ("VARIANT_NOT_FOUND", "CAT-3002"),
    ("BRAND_NOT_FOUND", "CAT-3003"),
    ("COLLECTION_NOT_FOUND", "CAT-3004"),
    ("TAG_NOT_FOUND", "CAT-3005"),
    ("PRICE_TIER_NOT_FOUND", "CAT-3006"),
    ("IMAGE_NOT_FOUND", "CAT-3007"),
    ("PRODUCT_SKU_EXISTS", "CAT-4001"),
    ("VARIANT_SKU_EXISTS", "CAT-4002"),
    ("PRODUCT_SLUG_EXISTS", "CAT-4003"),
    ("BRAND_SLUG_EXISTS", "CAT-4004"),
    ("COLLECTION_SLUG_EXISTS", "CAT-4005"),
    ("TAG_SLUG_EXISTS", "CAT-4006"),
    ("PRICE_TIER_SLUG_EXISTS", "CAT-4007"),
    ("PRODUCT_HAS_VARIANTS", "CAT-4008"),
    ("VARIANT_HAS_STOCK", "CAT-4009"),
    ("BRAND_HAS_PRODUCTS", "CAT-4010"),
    ("COLLECTION_HAS_PRODUCTS", "CAT-4011"),
    ("COLLECTION_HAS_CHILDREN", "CAT-4012"),
    ("TAG_HAS_PRODUCTS", "CAT-4013"),
    ("PRICE_TIER_HAS_RULES", "CAT-4014"),
    ("PRICE_TIER_RULE_EXISTS", "CAT-4015"),
    ("IMAGE_TOO_LARGE", "CAT-5001"),
    ("IMAGE_TOO_SMALL", "CAT-5002"),
    ("MAX_IMAGES_EXCEEDED", "CAT-5003"),
    ("IMAGE_UPLOAD_FAILED", "CAT-5004"),
    ("PRIMARY_IMAGE_REQUIRED", "CAT-5005"),
    ("INTERNAL_SERVER_ERROR", "CAT-9001"),
    ("SERVICE_UNAVAILABLE", "CAT-9002"),
];

fn envelope(status: StatusCode, code: &str, message: &str, details: serde_json::Value) -> HttpResponse {
    let ctx = context::current();
    let catalog_code = CATALOG_CODES.iter().find(|(name, _)| *name == code).map(|(_, number)| *number);
    HttpResponse::build(status).json(json!({
        "status": "error",
        "statusCode": status.as_u16(),
        "error": { "code": code, "type": code, "catalog_code": catalog_code, "message": message, "details": details },
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "path": ctx.path,
        "requestId": ctx.request_id,
    }))
}
