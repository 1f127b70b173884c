//! Errors at the HTTP edge: the core's error mapped through its one status table into the error
//! envelope. Server-side detail is logged with the request id and never sent.

use crate::context;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use catalog_core::error::{Entity, Error, FieldError};
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
            tracing::error!(request_id = %ctx.request_id, path = %ctx.path, error = %self.0, "request failed");
        }
        let details = match &self.0 {
            Error::Validation { fields, .. } => json!({ "fields": fields }),
            Error::Conflict { field: Some(field), .. } => json!({ "field": field }),
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
fn body_error(err: &serde_json::Error) -> Error {
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
            Some("options") => Entity::Option,
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

fn envelope(status: StatusCode, code: &str, message: &str, details: serde_json::Value) -> HttpResponse {
    let ctx = context::current();
    HttpResponse::build(status).json(json!({
        "status": "error",
        "statusCode": status.as_u16(),
        "error": { "code": code, "message": message, "details": details },
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "path": ctx.path,
        "requestId": ctx.request_id,
    }))
}
