//! Stock as the catalog shows it: a read model of what Inventory reports (Inventory owns stock;
//! tables `variant_stock` and `inventory_warehouses`, see their migration), applied by the
//! worker from Inventory's events and read by the API's stock answers and the variant delete
//! guard.
//!
//! Order: each row keeps the time of the event that set it (`observed_at`). An event applies
//! only if it is newer than the row for its variant and warehouse, so a late event never
//! overwrites a newer state and a redelivery (same time) changes nothing. The time is the
//! envelope's `timestamp`; Inventory's pages print it on `inventory.stock.updated` but not on
//! every event, so an event without one is ordered by `data.last_movement_at`, else by its
//! arrival. The page prints whole seconds: two movements in one second tie, and the tie goes to
//! the event whose `previous_quantities` are what the row holds — the movement that follows it
//! (without them a tie is a redelivery and changes nothing).
//!
//! Repair: [`resync`] compares the model with Inventory's own answer over gRPC
//! ([`inventory::InventoryClient`]) and replaces what differs, as of the moment it asked — so an
//! event Inventory sent after that still wins. Freshness: [`last_heard`] is the newer of the
//! organization's newest report and its last reconciliation; answers are [`is_stale`] when it
//! is older than `STOCK_STALE_AFTER_SECS`.

pub mod inventory;
pub mod resync;
#[cfg(feature = "testing")]
pub mod stub;
mod write;

pub use write::Change;

use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{OrganizationId, VariantId};
use crate::schema::variant_stock;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// One warehouse's quantities of one variant, as Inventory's `quantities` object names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Quantities {
    pub total: Decimal,
    pub available: Decimal,
    pub reserved: Decimal,
    pub damaged: Decimal,
    /// Only Inventory's gRPC answer says it; `None` (its events) keeps what the row has.
    pub in_transit: Option<Decimal>,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The row already holds this event or a newer one.
    NotNewer,
    /// No such variant in the event's organization: nothing to keep.
    UnknownVariant,
}

/// Sets `variant`'s quantities in `warehouse` as of `observed_at`, unless the row is as new;
/// announces nothing (seeding and tests). Events go through [`apply_and_announce`].
pub async fn apply(
    conn: &mut PgConn,
    org: OrganizationId,
    variant: VariantId,
    warehouse: Uuid,
    quantities: Quantities,
    observed_at: DateTime<Utc>,
) -> Result<Applied> {
    apply_after(conn, org, variant, warehouse, quantities, None, observed_at).await
}

/// [`apply`], and at the same `observed_at` too when the row holds `previous` (the report is
/// the movement that follows the row's).
pub async fn apply_after(
    conn: &mut PgConn,
    org: OrganizationId,
    variant: VariantId,
    warehouse: Uuid,
    quantities: Quantities,
    previous: Option<Quantities>,
    observed_at: DateTime<Utc>,
) -> Result<Applied> {
    let change = Change::Warehouse { organization: Some(org), variant, warehouse, quantities, previous, observed_at };
    let applied = write::apply(conn, &[change], write::Announce::Nothing).await?;
    Ok(applied.into_iter().next().unwrap_or(Applied::UnknownVariant))
}

/// Applies `changes` in order in one transaction and a constant number of statements
/// ([`write`]), and appends `catalog.variant.stock_updated` to the outbox in the same
/// transaction for each variant whose stock (over all warehouses) crossed its alert level or
/// ran out — either way. One [`Applied`] per change.
pub async fn apply_and_announce(conn: &mut PgConn, changes: &[Change]) -> Result<Vec<Applied>> {
    write::apply(conn, changes, write::Announce::Crossings).await
}

/// A warehouse as Inventory's warehouse events describe it; `None` fields stay as they were.
#[derive(Debug, Clone, Default)]
pub struct WarehouseFacts {
    pub name: Option<String>,
    pub code: Option<String>,
    pub is_active: Option<bool>,
}

/// Records what an event says of a warehouse, unless the row is as new.
pub async fn apply_warehouse(
    conn: &mut PgConn,
    org: OrganizationId,
    warehouse: Uuid,
    facts: WarehouseFacts,
    observed_at: DateTime<Utc>,
) -> Result<Applied> {
    let changed = diesel::sql_query(
        "INSERT INTO inventory_warehouses AS w (organization_id, warehouse_id, name, code, is_active, observed_at) \
         VALUES ($1, $2, $3, $4, coalesce($5, true), $6) \
         ON CONFLICT (organization_id, warehouse_id) DO UPDATE \
             SET name = coalesce($3, w.name), code = coalesce($4, w.code), \
                 is_active = coalesce($5, w.is_active), observed_at = excluded.observed_at \
             WHERE w.observed_at < excluded.observed_at",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<SqlUuid, _>(warehouse)
    .bind::<Nullable<Text>, _>(facts.name)
    .bind::<Nullable<Text>, _>(facts.code)
    .bind::<Nullable<Bool>, _>(facts.is_active)
    .bind::<Timestamptz, _>(observed_at)
    .execute(conn)
    .await?;
    Ok(if changed > 0 { Applied::Changed } else { Applied::NotNewer })
}

/// A variant's stock over all its warehouses, and when Inventory last reported any of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VariantStock {
    pub total: Decimal,
    pub available: Decimal,
    pub reserved: Decimal,
    pub damaged: Decimal,
    pub in_transit: Decimal,
    /// `None`: Inventory has reported nothing for the variant (all quantities are then 0).
    pub last_update: Option<DateTime<Utc>>,
}

impl VariantStock {
    pub fn has_stock(&self) -> bool {
        self.total > Decimal::ZERO
    }

    /// Nothing left to sell.
    pub fn is_out(&self) -> bool {
        self.available <= Decimal::ZERO
    }

    /// Below the alert level (`alert_stock`): fewer available than it.
    pub fn below(&self, alert_threshold: i32) -> bool {
        self.available < Decimal::from(alert_threshold)
    }
}

/// What Inventory says of one variant in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub warehouse: Uuid,
    pub warehouse_name: Option<String>,
    pub quantities: Quantities,
}

/// The sums a stock row group answers (total, available, reserved, damaged, in transit, newest
/// report); SQL sums are NULL-able.
type Sums =
    (Option<Decimal>, Option<Decimal>, Option<Decimal>, Option<Decimal>, Option<Decimal>, Option<DateTime<Utc>>);

/// The select list of [`Sums`] over `variant_stock`.
macro_rules! stock_sums {
    () => {
        (
            diesel::dsl::sum(variant_stock::total),
            diesel::dsl::sum(variant_stock::available),
            diesel::dsl::sum(variant_stock::reserved),
            diesel::dsl::sum(variant_stock::damaged),
            diesel::dsl::sum(variant_stock::in_transit),
            diesel::dsl::max(variant_stock::observed_at),
        )
    };
}

fn summed((total, available, reserved, damaged, in_transit, last_update): Sums) -> VariantStock {
    VariantStock {
        total: total.unwrap_or_default(),
        available: available.unwrap_or_default(),
        reserved: reserved.unwrap_or_default(),
        damaged: damaged.unwrap_or_default(),
        in_transit: in_transit.unwrap_or_default(),
        last_update,
    }
}

/// The stock of each of `variants` (of `org`), summed over warehouses, in one statement. A
/// variant Inventory never reported is absent.
pub async fn of_variants(
    conn: &mut PgConn,
    org: OrganizationId,
    variants: &[VariantId],
) -> Result<HashMap<VariantId, VariantStock>> {
    let rows: Vec<(VariantId, Sums)> = variant_stock::table
        .filter(variant_stock::organization_id.eq(org))
        .filter(variant_stock::variant_id.eq_any(variants))
        .group_by(variant_stock::variant_id)
        .select((variant_stock::variant_id, stock_sums!()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(variant, sums)| (variant, summed(sums))).collect())
}

/// The stock of each of `products` (of `org`) over its live variants and warehouses, in one
/// statement. A product none of whose variants Inventory reported is absent.
pub async fn of_products(
    conn: &mut PgConn,
    org: OrganizationId,
    products: &[crate::ids::ProductId],
) -> Result<HashMap<crate::ids::ProductId, VariantStock>> {
    use crate::schema::product_variants;
    let rows: Vec<(crate::ids::ProductId, Sums)> = variant_stock::table
        .inner_join(
            product_variants::table.on(product_variants::organization_id
                .eq(variant_stock::organization_id)
                .and(product_variants::id.eq(variant_stock::variant_id))),
        )
        .filter(variant_stock::organization_id.eq(org))
        .filter(product_variants::product_id.eq_any(products))
        .filter(product_variants::deleted_at.is_null())
        .group_by(product_variants::product_id)
        .select((product_variants::product_id, stock_sums!()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(product, sums)| (product, summed(sums))).collect())
}

/// 409 `VARIANT_HAS_STOCK` (page 10) when the read model says the variant still has stock;
/// the answer says how fresh that knowledge is (`stock_as_of`: Inventory's last report).
pub async fn refuse_if_stocked(conn: &mut PgConn, org: OrganizationId, variant: VariantId) -> Result<()> {
    let found = of_variants(conn, org, &[variant]).await?;
    let Some(stock) = found.get(&variant).filter(|stock| stock.has_stock()) else { return Ok(()) };
    Err(crate::error::Error::InUse {
        code: "VARIANT_HAS_STOCK",
        message: "Cannot delete variant with existing stock".into(),
        details: serde_json::json!({
            "variant_id": variant,
            "stock_total": quantity_json(stock.total),
            "stock_available": quantity_json(stock.available),
            "stock_as_of": stock.last_update,
            "suggestion": "Use force=true parameter to soft-delete the variant",
        }),
    })
}

/// A quantity as the pages print it: a JSON number (an integer when whole).
pub fn quantity_json(quantity: Decimal) -> serde_json::Value {
    use rust_decimal::prelude::ToPrimitive;
    let normalized = quantity.normalize();
    if normalized.scale() == 0 {
        if let Some(whole) = normalized.to_i64() {
            return whole.into();
        }
    }
    normalized.to_f64().map_or(serde_json::Value::Null, Into::into)
}

/// When Inventory last told the catalog anything about `org`'s stock: its newest report
/// applied or the last reconciliation with Inventory's answer, whichever is newer. One
/// statement, two index lookups.
pub async fn last_heard(conn: &mut PgConn, org: OrganizationId) -> Result<Option<DateTime<Utc>>> {
    #[derive(QueryableByName)]
    struct Heard {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        at: Option<DateTime<Utc>>,
    }
    let heard: Heard = diesel::sql_query(
        "SELECT greatest( \
             (SELECT max(observed_at) FROM variant_stock WHERE organization_id = $1), \
             (SELECT reconciled_at FROM stock_reconciliations WHERE organization_id = $1)) AS at",
    )
    .bind::<SqlUuid, _>(org)
    .get_result(conn)
    .await?;
    Ok(heard.at)
}

/// Whether stock last heard of at `last_heard` is too old to be shown without a warning.
pub fn is_stale(last_heard: Option<DateTime<Utc>>, stale_after: std::time::Duration, now: DateTime<Utc>) -> bool {
    let limit = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
    last_heard.is_none_or(|heard| now.signed_duration_since(heard) > limit)
}

/// Each organization with stock in the model and its newest report (the lag metric). A skip
/// scan of the `(organization_id, observed_at)` index: one short descent per organization.
pub async fn newest_report_by_organization(conn: &mut PgConn) -> Result<Vec<(OrganizationId, DateTime<Utc>)>> {
    #[derive(QueryableByName)]
    struct Newest {
        #[diesel(sql_type = SqlUuid)]
        organization_id: Uuid,
        #[diesel(sql_type = Timestamptz)]
        newest: DateTime<Utc>,
    }
    let rows: Vec<Newest> = diesel::sql_query(
        "WITH RECURSIVE orgs(id) AS ( \
             (SELECT organization_id FROM variant_stock ORDER BY organization_id LIMIT 1) \
             UNION ALL \
             SELECT (SELECT organization_id FROM variant_stock WHERE organization_id > orgs.id \
                     ORDER BY organization_id LIMIT 1) FROM orgs WHERE orgs.id IS NOT NULL) \
         SELECT id AS organization_id, \
                (SELECT max(observed_at) FROM variant_stock WHERE organization_id = orgs.id) AS newest \
         FROM orgs WHERE id IS NOT NULL",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (OrganizationId(row.organization_id), row.newest)).collect())
}
