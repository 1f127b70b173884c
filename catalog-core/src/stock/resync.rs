//! Repairs the stock read model from Inventory's own answer, for a catalog deployed after
//! Inventory, a purged queue or lost events: `catalog-worker stock-resync [--organization ID]`
//! and the worker's periodic reconciliation.
//!
//! Per batch of `INVENTORY_BATCH_SIZE` variants (keyset over the organization's live variants):
//! one `CheckBulkAvailability` call and one model read; only variants whose available quantity
//! differs are asked for their warehouses (`GetStockInfo`, a few at a time) and replaced (one
//! [`super::Change::Variant`] each, the batch in one transaction) as of the moment the batch
//! was asked — an event Inventory sent after that still wins. `full` asks every variant's
//! warehouses (a difference in reserved or damaged alone is invisible to the bulk check). Each
//! organization done is recorded in `stock_reconciliations`, which the freshness of the stock
//! answers reads.

use super::inventory::InventoryClient;
use crate::db::{PgConn, PgPool};
use crate::error::Result;
use crate::ids::{OrganizationId, VariantId};
use crate::schema::{product_variants, stock_reconciliations};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;

/// `GetStockInfo` calls in flight at once during a repair.
const DETAIL_CALLS_IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResyncOptions {
    pub batch_size: usize,
    /// Ask every variant's warehouses, not only those whose availability differs.
    pub full: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResyncReport {
    pub checked: usize,
    /// Variants whose model differed from Inventory's answer and was replaced.
    pub repaired: usize,
}

/// Brings `org`'s model in line with Inventory. Stops at the first failed call (the batches
/// done stay done); the reconciliation is recorded only when every batch was checked.
pub async fn resync_organization(
    pool: &PgPool,
    inventory: &InventoryClient,
    org: OrganizationId,
    options: ResyncOptions,
) -> Result<ResyncReport> {
    let mut report = ResyncReport::default();
    let mut after: Option<VariantId> = None;
    loop {
        let batch = live_variants_after(&mut *pool.get().await?, org, after, options.batch_size).await?;
        let Some(&last) = batch.last() else { break };
        after = Some(last);
        let asked_at = Utc::now();
        let differing = if options.full { batch.clone() } else { differing(pool, inventory, org, &batch).await? };
        let answers: Vec<(VariantId, Vec<super::Report>)> =
            futures_util::stream::iter(differing)
                .map(|variant| async move {
                    Ok::<_, crate::error::Error>((variant, inventory.stock_info(org, variant).await?))
                })
                .buffer_unordered(DETAIL_CALLS_IN_FLIGHT)
                .try_collect()
                .await?;
        let mut conn = pool.get().await?;
        // Each warehouse named once per batch, however many variants it holds.
        let names: std::collections::BTreeMap<uuid::Uuid, &String> = answers
            .iter()
            .flat_map(|(_, reports)| reports)
            .filter_map(|report| Some((report.warehouse, report.warehouse_name.as_ref()?)))
            .collect();
        for (warehouse, name) in names {
            let facts = super::WarehouseFacts { name: Some(name.clone()), ..super::WarehouseFacts::default() };
            super::apply_warehouse(&mut conn, org, warehouse, facts, asked_at).await?;
        }
        let changes: Vec<super::Change> = answers
            .into_iter()
            .map(|(variant, reports)| super::Change::Variant {
                organization: org,
                variant,
                reports,
                observed_at: asked_at,
            })
            .collect();
        let applied = super::apply_and_announce(&mut conn, &changes).await?;
        report.repaired += applied.iter().filter(|applied| **applied == super::Applied::Changed).count();
        report.checked += batch.len();
    }
    record(&mut *pool.get().await?, org, report).await?;
    Ok(report)
}

/// The variants of `batch` whose available quantity in the model is not Inventory's.
async fn differing(
    pool: &PgPool,
    inventory: &InventoryClient,
    org: OrganizationId,
    batch: &[VariantId],
) -> Result<Vec<VariantId>> {
    let truth = inventory.available(org, batch).await?;
    let model = super::of_variants(&mut *pool.get().await?, org, batch).await?;
    Ok(batch
        .iter()
        .copied()
        .filter(|variant| {
            let known = model.get(variant).map_or(Decimal::ZERO, |stock| stock.available);
            truth.get(variant).copied().unwrap_or_default() != known
        })
        .collect())
}

async fn live_variants_after(
    conn: &mut PgConn,
    org: OrganizationId,
    after: Option<VariantId>,
    limit: usize,
) -> Result<Vec<VariantId>> {
    let mut query = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::deleted_at.is_null())
        .select(product_variants::id)
        .order(product_variants::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(product_variants::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

async fn record(conn: &mut PgConn, org: OrganizationId, report: ResyncReport) -> Result<()> {
    let row = (
        stock_reconciliations::organization_id.eq(org),
        stock_reconciliations::reconciled_at.eq(Utc::now()),
        stock_reconciliations::variants_checked.eq(i32::try_from(report.checked).unwrap_or(i32::MAX)),
        stock_reconciliations::variants_repaired.eq(i32::try_from(report.repaired).unwrap_or(i32::MAX)),
    );
    diesel::insert_into(stock_reconciliations::table)
        .values(row)
        .on_conflict(stock_reconciliations::organization_id)
        .do_update()
        .set(row)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organizations with variants, oldest reconciliation first (never reconciled first of
/// all). A skip scan over the variants' `(organization_id, …)` key: one descent per
/// organization.
pub async fn organizations(conn: &mut PgConn) -> Result<Vec<OrganizationId>> {
    #[derive(QueryableByName)]
    struct Org {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let rows: Vec<Org> = diesel::sql_query(
        "WITH RECURSIVE orgs(id) AS ( \
             (SELECT organization_id FROM product_variants ORDER BY organization_id LIMIT 1) \
             UNION ALL \
             SELECT (SELECT organization_id FROM product_variants WHERE organization_id > orgs.id \
                     ORDER BY organization_id LIMIT 1) FROM orgs WHERE orgs.id IS NOT NULL) \
         SELECT orgs.id FROM orgs LEFT JOIN stock_reconciliations r ON r.organization_id = orgs.id \
         WHERE orgs.id IS NOT NULL ORDER BY r.reconciled_at NULLS FIRST",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| OrganizationId(row.id)).collect())
}
