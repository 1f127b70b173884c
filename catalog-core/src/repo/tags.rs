//! Tags and their links to products (`product_tags`).
//!
//! Linking and unlinking is a change to the product: it bumps the product's `version` and
//! publishes `catalog.product.updated` with `{"tag_ids": {old, new}}`, but only when the set of
//! live tags actually changed.

use super::outbox;
use super::published::{self, Aggregate, EventDraft, change};
use super::{
    ListFilter, check_version, counted_page, found, insert_announced, soft_delete, tenant_reads, update_versioned,
};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{OrganizationId, ProductId, TagId};
use crate::models::{Actor, NewTag, Tag, TagChanges, TagType};
use crate::pagination::{Page, PageRequest};
use crate::schema::{product_tags, products, tags};
use crate::slug::slug_or_derive;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

tenant_reads!(tags, Tag, TagId, Entity::Tag);

/// Creates a tag; an empty slug is derived from the name. A live tag of the organization with
/// the same name (case-insensitively) is 409 `TAG_NAME_EXISTS`; the same slug `TAG_SLUG_EXISTS`.
pub async fn create(conn: &mut PgConn, org: OrganizationId, actor: &Actor, mut new: NewTag) -> Result<Tag> {
    new.organization_id = org;
    if new.slug.trim().is_empty() {
        new.slug = slug_or_derive(Entity::Tag, "", &new.name)?;
    }
    conn.transaction(async move |conn| Ok(insert_announced!(conn, actor, tags, Tag, &new, published::tag_created)))
        .await
}

/// A page of the organization's tags, optionally of one type and matching `search` by name
/// (tags have no active flag: `filter.is_active` is not applied).
pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    page: &PageRequest,
    tag_type: Option<TagType>,
    filter: &ListFilter,
) -> Result<Page<Tag>> {
    let filtered = || {
        let mut query = live(org);
        if let Some(pattern) = filter.pattern() {
            query = query.filter(tags::name.ilike(pattern));
        }
        if let Some(tag_type) = tag_type {
            query = query.filter(tags::tag_type.eq(tag_type));
        }
        query
    };
    Ok(counted_page!(conn, page, page.keyset(), filtered(), Tag::as_select(), tags::id))
}

/// Applies `changes` if the caller's `expected_version` is current; an empty slug is derived
/// from the (new) name. A change that alters nothing keeps the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: TagId,
    expected_version: Option<i32>,
    mut changes: TagChanges,
) -> Result<Tag> {
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        if changes.slug.as_deref().is_some_and(|s| s.trim().is_empty()) {
            changes.slug = Some(slug_or_derive(Entity::Tag, "", changes.name.as_deref().unwrap_or(&old.name))?);
        }
        Ok(update_versioned!(conn, actor, tags, Tag, Aggregate::Tag, old, changes))
    })
    .await
}

/// Soft delete. A tag linked to live products is refused (409 `TAG_HAS_PRODUCTS`) unless
/// `force`, which unlinks it (each product gets its `product.updated` event).
pub async fn delete(conn: &mut PgConn, org: OrganizationId, actor: &Actor, id: TagId, force: bool) -> Result<()> {
    conn.transaction(async move |conn| {
        let tag = lock(conn, org, id).await?;
        let linked: Vec<ProductId> = product_tags::table
            .inner_join(products::table)
            .filter(product_tags::organization_id.eq(org))
            .filter(products::organization_id.eq(org))
            .filter(products::deleted_at.is_null())
            .filter(product_tags::tag_id.eq(id))
            .select(product_tags::product_id)
            .load(conn)
            .await?;
        if !linked.is_empty() && !force {
            return Err(Error::InUse {
                code: "TAG_HAS_PRODUCTS",
                message: "the tag is linked to products; delete with force=true to unlink it".into(),
                details: json!({
                    "tag_id": id,
                    "products_count": linked.len(),
                    "suggestion": "Use force=true parameter to unlink the tag from its products",
                }),
            });
        }
        let mut events = Vec::new();
        if !linked.is_empty() {
            // Bumping first locks the products, so their tag sets cannot move under us.
            let versions = bump_products(conn, org, &linked).await?;
            let mut before: BTreeMap<ProductId, Vec<TagId>> = BTreeMap::new();
            for (product_id, tag_id) in live_links(conn, org, &linked).await? {
                before.entry(product_id).or_default().push(tag_id);
            }
            events.extend(versions.into_iter().flat_map(|(product_id, version)| {
                let old = before.remove(&product_id).unwrap_or_default();
                let new: Vec<TagId> = old.iter().copied().filter(|t| *t != id).collect();
                product_events(product_id, version, &old, &new)
            }));
        }
        // Links from deleted products go too: nothing keeps pointing at a deleted tag.
        diesel::delete(
            product_tags::table.filter(product_tags::organization_id.eq(org)).filter(product_tags::tag_id.eq(id)),
        )
        .execute(conn)
        .await?;
        let version = soft_delete!(conn, tags, tag);
        events.push(published::deleted(Aggregate::Tag, id, version));
        outbox::append(conn, org, actor, events).await?;
        Ok(())
    })
    .await
}

/// Links tags to a product; links it already has are kept. Returns the product's tags.
pub async fn add_to_product(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    tag_ids: &[TagId],
) -> Result<Vec<Tag>> {
    Ok(add_to_product_counted(conn, org, actor, product_id, tag_ids).await?.0)
}

/// [`add_to_product`], also answering how many links it added.
pub async fn add_to_product_counted(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    tag_ids: &[TagId],
) -> Result<(Vec<Tag>, usize)> {
    let wanted: BTreeSet<TagId> = tag_ids.iter().copied().collect();
    conn.transaction(async move |conn| {
        lock_product(conn, org, product_id).await?;
        check_tags(conn, org, &wanted).await?;
        let old = product_tag_ids(conn, org, product_id).await?;
        let rows: Vec<_> = wanted
            .iter()
            .map(|tag_id| {
                (
                    product_tags::organization_id.eq(org),
                    product_tags::product_id.eq(product_id),
                    product_tags::tag_id.eq(*tag_id),
                )
            })
            .collect();
        let inserted = if rows.is_empty() {
            0
        } else {
            diesel::insert_into(product_tags::table).values(&rows).on_conflict_do_nothing().execute(conn).await?
        };
        if inserted > 0 {
            let new: BTreeSet<TagId> = old.union(&wanted).copied().collect();
            record_product_change(conn, org, actor, product_id, &old, &new).await?;
        }
        Ok((tags_of(conn, org, product_id).await?, inserted))
    })
    .await
}

/// Unlinks tags from a product; tags it does not have are ignored. Returns the product's tags.
pub async fn remove_from_product(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    tag_ids: &[TagId],
) -> Result<Vec<Tag>> {
    Ok(remove_from_product_counted(conn, org, actor, product_id, tag_ids).await?.0)
}

/// [`remove_from_product`], also answering how many links it removed.
pub async fn remove_from_product_counted(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    tag_ids: &[TagId],
) -> Result<(Vec<Tag>, usize)> {
    let unwanted: BTreeSet<TagId> = tag_ids.iter().copied().collect();
    conn.transaction(async move |conn| {
        lock_product(conn, org, product_id).await?;
        check_tags(conn, org, &unwanted).await?;
        let old = product_tag_ids(conn, org, product_id).await?;
        let unwanted_ids: Vec<TagId> = unwanted.iter().copied().collect();
        let removed = diesel::delete(
            product_tags::table
                .filter(product_tags::organization_id.eq(org))
                .filter(product_tags::product_id.eq(product_id))
                .filter(product_tags::tag_id.eq_any(&unwanted_ids)),
        )
        .execute(conn)
        .await?;
        if removed > 0 {
            let new: BTreeSet<TagId> = old.difference(&unwanted).copied().collect();
            record_product_change(conn, org, actor, product_id, &old, &new).await?;
        }
        Ok((tags_of(conn, org, product_id).await?, removed))
    })
    .await
}

/// Makes `tag_ids` the product's whole tag set. Returns the product's tags.
pub async fn set_product_tags(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    tag_ids: &[TagId],
) -> Result<Vec<Tag>> {
    let wanted: BTreeSet<TagId> = tag_ids.iter().copied().collect();
    conn.transaction(async move |conn| {
        lock_product(conn, org, product_id).await?;
        check_tags(conn, org, &wanted).await?;
        let old = product_tag_ids(conn, org, product_id).await?;
        let keep: Vec<TagId> = wanted.iter().copied().collect();
        diesel::delete(
            product_tags::table
                .filter(product_tags::organization_id.eq(org))
                .filter(product_tags::product_id.eq(product_id))
                .filter(product_tags::tag_id.ne_all(&keep)),
        )
        .execute(conn)
        .await?;
        let rows: Vec<_> = keep
            .iter()
            .map(|tag_id| {
                (
                    product_tags::organization_id.eq(org),
                    product_tags::product_id.eq(product_id),
                    product_tags::tag_id.eq(*tag_id),
                )
            })
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(product_tags::table).values(&rows).on_conflict_do_nothing().execute(conn).await?;
        }
        if old != wanted {
            record_product_change(conn, org, actor, product_id, &old, &wanted).await?;
        }
        tags_of(conn, org, product_id).await
    })
    .await
}

/// The live tags of many products in one statement, as (product, tag) pairs ordered by
/// product then tag name.
pub async fn list_for_products(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<(ProductId, Tag)>> {
    Ok(product_tags::table
        .inner_join(tags::table)
        .filter(product_tags::organization_id.eq(org))
        .filter(tags::organization_id.eq(org))
        .filter(tags::deleted_at.is_null())
        .filter(product_tags::product_id.eq_any(product_ids))
        .order((product_tags::product_id.asc(), tags::name.asc(), tags::id.asc()))
        .select((product_tags::product_id, Tag::as_select()))
        .load(conn)
        .await?)
}

/// Live products per tag, in one statement; tags without products are absent.
pub async fn product_counts(conn: &mut PgConn, org: OrganizationId, ids: &[TagId]) -> Result<HashMap<TagId, i64>> {
    let rows: Vec<(TagId, i64)> = product_tags::table
        .inner_join(products::table)
        .filter(product_tags::organization_id.eq(org))
        .filter(products::organization_id.eq(org))
        .filter(products::deleted_at.is_null())
        .filter(product_tags::tag_id.eq_any(ids))
        .group_by(product_tags::tag_id)
        .select((product_tags::tag_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A page of the live products carrying a live tag of the organization (keyset on product id).
pub async fn product_ids_for_tag(
    conn: &mut PgConn,
    org: OrganizationId,
    tag_id: TagId,
    page: &PageRequest,
) -> Result<Page<ProductId>> {
    let tag_exists: bool = diesel::select(diesel::dsl::exists(live(org).filter(tags::id.eq(tag_id)).select(tags::id)))
        .get_result(conn)
        .await?;
    if !tag_exists {
        return Err(Error::NotFound(Entity::Tag));
    }
    let tagged = || {
        product_tags::table
            .inner_join(products::table)
            .filter(product_tags::organization_id.eq(org))
            .filter(products::organization_id.eq(org))
            .filter(products::deleted_at.is_null())
            .filter(product_tags::tag_id.eq(tag_id))
            .into_boxed()
    };
    Ok(counted_page!(conn, page, page.keyset(), tagged(), product_tags::product_id, product_tags::product_id))
}

/// Locks a live product of the organization: concurrent tag changes to one product serialize.
async fn lock_product(conn: &mut PgConn, org: OrganizationId, product_id: ProductId) -> Result<()> {
    let row: Option<ProductId> = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::id.eq(product_id))
        .filter(products::deleted_at.is_null())
        .select(products::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    found(row, Entity::Product).map(|_| ())
}

/// Every id must be a live tag of the organization; the bad ones are listed. The tags are
/// share-locked so a concurrent delete cannot slip between this check and the link.
async fn check_tags(conn: &mut PgConn, org: OrganizationId, ids: &BTreeSet<TagId>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let wanted: Vec<TagId> = ids.iter().copied().collect();
    let existing: BTreeSet<TagId> = tags::table
        .filter(tags::organization_id.eq(org))
        .filter(tags::deleted_at.is_null())
        .filter(tags::id.eq_any(&wanted))
        .select(tags::id)
        .for_share()
        .load::<TagId>(conn)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<String> = ids.difference(&existing).map(ToString::to_string).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::validation(
        Entity::Tag,
        vec![FieldError::missing_because("tag_ids", Entity::Tag, format!("unknown tags: {}", missing.join(", ")))],
    ))
}

/// The ids of the product's live tags.
async fn product_tag_ids(conn: &mut PgConn, org: OrganizationId, product_id: ProductId) -> Result<BTreeSet<TagId>> {
    Ok(live_links(conn, org, &[product_id]).await?.into_iter().map(|(_, tag_id)| tag_id).collect())
}

/// (product, live tag) links of the given products, ordered by product then tag id.
async fn live_links(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<(ProductId, TagId)>> {
    Ok(product_tags::table
        .inner_join(tags::table)
        .filter(product_tags::organization_id.eq(org))
        .filter(tags::organization_id.eq(org))
        .filter(tags::deleted_at.is_null())
        .filter(product_tags::product_id.eq_any(product_ids))
        .order((product_tags::product_id.asc(), product_tags::tag_id.asc()))
        .select((product_tags::product_id, product_tags::tag_id))
        .load(conn)
        .await?)
}

async fn tags_of(conn: &mut PgConn, org: OrganizationId, product_id: ProductId) -> Result<Vec<Tag>> {
    Ok(list_for_products(conn, org, &[product_id]).await?.into_iter().map(|(_, tag)| tag).collect())
}

async fn bump_products(conn: &mut PgConn, org: OrganizationId, ids: &[ProductId]) -> Result<Vec<(ProductId, i32)>> {
    Ok(diesel::update(products::table.filter(products::organization_id.eq(org)).filter(products::id.eq_any(ids)))
        .set((products::version.eq(products::version + 1), products::updated_at.eq(Utc::now())))
        .returning((products::id, products::version))
        .get_results(conn)
        .await?)
}

/// Bumps the product's version and publishes its `product.updated` for a changed tag set.
async fn record_product_change(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    old: &BTreeSet<TagId>,
    new: &BTreeSet<TagId>,
) -> Result<()> {
    let events: Vec<EventDraft> = bump_products(conn, org, &[product_id])
        .await?
        .into_iter()
        .flat_map(|(id, version)| {
            product_events(
                id,
                version,
                &old.iter().copied().collect::<Vec<_>>(),
                &new.iter().copied().collect::<Vec<_>>(),
            )
        })
        .collect();
    outbox::append(conn, org, actor, events).await
}

/// `catalog.product.updated` with the tag change, and page 20's finer events for it.
fn product_events(product_id: ProductId, version: i32, old: &[TagId], new: &[TagId]) -> Vec<EventDraft> {
    let updated = published::updated(Aggregate::Product, product_id, version, &change("tag_ids", old, new));
    std::iter::once(updated).chain(published::product_tags_changed(product_id, version, old, new)).collect()
}
