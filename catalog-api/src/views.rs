//! Answers as the published pages (`docs/design/`) show them. Each view serializes the row under
//! SPEC.md's names and adds the pages' names beside them (`product_id`, `name`, `is_active`,
//! `alt_text`, `price`, ...), with the embedded relations and counts the pages show, so a client
//! written against either spelling finds what it reads.

use catalog_core::ids::{BrandId, CollectionId, ImageId, PriceTierId, PriceTierRuleId, ProductId, TagId, VariantId};
use catalog_core::models::{
    ActiveStatus, Brand, Collection, PriceTier, PriceTierRule, Product, ProductImage, ProductStatus, Tag, Variant,
    VariantImage,
};
use catalog_core::repo::products::ProductDetails;
use catalog_core::repo::variants::VariantSummary;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct BrandView {
    #[serde(flatten)]
    pub brand: Brand,
    pub brand_id: BrandId,
    pub is_active: bool,
    /// Live products of the brand (absent where the brand is embedded in a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub products_count: Option<i64>,
}

impl BrandView {
    pub fn new(brand: Brand, products_count: Option<i64>) -> Self {
        Self { brand_id: brand.id, is_active: brand.status == ActiveStatus::Active, products_count, brand }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionView {
    #[serde(flatten)]
    pub collection: Collection,
    pub collection_id: CollectionId,
    pub is_active: bool,
    /// The page's name for `position`.
    pub sort_order: i32,
    /// Live products in the collection (absent where the collection is embedded in a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub products_count: Option<i64>,
    /// Live sub-collections (absent where the collection is embedded in a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub children_count: Option<i64>,
}

impl CollectionView {
    pub fn new(collection: Collection, counts: Option<(i64, i64)>) -> Self {
        Self {
            collection_id: collection.id,
            is_active: collection.status == ActiveStatus::Active,
            sort_order: collection.position,
            products_count: counts.map(|c| c.0),
            children_count: counts.map(|c| c.1),
            collection,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    #[serde(flatten)]
    pub tag: Tag,
    pub tag_id: TagId,
    /// Live products carrying the tag (absent where the tag is embedded in a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub products_count: Option<i64>,
}

impl TagView {
    pub fn new(tag: Tag, products_count: Option<i64>) -> Self {
        Self { tag_id: tag.id, products_count, tag }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductImageView {
    #[serde(flatten)]
    pub image: ProductImage,
    pub image_id: ImageId,
    pub alt_text: Option<String>,
}

impl From<ProductImage> for ProductImageView {
    fn from(image: ProductImage) -> Self {
        Self { image_id: image.id, alt_text: image.alt.clone(), image }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantImageView {
    #[serde(flatten)]
    pub image: VariantImage,
    pub image_id: ImageId,
    pub alt_text: Option<String>,
}

impl From<VariantImage> for VariantImageView {
    fn from(image: VariantImage) -> Self {
        Self { image_id: image.id, alt_text: image.alt.clone(), image }
    }
}

/// `dimensions` as the pages show them: centimetres, `null` when none is known.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dimensions {
    #[schema(value_type = Option<String>, format = "decimal")]
    pub length: Option<Decimal>,
    #[schema(value_type = Option<String>, format = "decimal")]
    pub width: Option<Decimal>,
    #[schema(value_type = Option<String>, format = "decimal")]
    pub height: Option<Decimal>,
    /// Always `cm`.
    #[schema(example = "cm")]
    pub unit: &'static str,
}

/// A rule of a price tier as a variant shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantTierPrice {
    pub price_tier_id: PriceTierId,
    pub tier_name: String,
    pub slug: String,
    pub rule_id: PriceTierRuleId,
    pub min_qty: i32,
    #[schema(value_type = String, format = "decimal")]
    pub price: Decimal,
    /// Below the variant's sale price, in percent (two decimals).
    #[schema(value_type = String, format = "decimal")]
    pub discount_percentage: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariantView {
    #[serde(flatten)]
    pub variant: Variant,
    pub variant_id: VariantId,
    /// `sale_price`.
    #[schema(value_type = String, format = "decimal")]
    pub price: Decimal,
    /// `tax_rate`, percent.
    #[schema(value_type = String, format = "decimal")]
    pub tax: Decimal,
    pub dimensions: Dimensions,
    /// The first of the variant's option values (`attributes`), for single-option products.
    pub option_name: Option<String>,
    pub option_value: Option<String>,
    pub images: Vec<VariantImageView>,
    /// The rules of active tiers that price this variant (only where asked for or documented).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub price_tiers: Option<Vec<VariantTierPrice>>,
    /// Stock as Inventory last reported it (where asked for and the caller holds
    /// `inventory.stock.read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub stock: Option<StockView>,
    /// `stock.total`, as page 09 embeds it in a product's variants.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "quantity")]
    #[schema(value_type = Option<f64>, nullable = false)]
    pub stock_total: Option<Decimal>,
}

fn quantity<S: serde::Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    value.map(catalog_core::stock::quantity_json).serialize(serializer)
}

fn quantity_of<S: serde::Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    catalog_core::stock::quantity_json(*value).serialize(serializer)
}

/// A variant's stock over all warehouses (pages 09 and 10), from the catalog's read model of
/// Inventory's reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockView {
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub total: Decimal,
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub available: Decimal,
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub reserved: Decimal,
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub damaged: Decimal,
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub in_transit: Decimal,
    /// Fewer available than the product's `alert_stock`.
    pub below_alert: bool,
    /// The product's `alert_stock`.
    pub alert_threshold: i32,
    /// Inventory's newest report of this variant (`null`: never reported).
    pub last_stock_update: Option<chrono::DateTime<chrono::Utc>>,
    /// Nothing heard from Inventory for the organization within `STOCK_STALE_AFTER_SECS`.
    pub stale: bool,
}

impl StockView {
    pub fn new(stock: &catalog_core::stock::VariantStock, alert_threshold: i32, stale: bool) -> Self {
        Self {
            total: stock.total,
            available: stock.available,
            reserved: stock.reserved,
            damaged: stock.damaged,
            in_transit: stock.in_transit,
            below_alert: stock.below(alert_threshold),
            alert_threshold,
            last_stock_update: stock.last_update,
            stale,
        }
    }
}

/// A product's stock over its live variants (page 09's `total_stock`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductStockView {
    #[serde(serialize_with = "quantity_of")]
    #[schema(value_type = f64)]
    pub total_stock: Decimal,
    pub last_stock_update: Option<chrono::DateTime<chrono::Utc>>,
    pub stock_stale: bool,
}

impl VariantView {
    pub fn new(variant: Variant, images: Vec<VariantImage>) -> Self {
        let (option_name, option_value) = variant
            .attributes
            .as_object()
            .and_then(|attributes| attributes.iter().next())
            .map(|(name, value)| (Some(name.clone()), value.as_str().map(str::to_string)))
            .unwrap_or((None, None));
        Self {
            variant_id: variant.id,
            price: variant.sale_price,
            tax: variant.tax_rate,
            dimensions: Dimensions {
                length: variant.dim_length,
                width: variant.dim_width,
                height: variant.dim_height,
                unit: "cm",
            },
            option_name,
            option_value,
            images: images.into_iter().map(Into::into).collect(),
            price_tiers: None,
            stock: None,
            stock_total: None,
            variant,
        }
    }

    pub fn with_stock(mut self, stock: StockView) -> Self {
        self.set_stock(stock);
        self
    }

    pub fn set_stock(&mut self, stock: StockView) {
        self.stock_total = Some(stock.total);
        self.stock = Some(stock);
    }

    pub fn with_price_tiers(mut self, tiers: Vec<VariantTierPrice>) -> Self {
        self.price_tiers = Some(tiers);
        self
    }
}

/// The flat product of page 09 with its relations embedded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    #[serde(flatten)]
    pub product: Product,
    pub product_id: ProductId,
    pub name: String,
    /// A simple product's price (its default variant's); for a product with variants, the
    /// lowest live variant price.
    #[schema(value_type = Option<String>, format = "decimal")]
    pub base_price: Option<Decimal>,
    pub is_active: bool,
    pub brand: Option<BrandView>,
    pub collections: Vec<CollectionView>,
    pub tags: Vec<TagView>,
    pub images: Vec<ProductImageView>,
    pub variants: Vec<VariantView>,
    pub variants_count: usize,
    /// The options the product declares, in order.
    pub option_ids: Vec<catalog_core::ids::OptionId>,
    /// Where shown (see [`StockView`]).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(inline)]
    pub stock: Option<ProductStockView>,
}

impl From<ProductDetails> for ProductView {
    fn from(details: ProductDetails) -> Self {
        let ProductDetails { product, brand, images, variants, mut variant_images, tags, collections, option_ids } =
            details;
        let base_price = if product.has_variants {
            variants.iter().filter(|v| v.deleted_at.is_none()).map(|v| v.sale_price).min()
        } else {
            variants.first().map(|v| v.sale_price)
        };
        let variants: Vec<VariantView> = variants
            .into_iter()
            .map(|v| {
                let images = variant_images.remove(&v.id).unwrap_or_default();
                VariantView::new(v, images)
            })
            .collect();
        Self {
            product_id: product.id,
            name: product.title.clone(),
            base_price,
            is_active: product.status == ProductStatus::Active,
            brand: brand.map(|b| BrandView::new(b, None)),
            collections: collections.into_iter().map(|c| CollectionView::new(c, None)).collect(),
            tags: tags.into_iter().map(|t| TagView::new(t, None)).collect(),
            images: images.into_iter().map(Into::into).collect(),
            variants_count: variants.len(),
            variants,
            option_ids,
            stock: None,
            product,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceTierView {
    #[serde(flatten)]
    pub tier: PriceTier,
    pub price_tier_id: PriceTierId,
    /// The tier's rules (absent where a list does not count them).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rules_count: Option<i64>,
}

impl PriceTierView {
    pub fn new(tier: PriceTier, rules_count: Option<i64>) -> Self {
        Self { price_tier_id: tier.id, rules_count, tier }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: PriceTierRule,
    pub rule_id: PriceTierRuleId,
    /// The variant the rule prices (SKU, product name, sale price).
    pub variant: Option<VariantSummary>,
}

impl RuleView {
    /// Rules with their variants' summaries looked up in `summaries`.
    pub fn many(rules: Vec<PriceTierRule>, summaries: &HashMap<VariantId, VariantSummary>) -> Vec<Self> {
        rules
            .into_iter()
            .map(|rule| Self { rule_id: rule.id, variant: summaries.get(&rule.variant_id).cloned(), rule })
            .collect()
    }
}

/// Counts by owner, 0 for owners without rows.
pub fn count_of<K: std::hash::Hash + Eq>(counts: &HashMap<K, i64>, key: &K) -> i64 {
    counts.get(key).copied().unwrap_or(0)
}
