//! The one way the read model changes: a batch of [`Change`]s decided in memory against the
//! rows they touch and written in a constant number of statements, whatever the batch size —
//! lock the variants, read their alert levels and rows, write what changed in one upsert (and
//! one delete), announce crossings in the outbox.
//!
//! Every writer locks the variant rows first (in id order, so concurrent batches of several
//! worker replicas cannot deadlock), which is what lets the ordering rule ([`supersedes`]) be
//! decided here rather than in SQL: no one else writes a locked variant's rows meanwhile.

use super::{Applied, Quantities, Report, VariantStock};
use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{OrganizationId, ProductId, VariantId};
use crate::models::{Actor, Variant};
use crate::schema::{product_variants, products, variant_stock};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Numeric, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A change Inventory reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An event: one warehouse's quantities, maybe with what the warehouse held before. Some of
    /// Inventory's events omit the organization: the variant (unique across organizations)
    /// locates it.
    Warehouse {
        organization: Option<OrganizationId>,
        variant: VariantId,
        warehouse: Uuid,
        quantities: Quantities,
        previous: Option<Quantities>,
        observed_at: DateTime<Utc>,
    },
    /// Inventory's whole answer for a variant (a resync), as of when it was asked: each listed
    /// warehouse's row unless newer, rows of warehouses it no longer lists removed unless newer.
    /// `Changed` only when a quantity differed (older rows are rewritten anyway, to record
    /// that Inventory confirmed them).
    Variant { organization: OrganizationId, variant: VariantId, reports: Vec<Report>, observed_at: DateTime<Utc> },
}

impl Change {
    fn variant(&self) -> VariantId {
        match self {
            Change::Warehouse { variant, .. } | Change::Variant { variant, .. } => *variant,
        }
    }

    fn organization(&self) -> Option<OrganizationId> {
        match self {
            Change::Warehouse { organization, .. } => *organization,
            Change::Variant { organization, .. } => Some(*organization),
        }
    }
}

/// One row of the model.
#[derive(Debug, Clone, Copy, PartialEq, Queryable, Selectable)]
#[diesel(table_name = variant_stock, check_for_backend(diesel::pg::Pg))]
struct Row {
    warehouse_id: Uuid,
    variant_id: VariantId,
    total: Decimal,
    available: Decimal,
    reserved: Decimal,
    damaged: Decimal,
    in_transit: Decimal,
    observed_at: DateTime<Utc>,
}

impl Row {
    fn holds(&self, q: &Quantities) -> bool {
        (self.total, self.available, self.reserved, self.damaged) == (q.total, q.available, q.reserved, q.damaged)
    }

    fn with(variant: VariantId, warehouse: Uuid, q: &Quantities, in_transit: Decimal, at: DateTime<Utc>) -> Self {
        let in_transit = q.in_transit.unwrap_or(in_transit);
        let (total, available, reserved, damaged) = (q.total, q.available, q.reserved, q.damaged);
        Row {
            warehouse_id: warehouse,
            variant_id: variant,
            total,
            available,
            reserved,
            damaged,
            in_transit,
            observed_at: at,
        }
    }
}

/// The ordering rule: a report applies over `row` when it is newer, or — Inventory's times are
/// whole seconds — at the same time when the row holds its `previous` quantities and not its
/// new ones (the movement that follows the row's). Anything else is a redelivery or late.
fn supersedes(row: Option<&Row>, quantities: &Quantities, previous: Option<&Quantities>, at: DateTime<Utc>) -> bool {
    row.is_none_or(|row| {
        row.observed_at < at
            || (row.observed_at == at && previous.is_some_and(|p| row.holds(p)) && !row.holds(quantities))
    })
}

/// Whether a batch's crossings of the alert level are appended to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Announce {
    Crossings,
    /// Seeding and tests: the rows only.
    Nothing,
}

/// Applies `changes` in order, in one transaction; one [`Applied`] per change. A variant that
/// is not its organization's (or not anyone's) is [`Applied::UnknownVariant`].
pub(super) async fn apply(conn: &mut PgConn, changes: &[Change], announce: Announce) -> Result<Vec<Applied>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    conn.transaction(async move |conn| apply_in_transaction(conn, changes, announce).await).await
}

async fn apply_in_transaction(conn: &mut PgConn, changes: &[Change], announce: Announce) -> Result<Vec<Applied>> {
    let mut ids: Vec<VariantId> = changes.iter().map(Change::variant).collect();
    ids.sort_unstable();
    ids.dedup();
    let variants: HashMap<VariantId, Variant> = product_variants::table
        .filter(product_variants::id.eq_any(&ids))
        .order(product_variants::id)
        .select(Variant::as_select())
        .for_update()
        .load::<Variant>(conn)
        .await?
        .into_iter()
        .map(|variant| (variant.id, variant))
        .collect();
    let organizations: Vec<OrganizationId> = {
        let set: HashSet<OrganizationId> = variants.values().map(|v| v.organization_id).collect();
        set.into_iter().collect()
    };
    let known: Vec<VariantId> = variants.keys().copied().collect();
    let held: Vec<Row> = variant_stock::table
        .filter(variant_stock::organization_id.eq_any(&organizations))
        .filter(variant_stock::variant_id.eq_any(&known))
        .select(Row::as_select())
        .load(conn)
        .await?;

    let mut model = Model::new(held);
    let applied: Vec<Applied> = changes
        .iter()
        .map(|change| {
            let variant = variants
                .get(&change.variant())
                .filter(|variant| change.organization().is_none_or(|org| org == variant.organization_id));
            match variant {
                None => Applied::UnknownVariant,
                Some(_) => model.apply(change),
            }
        })
        .collect();
    model.write(conn, &variants).await?;
    if announce == Announce::Crossings {
        announce_crossings(conn, &model, &variants).await?;
    }
    Ok(applied)
}

/// A row's key in the model: a variant's id is unique across organizations.
type Key = (VariantId, Uuid);

/// The rows of the batch's variants as the changes leave them.
struct Model {
    rows: BTreeMap<Key, Row>,
    /// Each changed variant's stock before the batch and after each change that wrote it, so
    /// crossings are announced as applying the changes one at a time would announce them.
    history: HashMap<VariantId, Vec<VariantStock>>,
    /// Keys whose row was written or removed.
    dirty: HashSet<Key>,
    held: HashSet<Key>,
}

impl Model {
    fn new(held: Vec<Row>) -> Self {
        let rows: BTreeMap<_, _> = held.into_iter().map(|row| ((row.variant_id, row.warehouse_id), row)).collect();
        let held = rows.keys().copied().collect();
        Model { rows, history: HashMap::new(), dirty: HashSet::new(), held }
    }

    fn rows_of(&self, variant: VariantId) -> impl Iterator<Item = &Row> {
        self.rows.range((variant, Uuid::nil())..=(variant, Uuid::max())).map(|(_, row)| row)
    }

    /// The variant's stock over its warehouses, as [`super::of_variants`] sums it.
    fn stock_of(&self, variant: VariantId) -> VariantStock {
        self.rows_of(variant).fold(VariantStock::default(), |sum, row| VariantStock {
            total: sum.total + row.total,
            available: sum.available + row.available,
            reserved: sum.reserved + row.reserved,
            damaged: sum.damaged + row.damaged,
            in_transit: sum.in_transit + row.in_transit,
            last_update: sum.last_update.max(Some(row.observed_at)),
        })
    }

    fn put(&mut self, row: Row) {
        let key = (row.variant_id, row.warehouse_id);
        self.rows.insert(key, row);
        self.dirty.insert(key);
    }

    fn apply(&mut self, change: &Change) -> Applied {
        let variant = change.variant();
        let before = self.stock_of(variant);
        let applied = self.apply_rows(change);
        if applied == Applied::Changed {
            let after = self.stock_of(variant);
            self.history.entry(variant).or_insert_with(|| vec![before]).push(after);
        }
        applied
    }

    fn apply_rows(&mut self, change: &Change) -> Applied {
        match change {
            Change::Warehouse { variant, warehouse, quantities, previous, observed_at, .. } => {
                // Stored times have microseconds; compare like with like.
                let at = observed_at.trunc_subsecs(6);
                let row = self.rows.get(&(*variant, *warehouse));
                if !supersedes(row, quantities, previous.as_ref(), at) {
                    return Applied::NotNewer;
                }
                let in_transit = row.map_or(Decimal::ZERO, |row| row.in_transit);
                self.put(Row::with(*variant, *warehouse, quantities, in_transit, at));
                Applied::Changed
            }
            Change::Variant { variant, reports, observed_at, .. } => {
                let at = observed_at.trunc_subsecs(6);
                let listed: HashSet<Uuid> = reports.iter().map(|report| report.warehouse).collect();
                let gone: Vec<Key> = self
                    .rows_of(*variant)
                    .filter(|row| row.observed_at < at && !listed.contains(&row.warehouse_id))
                    .map(|row| (row.variant_id, row.warehouse_id))
                    .collect();
                let mut changed = !gone.is_empty();
                for key in gone {
                    self.rows.remove(&key);
                    self.dirty.insert(key);
                }
                for report in reports {
                    let row = self.rows.get(&(*variant, report.warehouse));
                    if !supersedes(row, &report.quantities, None, at) {
                        continue;
                    }
                    let in_transit = row.map_or(Decimal::ZERO, |row| row.in_transit);
                    let new = Row::with(*variant, report.warehouse, &report.quantities, in_transit, at);
                    changed |= row.is_none_or(|row| Row { observed_at: at, ..*row } != new);
                    self.put(new);
                }
                if changed { Applied::Changed } else { Applied::NotNewer }
            }
        }
    }

    /// One upsert for the rows written, one delete for those removed.
    async fn write(&self, conn: &mut PgConn, variants: &HashMap<VariantId, Variant>) -> Result<()> {
        let org_of = |variant: &VariantId| variants[variant].organization_id;
        let (written, removed): (Vec<&Key>, Vec<&Key>) =
            self.dirty.iter().partition(|key| self.rows.contains_key(*key));
        if !written.is_empty() {
            let rows: Vec<&Row> = written.iter().map(|key| &self.rows[key]).collect();
            let column = |f: fn(&Row) -> Decimal| rows.iter().map(|row| f(row)).collect::<Vec<Decimal>>();
            diesel::sql_query(
                "INSERT INTO variant_stock \
                     (organization_id, variant_id, warehouse_id, total, available, reserved, damaged, in_transit, observed_at) \
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[], $5::numeric[], \
                                      $6::numeric[], $7::numeric[], $8::numeric[], $9::timestamptz[]) \
                 ON CONFLICT (organization_id, variant_id, warehouse_id) DO UPDATE \
                     SET total = excluded.total, available = excluded.available, reserved = excluded.reserved, \
                         damaged = excluded.damaged, in_transit = excluded.in_transit, \
                         observed_at = excluded.observed_at, applied_at = now()",
            )
            .bind::<Array<SqlUuid>, _>(rows.iter().map(|row| org_of(&row.variant_id)).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(rows.iter().map(|row| row.variant_id).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(rows.iter().map(|row| row.warehouse_id).collect::<Vec<_>>())
            .bind::<Array<Numeric>, _>(column(|row| row.total))
            .bind::<Array<Numeric>, _>(column(|row| row.available))
            .bind::<Array<Numeric>, _>(column(|row| row.reserved))
            .bind::<Array<Numeric>, _>(column(|row| row.damaged))
            .bind::<Array<Numeric>, _>(column(|row| row.in_transit))
            .bind::<Array<Timestamptz>, _>(rows.iter().map(|row| row.observed_at).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        }
        let removed: Vec<&Key> = removed.into_iter().filter(|key| self.held.contains(*key)).collect();
        if !removed.is_empty() {
            diesel::sql_query(
                "DELETE FROM variant_stock s USING unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS gone(o, v, w) \
                 WHERE s.organization_id = gone.o AND s.variant_id = gone.v AND s.warehouse_id = gone.w",
            )
            .bind::<Array<SqlUuid>, _>(removed.iter().map(|(variant, _)| org_of(variant)).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(removed.iter().map(|(variant, _)| *variant).collect::<Vec<_>>())
            .bind::<Array<SqlUuid>, _>(removed.iter().map(|(_, warehouse)| *warehouse).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

/// `catalog.variant.stock_updated` each time a change took a variant's stock (over all
/// warehouses) across its alert level or to zero — either way; one outbox append per
/// organization.
async fn announce_crossings(conn: &mut PgConn, model: &Model, variants: &HashMap<VariantId, Variant>) -> Result<()> {
    let mut changed: Vec<&Variant> = model.history.keys().map(|id| &variants[id]).collect();
    if changed.is_empty() {
        return Ok(());
    }
    changed.sort_unstable_by_key(|variant| variant.id);
    let product_ids: Vec<ProductId> = changed.iter().map(|variant| variant.product_id).collect();
    let organizations: Vec<OrganizationId> = changed.iter().map(|variant| variant.organization_id).collect();
    let thresholds: HashMap<(OrganizationId, ProductId), i32> = products::table
        .filter(products::organization_id.eq_any(&organizations))
        .filter(products::id.eq_any(&product_ids))
        .select((products::organization_id, products::id, products::alert_stock))
        .load::<(OrganizationId, ProductId, i32)>(conn)
        .await?
        .into_iter()
        .map(|(org, product, threshold)| ((org, product), threshold))
        .collect();
    let mut drafts: BTreeMap<OrganizationId, Vec<_>> = BTreeMap::new();
    for variant in changed {
        let Some(&threshold) = thresholds.get(&(variant.organization_id, variant.product_id)) else { continue };
        let state = |stock: &VariantStock| (stock.below(threshold), stock.is_out());
        for pair in model.history[&variant.id].windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            if state(before) != state(after) {
                let event = crate::repo::published::variant_stock_updated(variant, threshold, before, after);
                drafts.entry(variant.organization_id).or_default().push(event);
            }
        }
    }
    for (org, events) in drafts {
        crate::repo::outbox::append(conn, org, &Actor::system(), events).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn quantities(total: i64, available: i64) -> Quantities {
        Quantities { total: total.into(), available: available.into(), ..Quantities::default() }
    }

    fn row(q: Quantities, at: DateTime<Utc>) -> Row {
        Row::with(VariantId(Uuid::nil()), Uuid::nil(), &q, Decimal::ZERO, at)
    }

    #[test]
    fn newer_applies_older_and_equal_do_not() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        let held = row(quantities(10, 8), at);
        let later = at + chrono::Duration::seconds(1);
        assert!(supersedes(None, &quantities(1, 1), None, at));
        assert!(supersedes(Some(&held), &quantities(9, 7), None, later));
        assert!(!supersedes(Some(&held), &quantities(9, 7), None, at - chrono::Duration::seconds(1)));
        assert!(!supersedes(Some(&held), &quantities(9, 7), None, at), "a tie without a chain is a redelivery");
    }

    #[test]
    fn a_tie_applies_only_as_the_movement_that_follows_the_row() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        let held = row(quantities(10, 8), at);
        assert!(supersedes(Some(&held), &quantities(9, 7), Some(&quantities(10, 8)), at));
        assert!(!supersedes(Some(&held), &quantities(9, 7), Some(&quantities(11, 9)), at));
        // The row already is the report: its redelivery changes nothing.
        assert!(!supersedes(Some(&row(quantities(9, 7), at)), &quantities(9, 7), Some(&quantities(10, 8)), at));
    }
}
