//! Volume price tiers: a tier holds rules "from `min_qty` units, this unit price" per variant.
//! Rules belong to their tier's aggregate: a rule change bumps the tier's version and publishes
//! `catalog.price_tier.updated`. [`calculate_price`] is the pure rule that turns a variant's
//! price, tax rate and rules into a quote.

use super::outbox;
use super::published::{self, Aggregate, RuleChange};
use super::{
    changed_fields, check_version, counted_page, found, insert_announced, soft_delete, tenant_reads, update_versioned,
};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{OrganizationId, PriceTierId, PriceTierRuleId, VariantId};
use crate::models::{
    Actor, NewPriceTier, NewPriceTierRule, PriceTier, PriceTierChanges, PriceTierRule, PriceTierRuleChanges,
};
use crate::pagination::{Page, PageRequest};
use crate::schema::{price_tier_rules, price_tiers, product_variants};
use crate::slug::slug_or_derive;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::json;

// Rule changes take the tier's lock too, so they serialize with each other and with the tier's
// own updates.
tenant_reads!(price_tiers, PriceTier, PriceTierId, Entity::PriceTier);

/// Creates a tier; an empty slug is derived from the name. Names are unique per organization
/// regardless of case (409 `PRICE_TIER_NAME_EXISTS`).
pub async fn create(conn: &mut PgConn, org: OrganizationId, actor: &Actor, mut new: NewPriceTier) -> Result<PriceTier> {
    new.organization_id = org;
    new.slug = slug_or_derive(Entity::PriceTier, &new.slug, &new.name)?;
    conn.transaction(async move |conn| {
        Ok(insert_announced!(conn, actor, price_tiers, PriceTier, &new, published::price_tier_created))
    })
    .await
}

/// The organization's live tiers that pass `filter`.
fn filtered(org: OrganizationId, filter: &super::ListFilter) -> price_tiers::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = live(org);
    if let Some(pattern) = filter.pattern() {
        query = query.filter(price_tiers::name.ilike(pattern.clone()).or(price_tiers::description.ilike(pattern)));
    }
    if let Some(active) = filter.is_active {
        query = query.filter(price_tiers::is_active.eq(active));
    }
    query
}

/// A keyset page of the tiers that pass `filter`, with their total.
pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    filter: &super::ListFilter,
    page: &PageRequest,
) -> Result<Page<PriceTier>> {
    Ok(counted_page!(conn, page, page.keyset(), filtered(org, filter), PriceTier::as_select(), price_tiers::id))
}

/// A keyset page (by rule id) of the tier's rules for live variants, optionally for one
/// variant. A missing tier is a 404.
pub async fn rules_page(
    conn: &mut PgConn,
    org: OrganizationId,
    tier_id: PriceTierId,
    variant_id: Option<VariantId>,
    page: &PageRequest,
) -> Result<Page<PriceTierRule>> {
    get(conn, org, tier_id).await?;
    let filtered = || {
        let mut query = price_tier_rules::table
            .inner_join(product_variants::table)
            .filter(price_tier_rules::organization_id.eq(org))
            .filter(price_tier_rules::price_tier_id.eq(tier_id))
            .filter(product_variants::organization_id.eq(org))
            .filter(product_variants::deleted_at.is_null())
            .into_boxed();
        if let Some(variant_id) = variant_id {
            query = query.filter(price_tier_rules::variant_id.eq(variant_id));
        }
        query
    };
    Ok(counted_page!(conn, page, page.keyset(), filtered(), PriceTierRule::as_select(), price_tier_rules::id))
}

/// Rules per tier (for live variants), in one statement; tiers without rules are absent.
pub async fn rule_counts(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: &[PriceTierId],
) -> Result<std::collections::HashMap<PriceTierId, i64>> {
    let rows: Vec<(PriceTierId, i64)> = price_tier_rules::table
        .inner_join(product_variants::table)
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::deleted_at.is_null())
        .filter(price_tier_rules::price_tier_id.eq_any(ids))
        .group_by(price_tier_rules::price_tier_id)
        .select((price_tier_rules::price_tier_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Applies `changes` if the caller's `expected_version` is current. An empty slug is re-derived
/// from the name. A change that alters nothing keeps the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: PriceTierId,
    expected_version: Option<i32>,
    mut changes: PriceTierChanges,
) -> Result<PriceTier> {
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        if let Some(slug) = &changes.slug {
            let name = changes.name.as_deref().unwrap_or(&old.name);
            changes.slug = Some(slug_or_derive(Entity::PriceTier, slug, name)?);
        }
        Ok(update_versioned!(conn, actor, price_tiers, PriceTier, Aggregate::PriceTier, old, changes))
    })
    .await
}

/// Soft delete. A tier with rules is refused (409 `PRICE_TIER_HAS_RULES`) unless `force`, which
/// deletes the rules too; the affected variant ids travel in the `deleted` event.
pub async fn delete(conn: &mut PgConn, org: OrganizationId, actor: &Actor, id: PriceTierId, force: bool) -> Result<()> {
    conn.transaction(async move |conn| {
        let tier = lock(conn, org, id).await?;
        let rules = price_tier_rules::table
            .filter(price_tier_rules::organization_id.eq(org))
            .filter(price_tier_rules::price_tier_id.eq(id));
        let mut variant_ids: Vec<VariantId> = Vec::new();
        if force {
            variant_ids = diesel::delete(rules).returning(price_tier_rules::variant_id).get_results(conn).await?;
            variant_ids.sort();
            variant_ids.dedup();
        } else {
            let rules_count: i64 = rules.count().get_result(conn).await?;
            if rules_count > 0 {
                return Err(Error::InUse {
                    code: "PRICE_TIER_HAS_RULES",
                    message: "the price tier has rules; delete with force=true to delete them too".into(),
                    details: json!({
                        "price_tier_id": id,
                        "rules_count": rules_count,
                        "suggestion": "Use force=true parameter to delete the tier and its rules",
                    }),
                });
            }
        }
        let version = soft_delete!(conn, price_tiers, tier);
        let event = published::price_tier_deleted(id, version, &variant_ids);
        outbox::append(conn, org, actor, vec![event]).await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Largest value `numeric(12,2)` holds, plus one cent.
const PRICE_LIMIT: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0); // 10_000_000_000

fn check_min_qty(min_qty: i32, fields: &mut Vec<FieldError>) {
    if min_qty <= 0 {
        fields.push(FieldError::new("min_qty", "must be greater than 0"));
    }
}

fn check_price(price: Decimal, fields: &mut Vec<FieldError>) {
    if price <= Decimal::ZERO {
        fields.push(FieldError::new("price", "must be greater than 0"));
    } else if price.normalize().scale() > 2 {
        fields.push(FieldError::new("price", "must have at most 2 decimal places"));
    } else if price >= PRICE_LIMIT {
        fields.push(FieldError::new("price", "is too large"));
    }
}

fn invalid_rule(fields: Vec<FieldError>) -> Result<()> {
    if fields.is_empty() { Ok(()) } else { Err(Error::validation(Entity::PriceTierRule, fields)) }
}

/// Whether `variant` is a live variant of `org`.
async fn variant_is_live(conn: &mut PgConn, org: OrganizationId, variant: VariantId) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        product_variants::table
            .filter(product_variants::organization_id.eq(org))
            .filter(product_variants::id.eq(variant))
            .filter(product_variants::deleted_at.is_null()),
    ))
    .get_result(conn)
    .await?)
}

/// The rule of the (already locked) tier, locked.
async fn lock_rule(
    conn: &mut PgConn,
    org: OrganizationId,
    tier_id: PriceTierId,
    rule_id: PriceTierRuleId,
) -> Result<PriceTierRule> {
    let row = price_tier_rules::table
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(price_tier_rules::price_tier_id.eq(tier_id))
        .filter(price_tier_rules::id.eq(rule_id))
        .select(PriceTierRule::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    found(row, Entity::PriceTierRule)
}

/// Bumps the tier's version for a rule change and records it.
async fn touch_tier(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    tier: &PriceTier,
    change: RuleChange<'_>,
) -> Result<()> {
    let version = tier.version + 1;
    diesel::update(price_tiers::table)
        .filter(price_tiers::organization_id.eq(org))
        .filter(price_tiers::id.eq(tier.id))
        .set((price_tiers::version.eq(version), price_tiers::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    outbox::append(conn, org, actor, published::price_tier_rule_changed(version, change)).await
}

/// Adds a rule to a live tier. The variant must be a live variant of the organization;
/// `min_qty` and `price` must be positive; a second rule for the same (tier, variant, min_qty)
/// is a 409 `PRICE_TIER_RULE_EXISTS`.
pub async fn add_rule(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    tier_id: PriceTierId,
    mut new: NewPriceTierRule,
) -> Result<PriceTierRule> {
    new.organization_id = org;
    new.price_tier_id = tier_id;
    conn.transaction(async move |conn| {
        let tier = lock(conn, org, tier_id).await?;
        let mut fields = Vec::new();
        if !variant_is_live(conn, org, new.variant_id).await? {
            fields.push(FieldError::missing("variant_id", Entity::Variant));
        }
        check_min_qty(new.min_qty, &mut fields);
        check_price(new.price, &mut fields);
        invalid_rule(fields)?;
        let rule: PriceTierRule = diesel::insert_into(price_tier_rules::table)
            .values(&new)
            .returning(PriceTierRule::as_returning())
            .get_result(conn)
            .await?;
        touch_tier(conn, org, actor, &tier, RuleChange::Created(&rule)).await?;
        Ok(rule)
    })
    .await
}

/// The rule of a live tier.
pub async fn get_rule(
    conn: &mut PgConn,
    org: OrganizationId,
    tier_id: PriceTierId,
    rule_id: PriceTierRuleId,
) -> Result<PriceTierRule> {
    let row = price_tier_rules::table
        .inner_join(price_tiers::table)
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(price_tier_rules::id.eq(rule_id))
        .filter(price_tier_rules::price_tier_id.eq(tier_id))
        .filter(price_tiers::organization_id.eq(org))
        .filter(price_tiers::deleted_at.is_null())
        .select(PriceTierRule::as_select())
        .first(conn)
        .await
        .optional()?;
    found(row, Entity::PriceTierRule)
}

/// Changes a rule's `min_qty` and/or `price`. Rules have no version of their own:
/// `expected_tier_version` guards against the tier (and so any of its rules) having changed.
/// A change that alters nothing keeps the tier's version and publishes nothing.
pub async fn update_rule(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    tier_id: PriceTierId,
    rule_id: PriceTierRuleId,
    expected_tier_version: Option<i32>,
    changes: PriceTierRuleChanges,
) -> Result<PriceTierRule> {
    let mut fields = Vec::new();
    if let Some(min_qty) = changes.min_qty {
        check_min_qty(min_qty, &mut fields);
    }
    if let Some(price) = changes.price {
        check_price(price, &mut fields);
    }
    invalid_rule(fields)?;
    conn.transaction(async move |conn| {
        let tier = lock(conn, org, tier_id).await?;
        check_version(expected_tier_version, tier.version)?;
        let old = lock_rule(conn, org, tier_id, rule_id).await?;
        let same_qty = changes.min_qty.is_none_or(|q| q == old.min_qty);
        let same_price = changes.price.is_none_or(|p| p == old.price);
        if same_qty && same_price {
            return Ok(old);
        }
        let new: PriceTierRule = diesel::update(price_tier_rules::table)
            .filter(price_tier_rules::organization_id.eq(org))
            .filter(price_tier_rules::id.eq(rule_id))
            .set((changes, price_tier_rules::updated_at.eq(Utc::now())))
            .returning(PriceTierRule::as_returning())
            .get_result(conn)
            .await?;
        let rule_changes = changed_fields(&old, &new);
        touch_tier(conn, org, actor, &tier, RuleChange::Updated(&new, &rule_changes)).await?;
        Ok(new)
    })
    .await
}

/// Deletes a rule (hard delete: rules have no history of their own; the event keeps it).
pub async fn delete_rule(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    tier_id: PriceTierId,
    rule_id: PriceTierRuleId,
    expected_tier_version: Option<i32>,
) -> Result<()> {
    conn.transaction(async move |conn| {
        let tier = lock(conn, org, tier_id).await?;
        check_version(expected_tier_version, tier.version)?;
        let rule: Option<PriceTierRule> = diesel::delete(
            price_tier_rules::table
                .filter(price_tier_rules::organization_id.eq(org))
                .filter(price_tier_rules::price_tier_id.eq(tier_id))
                .filter(price_tier_rules::id.eq(rule_id)),
        )
        .returning(PriceTierRule::as_returning())
        .get_result(conn)
        .await
        .optional()?;
        let rule = found(rule, Entity::PriceTierRule)?;
        touch_tier(conn, org, actor, &tier, RuleChange::Deleted(&rule)).await
    })
    .await
}

/// The rules of a live tier for live variants, by variant then `min_qty`.
pub async fn list_rules(conn: &mut PgConn, org: OrganizationId, tier_id: PriceTierId) -> Result<Vec<PriceTierRule>> {
    let rules: Vec<PriceTierRule> = price_tier_rules::table
        .inner_join(price_tiers::table)
        .inner_join(product_variants::table)
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(price_tier_rules::price_tier_id.eq(tier_id))
        .filter(price_tiers::organization_id.eq(org))
        .filter(price_tiers::deleted_at.is_null())
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::deleted_at.is_null())
        .order((price_tier_rules::variant_id.asc(), price_tier_rules::min_qty.asc()))
        .select(PriceTierRule::as_select())
        .load(conn)
        .await?;
    // An empty list needs one more look to tell "no rules" from "no such tier".
    if rules.is_empty() && find(conn, org, tier_id).await?.is_none() {
        return Err(Error::NotFound(Entity::PriceTier));
    }
    Ok(rules)
}

/// Every active tier's rules for the variants, by tier priority then `min_qty`; one statement.
pub async fn tier_rules_for_variants(
    conn: &mut PgConn,
    org: OrganizationId,
    variant_ids: &[VariantId],
) -> Result<Vec<(PriceTier, PriceTierRule)>> {
    Ok(price_tier_rules::table
        .inner_join(price_tiers::table)
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(price_tier_rules::variant_id.eq_any(variant_ids))
        .filter(price_tiers::organization_id.eq(org))
        .filter(price_tiers::deleted_at.is_null())
        .filter(price_tiers::is_active.eq(true))
        .order((price_tiers::priority.asc(), price_tiers::id.asc(), price_tier_rules::min_qty.asc()))
        .select((PriceTier::as_select(), PriceTierRule::as_select()))
        .load(conn)
        .await?)
}

/// The tier and rules that price `variant_id`, rules sorted by `min_qty`.
///
/// With `tier_id`, that tier (404 when missing, 400 on `price_tier_id` when inactive) and its
/// rules for the variant, possibly none. Without, the active tier of highest priority (lowest
/// `priority`, then oldest) that has rules for the variant, or `None`. At most two statements.
pub async fn rules_for_variant(
    conn: &mut PgConn,
    org: OrganizationId,
    variant_id: VariantId,
    tier_id: Option<PriceTierId>,
) -> Result<Option<(PriceTier, Vec<PriceTierRule>)>> {
    let rules_of_variant = price_tier_rules::table
        .filter(price_tier_rules::organization_id.eq(org))
        .filter(price_tier_rules::variant_id.eq(variant_id));
    if let Some(tier_id) = tier_id {
        let tier = get(conn, org, tier_id).await?;
        if !tier.is_active {
            return Err(Error::field(Entity::PriceTier, "price_tier_id", "the price tier is not active"));
        }
        let rules = rules_of_variant
            .filter(price_tier_rules::price_tier_id.eq(tier_id))
            .order(price_tier_rules::min_qty.asc())
            .select(PriceTierRule::as_select())
            .load(conn)
            .await?;
        return Ok(Some((tier, rules)));
    }
    // Every active tier's rules for this one variant (a handful of rows), best tier first; the
    // first tier's rows are the answer.
    let rows: Vec<(PriceTier, PriceTierRule)> = rules_of_variant
        .inner_join(price_tiers::table)
        .filter(price_tiers::organization_id.eq(org))
        .filter(price_tiers::deleted_at.is_null())
        .filter(price_tiers::is_active.eq(true))
        .order((price_tiers::priority.asc(), price_tiers::id.asc(), price_tier_rules::min_qty.asc()))
        .select((PriceTier::as_select(), PriceTierRule::as_select()))
        .load(conn)
        .await?;
    let mut rows = rows.into_iter();
    let Some((tier, first)) = rows.next() else { return Ok(None) };
    let mut rules = vec![first];
    rules.extend(rows.take_while(|(t, _)| t.id == tier.id).map(|(_, rule)| rule));
    Ok(Some((tier, rules)))
}
