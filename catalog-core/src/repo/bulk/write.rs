//! The plans written: one upsert per table, the links and the outbox, in the caller's
//! transaction.

use super::CHUNK;
use super::load::Existing;
use super::plan::Plan;
use super::{images, options};
use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{CollectionId, OptionId, OptionValueId, OrganizationId, ProductId, TagId, VariantId};
use crate::models::{Actor, Product, ProductStatus, Variant};
use crate::repo::changed_fields;
use crate::repo::outbox;
use crate::repo::published::{self, Changes, EventDraft};
use crate::schema::{
    collection_products, collections, product_option_assignments, product_tags, product_variants, products,
    variant_option_values,
};
use chrono::Utc;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(super) async fn write(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    plans: Vec<(usize, Plan)>,
    existing: &Existing,
    book: &options::OptionBook,
) -> Result<()> {
    let now = Utc::now();
    let mut declared: Vec<(ProductId, Vec<OptionId>)> = Vec::new();
    let mut option_links: Vec<(VariantId, OptionId, OptionValueId)> = Vec::new();
    let mut image_changes: HashMap<images::Owner, Vec<images::ImageChanges>> = HashMap::new();
    let mut product_rows = Vec::new();
    let mut variant_rows = Vec::new();
    let mut product_events: HashMap<ProductId, (ProductStatus, ProductStatus, Changes)> = HashMap::new();
    let mut tag_removals: Vec<(ProductId, TagId)> = Vec::new();
    let mut tag_additions: Vec<(ProductId, TagId)> = Vec::new();
    // Per collection: (products added, products removed).
    let mut membership_changes: BTreeMap<CollectionId, (Vec<ProductId>, Vec<ProductId>)> = BTreeMap::new();
    for (_, plan) in plans {
        option_links.extend(plan.option_links);
        for (owner, changes) in plan.images {
            image_changes.entry(owner).or_default().push(changes);
        }
        if let (Some(options), Some(product)) = (plan.options, &plan.product) {
            declared.push((product.id, options));
        }
        if let Some((product, before, after)) = &plan.memberships {
            for collection in after.difference(before) {
                membership_changes.entry(*collection).or_default().0.push(*product);
            }
            for collection in before.difference(after) {
                membership_changes.entry(*collection).or_default().1.push(*product);
            }
        }
        if let Some(product) = plan.product {
            if let Some(event) = plan.product_event {
                product_events.insert(product.id, event);
            }
            if let Some((before, after)) = &plan.tags {
                tag_removals.extend(before.difference(after).map(|tag| (product.id, *tag)));
                tag_additions.extend(after.difference(before).map(|tag| (product.id, *tag)));
            }
            product_rows.push(product);
        }
        variant_rows.extend(plan.variants);
    }

    let mut events = Vec::new();
    let used_options: BTreeSet<OptionId> = declared.iter().flat_map(|(_, options)| options.iter().copied()).collect();
    let used_values: Vec<(OptionId, OptionValueId)> = option_links.iter().map(|(_, o, v)| (*o, *v)).collect();
    book.write(conn, org, &used_options, &used_values, &mut events).await?;
    // A simple product's listed price is its one variant's (`base_price` of product.created).
    let mut first_prices: HashMap<ProductId, Decimal> = HashMap::new();
    for variant in &variant_rows {
        first_prices.entry(variant.product_id).or_insert(variant.sale_price);
    }
    for chunk in product_rows.chunks(CHUNK) {
        let written: Vec<Product> = diesel::insert_into(products::table)
            .values(chunk)
            .on_conflict(products::id)
            .do_update()
            .set((
                products::local_id.eq(excluded(products::local_id)),
                products::brand_id.eq(excluded(products::brand_id)),
                products::title.eq(excluded(products::title)),
                products::slug.eq(excluded(products::slug)),
                products::sku.eq(excluded(products::sku)),
                products::barcode.eq(excluded(products::barcode)),
                products::description.eq(excluded(products::description)),
                products::status.eq(excluded(products::status)),
                products::product_type.eq(excluded(products::product_type)),
                products::unit_of_measure.eq(excluded(products::unit_of_measure)),
                products::alert_stock.eq(excluded(products::alert_stock)),
                products::has_variants.eq(excluded(products::has_variants)),
                products::metadata.eq(excluded(products::metadata)),
                products::version.eq(products::version + 1),
                products::updated_at.eq(now),
            ))
            .returning(Product::as_returning())
            .get_results(conn)
            .await?;
        for product in written {
            events.extend(match product_events.remove(&product.id) {
                Some((old_status, new_status, changes)) => {
                    let tags = |side: &str| -> Vec<TagId> {
                        changes
                            .get("tag_ids")
                            .and_then(|change| serde_json::from_value(change[side].clone()).ok())
                            .unwrap_or_default()
                    };
                    let (before, after) = (tags("old"), tags("new"));
                    let updated =
                        published::product_changed(product.id, product.version, old_status, new_status, &changes);
                    let mut drafts = vec![updated];
                    drafts.extend(published::product_tags_changed(product.id, product.version, &before, &after));
                    drafts
                }
                None => {
                    let base_price = first_prices.get(&product.id).copied().filter(|_| !product.has_variants);
                    vec![published::product_created(&product, base_price)]
                }
            });
        }
    }
    let old_variants: HashMap<VariantId, &Variant> = existing.variants_by_sku.values().map(|v| (v.id, v)).collect();
    for chunk in variant_rows.chunks(CHUNK) {
        let written: Vec<Variant> = diesel::insert_into(product_variants::table)
            .values(chunk)
            .on_conflict(product_variants::id)
            .do_update()
            .set((
                product_variants::title.eq(excluded(product_variants::title)),
                product_variants::sku.eq(excluded(product_variants::sku)),
                product_variants::barcode.eq(excluded(product_variants::barcode)),
                product_variants::sale_price.eq(excluded(product_variants::sale_price)),
                product_variants::cost_price.eq(excluded(product_variants::cost_price)),
                product_variants::compare_at_price.eq(excluded(product_variants::compare_at_price)),
                product_variants::tax_rate.eq(excluded(product_variants::tax_rate)),
                product_variants::weight.eq(excluded(product_variants::weight)),
                product_variants::dim_length.eq(excluded(product_variants::dim_length)),
                product_variants::dim_width.eq(excluded(product_variants::dim_width)),
                product_variants::dim_height.eq(excluded(product_variants::dim_height)),
                product_variants::lot_number.eq(excluded(product_variants::lot_number)),
                product_variants::vendor.eq(excluded(product_variants::vendor)),
                product_variants::warehouse_id.eq(excluded(product_variants::warehouse_id)),
                product_variants::track_inventory.eq(excluded(product_variants::track_inventory)),
                product_variants::default_min_stock.eq(excluded(product_variants::default_min_stock)),
                product_variants::default_max_stock.eq(excluded(product_variants::default_max_stock)),
                product_variants::attributes.eq(excluded(product_variants::attributes)),
                product_variants::position.eq(excluded(product_variants::position)),
                product_variants::is_active.eq(excluded(product_variants::is_active)),
                product_variants::metadata.eq(excluded(product_variants::metadata)),
                product_variants::version.eq(product_variants::version + 1),
                product_variants::updated_at.eq(now),
            ))
            .returning(Variant::as_returning())
            .get_results(conn)
            .await?;
        for variant in written {
            match old_variants.get(&variant.id) {
                Some(old) => {
                    let changes = changed_fields(*old, &variant);
                    events.extend(published::variant_updated(old, &variant, &changes));
                }
                None => events.push(published::variant_created(&variant)),
            }
        }
    }
    write_option_links(conn, org, &declared, &option_links).await?;
    for owner in [images::Owner::Product, images::Owner::Variant] {
        if let Some(changes) = image_changes.remove(&owner) {
            images::write(conn, org, owner, changes, &mut events).await?;
        }
    }
    if !tag_removals.is_empty() {
        let (product_ids, tag_ids): (Vec<ProductId>, Vec<TagId>) = tag_removals.into_iter().unzip();
        diesel::sql_query(
            "DELETE FROM product_tags pt USING unnest($2::uuid[], $3::uuid[]) AS gone(product_id, tag_id) \
             WHERE pt.organization_id = $1 AND pt.product_id = gone.product_id AND pt.tag_id = gone.tag_id",
        )
        .bind::<diesel::sql_types::Uuid, _>(org)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&product_ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&tag_ids)
        .execute(conn)
        .await?;
    }
    for chunk in tag_additions.chunks(CHUNK * 10) {
        let links: Vec<_> = chunk
            .iter()
            .map(|(product, tag)| {
                (
                    product_tags::organization_id.eq(org),
                    product_tags::product_id.eq(*product),
                    product_tags::tag_id.eq(*tag),
                )
            })
            .collect();
        diesel::insert_into(product_tags::table).values(links).on_conflict_do_nothing().execute(conn).await?;
    }
    if !membership_changes.is_empty() {
        write_memberships(conn, org, &membership_changes, &mut events).await?;
    }
    outbox::append(conn, org, actor, events).await
}

/// The products' declared options (replaced: one delete, one insert) and the new variants'
/// option values (one insert).
pub(super) async fn write_option_links(
    conn: &mut PgConn,
    org: OrganizationId,
    declared: &[(ProductId, Vec<OptionId>)],
    option_links: &[(VariantId, OptionId, OptionValueId)],
) -> Result<()> {
    if !declared.is_empty() {
        let products: Vec<ProductId> = declared.iter().map(|(p, _)| *p).collect();
        diesel::delete(
            product_option_assignments::table
                .filter(product_option_assignments::organization_id.eq(org))
                .filter(product_option_assignments::product_id.eq_any(&products)),
        )
        .execute(conn)
        .await?;
        let rows: Vec<_> = declared
            .iter()
            .flat_map(|(product, options)| {
                options.iter().zip(0i32..).map(move |(option, position)| {
                    (
                        product_option_assignments::organization_id.eq(org),
                        product_option_assignments::product_id.eq(*product),
                        product_option_assignments::option_id.eq(*option),
                        product_option_assignments::position.eq(position),
                    )
                })
            })
            .collect();
        for chunk in rows.chunks(CHUNK * 10) {
            diesel::insert_into(product_option_assignments::table).values(chunk).execute(conn).await?;
        }
    }
    let rows: Vec<_> = option_links
        .iter()
        .map(|(variant, option, value)| {
            (
                variant_option_values::organization_id.eq(org),
                variant_option_values::variant_id.eq(*variant),
                variant_option_values::option_id.eq(*option),
                variant_option_values::option_value_id.eq(*value),
            )
        })
        .collect();
    for chunk in rows.chunks(CHUNK * 10) {
        diesel::insert_into(variant_option_values::table).values(chunk).execute(conn).await?;
    }
    Ok(())
}

/// Links and unlinks in two statements, then one version bump (and one event) per collection
/// whose membership changed, as `collections::add_products`/`remove_products` publish.
pub(super) async fn write_memberships(
    conn: &mut PgConn,
    org: OrganizationId,
    changes: &BTreeMap<CollectionId, (Vec<ProductId>, Vec<ProductId>)>,
    events: &mut Vec<EventDraft>,
) -> Result<()> {
    let removed: Vec<(CollectionId, ProductId)> =
        changes.iter().flat_map(|(c, (_, gone))| gone.iter().map(move |p| (*c, *p))).collect();
    if !removed.is_empty() {
        let (collection_ids, product_ids): (Vec<CollectionId>, Vec<ProductId>) = removed.into_iter().unzip();
        diesel::sql_query(
            "DELETE FROM collection_products cp USING unnest($2::uuid[], $3::uuid[]) AS gone(collection_id, product_id) \
             WHERE cp.organization_id = $1 AND cp.collection_id = gone.collection_id AND cp.product_id = gone.product_id",
        )
        .bind::<diesel::sql_types::Uuid, _>(org)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&collection_ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&product_ids)
        .execute(conn)
        .await?;
    }
    let added: Vec<_> = changes
        .iter()
        .flat_map(|(c, (new, _))| {
            new.iter().map(move |p| {
                (
                    collection_products::organization_id.eq(org),
                    collection_products::collection_id.eq(*c),
                    collection_products::product_id.eq(*p),
                )
            })
        })
        .collect();
    for chunk in added.chunks(CHUNK * 10) {
        diesel::insert_into(collection_products::table).values(chunk).on_conflict_do_nothing().execute(conn).await?;
    }
    let ids: Vec<CollectionId> = changes.keys().copied().collect();
    let bumped: Vec<(CollectionId, i32)> = diesel::update(
        collections::table.filter(collections::organization_id.eq(org)).filter(collections::id.eq_any(&ids)),
    )
    .set((collections::version.eq(collections::version + 1), collections::updated_at.eq(Utc::now())))
    .returning((collections::id, collections::version))
    .get_results(conn)
    .await?;
    let counts: HashMap<CollectionId, i64> = collection_products::table
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::collection_id.eq_any(&ids))
        .group_by(collection_products::collection_id)
        .select((collection_products::collection_id, diesel::dsl::count_star()))
        .load(conn)
        .await?
        .into_iter()
        .collect();
    for (id, version) in bumped {
        let (added, removed) = &changes[&id];
        let count = counts.get(&id).copied().unwrap_or(0);
        events.extend(published::collection_products_changed(id, version, added, removed, count));
    }
    Ok(())
}
