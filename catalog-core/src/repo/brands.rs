use super::outbox;
use super::published::{self, Aggregate, change};
use super::{ListFilter, check_version, counted_page, insert_announced, soft_delete, tenant_reads, update_versioned};
use crate::db::PgConn;
use crate::error::{Entity, Error, Result};
use crate::ids::{BrandId, OrganizationId, ProductId};
use crate::models::{ActiveStatus, Actor, Brand, BrandChanges, NewBrand};
use crate::pagination::{Page, PageRequest};
use crate::schema::{brands, products};
use crate::slug::slug_or_derive;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;
use std::collections::HashMap;

tenant_reads!(brands, Brand, BrandId, Entity::Brand);

/// Creates a brand; an empty slug is derived from the name.
pub async fn create(conn: &mut PgConn, org: OrganizationId, actor: &Actor, mut new: NewBrand) -> Result<Brand> {
    new.organization_id = org;
    new.slug = slug_or_derive(Entity::Brand, &new.slug, &new.name)?;
    conn.transaction(async move |conn| {
        Ok(insert_announced!(conn, actor, brands, Brand, &new, published::brand_created))
    })
    .await
}

/// The organization's live brands that pass `filter`.
fn filtered(org: OrganizationId, filter: &ListFilter) -> brands::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = live(org);
    if let Some(pattern) = filter.pattern() {
        query = query.filter(brands::name.ilike(pattern.clone()).or(brands::description.ilike(pattern)));
    }
    if let Some(active) = filter.is_active {
        let status = if active { ActiveStatus::Active } else { ActiveStatus::Inactive };
        query = query.filter(brands::status.eq(status));
    }
    query
}

/// A keyset page of the brands that pass `filter`, with their total.
pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    filter: &ListFilter,
    page: &PageRequest,
) -> Result<Page<Brand>> {
    Ok(counted_page!(conn, page, page.keyset(), filtered(org, filter), Brand::as_select(), brands::id))
}

/// Live products per brand, in one statement; brands without products are absent.
pub async fn product_counts(conn: &mut PgConn, org: OrganizationId, ids: &[BrandId]) -> Result<HashMap<BrandId, i64>> {
    let rows: Vec<(Option<BrandId>, i64)> = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::deleted_at.is_null())
        .filter(products::brand_id.eq_any(ids))
        .group_by(products::brand_id)
        .select((products::brand_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, n)| Some((id?, n))).collect())
}

/// Applies `changes` if the caller's `expected_version` is current. A change that alters
/// nothing keeps the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: BrandId,
    expected_version: Option<i32>,
    changes: BrandChanges,
) -> Result<Brand> {
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        Ok(update_versioned!(conn, actor, brands, Brand, Aggregate::Brand, old, changes))
    })
    .await
}

/// Soft delete. A brand still used by products is refused (409 `BRAND_HAS_PRODUCTS`) unless
/// `force`, which detaches it from those products (each gets its `product.updated` event).
pub async fn delete(conn: &mut PgConn, org: OrganizationId, actor: &Actor, id: BrandId, force: bool) -> Result<()> {
    conn.transaction(async move |conn| {
        let brand = lock(conn, org, id).await?;
        let in_use = products::table
            .filter(products::organization_id.eq(org))
            .filter(products::brand_id.eq(id))
            .filter(products::deleted_at.is_null());
        let mut events = Vec::new();
        if force {
            let detached: Vec<(ProductId, i32)> = diesel::update(in_use)
                .set((
                    products::brand_id.eq(None::<BrandId>),
                    products::version.eq(products::version + 1),
                    products::updated_at.eq(Utc::now()),
                ))
                .returning((products::id, products::version))
                .get_results(conn)
                .await?;
            events.extend(detached.into_iter().map(|(product_id, version)| {
                published::updated(Aggregate::Product, product_id, version, &change("brand_id", Some(id), None))
            }));
        } else {
            let products_count: i64 = in_use.count().get_result(conn).await?;
            if products_count > 0 {
                return Err(Error::InUse {
                    code: "BRAND_HAS_PRODUCTS",
                    message: "the brand is used by products; delete with force=true to detach them".into(),
                    details: json!({
                        "brand_id": id,
                        "products_count": products_count,
                        "suggestion": "Use force=true parameter to soft-delete the brand",
                    }),
                });
            }
        }
        let version = soft_delete!(conn, brands, brand);
        events.push(published::deleted(Aggregate::Brand, id, version));
        outbox::append(conn, org, actor, events).await?;
        Ok(())
    })
    .await
}
