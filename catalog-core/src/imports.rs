//! Import jobs: staging an uploaded file, and the batches the API's background runner applies.
//!
//! Staging parses the file from disk on a blocking thread and inserts its lines (canonical
//! columns, and the line as sent) in multi-row batches, in ONE transaction with the job row: a
//! job exists only once its whole file is staged. The runner (one per API replica) claims a
//! queued job — or a running one whose lease expired because its replica died — and applies
//! it batch by batch through the bulk upsert; each batch's writes, its per-line results and the
//! job's progress commit together, so a resumed job starts after its last committed batch and
//! reports every line exactly once. One running job per organization at a time; between
//! organizations, a replica takes turns batch by batch (the job that progressed least recently
//! goes next), so one organization's large file never holds up another's import.

use crate::auth::Principal;
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::OrganizationId;
use crate::models::Actor;
use crate::repo::bulk::{self, BulkProduct, ErrorPolicy, RowAction, RowResult};
use crate::schema::{import_jobs, import_results, import_rows};
use crate::transfer;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

/// Largest accepted upload.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// A whole upload request body: the file plus room for a `multipart/form-data` envelope.
pub const MAX_UPLOAD_BYTES: u64 = MAX_FILE_BYTES + 1024 * 1024;
/// Queued or running jobs an organization may have at once.
pub const MAX_ACTIVE_JOBS_PER_ORGANIZATION: i64 = 5;
/// Lines per staging insert (5 parameters each).
const STAGE_BATCH: usize = 5000;
/// Lines applied per batch (one transaction).
pub const PROCESS_BATCH: i64 = 2000;
const LEASE_SECONDS: i32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

const CSV_SPELLINGS: &[&str] = &["csv", "text/csv"];
const JSONL_SPELLINGS: &[&str] = &["jsonl", "ndjson", "application/x-ndjson", "application/jsonl"];

impl Format {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_lowercase();
        if CSV_SPELLINGS.contains(&raw.as_str()) {
            Some(Format::Csv)
        } else if JSONL_SPELLINGS.contains(&raw.as_str()) {
            Some(Format::Jsonl)
        } else {
            None
        }
    }

    /// What a `format` argument may say.
    pub fn spellings() -> Vec<&'static str> {
        [CSV_SPELLINGS, JSONL_SPELLINGS].concat()
    }

    fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// A staged line: (line number, payload, raw text).
type Line = (i32, Value, String);

/// Parses the file on a blocking thread; batches of lines come back through a bounded channel,
/// so memory stays flat whatever the file size. Line 0 is the CSV header (with the delimiter).
fn parse_file(path: std::path::PathBuf, format: Format, batches: tokio::sync::mpsc::Sender<Result<Vec<Line>>>) {
    let send = |batch: Result<Vec<Line>>| batches.blocking_send(batch).is_ok();
    if std::fs::metadata(&path).is_ok_and(|file| file.len() == 0) {
        let _ = send(Err(bad_file("is empty")));
        return;
    }
    let outcome = match format {
        Format::Csv => parse_csv(&path, &send),
        Format::Jsonl => parse_jsonl(&path, &send),
    };
    if let Err(e) = outcome {
        let _ = send(Err(e));
    }
}

fn bad_file(message: impl Into<String>) -> Error {
    Error::field(Entity::Import, "file", message)
}

fn parse_csv(path: &std::path::Path, send: &dyn Fn(Result<Vec<Line>>) -> bool) -> Result<()> {
    let delimiter = sniff_delimiter(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad_file(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad_file(format!("header: {e}")))?.clone();
    let canonical: Vec<Option<&'static str>> = headers.iter().map(transfer::canonical_column).collect();
    if !canonical.contains(&Some("product_sku")) {
        return Err(bad_file("the header names no SKU column (product_sku, sku, handle, ...)"));
    }
    let raw_line = |record: &csv::StringRecord| -> String {
        let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        let _ = writer.write_record(record);
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end_matches(['\r', '\n']).to_string()
    };
    let header_payload = json!({ "delimiter": (delimiter as char).to_string() });
    let mut batch: Vec<Line> = vec![(0, header_payload, raw_line(&headers))];
    let mut record = csv::StringRecord::new();
    let mut line = 0;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(bad_file(format!("line {}: {e}", line + 1))),
        }
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        line += 1;
        batch.push((line, transfer::line_payload(&canonical, &record), raw_line(&record)));
        if batch.len() >= STAGE_BATCH && !send(Ok(std::mem::take(&mut batch))) {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        send(Ok(batch));
    }
    Ok(())
}

/// `;` when the header line has more semicolons than commas (outside quotes), else `,`.
fn sniff_delimiter(path: &std::path::Path) -> Result<u8> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::internal_from("opening the spooled import", &e))?;
    let mut header = String::new();
    std::io::BufReader::new(file).read_line(&mut header).map_err(|_| bad_file("is not UTF-8 text"))?;
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    Ok(if semicolons > commas { b';' } else { b',' })
}

fn parse_jsonl(path: &std::path::Path, send: &dyn Fn(Result<Vec<Line>>) -> bool) -> Result<()> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::internal_from("opening the spooled import", &e))?;
    let mut batch = Vec::new();
    let mut line = 0;
    for (n, text) in std::io::BufReader::new(file).lines().enumerate() {
        let text = text.map_err(|_| bad_file(format!("line {}: not UTF-8 text", n + 1)))?;
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        line += 1;
        // An unparseable line is staged as such and reported as a failed row.
        let payload = serde_json::from_str::<Value>(text).unwrap_or_else(|e| json!({ "_unparseable": e.to_string() }));
        batch.push((line, payload, text.to_string()));
        if batch.len() >= STAGE_BATCH && !send(Ok(std::mem::take(&mut batch))) {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        send(Ok(batch));
    }
    Ok(())
}

/// Stages the file at `path` as a new queued job; returns its id and line count.
pub async fn stage(
    conn: &mut PgConn,
    principal: &Principal,
    format: Format,
    path: std::path::PathBuf,
) -> Result<(Uuid, i32)> {
    let org = principal.organization_id;
    let active: i64 = import_jobs::table
        .filter(import_jobs::organization_id.eq(org))
        .filter(import_jobs::status.eq_any(["queued", "running"]))
        .count()
        .get_result(conn)
        .await?;
    if active >= MAX_ACTIVE_JOBS_PER_ORGANIZATION {
        return Err(Error::Conflict {
            code: "IMPORT_LIMIT_REACHED",
            message: format!("at most {MAX_ACTIVE_JOBS_PER_ORGANIZATION} imports queued or running at once"),
            field: None,
            key: Vec::new(),
        });
    }
    let job = Uuid::now_v7();
    let principal_json =
        serde_json::to_value(principal).map_err(|e| Error::internal_from("encoding the job's principal", &e))?;
    let principal_of_failed = principal_json.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let parser = tokio::task::spawn_blocking(move || parse_file(path, format, tx));
    let staged = conn
        .transaction(async move |conn| {
            diesel::insert_into(import_jobs::table)
                .values((
                    import_jobs::id.eq(job),
                    import_jobs::organization_id.eq(org),
                    import_jobs::principal.eq(principal_json),
                    import_jobs::format.eq(format.as_str()),
                ))
                .execute(conn)
                .await?;
            let mut total = 0;
            while let Some(batch) = rx.recv().await {
                let batch = batch?;
                total = batch.last().map_or(total, |(line, _, _)| *line);
                let rows: Vec<_> = batch
                    .into_iter()
                    .map(|(line, payload, raw)| {
                        (
                            import_rows::organization_id.eq(org),
                            import_rows::job_id.eq(job),
                            import_rows::line.eq(line),
                            import_rows::payload.eq(payload),
                            import_rows::raw.eq(raw),
                        )
                    })
                    .collect();
                diesel::insert_into(import_rows::table).values(rows).execute(conn).await?;
            }
            diesel::update(import_jobs::table.find(job)).set(import_jobs::total_rows.eq(total)).execute(conn).await?;
            Ok::<_, Error>(total)
        })
        .await;
    let _ = parser.await;
    match staged {
        Ok(total) => Ok((job, total)),
        // The file's contents are the job's to judge, as its lines' are: a file none of whose
        // lines can be read (empty, no SKU column, a malformed line) is a job that failed saying why,
        // answered at once; the request itself was well formed.
        Err(Error::Validation { fields, .. }) if fields.iter().all(|f| f.field == "file") => {
            let reason: Vec<&str> = fields.iter().map(|f| f.message.as_str()).collect();
            diesel::insert_into(import_jobs::table)
                .values((
                    import_jobs::id.eq(job),
                    import_jobs::organization_id.eq(org),
                    import_jobs::principal.eq(principal_of_failed),
                    import_jobs::format.eq(format.as_str()),
                    import_jobs::status.eq("failed"),
                    import_jobs::error.eq(format!("file: {}", reason.join("; "))),
                    import_jobs::finished_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            Ok((job, 0))
        }
        Err(e) => Err(e),
    }
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Takes the claimable job that progressed least recently: queued, or running with an expired
/// lease (its replica died, or it gave its turn away), and no other job of its organization
/// running.
pub async fn claim(conn: &mut PgConn) -> Result<Option<Uuid>> {
    let claimed: Option<Claimed> = diesel::sql_query(format!(
        "UPDATE import_jobs SET status = 'running', lease_until = now() + interval '{LEASE_SECONDS} seconds', updated_at = now() \
         WHERE id = (SELECT j.id FROM import_jobs j \
            WHERE (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < now())) \
              AND NOT EXISTS (SELECT 1 FROM import_jobs o WHERE o.organization_id = j.organization_id AND o.id <> j.id \
                                AND o.status = 'running' AND o.lease_until >= now()) \
            ORDER BY j.updated_at, j.id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id"
    ))
    .get_result(conn)
    .await
    .optional()?;
    Ok(claimed.map(|c| c.id))
}

#[derive(QueryableByName)]
struct JobState {
    #[diesel(sql_type = SqlUuid)]
    organization_id: Uuid,
    #[diesel(sql_type = Jsonb)]
    principal: Value,
    #[diesel(sql_type = Text)]
    format: String,
    #[diesel(sql_type = Integer)]
    total_rows: i32,
    #[diesel(sql_type = Integer)]
    processed_rows: i32,
}

type Row = std::result::Result<BulkProduct, Vec<FieldError>>;

/// The bulk upsert of a batch's rows (each row checked against what exists, so a batch
/// normally commits in one go). A constraint the checks could not foresee — a concurrent
/// write taking a SKU between the batch's read and its write — fails the attempt (rolled back
/// to its savepoint): the rows are then retried in halves, recursively, until the offending
/// rows stand alone and fail by themselves. A few bad rows cost a few attempts each (the
/// logarithm of the batch), never one statement per row.
fn upsert_isolating<'a>(
    conn: &'a mut PgConn,
    org: OrganizationId,
    actor: &'a Actor,
    rows: Vec<Row>,
) -> futures_util::future::BoxFuture<'a, Result<Vec<RowResult>>> {
    Box::pin(async move {
        let attempt = bulk::upsert(conn, org, actor, rows.clone(), ErrorPolicy::PerRow, false).await;
        let refused = match attempt {
            Ok(outcome) => return Ok(outcome.results),
            Err(e @ (Error::Conflict { .. } | Error::Validation { .. })) => e,
            Err(e) => return Err(e),
        };
        if rows.len() == 1 {
            let errors = match refused {
                Error::Validation { fields, .. } => fields,
                Error::Conflict { message, field, .. } => vec![FieldError::new(field.unwrap_or("row"), message)],
                other => vec![FieldError::new("row", other.public_message())],
            };
            let result =
                RowResult { index: 0, action: RowAction::Failed, product_id: None, variant_ids: vec![], errors };
            return Ok(vec![result]);
        }
        let mut right = rows;
        let left = right.drain(..right.len() / 2).collect::<Vec<_>>();
        let offset = left.len();
        let mut results = upsert_isolating(conn, org, actor, left).await?;
        for mut result in upsert_isolating(conn, org, actor, right).await? {
            result.index += offset;
            results.push(result);
        }
        Ok(results)
    })
}

/// Between batches: when another organization's job is waiting, gives up this job's lease (it
/// stays `running` and resumes where it stopped) so the next claim takes the waiting one.
pub async fn yield_to_others(conn: &mut PgConn, job: Uuid) -> Result<bool> {
    let yielded = diesel::sql_query(
        "UPDATE import_jobs mine SET lease_until = now() - interval '1 millisecond' \
         WHERE mine.id = $1 AND mine.status = 'running' AND EXISTS ( \
            SELECT 1 FROM import_jobs j WHERE j.organization_id <> mine.organization_id \
              AND (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < now())) \
              AND NOT EXISTS (SELECT 1 FROM import_jobs o WHERE o.organization_id = j.organization_id AND o.id <> j.id \
                                AND o.status = 'running' AND o.lease_until >= now()))",
    )
    .bind::<SqlUuid, _>(job)
    .execute(conn)
    .await?;
    Ok(yielded > 0)
}

/// Where a job stands after a batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub done: bool,
    /// Which batch of the job this was (1, 2, ...).
    pub number: i32,
}

/// A staged line read as a bulk row, or its field errors.
pub type ParsedRow = std::result::Result<BulkProduct, Vec<FieldError>>;

/// Applies the job's next batch of lines in one transaction (the job row locked throughout).
/// `parser_for` is called once per batch with the job's caller (who staged it) and actor (the
/// caller, correlated with the job) and returns how each line becomes a row: the REST API's
/// own body rules.
pub async fn process_batch<P>(
    conn: &mut PgConn,
    job: Uuid,
    parser_for: impl FnOnce(Principal, Actor) -> P + Send,
) -> Result<BatchOutcome>
where
    P: Fn(Value) -> ParsedRow + Send + Sync,
{
    conn.transaction(async move |conn| {
        let state: JobState = diesel::sql_query(
            "SELECT organization_id, principal, format, total_rows, processed_rows FROM import_jobs WHERE id = $1 FOR UPDATE",
        )
        .bind::<SqlUuid, _>(job)
        .get_result(conn)
        .await?;
        let org = OrganizationId(state.organization_id);
        let lines: Vec<(i32, Value)> = import_rows::table
            .filter(import_rows::job_id.eq(job))
            .filter(import_rows::line.gt(state.processed_rows))
            .order(import_rows::line)
            .limit(PROCESS_BATCH)
            .select((import_rows::line, import_rows::payload))
            .load(conn)
            .await?;
        let principal: Principal =
            serde_json::from_value(state.principal).map_err(|e| Error::internal_from("job principal", &e))?;
        let actor = Actor { user_id: Some(principal.user_id), correlation_id: Some(format!("import-{job}")) };
        let parse = parser_for(principal, actor.clone());
        // Which staged lines each product row came from.
        let (numbers, payloads): (Vec<i32>, Vec<Value>) = lines.into_iter().unzip();
        let (groups, rows): (Vec<Vec<i32>>, Vec<_>) = if state.format == "csv" {
            transfer::group_lines(&payloads)
                .into_iter()
                .map(|(indexes, object)| (indexes.iter().map(|&i| numbers[i]).collect(), parse(object)))
                .unzip()
        } else {
            numbers
                .iter()
                .zip(payloads)
                .map(|(line, payload)| {
                    let row = match payload.get("_unparseable").and_then(Value::as_str) {
                        Some(e) => Err(vec![FieldError::new("line", format!("not JSON: {e}"))]),
                        None => parse(payload),
                    };
                    (vec![*line], row)
                })
                .unzip()
        };
        let outcome = upsert_isolating(conn, org, &actor, rows).await?;
        let mut results = Vec::with_capacity(numbers.len());
        let mut counts = [0i32; 4];
        let mut changed = BatchOutcome::default();
        for (numbers, result) in groups.iter().zip(&outcome) {
            for (k, line) in numbers.iter().enumerate() {
                // A product's errors belong to all its lines; a variant's to its own line.
                let own = format!("variants[{k}].");
                let mut errors: Vec<FieldError> = result
                    .errors
                    .iter()
                    .filter(|e| !e.field.starts_with("variants[") || e.field.starts_with(&own))
                    .cloned()
                    .collect();
                if result.action == RowAction::Failed && errors.is_empty() {
                    errors.push(FieldError::new("product_sku", "not written: another line of this product failed"));
                }
                counts[result.action as usize] += 1;
                results.push((
                    import_results::organization_id.eq(org),
                    import_results::job_id.eq(job),
                    import_results::line.eq(*line),
                    import_results::action.eq(result.action.as_str()),
                    import_results::product_id.eq(result.product_id),
                    import_results::variant_id.eq(result.variant_ids.get(k).copied()),
                    import_results::errors.eq(json!(errors)),
                ));
            }
        }
        for chunk in results.chunks(5000) {
            diesel::insert_into(import_results::table).values(chunk).execute(conn).await?;
        }
        let processed = numbers.last().copied().unwrap_or(state.total_rows);
        changed.done = processed >= state.total_rows;
        changed.number = (processed + PROCESS_BATCH as i32 - 1) / PROCESS_BATCH as i32;
        diesel::sql_query(format!(
            "UPDATE import_jobs SET processed_rows = $2, created = created + $3, updated = updated + $4, \
               unchanged = unchanged + $5, failed = failed + $6, updated_at = now(), \
               status = CASE WHEN $7 THEN 'completed' ELSE status END, \
               finished_at = CASE WHEN $7 THEN now() END, \
               lease_until = CASE WHEN $7 THEN NULL ELSE now() + interval '{LEASE_SECONDS} seconds' END \
             WHERE id = $1"
        ))
        .bind::<SqlUuid, _>(job)
        .bind::<Integer, _>(processed)
        .bind::<Integer, _>(counts[RowAction::Created as usize])
        .bind::<Integer, _>(counts[RowAction::Updated as usize])
        .bind::<Integer, _>(counts[RowAction::Unchanged as usize])
        .bind::<Integer, _>(counts[RowAction::Failed as usize])
        .bind::<diesel::sql_types::Bool, _>(changed.done)
        .execute(conn)
        .await?;
        Ok(changed)
    })
    .await
}

/// Marks a job failed (a batch could not be applied at all: an error that is neither a
/// constraint, which [`upsert_isolating`] pins on its rows, nor an outage, which is retried);
/// its committed batches stay.
pub async fn fail(conn: &mut PgConn, job: Uuid, error: &str) {
    let failed = diesel::update(import_jobs::table.find(job))
        .set((
            import_jobs::status.eq("failed"),
            import_jobs::error.eq(error),
            import_jobs::finished_at.eq(diesel::dsl::now),
            import_jobs::lease_until.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(conn)
        .await;
    if let Err(e) = failed {
        tracing::warn!(%job, error = %e, "could not mark the import failed");
    }
}
