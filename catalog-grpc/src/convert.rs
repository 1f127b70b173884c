//! Domain rows → protobuf messages. Money is exact `Decimal` in the core; `double` exists only
//! here, at the proto edge the seed defined.

use crate::pb::catalog as pb;
use catalog_core::models::{Variant, VariantImage};
use catalog_core::read::{SearchHit, VariantCard};
use catalog_core::repo::products::ProductDetails;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

fn money(value: Decimal) -> f64 {
    value.to_f64().unwrap_or_default()
}

fn opt_money(value: Option<Decimal>) -> f64 {
    value.map(money).unwrap_or_default()
}

fn text(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

pub fn variant(variant: &Variant, images: &[VariantImage]) -> pb::Variant {
    pb::Variant {
        variant_id: variant.id.to_string(),
        product_id: variant.product_id.to_string(),
        sku: variant.sku.clone(),
        barcode: text(variant.barcode.as_ref()),
        sale_price: money(variant.sale_price),
        cost_price: opt_money(variant.cost_price),
        tax: money(variant.tax_rate),
        weight: opt_money(variant.weight),
        dimensions: Some(pb::Dimensions {
            length: opt_money(variant.dim_length),
            width: opt_money(variant.dim_width),
            height: opt_money(variant.dim_height),
        }),
        lot_number: text(variant.lot_number.as_ref()),
        // Stock belongs to the Inventory Service; the catalog keeps no authoritative figure.
        stock_total: 0,
        stock_available: 0,
        stock_reserved: 0,
        warehouse_id: text(variant.warehouse_id),
        vendor: text(variant.vendor.as_ref()),
        track_inventory: variant.track_inventory,
        default_min_stock: variant.default_min_stock,
        default_max_stock: variant.default_max_stock,
        images: images
            .iter()
            .map(|image| pb::VariantImage {
                image_id: image.id.to_string(),
                url: image.url.clone(),
                alt: text(image.alt.as_ref()),
                position: image.position,
            })
            .collect(),
    }
}

pub fn card_variant(card: &VariantCard) -> pb::Variant {
    variant(&card.validation.variant, &card.images)
}

pub fn product(details: &ProductDetails, include_variants: bool, include_images: bool) -> pb::Product {
    let p = &details.product;
    pb::Product {
        product_id: p.id.to_string(),
        organization_id: p.organization_id.to_string(),
        local_id: text(p.local_id),
        title: p.title.clone(),
        sku: p.sku.clone(),
        barcode: text(p.barcode.as_ref()),
        description: text(p.description.as_ref()),
        status: p.status.as_str().to_string(),
        product_type: text(p.product_type.as_ref()),
        unit_of_measure: p.unit_of_measure.clone(),
        alert_stock: p.alert_stock,
        brand: details.brand.as_ref().map(|b| pb::Brand {
            brand_id: b.id.to_string(),
            name: b.name.clone(),
            slug: b.slug.clone(),
            description: text(b.description.as_ref()),
        }),
        images: if include_images {
            details
                .images
                .iter()
                .map(|image| pb::ProductImage {
                    image_id: image.id.to_string(),
                    url: image.url.clone(),
                    alt: text(image.alt.as_ref()),
                    position: image.position,
                })
                .collect()
        } else {
            Vec::new()
        },
        variants: if include_variants {
            details
                .variants
                .iter()
                .map(|v| {
                    let images =
                        if include_images { details.variant_images.get(&v.id).map(Vec::as_slice) } else { None };
                    variant(v, images.unwrap_or_default())
                })
                .collect()
        } else {
            Vec::new()
        },
        tags: details.tags.iter().map(|t| pb::Tag { tag_id: t.id.to_string(), name: t.name.clone() }).collect(),
        collections: details
            .collections
            .iter()
            .map(|c| pb::Collection { collection_id: c.id.to_string(), name: c.name.clone(), slug: c.slug.clone() })
            .collect(),
    }
}

/// A product converted with everything ([`product`]`(details, true, true)`) as the flags ask
/// for it: the same as converting with them.
pub fn shaped(mut product: pb::Product, include_variants: bool, include_images: bool) -> pb::Product {
    if !include_variants {
        product.variants.clear();
    }
    if !include_images {
        product.images.clear();
        for variant in &mut product.variants {
            variant.images.clear();
        }
    }
    product
}

pub fn search_hit(hit: &SearchHit) -> pb::SearchHit {
    pb::SearchHit {
        product_id: hit.product_id.to_string(),
        variant_id: text(hit.variant_id),
        title: hit.title.clone(),
        sku: hit.sku.clone(),
        barcode: text(hit.barcode.as_ref()),
        sale_price: opt_money(hit.sale_price),
        match_type: hit.match_type.as_str().to_string(),
        is_active: hit.is_active,
        score: hit.score,
    }
}
