//! One error type for the whole service, and the single table that maps it to HTTP statuses,
//! gRPC codes and stable machine-readable codes. Edges translate with these methods; they never
//! invent their own mapping, so REST and gRPC cannot drift apart.

use serde::Serialize;
use std::fmt;

/// The kinds of thing the catalog stores; names the error codes (`PRODUCT_NOT_FOUND`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Product,
    Variant,
    /// Serialized as `option`, the name clients read.
    #[serde(rename = "option")]
    ProductOption,
    OptionValue,
    Brand,
    Collection,
    Tag,
    Image,
    PriceTier,
    PriceTierRule,
    Import,
    /// A store or warehouse of the organization (the Auth Service's).
    Local,
    Recipe,
}

impl Entity {
    pub fn code_prefix(self) -> &'static str {
        match self {
            Entity::Product => "PRODUCT",
            Entity::Variant => "VARIANT",
            Entity::ProductOption => "OPTION",
            Entity::OptionValue => "OPTION_VALUE",
            Entity::Brand => "BRAND",
            Entity::Collection => "COLLECTION",
            Entity::Tag => "TAG",
            Entity::Image => "IMAGE",
            Entity::PriceTier => "PRICE_TIER",
            Entity::PriceTierRule => "PRICE_TIER_RULE",
            Entity::Import => "IMPORT",
            Entity::Local => "LOCAL",
            Entity::Recipe => "RECIPE",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Entity::Product => "Product",
            Entity::Variant => "Variant",
            Entity::ProductOption => "Option",
            Entity::OptionValue => "Option value",
            Entity::Brand => "Brand",
            Entity::Collection => "Collection",
            Entity::Tag => "Tag",
            Entity::Image => "Image",
            Entity::PriceTier => "Price tier",
            Entity::PriceTierRule => "Price tier rule",
            Entity::Import => "Import",
            Entity::Local => "Local",
            Entity::Recipe => "Recipe",
        }
    }
}

/// One failing field of a request: `field` is the request's own name for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The kind of row an id in the field names, when none of the caller's exists.
    #[serde(skip)]
    pub refers_to: Option<Entity>,
}

/// What a field naming no existing row says.
pub const MISSING_REFERENCE: &str = "refers to something that does not exist";

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), refers_to: None }
    }

    /// `field` names a `entity` the caller's organization does not have.
    pub fn missing(field: impl Into<String>, entity: Entity) -> Self {
        Self::missing_because(field, entity, MISSING_REFERENCE)
    }

    pub fn missing_because(field: impl Into<String>, entity: Entity, message: impl Into<String>) -> Self {
        Self { refers_to: Some(entity), ..Self::new(field, message) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} not found", .0.label())]
    NotFound(Entity),

    /// Every failing field at once, never just the first.
    #[error("invalid {} data", .entity.label().to_lowercase())]
    Validation { entity: Entity, fields: Vec<FieldError> },

    /// A uniqueness or state conflict; `code` is the stable code (`PRODUCT_SKU_EXISTS`).
    #[error("{message}")]
    /// `key`: the clashing unique key's columns and values as the database reported them
    /// (`[("sku", "MOUSE-001")]`), empty when not known.
    Conflict { code: &'static str, message: String, field: Option<&'static str>, key: Vec<(String, String)> },

    /// A delete refused because other rows still depend on the entity (`PRODUCT_HAS_VARIANTS`);
    /// `details` says what and how many, and how to proceed.
    #[error("{message}")]
    InUse { code: &'static str, message: String, details: serde_json::Value },

    /// Well formed, but a business limit refuses it (`MAX_IMAGES_EXCEEDED`); `details` says
    /// which limit and where the caller stands.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, details: serde_json::Value },

    /// An uploaded file that is not what it must be (`INVALID_IMAGE_FORMAT`).
    #[error("{message}")]
    InvalidFile { code: &'static str, message: String, details: serde_json::Value },

    /// An uploaded file over a size limit (`IMAGE_TOO_LARGE`), in bytes or pixels.
    #[error("{message}")]
    FileTooLarge { code: &'static str, message: String, details: serde_json::Value },

    /// A collection moved under itself or one of its descendants.
    #[error("cannot set parent_id that would create a circular reference")]
    CircularCollection { details: serde_json::Value },

    #[error("version mismatch: expected {expected}, current {current}")]
    VersionMismatch { expected: i32, current: i32 },

    #[error("{0}")]
    Unauthorized(String),

    #[error("{message}")]
    Forbidden { code: &'static str, message: String },

    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },

    #[error("{0}")]
    PayloadTooLarge(String),

    /// A request-level argument problem that belongs to no entity (bad organization id,
    /// batch over the limit, undecodable cursor).
    #[error("{message}")]
    InvalidArgument { field: &'static str, message: String },

    /// A dependency (PostgreSQL, Redis, RabbitMQ, Auth) cannot be reached right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),

    /// Anything else. The text is for logs only; callers see a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// gRPC status codes as plain values, so the mapping table lives here without tying the core
/// to one gRPC library's version. `catalog-grpc` converts with `tonic::Code::from_i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum GrpcCode {
    InvalidArgument = 3,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Error {
    pub fn validation(entity: Entity, fields: Vec<FieldError>) -> Self {
        Error::Validation { entity, fields }
    }

    pub fn field(entity: Entity, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation { entity, fields: vec![FieldError::new(field, message)] }
    }

    /// `field` of a request about `entity` names a `missing` row.
    pub fn missing(entity: Entity, field: impl Into<String>, missing: Entity) -> Self {
        Error::Validation { entity, fields: vec![FieldError::missing(field, missing)] }
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }

    /// A request well formed in every field but naming rows the organization does not have
    /// (a brand, tags, an option value) is that row's NOT_FOUND (404), as the pages' flows (14)
    /// answer it; with any other failing field it stays a validation error (400).
    pub fn missing_reference(&self) -> Option<Entity> {
        let Error::Validation { fields, .. } = self else { return None };
        let missing: Option<Vec<Entity>> = fields.iter().map(|f| f.refers_to).collect();
        missing?.first().copied()
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> String {
        if let Some(missing) = self.missing_reference() {
            return format!("{}_NOT_FOUND", missing.code_prefix());
        }
        match self {
            Error::NotFound(e) => format!("{}_NOT_FOUND", e.code_prefix()),
            // The published error table (page 16) names this one without `_DATA`.
            Error::Validation { entity: Entity::PriceTierRule, .. } => "INVALID_PRICE_TIER_RULE".into(),
            Error::Validation { entity, .. } => format!("INVALID_{}_DATA", entity.code_prefix()),
            Error::Conflict { code, .. }
            | Error::Forbidden { code, .. }
            | Error::InUse { code, .. }
            | Error::Unprocessable { code, .. }
            | Error::InvalidFile { code, .. }
            | Error::FileTooLarge { code, .. } => (*code).to_string(),
            Error::CircularCollection { .. } => "CIRCULAR_COLLECTION_REFERENCE".into(),
            Error::VersionMismatch { .. } => "VERSION_MISMATCH".into(),
            Error::Unauthorized(_) => "UNAUTHORIZED".into(),
            Error::RateLimited { .. } => "RATE_LIMITED".into(),
            Error::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE".into(),
            Error::InvalidArgument { .. } => "INVALID_ARGUMENT".into(),
            Error::Unavailable(_) => "SERVICE_UNAVAILABLE".into(),
            Error::Internal(_) => "INTERNAL_SERVER_ERROR".into(),
        }
    }

    /// The one mapping table: (HTTP status, gRPC code).
    pub fn status(&self) -> (u16, GrpcCode) {
        if self.missing_reference().is_some() {
            return (404, GrpcCode::NotFound);
        }
        match self {
            Error::Validation { .. }
            | Error::InvalidArgument { .. }
            | Error::CircularCollection { .. }
            | Error::InvalidFile { .. } => (400, GrpcCode::InvalidArgument),
            Error::Unauthorized(_) => (401, GrpcCode::Unauthenticated),
            Error::Forbidden { .. } => (403, GrpcCode::PermissionDenied),
            Error::NotFound(_) => (404, GrpcCode::NotFound),
            Error::Conflict { .. } => (409, GrpcCode::AlreadyExists),
            Error::InUse { .. } => (409, GrpcCode::FailedPrecondition),
            Error::VersionMismatch { .. } => (412, GrpcCode::Aborted),
            Error::PayloadTooLarge(_) | Error::FileTooLarge { .. } => (413, GrpcCode::ResourceExhausted),
            Error::Unprocessable { .. } => (422, GrpcCode::FailedPrecondition),
            Error::RateLimited { .. } => (429, GrpcCode::ResourceExhausted),
            Error::Internal(_) => (500, GrpcCode::Internal),
            Error::Unavailable(_) => (503, GrpcCode::Unavailable),
        }
    }

    pub fn http_status(&self) -> u16 {
        self.status().0
    }

    pub fn grpc_code(&self) -> GrpcCode {
        self.status().1
    }

    /// Whether the message may be shown to the caller. Server-side failures are logged with
    /// the request id and answered with a generic text.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Internal server error".into(),
            Error::Unavailable(_) => "Service temporarily unavailable, retry later".into(),
            other if other.missing_reference().is_some() => {
                other.missing_reference().map(|e| format!("{} not found", e.label())).unwrap_or_default()
            }
            other => other.to_string(),
        }
    }

    /// A server-side failure caused by `source`. The message keeps the whole chain of causes
    /// for the log; the caller is only told "Internal server error".
    pub fn internal_from(context: &str, source: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = format!("{context}: {source}");
        let mut cause = source.source();
        while let Some(err) = cause {
            message.push_str(&format!(": {err}"));
            cause = err.source();
        }
        Error::Internal(message)
    }

    /// Whether retrying the same operation later may succeed (drives worker retries).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole mapping, row by row: a change to one edge's expectations shows up here.
    #[test]
    fn every_error_maps_to_one_http_status_grpc_code_and_code() {
        let table: Vec<(Error, u16, GrpcCode, &str)> = vec![
            (Error::NotFound(Entity::Product), 404, GrpcCode::NotFound, "PRODUCT_NOT_FOUND"),
            (Error::field(Entity::Variant, "sku", "required"), 400, GrpcCode::InvalidArgument, "INVALID_VARIANT_DATA"),
            (
                Error::Conflict {
                    code: "PRODUCT_SKU_EXISTS",
                    message: "dup".into(),
                    field: Some("sku"),
                    key: Vec::new(),
                },
                409,
                GrpcCode::AlreadyExists,
                "PRODUCT_SKU_EXISTS",
            ),
            (
                Error::InUse { code: "BRAND_HAS_PRODUCTS", message: "used".into(), details: serde_json::json!({}) },
                409,
                GrpcCode::FailedPrecondition,
                "BRAND_HAS_PRODUCTS",
            ),
            (
                Error::Unprocessable {
                    code: "MAX_IMAGES_EXCEEDED",
                    message: "full".into(),
                    details: serde_json::json!({}),
                },
                422,
                GrpcCode::FailedPrecondition,
                "MAX_IMAGES_EXCEEDED",
            ),
            (
                Error::InvalidFile {
                    code: "INVALID_IMAGE_FORMAT",
                    message: "gif".into(),
                    details: serde_json::json!({}),
                },
                400,
                GrpcCode::InvalidArgument,
                "INVALID_IMAGE_FORMAT",
            ),
            (
                Error::FileTooLarge { code: "IMAGE_TOO_LARGE", message: "6 MB".into(), details: serde_json::json!({}) },
                413,
                GrpcCode::ResourceExhausted,
                "IMAGE_TOO_LARGE",
            ),
            (Error::VersionMismatch { expected: 1, current: 2 }, 412, GrpcCode::Aborted, "VERSION_MISMATCH"),
            (Error::Unauthorized("no token".into()), 401, GrpcCode::Unauthenticated, "UNAUTHORIZED"),
            (
                Error::Forbidden { code: "LOCAL_ACCESS_DENIED", message: "no".into() },
                403,
                GrpcCode::PermissionDenied,
                "LOCAL_ACCESS_DENIED",
            ),
            (Error::RateLimited { retry_after_secs: 1 }, 429, GrpcCode::ResourceExhausted, "RATE_LIMITED"),
            (Error::PayloadTooLarge("big".into()), 413, GrpcCode::ResourceExhausted, "PAYLOAD_TOO_LARGE"),
            (
                Error::InvalidArgument { field: "organization_id", message: "bad".into() },
                400,
                GrpcCode::InvalidArgument,
                "INVALID_ARGUMENT",
            ),
            (Error::Unavailable("db".into()), 503, GrpcCode::Unavailable, "SERVICE_UNAVAILABLE"),
            (Error::Internal("boom".into()), 500, GrpcCode::Internal, "INTERNAL_SERVER_ERROR"),
        ];
        for (err, http, grpc, code) in table {
            assert_eq!(err.status(), (http, grpc), "{err:?}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn an_internal_error_keeps_its_causes_for_the_log() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let err = Error::internal_from("writing the spool", &Outer(std::io::Error::other("disk full")));
        assert_eq!(err.to_string(), "internal error: writing the spool: outer: disk full");
        assert_eq!(err.public_message(), "Internal server error");
    }

    #[test]
    fn server_side_detail_never_reaches_the_caller() {
        let err = Error::Internal("relation \"products\" does not exist".into());
        assert!(!err.public_message().contains("products"));
        let err = Error::Unavailable("connection refused 10.0.0.1".into());
        assert!(!err.public_message().contains("10.0.0.1"));
    }
}
