//! The transactional outbox: events are rows written in the same transaction as the change they
//! describe, so a committed write always has its event and a rolled-back one never does. Each
//! appended event also tells [`crate::stale`] which cached entries it makes stale, so the
//! caller's [`crate::read::Catalog::write`] drops them once the write returns.

use super::published::EventDraft;
use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{OrganizationId, ProductId, VariantId};
use crate::models::Actor;
use crate::schema::{outbox, product_variants};
use crate::stale::Stale;
use crate::telemetry;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

pub const SERVICE_NAME: &str = "catalog-service";
pub const ENVELOPE_VERSION: &str = "1.0";

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
struct NewOutboxRow {
    event_id: Uuid,
    organization_id: OrganizationId,
    event_type: String,
    aggregate_type: String,
    aggregate_id: Uuid,
    aggregate_version: i32,
    payload: Value,
}

/// A stored event awaiting (or past) publication.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: Uuid,
    pub organization_id: OrganizationId,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub aggregate_version: i32,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// The message body as published (SPEC §6). Both `event` and `event_type` carry the name so
/// consumers written against either documented shape work. `data` also gets what every page's
/// payload repeats from the envelope: `organization_id`, and who did it and when under the
/// action's names (`created_by`/`created_at`, `updated_by`/`updated_at`, …; the user is
/// `null` for the system's own changes).
/// `trace` is the writer's W3C context (`traceparent`, `tracestate`), carried in `metadata` so
/// the relay and every consumer continue the trace.
pub fn envelope(
    event_id: Uuid,
    org: OrganizationId,
    actor: &Actor,
    draft: &EventDraft,
    at: DateTime<Utc>,
    trace: &[(&'static str, String)],
) -> Value {
    let name = draft.event_type();
    // Microseconds: Audit tells events apart by `{event}_{timestamp}_{organization_id}`.
    let timestamp = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut data = draft.data.clone();
    if let Value::Object(fields) = &mut data {
        fields.entry("organization_id").or_insert_with(|| json!(org));
        super::published::document(draft, actor, &timestamp, fields);
    }
    let mut metadata = json!({
        "user_id": actor.user_id,
        "correlation_id": actor.correlation_id,
    });
    if let Value::Object(fields) = &mut metadata {
        fields.extend(trace.iter().map(|(name, value)| ((*name).to_string(), json!(value))));
    }
    json!({
        "event_id": event_id,
        "event": name,
        "event_type": name,
        "timestamp": timestamp,
        "service": SERVICE_NAME,
        "version": ENVELOPE_VERSION,
        "organization_id": org,
        "aggregate_id": draft.aggregate_id,
        "aggregate_version": draft.aggregate_version,
        "data": data,
        "metadata": metadata,
    })
}

/// Appends events in one multi-row insert. Call inside the transaction of the write.
pub async fn append(conn: &mut PgConn, org: OrganizationId, actor: &Actor, drafts: Vec<EventDraft>) -> Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let span = telemetry::client_span(|| {
        tracing::info_span!(
            "create outbox",
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.operation.type = "create",
            messaging.operation.name = "outbox append",
            messaging.batch.message_count = drafts.len() as i64,
        )
    });
    // The events' context is this span's (exporting) or the request's (not).
    let trace = span.in_scope(telemetry::current_headers);
    append_traced(conn, org, actor, drafts, &trace).instrument(span).await
}

async fn append_traced(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut drafts: Vec<EventDraft>,
    trace: &[(&'static str, String)],
) -> Result<()> {
    name_variants(conn, org, &mut drafts).await?;
    for draft in &drafts {
        // A draft this module's constructors made always names its subject; were one not to,
        // the organization's entries go, the safe side.
        let stale = Stale::of(&draft.event_type(), Some(draft.aggregate_id), &draft.data)
            .unwrap_or_else(|_| Stale { organization: true, ..Stale::default() });
        crate::stale::record(org, stale);
    }
    let now = Utc::now();
    let rows: Vec<NewOutboxRow> = drafts
        .iter()
        .zip(0..)
        .map(|(draft, nth)| {
            let event_id = Uuid::now_v7();
            // One write's events keep their order and each its own instant (see `envelope`).
            let now = now + chrono::Duration::microseconds(nth);
            NewOutboxRow {
                event_id,
                organization_id: org,
                event_type: draft.event_type(),
                aggregate_type: draft.aggregate.to_string(),
                aggregate_id: draft.aggregate_id,
                aggregate_version: draft.aggregate_version,
                payload: envelope(event_id, org, actor, draft, now, trace),
            }
        })
        .collect();
    // 7 bind parameters a row: chunks stay under PostgreSQL's 65,535 (bulk writes pass thousands).
    for chunk in rows.chunks(5000) {
        diesel::insert_into(outbox::table).values(chunk).execute(conn).await?;
    }
    Ok(())
}

/// Product events name the product's live variants (`variant_ids`, and `variant_id`, the first):
/// POS keys its caches by variant and reads `data.variant_id` on `catalog.product.updated`
/// (`peers/pos-service_07`). One statement for all of a write's product events.
async fn name_variants(conn: &mut PgConn, org: OrganizationId, drafts: &mut [EventDraft]) -> Result<()> {
    let lacking = |draft: &EventDraft| {
        draft.aggregate == "product" && draft.action != "created" && draft.data.get("variant_ids").is_none()
    };
    let mut products: Vec<Uuid> = drafts.iter().filter(|d| lacking(d)).map(|d| d.aggregate_id).collect();
    if products.is_empty() {
        return Ok(());
    }
    products.sort_unstable();
    products.dedup();
    let rows: Vec<(ProductId, VariantId)> = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::product_id.eq_any(products.iter().map(|id| ProductId(*id))))
        .filter(product_variants::deleted_at.is_null())
        .order((product_variants::product_id, product_variants::position, product_variants::id))
        .select((product_variants::product_id, product_variants::id))
        .load(conn)
        .await?;
    for draft in drafts.iter_mut().filter(|d| lacking(d)) {
        let ids: Vec<VariantId> =
            rows.iter().filter(|(product, _)| product.as_uuid() == draft.aggregate_id).map(|(_, v)| *v).collect();
        if let Value::Object(data) = &mut draft.data {
            data.insert("variant_id".into(), json!(<[VariantId]>::first(&ids)));
            data.insert("variant_ids".into(), json!(ids));
        }
    }
    Ok(())
}

/// The organization's events, oldest first (tests and diagnostics).
pub async fn list_for_organization(conn: &mut PgConn, org: OrganizationId) -> Result<Vec<OutboxRow>> {
    Ok(outbox::table
        .filter(outbox::organization_id.eq(org))
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)
        .await?)
}
