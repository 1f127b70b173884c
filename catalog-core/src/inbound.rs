//! Events consumed by the worker: parsing both documented envelope shapes, and what each event
//! does to the catalog. Pure parsing lives in [`parse`]; effects in [`EventHandler`].
//!
//! Handlers are idempotent: cache invalidations are naturally so, and database effects record
//! the event's delivery key in `processed_events` in the same transaction, so a redelivery
//! changes nothing. The peers publish no `event_id` (their pages show none): the key is the
//! envelope's `event_id`, else the AMQP message id, else a digest of the body, which a
//! redelivery repeats byte for byte.

use crate::auth::Authenticator;
use crate::db::PgPool;
use crate::error::{Error, Result};
use crate::ids::{OrganizationId, ProductId, UserId, VariantId};
use crate::organizations::Standing;
use crate::read::Catalog;
use crate::schema::{
    inventory_warehouses, organization_locals, organization_states, processed_events, product_variants, products,
};
use crate::stale::Stale;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The largest message body worth parsing; anything bigger is not an event of ours.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    /// What makes a delivery the same event (idempotency): the envelope's `event_id`, else the
    /// AMQP `message_id`, else `sha256:` and the body's digest.
    pub event_id: String,
    /// `event` or `event_type`.
    pub name: String,
    /// Top level, or inside `data`/`payload`; absent in some producers' events.
    pub organization_id: Option<OrganizationId>,
    pub aggregate_id: Option<Uuid>,
    /// `data` or `payload`.
    pub data: Value,
    /// The envelope's `timestamp` (or `occurred_at`), when it has one.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The envelope's `metadata` (`traceparent` among it), `null` when it has none.
    pub metadata: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an event envelope: {0}")]
    Shape(&'static str),
}

/// Accepts `{event|event_type, data|payload, event_id?, organization_id?, ...}`.
pub fn parse(body: &[u8], message_id: Option<&str>) -> Result<IncomingEvent, ParseError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(ParseError::TooLarge(body.len()));
    }
    let value: Value = serde_json::from_slice(body)
        .or_else(|error| serde_json::from_reader(json_comments::StripComments::new(body)).map_err(|_| error))
        .map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(envelope) = value else { return Err(ParseError::Shape("the body is not a JSON object")) };
    let name = envelope
        .get("event")
        .or_else(|| envelope.get("event_type"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= 200)
        .ok_or(ParseError::Shape("missing event / event_type"))?
        .to_string();
    let data = envelope.get("data").or_else(|| envelope.get("payload")).cloned().unwrap_or(Value::Null);
    if !(data.is_object() || data.is_null()) {
        return Err(ParseError::Shape("data / payload is not an object"));
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let organization_id = text(envelope.get("organization_id"))
        .or_else(|| text(data.get("organization_id")))
        .and_then(|raw| raw.parse().ok());
    let event_id = text(envelope.get("event_id"))
        .or_else(|| message_id.map(str::to_string))
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .unwrap_or_else(|| format!("sha256:{:x}", Sha256::digest(body)));
    let aggregate_id = text(envelope.get("aggregate_id")).and_then(|raw| raw.parse().ok());
    let occurred_at =
        text(envelope.get("timestamp").or_else(|| envelope.get("occurred_at"))).and_then(|raw| date_time(&raw));
    let metadata = envelope.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or(Value::Null);
    Ok(IncomingEvent { event_id, name, organization_id, aggregate_id, data, occurred_at, metadata })
}

fn date_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|at| at.with_timezone(&Utc))
}

/// What handling an event amounted to (for logs and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Handled,
    Duplicate,
    Ignored(&'static str),
}

#[derive(Clone)]
pub struct EventHandler {
    pub pg: PgPool,
    pub catalog: Catalog,
    pub auth: std::sync::Arc<Authenticator>,
}

fn uuid_at(data: &Value, path: &[&str]) -> Option<Uuid> {
    path.iter().try_fold(data, |v, key| v.get(key))?.as_str()?.parse().ok()
}

/// A number (or numeric string) at `path` of `data`, as a decimal.
fn quantity_at(data: &Value, path: &[&str]) -> Option<rust_decimal::Decimal> {
    let value = path.iter().try_fold(data, |v, key| v.get(key))?;
    match value {
        Value::Number(n) => {
            n.to_string().parse().ok().or_else(|| n.as_f64().and_then(|f| rust_decimal::Decimal::try_from(f).ok()))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn permanent(message: &str) -> Error {
    Error::InvalidArgument { field: "event", message: message.into() }
}

impl EventHandler {
    /// Applies one event. `Err` with [`Error::is_transient`] means "retry later"; any other
    /// `Err` means the event can never succeed (dead-letter it).
    pub async fn handle(&self, event: &IncomingEvent) -> Result<Outcome> {
        match event.name.as_str() {
            name if name.starts_with("catalog.") => self.invalidate_own(event).await,
            "auth.user.deactivated" => {
                let user = uuid_at(&event.data, &["user_id"])
                    .ok_or_else(|| permanent("auth.user.deactivated without data.user_id"))?;
                self.auth.deactivate_user(UserId(user), event.organization_id).await?;
                Ok(Outcome::Handled)
            }
            "auth.local.created" | "auth.local.updated" | "auth.local.deleted" => self.local_changed(event).await,
            "auth.organization.suspended" => self.set_suspended(event, true).await,
            "auth.organization.reactivated" | "auth.organization.unsuspended" | "auth.organization.activated" => {
                self.set_suspended(event, false).await
            }
            "auth.organization.deactivated" => self.deactivate_organization(event).await,
            "pricing.price.updated" => self.price_updated(event).await,
            "inventory.stock.updated" | "inventory.stock.depleted" => {
                self.handle_stock(&[event]).await?.pop().unwrap_or(Ok(Outcome::Ignored("nothing to apply")))
            }
            // An alert for people (Notification, Purchasing); the quantities come with the
            // stock.updated that caused it, and the catalog's alert level is its own.
            "inventory.stock.low_level" => Ok(Outcome::Ignored("the quantities arrive with inventory.stock.updated")),
            "inventory.warehouse.created" | "inventory.warehouse.updated" | "inventory.warehouse.deactivated" => {
                self.warehouse_changed(event).await
            }
            _ => Ok(Outcome::Ignored("event not handled by the catalog")),
        }
    }

    fn organization(event: &IncomingEvent) -> Result<OrganizationId> {
        event
            .organization_id
            .or_else(|| uuid_at(&event.data, &["id"]).map(OrganizationId))
            .ok_or_else(|| permanent("event without organization_id"))
    }

    /// The second, guaranteed cache invalidation: every committed write's own event drops
    /// what it made stale ([`crate::stale`], the table the API's first invalidation follows).
    /// (A deleted uploaded image's files are not removed from here but from the store's own
    /// outbox, [`crate::media::deletions`], which a store outage cannot dead-letter.)
    async fn invalidate_own(&self, event: &IncomingEvent) -> Result<Outcome> {
        let org = Self::organization(event)?;
        let stale = Stale::of(&event.name, event.aggregate_id, &event.data).map_err(permanent)?;
        if stale.is_empty() {
            return Ok(Outcome::Ignored("nothing cached depends on it"));
        }
        self.catalog.drop_stale(org, &stale).await?;
        Ok(Outcome::Handled)
    }

    /// Whether the event is one of Inventory's stock reports, which [`Self::handle_stock`]
    /// applies in batches.
    pub fn is_stock_report(event: &IncomingEvent) -> bool {
        matches!(event.name.as_str(), "inventory.stock.updated" | "inventory.stock.depleted")
    }

    /// `inventory.stock.updated` (its `quantities`) or `.depleted` (all zero) into the stock
    /// read model ([`crate::stock`]), unless the model already holds a newer report; a crossing
    /// of the alert level publishes `catalog.variant.stock_updated`. The whole batch in one
    /// transaction of a constant number of statements; one result per event, in order (an
    /// event of the wrong shape is its own permanent error). `Err`: nothing was applied.
    pub async fn handle_stock(&self, events: &[&IncomingEvent]) -> Result<Vec<Result<Outcome>>> {
        let changes: Vec<Result<crate::stock::Change>> = events.iter().map(|event| Self::stock_change(event)).collect();
        let valid: Vec<crate::stock::Change> =
            changes.iter().filter_map(|change| change.as_ref().ok().cloned()).collect();
        let mut applied = crate::stock::apply_and_announce(&mut *self.pg.get().await?, &valid).await?.into_iter();
        Ok(changes
            .into_iter()
            .map(|change| {
                change.map(|_| match applied.next() {
                    Some(crate::stock::Applied::Changed) => Outcome::Handled,
                    Some(crate::stock::Applied::NotNewer) => Outcome::Duplicate,
                    _ => Outcome::Ignored("no such variant in the organization"),
                })
            })
            .collect())
    }

    fn stock_change(event: &IncomingEvent) -> Result<crate::stock::Change> {
        let variant = uuid_at(&event.data, &["variant_id"])
            .ok_or_else(|| permanent("inventory stock event without a uuid data.variant_id"))?;
        let warehouse = uuid_at(&event.data, &["warehouse_id"])
            .ok_or_else(|| permanent("inventory stock event without a uuid data.warehouse_id"))?;
        let quantities_at = |key: &'static str| -> Option<crate::stock::Quantities> {
            let quantity = |name: &str| quantity_at(&event.data, &[key, name]);
            Some(crate::stock::Quantities {
                total: quantity("total")?,
                available: quantity("available")?,
                reserved: quantity("reserved")?,
                damaged: quantity("damaged")?,
                in_transit: None,
            })
        };
        let quantities = match event.name.as_str() {
            "inventory.stock.depleted" => crate::stock::Quantities::default(),
            _ => quantities_at("quantities")
                .ok_or_else(|| permanent("data.quantities needs total, available, reserved and damaged numbers"))?,
        };
        Ok(crate::stock::Change::Warehouse {
            // Inventory's page prints some stock events without the organization: the variant
            // (a uuid, unique across organizations) locates it.
            organization: event.organization_id,
            variant: VariantId(variant),
            warehouse,
            quantities,
            previous: quantities_at("previous_quantities"),
            observed_at: Self::observed_at(event),
        })
    }

    /// `inventory.warehouse.*`: the warehouse's name, code and state for the stock answers.
    async fn warehouse_changed(&self, event: &IncomingEvent) -> Result<Outcome> {
        let warehouse = uuid_at(&event.data, &["warehouse_id"])
            .ok_or_else(|| permanent("inventory warehouse event without a uuid data.warehouse_id"))?;
        let fields = event.data.get("changes").unwrap_or(&event.data);
        let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
        let facts = crate::stock::WarehouseFacts {
            name: text("name"),
            code: text("code"),
            is_active: match event.name.as_str() {
                "inventory.warehouse.deactivated" => Some(false),
                "inventory.warehouse.created" => Some(true),
                _ => fields.get("is_active").and_then(Value::as_bool),
            },
        };
        let mut conn = self.pg.get().await?;
        // The page prints warehouse events without the organization: a known warehouse, or
        // the Auth local a new one belongs to, locates it.
        let org = match event.organization_id {
            Some(org) => Some(org),
            None => {
                let known = inventory_warehouses::table
                    .filter(inventory_warehouses::warehouse_id.eq(warehouse))
                    .select(inventory_warehouses::organization_id)
                    .first::<OrganizationId>(&mut conn)
                    .await
                    .optional()?;
                match (known, uuid_at(&event.data, &["local_id"])) {
                    (Some(org), _) => Some(org),
                    (None, Some(local)) => organization_locals::table
                        .filter(organization_locals::local_id.eq(local))
                        .select(organization_locals::organization_id)
                        .first(&mut conn)
                        .await
                        .optional()?,
                    (None, None) => None,
                }
            }
        };
        let Some(org) = org else { return Ok(Outcome::Ignored("a warehouse of no known organization")) };
        let applied = crate::stock::apply_warehouse(&mut conn, org, warehouse, facts, Self::observed_at(event)).await?;
        Ok(if applied == crate::stock::Applied::Changed { Outcome::Handled } else { Outcome::Duplicate })
    }

    /// When an Inventory event happened: its `timestamp`, else `data.last_movement_at`, else now.
    pub fn observed_at(event: &IncomingEvent) -> DateTime<Utc> {
        event
            .occurred_at
            .or_else(|| event.data.get("last_movement_at").and_then(Value::as_str).and_then(date_time))
            .unwrap_or_else(Utc::now)
    }

    /// Pricing may omit the organization: the variant id alone locates it.
    async fn price_updated(&self, event: &IncomingEvent) -> Result<Outcome> {
        let variant = uuid_at(&event.data, &["variant_id"])
            .ok_or_else(|| permanent("pricing.price.updated without data.variant_id"))?;
        let mut conn = self.pg.get().await?;
        let mut query = product_variants::table.filter(product_variants::id.eq(VariantId(variant))).into_boxed();
        if let Some(org) = event.organization_id {
            query = query.filter(product_variants::organization_id.eq(org));
        }
        let found: Option<(OrganizationId, ProductId)> = query
            .select((product_variants::organization_id, product_variants::product_id))
            .first(&mut conn)
            .await
            .optional()?;
        drop(conn);
        let Some((org, product)) = found else { return Ok(Outcome::Ignored("unknown variant")) };
        self.catalog.invalidate_variants(org, &[VariantId(variant)], &[product]).await;
        Ok(Outcome::Handled)
    }

    /// Mirrors a local's state in `organization_locals`: products cannot be assigned to a local
    /// Auth deleted or deactivated. Which locals a user may act for stays the token's word.
    async fn local_changed(&self, event: &IncomingEvent) -> Result<Outcome> {
        let org = Self::organization(event)?;
        let local =
            uuid_at(&event.data, &["local_id"]).ok_or_else(|| permanent("local event without data.local_id"))?;
        let data = &event.data;
        let changed = |field: &str| data.pointer(&format!("/changes/{field}/new")).or_else(|| data.get(field));
        let name = changed("name").and_then(Value::as_str).map(str::to_string);
        let deleted = event.name == "auth.local.deleted";
        let is_active = !deleted && changed("is_active").and_then(Value::as_bool).unwrap_or(true);
        let deleted_at = deleted.then(Utc::now);
        let event_id = event.event_id.clone();
        let mut conn = self.pg.get().await?;
        conn.transaction(async move |conn| {
            if !first_delivery(conn, &event_id).await? {
                return Ok(Outcome::Duplicate);
            }
            diesel::insert_into(organization_locals::table)
                .values((
                    organization_locals::organization_id.eq(org),
                    organization_locals::local_id.eq(local),
                    organization_locals::name.eq(&name),
                    organization_locals::is_active.eq(is_active),
                    organization_locals::deleted_at.eq(deleted_at),
                ))
                .on_conflict((organization_locals::organization_id, organization_locals::local_id))
                .do_update()
                .set((
                    // An update that names no name keeps the one known.
                    organization_locals::name
                        .eq(sql::<Nullable<Text>>("coalesce(excluded.name, organization_locals.name)")),
                    organization_locals::is_active.eq(is_active),
                    organization_locals::deleted_at.eq(deleted_at),
                    organization_locals::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            Ok::<_, Error>(Outcome::Handled)
        })
        .await
    }

    /// Suspends the organization (until `data.suspension_end_date` when given) or lifts it.
    async fn set_suspended(&self, event: &IncomingEvent, suspended: bool) -> Result<Outcome> {
        let org = Self::organization(event)?;
        let event_id = event.event_id.clone();
        let until = match event.data.get("suspension_end_date") {
            None | Some(Value::Null) => None,
            Some(raw) => Some(
                raw.as_str()
                    .and_then(date_time)
                    .ok_or_else(|| permanent("data.suspension_end_date is not an RFC 3339 date-time"))?,
            ),
        }
        .filter(|_| suspended);
        let mut conn = self.pg.get().await?;
        let outcome = conn
            .transaction(async move |conn| {
                if !first_delivery(conn, &event_id).await? {
                    return Ok(Outcome::Duplicate);
                }
                diesel::insert_into(organization_states::table)
                    .values((
                        organization_states::organization_id.eq(org),
                        organization_states::suspended.eq(suspended),
                        organization_states::suspended_until.eq(until),
                    ))
                    .on_conflict(organization_states::organization_id)
                    .do_update()
                    .set((
                        organization_states::suspended.eq(suspended),
                        organization_states::suspended_until.eq(until),
                        organization_states::updated_at.eq(Utc::now()),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, Error>(Outcome::Handled)
            })
            .await?;
        drop(conn);
        // The cache follows the database whatever the outcome above (a redelivery after a
        // failed cache write must still make it): requests, then cached validations.
        if suspended {
            self.auth.refuse_organization(org, Standing::Suspended, until).await?;
        } else {
            self.auth.reinstate_organization(org).await?;
        }
        if !self.catalog.cache.invalidate_organization(org).await {
            return Err(Error::Unavailable("redis: organization invalidation failed".into()));
        }
        Ok(outcome)
    }

    /// Ends the suspensions whose `suspension_end_date` has passed: requests were let in at that
    /// date already (the refusal's cache key expires with it, and verifications read the date);
    /// this drops the cached validations that still say "suspended". Returns how many ended.
    /// The caches go first and the rows after, so a failed cache write is retried next time.
    pub async fn end_expired_suspensions(&self) -> Result<usize> {
        let now = Utc::now();
        let expired = organization_states::table
            .filter(organization_states::suspended)
            .filter(organization_states::suspended_until.le(now));
        let mut conn = self.pg.get().await?;
        let ended: Vec<OrganizationId> = expired.select(organization_states::organization_id).load(&mut conn).await?;
        for org in &ended {
            self.auth.reinstate_organization(*org).await?;
            if !self.catalog.cache.invalidate_organization(*org).await {
                return Err(Error::Unavailable("redis: organization invalidation failed".into()));
            }
        }
        // Only the rows seen above, and only if no new suspension replaced them meanwhile.
        diesel::update(expired.filter(organization_states::organization_id.eq_any(&ended)))
            .set((
                organization_states::suspended.eq(false),
                organization_states::suspended_until.eq(None::<DateTime<Utc>>),
                organization_states::updated_at.eq(now),
            ))
            .execute(&mut conn)
            .await?;
        for org in &ended {
            tracing::info!(organization_id = %org, "suspension ended by its date");
        }
        Ok(ended.len())
    }

    /// The organization is gone: its products (and their variants) are soft-deleted.
    async fn deactivate_organization(&self, event: &IncomingEvent) -> Result<Outcome> {
        let org = Self::organization(event)?;
        let event_id = event.event_id.clone();
        let mut conn = self.pg.get().await?;
        let outcome = conn
            .transaction(async move |conn| {
                if !first_delivery(conn, &event_id).await? {
                    return Ok(Outcome::Duplicate);
                }
                let now = Utc::now();
                diesel::insert_into(organization_states::table)
                    .values((organization_states::organization_id.eq(org), organization_states::deactivated_at.eq(now)))
                    .on_conflict(organization_states::organization_id)
                    .do_update()
                    .set((organization_states::deactivated_at.eq(now), organization_states::updated_at.eq(now)))
                    .execute(conn)
                    .await?;
                diesel::update(
                    products::table.filter(products::organization_id.eq(org)).filter(products::deleted_at.is_null()),
                )
                .set((
                    products::deleted_at.eq(now),
                    products::version.eq(products::version + 1),
                    products::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
                diesel::update(
                    product_variants::table
                        .filter(product_variants::organization_id.eq(org))
                        .filter(product_variants::deleted_at.is_null()),
                )
                .set((
                    product_variants::deleted_at.eq(now),
                    product_variants::version.eq(product_variants::version + 1),
                    product_variants::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
                Ok::<_, Error>(Outcome::Handled)
            })
            .await?;
        drop(conn);
        self.auth.refuse_organization(org, Standing::Deactivated, None).await?;
        if !self.catalog.cache.invalidate_organization(org).await {
            return Err(Error::Unavailable("redis: organization invalidation failed".into()));
        }
        Ok(outcome)
    }
}

/// Remembers the event in the handler's transaction; `false` when it was already applied.
async fn first_delivery(conn: &mut crate::db::PgConn, event_id: &str) -> Result<bool> {
    const CONSUMER: &str = "catalog-worker";
    let inserted = diesel::insert_into(processed_events::table)
        .values((processed_events::consumer.eq(CONSUMER), processed_events::event_id.eq(event_id)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_envelope_shapes_parse() {
        let org = Uuid::now_v7();
        let a = format!(
            r#"{{"event":"auth.user.deactivated","event_id":"e1","organization_id":"{org}","data":{{"user_id":"x"}}}}"#
        );
        let b = format!(
            r#"{{"event_type":"auth.user.deactivated","payload":{{"user_id":"x","organization_id":"{org}"}}}}"#
        );
        let a = parse(a.as_bytes(), None).expect("shape a");
        let b = parse(b.as_bytes(), Some("m-1")).expect("shape b");
        assert_eq!((a.name.as_str(), a.event_id.as_str()), ("auth.user.deactivated", "e1"));
        assert_eq!((b.name.as_str(), b.event_id.as_str()), ("auth.user.deactivated", "m-1"));
        assert_eq!(a.organization_id, Some(OrganizationId(org)));
        assert_eq!(b.organization_id, Some(OrganizationId(org)));
        assert_eq!(a.data["user_id"], b.data["user_id"]);
    }

    /// As Auth's page prints them: no event id, no message id, a `//` note inside the JSON.
    #[test]
    fn peers_events_without_ids_get_a_key_their_redelivery_repeats() {
        let body = br#"{"event": "auth.user.deactivated", "organization_id": "org_123",
            "data": {"user_id": "user_001", "reason": "manual"  // "manual", "too_many_attempts"
        }}"#;
        let first = parse(body, None).expect("Auth's example parses");
        assert_eq!(first.data["reason"], "manual");
        assert!(first.event_id.starts_with("sha256:"), "{}", first.event_id);
        assert_eq!(parse(body, None).expect("again").event_id, first.event_id);
        let other = br#"{"event": "auth.user.deactivated", "data": {"user_id": "user_002"}}"#;
        assert_ne!(parse(other, None).expect("other").event_id, first.event_id);
        assert_eq!(parse(body, Some("m-9")).expect("with a message id").event_id, "m-9");
    }

    #[test]
    fn garbage_is_a_parse_error_not_a_panic() {
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            b"{\"event\":5}",
            b"{\"event\":\"x\",\"data\":[1]}",
            b"\xff\xfe",
            b"{\"event\":\"\"}",
        ] {
            assert!(parse(body, None).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
        assert!(matches!(parse(&vec![b' '; MAX_EVENT_BYTES + 1], None), Err(ParseError::TooLarge(_))));
    }
}
