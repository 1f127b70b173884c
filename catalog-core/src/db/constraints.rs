//! Turns database errors into domain errors. The database is the last word on uniqueness
//! (concurrent creates of one SKU race to a unique index), so its constraint names map to the
//! same stable codes the domain checks use.

use crate::error::{Entity, Error, FieldError};
use diesel::OptionalExtension;
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
    (
        "collections_org_parent_name_live",
        "COLLECTION_NAME_EXISTS",
        "name",
        "a sibling collection already has this name",
    ),
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
const FOREIGN: &[(&str, Entity, &str, Entity)] = &[
    ("products_organization_id_brand_id_fkey", Entity::Product, "brand_id", Entity::Brand),
    ("product_variants_organization_id_product_id_fkey", Entity::Variant, "product_id", Entity::Product),
    ("collections_organization_id_parent_id_fkey", Entity::Collection, "parent_id", Entity::Collection),
    ("collection_products_organization_id_product_id_fkey", Entity::Collection, "product_ids", Entity::Product),
    ("collection_products_organization_id_collection_id_fkey", Entity::Collection, "collection_id", Entity::Collection),
    ("product_tags_organization_id_tag_id_fkey", Entity::Tag, "tag_ids", Entity::Tag),
    ("product_tags_organization_id_product_id_fkey", Entity::Tag, "product_id", Entity::Product),
    ("price_tier_rules_organization_id_variant_id_fkey", Entity::PriceTierRule, "variant_id", Entity::Variant),
    ("price_tier_rules_organization_id_price_tier_id_fkey", Entity::PriceTierRule, "price_tier_id", Entity::PriceTier),
    ("product_option_assignments_organization_id_option_id_fkey", Entity::Product, "options", Entity::ProductOption),
    ("variant_option_values_value_fkey", Entity::Variant, "options", Entity::OptionValue),
    // Not a foreign key: a trigger refusing a local the Auth Service deleted or deactivated.
    ("products_local_retired", Entity::Product, "local_id", Entity::Local),
];

impl From<bb8::RunError<diesel_async::pooled_connection::PoolError>> for Error {
    fn from(err: bb8::RunError<diesel_async::pooled_connection::PoolError>) -> Self {
        Error::Unavailable(format!("database pool: {err}"))
    }
}

impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        classify(err)
    }
}

/// Every constraint (or trigger-raised) name [`classify`] knows: a test checks each exists in
/// the migrated schema, so a renamed constraint cannot silently become a generic error.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    UNIQUE.iter().map(|(name, ..)| *name).chain(FOREIGN.iter().map(|(name, ..)| *name))
}

/// Maps a database error to the domain error the edges answer.
pub fn classify(err: DieselError) -> Error {
    match err {
        DieselError::DatabaseError(kind, info) => {
            let constraint = info.constraint_name().unwrap_or_default();
            match kind {
                DatabaseErrorKind::UniqueViolation => match UNIQUE.iter().find(|(name, ..)| *name == constraint) {
                    Some((_, code, field, message)) => Error::Conflict {
                        code,
                        message: (*message).to_string(),
                        field: Some(field),
                        key: clashing_key(info.details().unwrap_or_default()),
                    },
                    None => Error::Conflict {
                        code: "CONFLICT",
                        message: "the resource already exists".into(),
                        field: None,
                        key: Vec::new(),
                    },
                },
                DatabaseErrorKind::ForeignKeyViolation => match FOREIGN.iter().find(|(name, ..)| *name == constraint) {
                    Some((_, entity, field, missing)) => Error::missing(*entity, *field, *missing),
                    None => Error::Internal(format!("foreign key violation {constraint}: {}", info.message())),
                },
                DatabaseErrorKind::CheckViolation => {
                    let table = info.table_name().unwrap_or_default();
                    match check_field(table, constraint) {
                        Some((entity, field)) => {
                            Error::Validation { entity, fields: vec![FieldError::new(field, "is out of range")] }
                        }
                        // A check on a table no request writes: the service's own bug.
                        None => Error::Internal(format!("check violation {constraint} on {table}: {}", info.message())),
                    }
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure => {
                    Error::Unavailable(info.message().to_string())
                }
                _ if is_transient_message(info.message()) => Error::Unavailable(info.message().to_string()),
                _ => Error::Internal(format!("database error: {}", info.message())),
            }
        }
        DieselError::BrokenTransactionManager => Error::Unavailable("transaction manager broken".into()),
        other => Error::internal_from("database error", &other),
    }
}

/// The columns and values of a unique violation's key, from PostgreSQL's detail
/// `Key (organization_id, lower(name))=(<uuid>, adidas) already exists.`, without the
/// organization: `[("name", "adidas")]`. Expressions name their column (`lower(name)` → `name`).
pub(crate) fn clashing_key(detail: &str) -> Vec<(String, String)> {
    let Some(rest) = detail.strip_prefix("Key (") else { return Vec::new() };
    let Some((columns, rest)) = split_top_level(rest) else { return Vec::new() };
    let Some(values) = rest.strip_prefix("=(").and_then(|v| v.strip_suffix(") already exists.")) else {
        return Vec::new();
    };
    let columns: Vec<String> = columns.iter().map(|c| column_name(c)).collect();
    // Values are not quoted: a comma inside the last one (a name) stays with it.
    let mut parts: Vec<String> = values.splitn(columns.len(), ", ").map(str::to_string).collect();
    parts.resize(columns.len(), String::new());
    columns.into_iter().zip(parts).filter(|(column, _)| column != "organization_id").collect()
}

/// `a, lower(b), coalesce(c, x))=…` → (["a", "lower(b)", "coalesce(c, x)"], "=…").
fn split_top_level(text: &str) -> Option<(Vec<&str>, &str)> {
    let (mut depth, mut start, mut columns) = (0usize, 0usize, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                columns.push(text[start..i].trim());
                return Some((columns, &text[i + 1..]));
            }
            ')' => depth -= 1,
            ',' if depth == 0 => {
                columns.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// `lower(name)` → `name`; `COALESCE(parent_id, '…'::uuid)` → `parent_id`.
fn column_name(expression: &str) -> String {
    let inner = expression.split_once('(').map_or(expression, |(_, rest)| rest);
    inner.split([',', ')']).next().unwrap_or(inner).trim().to_string()
}

/// Where a unique code's rows live: (code, table, the key column or expression it compares).
/// Live rows only; the key's values are those PostgreSQL reported.
const EXISTING: &[(&str, &str, &[&str])] = &[
    ("PRODUCT_SKU_EXISTS", "products", &["sku"]),
    ("PRODUCT_SLUG_EXISTS", "products", &["slug"]),
    ("PRODUCT_BARCODE_EXISTS", "products", &["barcode"]),
    ("VARIANT_SKU_EXISTS", "product_variants", &["sku"]),
    ("VARIANT_BARCODE_EXISTS", "product_variants", &["barcode"]),
    ("BRAND_SLUG_EXISTS", "brands", &["slug"]),
    ("BRAND_NAME_EXISTS", "brands", &["lower(name)"]),
    ("OPTION_NAME_EXISTS", "product_options", &["lower(name)"]),
    ("COLLECTION_SLUG_EXISTS", "collections", &["slug"]),
    ("TAG_NAME_EXISTS", "tags", &["lower(name)"]),
    ("TAG_SLUG_EXISTS", "tags", &["slug"]),
    ("PRICE_TIER_NAME_EXISTS", "price_tiers", &["lower(name)"]),
    ("PRICE_TIER_SLUG_EXISTS", "price_tiers", &["slug"]),
    ("PRICE_TIER_RULE_EXISTS", "price_tier_rules", &["price_tier_id::text", "variant_id::text", "min_qty::text"]),
];

#[derive(diesel::QueryableByName)]
struct FoundId {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
}

/// The id of the row a unique violation clashed with, looked up after the failed write's
/// transaction ended, for the `existing_*_id` a 409 answers. `None` when the code is not a
/// uniqueness code, the key was not reported, or the row is gone meanwhile.
pub async fn existing_id(
    conn: &mut crate::db::PgConn,
    org: crate::ids::OrganizationId,
    code: &str,
    key: &[(String, String)],
) -> crate::error::Result<Option<uuid::Uuid>> {
    use diesel::sql_types::{Text, Uuid as SqlUuid};
    use diesel_async::RunQueryDsl;
    let Some((_, table, columns)) = EXISTING.iter().find(|(c, ..)| *c == code) else { return Ok(None) };
    if key.len() != columns.len() {
        return Ok(None);
    }
    let live = if *table == "price_tier_rules" { "" } else { " AND deleted_at IS NULL" };
    let conditions: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 2)).collect();
    let sql =
        format!("SELECT id FROM {table} WHERE organization_id = $1{live} AND {} LIMIT 1", conditions.join(" AND "));
    let mut query = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>().bind::<SqlUuid, _>(org.0);
    for (_, value) in key {
        query = query.bind::<Text, _>(value.clone());
    }
    Ok(query.get_result::<FoundId>(conn).await.optional()?.map(|found| found.id))
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

/// The tables requests write, and the entity each holds.
pub const CHECKED_TABLES: &[(&str, Entity)] = &[
    ("products", Entity::Product),
    ("product_variants", Entity::Variant),
    ("brands", Entity::Brand),
    ("collections", Entity::Collection),
    ("tags", Entity::Tag),
    ("product_options", Entity::ProductOption),
    ("product_option_values", Entity::OptionValue),
    ("price_tiers", Entity::PriceTier),
    ("price_tier_rules", Entity::PriceTierRule),
    ("product_images", Entity::Image),
    ("variant_images", Entity::Image),
    ("product_recipes", Entity::Recipe),
    ("recipe_ingredients", Entity::Recipe),
];

/// PostgreSQL names column checks `<table>_<column>_check`.
fn check_field(table: &str, constraint: &str) -> Option<(Entity, String)> {
    let entity = CHECKED_TABLES.iter().find(|(name, _)| *name == table).map(|(_, entity)| *entity)?;
    let field = constraint
        .strip_prefix(table)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.strip_suffix("_check"))
        .unwrap_or(constraint);
    Some((entity, field.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violation_details_name_the_clashing_values() {
        let org = "0190f0e1-0000-7000-8000-000000000001";
        assert_eq!(
            clashing_key(&format!("Key (organization_id, sku)=({org}, MOUSE-001) already exists.")),
            vec![("sku".to_string(), "MOUSE-001".to_string())]
        );
        assert_eq!(
            clashing_key(&format!("Key (organization_id, lower(name))=({org}, Café, con leche) already exists.")),
            vec![("name".to_string(), "Café, con leche".to_string())]
        );
        assert_eq!(
            clashing_key(&format!(
                "Key (organization_id, COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name))=({org}, {org}, tablets) already exists."
            )),
            vec![("parent_id".to_string(), org.to_string()), ("name".to_string(), "tablets".to_string())]
        );
        assert_eq!(clashing_key("something else"), Vec::<(String, String)>::new());
    }

    #[test]
    fn check_constraint_names_become_field_names() {
        assert_eq!(
            check_field("products", "products_alert_stock_check"),
            Some((Entity::Product, "alert_stock".into()))
        );
        assert_eq!(
            check_field("product_variants", "product_variants_sale_price_check"),
            Some((Entity::Variant, "sale_price".into()))
        );
        assert_eq!(check_field("variant_stock", "variant_stock_total_check"), None);
    }
}
