//! Demo mode: the rows of [`super::demo_data`] with fixed ids, inserted idempotently.

use super::demo_data::*;
use crate::db::PgConn;
use crate::ids::{
    BrandId, CollectionId, ImageId, OptionId, OptionValueId, OrganizationId, PriceTierId, PriceTierRuleId, ProductId,
    RecipeId, RecipeIngredientId, TagId, VariantId,
};
use crate::models::{
    ActiveStatus, NewBrand, NewCollection, NewOptionValue, NewPriceTier, NewPriceTierRule, NewProduct, NewProductImage,
    NewProductOption, NewRecipe, NewTag, NewVariant, ProductStatus, RecipeIngredient,
};
use crate::schema::{
    brands, collection_products, collections, price_tier_rules, price_tiers, product_images,
    product_option_assignments, product_option_values, product_options, product_recipes, product_tags,
    product_variants, products, recipe_ingredients, tags, variant_option_values,
};
use crate::slug::slugify;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::time::Instant;
use uuid::Uuid;

/// A fixed id for the demo row named by `key`: the same key yields the same id on every run.
fn demo_id(org: OrganizationId, key: &str) -> Uuid {
    let digest = Sha256::digest(format!("catalog-demo/{org}/{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A valid EAN-13: the 12-digit `body` followed by its check digit.
pub fn ean13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits.bytes().enumerate().map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// Short upper-case code of an option value for SKUs: "Azul marino" → "AZU", "XL" → "XL".
fn value_code(value: &str) -> String {
    slugify(value).replace('-', "").chars().take(3).collect::<String>().to_uppercase()
}

#[derive(Default)]
struct DemoRows {
    brands: Vec<NewBrand>,
    collections: Vec<NewCollection>,
    tags: Vec<NewTag>,
    options: Vec<NewProductOption>,
    option_values: Vec<NewOptionValue>,
    products: Vec<NewProduct>,
    variants: Vec<NewVariant>,
    /// (organization, product, option, position)
    assignments: Vec<(OrganizationId, ProductId, OptionId, i32)>,
    /// (organization, variant, option, value)
    variant_values: Vec<(OrganizationId, VariantId, OptionId, OptionValueId)>,
    /// (organization, collection, product, position)
    collection_products: Vec<(OrganizationId, CollectionId, ProductId, i32)>,
    /// (organization, product, tag)
    product_tags: Vec<(OrganizationId, ProductId, TagId)>,
    images: Vec<NewProductImage>,
    tiers: Vec<NewPriceTier>,
    rules: Vec<NewPriceTierRule>,
    recipes: Vec<NewRecipe>,
    recipe_ingredients: Vec<RecipeIngredient>,
}

/// Every demo row, built in memory (no database involved).
fn demo_rows() -> DemoRows {
    let mut rows = DemoRows::default();
    for shop in SHOPS {
        add_shop(&mut rows, shop);
    }
    rows
}

fn add_shop(rows: &mut DemoRows, shop: &Shop) {
    let org = shop.org.id;
    let id = |key: String| demo_id(org, &key);
    let brand_id = |name: &str| BrandId(id(format!("brand/{name}")));
    let collection_id = |name: &str| CollectionId(id(format!("collection/{name}")));
    let tag_id = |name: &str| TagId(id(format!("tag/{name}")));
    let option_id = |name: &str| OptionId(id(format!("option/{name}")));
    let value_id = |option: &str, value: &str| OptionValueId(id(format!("option/{option}/{value}")));

    for (name, description) in shop.brands {
        rows.brands.push(NewBrand {
            metadata: None,
            website: None,
            id: brand_id(name),
            organization_id: org,
            name: (*name).into(),
            slug: slugify(name),
            description: Some((*description).into()),
            logo_url: Some(format!("https://picsum.photos/seed/{}-logo/200/200", slugify(name))),
            status: ActiveStatus::Active,
        });
    }
    for (position, (name, parent, description)) in shop.collections.iter().enumerate() {
        rows.collections.push(NewCollection {
            metadata: None,
            id: collection_id(name),
            organization_id: org,
            parent_id: parent.map(collection_id),
            name: (*name).into(),
            slug: slugify(name),
            description: Some((*description).into()),
            image_url: Some(format!("https://picsum.photos/seed/{}/1200/400", slugify(name))),
            status: ActiveStatus::Active,
            position: position as i32,
        });
    }
    for (name, tag_type, color) in shop.tags {
        rows.tags.push(NewTag {
            metadata: None,
            id: tag_id(name),
            organization_id: org,
            name: (*name).into(),
            slug: slugify(name),
            tag_type: *tag_type,
            color: Some((*color).into()),
        });
    }
    for (position, (name, values)) in shop.options.iter().enumerate() {
        rows.options.push(NewProductOption {
            id: option_id(name),
            organization_id: org,
            name: (*name).into(),
            position: position as i32,
        });
        for (position, value) in values.iter().enumerate() {
            rows.option_values.push(NewOptionValue {
                id: value_id(name, value),
                organization_id: org,
                option_id: option_id(name),
                value: (*value).into(),
                position: position as i32,
            });
        }
    }
    let tiers: Vec<PriceTierId> = DEMO_TIERS
        .iter()
        .map(|tier| {
            let id = PriceTierId(id(format!("tier/{}", tier.name)));
            rows.tiers.push(NewPriceTier {
                metadata: None,
                id,
                organization_id: org,
                name: tier.name.into(),
                slug: slugify(tier.name),
                description: Some(tier.description.into()),
                priority: tier.priority,
                is_active: tier.active,
            });
            id
        })
        .collect();

    for (index, item) in shop.products.iter().enumerate() {
        let product = ProductId(id(format!("product/{}", item.code)));
        let sku = format!("{}-{}", shop.code, item.code);
        let has_variants = !item.options.is_empty();
        let barcode_base = 770_000_000_000 + shop.barcode_digit * 100_000_000 + (index as u64 + 1) * 10_000;
        rows.products.push(NewProduct {
            id: product,
            organization_id: org,
            local_id: None,
            brand_id: Some(brand_id(item.brand)),
            title: item.title.into(),
            slug: slugify(item.title),
            sku: sku.clone(),
            // A simple product shares its barcode with its default variant.
            barcode: (!has_variants).then(|| ean13(barcode_base)),
            description: Some(item.description.into()),
            status: ProductStatus::Active,
            product_type: Some(item.product_type.into()),
            unit_of_measure: item.unit.into(),
            alert_stock: 5,
            has_variants,
            metadata: json!({ "seed": "demo" }),
        });
        for (position, (option, _)) in item.options.iter().enumerate() {
            rows.assignments.push((org, product, option_id(option), position as i32));
        }
        for (position, name) in item.collections.iter().enumerate() {
            rows.collection_products.push((org, collection_id(name), product, position as i32));
        }
        for name in item.tags {
            rows.product_tags.push((org, product, tag_id(name)));
        }
        for n in 1..=2 {
            rows.images.push(NewProductImage {
                metadata: None,
                id: ImageId(id(format!("product/{}/image/{n}", item.code))),
                organization_id: org,
                product_id: product,
                url: format!("https://picsum.photos/seed/{}-{n}/800/800", slugify(item.title)),
                alt: Some(format!("{} — vista {n}", item.title)),
                position: n - 1,
                is_primary: n == 1,
            });
        }

        // One variant per combination of the product's option values, in declared order.
        let combinations = item.options.iter().fold(vec![Vec::new()], |acc, (option, values)| {
            acc.iter()
                .flat_map(|prefix: &Vec<(&str, &str)>| {
                    values.iter().map(move |value| {
                        let mut next = prefix.clone();
                        next.push((*option, *value));
                        next
                    })
                })
                .collect()
        });
        for (position, combination) in combinations.iter().enumerate() {
            let variant = VariantId(id(format!("product/{}/variant/{position}", item.code)));
            let mut pairs: Vec<(OptionId, OptionValueId)> =
                combination.iter().map(|(option, value)| (option_id(option), value_id(option, value))).collect();
            pairs.sort();
            let signature = (!pairs.is_empty())
                .then(|| pairs.iter().map(|(o, v)| format!("{o}={v}")).collect::<Vec<_>>().join(","));
            let attributes: Map<String, Value> =
                combination.iter().map(|(option, value)| ((*option).to_string(), json!(value))).collect();
            let variant_sku = if has_variants {
                let codes: Vec<String> = combination.iter().map(|(_, value)| value_code(value)).collect();
                format!("{sku}-{}", codes.join("-"))
            } else {
                sku.clone()
            };
            let price = Decimal::new(item.price, 0);
            rows.variants.push(NewVariant {
                id: variant,
                organization_id: org,
                product_id: product,
                title: has_variants
                    .then(|| combination.iter().map(|(_, value)| *value).collect::<Vec<_>>().join(" / ")),
                sku: variant_sku,
                barcode: Some(ean13(barcode_base + if has_variants { position as u64 + 1 } else { 0 })),
                sale_price: price,
                cost_price: Some((price * Decimal::new(60, 2)).round_dp(0)),
                compare_at_price: None,
                tax_rate: Decimal::new(DEMO_TAX_RATE, 0),
                weight: Some(Decimal::new(item.weight_grams, 3)),
                dim_length: None,
                dim_width: None,
                dim_height: None,
                lot_number: None,
                vendor: Some(item.brand.into()),
                warehouse_id: None,
                track_inventory: true,
                default_min_stock: 10,
                default_max_stock: 1000,
                attributes: Value::Object(attributes),
                option_signature: signature,
                position: position as i32,
                is_active: true,
                metadata: json!({ "seed": "demo" }),
            });
            for (option, value) in pairs {
                rows.variant_values.push((org, variant, option, value));
            }
            for (tier, spec) in tiers.iter().zip(DEMO_TIERS) {
                for (min_qty, percent) in spec.rules {
                    rows.rules.push(NewPriceTierRule {
                        id: PriceTierRuleId(id(format!("tier/{tier}/variant/{variant}/{min_qty}"))),
                        organization_id: org,
                        price_tier_id: *tier,
                        variant_id: variant,
                        min_qty: *min_qty,
                        price: (price * Decimal::new(*percent, 2)).round_dp(0),
                    });
                }
            }
        }
    }
    let simple_variant = |code: &str| VariantId(id(format!("product/{code}/variant/0")));
    for spec in shop.recipes {
        let recipe = RecipeId(id(format!("recipe/{}", spec.product)));
        rows.recipes.push(NewRecipe {
            id: recipe,
            organization_id: org,
            product_id: ProductId(id(format!("product/{}", spec.product))),
            variant_id: spec.for_variant.then(|| simple_variant(spec.product)),
            name: Some(spec.name.into()),
            yield_quantity: Decimal::from(spec.yield_quantity),
            is_active: true,
        });
        for (position, (code, quantity, unit, waste, optional)) in spec.ingredients.iter().enumerate() {
            rows.recipe_ingredients.push(RecipeIngredient {
                id: RecipeIngredientId(id(format!("recipe/{}/{code}", spec.product))),
                organization_id: org,
                recipe_id: recipe,
                ingredient_variant_id: simple_variant(code),
                quantity: Decimal::from(*quantity),
                unit: (*unit).into(),
                is_optional: *optional,
                waste_percentage: Decimal::from(*waste),
                notes: None,
                position: position as i32,
            });
        }
    }
}

/// Inserts a batch, skipping rows already there; returns how many were new.
macro_rules! insert_new {
    ($conn:expr, $table:expr, $rows:expr) => {
        diesel::insert_into($table).values($rows).on_conflict_do_nothing().execute($conn).await?
    };
}

pub(super) async fn demo(conn: &mut PgConn) -> anyhow::Result<String> {
    let started = Instant::now();
    let rows = demo_rows();
    let inserted = conn
        .transaction(async |conn| {
            let mut n = 0;
            n += insert_new!(conn, brands::table, &rows.brands);
            n += insert_new!(conn, collections::table, &rows.collections);
            n += insert_new!(conn, tags::table, &rows.tags);
            n += insert_new!(conn, product_options::table, &rows.options);
            n += insert_new!(conn, product_option_values::table, &rows.option_values);
            n += insert_new!(conn, price_tiers::table, &rows.tiers);
            n += insert_new!(conn, products::table, &rows.products);
            n += insert_new!(conn, product_variants::table, &rows.variants);
            let assignments: Vec<_> = rows
                .assignments
                .iter()
                .map(|(org, product, option, position)| {
                    (
                        product_option_assignments::organization_id.eq(*org),
                        product_option_assignments::product_id.eq(*product),
                        product_option_assignments::option_id.eq(*option),
                        product_option_assignments::position.eq(*position),
                    )
                })
                .collect();
            n += insert_new!(conn, product_option_assignments::table, &assignments);
            let variant_values: Vec<_> = rows
                .variant_values
                .iter()
                .map(|(org, variant, option, value)| {
                    (
                        variant_option_values::organization_id.eq(*org),
                        variant_option_values::variant_id.eq(*variant),
                        variant_option_values::option_id.eq(*option),
                        variant_option_values::option_value_id.eq(*value),
                    )
                })
                .collect();
            n += insert_new!(conn, variant_option_values::table, &variant_values);
            let members: Vec<_> = rows
                .collection_products
                .iter()
                .map(|(org, collection, product, position)| {
                    (
                        collection_products::organization_id.eq(*org),
                        collection_products::collection_id.eq(*collection),
                        collection_products::product_id.eq(*product),
                        collection_products::position.eq(*position),
                    )
                })
                .collect();
            n += insert_new!(conn, collection_products::table, &members);
            let tagged: Vec<_> = rows
                .product_tags
                .iter()
                .map(|(org, product, tag)| {
                    (
                        product_tags::organization_id.eq(*org),
                        product_tags::product_id.eq(*product),
                        product_tags::tag_id.eq(*tag),
                    )
                })
                .collect();
            n += insert_new!(conn, product_tags::table, &tagged);
            n += insert_new!(conn, product_images::table, &rows.images);
            n += insert_new!(conn, price_tier_rules::table, &rows.rules);
            n += insert_new!(conn, product_recipes::table, &rows.recipes);
            n += insert_new!(conn, recipe_ingredients::table, &rows.recipe_ingredients);
            Ok::<_, diesel::result::Error>(n)
        })
        .await?;

    let mut report = format!(
        "demo catalog: {} organizations, {} rows inserted now ({} already present) in {:.1} s\n",
        DEMO_ORGANIZATIONS.len(),
        inserted,
        demo_row_count(&rows).saturating_sub(inserted),
        started.elapsed().as_secs_f64()
    );
    for shop in SHOPS {
        let org = shop.org.id;
        let products = rows.products.iter().filter(|p| p.organization_id == org).count();
        let variants = rows.variants.iter().filter(|v| v.organization_id == org).count();
        let _ = writeln!(report, "  organization {org}  {} — {products} products, {variants} variants", shop.org.name);
    }
    Ok(report)
}

fn demo_row_count(rows: &DemoRows) -> usize {
    rows.brands.len()
        + rows.collections.len()
        + rows.tags.len()
        + rows.options.len()
        + rows.option_values.len()
        + rows.tiers.len()
        + rows.products.len()
        + rows.variants.len()
        + rows.assignments.len()
        + rows.variant_values.len()
        + rows.collection_products.len()
        + rows.product_tags.len()
        + rows.images.len()
        + rows.rules.len()
        + rows.recipes.len()
        + rows.recipe_ingredients.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digits() {
        assert_eq!(ean13(400_638_133_393), "4006381333931");
        assert_eq!(ean13(590_123_412_345), "5901234123457");
        assert_eq!(ean13(7), "0000000000079");
    }

    #[test]
    fn demo_rows_are_consistent() {
        let rows = demo_rows();
        let mut skus = std::collections::HashSet::new();
        for variant in &rows.variants {
            assert!(skus.insert((variant.organization_id, variant.sku.clone())), "duplicate sku {}", variant.sku);
            assert_eq!(variant.tax_rate, Decimal::new(19, 0));
            assert_eq!(variant.barcode.as_deref().map(str::len), Some(13));
        }
        let primaries = rows.images.iter().filter(|i| i.is_primary).count();
        assert_eq!(primaries, rows.products.len());
        assert_eq!(value_code("Azul marino"), "AZU");
    }
}
