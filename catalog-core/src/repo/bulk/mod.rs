//! Bulk upsert of products matched by SKU: up to [`MAX_ROWS`] products with their variants,
//! tags and collection memberships in a constant number of statements, whatever the row count
//! (reads: products, variants, brands, tags, collections, their links, slugs; writes: one upsert
//! per table, the links, the outbox).
//!
//! A row is the whole product as `POST /products` would create it: fields it omits take their
//! defaults, except `slug`, which a matched product keeps. Variants are matched by SKU within
//! the product; variants a row does not list are left as they are. `tag_ids` and
//! `collection_ids`, when given, replace the product's tags and memberships; `options` (ids or
//! names) the options it declares, whose values its variants take ([`options`]); `images` the
//! product's or a variant's images ([`images`]). A row that
//! would change nothing is `unchanged`: no write, no event. Each changed entity gets exactly
//! one event, as its single write would publish (a membership change is the collection's).

mod images;
mod options;

pub use images::BulkImage;
pub use options::OptionRef;

use super::changed_fields;
use super::outbox;
use super::published::{self, Changes, EventDraft, ImageOwner};
use crate::db::PgConn;
use crate::error::{Entity, FieldError, Result};
use crate::ids::{BrandId, CollectionId, OptionId, OptionValueId, OrganizationId, ProductId, TagId, VariantId};
use crate::models::{Actor, NewProduct, NewVariant, Product, ProductStatus, Variant};
use crate::schema::{
    brands, collection_products, collections, product_option_assignments, product_tags, product_variants, products,
    tags, variant_option_values,
};
use chrono::Utc;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Products per call.
pub const MAX_ROWS: usize = 1000;
/// Rows per multi-row statement: PostgreSQL takes at most 65,535 bind parameters.
const CHUNK: usize = 1500;

/// One validated row.
#[derive(Debug, Clone)]
pub struct BulkProduct {
    pub product: NewProduct,
    /// The row named a slug (else a new product's is generated and a matched one's kept).
    pub slug_given: bool,
    /// The product's variants (a simple product: its default variant, under the product SKU).
    pub variants: Vec<NewVariant>,
    /// `Some`: exactly these tags; `None`: the tags stay as they are.
    pub tag_ids: Option<Vec<TagId>>,
    /// `Some`: member of exactly these collections; `None`: memberships stay as they are.
    pub collection_ids: Option<Vec<CollectionId>>,
    /// `Some`: the product declares exactly these options, in order; `None`: they stay.
    pub options: Option<Vec<OptionRef>>,
    /// `option_value_ids[i]`: the values `variants[i]` takes; empty: read by option name from
    /// its `attributes` when the product declares options.
    pub option_value_ids: Vec<Vec<OptionValueId>>,
    /// `Some`: the product's images become exactly these, in order; `None`: they stay.
    pub images: Option<Vec<BulkImage>>,
    /// `variant_images[i]`: the same for `variants[i]`.
    pub variant_images: Vec<Option<Vec<BulkImage>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorPolicy {
    /// One failing row fails the call; nothing is written.
    #[default]
    AllOrNothing,
    /// Failing rows are reported; the others are written.
    PerRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    Created,
    Updated,
    Unchanged,
    Failed,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Created => "created",
            RowAction::Updated => "updated",
            RowAction::Unchanged => "unchanged",
            RowAction::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowResult {
    pub index: usize,
    pub action: RowAction,
    /// Absent for failed rows, and for new products in a dry run.
    #[schema(value_type = Option<String>)]
    pub product_id: Option<ProductId>,
    /// The row's variants, in its order (same absences as `product_id`).
    #[schema(value_type = Vec<String>)]
    pub variant_ids: Vec<VariantId>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    pub dry_run: bool,
    /// Whether the writes were made (false for a dry run, or when all_or_nothing met a failure).
    pub committed: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub results: Vec<RowResult>,
}

/// What the organization already has that the rows name: read in a fixed number of statements.
struct Existing {
    products_by_sku: HashMap<String, Product>,
    products_by_id: HashMap<ProductId, Product>,
    variants_by_sku: HashMap<String, Variant>,
    /// Barcode → the product or variant that holds it.
    product_barcodes: HashMap<String, ProductId>,
    variant_barcodes: HashMap<String, VariantId>,
    brands: HashSet<BrandId>,
    tags: HashSet<TagId>,
    tag_links: HashMap<ProductId, BTreeSet<TagId>>,
    collections: HashSet<CollectionId>,
    memberships: HashMap<ProductId, BTreeSet<CollectionId>>,
    slugs: HashSet<String>,
    /// Images of the matched products and variants, for rows that list images.
    product_images: HashMap<uuid::Uuid, Vec<images::StoredImage>>,
    variant_images: HashMap<uuid::Uuid, Vec<images::StoredImage>>,
}

async fn load_existing(conn: &mut PgConn, org: OrganizationId, rows: &[&BulkProduct]) -> Result<Existing> {
    let product_skus: Vec<&str> = rows.iter().map(|r| r.product.sku.as_str()).collect();
    let variant_skus: Vec<&str> = rows.iter().flat_map(|r| r.variants.iter().map(|v| v.sku.as_str())).collect();
    let product_barcodes: Vec<&str> = rows.iter().filter_map(|r| r.product.barcode.as_deref()).collect();
    let variant_barcodes: Vec<&str> =
        rows.iter().flat_map(|r| r.variants.iter().filter_map(|v| v.barcode.as_deref())).collect();
    let live_products =
        products::table.filter(products::organization_id.eq(org)).filter(products::deleted_at.is_null());
    let variants: Vec<Variant> = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .filter(product_variants::deleted_at.is_null())
        .filter(product_variants::sku.eq_any(&variant_skus).or(product_variants::barcode.eq_any(&variant_barcodes)))
        .select(Variant::as_select())
        .load(conn)
        .await?;
    let owner_ids: Vec<ProductId> = variants.iter().map(|v| v.product_id).collect();
    let found: Vec<Product> = live_products
        .filter(
            products::sku
                .eq_any(&product_skus)
                .or(products::barcode.eq_any(&product_barcodes))
                .or(products::id.eq_any(&owner_ids)),
        )
        .select(Product::as_select())
        .load(conn)
        .await?;
    let brand_ids: Vec<BrandId> = rows.iter().filter_map(|r| r.product.brand_id).collect();
    let brands: HashSet<BrandId> = if brand_ids.is_empty() {
        HashSet::new()
    } else {
        brands::table
            .filter(brands::organization_id.eq(org))
            .filter(brands::deleted_at.is_null())
            .filter(brands::id.eq_any(&brand_ids))
            .select(brands::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let tag_ids: Vec<TagId> = rows.iter().flat_map(|r| r.tag_ids.iter().flatten().copied()).collect();
    let tags: HashSet<TagId> = if tag_ids.is_empty() {
        HashSet::new()
    } else {
        tags::table
            .filter(tags::organization_id.eq(org))
            .filter(tags::deleted_at.is_null())
            .filter(tags::id.eq_any(&tag_ids))
            .select(tags::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let product_ids: Vec<ProductId> = found.iter().map(|p| p.id).collect();
    let mut tag_links: HashMap<ProductId, BTreeSet<TagId>> = HashMap::new();
    if rows.iter().any(|r| r.tag_ids.is_some()) && !product_ids.is_empty() {
        let links: Vec<(ProductId, TagId)> = product_tags::table
            .filter(product_tags::organization_id.eq(org))
            .filter(product_tags::product_id.eq_any(&product_ids))
            .select((product_tags::product_id, product_tags::tag_id))
            .load(conn)
            .await?;
        for (product, tag) in links {
            tag_links.entry(product).or_default().insert(tag);
        }
    }
    let collection_ids: Vec<CollectionId> =
        rows.iter().flat_map(|r| r.collection_ids.iter().flatten().copied()).collect();
    let collections: HashSet<CollectionId> = if collection_ids.is_empty() {
        HashSet::new()
    } else {
        collections::table
            .filter(collections::organization_id.eq(org))
            .filter(collections::deleted_at.is_null())
            .filter(collections::id.eq_any(&collection_ids))
            .select(collections::id)
            .load(conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut memberships: HashMap<ProductId, BTreeSet<CollectionId>> = HashMap::new();
    if rows.iter().any(|r| r.collection_ids.is_some()) && !product_ids.is_empty() {
        let links: Vec<(ProductId, CollectionId)> = collection_products::table
            .filter(collection_products::organization_id.eq(org))
            .filter(collection_products::product_id.eq_any(&product_ids))
            .select((collection_products::product_id, collection_products::collection_id))
            .load(conn)
            .await?;
        for (product, collection) in links {
            memberships.entry(product).or_default().insert(collection);
        }
    }
    // Every slug a generated one could collide with: the bases, then (only for bases already
    // taken, which is rare) their `-N` forms. LIKE cannot use the (organization, slug) index,
    // so it never runs over the whole organization for bases nobody uses yet.
    let bases: Vec<String> = rows.iter().map(|r| slug_base(r)).collect::<HashSet<_>>().into_iter().collect();
    let mut slugs: HashSet<String> = live_products
        .filter(products::slug.eq_any(&bases))
        .select(products::slug)
        .load(conn)
        .await?
        .into_iter()
        .collect();
    let patterns: Vec<String> = slugs.iter().map(|b| format!("{b}-%")).collect();
    if !patterns.is_empty() {
        let suffixed: Vec<String> = live_products
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("products.slug LIKE ANY(")
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(patterns)
                    .sql(")"),
            )
            .select(products::slug)
            .load(conn)
            .await?;
        slugs.extend(suffixed);
    }

    let product_images = if rows.iter().any(|r| r.images.is_some()) {
        let ids: Vec<uuid::Uuid> = found.iter().map(|p| p.id.into()).collect();
        images::load(conn, org, images::Owner::Product, &ids).await?
    } else {
        HashMap::new()
    };
    let variant_images = if rows.iter().any(|r| r.variant_images.iter().any(Option::is_some)) {
        let ids: Vec<uuid::Uuid> = variants.iter().map(|v| v.id.into()).collect();
        images::load(conn, org, images::Owner::Variant, &ids).await?
    } else {
        HashMap::new()
    };
    let mut existing = Existing {
        products_by_sku: HashMap::new(),
        products_by_id: HashMap::new(),
        variants_by_sku: HashMap::new(),
        product_barcodes: HashMap::new(),
        variant_barcodes: HashMap::new(),
        brands,
        tags,
        tag_links,
        collections,
        memberships,
        slugs,
        product_images,
        variant_images,
    };
    for product in found {
        if let Some(barcode) = &product.barcode {
            existing.product_barcodes.insert(barcode.clone(), product.id);
        }
        existing.products_by_sku.insert(product.sku.clone(), product.clone());
        existing.products_by_id.insert(product.id, product);
    }
    for variant in variants {
        if let Some(barcode) = &variant.barcode {
            existing.variant_barcodes.insert(barcode.clone(), variant.id);
        }
        existing.variants_by_sku.insert(variant.sku.clone(), variant);
    }
    Ok(existing)
}

fn slug_base(row: &BulkProduct) -> String {
    if row.slug_given { row.product.slug.clone() } else { super::products::base_slug(&row.product.title) }
}

/// One row's plan: what to write and which events to publish.
#[derive(Default)]
struct Plan {
    product: Option<NewProduct>,
    /// The product's status before and after, and its changes.
    product_event: Option<(ProductStatus, ProductStatus, Changes)>,
    variants: Vec<NewVariant>,
    tags: Option<(BTreeSet<TagId>, BTreeSet<TagId>)>,
    memberships: Option<(ProductId, BTreeSet<CollectionId>, BTreeSet<CollectionId>)>,
    /// The declared options, when they change.
    options: Option<Vec<OptionId>>,
    /// New variants' option values.
    option_links: Vec<(VariantId, OptionId, OptionValueId)>,
    images: Vec<(images::Owner, images::ImageChanges)>,
}

/// Matches every row and decides its action; `Err` carries the row's field errors.
fn plan_row(
    row: &BulkProduct,
    existing: &Existing,
    taken_slugs: &mut HashSet<String>,
    book: &mut options::OptionBook,
) -> std::result::Result<(RowAction, Plan, ProductId, Vec<VariantId>), Vec<FieldError>> {
    let mut errors = Vec::new();
    // Product SKU first, then the product that owns the row's variant SKUs.
    let mut matched = existing.products_by_sku.get(&row.product.sku);
    if matched.is_none() {
        let owners: BTreeSet<ProductId> =
            row.variants.iter().filter_map(|v| existing.variants_by_sku.get(&v.sku)).map(|v| v.product_id).collect();
        if owners.len() == 1 {
            matched = owners.iter().next().and_then(|id| existing.products_by_id.get(id));
        }
    }
    let product_id = matched.map_or(row.product.id, |p| p.id);
    for (i, variant) in row.variants.iter().enumerate() {
        if existing.variants_by_sku.get(&variant.sku).is_some_and(|v| v.product_id != product_id) {
            errors.push(FieldError::new(format!("variants[{i}].sku"), "belongs to a variant of another product"));
        }
    }
    if row.product.brand_id.is_some_and(|b| !existing.brands.contains(&b)) {
        errors.push(FieldError::missing("brand_id", Entity::Brand));
    }
    for (i, collection) in row.collection_ids.iter().flatten().enumerate() {
        if !existing.collections.contains(collection) {
            errors.push(FieldError::missing(format!("collection_ids[{i}]"), Entity::Collection));
        }
    }
    if let Some(tag_ids) = &row.tag_ids {
        for (i, tag) in tag_ids.iter().enumerate() {
            if !existing.tags.contains(tag) {
                errors.push(FieldError::missing(format!("tag_ids[{i}]"), Entity::Tag));
            }
        }
    }
    if let Some(barcode) = &row.product.barcode
        && existing.product_barcodes.get(barcode).is_some_and(|holder| *holder != product_id)
    {
        errors.push(FieldError::new("barcode", "is already used by another product"));
    }
    let mut desired = row.product.clone();
    desired.id = product_id;
    match matched {
        Some(old) if !row.slug_given => desired.slug = old.slug.clone(),
        _ => {
            let base = slug_base(row);
            let keeps_own = matched.is_some_and(|old| old.slug == base);
            if row.slug_given {
                if taken_slugs.contains(&base) && !keeps_own {
                    errors.push(FieldError::new("slug", "is already used by another product"));
                }
                desired.slug = base;
            } else {
                desired.slug = free_slug(&base, taken_slugs);
            }
        }
    }

    let current_options = matched.and_then(|p| book.declared.get(&p.id)).cloned().unwrap_or_default();
    let declared = match row.options.as_deref().map(|refs| book.resolve(refs)) {
        Some(Ok(declared)) => declared,
        Some(Err(option_errors)) => {
            errors.extend(option_errors);
            current_options.clone()
        }
        None => current_options.clone(),
    };

    let mut plan = Plan::default();
    if let Some(wanted) = &row.images {
        errors.extend(images::check("images", wanted, crate::repo::images::MAX_PRODUCT_IMAGES));
        let current = existing.product_images.get(&product_id.into()).map_or(&[][..], Vec::as_slice);
        plan.images.push((images::Owner::Product, images::plan(ImageOwner::product(product_id), wanted, current)));
    }
    let mut variant_ids = Vec::with_capacity(row.variants.len());
    for (i, variant) in row.variants.iter().enumerate() {
        let mut wanted = variant.clone();
        wanted.product_id = product_id;
        let old = existing.variants_by_sku.get(&variant.sku).filter(|v| v.product_id == product_id);
        wanted.id = old.map_or(variant.id, |v| v.id);
        // A simple product's one variant is its default: it takes no option values.
        if row.product.has_variants {
            let prefix = format!("variants[{i}].");
            let given = row.option_value_ids.get(i).map_or(&[][..], Vec::as_slice);
            match book.apply(&declared, &mut wanted, options::VariantOptions { given, prefix: &prefix }, old) {
                Ok(links) => plan.option_links.extend(links.into_iter().map(|(o, v)| (wanted.id, o, v))),
                Err(option_errors) => errors.extend(option_errors),
            }
        }
        if let Some(barcode) = &wanted.barcode
            && existing.variant_barcodes.get(barcode).is_some_and(|holder| *holder != wanted.id)
        {
            errors.push(FieldError::new(format!("variants[{i}].barcode"), "is already used by another variant"));
        }
        if let Some(Some(listed)) = row.variant_images.get(i) {
            let field = format!("variants[{i}].images");
            errors.extend(images::check(&field, listed, crate::repo::images::MAX_VARIANT_IMAGES));
            let current = existing.variant_images.get(&wanted.id.into()).map_or(&[][..], Vec::as_slice);
            plan.images.push((
                images::Owner::Variant,
                images::plan(ImageOwner::variant(wanted.id, product_id), listed, current),
            ));
        }
        variant_ids.push(wanted.id);
        if old.is_none_or(|old| NewVariant::from(old) != wanted) {
            plan.variants.push(wanted);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    taken_slugs.insert(desired.slug.clone());

    let tag_change = set_change(row.tag_ids.as_deref(), existing.tag_links.get(&product_id));
    let options_change = (declared != current_options).then_some((current_options, declared));
    // Membership is the collection's (its version and event), not the product's.
    let membership_change = set_change(row.collection_ids.as_deref(), existing.memberships.get(&product_id));
    let action = match matched {
        None => {
            plan.product = Some(desired);
            RowAction::Created
        }
        Some(old) => {
            let fields_changed = NewProduct::from(old) != desired;
            if fields_changed || tag_change.is_some() || options_change.is_some() {
                let mut changes = if fields_changed {
                    changed_fields(&NewProduct::from(old), &desired)
                } else {
                    serde_json::Map::new()
                };
                if let Some((before, after)) = &tag_change {
                    changes.insert("tag_ids".into(), json!({ "old": before, "new": after }));
                }
                if let Some((before, after)) = &options_change {
                    changes.insert("options".into(), json!({ "old": before, "new": after }));
                }
                plan.product_event = Some((old.status, desired.status, changes));
                plan.product = Some(desired);
            }
            plan.images.retain(|(_, changes)| !changes.is_empty());
            let images_changed = !plan.images.is_empty();
            if plan.product.is_some() || !plan.variants.is_empty() || membership_change.is_some() || images_changed {
                RowAction::Updated
            } else {
                RowAction::Unchanged
            }
        }
    };
    plan.tags = tag_change;
    plan.options = options_change.map(|(_, after)| after);
    plan.memberships = membership_change.map(|(before, after)| (product_id, before, after));
    Ok((action, plan, product_id, variant_ids))
}

/// `(current, wanted)` when a row gives a set (`Some`) that differs from the current one.
fn set_change<T: Ord + Copy>(
    wanted: Option<&[T]>,
    current: Option<&BTreeSet<T>>,
) -> Option<(BTreeSet<T>, BTreeSet<T>)> {
    let wanted: BTreeSet<T> = wanted?.iter().copied().collect();
    let current = current.cloned().unwrap_or_default();
    (wanted != current).then_some((current, wanted))
}

fn free_slug(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2u32..).map(|n| format!("{base}-{n}")).find(|candidate| !taken.contains(candidate)).unwrap_or_default()
}

/// Upserts the rows (`Err`: the row failed validation, with its field errors). All reads and
/// writes happen in one transaction; a dry run plans without writing.
pub async fn upsert(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    rows: Vec<std::result::Result<BulkProduct, Vec<FieldError>>>,
    policy: ErrorPolicy,
    dry_run: bool,
) -> Result<BulkOutcome> {
    let actor = actor.clone();
    conn.transaction(async move |conn| upsert_in(conn, org, &actor, rows, policy, dry_run).await).await
}

async fn upsert_in(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut rows: Vec<std::result::Result<BulkProduct, Vec<FieldError>>>,
    policy: ErrorPolicy,
    dry_run: bool,
) -> Result<BulkOutcome> {
    for row in rows.iter_mut().flatten() {
        row.product.organization_id = org;
        for variant in &mut row.variants {
            variant.organization_id = org;
        }
    }
    mark_duplicates(&mut rows);
    let valid: Vec<&BulkProduct> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
    let existing = load_existing(conn, org, &valid).await?;
    let matched: Vec<ProductId> = existing.products_by_id.keys().copied().collect();
    let mut book = options::OptionBook::load(conn, org, &valid, &matched).await?;
    let mut taken_slugs = existing.slugs.clone();
    let mut results = Vec::with_capacity(rows.len());
    let mut plans = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let planned = match row {
            Err(errors) => Err(errors.clone()),
            Ok(row) => plan_row(row, &existing, &mut taken_slugs, &mut book),
        };
        match planned {
            Ok((action, plan, product_id, variant_ids)) => {
                results.push(RowResult { index, action, product_id: Some(product_id), variant_ids, errors: vec![] });
                plans.push((index, plan));
            }
            Err(errors) => results.push(RowResult {
                index,
                action: RowAction::Failed,
                product_id: None,
                variant_ids: vec![],
                errors,
            }),
        }
    }
    let failed = results.iter().filter(|r| r.action == RowAction::Failed).count();
    let blocked = failed > 0 && policy == ErrorPolicy::AllOrNothing;
    let committed = !dry_run && !blocked;
    if committed {
        write(conn, org, actor, plans, &existing, &book).await?;
    } else if dry_run {
        for result in results.iter_mut().filter(|r| r.action == RowAction::Created) {
            result.product_id = None;
            result.variant_ids.clear();
        }
    }
    let count = |action| results.iter().filter(|r| r.action == action).count();
    Ok(BulkOutcome {
        dry_run,
        committed,
        created: count(RowAction::Created),
        updated: count(RowAction::Updated),
        unchanged: count(RowAction::Unchanged),
        failed,
        results,
    })
}

/// A SKU may appear once per call (as a product's or as a variant's), and so may a product
/// barcode among products and a variant barcode among variants (the unique indexes' scopes):
/// every later row naming one again fails, naming the first row.
fn mark_duplicates(rows: &mut [std::result::Result<BulkProduct, Vec<FieldError>>]) {
    let mut first_seen: HashMap<(&'static str, String), usize> = HashMap::new();
    let mut clashes: Vec<(usize, FieldError)> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let Ok(row) = row else { continue };
        let mut own: Vec<(&'static str, String, String)> = vec![("SKU", "sku".into(), row.product.sku.clone())];
        if let Some(barcode) = &row.product.barcode {
            own.push(("product barcode", "barcode".into(), barcode.clone()));
        }
        for (i, variant) in row.variants.iter().enumerate() {
            // A simple product's default variant carries the product SKU: not a clash.
            if variant.sku != row.product.sku {
                own.push(("SKU", format!("variants[{i}].sku"), variant.sku.clone()));
            }
            if let Some(barcode) = &variant.barcode {
                own.push(("variant barcode", format!("variants[{i}].barcode"), barcode.clone()));
            }
        }
        for (kind, field, value) in own {
            match first_seen.get(&(kind, value.clone())) {
                Some(&other) => {
                    clashes.push((index, FieldError::new(field, format!("repeats a {kind} of row {other}"))));
                }
                None => {
                    first_seen.insert((kind, value), index);
                }
            }
        }
    }
    for (index, error) in clashes {
        match &mut rows[index] {
            Ok(_) => rows[index] = Err(vec![error]),
            Err(errors) => errors.push(error),
        }
    }
}

async fn write(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    plans: Vec<(usize, Plan)>,
    existing: &Existing,
    book: &options::OptionBook,
) -> Result<()> {
    let now = Utc::now();
    let mut declared: Vec<(ProductId, Vec<OptionId>)> = Vec::new();
    let mut option_links: Vec<(VariantId, OptionId, OptionValueId)> = Vec::new();
    let mut image_changes: HashMap<images::Owner, Vec<images::ImageChanges>> = HashMap::new();
    let mut product_rows = Vec::new();
    let mut variant_rows = Vec::new();
    let mut product_events: HashMap<ProductId, (ProductStatus, ProductStatus, Changes)> = HashMap::new();
    let mut tag_removals: Vec<(ProductId, TagId)> = Vec::new();
    let mut tag_additions: Vec<(ProductId, TagId)> = Vec::new();
    // Per collection: (products added, products removed).
    let mut membership_changes: BTreeMap<CollectionId, (Vec<ProductId>, Vec<ProductId>)> = BTreeMap::new();
    for (_, plan) in plans {
        option_links.extend(plan.option_links);
        for (owner, changes) in plan.images {
            image_changes.entry(owner).or_default().push(changes);
        }
        if let (Some(options), Some(product)) = (plan.options, &plan.product) {
            declared.push((product.id, options));
        }
        if let Some((product, before, after)) = &plan.memberships {
            for collection in after.difference(before) {
                membership_changes.entry(*collection).or_default().0.push(*product);
            }
            for collection in before.difference(after) {
                membership_changes.entry(*collection).or_default().1.push(*product);
            }
        }
        if let Some(product) = plan.product {
            if let Some(event) = plan.product_event {
                product_events.insert(product.id, event);
            }
            if let Some((before, after)) = &plan.tags {
                tag_removals.extend(before.difference(after).map(|tag| (product.id, *tag)));
                tag_additions.extend(after.difference(before).map(|tag| (product.id, *tag)));
            }
            product_rows.push(product);
        }
        variant_rows.extend(plan.variants);
    }

    let mut events = Vec::new();
    let used_options: BTreeSet<OptionId> = declared.iter().flat_map(|(_, options)| options.iter().copied()).collect();
    let used_values: Vec<(OptionId, OptionValueId)> = option_links.iter().map(|(_, o, v)| (*o, *v)).collect();
    book.write(conn, org, &used_options, &used_values, &mut events).await?;
    // A simple product's listed price is its one variant's (`base_price` of product.created).
    let mut first_prices: HashMap<ProductId, Decimal> = HashMap::new();
    for variant in &variant_rows {
        first_prices.entry(variant.product_id).or_insert(variant.sale_price);
    }
    for chunk in product_rows.chunks(CHUNK) {
        let written: Vec<Product> = diesel::insert_into(products::table)
            .values(chunk)
            .on_conflict(products::id)
            .do_update()
            .set((
                products::local_id.eq(excluded(products::local_id)),
                products::brand_id.eq(excluded(products::brand_id)),
                products::title.eq(excluded(products::title)),
                products::slug.eq(excluded(products::slug)),
                products::sku.eq(excluded(products::sku)),
                products::barcode.eq(excluded(products::barcode)),
                products::description.eq(excluded(products::description)),
                products::status.eq(excluded(products::status)),
                products::product_type.eq(excluded(products::product_type)),
                products::unit_of_measure.eq(excluded(products::unit_of_measure)),
                products::alert_stock.eq(excluded(products::alert_stock)),
                products::has_variants.eq(excluded(products::has_variants)),
                products::metadata.eq(excluded(products::metadata)),
                products::version.eq(products::version + 1),
                products::updated_at.eq(now),
            ))
            .returning(Product::as_returning())
            .get_results(conn)
            .await?;
        for product in written {
            events.extend(match product_events.remove(&product.id) {
                Some((old_status, new_status, changes)) => {
                    let tags = |side: &str| -> Vec<TagId> {
                        changes
                            .get("tag_ids")
                            .and_then(|change| serde_json::from_value(change[side].clone()).ok())
                            .unwrap_or_default()
                    };
                    let (before, after) = (tags("old"), tags("new"));
                    let updated =
                        published::product_changed(product.id, product.version, old_status, new_status, &changes);
                    let mut drafts = vec![updated];
                    drafts.extend(published::product_tags_changed(product.id, product.version, &before, &after));
                    drafts
                }
                None => {
                    let base_price = first_prices.get(&product.id).copied().filter(|_| !product.has_variants);
                    vec![published::product_created(&product, base_price)]
                }
            });
        }
    }
    let old_variants: HashMap<VariantId, &Variant> = existing.variants_by_sku.values().map(|v| (v.id, v)).collect();
    for chunk in variant_rows.chunks(CHUNK) {
        let written: Vec<Variant> = diesel::insert_into(product_variants::table)
            .values(chunk)
            .on_conflict(product_variants::id)
            .do_update()
            .set((
                product_variants::title.eq(excluded(product_variants::title)),
                product_variants::sku.eq(excluded(product_variants::sku)),
                product_variants::barcode.eq(excluded(product_variants::barcode)),
                product_variants::sale_price.eq(excluded(product_variants::sale_price)),
                product_variants::cost_price.eq(excluded(product_variants::cost_price)),
                product_variants::compare_at_price.eq(excluded(product_variants::compare_at_price)),
                product_variants::tax_rate.eq(excluded(product_variants::tax_rate)),
                product_variants::weight.eq(excluded(product_variants::weight)),
                product_variants::dim_length.eq(excluded(product_variants::dim_length)),
                product_variants::dim_width.eq(excluded(product_variants::dim_width)),
                product_variants::dim_height.eq(excluded(product_variants::dim_height)),
                product_variants::lot_number.eq(excluded(product_variants::lot_number)),
                product_variants::vendor.eq(excluded(product_variants::vendor)),
                product_variants::warehouse_id.eq(excluded(product_variants::warehouse_id)),
                product_variants::track_inventory.eq(excluded(product_variants::track_inventory)),
                product_variants::default_min_stock.eq(excluded(product_variants::default_min_stock)),
                product_variants::default_max_stock.eq(excluded(product_variants::default_max_stock)),
                product_variants::attributes.eq(excluded(product_variants::attributes)),
                product_variants::position.eq(excluded(product_variants::position)),
                product_variants::is_active.eq(excluded(product_variants::is_active)),
                product_variants::metadata.eq(excluded(product_variants::metadata)),
                product_variants::version.eq(product_variants::version + 1),
                product_variants::updated_at.eq(now),
            ))
            .returning(Variant::as_returning())
            .get_results(conn)
            .await?;
        for variant in written {
            match old_variants.get(&variant.id) {
                Some(old) => {
                    let changes = changed_fields(*old, &variant);
                    events.extend(published::variant_updated(old, &variant, &changes));
                }
                None => events.push(published::variant_created(&variant)),
            }
        }
    }
    write_option_links(conn, org, &declared, &option_links).await?;
    for owner in [images::Owner::Product, images::Owner::Variant] {
        if let Some(changes) = image_changes.remove(&owner) {
            images::write(conn, org, owner, changes, &mut events).await?;
        }
    }
    if !tag_removals.is_empty() {
        let (product_ids, tag_ids): (Vec<ProductId>, Vec<TagId>) = tag_removals.into_iter().unzip();
        diesel::sql_query(
            "DELETE FROM product_tags pt USING unnest($2::uuid[], $3::uuid[]) AS gone(product_id, tag_id) \
             WHERE pt.organization_id = $1 AND pt.product_id = gone.product_id AND pt.tag_id = gone.tag_id",
        )
        .bind::<diesel::sql_types::Uuid, _>(org)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&product_ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&tag_ids)
        .execute(conn)
        .await?;
    }
    for chunk in tag_additions.chunks(CHUNK * 10) {
        let links: Vec<_> = chunk
            .iter()
            .map(|(product, tag)| {
                (
                    product_tags::organization_id.eq(org),
                    product_tags::product_id.eq(*product),
                    product_tags::tag_id.eq(*tag),
                )
            })
            .collect();
        diesel::insert_into(product_tags::table).values(links).on_conflict_do_nothing().execute(conn).await?;
    }
    if !membership_changes.is_empty() {
        write_memberships(conn, org, &membership_changes, &mut events).await?;
    }
    outbox::append(conn, org, actor, events).await
}

/// The products' declared options (replaced: one delete, one insert) and the new variants'
/// option values (one insert).
async fn write_option_links(
    conn: &mut PgConn,
    org: OrganizationId,
    declared: &[(ProductId, Vec<OptionId>)],
    option_links: &[(VariantId, OptionId, OptionValueId)],
) -> Result<()> {
    if !declared.is_empty() {
        let products: Vec<ProductId> = declared.iter().map(|(p, _)| *p).collect();
        diesel::delete(
            product_option_assignments::table
                .filter(product_option_assignments::organization_id.eq(org))
                .filter(product_option_assignments::product_id.eq_any(&products)),
        )
        .execute(conn)
        .await?;
        let rows: Vec<_> = declared
            .iter()
            .flat_map(|(product, options)| {
                options.iter().zip(0i32..).map(move |(option, position)| {
                    (
                        product_option_assignments::organization_id.eq(org),
                        product_option_assignments::product_id.eq(*product),
                        product_option_assignments::option_id.eq(*option),
                        product_option_assignments::position.eq(position),
                    )
                })
            })
            .collect();
        for chunk in rows.chunks(CHUNK * 10) {
            diesel::insert_into(product_option_assignments::table).values(chunk).execute(conn).await?;
        }
    }
    let rows: Vec<_> = option_links
        .iter()
        .map(|(variant, option, value)| {
            (
                variant_option_values::organization_id.eq(org),
                variant_option_values::variant_id.eq(*variant),
                variant_option_values::option_id.eq(*option),
                variant_option_values::option_value_id.eq(*value),
            )
        })
        .collect();
    for chunk in rows.chunks(CHUNK * 10) {
        diesel::insert_into(variant_option_values::table).values(chunk).execute(conn).await?;
    }
    Ok(())
}

/// Links and unlinks in two statements, then one version bump (and one event) per collection
/// whose membership changed, as `collections::add_products`/`remove_products` publish.
async fn write_memberships(
    conn: &mut PgConn,
    org: OrganizationId,
    changes: &BTreeMap<CollectionId, (Vec<ProductId>, Vec<ProductId>)>,
    events: &mut Vec<EventDraft>,
) -> Result<()> {
    let removed: Vec<(CollectionId, ProductId)> =
        changes.iter().flat_map(|(c, (_, gone))| gone.iter().map(move |p| (*c, *p))).collect();
    if !removed.is_empty() {
        let (collection_ids, product_ids): (Vec<CollectionId>, Vec<ProductId>) = removed.into_iter().unzip();
        diesel::sql_query(
            "DELETE FROM collection_products cp USING unnest($2::uuid[], $3::uuid[]) AS gone(collection_id, product_id) \
             WHERE cp.organization_id = $1 AND cp.collection_id = gone.collection_id AND cp.product_id = gone.product_id",
        )
        .bind::<diesel::sql_types::Uuid, _>(org)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&collection_ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&product_ids)
        .execute(conn)
        .await?;
    }
    let added: Vec<_> = changes
        .iter()
        .flat_map(|(c, (new, _))| {
            new.iter().map(move |p| {
                (
                    collection_products::organization_id.eq(org),
                    collection_products::collection_id.eq(*c),
                    collection_products::product_id.eq(*p),
                )
            })
        })
        .collect();
    for chunk in added.chunks(CHUNK * 10) {
        diesel::insert_into(collection_products::table).values(chunk).on_conflict_do_nothing().execute(conn).await?;
    }
    let ids: Vec<CollectionId> = changes.keys().copied().collect();
    let bumped: Vec<(CollectionId, i32)> = diesel::update(
        collections::table.filter(collections::organization_id.eq(org)).filter(collections::id.eq_any(&ids)),
    )
    .set((collections::version.eq(collections::version + 1), collections::updated_at.eq(Utc::now())))
    .returning((collections::id, collections::version))
    .get_results(conn)
    .await?;
    let counts: HashMap<CollectionId, i64> = collection_products::table
        .filter(collection_products::organization_id.eq(org))
        .filter(collection_products::collection_id.eq_any(&ids))
        .group_by(collection_products::collection_id)
        .select((collection_products::collection_id, diesel::dsl::count_star()))
        .load(conn)
        .await?
        .into_iter()
        .collect();
    for (id, version) in bumped {
        let (added, removed) = &changes[&id];
        let count = counts.get(&id).copied().unwrap_or(0);
        events.extend(published::collection_products_changed(id, version, added, removed, count));
    }
    Ok(())
}
