//! Variants: the sellable units of a product (SKU, barcode, price) and their option values.

use super::outbox;
use super::published::{self, Aggregate, change};
use super::{check_version, counted_page, found, soft_delete, tenant_reads, update_versioned};
use crate::db::PgConn;
use crate::error::{Entity, Error, FieldError, Result};
use crate::ids::{OptionId, OptionValueId, OrganizationId, ProductId, VariantId};
use crate::models::{Actor, NewVariant, ProductStatus, Variant, VariantChanges, max_chars};
use crate::organizations::Standing;
use crate::pagination::{Page, PageRequest};
use crate::schema::{
    organization_states, product_option_assignments, product_option_values, product_options, product_variants,
    products, variant_option_values,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::HashSet;

tenant_reads!(product_variants, Variant, VariantId, Entity::Variant);

/// The live product's `(has_variants, version)`, locked: variants of one product are created
/// one at a time, which keeps the `has_variants` flip and its version bump race-free.
async fn lock_product(conn: &mut PgConn, org: OrganizationId, id: ProductId) -> Result<(bool, i32)> {
    let row = products::table
        .filter(products::organization_id.eq(org))
        .filter(products::id.eq(id))
        .filter(products::deleted_at.is_null())
        .select((products::has_variants, products::version))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    found(row, Entity::Product)
}

// NUMERIC(p,s) bounds of the columns: a larger value would be a database overflow error.
const MONEY_LIMIT: i64 = 10_000_000_000; // numeric(12,2)
const WEIGHT_LIMIT: i64 = 10_000_000; // numeric(10,3)
const DIMENSION_LIMIT: i64 = 100_000_000; // numeric(10,2)

/// Every field rule of a variant, all failing fields at once (REST reuses it for early 400s).
pub fn validate(new: &NewVariant) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| errors.push(FieldError::new(field, message));

    if new.sku.trim().is_empty() {
        fail("sku", "is required".into());
    } else if new.sku.chars().count() > max_chars::SKU {
        fail("sku", format!("must be at most {} characters", max_chars::SKU));
    }
    if let Some(barcode) = &new.barcode {
        if barcode.trim().is_empty() {
            fail("barcode", "must not be blank (omit it instead)".into());
        } else if barcode.chars().count() > max_chars::BARCODE {
            fail("barcode", format!("must be at most {} characters", max_chars::BARCODE));
        }
    }
    if new.sale_price <= Decimal::ZERO {
        fail("sale_price", "must be greater than 0".into());
    } else if new.sale_price >= Decimal::from(MONEY_LIMIT) {
        fail("sale_price", format!("must be less than {MONEY_LIMIT}"));
    }
    let optional_amounts = [
        ("cost_price", new.cost_price, MONEY_LIMIT),
        ("compare_at_price", new.compare_at_price, MONEY_LIMIT),
        ("weight", new.weight, WEIGHT_LIMIT),
        ("dim_length", new.dim_length, DIMENSION_LIMIT),
        ("dim_width", new.dim_width, DIMENSION_LIMIT),
        ("dim_height", new.dim_height, DIMENSION_LIMIT),
    ];
    for (field, value, limit) in optional_amounts {
        match value {
            Some(v) if v < Decimal::ZERO => fail(field, "must be 0 or more".into()),
            Some(v) if v >= Decimal::from(limit) => fail(field, format!("must be less than {limit}")),
            _ => {}
        }
    }
    if new.tax_rate < Decimal::ZERO || new.tax_rate > Decimal::ONE_HUNDRED {
        fail("tax_rate", "must be between 0 and 100".into());
    }
    if new.default_min_stock < 0 {
        fail("default_min_stock", "must be 0 or more".into());
    }
    if new.default_max_stock < new.default_min_stock {
        fail("default_max_stock", "must be at least default_min_stock".into());
    }
    errors
}

/// A variant's resolved option values.
pub(crate) struct Combination {
    /// Option name → value, what clients read.
    pub attributes: Value,
    /// Sorted `option_id=value_id` pairs: the unique index compares combinations with it.
    pub signature: String,
    pub links: Vec<(OptionId, OptionValueId)>,
}

/// Checks `chosen` against the product's declared options (in order, with names) and the
/// values found for them. Pure, so the rules are readable in one place.
pub(crate) fn combine(
    declared: &[(OptionId, String)],
    chosen: &[OptionValueId],
    values: &[(OptionValueId, OptionId, String)],
) -> std::result::Result<Option<Combination>, Vec<FieldError>> {
    let missing = |id: &OptionValueId| {
        FieldError::missing_because("options", Entity::OptionValue, format!("option value {id} does not exist"))
    };
    if declared.is_empty() {
        let unknown: Vec<FieldError> =
            chosen.iter().filter(|id| !values.iter().any(|(v, ..)| v == *id)).map(missing).collect();
        return match chosen {
            [] => Ok(None),
            // Ids naming nothing are the clearer answer (and the 404 of every other missing id).
            _ if !unknown.is_empty() => Err(unknown),
            _ => Err(vec![FieldError::new("options", "the product declares no options; give no option values")]),
        };
    }
    let mut problems = Vec::new();
    let mut picked: Vec<(OptionId, OptionValueId, &str)> = Vec::with_capacity(chosen.len());
    for id in chosen {
        let Some((value_id, option_id, value)) = values.iter().find(|(v, ..)| v == id) else {
            problems.push(missing(id));
            continue;
        };
        let Some((_, name)) = declared.iter().find(|(o, _)| o == option_id) else {
            problems.push(FieldError::new(
                "options",
                format!("option value {id} belongs to an option the product does not declare"),
            ));
            continue;
        };
        if picked.iter().any(|(o, ..)| o == option_id) {
            problems.push(FieldError::new("options", format!("more than one value for option {name}")));
            continue;
        }
        picked.push((*option_id, *value_id, value));
    }
    for (option_id, name) in declared {
        if !picked.iter().any(|(o, ..)| o == option_id) {
            problems.push(FieldError::new("options", format!("missing a value for option {name}")));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut attributes = Map::new();
    for (option_id, name) in declared {
        if let Some((.., value)) = picked.iter().find(|(o, ..)| o == option_id) {
            attributes.insert(name.clone(), Value::String((*value).to_string()));
        }
    }
    let mut pairs: Vec<String> = picked.iter().map(|(o, v, _)| format!("{o}={v}")).collect();
    pairs.sort();
    Ok(Some(Combination {
        attributes: Value::Object(attributes),
        signature: pairs.join(","),
        links: picked.into_iter().map(|(o, v, _)| (o, v)).collect(),
    }))
}

/// Loads the product's declared options and the chosen values (one query each) and combines
/// them. `Ok(Err(..))` carries the option problems, to be reported with the field errors.
async fn resolve_options(
    conn: &mut PgConn,
    org: OrganizationId,
    product_id: ProductId,
    chosen: &[OptionValueId],
) -> Result<std::result::Result<Option<Combination>, Vec<FieldError>>> {
    let declared: Vec<(OptionId, String)> = product_option_assignments::table
        .inner_join(
            product_options::table.on(product_options::id
                .eq(product_option_assignments::option_id)
                .and(product_options::organization_id.eq(product_option_assignments::organization_id))),
        )
        .filter(product_option_assignments::organization_id.eq(org))
        .filter(product_options::organization_id.eq(org))
        .filter(product_option_assignments::product_id.eq(product_id))
        .filter(product_options::deleted_at.is_null())
        .order((product_option_assignments::position.asc(), product_options::id.asc()))
        .select((product_options::id, product_options::name))
        .load(conn)
        .await?;
    let values: Vec<(OptionValueId, OptionId, String)> = if chosen.is_empty() {
        Vec::new()
    } else {
        product_option_values::table
            .filter(product_option_values::organization_id.eq(org))
            .filter(product_option_values::id.eq_any(chosen))
            .select((product_option_values::id, product_option_values::option_id, product_option_values::value))
            .load(conn)
            .await?
    };
    Ok(combine(&declared, chosen, &values))
}

/// Creates a variant of a live product with one value per option the product declares.
/// Marks the product `has_variants` (bumping its version, with its `product.updated` event).
/// Option problems are reported on `options`.
pub async fn create(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    new: NewVariant,
    option_values: &[OptionValueId],
) -> Result<Variant> {
    let draft = VariantDraft {
        new,
        option_value_ids: option_values.to_vec(),
        named_value: None,
        reported: Vec::new(),
        unparsed: HashSet::new(),
    };
    create_draft(conn, org, actor, draft, "options").await
}

/// A variant as a request asks for it.
#[derive(Debug)]
pub struct VariantDraft {
    pub new: NewVariant,
    /// One value per option the product declares, by id...
    pub option_value_ids: Vec<OptionValueId>,
    /// ...and/or one by option and name (the pages' `option_id` + `option_value`), added to the
    /// option when it lacks it.
    pub named_value: Option<(OptionId, String)>,
    /// Field errors the request already has (malformed values, replaced by stand-ins in
    /// `new`): reported together with the rules' and the options' problems, in one answer.
    pub reported: Vec<FieldError>,
    /// Fields whose stand-in values the rules must not judge (they failed to parse).
    pub unparsed: HashSet<String>,
}

/// Creates a [`VariantDraft`] as [`create`] does, or fails with every problem at once: the
/// draft's own, the variant rules' and the options' (named `options_field`). Nothing is written
/// unless there is none.
pub async fn create_draft(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    draft: VariantDraft,
    options_field: &'static str,
) -> Result<Variant> {
    let VariantDraft { mut new, mut option_value_ids, named_value, reported, unparsed } = draft;
    new.organization_id = org;
    // The signature is ours to compute, never the caller's.
    new.option_signature = None;
    let reported_fields: HashSet<String> = reported.iter().map(|e| e.field.clone()).collect();
    let mut problems = reported;
    problems.extend(
        validate(&new).into_iter().filter(|e| !unparsed.contains(&e.field) && !reported_fields.contains(&e.field)),
    );
    conn.transaction(async move |conn| {
        let (has_variants, product_version) = lock_product(conn, org, new.product_id).await?;
        if let Some((option_id, value)) = &named_value {
            match super::options::value_by_name(conn, org, actor, *option_id, value).await {
                Ok(value_id) => option_value_ids.push(value_id),
                Err(Error::NotFound(_)) => problems.push(FieldError::new(options_field, "no such option")),
                Err(err) => return Err(err),
            }
        }
        let mut links = Vec::new();
        match resolve_options(conn, org, new.product_id, &option_value_ids).await? {
            Ok(Some(combination)) => {
                new.attributes = combination.attributes;
                new.option_signature = Some(combination.signature);
                links = combination.links;
            }
            Ok(None) => {}
            Err(option_problems) => {
                problems.extend(option_problems.into_iter().map(|e| FieldError::new(options_field, e.message)));
            }
        }
        if !problems.is_empty() {
            return Err(Error::validation(Entity::Variant, problems));
        }

        let variant = diesel::insert_into(product_variants::table)
            .values(&new)
            .returning(Variant::as_returning())
            .get_result(conn)
            .await?;
        if !links.is_empty() {
            let rows: Vec<_> = links
                .iter()
                .map(|(option_id, value_id)| {
                    (
                        variant_option_values::organization_id.eq(org),
                        variant_option_values::variant_id.eq(variant.id),
                        variant_option_values::option_id.eq(*option_id),
                        variant_option_values::option_value_id.eq(*value_id),
                    )
                })
                .collect();
            diesel::insert_into(variant_option_values::table).values(rows).execute(conn).await?;
        }

        let mut events = Vec::new();
        if !has_variants {
            let version = product_version + 1;
            diesel::update(
                products::table.filter(products::organization_id.eq(org)).filter(products::id.eq(new.product_id)),
            )
            .set((products::has_variants.eq(true), products::version.eq(version), products::updated_at.eq(Utc::now())))
            .execute(conn)
            .await?;
            let changes = change("has_variants", false, true);
            events.push(published::updated(Aggregate::Product, new.product_id, version, &changes));
        }
        events.push(published::variant_created(&variant));
        outbox::append(conn, org, actor, events).await?;
        Ok(variant)
    })
    .await
}

/// The live variants of many products in one statement, ordered by product, position, id.
pub async fn list_for_products(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<Variant>> {
    Ok(live(org)
        .filter(product_variants::product_id.eq_any(product_ids))
        .order((product_variants::product_id.asc(), product_variants::position.asc(), product_variants::id.asc()))
        .select(Variant::as_select())
        .load(conn)
        .await?)
}

/// What a price rule shows of its variant: SKU, product title and sale price.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct VariantSummary {
    pub variant_id: VariantId,
    pub sku: String,
    pub product_name: String,
    /// The variant's `sale_price`.
    #[schema(value_type = String)]
    pub base_price: Decimal,
}

/// Summaries of live or deleted variants of the organization, in one statement.
pub async fn summaries(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: &[VariantId],
) -> Result<std::collections::HashMap<VariantId, VariantSummary>> {
    let rows: Vec<(VariantId, String, String, Decimal)> = product_variants::table
        .inner_join(products::table.on(products::id.eq(product_variants::product_id)))
        .filter(product_variants::organization_id.eq(org))
        .filter(products::organization_id.eq(org))
        .filter(product_variants::id.eq_any(ids))
        .select((product_variants::id, product_variants::sku, products::title, product_variants::sale_price))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(variant_id, sku, product_name, base_price)| {
            (variant_id, VariantSummary { variant_id, sku, product_name, base_price })
        })
        .collect())
}

/// The variant list filters page 10 documents; all combine (AND).
#[derive(Debug, Clone, Default)]
pub struct VariantFilter {
    pub is_active: Option<bool>,
    /// One of the variant's option values (`attributes`), case-insensitive.
    pub option_value: Option<String>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    /// Stock available over all warehouses (the stock read model, [`crate::stock`]).
    pub in_stock: Option<bool>,
}

/// One product's live variants, keyset-paginated by id.
pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    product_id: ProductId,
    filter: &VariantFilter,
    page: &PageRequest,
) -> Result<Page<Variant>> {
    let filtered = || {
        let mut query = live(org).filter(product_variants::product_id.eq(product_id));
        if let Some(active) = filter.is_active {
            query = query.filter(product_variants::is_active.eq(active));
        }
        if let Some(min) = filter.min_price {
            query = query.filter(product_variants::sale_price.ge(min));
        }
        if let Some(max) = filter.max_price {
            query = query.filter(product_variants::sale_price.le(max));
        }
        if let Some(value) = &filter.option_value {
            // Any value of the attributes object, compared case-insensitively.
            query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM jsonb_each_text(product_variants.attributes) a WHERE lower(a.value) = lower(",
        ).bind::<diesel::sql_types::Text, _>(value.trim().to_string()).sql("))"));
        }
        if let Some(in_stock) = filter.in_stock {
            // The variant's rows of the read model, by its primary key (organization, variant).
            let available = "(SELECT coalesce(sum(s.available), 0) FROM variant_stock s \
                 WHERE s.organization_id = product_variants.organization_id AND s.variant_id = product_variants.id)";
            let test = if in_stock { " > 0" } else { " <= 0" };
            query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(available).sql(test));
        }
        query
    };
    Ok(counted_page!(conn, page, page.keyset(), filtered(), Variant::as_select(), product_variants::id))
}

/// Applies `changes` if the caller's `expected_version` is current; the result must pass
/// [`validate`]. Option values are fixed at creation: changing `option_signature`, or the
/// `attributes` of a variant that has option values (they are derived), is refused.
/// A change that alters nothing keeps the version and publishes nothing.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: VariantId,
    expected_version: Option<i32>,
    changes: VariantChanges,
) -> Result<Variant> {
    let changes = changes.at_column_scale();
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        let mut problems = validate(&NewVariant::from(&changes.apply_to(&old)));
        if changes.option_signature.as_ref().is_some_and(|s| *s != old.option_signature) {
            problems.push(FieldError::new("options", "option values are fixed when the variant is created"));
        }
        if old.option_signature.is_some() && changes.attributes.as_ref().is_some_and(|a| *a != old.attributes) {
            problems.push(FieldError::new("attributes", "are derived from the variant's option values"));
        }
        if !problems.is_empty() {
            return Err(Error::validation(Entity::Variant, problems));
        }
        Ok(update_versioned!(
            conn,
            actor,
            product_variants,
            Variant,
            events = |old: &Variant, new: &Variant, changed| published::variant_updated(old, new, changed),
            old,
            changes
        ))
    })
    .await
}

/// Activates or deactivates a variant (`catalog.variant.updated`); no-op when already so.
pub async fn set_active(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: VariantId,
    expected_version: Option<i32>,
    active: bool,
) -> Result<Variant> {
    let changes = VariantChanges { is_active: Some(active), ..Default::default() };
    update(conn, org, actor, id, expected_version, changes).await
}

/// Soft delete: the SKU, barcode and option combination become reusable. A variant that
/// recipes use as an ingredient is refused (409 `VARIANT_IN_RECIPES`, naming them) unless
/// `force`: the recipes then go on deducting it until they are edited.
pub async fn delete(conn: &mut PgConn, org: OrganizationId, actor: &Actor, id: VariantId, force: bool) -> Result<()> {
    conn.transaction(async move |conn| {
        let variant = lock(conn, org, id).await?;
        if !force {
            super::recipes::refuse_in_use(conn, org, &[id], ("variant_id", id.into())).await?;
            crate::stock::refuse_if_stocked(conn, org, id).await?;
        }
        let version = soft_delete!(conn, product_variants, variant);
        let event = published::variant_deleted(id, variant.product_id, version);
        outbox::append(conn, org, actor, vec![event]).await?;
        Ok(())
    })
    .await
}

/// What a seller needs to know about a variant: it, its product's state and the
/// organization's. `is_active` is the verdict: variant active, product `active`, neither
/// deleted, organization neither suspended nor deactivated.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariantValidation {
    pub variant: Variant,
    pub product_status: ProductStatus,
    pub product_deleted: bool,
    /// Suspended, or deactivated, by the Auth Service (mirrored in `organization_states`).
    pub organization_suspended: bool,
    pub is_active: bool,
}

type ValidationRow =
    (Variant, ProductStatus, Option<DateTime<Utc>>, Option<bool>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The validation facts of many variants in ONE statement (diesel DSL: variants ⨝ products
/// LEFT JOIN organization_states), whatever the number of ids. Soft-deleted variants are
/// included so callers can answer "exists, not active"; missing and foreign ids are absent.
/// Rows come in no particular order, one per distinct found id.
pub async fn validate_many(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: &[VariantId],
) -> Result<Vec<VariantValidation>> {
    let rows: Vec<ValidationRow> = product_variants::table
        .inner_join(
            products::table.on(products::id
                .eq(product_variants::product_id)
                .and(products::organization_id.eq(product_variants::organization_id))),
        )
        .left_join(
            organization_states::table.on(organization_states::organization_id.eq(product_variants::organization_id)),
        )
        .filter(product_variants::organization_id.eq(org))
        .filter(products::organization_id.eq(org))
        .filter(product_variants::id.eq_any(ids))
        .select((
            Variant::as_select(),
            products::status,
            products::deleted_at,
            organization_states::suspended.nullable(),
            organization_states::suspended_until.nullable(),
            organization_states::deactivated_at.nullable(),
        ))
        .load(conn)
        .await?;
    let now = Utc::now();
    Ok(rows
        .into_iter()
        .map(|(variant, product_status, product_deleted_at, suspended, suspended_until, deactivated_at)| {
            let product_deleted = product_deleted_at.is_some();
            let organization_suspended =
                Standing::of(suspended.unwrap_or(false), suspended_until, deactivated_at, now) != Standing::Good;
            let is_active = variant.is_active
                && variant.deleted_at.is_none()
                && product_status == ProductStatus::Active
                && !product_deleted
                && !organization_suspended;
            VariantValidation { variant, product_status, product_deleted, organization_suspended, is_active }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> (OptionId, OptionId, Vec<(OptionId, String)>) {
        let (color, size) = (OptionId::generate(), OptionId::generate());
        (color, size, vec![(color, "Color".into()), (size, "Talla".into())])
    }

    #[test]
    fn a_combination_takes_one_value_per_declared_option() {
        let (color, size, declared) = declared();
        let (red, m) = (OptionValueId::generate(), OptionValueId::generate());
        let values = vec![(red, color, "Rojo".to_string()), (m, size, "M".to_string())];
        let Ok(Some(c)) = combine(&declared, &[m, red], &values) else { panic!("valid combination") };
        assert_eq!(c.attributes, serde_json::json!({ "Color": "Rojo", "Talla": "M" }));
        let Ok(Some(again)) = combine(&declared, &[red, m], &values) else { panic!("valid combination") };
        assert_eq!(c.signature, again.signature, "the signature does not depend on the order given");
        assert_eq!(c.links.len(), 2);
    }

    #[test]
    fn every_option_problem_is_reported() {
        let (color, _, declared) = declared();
        let (red, blue, unknown) = (OptionValueId::generate(), OptionValueId::generate(), OptionValueId::generate());
        let values = vec![(red, color, "Rojo".to_string()), (blue, color, "Azul".to_string())];
        let Err(problems) = combine(&declared, &[red, blue, unknown], &values) else { panic!("invalid") };
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(problems.len(), 3, "{messages:?}");
        assert!(problems.iter().all(|p| p.field == "options"));
        assert!(messages.iter().any(|m| m.contains("does not exist")));
        assert!(messages.iter().any(|m| m.contains("more than one value for option Color")));
        assert!(messages.iter().any(|m| m.contains("missing a value for option Talla")));
        let Err(problems) = combine(&[], &[red], &values) else { panic!("values for a product without options") };
        assert_eq!(
            (problems[0].refers_to, problems[0].message.as_str()),
            (None, "the product declares no options; give no option values")
        );
        // Values that exist nowhere are named as such first: the request's 404, as elsewhere.
        let Err(problems) = combine(&[], &[red, unknown], &values) else { panic!("unknown values") };
        assert_eq!(problems.iter().map(|p| p.refers_to).collect::<Vec<_>>(), [Some(Entity::OptionValue)]);
        assert!(matches!(combine(&[], &[], &values), Ok(None)));
    }
}
