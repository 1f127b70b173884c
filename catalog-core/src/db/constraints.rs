//! Turns database errors into domain errors. The database is the last word on uniqueness
//! (concurrent creates of one SKU race to a unique index), so its constraint names map to the
//! same stable codes the domain checks use.

use crate::error::{Entity, Error, FieldError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Partial unique indexes and unique constraints → (code, field, message).
const UNIQUE: &[(&str, &str, &str, &str)] = &[
    ("products_org_sku_live", "PRODUCT_SKU_EXISTS", "sku", "a product with this SKU already exists"),
    ("products_org_slug_live", "PRODUCT_SLUG_EXISTS", "slug", "a product with this slug already exists"),
    ("products_org_barcode_live", "PRODUCT_BARCODE_EXISTS", "barcode", "a product with this barcode already exists"),
    ("variants_org_sku_live", "VARIANT_SKU_EXISTS", "sku", "a variant with this SKU already exists"),
    ("variants_org_barcode_live", "VARIANT_BARCODE_EXISTS", "barcode", "a variant with this barcode already exists"),
    (
        "variants_product_options_live",
        "VARIANT_OPTIONS_EXIST",
        "options",
        "another variant of this product has the same option values",
    ),
    ("brands_org_slug_live", "BRAND_SLUG_EXISTS", "slug", "a brand with this slug already exists"),
    ("brands_org_name_live", "BRAND_NAME_EXISTS", "name", "a brand with this name already exists"),
    ("options_org_name_live", "OPTION_NAME_EXISTS", "name", "an option with this name already exists"),
    ("option_values_option_value", "OPTION_VALUE_EXISTS", "value", "this option already has this value"),
    ("collections_org_slug_live", "COLLECTION_SLUG_EXISTS", "slug", "a collection with this slug already exists"),
    ("tags_org_name_live", "TAG_NAME_EXISTS", "name", "a tag with this name already exists"),
    ("tags_org_slug_live", "TAG_SLUG_EXISTS", "slug", "a tag with this slug already exists"),
    ("price_tiers_org_name_live", "PRICE_TIER_NAME_EXISTS", "name", "a price tier with this name already exists"),
    ("price_tiers_org_slug_live", "PRICE_TIER_SLUG_EXISTS", "slug", "a price tier with this slug already exists"),
    (
        "price_tier_rules_price_tier_id_variant_id_min_qty_key",
        "PRICE_TIER_RULE_EXISTS",
        "min_qty",
        "this tier already has a rule for this variant and quantity",
    ),
    ("product_images_one_primary", "IMAGE_PRIMARY_EXISTS", "is_primary", "the product already has a primary image"),
    ("variant_images_one_primary", "IMAGE_PRIMARY_EXISTS", "is_primary", "the variant already has a primary image"),
];

/// Foreign keys a caller can violate by naming a missing (or foreign) row → (entity, field).
const FOREIGN: &[(&str, Entity, &str)] = &[
    ("products_organization_id_brand_id_fkey", Entity::Product, "brand_id"),
    ("product_variants_organization_id_product_id_fkey", Entity::Variant, "product_id"),
    ("collections_organization_id_parent_id_fkey", Entity::Collection, "parent_id"),
    ("collection_products_organization_id_product_id_fkey", Entity::Collection, "product_ids"),
    ("collection_products_organization_id_collection_id_fkey", Entity::Collection, "collection_id"),
    ("product_tags_organization_id_tag_id_fkey", Entity::Tag, "tag_ids"),
    ("product_tags_organization_id_product_id_fkey", Entity::Tag, "product_id"),
    ("price_tier_rules_organization_id_variant_id_fkey", Entity::PriceTierRule, "variant_id"),
    ("price_tier_rules_organization_id_price_tier_id_fkey", Entity::PriceTierRule, "price_tier_id"),
    ("product_option_assignments_organization_id_option_id_fkey", Entity::Product, "options"),
    ("variant_option_values_value_fkey", Entity::Variant, "options"),
];

pub fn classify(err: DieselError) -> Error {
    match err {
        DieselError::DatabaseError(kind, info) => {
            let constraint = info.constraint_name().unwrap_or_default();
            match kind {
                DatabaseErrorKind::UniqueViolation => match UNIQUE.iter().find(|(name, ..)| *name == constraint) {
                    Some((_, code, field, message)) => {
                        Error::Conflict { code, message: (*message).to_string(), field: Some(field) }
                    }
                    None => {
                        Error::Conflict { code: "CONFLICT", message: "the resource already exists".into(), field: None }
                    }
                },
                DatabaseErrorKind::ForeignKeyViolation => match FOREIGN.iter().find(|(name, ..)| *name == constraint) {
                    Some((_, entity, field)) => Error::Validation {
                        entity: *entity,
                        fields: vec![FieldError::new(*field, "refers to something that does not exist")],
                    },
                    None => Error::Internal(format!("foreign key violation {constraint}: {}", info.message())),
                },
                DatabaseErrorKind::CheckViolation => {
                    let (entity, field) = check_field(info.table_name().unwrap_or_default(), constraint);
                    Error::Validation { entity, fields: vec![FieldError::new(field, "is out of range")] }
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure => {
                    Error::Unavailable(info.message().to_string())
                }
                _ if is_transient_message(info.message()) => Error::Unavailable(info.message().to_string()),
                _ => Error::Internal(format!("database error: {}", info.message())),
            }
        }
        DieselError::BrokenTransactionManager => Error::Unavailable("transaction manager broken".into()),
        other => Error::Internal(format!("database error: {other}")),
    }
}

/// Statement timeouts, admin shutdowns and lost connections surface as plain messages.
fn is_transient_message(message: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "statement timeout",
        "terminating connection",
        "connection closed",
        "the database system is",
        "Connection refused",
    ];
    TRANSIENT.iter().any(|t| message.contains(t))
}

/// PostgreSQL names column checks `<table>_<column>_check`.
fn check_field(table: &str, constraint: &str) -> (Entity, String) {
    let entity = match table {
        "products" => Entity::Product,
        "product_variants" => Entity::Variant,
        "brands" => Entity::Brand,
        "collections" => Entity::Collection,
        "tags" => Entity::Tag,
        "product_options" => Entity::Option,
        "product_option_values" => Entity::OptionValue,
        "price_tiers" => Entity::PriceTier,
        "price_tier_rules" => Entity::PriceTierRule,
        _ => Entity::Image,
    };
    let field = constraint
        .strip_prefix(table)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.strip_suffix("_check"))
        .unwrap_or(constraint);
    (entity, field.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_constraint_names_become_field_names() {
        assert_eq!(check_field("products", "products_alert_stock_check"), (Entity::Product, "alert_stock".into()));
        assert_eq!(
            check_field("product_variants", "product_variants_sale_price_check"),
            (Entity::Variant, "sale_price".into())
        );
    }
}
