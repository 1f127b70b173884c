//! Success responses: the envelope, `ETag` from the row's `version`, and cursor pages.

use crate::context;
use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::{HttpRequest, HttpResponse};
use catalog_core::pagination::{Page, PageRequest, encode_cursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The success envelope, serialized straight from `data` (a `json!` tree would first copy the
/// whole payload into a `Value`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    status: &'static str,
    status_code: u16,
    data: T,
    timestamp: String,
    path: String,
    request_id: String,
}

fn envelope_of<T: Serialize>(status: StatusCode, data: T) -> Envelope<T> {
    let ctx = context::current();
    Envelope {
        status: "success",
        status_code: status.as_u16(),
        data,
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        path: ctx.path,
        request_id: ctx.request_id,
    }
}

fn envelope(status: StatusCode, data: impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(envelope_of(status, data))
}

/// 200 with `data` given as JSON already (an answer the cache keeps as this API writes it) and
/// the version as `ETag`: the envelope is written around the bytes, which are not parsed again.
pub fn ok_versioned_json(data: &[u8], version: i32) -> HttpResponse {
    const NULL_DATA: &[u8] = b"\"data\":null";
    // The envelope with a null `data`; only `data` can hold that text (the fields before it are
    // constants), so its `null` is where the bytes go.
    let mut body = serde_json::to_vec(&envelope_of(StatusCode::OK, ())).unwrap_or_default();
    if let Some(at) = body.windows(NULL_DATA.len()).position(|window| window == NULL_DATA) {
        let null = at + NULL_DATA.len() - 4;
        body.splice(null..null + 4, data.iter().copied());
    }
    let response = HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(body);
    with_etag(response, version)
}

pub fn ok(data: impl Serialize) -> HttpResponse {
    envelope(StatusCode::OK, data)
}

/// 200 with the entity's version as its `ETag`, for `If-Match` on the next write.
pub fn ok_versioned(data: impl Serialize, version: i32) -> HttpResponse {
    with_etag(envelope(StatusCode::OK, data), version)
}

pub fn created(data: impl Serialize, version: i32) -> HttpResponse {
    with_etag(envelope(StatusCode::CREATED, data), version)
}

/// 202: the request was queued (import jobs).
pub fn accepted(data: impl Serialize) -> HttpResponse {
    envelope(StatusCode::ACCEPTED, data)
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

fn with_etag(mut response: HttpResponse, version: i32) -> HttpResponse {
    if let Ok(value) = format!("\"{version}\"").parse() {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// An `If-Match` naming no version this API ever issues: it matches no current version.
const NO_VERSION: i32 = -1;

/// The version the caller last saw, from `If-Match` (`"3"`, `W/"3"` or `3`); `*` or no header
/// means "whatever is current". Anything else names no current version, so the write answers
/// 412 (RFC 9110 §13.1.1), never 400.
pub fn if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(value) = req.headers().get(IF_MATCH) else { return Ok(None) };
    let raw = value.to_str().unwrap_or_default().trim();
    if raw == "*" {
        return Ok(None);
    }
    Ok(Some(raw.trim_start_matches("W/").trim_matches('"').parse::<i32>().unwrap_or(NO_VERSION)))
}

/// Cursor-connection arguments, combinable as in the GraphQL Cursor Connections spec: `after`
/// and `before` bound the rows (exclusive), `first` keeps the first rows of that window and
/// `last` the last of those. `last` (or `before`) without `first` walks back from the end.
/// The sizes are checked against the pagination settings (1 to 100, default 20, unless
/// configured otherwise); a size out of range or a cursor that does not decode is a 400 naming
/// the argument. Cursors handed out before (the same digits and an 8-digit checksum) still
/// decode.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageArgs {
    /// Keep the first this many rows of the window `after`/`before` leave (default 20 when
    /// neither `first` nor `last` is given).
    #[param(minimum = 1, maximum = 100, nullable = false)]
    pub first: Option<i64>,
    /// Cursor (an edge's `cursor`, a `startCursor` or an `endCursor`): only rows after it.
    /// Combines with `before`.
    #[param(pattern = "^01[0-9a-fA-F]{32}$", nullable = false)]
    pub after: Option<String>,
    /// Keep the last this many rows: of the rows `first` kept when it is given, else of the
    /// window (walking back from its end).
    #[param(minimum = 1, maximum = 100, nullable = false)]
    pub last: Option<i64>,
    /// Cursor (an edge's `cursor`, a `startCursor` or an `endCursor`): only rows before it.
    /// Combines with `after`; without `first`, the page is the window's last rows.
    #[param(pattern = "^01[0-9a-fA-F]{32}$", nullable = false)]
    pub before: Option<String>,
}

impl PageArgs {
    pub fn request(&self, settings: &catalog_core::config::PaginationSettings) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::from_args(
            self.first,
            self.after.as_deref(),
            self.last,
            self.before.as_deref(),
            settings.min_limit..=settings.max_limit,
            settings.default_limit,
        )?)
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
    /// Rows matching the filters over all pages (lists that count them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Edge<T> {
    pub cursor: String,
    pub node: T,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub edges: Vec<Edge<T>>,
    pub page_info: PageInfo,
}

/// Shapes a page; `key` gives each node's keyset position (its id).
pub fn connection<T>(page: Page<T>, key: impl Fn(&T) -> uuid::Uuid) -> Connection<T> {
    let total_count = page.total;
    let edges: Vec<Edge<T>> =
        page.items.into_iter().map(|node| Edge { cursor: encode_cursor(key(&node)), node }).collect();
    let page_info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
        total_count,
    };
    Connection { edges, page_info }
}
