//! The read side the gRPC server (and REST reads) use: cached, batched, tenant-scoped.
//!
//! Every batch costs a constant number of round trips: one Redis `MGET` for the lot, then, for
//! the misses only, a fixed number of SQL statements, then one pipelined cache fill.

use crate::cache::{Cache, CacheKind};
use crate::db::PgPool;
use crate::error::Result;
use crate::ids::{OrganizationId, ProductId, VariantId};
use crate::models::VariantImage;
use crate::repo::products::{self, ProductDetails};
use crate::repo::variants::{self, VariantValidation};
use crate::schema::variant_images;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A variant as other services see it: validation facts plus its images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantCard {
    pub validation: VariantValidation,
    pub images: Vec<VariantImage>,
}

#[derive(Clone)]
pub struct Catalog {
    pub pg: PgPool,
    pub cache: Cache,
}

impl Catalog {
    pub fn new(pg: PgPool, cache: Cache) -> Self {
        Self { pg, cache }
    }

    /// Product details (variants and images included) for each id, aligned with `ids`: `None`
    /// for missing, deleted or foreign products.
    pub async fn product_details(&self, org: OrganizationId, ids: &[ProductId]) -> Result<Vec<Option<ProductDetails>>> {
        let (mut cached, generation) = self.cache.get_many::<ProductDetails>(CacheKind::Product, org, ids).await;
        let missing: Vec<ProductId> =
            ids.iter().zip(&cached).filter(|(_, hit)| hit.is_none()).map(|(id, _)| *id).collect();
        if !missing.is_empty() {
            let mut conn = self.pg.get().await?;
            let loaded = products::load_details(&mut conn, org, &missing, true, true).await?;
            drop(conn);
            let fill: Vec<(String, &ProductDetails)> = loaded.iter().map(|d| (d.product.id.to_string(), d)).collect();
            self.cache.put_many(CacheKind::Product, org, generation, &fill).await;
            let by_id: HashMap<ProductId, ProductDetails> = loaded.into_iter().map(|d| (d.product.id, d)).collect();
            for (id, slot) in ids.iter().zip(cached.iter_mut()) {
                if slot.is_none() {
                    // Clone rather than move: the same id may be asked for twice.
                    *slot = by_id.get(id).cloned();
                }
            }
        }
        Ok(cached)
    }

    /// Variant cards for each id, aligned with `ids`; soft-deleted variants are included (they
    /// exist, inactive), missing and foreign ones are `None`.
    pub async fn variant_cards(&self, org: OrganizationId, ids: &[VariantId]) -> Result<Vec<Option<VariantCard>>> {
        let (mut cached, generation) = self.cache.get_many::<VariantCard>(CacheKind::Variant, org, ids).await;
        let missing: Vec<VariantId> =
            ids.iter().zip(&cached).filter(|(_, hit)| hit.is_none()).map(|(id, _)| *id).collect();
        if missing.is_empty() {
            return Ok(cached);
        }
        let mut conn = self.pg.get().await?;
        let validations = variants::validate_many(&mut conn, org, &missing).await?;
        let found: Vec<VariantId> = validations.iter().map(|v| v.variant.id).collect();
        let mut images: HashMap<VariantId, Vec<VariantImage>> = HashMap::new();
        if !found.is_empty() {
            let rows: Vec<VariantImage> = variant_images::table
                .filter(variant_images::organization_id.eq(org))
                .filter(variant_images::variant_id.eq_any(&found))
                .order((variant_images::position.asc(), variant_images::id.asc()))
                .select(VariantImage::as_select())
                .load(&mut conn)
                .await?;
            for image in rows {
                images.entry(image.variant_id).or_default().push(image);
            }
        }
        drop(conn);
        let cards: HashMap<VariantId, VariantCard> = validations
            .into_iter()
            .map(|validation| {
                let id = validation.variant.id;
                (id, VariantCard { images: images.remove(&id).unwrap_or_default(), validation })
            })
            .collect();
        let fill: Vec<(String, &VariantCard)> = cards.iter().map(|(id, card)| (id.to_string(), card)).collect();
        self.cache.put_many(CacheKind::Variant, org, generation, &fill).await;
        for (id, slot) in ids.iter().zip(cached.iter_mut()) {
            if slot.is_none() {
                *slot = cards.get(id).cloned();
            }
        }
        Ok(cached)
    }

    /// Drops the cached entries a product write affects: the product and all its variants
    /// (their validation depends on the product's status). Call after commit.
    pub async fn invalidate_product(&self, org: OrganizationId, product_id: ProductId) -> Result<()> {
        use crate::schema::product_variants;
        let mut conn = self.pg.get().await?;
        let variant_ids: Vec<VariantId> = product_variants::table
            .filter(product_variants::organization_id.eq(org))
            .filter(product_variants::product_id.eq(product_id))
            .select(product_variants::id)
            .load(&mut conn)
            .await?;
        drop(conn);
        self.cache.invalidate(CacheKind::Product, org, &[product_id]).await;
        self.cache.invalidate(CacheKind::Variant, org, &variant_ids).await;
        Ok(())
    }

    /// Drops cached variants and the products that embed them. Call after commit.
    pub async fn invalidate_variants(&self, org: OrganizationId, variant_ids: &[VariantId], product_ids: &[ProductId]) {
        self.cache.invalidate(CacheKind::Variant, org, variant_ids).await;
        self.cache.invalidate(CacheKind::Product, org, product_ids).await;
    }

    pub async fn search(&self, org: OrganizationId, request: &SearchRequest) -> Result<Vec<SearchHit>> {
        let mut conn = self.pg.get().await?;
        crate::search::search(&mut conn, org, request).await
    }
}

pub use crate::search::{MatchType, SearchHit, SearchRequest};
