//! `catalog.CatalogService`: translates requests into core calls and results back. The seed's
//! semantics are kept (`exists=false` / `success=false` with a message for missing things, batch
//! answers in request order) without its defects: no per-item queries, malformed ids are
//! "not found", internal error text never reaches the caller.

use crate::convert;
use crate::layers::RequestId;
use crate::pb::catalog as pb;
use crate::pb::catalog::catalog_service_server::CatalogService;
use catalog_core::cache::Edge;
use catalog_core::error::Error;
use catalog_core::ids::{OrganizationId, ProductId, VariantId};
use catalog_core::read::{Catalog, SearchRequest, VariantCard};
use catalog_core::repo::products::ProductDetails;
use catalog_core::repo::recipes::{Explosion, QUANTITY_MAX_UNITS, QUANTITY_SCALE};
use catalog_core::repo::variants::VariantValidation;
use prost::Message;
use rust_decimal::Decimal;
use std::str::FromStr;
use tonic::{Request, Response, Status};

pub struct CatalogGrpc {
    catalog: Catalog,
    max_batch_size: usize,
}

impl CatalogGrpc {
    pub fn new(catalog: Catalog, max_batch_size: usize) -> Self {
        Self { catalog, max_batch_size }
    }

    fn check_batch(&self, field: &'static str, len: usize) -> Result<(), Status> {
        if len > self.max_batch_size {
            return Err(Status::invalid_argument(format!("{field}: at most {} ids per call", self.max_batch_size)));
        }
        Ok(())
    }
}

/// The organization is required and must be a UUID: anything else is the caller's mistake.
fn organization(raw: &str) -> Result<OrganizationId, Status> {
    OrganizationId::from_str(raw).map_err(|_| Status::invalid_argument("organization_id: must be a UUID"))
}

/// Ids that do not parse can only be "not found": `None` keeps their place in the answer.
fn parse_all<T: FromStr + Copy>(raw: &[String]) -> (Vec<Option<T>>, Vec<T>) {
    let parsed: Vec<Option<T>> = raw.iter().map(|s| s.trim().parse().ok()).collect();
    let valid = parsed.iter().flatten().copied().collect();
    (parsed, valid)
}

/// Maps a core error to a status; server-side details go to the log with the request id only.
fn status<T>(request: &Request<T>, method: &'static str, err: Error) -> Status {
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.as_str()).unwrap_or("-");
    let code = tonic::Code::from_i32(err.grpc_code() as i32);
    if matches!(err, Error::Internal(_) | Error::Unavailable(_)) {
        tracing::error!(method, request_id, error = %err, "request failed");
    }
    Status::new(code, err.public_message())
}

/// The seed declares `include_variants`/`include_images` "default: true", but proto3 cannot
/// tell an unset bool from false. Both false therefore means "not set" → include both; any
/// explicit choice (at least one true) is honoured as given.
fn seed_include_flags(include_variants: bool, include_images: bool) -> (bool, bool) {
    if !include_variants && !include_images { (true, true) } else { (include_variants, include_images) }
}

fn validation(id: &str, found: Option<&VariantValidation>) -> pb::VariantValidation {
    match found {
        Some(found) => {
            let v = &found.variant;
            pb::VariantValidation {
                variant_id: id.to_string(),
                exists: true,
                is_active: found.is_active,
                sku: v.sku.clone(),
                barcode: v.barcode.clone().unwrap_or_default(),
                warehouse_id: v.warehouse_id.map(|w| w.to_string()).unwrap_or_default(),
                track_inventory: v.track_inventory,
                default_min_stock: v.default_min_stock,
                default_max_stock: v.default_max_stock,
            }
        }
        None => pb::VariantValidation { variant_id: id.to_string(), ..Default::default() },
    }
}

/// Splits a batch answer into what was found (converted) and the ids that were not, both in
/// request order.
fn found_and_missing<T, U>(ids: &[String], found: &[Option<T>], convert: impl Fn(&T) -> U) -> (Vec<U>, Vec<String>) {
    let mut hits = Vec::new();
    let mut missing = Vec::new();
    for (id, item) in ids.iter().zip(found) {
        match item {
            Some(item) => hits.push(convert(item)),
            None => missing.push(id.clone()),
        }
    }
    (hits, missing)
}

/// One product as the seed's single-product answers shape it: the product, or the message.
fn single_product(
    id: &str,
    product: Option<pb::Product>,
    variants: bool,
    images: bool,
) -> (Option<pb::Product>, String) {
    match product {
        Some(product) => (Some(convert::shaped(product, variants, images)), "Product retrieved successfully".into()),
        None => (None, format!("Product {id} not found")),
    }
}

/// Decodes what this server encoded into the cache.
fn decode<M: prost::Message + Default>(encoded: &[u8]) -> Result<M, Error> {
    M::decode(encoded).map_err(|e| Error::Internal(format!("cached answer does not decode: {e}")))
}

impl CatalogGrpc {
    async fn cards(&self, org: OrganizationId, raw_ids: &[String]) -> Result<Vec<Option<VariantCard>>, Error> {
        let (parsed, valid) = parse_all::<VariantId>(raw_ids);
        let mut found = self.catalog.variant_cards(org, &valid).await?.into_iter();
        // `found` is aligned with `valid`; re-align with the request, leaving malformed ids empty.
        Ok(parsed.iter().map(|id| id.and_then(|_| found.next().flatten())).collect())
    }

    async fn products(&self, org: OrganizationId, raw_ids: &[String]) -> Result<Vec<Option<ProductDetails>>, Error> {
        let (parsed, valid) = parse_all::<ProductId>(raw_ids);
        let mut found = self.catalog.product_details(org, &valid).await?.into_iter();
        Ok(parsed.iter().map(|id| id.and_then(|_| found.next().flatten())).collect())
    }

    async fn card(&self, org: OrganizationId, raw_id: &str) -> Result<Option<VariantCard>, Error> {
        Ok(self.cards(org, &[raw_id.to_string()]).await?.into_iter().next().flatten())
    }

    /// The validation of each id, in request order, from the cache as this server encodes it.
    async fn validations(&self, org: OrganizationId, raw_ids: &[String]) -> Result<Vec<pb::VariantValidation>, Error> {
        let (parsed, valid) = parse_all::<VariantId>(raw_ids);
        let encode = |found: &VariantValidation| validation("", Some(found)).encode_to_vec();
        let mut found = self.catalog.validations_encoded(Edge::Grpc, org, &valid, encode).await?.into_iter();
        let mut validations = Vec::with_capacity(raw_ids.len());
        for (id, raw) in parsed.iter().zip(raw_ids) {
            validations.push(match id.and_then(|_| found.next().flatten()) {
                // The answer echoes the id as the caller spelled it.
                Some(encoded) => pb::VariantValidation { variant_id: raw.clone(), ..decode(&encoded)? },
                None => validation(raw, None),
            });
        }
        Ok(validations)
    }

    /// The product with its variants and images, from the cache as this server encodes it.
    async fn product(&self, org: OrganizationId, raw_id: &str) -> Result<Option<pb::Product>, Error> {
        let Ok(id) = raw_id.trim().parse::<ProductId>() else { return Ok(None) };
        let encode = |details: &ProductDetails| convert::product(details, true, true).encode_to_vec();
        let found = self.catalog.products_encoded(Edge::Grpc, org, &[id], encode).await?.pop().flatten();
        found.map(|encoded| decode(&encoded)).transpose()
    }
}

#[tonic::async_trait]
impl CatalogService for CatalogGrpc {
    async fn validate_variant(
        &self,
        request: Request<pb::ValidateVariantRequest>,
    ) -> Result<Response<pb::ValidateVariantResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        let found = self.card(org, &req.variant_id).await.map_err(|e| status(&request, "ValidateVariant", e))?;
        let response = match found {
            Some(card) => {
                let v = &card.validation.variant;
                pb::ValidateVariantResponse {
                    exists: true,
                    is_active: card.validation.is_active,
                    variant_id: v.id.to_string(),
                    product_id: v.product_id.to_string(),
                    sku: v.sku.clone(),
                    barcode: v.barcode.clone().unwrap_or_default(),
                    warehouse_id: v.warehouse_id.map(|w| w.to_string()).unwrap_or_default(),
                    track_inventory: v.track_inventory,
                    default_min_stock: v.default_min_stock,
                    default_max_stock: v.default_max_stock,
                    price: convert::card_variant(&card).sale_price,
                    message: "Variant validated successfully".into(),
                }
            }
            None => pb::ValidateVariantResponse {
                exists: false,
                is_active: false,
                message: format!("Variant {} not found", req.variant_id),
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn get_product_details(
        &self,
        request: Request<pb::GetProductDetailsRequest>,
    ) -> Result<Response<pb::GetProductDetailsResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        let (variants, images) = seed_include_flags(req.include_variants, req.include_images);
        let found = self.product(org, &req.product_id).await.map_err(|e| status(&request, "GetProductDetails", e))?;
        let (product, message) = single_product(&req.product_id, found, variants, images);
        Ok(Response::new(pb::GetProductDetailsResponse { success: product.is_some(), product, message }))
    }

    async fn get_variants_batch(
        &self,
        request: Request<pb::GetVariantsBatchRequest>,
    ) -> Result<Response<pb::GetVariantsBatchResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        self.check_batch("variant_ids", req.variant_ids.len())?;
        let cards = self.cards(org, &req.variant_ids).await.map_err(|e| status(&request, "GetVariantsBatch", e))?;
        let (variants, not_found_ids) = found_and_missing(&req.variant_ids, &cards, convert::card_variant);
        let message = format!("Retrieved {} of {} variants", variants.len(), req.variant_ids.len());
        Ok(Response::new(pb::GetVariantsBatchResponse { success: true, variants, not_found_ids, message }))
    }

    async fn validate_variants_batch(
        &self,
        request: Request<pb::ValidateVariantsBatchRequest>,
    ) -> Result<Response<pb::ValidateVariantsBatchResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        self.check_batch("variant_ids", req.variant_ids.len())?;
        let validations =
            self.validations(org, &req.variant_ids).await.map_err(|e| status(&request, "ValidateVariantsBatch", e))?;
        let valid = validations.iter().filter(|v| v.exists && v.is_active).count();
        let message = format!("Validated {} variants: {valid} valid", validations.len());
        Ok(Response::new(pb::ValidateVariantsBatchResponse { success: true, validations, message }))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::ProductResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        let found = self.product(org, &req.product_id).await.map_err(|e| status(&request, "GetProduct", e))?;
        let (variants, images) = (req.include_variants.unwrap_or(true), req.include_images.unwrap_or(true));
        let (product, message) = single_product(&req.product_id, found, variants, images);
        Ok(Response::new(pb::ProductResponse { success: product.is_some(), product, message }))
    }

    async fn get_products_batch(
        &self,
        request: Request<pb::GetProductsBatchRequest>,
    ) -> Result<Response<pb::ProductsBatchResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        self.check_batch("product_ids", req.product_ids.len())?;
        let found = self.products(org, &req.product_ids).await.map_err(|e| status(&request, "GetProductsBatch", e))?;
        let (variants, images) = (req.include_variants.unwrap_or(true), req.include_images.unwrap_or(true));
        let (products, not_found_ids) =
            found_and_missing(&req.product_ids, &found, |details| convert::product(details, variants, images));
        let message = format!("Retrieved {} of {} products", products.len(), req.product_ids.len());
        Ok(Response::new(pb::ProductsBatchResponse { success: true, products, not_found_ids, message }))
    }

    async fn get_variant(
        &self,
        request: Request<pb::GetVariantRequest>,
    ) -> Result<Response<pb::VariantResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        let found = self.card(org, &req.variant_id).await.map_err(|e| status(&request, "GetVariant", e))?;
        let response = match found {
            Some(card) => pb::VariantResponse {
                success: true,
                is_active: card.validation.is_active,
                variant: Some(convert::card_variant(&card)),
                message: "Variant retrieved successfully".into(),
            },
            None => pb::VariantResponse {
                success: false,
                is_active: false,
                variant: None,
                message: format!("Variant {} not found", req.variant_id),
            },
        };
        Ok(Response::new(response))
    }

    async fn search_products(
        &self,
        request: Request<pb::SearchRequest>,
    ) -> Result<Response<pb::SearchResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        let local_id = match req.local_id.trim() {
            "" => None,
            raw => Some(raw.parse().map_err(|_| Status::invalid_argument("local_id: must be a UUID"))?),
        };
        let search = SearchRequest {
            query: req.query.clone(),
            limit: Some(req.limit),
            include_inactive: req.include_inactive,
            local_id,
        };
        let hits = self.catalog.search(org, &search).await.map_err(|e| status(&request, "SearchProducts", e))?;
        let message = format!("{} results", hits.len());
        Ok(Response::new(pb::SearchResponse {
            success: true,
            hits: hits.iter().map(convert::search_hit).collect(),
            message,
        }))
    }

    async fn explode_recipe(
        &self,
        request: Request<pb::ExplodeRecipeRequest>,
    ) -> Result<Response<pb::ExplodeRecipeResponse>, Status> {
        let req = request.get_ref();
        let org = organization(&req.organization_id)?;
        self.check_batch("lines", req.lines.len())?;
        let parsed = sold_lines(&req.lines)?;
        let sold: Vec<(VariantId, Decimal)> = parsed.iter().flatten().copied().collect();
        let mut exploded =
            self.catalog.explode(org, &sold).await.map_err(|e| status(&request, "ExplodeRecipe", e))?.into_iter();
        let explosions: Vec<pb::RecipeExplosion> = req
            .lines
            .iter()
            .zip(&parsed)
            .map(|(line, id)| explosion(line, id.and_then(|_| exploded.next().flatten()).as_ref()))
            .collect();
        let found = explosions.iter().filter(|e| e.found).count();
        let message = format!("Exploded {found} of {} lines", explosions.len());
        Ok(Response::new(pb::ExplodeRecipeResponse { success: true, explosions, message }))
    }
}

/// A ticket's lines as the core takes them, or `INVALID_ARGUMENT` naming the first bad field.
/// A malformed variant id cannot be found: it keeps its place and answers `found=false`.
fn sold_lines(lines: &[pb::SoldLine]) -> Result<Vec<Option<(VariantId, Decimal)>>, Status> {
    let max = Decimal::new(QUANTITY_MAX_UNITS, QUANTITY_SCALE);
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let quantity = match line.quantity.trim() {
            "" => Decimal::ONE,
            raw => Decimal::from_str(raw)
                .ok()
                .filter(|q| *q > Decimal::ZERO && *q <= max && q.scale() <= QUANTITY_SCALE)
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "lines[{i}].quantity: must be a decimal greater than 0, at most {max} with {QUANTITY_SCALE} decimals"
                    ))
                })?,
        };
        parsed.push(line.variant_id.trim().parse::<VariantId>().ok().map(|variant| (variant, quantity)));
    }
    Ok(parsed)
}

fn explosion(line: &pb::SoldLine, found: Option<&Explosion>) -> pb::RecipeExplosion {
    match found {
        Some(explosion) => pb::RecipeExplosion {
            variant_id: line.variant_id.clone(),
            quantity: explosion.quantity.normalize().to_string(),
            found: true,
            has_recipe: explosion.recipe_id.is_some(),
            recipe_id: explosion.recipe_id.map(|id| id.to_string()).unwrap_or_default(),
            deductions: explosion
                .deductions
                .iter()
                .map(|d| pb::StockDeduction {
                    variant_id: d.variant_id.to_string(),
                    quantity: d.quantity.normalize().to_string(),
                    unit: d.unit.clone(),
                    is_optional: d.is_optional,
                })
                .collect(),
        },
        None => pb::RecipeExplosion { variant_id: line.variant_id.clone(), ..Default::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_include_flags_mean_the_seeds_default() {
        assert_eq!(seed_include_flags(false, false), (true, true));
        assert_eq!(seed_include_flags(true, false), (true, false));
        assert_eq!(seed_include_flags(false, true), (false, true));
        assert_eq!(seed_include_flags(true, true), (true, true));
    }

    #[test]
    fn malformed_ids_keep_their_place_as_missing() {
        let raw = vec!["nope".to_string(), uuid::Uuid::nil().to_string(), String::new()];
        let (parsed, valid) = parse_all::<VariantId>(&raw);
        assert_eq!(parsed.iter().map(Option::is_some).collect::<Vec<_>>(), [false, true, false]);
        assert_eq!(valid.len(), 1);
    }
}
