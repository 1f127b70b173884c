//! `/api/v1/products`: the catalog's main aggregate. Lists are light (the product rows);
//! reads and writes of one product answer its details (variants, images, tags, collections,
//! brand, declared options), served from the cache and refreshed after every write.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::routes::stock::StockLookup;
use crate::routes::variants::{CreateVariant, DimensionsInput, Failed, ParsedVariant, parse_variant, rule_errors};
use crate::routes::{flag, rename_fields};
use crate::state::ApiState;
use crate::views::{ProductStockView, ProductView, TagView};
use actix_web::{HttpRequest, HttpResponse, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::cache::Edge;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{BrandId, CollectionId, LocalId, OptionId, OrganizationId, ProductId, TagId};
use catalog_core::models::{NewProduct, Product, ProductChanges, ProductStatus, Tag, max_chars};
use catalog_core::repo::products::{ProductDetails, ProductDraft, ProductFilter, ProductSort, ProductUpdate};
use catalog_core::repo::{products, tags};
use catalog_core::validate::{Check, Money, nullable};
use serde::Deserialize;
use serde_json::{Value, json};
use std::str::FromStr;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get,
        update,
        delete,
        activate,
        deactivate,
        set_options,
        list_tags,
        add_tags,
        replace_tags,
        remove_tags,
        remove_tag
    ),
    components(schemas(CreateProduct, UpdateProduct, SetOptions, TagIds, Product, ProductView, CreateVariant))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/products").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/products/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/products/{id}/activate").route(web::post().to(activate)).route(web::patch().to(activate)),
        )
        .service(
            web::resource("/products/{id}/deactivate")
                .route(web::post().to(deactivate))
                .route(web::patch().to(deactivate)),
        )
        .service(web::resource("/products/{id}/options").route(web::post().to(set_options)))
        .service(
            web::resource("/products/{id}/tags")
                .route(web::get().to(list_tags))
                .route(web::post().to(add_tags))
                .route(web::put().to(replace_tags))
                .route(web::delete().to(remove_tags)),
        )
        .service(web::resource("/products/{id}/tags/{tag_id}").route(web::delete().to(remove_tag)));
}

/// A new product. A simple product (`has_variants` false or absent) takes its default
/// variant's fields at the top level (`sale_price` required; the variant's SKU and barcode are
/// the product's); a product with variants may list them in `variants`, and its top-level
/// variant fields (prices, tax, dimensions, stock settings, warehouse) are the defaults of the
/// variants it lists. Everything is created in one transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// Required, at most 500 characters.
    #[serde(alias = "name")]
    #[schema(schema_with = accepts::required_text::<500>, required = true)]
    pub title: Option<String>,
    /// Generated from the title when absent.
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    /// Required, at most 100 characters.
    #[schema(schema_with = accepts::required_text::<100>, required = true)]
    pub sku: Option<String>,
    #[schema(schema_with = accepts::text::<100>)]
    pub barcode: Option<String>,
    #[schema(schema_with = accepts::text::<20_000>)]
    pub description: Option<String>,
    /// `active` (default), `inactive` or `archived` (Spanish `activa`, `inactiva`, `archivada`).
    #[schema(schema_with = accepts::choice::<ProductStatus>)]
    pub status: Option<String>,
    #[schema(schema_with = accepts::text::<100>)]
    pub product_type: Option<String>,
    /// Default `unit`.
    #[schema(schema_with = accepts::text::<20>)]
    pub unit_of_measure: Option<String>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub alert_stock: Option<i64>,
    #[schema(schema_with = accepts::id)]
    pub brand_id: Option<String>,
    /// The owning local; must be one of the caller's (or `local:access_all`).
    #[schema(schema_with = accepts::id)]
    pub local_id: Option<String>,
    /// The pages' spelling of `status`: true = `active`, false = `inactive`. Sent with `status`,
    /// the two must agree (`is_active: true` with `active`/`activa`, `false` with
    /// `inactive`/`inactiva`).
    pub is_active: Option<bool>,
    /// Default: true when `variants` are given.
    pub has_variants: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
    /// The default variant's price (simple products).
    #[serde(alias = "price")]
    #[schema(schema_with = accepts::positive_money)]
    pub sale_price: Option<Money>,
    /// The pages' name for `sale_price`; errors are reported under the name sent.
    #[schema(schema_with = accepts::positive_money)]
    pub base_price: Option<Money>,
    #[schema(schema_with = accepts::money)]
    pub cost_price: Option<Money>,
    #[schema(schema_with = accepts::money)]
    pub compare_at_price: Option<Money>,
    #[serde(alias = "tax")]
    #[schema(schema_with = accepts::percent)]
    pub tax_rate: Option<Money>,
    #[schema(schema_with = accepts::decimal::<3, 9_999_999_999>)]
    pub weight: Option<Money>,
    /// The pages' `{length, width, height, unit}`, instead of `dim_*`.
    pub dimensions: Option<DimensionsInput>,
    #[schema(schema_with = accepts::decimal::<2, 9_999_999_999>)]
    pub dim_length: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, 9_999_999_999>)]
    pub dim_width: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, 9_999_999_999>)]
    pub dim_height: Option<Money>,
    pub track_inventory: Option<bool>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_min_stock: Option<i64>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_max_stock: Option<i64>,
    /// Must be one of the caller's locals (or `local:access_all`).
    #[schema(schema_with = accepts::id)]
    pub warehouse_id: Option<String>,
    /// The variants of a product with variants.
    #[serde(default)]
    pub variants: Vec<CreateVariant>,
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub tag_ids: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub collection_ids: Vec<String>,
    /// The options the variants use, in order (set before the variants are created).
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub option_ids: Vec<String>,
}

/// Partial update: absent fields are kept, `null` clears a nullable one, `"slug": ""`
/// regenerates the slug from the title.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    #[serde(alias = "name")]
    #[schema(schema_with = accepts::present_text::<500>)]
    pub title: Option<String>,
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[schema(schema_with = accepts::present_text::<100>)]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<100>)]
    pub barcode: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<20_000>)]
    pub description: Option<Option<String>>,
    #[schema(schema_with = accepts::choice::<ProductStatus>)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<100>)]
    pub product_type: Option<Option<String>>,
    #[schema(schema_with = accepts::present_text::<20>)]
    pub unit_of_measure: Option<String>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub alert_stock: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::id)]
    pub brand_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::id)]
    pub local_id: Option<Option<String>>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
    /// The pages' spelling of `status`.
    pub is_active: Option<bool>,
    /// A simple product's price (its default variant's `sale_price`).
    #[serde(alias = "sale_price", alias = "price")]
    #[schema(schema_with = accepts::positive_money)]
    pub base_price: Option<Money>,
    /// When given, the product's whole tag set.
    #[schema(schema_with = accepts::ids_or_null)]
    pub tag_ids: Option<Vec<String>>,
    /// When given, the product's whole set of collections.
    #[schema(schema_with = accepts::ids_or_null)]
    pub collection_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetArgs {
    /// `false` leaves `variants` out (they are included by default).
    #[param(schema_with = accepts::flag)]
    pub include_variants: Option<String>,
    /// `total_stock`, `last_stock_update`, `stock_stale` and each variant's `stock` (default
    /// false; needs `inventory.stock.read`).
    #[param(schema_with = accepts::flag)]
    pub include_stock: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOptions {
    /// The whole ordered list of options the product's variants use.
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub option_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagIds {
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub tag_ids: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteArgs {
    /// Delete a product with variants together with its variants.
    #[serde(default)]
    pub force: bool,
}

/// Product list filters; all combine (AND).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListArgs {
    /// Title words (Spanish, accent-insensitive) or part of the title, or the start of a SKU or
    /// barcode of the product or of one of its variants.
    #[serde(alias = "q")]
    #[param(schema_with = accepts::text::<200>)]
    pub search: Option<String>,
    #[param(schema_with = accepts::id)]
    pub brand_id: Option<String>,
    #[param(schema_with = accepts::id)]
    pub collection_id: Option<String>,
    /// Comma-separated tag ids: products having all of them.
    #[param(schema_with = accepts::comma_separated_ids)]
    pub tag_ids: Option<String>,
    #[param(schema_with = accepts::text::<100>)]
    pub product_type: Option<String>,
    /// `active`, `inactive` or `archived` (Spanish aliases accepted).
    #[param(schema_with = accepts::choice::<ProductStatus>)]
    pub status: Option<String>,
    /// `true`: status active; `false`: any other status.
    #[param(schema_with = accepts::flag)]
    pub is_active: Option<String>,
    /// Needs access to that local.
    #[param(schema_with = accepts::id)]
    pub local_id: Option<String>,
    /// Some variant's `sale_price` is at least this...
    #[param(schema_with = accepts::money_text)]
    pub min_price: Option<String>,
    /// ...and at most this.
    #[param(schema_with = accepts::money_text)]
    pub max_price: Option<String>,
    /// `created` (default, oldest first) or `-created` (newest first). Both page by cursor.
    #[param(schema_with = sort_spellings)]
    pub sort: Option<String>,
    /// Each product's `total_stock`, `last_stock_update` and `stock_stale` (default true for
    /// callers holding `inventory.stock.read`).
    #[param(schema_with = accepts::flag)]
    pub include_stock: Option<String>,
}

fn parse_ids<T: FromStr>(check: &mut Check, field: &str, raw: &[String]) -> Vec<T> {
    raw.iter().enumerate().filter_map(|(i, id)| check.id(&format!("{field}[{i}]"), Some(id))).collect()
}

/// Stock counts are `integer` columns.
const STOCK_MAX: i64 = i32::MAX as i64;

const OLDEST_FIRST: &[&str] = &["created", "created_at", "oldest", "+created"];
const NEWEST_FIRST: &[&str] = &["-created", "-created_at", "newest", "created_desc"];

fn parse_sort(raw: &str) -> Option<ProductSort> {
    let raw = raw.trim().to_lowercase();
    if OLDEST_FIRST.contains(&raw.as_str()) {
        Some(ProductSort::Created)
    } else if NEWEST_FIRST.contains(&raw.as_str()) {
        Some(ProductSort::CreatedDesc)
    } else {
        None
    }
}

fn sort_spellings() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    accepts::one_of(&[OLDEST_FIRST, NEWEST_FIRST].concat())
}

fn parse_filter(args: ListArgs) -> Result<ProductFilter, Error> {
    let mut check = Check::new(Entity::Product);
    let search = check.text("search", args.search.as_deref(), max_chars::SEARCH);
    let brand_id = check.id("brand_id", args.brand_id.as_deref());
    let collection_id = check.id("collection_id", args.collection_id.as_deref());
    let tag_ids = args
        .tag_ids
        .as_deref()
        .map(|raw| {
            let parts: Vec<String> =
                raw.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect();
            let parsed: Vec<TagId> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            if parsed.len() != parts.len() {
                check.fail("tag_ids", "must be comma-separated UUIDs");
            }
            parsed
        })
        .unwrap_or_default();
    let product_type = check.text("product_type", args.product_type.as_deref(), max_chars::PRODUCT_TYPE);
    let status = check.choice("status", args.status.as_deref(), ProductStatus::parse, &ProductStatus::expected());
    let is_active = flag(&mut check, "is_active", args.is_active.as_deref());
    let local_id = check.id("local_id", args.local_id.as_deref());
    let min_price = check.money("min_price", args.min_price.map(Money::Text).as_ref(), false);
    let max_price = check.money("max_price", args.max_price.map(Money::Text).as_ref(), false);
    let sort = check.choice("sort", args.sort.as_deref(), parse_sort, "created, -created").unwrap_or_default();
    check.finish()?;
    Ok(ProductFilter {
        status,
        brand_id,
        local_id,
        product_type,
        search,
        collection_id,
        tag_ids,
        is_active,
        min_price,
        max_price,
        sort,
    })
}

/// The status a request asks for by SPEC.md's `status` or the pages' `is_active`; both given and
/// disagreeing is a field error.
fn product_status(check: &mut Check, status: Option<&str>, is_active: Option<bool>) -> Option<ProductStatus> {
    let status = check.choice("status", status, ProductStatus::parse, &ProductStatus::expected());
    let from_flag = is_active.map(|active| if active { ProductStatus::Active } else { ProductStatus::Inactive });
    match (status, from_flag) {
        (Some(s), Some(f)) if s != f => {
            check.fail("is_active", "disagrees with status");
            None
        }
        (s, f) => s.or(f),
    }
}

/// Products as the pages show them (relations embedded), from the cache, in `ids` order.
async fn views(state: &ApiState, org: OrganizationId, ids: &[ProductId]) -> Result<Vec<ProductView>, ApiError> {
    Ok(state.catalog.product_details(org, ids).await?.into_iter().flatten().map(ProductView::from).collect())
}

/// The product's details (cached), or 404.
async fn details(state: &ApiState, org: OrganizationId, id: ProductId) -> Result<ProductDetails, ApiError> {
    let found = state.catalog.product_details(org, &[id]).await?.into_iter().next().flatten();
    found.ok_or(ApiError(Error::NotFound(Entity::Product)))
}

/// Keyset page of products. Filters: `search`, `brand_id`, `collection_id`, `tag_ids`,
/// `product_type`, `status`, `is_active`, `local_id`, `min_price`/`max_price`; `sort`.
#[utoipa::path(get, path = "/api/v1/products", tag = "products", params(PageArgs, ListArgs), responses((status = 200, body = crate::openapi::ProductPage), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED")))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    page: web::Query<PageArgs>,
    args: web::Query<ListArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let page = page.request(&state.settings.pagination)?;
    let mut check = Check::new(Entity::Product);
    let asked = flag(&mut check, "include_stock", args.include_stock.as_deref());
    check.finish()?;
    let with_stock = crate::routes::stock::shown(&caller, asked, true)?;
    let filter = parse_filter(args.into_inner())?;
    caller.require_local(filter.local_id)?;
    let conn = &mut *state.conn().await?;
    let found = products::list(conn, caller.org(), &filter, &page).await?;
    let ids: Vec<ProductId> = found.items.iter().map(|p| p.id).collect();
    // One cached batch read for the page's relations; a product deleted meanwhile drops out.
    let mut items = views(&state, caller.org(), &ids).await?;
    if with_stock {
        let mut stocks = catalog_core::stock::of_products(conn, caller.org(), &ids).await?;
        let stale = crate::routes::stock::stale(&state, conn, caller.org()).await?;
        for item in &mut items {
            let stock = stocks.remove(&item.product_id).unwrap_or_default();
            item.stock = Some(ProductStockView {
                total_stock: stock.total,
                last_stock_update: stock.last_update,
                stock_stale: stale,
            });
        }
    }
    let page = found.with_items(items);
    Ok(reply::ok(reply::connection(page, |p| p.product_id.as_uuid())))
}

/// A validated `CreateProduct`: the rows to insert and the links to make.
pub(crate) type ParsedCreate = ProductDraft;

/// Validates a new product (every field error at once) and the caller's right to its locals.
pub(crate) fn parse_create(caller: &Caller, mut body: CreateProduct) -> Result<ParsedCreate, ApiError> {
    // `base_price` (the pages) is `sale_price` (SPEC); errors name what was sent.
    let renames: &[(&str, &str)] =
        if body.sale_price.is_none() && body.base_price.is_some() { &[("sale_price", "base_price")] } else { &[] };
    let mut check = Check::new(Entity::Product);
    match (body.sale_price.as_ref(), body.base_price.take()) {
        (None, base) => body.sale_price = base,
        (Some(sale), Some(base)) if *sale != base => check.fail("base_price", "disagrees with sale_price"),
        _ => {}
    }
    parse_create_checked(caller, body, check).map_err(|ApiError(err)| ApiError(rename_fields(err, renames)))
}

fn parse_create_checked(caller: &Caller, body: CreateProduct, mut check: Check) -> Result<ParsedCreate, ApiError> {
    let mut failed = Failed::new();
    let title = check.required_text("title", body.title.as_deref(), max_chars::TITLE);
    let slug = check.slug("slug", body.slug.as_deref());
    let sku = check.required_text("sku", body.sku.as_deref(), max_chars::SKU);
    if sku.is_none() {
        failed.insert("sku".into());
    }
    let barcode = check.text("barcode", body.barcode.as_deref(), max_chars::BARCODE);
    if barcode.is_none() && body.barcode.as_deref().is_some_and(|b| !b.trim().is_empty()) {
        failed.insert("barcode".into());
    }
    let description = check.text("description", body.description.as_deref(), 20_000);
    let status = product_status(&mut check, body.status.as_deref(), body.is_active);
    let product_type = check.text("product_type", body.product_type.as_deref(), max_chars::PRODUCT_TYPE);
    let unit_of_measure = check.text("unit_of_measure", body.unit_of_measure.as_deref(), max_chars::UNIT_OF_MEASURE);
    let alert_stock = check.int("alert_stock", body.alert_stock, 0, STOCK_MAX);
    let brand_id: Option<BrandId> = check.id("brand_id", body.brand_id.as_deref());
    let local_id: Option<LocalId> = check.id("local_id", body.local_id.as_deref());
    let metadata = check.object("metadata", body.metadata);
    let tag_ids: Vec<TagId> = parse_ids(&mut check, "tag_ids", &body.tag_ids);
    let collection_ids: Vec<CollectionId> = parse_ids(&mut check, "collection_ids", &body.collection_ids);
    let option_ids: Vec<OptionId> = parse_ids(&mut check, "option_ids", &body.option_ids);
    let has_variants = body.has_variants.unwrap_or(!body.variants.is_empty());

    // A product with variants takes the top-level variant fields as defaults for the variants it
    // lists (`base_price` for each that states no price: page 09 sends it with every product).
    let top_level = CreateVariant {
        sale_price: body.sale_price,
        cost_price: body.cost_price,
        compare_at_price: body.compare_at_price,
        tax_rate: body.tax_rate,
        weight: body.weight,
        dimensions: body.dimensions,
        dim_length: body.dim_length,
        dim_width: body.dim_width,
        dim_height: body.dim_height,
        track_inventory: body.track_inventory,
        default_min_stock: body.default_min_stock,
        default_max_stock: body.default_max_stock,
        warehouse_id: body.warehouse_id,
        ..Default::default()
    };
    let default_variant = if has_variants {
        None
    } else {
        if !body.variants.is_empty() {
            check.fail("variants", "only a product with has_variants=true takes variants");
        }
        let ParsedVariant { mut new, .. } =
            parse_variant(&mut check, &mut failed, "", CreateVariant::default().or_defaults(&top_level), false);
        // The default variant sells under the product's own codes.
        new.sku = sku.clone().unwrap_or_default();
        new.barcode = barcode.clone();
        check.extend(rule_errors(&new, &failed, ""));
        Some(new)
    };
    let mut variant_rows = Vec::with_capacity(body.variants.len());
    for (i, input) in body.variants.into_iter().enumerate() {
        let input = input.or_defaults(&top_level);
        let prefix = format!("variants[{i}].");
        let position_given = input.position.is_some();
        let ParsedVariant { mut new, option_value_ids } = parse_variant(&mut check, &mut failed, &prefix, input, true);
        if !position_given {
            new.position = i32::try_from(i).unwrap_or(i32::MAX);
        }
        check.extend(rule_errors(&new, &failed, &prefix));
        variant_rows.push((new, option_value_ids));
    }
    caller.require_local(local_id)?;
    for variant in default_variant.iter().chain(variant_rows.iter().map(|(v, _)| v)) {
        caller.require_local(variant.warehouse_id.map(|w| LocalId(w.0)))?;
    }
    check.finish()?;

    let mut new = NewProduct::new(title.unwrap_or_default(), sku.unwrap_or_default());
    new.organization_id = caller.org();
    new.slug = slug.unwrap_or_default();
    new.barcode = barcode;
    new.description = description;
    new.status = status.unwrap_or(ProductStatus::Active);
    new.product_type = product_type;
    if let Some(unit) = unit_of_measure {
        new.unit_of_measure = unit;
    }
    new.alert_stock = alert_stock.unwrap_or(0);
    new.brand_id = brand_id;
    new.local_id = local_id;
    new.has_variants = has_variants;
    if let Some(metadata) = metadata {
        new.metadata = metadata;
    }

    Ok(ParsedCreate { new, default_variant, variant_rows, tag_ids, collection_ids, option_ids })
}

/// Creates a product — with its default variant, or with its variants — and its tag,
/// collection and option links, in one transaction. Answers the product's details.
#[utoipa::path(post, path = "/api/v1/products", tag = "products", request_body = CreateProduct, responses((status = 201, body = ProductView, headers(("ETag" = String))), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED"), (status = 409, description = "PRODUCT_SKU_EXISTS, PRODUCT_SLUG_EXISTS, PRODUCT_BARCODE_EXISTS, VARIANT_SKU_EXISTS, ...")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateProduct>) -> ApiResult {
    caller.require(Resource::Products, Action::Create)?;
    let draft = parse_create(&caller, body.into_inner())?;
    let org = caller.org();
    let product_id = {
        let conn = &mut *state.conn().await?;
        state.catalog.write(products::create_draft(conn, org, &caller.actor, draft)).await.explained(conn, org).await?
    };
    let details = details(&state, org, product_id).await?;
    let version = details.product.version;
    Ok(reply::created(written(&state, &caller, details).await?, version))
}

/// The product with its variants, images, tags, collections and brand.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", params(GetArgs), responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 400), (status = 404, description = "PRODUCT_NOT_FOUND")))]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    args: web::Query<GetArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let mut check = Check::new(Entity::Product);
    let with_variants = flag(&mut check, "include_variants", args.include_variants.as_deref()).unwrap_or(true);
    let asked = flag(&mut check, "include_stock", args.include_stock.as_deref());
    check.finish()?;
    let with_stock = crate::routes::stock::shown(&caller, asked, false)?;
    if with_variants && !with_stock {
        // The common read: the answer as the cache keeps it, written out as it is.
        let found = state.catalog.products_encoded(Edge::Rest, caller.org(), &[*id], encoded_view).await?;
        let answer = found.first().and_then(Option::as_deref).ok_or(ApiError(Error::NotFound(Entity::Product)))?;
        let (version, json) =
            answer.split_first_chunk::<4>().ok_or_else(|| Error::Internal("product answer not encoded".into()))?;
        return Ok(reply::ok_versioned_json(json, i32::from_le_bytes(*version)));
    }
    let mut details = details(&state, caller.org(), *id).await?;
    let version = details.product.version;
    // Stock sums the live variants, whether or not they are shown.
    let live: Vec<catalog_core::ids::VariantId> =
        details.variants.iter().filter(|v| v.deleted_at.is_none()).map(|v| v.id).collect();
    if !with_variants {
        details.variants.clear();
        details.variant_images.clear();
    }
    let mut view = ProductView::from(details);
    if with_stock {
        add_stock(&state, caller.org(), &mut view, &live).await?;
    }
    Ok(reply::ok_versioned(view, version))
}

/// A product's whole answer as the cache keeps it for [`get`]: its version (4 bytes,
/// little-endian), then the view's JSON.
fn encoded_view(details: &ProductDetails) -> Vec<u8> {
    let mut encoded = details.product.version.to_le_bytes().to_vec();
    // The view is plain data: serializing it cannot fail (an empty answer would be a 500 below).
    if serde_json::to_writer(&mut encoded, &ProductView::from(details.clone())).is_err() {
        encoded.clear();
    }
    encoded
}

/// A product answer with its stock (page 09): `total_stock` over the `live` variants, each
/// shown variant's `stock`, and how fresh it is.
async fn add_stock(
    state: &ApiState,
    org: OrganizationId,
    view: &mut ProductView,
    live: &[catalog_core::ids::VariantId],
) -> Result<(), ApiError> {
    let lookup = StockLookup::of(state, &mut *state.conn().await?, org, live).await?;
    let mut total = catalog_core::stock::VariantStock::default();
    for id in live {
        let stock = lookup.get(*id);
        total.total += stock.total;
        total.last_update = total.last_update.max(stock.last_update);
    }
    view.stock = Some(ProductStockView {
        total_stock: total.total,
        last_stock_update: total.last_update,
        stock_stale: lookup.stale,
    });
    let alert_threshold = view.product.alert_stock;
    for variant in &mut view.variants {
        let stock = lookup.view(variant.variant_id, alert_threshold);
        variant.set_stock(stock);
    }
    Ok(())
}

/// The product's answer to a write (pages 09: with `total_stock` for those who may read stock).
async fn written(state: &ApiState, caller: &Caller, details: ProductDetails) -> Result<ProductView, ApiError> {
    let live: Vec<catalog_core::ids::VariantId> =
        details.variants.iter().filter(|v| v.deleted_at.is_none()).map(|v| v.id).collect();
    let mut view = ProductView::from(details);
    if crate::routes::stock::shown(caller, None, true)? {
        add_stock(state, caller.org(), &mut view, &live).await?;
    }
    Ok(view)
}

/// The product as the pages show it, answered after a write with its version as `ETag`.
async fn answer(state: &ApiState, caller: &Caller, id: ProductId) -> ApiResult {
    let details = details(state, caller.org(), id).await?;
    let version = details.product.version;
    Ok(reply::ok_versioned(written(state, caller, details).await?, version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "products", request_body = UpdateProduct, params(crate::openapi::IfMatch), responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED"), (status = 404), (status = 409), (status = 412, description = "VERSION_MISMATCH")))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<ProductId>,
    body: web::Json<UpdateProduct>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Product);
    let title = body.title.as_deref().map(|t| check.required_text("title", Some(t), max_chars::TITLE));
    // An empty slug asks the repository to regenerate it from the title.
    let slug = body
        .slug
        .as_deref()
        .map(|s| if s.trim().is_empty() { Some(String::new()) } else { check.slug("slug", Some(s)) });
    let sku = body.sku.as_deref().map(|s| check.required_text("sku", Some(s), max_chars::SKU));
    let barcode = body.barcode.map(|b| b.and_then(|b| check.text("barcode", Some(&b), max_chars::BARCODE)));
    let description = body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), 20_000)));
    let status = product_status(&mut check, body.status.as_deref(), body.is_active);
    let product_type =
        body.product_type.map(|t| t.and_then(|t| check.text("product_type", Some(&t), max_chars::PRODUCT_TYPE)));
    let unit_of_measure = body
        .unit_of_measure
        .as_deref()
        .map(|u| check.required_text("unit_of_measure", Some(u), max_chars::UNIT_OF_MEASURE));
    let alert_stock = check.int("alert_stock", body.alert_stock, 0, STOCK_MAX);
    let brand_id = body.brand_id.map(|b| b.and_then(|b| check.id::<BrandId>("brand_id", Some(&b))));
    let local_id = body.local_id.map(|l| l.and_then(|l| check.id::<LocalId>("local_id", Some(&l))));
    let metadata = check.object("metadata", body.metadata);
    let base_price = check.money("base_price", body.base_price.as_ref(), true);
    let tag_ids: Option<Vec<TagId>> = body.tag_ids.as_deref().map(|ids| parse_ids(&mut check, "tag_ids", ids));
    let collection_ids: Option<Vec<CollectionId>> =
        body.collection_ids.as_deref().map(|ids| parse_ids(&mut check, "collection_ids", ids));
    caller.require_local(local_id.flatten())?;
    check.finish()?;
    let changes = ProductChanges {
        local_id,
        brand_id,
        title: title.flatten(),
        slug: slug.flatten(),
        sku: sku.flatten(),
        barcode,
        description,
        status,
        product_type,
        unit_of_measure: unit_of_measure.flatten(),
        alert_stock,
        has_variants: None,
        metadata,
    };
    let update = ProductUpdate { changes, base_price, tag_ids, collection_ids };
    let conn = &mut *state.conn().await?;
    let product = state
        .catalog
        .write(products::update_all(conn, caller.org(), &caller.actor, *id, expected, update))
        .await
        .map_err(products::as_product_error)
        .explained(conn, caller.org())
        .await?;
    answer(&state, &caller, product.id).await
}

/// Soft delete, with the product's variants. A product with variants needs `force=true`
/// (else 409 `PRODUCT_HAS_VARIANTS`); a simple product's default variant goes with it.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", params(DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "PRODUCT_HAS_VARIANTS")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Delete)?;
    state
        .catalog
        .write(products::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force))
        .await?;
    Ok(reply::no_content())
}

async fn set_status(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: ProductId,
    status: ProductStatus,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let expected = if_match(&req)?;
    state
        .catalog
        .write(products::set_status(&mut *state.conn().await?, caller.org(), &caller.actor, id, expected, status))
        .await?;
    answer(&state, &caller, id).await
}

/// Status `active` (`catalog.product.activated`). `If-Match` is optional.
#[utoipa::path(post, path = "/api/v1/products/{id}/activate", tag = "products", params(crate::openapi::IfMatch), responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 404), (status = 412)))]
pub async fn activate(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<ProductId>,
) -> ApiResult {
    set_status(caller, state, req, *id, ProductStatus::Active).await
}

/// Status `inactive` (`catalog.product.deactivated`). `If-Match` is optional.
#[utoipa::path(post, path = "/api/v1/products/{id}/deactivate", tag = "products", params(crate::openapi::IfMatch), responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 404), (status = 412)))]
pub async fn deactivate(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<ProductId>,
) -> ApiResult {
    set_status(caller, state, req, *id, ProductStatus::Inactive).await
}

/// Replaces the ordered list of options the product's variants use.
#[utoipa::path(post, path = "/api/v1/products/{id}/options", tag = "products", request_body = SetOptions, responses((status = 200, body = ProductView, headers(("ETag" = String))), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 404)))]
pub async fn set_options(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<SetOptions>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let mut check = Check::new(Entity::Product);
    let option_ids: Vec<OptionId> = parse_ids(&mut check, "option_ids", &body.option_ids);
    check.finish()?;
    state
        .catalog
        .write(products::set_options(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &option_ids))
        .await
        .map_err(products::as_product_error)?;
    answer(&state, &caller, *id).await
}

/// The product's live tags, by name.
#[utoipa::path(get, path = "/api/v1/products/{id}/tags", tag = "products", responses((status = 200, body = [TagView]), (status = 404)))]
pub async fn list_tags(caller: Caller, state: web::Data<ApiState>, id: web::Path<ProductId>) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let tags = details(&state, caller.org(), *id).await?.tags;
    Ok(reply::ok(tags.into_iter().map(|t| TagView::new(t, None)).collect::<Vec<_>>()))
}

/// A product tag change as the pages show it: `{product_id, <changed_key>, tags_count, tags}`.
fn tags_answer(product_id: ProductId, changed_key: &str, changed: usize, tags: Vec<Tag>) -> HttpResponse {
    let tags: Vec<TagView> = tags.into_iter().map(|t| TagView::new(t, None)).collect();
    reply::ok(json!({ "product_id": product_id, changed_key: changed, "tags_count": tags.len(), "tags": tags }))
}

fn tag_ids(body: TagIds) -> Result<Vec<TagId>, Error> {
    let mut check = Check::new(Entity::Product);
    let ids = parse_ids(&mut check, "tag_ids", &body.tag_ids);
    check.finish()?;
    Ok(ids)
}

/// Adds tags (already linked ones are kept); answers `{product_id, tags_added, tags_count, tags}`.
#[utoipa::path(post, path = "/api/v1/products/{id}/tags", tag = "products", request_body = TagIds, responses((status = 200, body = crate::openapi::ProductTagsAdded), (status = 400, description = "INVALID_PRODUCT_DATA (unknown tags)"), (status = 404)))]
pub async fn add_tags(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<TagIds>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let ids = tag_ids(body.into_inner())?;
    let (tags, added) = state
        .catalog
        .write(tags::add_to_product_counted(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ids))
        .await
        .map_err(products::as_product_error)?;
    Ok(tags_answer(*id, "tags_added", added, tags))
}

/// Unlinks the tags in the body (ones the product lacks are ignored); answers
/// `{product_id, tags_removed, tags_count, tags}`.
#[utoipa::path(delete, path = "/api/v1/products/{id}/tags", tag = "products", request_body = TagIds, responses((status = 200, body = crate::openapi::ProductTagsRemoved), (status = 400), (status = 404)))]
pub async fn remove_tags(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<TagIds>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let ids = tag_ids(body.into_inner())?;
    let (tags, removed) = state
        .catalog
        .write(tags::remove_from_product_counted(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ids))
        .await
        .map_err(products::as_product_error)?;
    Ok(tags_answer(*id, "tags_removed", removed, tags))
}

/// Makes `tag_ids` the product's whole tag set; answers the product's tags.
#[utoipa::path(put, path = "/api/v1/products/{id}/tags", tag = "products", request_body = TagIds, responses((status = 200, body = [TagView]), (status = 400), (status = 404)))]
pub async fn replace_tags(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<TagIds>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let ids = tag_ids(body.into_inner())?;
    let tags = state
        .catalog
        .write(tags::set_product_tags(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ids))
        .await
        .map_err(products::as_product_error)?;
    Ok(reply::ok(tags.into_iter().map(|t| TagView::new(t, None)).collect::<Vec<_>>()))
}

/// Unlinks one tag (a tag the product does not carry is fine; an unknown tag is 404).
#[utoipa::path(delete, path = "/api/v1/products/{id}/tags/{tag_id}", tag = "products", responses((status = 204), (status = 404, description = "PRODUCT_NOT_FOUND or TAG_NOT_FOUND")))]
pub async fn remove_tag(caller: Caller, state: web::Data<ApiState>, path: web::Path<(ProductId, TagId)>) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let (id, tag_id) = path.into_inner();
    state
        .catalog
        .write(tags::remove_from_product(&mut *state.conn().await?, caller.org(), &caller.actor, id, &[tag_id]))
        .await
        .map_err(|err| match err {
            Error::Validation { entity: Entity::Tag, .. } => Error::NotFound(Entity::Tag),
            other => other,
        })?;
    Ok(reply::no_content())
}
