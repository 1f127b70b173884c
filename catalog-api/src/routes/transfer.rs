//! `/api/v1/imports` (bulk jobs from CSV or JSON Lines files) and `/api/v1/exports` (the
//! organization's catalog in the same layouts, streamed). The layout: catalog_core::transfer.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::imports::{self, Format};
use crate::reply;
use crate::state::ApiState;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::{Entity, Error};
use catalog_core::ids::ProductId;
use catalog_core::schema::{import_jobs, import_results, import_rows};
use catalog_core::transfer;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

/// Results per `GET /imports/{id}` page.
const RESULTS_PAGE: i64 = 1000;
/// Products per export page (seven statements each, a pooled connection only meanwhile).
const EXPORT_PAGE: i64 = 500;

#[derive(OpenApi)]
#[openapi(
    paths(create_import, get_import, failed_rows, export),
    components(schemas(ImportJob, LineResult, ImportForm))
)]
pub struct Doc;

/// The upload route: its body is streamed to disk, never buffered (the idempotency middleware
/// spools it the same way, see [`Spooled`]).
pub const IMPORTS_PATH: &str = "/api/v1/imports";

/// An upload written to a temporary file as it arrived, with its size and SHA-256; the file
/// is removed when this is dropped.
pub struct Spooled {
    path: std::path::PathBuf,
    size: u64,
    pub sha256: Vec<u8>,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes the body to a temporary file chunk by chunk (memory stays flat whatever the size),
/// refusing more than `limit` bytes.
pub async fn spool<E: std::fmt::Display>(
    body: impl futures_util::Stream<Item = Result<web::Bytes, E>>,
    limit: u64,
) -> Result<Spooled, Error> {
    use sha2::Digest as _;
    let mut body = std::pin::pin!(body);
    let mut spooled = Spooled {
        path: std::env::temp_dir().join(format!("catalog-import-{}", Uuid::now_v7())),
        size: 0,
        sha256: vec![],
    };
    let mut file = tokio::fs::File::create(&spooled.path)
        .await
        .map_err(|e| Error::internal_from("creating the spool file", &e))?;
    let mut hash = sha2::Sha256::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::InvalidArgument { field: "body", message: e.to_string() })?;
        spooled.size += chunk.len() as u64;
        if spooled.size > limit {
            return Err(too_large());
        }
        hash.update(&chunk);
        file.write_all(&chunk).await.map_err(|e| Error::internal_from("writing the spool file", &e))?;
    }
    file.flush().await.map_err(|e| Error::internal_from("flushing the spool file", &e))?;
    spooled.sha256 = hash.finalize().to_vec();
    Ok(spooled)
}

fn too_large() -> Error {
    Error::PayloadTooLarge(format!("files up to {} bytes", imports::MAX_FILE_BYTES))
}

/// What a `multipart/form-data` upload carried: the `file` part (spooled as it arrived) and
/// what may name its format.
struct FormUpload {
    file: Spooled,
    /// The `format` field.
    format: Option<String>,
    /// From the `file` part's filename extension, else its content type.
    part_format: Option<Format>,
}

/// Reads a `multipart/form-data` body part by part: the `file` part goes to disk as it streams,
/// a `format` field is read (it is short), any other part is skipped.
async fn read_form(
    headers: &actix_web::http::header::HeaderMap,
    body: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + 'static,
) -> Result<FormUpload, Error> {
    let bad_form =
        |e: actix_multipart::MultipartError| Error::InvalidArgument { field: "body", message: e.to_string() };
    let mut form = actix_multipart::Multipart::new(headers, body);
    let (mut file, mut format, mut part_format) = (None, None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad_form)?;
        match field.name() {
            Some("file") if file.is_some() => {
                return Err(Error::field(Entity::Import, "file", "only one file per import"));
            }
            Some("file") => {
                let filename = field.content_disposition().and_then(|cd| cd.get_filename()).unwrap_or_default();
                let by_name = filename.rsplit_once('.').and_then(|(_, extension)| Format::parse(extension));
                let content_type = field.content_type().map(|mime| mime.essence_str().to_string());
                part_format = by_name.or_else(|| content_type.as_deref().and_then(Format::parse));
                file = Some(spool(&mut field, imports::MAX_FILE_BYTES).await?);
            }
            Some("format") => {
                let value = match field.bytes(64).await {
                    Ok(Ok(value)) => value,
                    Ok(Err(e)) => return Err(bad_form(e)),
                    Err(_) => return Err(Error::field(Entity::Import, "format", "must be csv or jsonl")),
                };
                format = Some(String::from_utf8_lossy(&value).into_owned());
            }
            // Other fields (a submit button's name, say) are drained: the parser needs it.
            _ => {
                while let Some(chunk) = field.next().await {
                    chunk.map_err(bad_form)?;
                }
            }
        }
    }
    let file = file.ok_or_else(|| {
        Error::field(Entity::Import, "file", "is required: send the file as the multipart/form-data part `file`")
    })?;
    Ok(FormUpload { file, format, part_format })
}

/// The spooled request body, read back as a stream (an upload with an Idempotency-Key was
/// spooled whole before the handler ran).
fn read_back(
    spooled: &Spooled,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + 'static {
    use tokio::io::AsyncReadExt as _;
    let path = spooled.path.clone();
    futures_util::stream::unfold(Some((path, None::<tokio::fs::File>)), |state| async move {
        let (path, file) = state?;
        let mut file = match file {
            Some(file) => file,
            None => match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                Err(e) => return Some((Err(actix_web::error::PayloadError::Io(e)), None)),
            },
        };
        let mut chunk = vec![0; 64 * 1024];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(web::Bytes::from(chunk)), Some((path, Some(file)))))
            }
            Err(e) => Some((Err(actix_web::error::PayloadError::Io(e)), None)),
        }
    })
    // The multipart parser may poll again after the end.
    .fuse()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/imports").route(web::post().to(create_import)))
        .service(web::resource("/imports/{id}").route(web::get().to(get_import)))
        .service(web::resource("/imports/{id}/failed-rows").route(web::get().to(failed_rows)))
        .service(web::resource("/exports").route(web::get().to(export)));
}

/// Unknown parameters are refused: a file's contents are judged by the job, so a misspelled
/// `format` would otherwise go unnoticed until the job failed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportArgs {
    /// `csv` or `jsonl`; default from the Content-Type (`text/csv`, `application/x-ndjson`), or,
    /// for a `multipart/form-data` upload, its `format` field, else the `file` part's filename
    /// extension (`.csv`, `.jsonl`, `.ndjson`), else that part's content type; where nothing
    /// tells (`application/octet-stream`, a part without name or type), the contents: JSON Lines
    /// when they open with `{`, else CSV.
    #[param(schema_with = format_spellings)]
    pub format: Option<String>,
}

/// A `multipart/form-data` upload, as an HTML form or `fetch` with `FormData` sends it.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; the handler streams the parts.
pub struct ImportForm {
    /// The file (CSV or JSON Lines, UTF-8 text), up to 512 MiB.
    #[schema(value_type = String)]
    file: Vec<u8>,
    /// `csv` or `jsonl`, when neither the query nor the file's name or type tells.
    #[schema(schema_with = format_spellings)]
    format: Option<String>,
}

#[derive(Debug, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = import_jobs, check_for_backend(diesel::pg::Pg))]
pub struct ImportJob {
    pub id: Uuid,
    pub format: String,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub failed: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Queryable, Selectable, ToSchema)]
#[diesel(table_name = import_results, check_for_backend(diesel::pg::Pg))]
pub struct LineResult {
    /// 1-based, the header not counted.
    pub line: i32,
    /// `created`, `updated`, `unchanged` or `failed` (the line's product's action).
    pub action: String,
    pub product_id: Option<Uuid>,
    pub variant_id: Option<Uuid>,
    #[schema(value_type = Vec<Object>)]
    pub errors: Value,
}

/// Uploads a file, any size up to 512 MiB, and queues its import: either the request body itself
/// (`Content-Type: text/csv` or `application/x-ndjson`), or the part `file` of a
/// `multipart/form-data` body (an HTML form, `fetch` with `FormData`). Either way the file is
/// streamed to disk, never held in memory. It is staged before this answers 202 and applied in
/// the background in batches (`GET /api/v1/imports/{id}`). Rows failing validation are
/// reported, the others written; a file none of whose lines can be read (empty, no SKU column,
/// a malformed CSV line) is answered as a job that already `failed`, with the reason in `error`.
/// Generated clients may send the file as
/// `application/octet-stream`, with `?format=csv|jsonl` or without (a body opening with `{` is
/// JSON Lines, any other CSV).
#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "imports",
    params(ImportArgs),
    request_body(
        description = "The file as the body, or a multipart form with the part `file`",
        content(
            (crate::openapi::ImportFile = "application/octet-stream"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
            (ImportForm = "multipart/form-data")
        )
    ),
    responses(
        (status = 202, body = ImportJob),
        (status = 400, description = "INVALID_IMPORT_DATA (file: missing `file` part; format)"),
        (status = 409, description = "IMPORT_LIMIT_REACHED"),
        (status = 413)
    )
)]
pub async fn create_import(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    args: web::Query<ImportArgs>,
    mut body: web::Payload,
) -> ApiResult {
    caller.require(Resource::Products, Action::Create)?;
    caller.require(Resource::Products, Action::Update)?;
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let unknown_format = || {
        Error::field(
            Entity::Import,
            "format",
            "must be csv or jsonl (or a text/csv, application/x-ndjson body, or a multipart `file` part \
             named *.csv, *.jsonl)",
        )
    };

    // Already spooled when the request carried an Idempotency-Key (its fingerprint needs the hash).
    let spooled = req.extensions_mut().remove::<Spooled>();
    let (spooled, format) = if media_type == "multipart/form-data" {
        let form = match spooled {
            Some(raw) => read_form(req.headers(), read_back(&raw)).await?,
            None => read_form(req.headers(), body).await?,
        };
        // A form's own `format` field must name a format even where `?format` decides.
        if let Some(given) = &form.format {
            Format::parse(given).ok_or_else(unknown_format)?;
        }
        let named = args.format.clone().or(form.format);
        let format = match (named, form.part_format) {
            (Some(named), _) => Format::parse(&named).ok_or_else(unknown_format)?,
            (None, Some(format)) => format,
            // A part without a telling name or type (a form posting a Blob): its contents tell.
            (None, None) => sniff_format(&form.file.path).await?,
        };
        (form.file, format)
    } else {
        let declared = Format::parse(args.format.as_deref().unwrap_or(&media_type));
        // `application/octet-stream` says nothing of the file's type (what generated clients
        // send): its contents tell.
        let unknown_type = args.format.is_none() && media_type == "application/octet-stream";
        if declared.is_none() && !unknown_type {
            return Err(unknown_format().into());
        }
        let spooled = match spooled {
            Some(spooled) if spooled.size > imports::MAX_FILE_BYTES => return Err(too_large().into()),
            Some(spooled) => spooled,
            None => spool(&mut body, imports::MAX_FILE_BYTES).await?,
        };
        let format = match declared {
            Some(format) => format,
            None => sniff_format(&spooled.path).await?,
        };
        (spooled, format)
    };
    let staged = imports::stage(&mut *state.conn().await?, &caller.principal, format, spooled.path.clone()).await;
    drop(spooled);
    let (job, _) = staged?;
    state.imports_queued.notify_one();
    let job = load_job(&state, &caller, job).await?;
    Ok(reply::accepted(&job))
}

/// JSON Lines open with `{` (after any blank space or byte-order mark); anything else is read as
/// CSV, whose own checks then name what is wrong with it.
async fn sniff_format(path: &std::path::Path) -> Result<Format, ApiError> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 512];
    let read =
        tokio::fs::File::open(path).await.map_err(Error::internal)?.read(&mut head).await.map_err(Error::internal)?;
    let text = String::from_utf8_lossy(&head[..read]);
    let first = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}').chars().next();
    Ok(if first == Some('{') { Format::Jsonl } else { Format::Csv })
}

async fn load_job(state: &ApiState, caller: &Caller, id: Uuid) -> Result<ImportJob, ApiError> {
    let found = import_jobs::table
        .filter(import_jobs::organization_id.eq(caller.org()))
        .find(id)
        .select(ImportJob::as_select())
        .first(&mut *state.conn().await?)
        .await
        .optional()
        .map_err(Error::from)?;
    found.ok_or(ApiError(Error::NotFound(Entity::Import)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResultsArgs {
    /// Results after this line (the previous page's last), 1,000 per page.
    pub after_line: Option<i32>,
    /// Only lines with this action (e.g. `failed`).
    pub action: Option<String>,
}

#[derive(Serialize)]
struct JobWithResults {
    #[serde(flatten)]
    job: ImportJob,
    results: Vec<LineResult>,
}

/// The job's status, progress and per-line results (1,000 per page, by line).
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(ResultsArgs), responses((status = 200, body = crate::openapi::ImportJobDetails), (status = 404)))]
pub async fn get_import(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<Uuid>,
    args: web::Query<ResultsArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let job = load_job(&state, &caller, *id).await?;
    let mut query = import_results::table
        .filter(import_results::organization_id.eq(caller.org()))
        .filter(import_results::job_id.eq(job.id))
        .filter(import_results::line.gt(args.after_line.unwrap_or(0)))
        .order(import_results::line)
        .limit(RESULTS_PAGE)
        .select(LineResult::as_select())
        .into_boxed();
    if let Some(action) = &args.action {
        query = query.filter(import_results::action.eq(action.clone()));
    }
    let results = query.load(&mut *state.conn().await?).await.map_err(Error::from)?;
    Ok(reply::ok(JobWithResults { job, results }))
}

/// The lines that failed, as sent, with an `errors` column: fix them and upload this file again.
#[utoipa::path(get, path = "/api/v1/imports/{id}/failed-rows", tag = "imports", responses((status = 200, description = "The failed lines in the job's layout, each with its errors (CSV: an `errors` column; JSON Lines: `_errors`)", content((String = "text/csv"), (String = "application/x-ndjson"))), (status = 404)))]
pub async fn failed_rows(caller: Caller, state: web::Data<ApiState>, id: web::Path<Uuid>) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let job = load_job(&state, &caller, *id).await?;
    let conn = &mut *state.conn().await?;
    let org = caller.org();
    let header: Option<(Value, String)> = import_rows::table
        .filter(import_rows::organization_id.eq(org))
        .filter(import_rows::job_id.eq(job.id))
        .filter(import_rows::line.eq(0))
        .select((import_rows::payload, import_rows::raw))
        .first(conn)
        .await
        .optional()
        .map_err(Error::from)?;
    let failed: Vec<(String, Value)> = import_rows::table
        .inner_join(
            import_results::table
                .on(import_results::job_id.eq(import_rows::job_id).and(import_results::line.eq(import_rows::line))),
        )
        .filter(import_rows::organization_id.eq(org))
        .filter(import_rows::job_id.eq(job.id))
        .filter(import_results::action.eq("failed"))
        .order(import_rows::line)
        .select((import_rows::raw, import_results::errors))
        .load(conn)
        .await
        .map_err(Error::from)?;
    let errors_text = |errors: &Value| {
        errors
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{}: {}", e["field"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = String::new();
    match header {
        Some((payload, raw)) => {
            let delimiter = payload["delimiter"].as_str().unwrap_or(",").to_string();
            out.push_str(&format!("{raw}{delimiter}errors\n"));
            for (line, errors) in failed {
                let quoted = format!("\"{}\"", errors_text(&errors).replace('"', "\"\""));
                out.push_str(&format!("{line}{delimiter}{quoted}\n"));
            }
        }
        // JSON Lines: each failed line with its errors under `_errors`.
        None => {
            for (line, errors) in failed {
                let mut object: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if let Some(map) = object.as_object_mut() {
                    map.insert("_errors".into(), errors);
                }
                out.push_str(&object.to_string());
                out.push('\n');
            }
        }
    }
    let content_type = if job.format == "csv" { "text/csv; charset=utf-8" } else { "application/x-ndjson" };
    Ok(HttpResponse::Ok().content_type(content_type).body(out))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportArgs {
    /// `csv` (default) or `jsonl`.
    #[param(schema_with = format_spellings)]
    pub format: Option<String>,
}

/// The organization's whole catalog (live products, variants, tags), streamed in the import
/// layout: importing it back changes nothing.
#[utoipa::path(get, path = "/api/v1/exports", tag = "imports", params(ExportArgs), responses((status = 200, description = "The catalog in the import layout (`Content-Disposition: attachment`)", content((String = "text/csv"), (String = "application/x-ndjson"))), (status = 400)))]
pub async fn export(caller: Caller, state: web::Data<ApiState>, args: web::Query<ExportArgs>) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let format = Format::parse(args.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| Error::field(Entity::Import, "format", "must be csv or jsonl"))?;
    let org = caller.org();
    let header = (format == Format::Csv).then(|| csv_line(&transfer::columns().map(String::from).collect::<Vec<_>>()));
    // (cursor, finished): one page per poll, a pooled connection held only while it loads.
    let pages = futures_util::stream::unfold((None::<ProductId>, false), move |(after, finished)| {
        let state = state.clone();
        async move {
            if finished {
                return None;
            }
            let page = async {
                let conn = &mut *state.conn().await?;
                Ok::<_, ApiError>(transfer::export_page(conn, org, after, EXPORT_PAGE).await?)
            }
            .await;
            let page = match page {
                Ok(page) => page,
                // The status line is gone already: end the body early (the client sees it cut).
                Err(e) => return Some((Err(actix_web::error::ErrorServiceUnavailable(e.to_string())), (after, true))),
            };
            let last = page.last().map(|exported| exported.product.id);
            let mut chunk = String::new();
            for exported in &page {
                match format {
                    Format::Csv => {
                        for cells in transfer::csv_lines(exported) {
                            chunk.push_str(&csv_line(&cells));
                        }
                    }
                    Format::Jsonl => {
                        chunk.push_str(&transfer::json_line(exported).to_string());
                        chunk.push('\n');
                    }
                }
            }
            let done = page.len() < EXPORT_PAGE as usize;
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), (last.or(after), done)))
        }
    });
    let body = futures_util::stream::iter(header.map(|h| Ok(web::Bytes::from(h)))).chain(pages);
    let (content_type, name) = if format == Format::Csv {
        ("text/csv; charset=utf-8", "catalog.csv")
    } else {
        ("application/x-ndjson", "catalog.jsonl")
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .streaming(body))
}

/// One RFC 4180 line (quoted where needed), CRLF-free.
fn csv_line(cells: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = writer.write_record(cells);
    String::from_utf8_lossy(&writer.into_inner().unwrap_or_default()).into_owned()
}

/// What a `format` argument may say, for the OpenAPI document.
fn format_spellings() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::openapi::accepts::one_of(&Format::spellings())
}
