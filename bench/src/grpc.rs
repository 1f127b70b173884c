//! gRPC scenarios against `catalog.CatalogService` and `grpc.health.v1` on one HTTP/2 channel
//! per `--connections` (default 1, shared by all workers, as a calling service would).

use crate::fixture::{RECIPE_ORG, Scale, TICKET, WARM_PRODUCT, recipe_variant};
use crate::load::{Op, mix};
use catalog_grpc::pb::catalog as pb;
use catalog_grpc::pb::catalog::catalog_service_client::CatalogServiceClient;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

pub async fn channels(addr: &str, connections: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(connections.max(1));
    for _ in 0..connections.max(1) {
        let endpoint = Endpoint::from_shared(addr.to_string())?.tcp_nodelay(true);
        channels.push(endpoint.connect().await?);
    }
    Ok(channels)
}

fn status_kind(status: &tonic::Status) -> String {
    format!("grpc {:?}", status.code())
}

/// Titles as a cashier mistypes them: one letter dropped, swapped or doubled.
pub const TITLE_TYPOS: &[&str] = &[
    "camiseta impermable",
    "chaqeta de cuero",
    "lampara recargabel",
    "mochla portatil",
    "taladro profesinal",
    "botela de vidrio",
    "sarten de ceramica",
    "almohda de algodon",
    "relog elegante",
    "alfonbra de lana",
    "audifonos recargables",
    "cuadreno esencial",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcScenario {
    Health,
    ValidateBatch,
    /// 100 ids drawn at random over all of organization #1's variants, a new draw each call
    /// (the same draws in every run: a second run finds them cached).
    ValidateBatchRandom,
    ProductDetails,
    ProductDetailsCold,
    SearchBarcode,
    SearchSkuPrefix,
    SearchTitleTypo,
    /// `ExplodeRecipe` of a 20-dish ticket (bench/recipes.sh's fixture).
    ExplodeTicket,
    /// The same, each call first bumping the organization's recipe generation: every explosion
    /// misses the cache (the bump, one Redis `INCR`, is inside the measured call).
    ExplodeTicketCold,
}

/// Where the recipe generation the cold explosion bumps lives.
#[derive(Clone, Debug)]
pub struct RecipeCache {
    pub redis_url: String,
    pub key_prefix: String,
}

#[derive(Clone)]
pub struct GrpcOp {
    scenario: GrpcScenario,
    catalog: CatalogServiceClient<Channel>,
    health: HealthClient<Channel>,
    scale: Scale,
    org1: String,
    batch: Vec<String>,
    /// Where this run's cold product numbers start.
    cold_offset: u64,
    recipe_cache: RecipeCache,
    redis: Option<redis::aio::MultiplexedConnection>,
}

impl GrpcOp {
    pub fn new(
        scenario: GrpcScenario,
        channel: Channel,
        scale: Scale,
        cold_offset: u64,
        recipe_cache: RecipeCache,
    ) -> Self {
        let (org, ids) = scale.validate_batch_ids(100);
        Self {
            scenario,
            catalog: CatalogServiceClient::new(channel.clone()).max_decoding_message_size(64 * 1024 * 1024),
            health: HealthClient::new(channel),
            scale,
            org1: org.to_string(),
            batch: ids.iter().map(ToString::to_string).collect(),
            cold_offset,
            recipe_cache,
            redis: None,
        }
    }

    /// Drops every cached explosion of the recipe benchmark's organization.
    async fn bump_recipe_generation(&mut self) -> Result<(), String> {
        if self.redis.is_none() {
            let client = redis::Client::open(self.recipe_cache.redis_url.as_str()).map_err(|e| e.to_string())?;
            self.redis = Some(client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?);
        }
        let key = format!("{}catalog:recipe-gen:{RECIPE_ORG}", self.recipe_cache.key_prefix);
        let conn = self.redis.as_mut().ok_or("no redis connection")?;
        redis::cmd("INCR").arg(key).query_async::<i64>(conn).await.map(drop).map_err(|e| format!("redis {e}"))
    }

    async fn explode_ticket(&mut self, i: u64) -> Result<usize, String> {
        let quantity = (1 + i % 3).to_string();
        let lines: Vec<pb::SoldLine> = TICKET
            .map(|n| pb::SoldLine { variant_id: recipe_variant(n).to_string(), quantity: quantity.clone() })
            .collect();
        let request = pb::ExplodeRecipeRequest { organization_id: RECIPE_ORG.to_string(), lines };
        let response = self.catalog.explode_recipe(request).await.map_err(|s| status_kind(&s))?.into_inner();
        // Every dish reaches 2 preparations, their sauces and raw ingredients: many deductions.
        let exploded = response.explosions.iter().all(|e| e.found && e.has_recipe && e.deductions.len() >= 5);
        if response.explosions.len() != TICKET.count() || !exploded {
            return Err("wrong explosion".into());
        }
        Ok(response.encoded_len())
    }

    /// `expect`: the match type the first hit must have (a scanned barcode must be found).
    async fn search(&mut self, org: String, query: String, expect: Option<&str>) -> Result<usize, String> {
        let request = pb::SearchRequest { organization_id: org, query, limit: 20, ..Default::default() };
        let response = self.catalog.search_products(request).await.map_err(|s| status_kind(&s))?.into_inner();
        if !response.success {
            return Err("success=false".into());
        }
        if let Some(expected) = expect {
            if response.hits.first().map(|h| h.match_type.as_str()) != Some(expected) {
                return Err(format!("first hit is not a {expected} match"));
            }
        }
        Ok(response.encoded_len())
    }
}

impl Op for GrpcOp {
    async fn call(&mut self, i: u64) -> Result<usize, String> {
        let scale = self.scale;
        match self.scenario {
            GrpcScenario::Health => {
                let response = self
                    .health
                    .check(HealthCheckRequest { service: String::new() })
                    .await
                    .map_err(|s| status_kind(&s))?
                    .into_inner();
                Ok(response.encoded_len())
            }
            GrpcScenario::ValidateBatch | GrpcScenario::ValidateBatchRandom => {
                let variant_ids = if self.scenario == GrpcScenario::ValidateBatch {
                    self.batch.clone()
                } else {
                    scale.random_variants_of_org1(i, self.batch.len()).iter().map(ToString::to_string).collect()
                };
                let count = variant_ids.len();
                let request = pb::ValidateVariantsBatchRequest { organization_id: self.org1.clone(), variant_ids };
                let response =
                    self.catalog.validate_variants_batch(request).await.map_err(|s| status_kind(&s))?.into_inner();
                if response.validations.len() != count || !response.validations.iter().all(|v| v.exists) {
                    return Err("wrong validations".into());
                }
                Ok(response.encoded_len())
            }
            GrpcScenario::ProductDetails | GrpcScenario::ProductDetailsCold => {
                let (org, product) = if self.scenario == GrpcScenario::ProductDetails {
                    (self.org1.clone(), scale.product(WARM_PRODUCT))
                } else {
                    // A different product every call, across all organizations: no cache hit.
                    let n = 1 + (self.cold_offset + i) % scale.products;
                    (scale.organization(scale.org_number(n)).to_string(), scale.product(n))
                };
                let request = pb::GetProductDetailsRequest {
                    organization_id: org,
                    product_id: product.to_string(),
                    include_variants: true,
                    include_images: true,
                };
                let response =
                    self.catalog.get_product_details(request).await.map_err(|s| status_kind(&s))?.into_inner();
                match &response.product {
                    Some(p) if response.success && !p.variants.is_empty() => Ok(response.encoded_len()),
                    _ => Err("product missing".into()),
                }
            }
            GrpcScenario::SearchBarcode => {
                // A sellable variant (what a cashier scans): the first active one from a random start.
                let (mut n, mut j) = (0, 1);
                for attempt in 0..64 {
                    let r = mix(i.wrapping_mul(64).wrapping_add(attempt));
                    n = scale.nth_of_org(1, r);
                    j = 1 + (r >> 32) as u32 % scale.variants_per_product;
                    if scale.variant_active(n, j) {
                        break;
                    }
                }
                self.search(self.org1.clone(), scale.barcode(n, j), Some("barcode")).await
            }
            GrpcScenario::SearchSkuPrefix => {
                // "SC-0001234" matches the variants of products 12340..=12349 of the organization.
                let n = scale.nth_of_org(1, mix(i)).max(10);
                let sku = scale.sku(n, 1);
                self.search(self.org1.clone(), sku[..10].to_string(), None).await
            }
            GrpcScenario::SearchTitleTypo => {
                let query = TITLE_TYPOS[(i % TITLE_TYPOS.len() as u64) as usize];
                self.search(self.org1.clone(), query.to_string(), None).await
            }
            GrpcScenario::ExplodeTicket => self.explode_ticket(i).await,
            GrpcScenario::ExplodeTicketCold => {
                self.bump_recipe_generation().await?;
                self.explode_ticket(i).await
            }
        }
    }
}
