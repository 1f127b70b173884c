//! The read side the gRPC server (and REST reads) use: cached, batched, tenant-scoped.
//!
//! Every batch costs a constant number of round trips: one Redis `MGET` for the lot, then, for
//! the misses only, a fixed number of SQL statements, then one pipelined cache fill.

use crate::cache::{Cache, CacheKind, Edge};
use crate::db::replicas::Reads;
use crate::db::{PgPool, PooledConn};
use crate::error::Result;
use crate::ids::{OrganizationId, ProductId, VariantId};
use crate::models::VariantImage;
use crate::repo::products::{self, ProductDetails};
use crate::repo::recipes::{self, Explosion, UnitExplosion};
use crate::repo::variants::{self, VariantValidation};
use crate::schema::variant_images;
use crate::stale::Stale;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;

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
    /// Where read-only units of work read (the primary when there are no replicas).
    pub reads: Reads,
}

impl Catalog {
    pub fn new(pg: PgPool, cache: Cache) -> Self {
        Self { pg, cache, reads: Reads::default() }
    }

    pub fn with_reads(mut self, reads: Reads) -> Self {
        self.reads = reads;
        self
    }

    /// A connection for the current unit of work: a caught-up replica's when it is read-only.
    /// Reads that fill the cache use the primary instead (`self.pg`): an invalidation that came
    /// after a write must never be followed by a fill of the version before it, which a
    /// replica behind that write would give, and which the cache would then keep for its TTL.
    pub async fn conn(&self) -> Result<PooledConn<'_>> {
        self.reads.conn(&self.pg).await
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

    /// Products as `edge` answers them, aligned with `ids`: a hit is the answer `encode` made
    /// when the entry was filled, written out as it is; misses are read through
    /// [`Self::product_details`] and encoded once.
    pub async fn products_encoded(
        &self,
        edge: Edge,
        org: OrganizationId,
        ids: &[ProductId],
        encode: impl Fn(&ProductDetails) -> Vec<u8>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let load = async |missing: &[ProductId]| self.product_details(org, missing).await;
        self.encoded(CacheKind::ProductAs(edge), org, ids, load, encode).await
    }

    /// Variants' validations as `edge` answers them (see [`Self::products_encoded`]); misses
    /// cost the one statement of [`variants::validate_many`] (no images, no card lookup).
    pub async fn validations_encoded(
        &self,
        edge: Edge,
        org: OrganizationId,
        ids: &[VariantId],
        encode: impl Fn(&VariantValidation) -> Vec<u8>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let load = async |missing: &[VariantId]| -> Result<Vec<Option<VariantValidation>>> {
            let found = variants::validate_many(&mut *self.pg.get().await?, org, missing).await?;
            let by_id: HashMap<VariantId, VariantValidation> = found.into_iter().map(|v| (v.variant.id, v)).collect();
            Ok(missing.iter().map(|id| by_id.get(id).cloned()).collect())
        };
        self.encoded(CacheKind::VariantAs(edge), org, ids, load, encode).await
    }

    async fn encoded<Id: Copy + Eq + std::hash::Hash + std::fmt::Display, T>(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        ids: &[Id],
        load: impl AsyncFnOnce(&[Id]) -> Result<Vec<Option<T>>>,
        encode: impl Fn(&T) -> Vec<u8>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let (mut cached, generation) = self.cache.get_encoded(kind, org, ids).await;
        let missing: Vec<Id> = ids.iter().zip(&cached).filter(|(_, hit)| hit.is_none()).map(|(id, _)| *id).collect();
        if missing.is_empty() {
            return Ok(cached);
        }
        let loaded = load(&missing).await?;
        let encoded: HashMap<Id, Vec<u8>> =
            missing.iter().zip(&loaded).filter_map(|(id, found)| Some((*id, encode(found.as_ref()?)))).collect();
        let fill: Vec<(Id, &[u8])> = encoded.iter().map(|(id, bytes)| (*id, bytes.as_slice())).collect();
        self.cache.put_encoded(kind, org, generation, &fill).await;
        for (id, slot) in ids.iter().zip(cached.iter_mut()) {
            if slot.is_none() {
                *slot = encoded.get(id).cloned();
            }
        }
        Ok(cached)
    }

    /// What selling each (`variant`, `quantity`) takes out of inventory, aligned with `sold`
    /// (`None`: not a live variant of the organization). What one unit of each sold variant
    /// takes is cached; the misses are read in one statement, whatever their number and depth.
    pub async fn explode(&self, org: OrganizationId, sold: &[(VariantId, Decimal)]) -> Result<Vec<Option<Explosion>>> {
        let mut roots: Vec<VariantId> = sold.iter().map(|(variant, _)| *variant).collect();
        roots.sort_unstable();
        roots.dedup();
        let (cached, generation) = self.cache.get_many::<UnitExplosion>(CacheKind::Explosion, org, &roots).await;
        let mut per_unit: HashMap<VariantId, UnitExplosion> = HashMap::new();
        let mut missing = Vec::new();
        for (root, hit) in roots.iter().zip(cached) {
            match hit {
                Some(explosion) => {
                    per_unit.insert(*root, explosion);
                }
                None => missing.push(*root),
            }
        }
        if !missing.is_empty() {
            let mut conn = self.pg.get().await?;
            let trees = recipes::trees(&mut conn, org, &missing).await?;
            drop(conn);
            let mut fill = Vec::new();
            for root in &missing {
                if let Some(explosion) = trees.unit_explosion(*root)? {
                    fill.push((root.to_string(), explosion.clone()));
                    per_unit.insert(*root, explosion);
                }
            }
            let fill: Vec<(String, &UnitExplosion)> =
                fill.iter().map(|(id, explosion)| (id.clone(), explosion)).collect();
            self.cache.put_many(CacheKind::Explosion, org, generation, &fill).await;
        }
        sold.iter()
            .map(|&(variant, quantity)| per_unit.get(&variant).map(|unit| unit.times(variant, quantity)).transpose())
            .collect()
    }

    /// Runs a write, then drops the cached entries its events make stale (see [`crate::stale`]).
    /// The write's result is returned as is: a failed invalidation is logged (the worker drops
    /// the entries again when the events come back from RabbitMQ).
    pub async fn write<T>(&self, write: impl Future<Output = Result<T>>) -> Result<T> {
        let (result, appended) = crate::stale::collect(write).await;
        for (org, stale) in appended {
            if let Err(err) = self.drop_stale(org, &stale).await {
                tracing::warn!(organization_id = %org, error = %err, "could not drop the cache entries a write made stale");
            }
        }
        result
    }

    /// Drops what `stale` names; the variants of products (and the products of variants) it
    /// does not name are looked up in one statement each.
    pub async fn drop_stale(&self, org: OrganizationId, stale: &Stale) -> Result<()> {
        use crate::schema::product_variants;
        // The organization's generation stamps explosions too.
        if stale.explosions && !stale.organization && !self.cache.invalidate_explosions(org).await {
            return Err(crate::Error::Unavailable("redis: explosion invalidation failed".into()));
        }
        if stale.organization {
            return match self.cache.invalidate_organization(org).await {
                true => Ok(()),
                false => Err(crate::Error::Unavailable("redis: organization invalidation failed".into())),
            };
        }
        let mut products: Vec<ProductId> = stale.products.iter().copied().collect();
        let mut variants: Vec<VariantId> = stale.variants.iter().copied().collect();
        if !stale.products_with_their_variants.is_empty() || !stale.variants_with_their_product.is_empty() {
            let mut conn = self.pg.get().await?;
            if !stale.products_with_their_variants.is_empty() {
                let found: Vec<VariantId> = product_variants::table
                    .filter(product_variants::organization_id.eq(org))
                    .filter(product_variants::product_id.eq_any(&stale.products_with_their_variants))
                    .select(product_variants::id)
                    .load(&mut conn)
                    .await?;
                variants.extend(found);
                products.extend(&stale.products_with_their_variants);
            }
            if !stale.variants_with_their_product.is_empty() {
                let found: Vec<ProductId> = product_variants::table
                    .filter(product_variants::organization_id.eq(org))
                    .filter(product_variants::id.eq_any(&stale.variants_with_their_product))
                    .select(product_variants::product_id)
                    .load(&mut conn)
                    .await?;
                products.extend(found);
                variants.extend(&stale.variants_with_their_product);
            }
        }
        self.invalidate_variants(org, &variants, &products).await;
        Ok(())
    }

    /// Drops cached variants and the products that embed them. Call after commit.
    pub async fn invalidate_variants(&self, org: OrganizationId, variant_ids: &[VariantId], product_ids: &[ProductId]) {
        let variants = variant_ids.iter().map(|id| (CacheKind::Variant, id.0));
        let products = product_ids.iter().map(|id| (CacheKind::Product, id.0));
        self.cache.invalidate(org, variants.chain(products)).await;
    }

    /// A POS search's hits: cached per (organization, request) until any product or variant of
    /// the organization changes (the searches' generation, see [`CacheKind::Search`]).
    /// Scanned codes skip the cache ([`SearchRequest::is_scanned_code`]) and may read a replica.
    pub async fn search(&self, org: OrganizationId, request: &SearchRequest) -> Result<Vec<SearchHit>> {
        if request.is_scanned_code() {
            return crate::search::search(&mut *self.conn().await?, org, request).await;
        }
        let id = request.cache_id();
        let (cached, generation) = self.cache.get_many::<Vec<SearchHit>>(CacheKind::Search, org, &[&id]).await;
        if let Some(hits) = cached.into_iter().next().flatten() {
            return Ok(hits);
        }
        let hits = crate::search::search(&mut *self.pg.get().await?, org, request).await?;
        self.cache.put_many(CacheKind::Search, org, generation, &[(id, &hits)]).await;
        Ok(hits)
    }
}

pub use crate::search::{MatchType, SearchHit, SearchRequest};
