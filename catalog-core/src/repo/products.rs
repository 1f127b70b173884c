//! Products: the catalog's main aggregate. A product owns its variants (a simple product has
//! exactly one, created with it), declares the options its variants use, and is what other
//! services ask for through `GetProductDetails`.

use super::outbox;
use super::published::{self, Aggregate, change};
use super::{check_version, counted_page, like_escape, soft_delete, tenant_reads, update_versioned};
use crate::db::PgConn;
use crate::error::{Entity, Error, Result};
use crate::ids::{
    BrandId, CollectionId, LocalId, OptionId, OptionValueId, OrganizationId, ProductId, TagId, VariantId,
};
use crate::models::{
    Actor, Brand, Collection, NewProduct, NewVariant, Product, ProductChanges, ProductImage, ProductStatus, Tag,
    Variant, VariantChanges, VariantImage,
};
use crate::pagination::{Page, PageRequest};
use crate::schema::{brands, product_option_assignments, product_options, product_variants, products};
use crate::slug;
use chrono::Utc;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

/// Slug used when a title has no letter or digit to build one from ("☃").
const FALLBACK_SLUG: &str = "product";
/// Tries at a generated slug: concurrent creates of one title may race for the same suffix.
const SLUG_ATTEMPTS: usize = 5;

/// Narrows [`list`]; `None` (and empty) fields do not filter. Every filter is a condition (or
/// an `EXISTS` subquery, scoped to the organization) of the one listing statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    pub brand_id: Option<BrandId>,
    pub local_id: Option<LocalId>,
    pub product_type: Option<String>,
    /// Title words (Spanish full text, accent-insensitive), an accent-insensitive title
    /// substring, or the start (or whole) of the SKU or barcode of the product or of one of its
    /// live variants.
    pub search: Option<String>,
    /// Products in this live collection.
    pub collection_id: Option<CollectionId>,
    /// Products carrying every one of these live tags.
    pub tag_ids: Vec<TagId>,
    /// `true`: status `active`; `false`: any other status.
    pub is_active: Option<bool>,
    /// Some live variant's `sale_price` is at least this...
    pub min_price: Option<Decimal>,
    /// ...and (the same variant's) at most this.
    pub max_price: Option<Decimal>,
    pub sort: ProductSort,
}

/// Orders of [`list`]. Both walk the id (UUIDv7, creation order), the key cursors carry, so
/// keyset pagination stays exact in either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProductSort {
    /// Oldest first.
    #[default]
    Created,
    /// Newest first.
    CreatedDesc,
}

/// A product with its relations, as `GetProductDetails` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductDetails {
    pub product: Product,
    pub brand: Option<Brand>,
    /// By position; empty unless images were asked for.
    pub images: Vec<ProductImage>,
    /// Live variants by position, then id; empty unless variants were asked for.
    pub variants: Vec<Variant>,
    /// By position; only variants that have images appear (needs both variants and images).
    #[schema(value_type = HashMap<String, Vec<VariantImage>>)]
    pub variant_images: HashMap<VariantId, Vec<VariantImage>>,
    /// Live tags, by name.
    pub tags: Vec<Tag>,
    /// Live collections, by position, then name.
    pub collections: Vec<Collection>,
    /// The options the product declares, in order.
    pub option_ids: Vec<OptionId>,
}

tenant_reads!(products, Product, ProductId, Entity::Product);

/// A product may only point at a live brand of its organization. The composite foreign key
/// already rejects foreign brands but not deleted ones; the share lock keeps the brand from
/// being deleted (which checks for products) before this transaction commits.
async fn check_brand(conn: &mut PgConn, org: OrganizationId, brand_id: Option<BrandId>) -> Result<()> {
    let Some(brand_id) = brand_id else { return Ok(()) };
    let brand = brands::table
        .filter(brands::organization_id.eq(org))
        .filter(brands::id.eq(brand_id))
        .filter(brands::deleted_at.is_null())
        .select(brands::id)
        .for_share()
        .first::<BrandId>(conn)
        .await
        .optional()?;
    match brand {
        Some(_) => Ok(()),
        None => Err(Error::missing(Entity::Product, "brand_id", Entity::Brand)),
    }
}

pub(crate) fn base_slug(title: &str) -> String {
    let base = slug::slugify(title);
    if base.is_empty() { FALLBACK_SLUG.to_string() } else { base }
}

/// `base`, or `base-2`, `base-3`, ... whichever is first free among the organization's live
/// products (`exclude` lets a product keep its own slug). One query for the taken ones.
async fn free_slug(conn: &mut PgConn, org: OrganizationId, base: &str, exclude: Option<ProductId>) -> Result<String> {
    // Slugs are [a-z0-9-] only, so `base` holds no LIKE wildcard.
    let mut query = live(org)
        .filter(products::slug.eq(base.to_string()).or(products::slug.like(format!("{base}-%"))))
        .select(products::slug);
    if let Some(id) = exclude {
        query = query.filter(products::id.ne(id));
    }
    let taken: HashSet<String> = query.load::<String>(conn).await?.into_iter().collect();
    if !taken.contains(base) {
        return Ok(base.to_string());
    }
    let mut n = 2u32;
    loop {
        let candidate = format!("{base}-{n}");
        if !taken.contains(&candidate) {
            return Ok(candidate);
        }
        n += 1;
    }
}

async fn insert(conn: &mut PgConn, new: &NewProduct) -> Result<Product> {
    Ok(diesel::insert_into(products::table).values(new).returning(Product::as_returning()).get_result(conn).await?)
}

/// Inserts under a generated slug, each try in a savepoint so that losing a race for a suffix
/// to a concurrent create just moves on to the next free one.
async fn insert_with_generated_slug(
    conn: &mut PgConn,
    org: OrganizationId,
    mut new: NewProduct,
    base: &str,
) -> Result<Product> {
    let mut attempt = 1;
    loop {
        new.slug = free_slug(conn, org, base, None).await?;
        let row = new.clone();
        match conn.transaction(async move |conn| insert(conn, &row).await).await {
            Err(Error::Conflict { code: "PRODUCT_SLUG_EXISTS", .. }) if attempt < SLUG_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

/// Creates a product. An empty `slug` is generated from the title (`-2`, `-3`, ... when
/// taken); an explicit one that is taken is a 409. A simple product (`has_variants=false`)
/// needs `default_variant`, inserted with it; a product with variants may be given a first
/// one the same way.
pub async fn create(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    mut new: NewProduct,
    default_variant: Option<NewVariant>,
) -> Result<(Product, Option<Variant>)> {
    new.organization_id = org;
    if !new.has_variants && default_variant.is_none() {
        return Err(Error::field(
            Entity::Product,
            "sale_price",
            "a product without variants needs the price of its default variant",
        ));
    }
    conn.transaction(async move |conn| {
        check_brand(conn, org, new.brand_id).await?;
        let product = if new.slug.trim().is_empty() {
            let base = base_slug(&new.title);
            insert_with_generated_slug(conn, org, new, &base).await?
        } else {
            insert(conn, &new).await?
        };
        let variant = match default_variant {
            Some(mut variant) => {
                variant.organization_id = org;
                variant.product_id = product.id;
                variant.position = 0;
                if variant.sku.trim().is_empty() {
                    variant.sku = product.sku.clone();
                }
                let variant: Variant = diesel::insert_into(product_variants::table)
                    .values(&variant)
                    .returning(Variant::as_returning())
                    .get_result(conn)
                    .await?;
                Some(variant)
            }
            None => None,
        };
        let mut events = vec![published::product_created(&product, variant.as_ref().map(|v| v.sale_price))];
        events.extend(variant.as_ref().map(published::variant_created));
        outbox::append(conn, org, actor, events).await?;
        Ok((product, variant))
    })
    .await
}

/// Keyset page of live products matching `filter`, in id (creation) order, or newest first
/// with [`ProductSort::CreatedDesc`]. One statement whatever the filters.
/// The organization's live products that pass `filter`.
fn filtered(org: OrganizationId, filter: &ProductFilter) -> products::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = live(org);
    if let Some(status) = filter.status {
        query = query.filter(products::status.eq(status));
    }
    match filter.is_active {
        Some(true) => query = query.filter(products::status.eq(ProductStatus::Active)),
        Some(false) => query = query.filter(products::status.ne(ProductStatus::Active)),
        None => {}
    }
    if let Some(q) = filter.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = like_escape(q);
        let prefix = format!("{escaped}%");
        // Full text and the trigram-indexed substring serve titles; the text_pattern_ops
        // indexes serve the code prefixes.
        query = query.filter(
            sql::<Bool>("(products.search_document @@ websearch_to_tsquery('spanish', catalog_unaccent(")
                .bind::<Text, _>(q.to_string())
                .sql(")) OR catalog_unaccent(lower(products.title)) LIKE '%' || catalog_unaccent(lower(")
                .bind::<Text, _>(escaped)
                .sql(")) || '%' OR products.sku LIKE ")
                .bind::<Text, _>(prefix.clone())
                .sql(" OR products.barcode LIKE ")
                .bind::<Text, _>(prefix.clone())
                .sql(" OR EXISTS (SELECT 1 FROM product_variants v WHERE v.organization_id = ")
                .bind::<SqlUuid, _>(org.0)
                .sql(" AND v.product_id = products.id AND v.deleted_at IS NULL AND (v.sku LIKE ")
                .bind::<Text, _>(prefix.clone())
                .sql(" OR v.barcode LIKE ")
                .bind::<Text, _>(prefix)
                .sql(")))"),
        );
    }
    if let Some(collection_id) = filter.collection_id {
        query = query.filter(
            sql::<Bool>(
                "EXISTS (SELECT 1 FROM collection_products cp JOIN collections c \
                 ON c.organization_id = cp.organization_id AND c.id = cp.collection_id \
                 WHERE cp.organization_id = ",
            )
            .bind::<SqlUuid, _>(org.0)
            .sql(" AND cp.product_id = products.id AND cp.collection_id = ")
            .bind::<SqlUuid, _>(collection_id.0)
            .sql(" AND c.deleted_at IS NULL)"),
        );
    }
    let tag_ids: BTreeSet<TagId> = filter.tag_ids.iter().copied().collect();
    for tag_id in tag_ids {
        query = query.filter(
            sql::<Bool>(
                "EXISTS (SELECT 1 FROM product_tags pt JOIN tags t \
                 ON t.organization_id = pt.organization_id AND t.id = pt.tag_id \
                 WHERE pt.organization_id = ",
            )
            .bind::<SqlUuid, _>(org.0)
            .sql(" AND pt.product_id = products.id AND pt.tag_id = ")
            .bind::<SqlUuid, _>(tag_id.0)
            .sql(" AND t.deleted_at IS NULL)"),
        );
    }
    if filter.min_price.is_some() || filter.max_price.is_some() {
        query = query.filter(
            sql::<Bool>("EXISTS (SELECT 1 FROM product_variants pv WHERE pv.organization_id = ")
                .bind::<SqlUuid, _>(org.0)
                .sql(" AND pv.product_id = products.id AND pv.deleted_at IS NULL AND (")
                .bind::<Nullable<Numeric>, _>(filter.min_price)
                .sql("::numeric IS NULL OR pv.sale_price >= ")
                .bind::<Nullable<Numeric>, _>(filter.min_price)
                .sql(") AND (")
                .bind::<Nullable<Numeric>, _>(filter.max_price)
                .sql("::numeric IS NULL OR pv.sale_price <= ")
                .bind::<Nullable<Numeric>, _>(filter.max_price)
                .sql("))"),
        );
    }
    if let Some(brand_id) = filter.brand_id {
        query = query.filter(products::brand_id.eq(brand_id));
    }
    if let Some(local_id) = filter.local_id {
        query = query.filter(products::local_id.eq(local_id));
    }
    if let Some(product_type) = &filter.product_type {
        query = query.filter(products::product_type.eq(product_type.clone()));
    }
    query
}

pub async fn list(
    conn: &mut PgConn,
    org: OrganizationId,
    filter: &ProductFilter,
    page: &PageRequest,
) -> Result<Page<Product>> {
    // Newest first shows the ids descending: the cursors' bounds and the walk turn around.
    let keyset = if filter.sort == ProductSort::Created { page.keyset() } else { page.keyset().reversed() };
    Ok(counted_page!(conn, page, keyset, filtered(org, filter), Product::as_select(), products::id))
}

/// Applies `changes` if the caller's `expected_version` is current. A change that alters
/// nothing keeps the version and publishes nothing. `slug: Some("")` regenerates the slug from
/// the (new) title. A status change to active/inactive publishes `activated`/`deactivated`
/// (with the same data) instead of `updated`, so there is still one event per version.
pub async fn update(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: ProductId,
    expected_version: Option<i32>,
    mut changes: ProductChanges,
) -> Result<Product> {
    conn.transaction(async move |conn| {
        let old = lock(conn, org, id).await?;
        check_version(expected_version, old.version)?;
        if let Some(brand_id) = changes.brand_id {
            check_brand(conn, org, brand_id).await?;
        }
        if changes.slug.as_deref().is_some_and(|s| s.trim().is_empty()) {
            let base = base_slug(changes.title.as_deref().unwrap_or(&old.title));
            changes.slug = Some(free_slug(conn, org, &base, Some(id)).await?);
        }
        Ok(update_versioned!(
            conn,
            actor,
            products,
            Product,
            events = |old: &Product, new: &Product, changed| {
                vec![published::product_changed(new.id, new.version, old.status, new.status, changed)]
            },
            old,
            changes
        ))
    })
    .await
}

/// A new product with everything created with it: its default variant (a simple product) or
/// its variants with their option values, its tags, collections and declared options.
#[derive(Debug)]
pub struct ProductDraft {
    pub new: NewProduct,
    pub default_variant: Option<NewVariant>,
    pub variant_rows: Vec<(NewVariant, Vec<OptionValueId>)>,
    pub tag_ids: Vec<TagId>,
    pub collection_ids: Vec<CollectionId>,
    pub option_ids: Vec<OptionId>,
}

/// Errors of the repositories a product write composes, as the product's, on the request's
/// field names: invalid tags, collections and options are `INVALID_PRODUCT_DATA` on `tag_ids`,
/// `collection_ids`, `option_ids`.
pub fn as_product_error(err: Error) -> Error {
    match err {
        Error::Validation { entity: Entity::Product | Entity::Tag | Entity::Collection, fields } => Error::Validation {
            entity: Entity::Product,
            fields: fields
                .into_iter()
                .map(|mut e| {
                    if e.field == "options" {
                        e.field = "option_ids".into();
                    }
                    e
                })
                .collect(),
        },
        Error::NotFound(Entity::Collection) => Error::missing(Entity::Product, "collection_ids", Entity::Collection),
        other => other,
    }
}

/// Creates a [`ProductDraft`] in one transaction, each part with its events; a variant's
/// problems are named `variants[i].<field>`. Answers the new product's id.
pub async fn create_draft(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    draft: ProductDraft,
) -> Result<ProductId> {
    let ProductDraft { new, default_variant, variant_rows, tag_ids, collection_ids, option_ids } = draft;
    conn.transaction(async move |conn| {
        let (product, _) = create(conn, org, actor, new, default_variant).await?;
        if !option_ids.is_empty() {
            set_options(conn, org, actor, product.id, &option_ids).await?;
        }
        for (i, (mut variant, values)) in variant_rows.into_iter().enumerate() {
            variant.product_id = product.id;
            let draft = super::variants::VariantDraft {
                new: variant,
                option_value_ids: values,
                named_value: None,
                reported: Vec::new(),
                unparsed: HashSet::new(),
            };
            super::variants::create_draft(conn, org, actor, draft, "option_value_ids").await.map_err(
                |err| match err {
                    Error::Validation { fields, .. } => Error::Validation {
                        entity: Entity::Product,
                        fields: fields
                            .into_iter()
                            .map(|e| crate::error::FieldError::new(format!("variants[{i}].{}", e.field), e.message))
                            .collect(),
                    },
                    other => other,
                },
            )?;
        }
        if !tag_ids.is_empty() {
            super::tags::add_to_product(conn, org, actor, product.id, &tag_ids).await?;
        }
        for collection_id in collection_ids {
            super::collections::add_products(conn, org, actor, collection_id, &[product.id]).await?;
        }
        Ok(product.id)
    })
    .await
    .map_err(as_product_error)
}

/// Everything a product update may change, as the pages send it: the row, a simple product's
/// price (its default variant's), and, when given, its whole tag and collection sets.
#[derive(Debug, Default)]
pub struct ProductUpdate {
    pub changes: ProductChanges,
    pub base_price: Option<Decimal>,
    pub tag_ids: Option<Vec<TagId>>,
    pub collection_ids: Option<Vec<CollectionId>>,
}

/// Applies a [`ProductUpdate`] in one transaction, each part with its own events; answers the
/// product as it ends up (its version moves with each part that changed something).
pub async fn update_all(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: ProductId,
    expected_version: Option<i32>,
    update: ProductUpdate,
) -> Result<Product> {
    let ProductUpdate { changes, base_price, tag_ids, collection_ids } = update;
    conn.transaction(async move |conn| {
        let product = self::update(conn, org, actor, id, expected_version, changes).await?;
        if let Some(price) = base_price {
            if product.has_variants {
                return Err(Error::field(
                    Entity::Product,
                    "base_price",
                    "a product with variants is priced by its variants",
                ));
            }
            let default = super::variants::list_for_products(conn, org, &[id]).await?.into_iter().next();
            if let Some(variant) = default {
                let changes = VariantChanges { sale_price: Some(price), ..Default::default() };
                super::variants::update(conn, org, actor, variant.id, None, changes).await.map_err(
                    |err| match err {
                        Error::Validation { fields, .. } => Error::Validation {
                            entity: Entity::Product,
                            fields: fields
                                .into_iter()
                                .map(|e| {
                                    crate::error::FieldError::new(
                                        if e.field == "sale_price" { "base_price".to_string() } else { e.field },
                                        e.message,
                                    )
                                })
                                .collect(),
                        },
                        other => other,
                    },
                )?;
            }
        }
        if let Some(tag_ids) = tag_ids {
            super::tags::set_product_tags(conn, org, actor, id, &tag_ids).await.map_err(|err| match err {
                Error::Validation { fields, .. } => Error::Validation { entity: Entity::Product, fields },
                other => other,
            })?;
        }
        if let Some(collection_ids) = collection_ids {
            super::collections::set_for_product(conn, org, actor, id, &collection_ids).await?;
        }
        get(conn, org, id).await
    })
    .await
}

/// Moves the product to `status`: `activated`, `deactivated` or (archived) `updated` event.
/// Setting the current status is a no-op (same version, no event).
pub async fn set_status(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: ProductId,
    expected_version: Option<i32>,
    status: ProductStatus,
) -> Result<Product> {
    let changes = ProductChanges { status: Some(status), ..Default::default() };
    update(conn, org, actor, id, expected_version, changes).await
}

/// Soft delete, cascading to the product's live variants; returns their ids. A product with
/// variants that still has live ones is refused (409 `PRODUCT_HAS_VARIANTS`) unless `force`;
/// a simple product's default variant goes with it without `force`, unless recipes use it
/// (409 `VARIANT_IN_RECIPES`).
pub async fn delete(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    id: ProductId,
    force: bool,
) -> Result<Vec<VariantId>> {
    conn.transaction(async move |conn| {
        let product = lock(conn, org, id).await?;
        let live_variants = product_variants::table
            .filter(product_variants::organization_id.eq(org))
            .filter(product_variants::product_id.eq(id))
            .filter(product_variants::deleted_at.is_null());
        if product.has_variants && !force {
            let variants_count: i64 = live_variants.count().get_result(conn).await?;
            if variants_count > 0 {
                return Err(Error::InUse {
                    code: "PRODUCT_HAS_VARIANTS",
                    message: "the product has variants; delete with force=true to delete them too".into(),
                    details: json!({
                        "product_id": id,
                        "variants_count": variants_count,
                        "suggestion": "Use force=true parameter to soft-delete the product and all variants",
                    }),
                });
            }
        }
        if !force {
            // A simple product's default variant may be a recipe's ingredient.
            let variants: Vec<VariantId> = live_variants.select(product_variants::id).load(conn).await?;
            super::recipes::refuse_in_use(conn, org, &variants, ("product_id", id.into())).await?;
        }
        let now = Utc::now();
        let mut deleted: Vec<(VariantId, i32)> = diesel::update(live_variants)
            .set((
                product_variants::deleted_at.eq(now),
                product_variants::version.eq(product_variants::version + 1),
                product_variants::updated_at.eq(now),
            ))
            .returning((product_variants::id, product_variants::version))
            .get_results(conn)
            .await?;
        deleted.sort();
        let version = soft_delete!(conn, products, product);
        let variant_ids: Vec<VariantId> = deleted.iter().map(|(variant_id, _)| *variant_id).collect();
        let mut events = Vec::with_capacity(deleted.len() + 1);
        events.push(published::product_deleted(id, version, &variant_ids));
        events.extend(
            deleted
                .iter()
                .map(|(variant_id, variant_version)| published::variant_deleted(*variant_id, id, *variant_version)),
        );
        outbox::append(conn, org, actor, events).await?;
        Ok(variant_ids)
    })
    .await
}

/// The ordered options the product declares.
pub async fn option_ids(conn: &mut PgConn, org: OrganizationId, product_id: ProductId) -> Result<Vec<OptionId>> {
    Ok(product_option_assignments::table
        .filter(product_option_assignments::organization_id.eq(org))
        .filter(product_option_assignments::product_id.eq(product_id))
        .order((product_option_assignments::position.asc(), product_option_assignments::option_id.asc()))
        .select(product_option_assignments::option_id)
        .load(conn)
        .await?)
}

/// The live options each of these products declares, in order: (product, option, name).
pub async fn declared_options(
    conn: &mut PgConn,
    org: OrganizationId,
    product_ids: &[ProductId],
) -> Result<Vec<(ProductId, OptionId, String)>> {
    Ok(product_option_assignments::table
        .inner_join(
            product_options::table.on(product_options::id
                .eq(product_option_assignments::option_id)
                .and(product_options::organization_id.eq(product_option_assignments::organization_id))),
        )
        .filter(product_option_assignments::organization_id.eq(org))
        .filter(product_option_assignments::product_id.eq_any(product_ids))
        .filter(product_options::deleted_at.is_null())
        .order((
            product_option_assignments::product_id,
            product_option_assignments::position,
            product_option_assignments::option_id,
        ))
        .select((product_option_assignments::product_id, product_options::id, product_options::name))
        .load(conn)
        .await?)
}

/// Replaces the ordered list of options the product declares (position = index). Every id must
/// be a live option of the organization, listed once.
pub async fn set_options(
    conn: &mut PgConn,
    org: OrganizationId,
    actor: &Actor,
    product_id: ProductId,
    option_ids: &[OptionId],
) -> Result<()> {
    let wanted = option_ids.to_vec();
    let mut seen = HashSet::with_capacity(wanted.len());
    if !wanted.iter().all(|id| seen.insert(*id)) {
        return Err(Error::field(Entity::Product, "options", "lists an option more than once"));
    }
    conn.transaction(async move |conn| {
        let product = lock(conn, org, product_id).await?;
        // Share-locked so an option cannot be deleted while it is being assigned.
        let existing: Vec<OptionId> = product_options::table
            .filter(product_options::organization_id.eq(org))
            .filter(product_options::deleted_at.is_null())
            .filter(product_options::id.eq_any(&wanted))
            .select(product_options::id)
            .for_share()
            .load(conn)
            .await?;
        if existing.len() != wanted.len() {
            return Err(Error::missing(Entity::Product, "options", Entity::ProductOption));
        }
        let old = self::option_ids(conn, org, product_id).await?;
        if old == wanted {
            return Ok(());
        }
        diesel::delete(
            product_option_assignments::table
                .filter(product_option_assignments::organization_id.eq(org))
                .filter(product_option_assignments::product_id.eq(product_id)),
        )
        .execute(conn)
        .await?;
        if !wanted.is_empty() {
            let rows: Vec<_> = wanted
                .iter()
                .zip(0i32..)
                .map(|(option_id, position)| {
                    (
                        product_option_assignments::organization_id.eq(org),
                        product_option_assignments::product_id.eq(product_id),
                        product_option_assignments::option_id.eq(*option_id),
                        product_option_assignments::position.eq(position),
                    )
                })
                .collect();
            diesel::insert_into(product_option_assignments::table).values(rows).execute(conn).await?;
        }
        let version = product.version + 1;
        diesel::update(products::table.filter(products::organization_id.eq(org)).find(product_id))
            .set((products::version.eq(version), products::updated_at.eq(Utc::now())))
            .execute(conn)
            .await?;
        let event = published::updated(Aggregate::Product, product_id, version, &change("options", old, wanted));
        outbox::append(conn, org, actor, vec![event]).await?;
        Ok(())
    })
    .await
}

/// Rows keyed by owner, each owner's rows in the order they came.
fn group<K: Eq + Hash, V>(rows: impl IntoIterator<Item = (K, V)>) -> HashMap<K, Vec<V>> {
    let mut grouped: HashMap<K, Vec<V>> = HashMap::new();
    for (key, value) in rows {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

/// Each relation of the outer `products` row, aggregated to JSON text in the same statement.
/// Rows are encoded with `to_jsonb` (column names are the models' field names); `numeric`
/// columns are re-encoded as text so a `Decimal` keeps its exact value and scale ("24.90"),
/// and `tags.tag_type` is added as `type`, the field's serde name.
mod relation_sql {
    pub const BRAND: &str = "(SELECT to_jsonb(b) FROM brands b \
        WHERE b.organization_id = products.organization_id AND b.id = products.brand_id \
        AND b.deleted_at IS NULL)::text";
    pub const IMAGES: &str = "(SELECT coalesce(jsonb_agg(i ORDER BY i.position, i.id), '[]') FROM product_images i \
        WHERE i.organization_id = products.organization_id AND i.product_id = products.id)::text";
    pub const VARIANTS: &str = "(SELECT coalesce(jsonb_agg(to_jsonb(v) || jsonb_build_object(\
        'sale_price', v.sale_price::text, 'cost_price', v.cost_price::text, \
        'compare_at_price', v.compare_at_price::text, 'tax_rate', v.tax_rate::text, 'weight', v.weight::text, \
        'dim_length', v.dim_length::text, 'dim_width', v.dim_width::text, 'dim_height', v.dim_height::text) \
        ORDER BY v.position, v.id), '[]') FROM product_variants v \
        WHERE v.organization_id = products.organization_id AND v.product_id = products.id \
        AND v.deleted_at IS NULL)::text";
    pub const VARIANT_IMAGES: &str = "(SELECT coalesce(jsonb_agg(vi ORDER BY vi.position, vi.id), '[]') \
        FROM variant_images vi JOIN product_variants v ON v.organization_id = vi.organization_id AND v.id = vi.variant_id \
        WHERE v.organization_id = products.organization_id AND v.product_id = products.id \
        AND v.deleted_at IS NULL)::text";
    pub const TAGS: &str = "(SELECT coalesce(jsonb_agg(to_jsonb(t) || jsonb_build_object('type', t.tag_type) \
        ORDER BY t.name, t.id), '[]') \
        FROM product_tags pt JOIN tags t ON t.organization_id = pt.organization_id AND t.id = pt.tag_id \
        WHERE pt.organization_id = products.organization_id AND pt.product_id = products.id \
        AND t.deleted_at IS NULL)::text";
    pub const COLLECTIONS: &str = "(SELECT coalesce(jsonb_agg(c ORDER BY c.position, c.name, c.id), '[]') \
        FROM collection_products cp JOIN collections c ON c.organization_id = cp.organization_id AND c.id = cp.collection_id \
        WHERE cp.organization_id = products.organization_id AND cp.product_id = products.id \
        AND c.deleted_at IS NULL)::text";
    pub const OPTION_IDS: &str = "(SELECT coalesce(jsonb_agg(a.option_id ORDER BY a.position, a.option_id), '[]') \
        FROM product_option_assignments a JOIN product_options o ON o.organization_id = a.organization_id AND o.id = a.option_id \
        WHERE a.organization_id = products.organization_id AND a.product_id = products.id \
        AND o.deleted_at IS NULL)::text";
    /// What a relation that was not asked for reads as.
    pub const NONE: &str = "'[]'::text";
}

/// One product row with its relations as JSON text, as [`load_details`] selects it.
type DetailsRow = (Product, Option<String>, String, String, String, String, String, String);

fn decode<T: serde::de::DeserializeOwned>(relation: &'static str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::internal_from(&format!("decoding a product's {relation}"), &e))
}

/// The one statement of [`load_details`]: the products and, beside each, its relations as JSON.
macro_rules! details_query {
    ($org:expr, $ids:expr, $include_variants:expr, $include_images:expr) => {{
        use relation_sql::*;
        let pick = |wanted: bool, relation: &'static str| if wanted { relation } else { NONE };
        products::table
            .filter(products::organization_id.eq($org))
            .filter(products::deleted_at.is_null())
            .filter(products::id.eq_any($ids))
            .select((
                Product::as_select(),
                sql::<Nullable<Text>>(BRAND),
                sql::<Text>(pick($include_images, IMAGES)),
                sql::<Text>(pick($include_variants, VARIANTS)),
                sql::<Text>(pick($include_images && $include_variants, VARIANT_IMAGES)),
                sql::<Text>(TAGS),
                sql::<Text>(COLLECTIONS),
                sql::<Text>(OPTION_IDS),
            ))
    }};
}

/// The statement [`load_details`] sends for a cold product read (relations included), as
/// PostgreSQL receives it: `$1` the organization, `$2` the product ids. For pgbench twins.
pub fn details_statement() -> String {
    let ids = [ProductId(uuid::Uuid::nil())];
    crate::db::statement_text(&details_query!(OrganizationId(uuid::Uuid::nil()), &ids, true, true))
}

/// The live products among `ids` (in the order of `ids`, duplicates collapsed) with their
/// relations, in one SQL statement whatever the number of products.
pub async fn load_details(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: &[ProductId],
    include_variants: bool,
    include_images: bool,
) -> Result<Vec<ProductDetails>> {
    let mut seen = HashSet::with_capacity(ids.len());
    let ids: Vec<ProductId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<DetailsRow> = details_query!(org, &ids, include_variants, include_images).load(conn).await?;
    let mut by_id: HashMap<ProductId, ProductDetails> = HashMap::with_capacity(rows.len());
    for (product, brand, images, variants, variant_images, tags, collections, option_ids) in rows {
        let variant_images: Vec<VariantImage> = decode("variant images", &variant_images)?;
        let details = ProductDetails {
            brand: brand.as_deref().map(|json| decode("brand", json)).transpose()?,
            images: decode("images", &images)?,
            variants: decode("variants", &variants)?,
            variant_images: group(variant_images.into_iter().map(|image| (image.variant_id, image))),
            tags: decode("tags", &tags)?,
            collections: decode("collections", &collections)?,
            option_ids: decode("options", &option_ids)?,
            product,
        };
        by_id.insert(details.product.id, details);
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}
