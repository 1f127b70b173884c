//! Collections: a per-organization tree (parent_id) of product groupings, many-to-many with
//! products through `collection_products`.

use super::outbox;
use super::published::{self, Aggregate, change};
use super::{ListFilter, check_version, counted_page, insert_announced, soft_delete, tenant_reads, update_versioned};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{CollectionId, OrganizationId, ProductId};
use crate::models::{ActiveStatus, Actor, Collection, CollectionChanges, NewCollection};
use crate::pagination::{Page, PageRequest};
use crate::schema::{collection_products, collections, products};
use crate::slug::slug_or_derive;
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// First key of the advisory lock that serializes re-parenting within one organization (the
/// second key is derived from the organization id).
const TREE_LOCK_CLASS: i32 = 0x0c01_1ec7;

/// A collection with its live sub-collections, each level ordered by `position`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionNode {
    pub collection: Collection,
    pub children: Vec<CollectionNode>,
}

tenant_reads!(collections, Collection, CollectionId, Entity::Collection);

/// Whether `parent` is a live collection of `org`. Takes a KEY SHARE lock on it so a
/// concurrent delete (which locks FOR UPDATE) cannot leave the new child under a deleted parent.
async fn parent_is_live(conn: &mut PgConn, org: OrganizationId, parent: CollectionId) -> Result<bool> {
    let row: Option<CollectionId> = collections::table
        .filter(collections::organization_id.eq(org))
        .filter(collections::id.eq(parent))
        .filter(collections::deleted_at.is_null())
        .select(collections::id)
        .for_key_share()
        .first(conn)
        .await
        .optional()?;
    Ok(row.is_some())
}

fn missing_parent() -> Error {
    Error::missing(Entity::Collection, "parent_id", Entity::Collection)
}

/// Creates a collection. An empty slug is derived from the name; a parent must be a live
/// collection of the same organization.
pub async fn create(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut new: NewCollection,
) -> Result<Collection> {
    new.organization_id = org;
    new.slug = slug_or_derive(Entity::Collection, &new.slug, &new.name)?;
    conn.transaction(async move |conn| {
        if let Some(parent) = new.parent_id {
            if !parent_is_live(conn, org, parent).await? {
                return Err(missing_parent());
            }
        }
        Ok(insert_announced!(conn, actor, collections, Collection, &new, published::collection_created))
    })
    .await
}

/// Keyset page of live collections. `parent`: `None` = all, `Some(None)` = roots only,
/// `Some(Some(id))` = the children of `id`.
pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    page: &PageRequest,
    parent: Option<Option<CollectionId>>,
    filter: &ListFilter,
) -> Result<Page<Collection>> {
    let filtered = || {
        let mut query = live(org);
        if let Some(pattern) = filter.pattern() {
            query = query.filter(collections::name.ilike(pattern.clone()).or(collections::description.ilike(pattern)));
        }
        if let Some(active) = filter.is_active {
            let status = if active { ActiveStatus::Active } else { ActiveStatus::Inactive };
            query = query.filter(collections::status.eq(status));
        }
        match parent {
            None => query,
            Some(None) => query.filter(collections::parent_id.is_null()),
            Some(Some(parent)) => query.filter(collections::parent_id.eq(parent)),
        }
    };
    Ok(counted_page!(conn, page, page.keyset(), filtered(), Collection::as_select(), collections::id))
}

/// The organization's whole live tree, from one query.
pub async fn tree(conn: &mut PgConn, org: OrganizationId) -> Result<Vec<CollectionNode>> {
    let rows: Vec<Collection> = live(org)
        .select(Collection::as_select())
        .order((collections::position.asc(), collections::name.asc(), collections::id.asc()))
        .load(conn)
        .await?;
    let ids: HashSet<CollectionId> = rows.iter().map(|c| c.id).collect();
    let mut by_parent: HashMap<Option<CollectionId>, Vec<Collection>> = HashMap::new();
    for row in rows {
        // A row whose parent is not live would otherwise vanish from the tree: show it as a root.
        let parent = row.parent_id.filter(|p| ids.contains(p));
        by_parent.entry(parent).or_default().push(row);
    }
    Ok(build_level(&mut by_parent, None))
}

/// Each parent's children are taken out of the map once, so every node is visited once.
fn build_level(
    by_parent: &mut HashMap<Option<CollectionId>, Vec<Collection>>,
    parent: Option<CollectionId>,
) -> Vec<CollectionNode> {
    by_parent
        .remove(&parent)
        .unwrap_or_default()
        .into_iter()
        .map(|collection| {
            let children = build_level(by_parent, Some(collection.id));
            CollectionNode { collection, children }
        })
        .collect()
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Serializes tree changes of one organization until the transaction ends.
async fn lock_tree(conn: &mut PgConn, org: OrganizationId) -> Result<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind::<Integer, _>(TREE_LOCK_CLASS)
        .bind::<SqlUuid, _>(org)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether making `parent` the parent of `id` would close a cycle, i.e. `id` is `parent` or one
/// of its ancestors. Walks up from `parent` (depth-bounded, served by the primary key); `UNION`
/// keeps the walk finite even over corrupt data.
async fn would_cycle(conn: &mut PgConn, org: OrganizationId, id: CollectionId, parent: CollectionId) -> Result<bool> {
    let flag: Flag = diesel::sql_query(
        "WITH RECURSIVE ancestors (id, parent_id) AS ( \
             SELECT id, parent_id FROM collections WHERE organization_id = $1 AND id = $2 \
             UNION \
             SELECT c.id, c.parent_id FROM collections c JOIN ancestors a ON c.id = a.parent_id \
             WHERE c.organization_id = $1 \
         ) \
         SELECT EXISTS (SELECT 1 FROM ancestors WHERE id = $3) AS flag",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<SqlUuid, _>(parent)
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await?;
    Ok(flag.flag)
}

/// Applies `changes` if the caller's `expected_version` is current. A new parent must be a
/// live collection of the organization and must not be the collection itself or one of its
/// descendants. An empty slug is re-derived from the name. A change that alters nothing keeps
/// the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: CollectionId,
    expected_version: Option<i32>,
    mut changes: CollectionChanges,
) -> Result<Collection> {
    conn.transaction(async move |conn| {
        let new_parent = changes.parent_id.flatten();
        if new_parent.is_some() {
            // Before any row lock, so every re-parent in the organization takes locks in one
            // order. Two concurrent moves (A under B, B under A) each pass a check that ignores
            // the other; holding this lock, the second one sees the first's committed edge.
            lock_tree(conn, org).await?;
        }
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        if let Some(parent) = new_parent {
            if !parent_is_live(conn, org, parent).await? {
                return Err(missing_parent());
            }
            if would_cycle(conn, org, id, parent).await? {
                return Err(circular(id, parent));
            }
        }
        if let Some(slug) = &changes.slug {
            let name = changes.name.as_deref().unwrap_or(&old.name);
            changes.slug = Some(slug_or_derive(Entity::Collection, slug, name)?);
        }
        Ok(update_versioned!(conn, actor, collections, Collection, Aggregate::Collection, old, changes))
    })
    .await
}

fn circular(id: CollectionId, parent: CollectionId) -> Error {
    Error::CircularCollection { details: json!({ "collection_id": id, "parent_id": parent }) }
}

/// What happens to a deleted collection's sub-collections and products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Refuse while it has any: 409 `COLLECTION_HAS_CHILDREN`, then `COLLECTION_HAS_PRODUCTS`.
    Refuse,
    /// Sub-collections move up to its parent; products are unlinked.
    Force,
    /// Sub-collections move under this collection, and its products are linked to it.
    ReassignTo(CollectionId),
}

/// Soft delete, with its sub-collections and product links handled as `on_delete` says (each
/// moved sub-collection and the heir get their `collection.updated`). The collection's own
/// links are removed; their ids travel in the `deleted` event.
pub async fn delete(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: CollectionId,
    on_delete: OnDelete,
) -> Result<()> {
    conn.transaction(async move |conn| {
        if matches!(on_delete, OnDelete::ReassignTo(_)) {
            lock_tree(conn, org).await?;
        }
        let collection = lock(conn, org, id).await?;
        let children = collections::table
            .filter(collections::organization_id.eq(org))
            .filter(collections::parent_id.eq(id))
            .filter(collections::deleted_at.is_null());
        // Links to live products: a soft-deleted product keeps its links but counts nowhere.
        let linked = collection_products::table
            .inner_join(products::table.on(products::id.eq(collection_products::product_id)))
            .filter(collection_products::organization_id.eq(org))
            .filter(collection_products::collection_id.eq(id))
            .filter(products::organization_id.eq(org))
            .filter(products::deleted_at.is_null());
        let mut events = Vec::new();
        let heir = match on_delete {
            OnDelete::Refuse => {
                let children_count: i64 = children.count().get_result(conn).await?;
                if children_count > 0 {
                    return Err(Error::InUse {
                        code: "COLLECTION_HAS_CHILDREN",
                        message: "the collection has sub-collections; delete with force=true or reassign_to".into(),
                        details: json!({
                            "collection_id": id,
                            "children_count": children_count,
                            "suggestion": "Delete or reassign child collections first (reassign_to, or force=true)",
                        }),
                    });
                }
                let products_count: i64 = linked.count().get_result(conn).await?;
                if products_count > 0 {
                    return Err(Error::InUse {
                        code: "COLLECTION_HAS_PRODUCTS",
                        message: "the collection has products; delete with reassign_to or force=true".into(),
                        details: json!({
                            "collection_id": id,
                            "products_count": products_count,
                            "suggestion": "Use reassign_to parameter to move products to another collection",
                        }),
                    });
                }
                None
            }
            OnDelete::Force => Some(collection.parent_id),
            OnDelete::ReassignTo(heir) => {
                if !parent_is_live(conn, org, heir).await? {
                    return Err(Error::missing(Entity::Collection, "reassign_to", Entity::Collection));
                }
                if would_cycle(conn, org, id, heir).await? {
                    return Err(circular(id, heir));
                }
                let products: Vec<ProductId> = linked.select(collection_products::product_id).load(conn).await?;
                if !products.is_empty() {
                    let heir_row = lock(conn, org, heir).await?;
                    let added = link(conn, org, heir, &products).await?;
                    if !added.is_empty() {
                        touch(conn, org, actor, &heir_row, &added, &[]).await?;
                    }
                }
                Some(Some(heir))
            }
        };
        if let Some(new_parent) = heir {
            let moved: Vec<(CollectionId, i32)> = diesel::update(children)
                .set((
                    collections::parent_id.eq(new_parent),
                    collections::version.eq(collections::version + 1),
                    collections::updated_at.eq(Utc::now()),
                ))
                .returning((collections::id, collections::version))
                .get_results(conn)
                .await?;
            events.extend(moved.into_iter().map(|(child, version)| {
                let moved = change("parent_id", Some(id), new_parent);
                published::updated(Aggregate::Collection, child, version, &moved)
            }));
        }
        let unlinked: Vec<ProductId> = diesel::delete(
            collection_products::table
                .filter(collection_products::organization_id.eq(org))
                .filter(collection_products::collection_id.eq(id)),
        )
        .returning(collection_products::product_id)
        .get_results(conn)
        .await?;
        let version = soft_delete!(conn, collections, collection);
        events.push(published::collection_deleted(id, version, &unlinked));
        outbox::append(conn, org, actor, events).await?;
        Ok(())
    })
    .await
}

/// Input order, duplicates dropped.
fn dedup(ids: &[ProductId]) -> Vec<ProductId> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Fails with a validation error on `product_ids` naming every id that is not a live product of
/// `org` (one statement).
async fn check_products(conn: &mut PgConn, org: OrganizationId, ids: &[ProductId]) -> Result<()> {
    let live: HashSet<ProductId> = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::id.eq_any(ids))
        .filter(products::deleted_at.is_null())
        .select(products::id)
        .load::<ProductId>(conn)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<String> = ids.iter().filter(|id| !live.contains(id)).map(ToString::to_string).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Validation {
        entity: Entity::Collection,
        fields: vec![FieldError::missing_because(
            "product_ids",
            Entity::Product,
            format!("no such products: {}", missing.join(", ")),
        )],
    })
}

/// Bumps the version after a link change and records it.
async fn touch(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    collection: &Collection,
    added: &[ProductId],
    removed: &[ProductId],
) -> Result<Collection> {
    let updated: Collection = diesel::update(collections::table)
        .filter(collections::organization_id.eq(org))
        .filter(collections::id.eq(collection.id))
        .set((collections::version.eq(collection.version + 1), collections::updated_at.eq(Utc::now())))
        .returning(Collection::as_returning())
        .get_result(conn)
        .await?;
    let products_count: i64 = collection_products::table
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::collection_id.eq(updated.id))
        .count()
        .get_result(conn)
        .await?;
    let events = published::collection_products_changed(updated.id, updated.version, added, removed, products_count);
    outbox::append(conn, org, actor, events).await?;
    Ok(updated)
}

/// Links `ids` (live products) that are not linked yet; returns the ones it linked.
async fn link(
    conn: &mut PgConn,
    org: OrganizationId,
    collection_id: CollectionId,
    ids: &[ProductId],
) -> Result<Vec<ProductId>> {
    let rows: Vec<_> = ids
        .iter()
        .map(|product_id| {
            (
                collection_products::organization_id.eq(org),
                collection_products::collection_id.eq(collection_id),
                collection_products::product_id.eq(*product_id),
            )
        })
        .collect();
    Ok(diesel::insert_into(collection_products::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(collection_products::product_id)
        .get_results(conn)
        .await?)
}

/// Links products to the collection; already linked ones are left alone. Every id must be a
/// live product of the organization. Returns the collection, whose version moved only if a
/// link was actually added.
pub async fn add_products(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    collection_id: CollectionId,
    product_ids: &[ProductId],
) -> Result<Collection> {
    Ok(add_products_reporting(conn, org, actor, collection_id, product_ids).await?.0)
}

/// [`add_products`], also answering which products it linked.
pub async fn add_products_reporting(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    collection_id: CollectionId,
    product_ids: &[ProductId],
) -> Result<(Collection, Vec<ProductId>)> {
    let ids = dedup(product_ids);
    conn.transaction(async move |conn| {
        let collection = lock(conn, org, collection_id).await?;
        if ids.is_empty() {
            return Ok((collection, Vec::new()));
        }
        check_products(conn, org, &ids).await?;
        let added = link(conn, org, collection_id, &ids).await?;
        if added.is_empty() {
            return Ok((collection, added));
        }
        Ok((touch(conn, org, actor, &collection, &added, &[]).await?, added))
    })
    .await
}

/// Unlinks products from the collection; ids not linked are ignored. Every id must be a live
/// product of the organization. The version moves only if a link was actually removed.
pub async fn remove_products(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    collection_id: CollectionId,
    product_ids: &[ProductId],
) -> Result<Collection> {
    Ok(remove_products_reporting(conn, org, actor, collection_id, product_ids).await?.0)
}

/// [`remove_products`], also answering which products it unlinked.
pub async fn remove_products_reporting(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    collection_id: CollectionId,
    product_ids: &[ProductId],
) -> Result<(Collection, Vec<ProductId>)> {
    let ids = dedup(product_ids);
    conn.transaction(async move |conn| {
        let collection = lock(conn, org, collection_id).await?;
        if ids.is_empty() {
            return Ok((collection, Vec::new()));
        }
        check_products(conn, org, &ids).await?;
        let removed: Vec<ProductId> = diesel::delete(
            collection_products::table
                .filter(collection_products::organization_id.eq(org))
                .filter(collection_products::collection_id.eq(collection_id))
                .filter(collection_products::product_id.eq_any(&ids)),
        )
        .returning(collection_products::product_id)
        .get_results(conn)
        .await?;
        if removed.is_empty() {
            return Ok((collection, removed));
        }
        Ok((touch(conn, org, actor, &collection, &[], &removed).await?, removed))
    })
    .await
}

/// Makes `wanted` the product's whole set of collections: links the missing ones and unlinks
/// the others, one `collection.updated` per collection whose members changed. An unknown
/// collection is a validation error on `collection_ids`.
pub async fn set_for_product(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    wanted: &[CollectionId],
) -> Result<()> {
    let wanted: HashSet<CollectionId> = wanted.iter().copied().collect();
    conn.transaction(async move |conn| {
        let current: HashSet<CollectionId> = collection_products::table
            .filter(collection_products::organization_id.eq(org))
            .filter(collection_products::product_id.eq(product_id))
            .select(collection_products::collection_id)
            .load::<CollectionId>(conn)
            .await?
            .into_iter()
            .collect();
        // Sorted, so concurrent calls lock collections in one order.
        let mut added: Vec<CollectionId> = wanted.difference(&current).copied().collect();
        let mut removed: Vec<CollectionId> = current.difference(&wanted).copied().collect();
        added.sort();
        removed.sort();
        for collection_id in added {
            add_products(conn, org, actor, collection_id, &[product_id]).await.map_err(|err| match err {
                Error::NotFound(Entity::Collection) => {
                    Error::missing(Entity::Product, "collection_ids", Entity::Collection)
                }
                other => other,
            })?;
        }
        for collection_id in removed {
            match remove_products(conn, org, actor, collection_id, &[product_id]).await {
                // A link to a collection deleted meanwhile has nothing left to remove.
                Ok(_) | Err(Error::NotFound(Entity::Collection)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    })
    .await
}

/// Live products and live sub-collections per collection, in two statements.
pub async fn counts(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: &[CollectionId],
) -> Result<HashMap<CollectionId, (i64, i64)>> {
    let products_per: Vec<(CollectionId, i64)> = collection_products::table
        .inner_join(products::table.on(products::id.eq(collection_products::product_id)))
        .filter(collection_products::organization_id.eq(org))
        .filter(products::organization_id.eq(org))
        .filter(products::deleted_at.is_null())
        .filter(collection_products::collection_id.eq_any(ids))
        .group_by(collection_products::collection_id)
        .select((collection_products::collection_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let children_per: Vec<(Option<CollectionId>, i64)> = collections::table
        .filter(collections::organization_id.eq(org))
        .filter(collections::deleted_at.is_null())
        .filter(collections::parent_id.eq_any(ids))
        .group_by(collections::parent_id)
        .select((collections::parent_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let mut out: HashMap<CollectionId, (i64, i64)> = HashMap::new();
    for (id, n) in products_per {
        out.entry(id).or_default().0 = n;
    }
    for (id, n) in children_per {
        if let Some(id) = id {
            out.entry(id).or_default().1 = n;
        }
    }
    Ok(out)
}

/// The live collections of each product, as (product, collection) pairs ordered by product
/// then collection position; one statement for any number of products.
pub async fn list_for_products(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<(ProductId, Collection)>> {
    Ok(collection_products::table
        .inner_join(collections::table)
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::product_id.eq_any(product_ids))
        .filter(collections::organization_id.eq(org))
        .filter(collections::deleted_at.is_null())
        .order((
            collection_products::product_id.asc(),
            collections::position.asc(),
            collections::name.asc(),
            collections::id.asc(),
        ))
        .select((collection_products::product_id, Collection::as_select()))
        .load(conn)
        .await?)
}

/// Keyset page of the ids of the collection's live products, in product id order.
pub async fn product_ids(
    conn: &mut PgConn,
    org: OrganizationId,
    collection_id: CollectionId,
    page: &PageRequest,
) -> Result<Page<ProductId>> {
    let mut query = collection_products::table
        .inner_join(collections::table)
        .inner_join(products::table)
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::collection_id.eq(collection_id))
        .filter(collections::organization_id.eq(org))
        .filter(collections::deleted_at.is_null())
        .filter(products::organization_id.eq(org))
        .filter(products::deleted_at.is_null())
        .select(collection_products::product_id)
        .limit(page.fetch_limit())
        .into_boxed();
    query = page.keyset().apply(query, collection_products::product_id);
    let rows: Vec<ProductId> = query.load(conn).await?;
    // An empty page needs one more look to tell "no products" from "no such collection".
    if rows.is_empty() && find(conn, org, collection_id).await?.is_none() {
        return Err(Error::NotFound(Entity::Collection));
    }
    Ok(Page::from_rows(rows, page))
}
