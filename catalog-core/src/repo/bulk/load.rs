//! What the rows name that the organization already has, read in a fixed number of statements.

use super::BulkProduct;
use super::images;
use super::plan::slug_base;
use crate::db::PgConn;
use crate::error::Result;
use crate::ids::{BrandId, CollectionId, OrganizationId, ProductId, TagId, VariantId};
use crate::models::{Product, Variant};
use crate::schema::{brands, collection_products, collections, product_tags, product_variants, products, tags};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What the organization already has that the rows name: read in a fixed number of statements.
pub(super) struct Existing {
    pub(super) products_by_sku: HashMap<String, Product>,
    pub(super) products_by_id: HashMap<ProductId, Product>,
    pub(super) variants_by_sku: HashMap<String, Variant>,
    /// Barcode → the product or variant that holds it.
    pub(super) product_barcodes: HashMap<String, ProductId>,
    pub(super) variant_barcodes: HashMap<String, VariantId>,
    pub(super) brands: HashSet<BrandId>,
    pub(super) tags: HashSet<TagId>,
    pub(super) tag_links: HashMap<ProductId, BTreeSet<TagId>>,
    pub(super) collections: HashSet<CollectionId>,
    pub(super) memberships: HashMap<ProductId, BTreeSet<CollectionId>>,
    pub(super) slugs: HashSet<String>,
    /// Images of the matched products and variants, for rows that list images.
    pub(super) product_images: HashMap<uuid::Uuid, Vec<images::StoredImage>>,
    pub(super) variant_images: HashMap<uuid::Uuid, Vec<images::StoredImage>>,
}

pub(super) async fn load_existing(conn: &mut PgConn, org: OrganizationId, rows: &[&BulkProduct]) -> Result<Existing> {
    let product_skus: Vec<&str> = rows.iter().map(|r| r.product.sku.as_str()).collect();
    let variant_skus: Vec<&str> = rows.iter().flat_map(|r| r.variants.iter().map(|v| v.sku.as_str())).collect();
    let product_barcodes: Vec<&str> = rows.iter().filter_map(|r| r.product.barcode.as_deref()).collect();
    let variant_barcodes: Vec<&str> =
        rows.iter().flat_map(|r| r.variants.iter().filter_map(|v| v.barcode.as_deref())).collect();
    let live_products =
        products::table.filter(products::organization_id.eq(org)).filter(products::deleted_at.is_null());
    let variants: Vec<Variant> = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::deleted_at.is_null())
        .filter(product_variants::sku.eq_any(&variant_skus).or(product_variants::barcode.eq_any(&variant_barcodes)))
        .select(Variant::as_select())
        .load(conn)
        .await?;
    let owner_ids: Vec<ProductId> = variants.iter().map(|v| v.product_id).collect();
    let found: Vec<Product> = live_products
        .filter(
            products::sku
                .eq_any(&product_skus)
                .or(products::barcode.eq_any(&product_barcodes))
                .or(products::id.eq_any(&owner_ids)),
        )
        .select(Product::as_select())
        .load(conn)
        .await?;
    let brand_ids: Vec<BrandId> = rows.iter().filter_map(|r| r.product.brand_id).collect();
    let brands: HashSet<BrandId> = if brand_ids.is_empty() {
        HashSet::new()
    } else {
        brands::table
            .filter(brands::organization_id.eq(org))
            .filter(brands::deleted_at.is_null())
            .filter(brands::id.eq_any(&brand_ids))
            .select(brands::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let tag_ids: Vec<TagId> = rows.iter().flat_map(|r| r.tag_ids.iter().flatten().copied()).collect();
    let tags: HashSet<TagId> = if tag_ids.is_empty() {
        HashSet::new()
    } else {
        tags::table
            .filter(tags::organization_id.eq(org))
            .filter(tags::deleted_at.is_null())
            .filter(tags::id.eq_any(&tag_ids))
            .select(tags::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let product_ids: Vec<ProductId> = found.iter().map(|p| p.id).collect();
    let mut tag_links: HashMap<ProductId, BTreeSet<TagId>> = HashMap::new();
    if rows.iter().any(|r| r.tag_ids.is_some()) && !product_ids.is_empty() {
        let links: Vec<(ProductId, TagId)> = product_tags::table
            .filter(product_tags::organization_id.eq(org))
            .filter(product_tags::product_id.eq_any(&product_ids))
            .select((product_tags::product_id, product_tags::tag_id))
            .load(conn)
            .await?;
        for (product, tag) in links {
            tag_links.entry(product).or_default().insert(tag);
        }
    }
    let collection_ids: Vec<CollectionId> =
        rows.iter().flat_map(|r| r.collection_ids.iter().flatten().copied()).collect();
    let collections: HashSet<CollectionId> = if collection_ids.is_empty() {
        HashSet::new()
    } else {
        collections::table
            .filter(collections::organization_id.eq(org))
            .filter(collections::deleted_at.is_null())
            .filter(collections::id.eq_any(&collection_ids))
            .select(collections::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut memberships: HashMap<ProductId, BTreeSet<CollectionId>> = HashMap::new();
    if rows.iter().any(|r| r.collection_ids.is_some()) && !product_ids.is_empty() {
        let links: Vec<(ProductId, CollectionId)> = collection_products::table
            .filter(collection_products::organization_id.eq(org))
            .filter(collection_products::product_id.eq_any(&product_ids))
            .select((collection_products::product_id, collection_products::collection_id))
            .load(conn)
            .await?;
        for (product, collection) in links {
            memberships.entry(product).or_default().insert(collection);
        }
    }
    // Every slug a generated one could collide with: the bases, then (only for bases already
    // taken, which is rare) their `-N` forms. LIKE cannot use the (organization, slug) index,
    // so it never runs over the whole organization for bases nobody uses yet.
    let bases: Vec<String> = rows.iter().map(|r| slug_base(r)).collect::<HashSet<_>>().into_iter().collect();
    let mut slugs: HashSet<String> = live_products
        .filter(products::slug.eq_any(&bases))
        .select(products::slug)
        .load(conn)
        .await?
        .into_iter()
        .collect();
    let patterns: Vec<String> = slugs.iter().map(|b| format!("{b}-%")).collect();
    if !patterns.is_empty() {
        let suffixed: Vec<String> = live_products
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("products.slug LIKE ANY(")
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(patterns)
                    .sql(")"),
            )
            .select(products::slug)
            .load(conn)
            .await?;
        slugs.extend(suffixed);
    }

    let product_images = if rows.iter().any(|r| r.images.is_some()) {
        let ids: Vec<uuid::Uuid> = found.iter().map(|p| p.id.into()).collect();
        images::load(conn, org, images::Owner::Product, &ids).await?
    } else {
        HashMap::new()
    };
    let variant_images = if rows.iter().any(|r| r.variant_images.iter().any(Option::is_some)) {
        let ids: Vec<uuid::Uuid> = variants.iter().map(|v| v.id.into()).collect();
        images::load(conn, org, images::Owner::Variant, &ids).await?
    } else {
        HashMap::new()
    };
    let mut existing = Existing {
        products_by_sku: HashMap::new(),
        products_by_id: HashMap::new(),
        variants_by_sku: HashMap::new(),
        product_barcodes: HashMap::new(),
        variant_barcodes: HashMap::new(),
        brands,
        tags,
        tag_links,
        collections,
        memberships,
        slugs,
        product_images,
        variant_images,
    };
    for product in found {
        if let Some(barcode) = &product.barcode {
            existing.product_barcodes.insert(barcode.clone(), product.id);
        }
        existing.products_by_sku.insert(product.sku.clone(), product.clone());
        existing.products_by_id.insert(product.id, product);
    }
    for variant in variants {
        if let Some(barcode) = &variant.barcode {
            existing.variant_barcodes.insert(barcode.clone(), variant.id);
        }
        existing.variants_by_sku.insert(variant.sku.clone(), variant);
    }
    Ok(existing)
}
