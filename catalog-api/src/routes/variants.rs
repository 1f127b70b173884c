//! Variants: `/api/v1/products/{id}/variants` (list, create, and the nested item routes, which
//! answer 404 for a variant of another product) and `/api/v1/variants/{id}` (read, update,
//! delete, activate/deactivate, volume price calculation).

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::routes::flag;
use crate::routes::stock::{StockLookup, shown};
use crate::state::ApiState;
use crate::views::{VariantTierPrice, VariantView};
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::{Entity, Error, FieldError};
use catalog_core::ids::{
    LocalId, OptionId, OptionValueId, OrganizationId, PriceTierId, PriceTierRuleId, ProductId, VariantId, WarehouseId,
};
use catalog_core::models::{NewVariant, PriceTier, PriceTierRule, Variant, VariantChanges, max_chars};
use catalog_core::pricing::{self, cents};
use catalog_core::repo::variants::{VariantDraft, VariantFilter};
use catalog_core::repo::{images, price_tiers, products, variants};
use catalog_core::validate::{Check, Money, nullable};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get,
        update,
        delete,
        get_nested,
        update_nested,
        delete_nested,
        activate,
        deactivate,
        price,
        calculate_price
    ),
    components(schemas(
        CreateVariant,
        UpdateVariant,
        DimensionsInput,
        VariantView,
        PriceCalculation,
        TierRef,
        Savings,
        AppliedRule,
        NextTierOut
    ))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/products/{id}/variants").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/products/{product_id}/variants/{id}")
                .route(web::get().to(get_nested))
                .route(web::patch().to(update_nested))
                .route(web::put().to(update_nested))
                .route(web::delete().to(delete_nested)),
        )
        .service(
            web::resource("/variants/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/variants/{id}/activate").route(web::post().to(activate)).route(web::patch().to(activate)),
        )
        .service(
            web::resource("/variants/{id}/deactivate")
                .route(web::post().to(deactivate))
                .route(web::patch().to(deactivate)),
        )
        .service(web::resource("/variants/{id}/price").route(web::get().to(price)))
        .service(web::resource("/variants/{id}/calculate-price").route(web::get().to(calculate_price)));
}

// ---------------------------------------------------------------------------------------------
// Request shapes and their validation (shared with product creation)
// ---------------------------------------------------------------------------------------------

/// A new variant. Money accepts a decimal string or a number.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVariant {
    #[schema(schema_with = accepts::text::<500>)]
    pub title: Option<String>,
    #[schema(schema_with = accepts::required_text::<100>, required = true)]
    pub sku: Option<String>,
    #[schema(schema_with = accepts::text::<100>)]
    pub barcode: Option<String>,
    /// Required, > 0.
    #[serde(alias = "price")]
    #[schema(schema_with = accepts::price, required = true)]
    pub sale_price: Option<Money>,
    #[schema(schema_with = accepts::money)]
    pub cost_price: Option<Money>,
    #[schema(schema_with = accepts::money)]
    pub compare_at_price: Option<Money>,
    /// Percent, 0–100 (default 0); the pages call it `tax`.
    #[serde(alias = "tax")]
    #[schema(schema_with = accepts::percent)]
    pub tax_rate: Option<Money>,
    /// Kilograms.
    #[schema(schema_with = accepts::decimal::<3, WEIGHT_MAX>)]
    pub weight: Option<Money>,
    /// Centimetres.
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_length: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_width: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_height: Option<Money>,
    /// The pages' `{length, width, height, unit}` (unit `cm`), instead of `dim_*`.
    pub dimensions: Option<DimensionsInput>,
    #[schema(schema_with = accepts::text::<100>)]
    pub lot_number: Option<String>,
    #[schema(schema_with = accepts::text::<200>)]
    pub vendor: Option<String>,
    /// Must be one of the caller's locals (or `local:access_all`).
    #[schema(schema_with = accepts::id)]
    pub warehouse_id: Option<String>,
    /// Default true.
    pub track_inventory: Option<bool>,
    /// Default 10.
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_min_stock: Option<i64>,
    /// Default 1000, ≥ `default_min_stock`.
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_max_stock: Option<i64>,
    /// Free attributes of a variant of a product without options (derived from the option
    /// values otherwise).
    #[schema(schema_with = accepts::metadata)]
    pub attributes: Option<Value>,
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// Default true.
    pub is_active: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
    /// One value per option the product declares.
    #[serde(default)]
    #[schema(schema_with = accepts::ids)]
    pub option_value_ids: Vec<String>,
    /// With `option_value`: the value of one of the product's options by name (added to the
    /// option when it lacks it), as the pages send it.
    #[schema(schema_with = accepts::id)]
    pub option_id: Option<String>,
    #[schema(schema_with = accepts::present_text::<100>)]
    pub option_value: Option<String>,
}

impl CreateVariant {
    /// This variant with `defaults` where it states nothing: each price, tax, stock setting and
    /// the warehouse on its own; the dimensions as one (a variant stating any keeps its own).
    pub(crate) fn or_defaults(mut self, defaults: &CreateVariant) -> Self {
        let or = |own: &mut Option<Money>, default: &Option<Money>| {
            if own.is_none() {
                own.clone_from(default);
            }
        };
        or(&mut self.sale_price, &defaults.sale_price);
        or(&mut self.cost_price, &defaults.cost_price);
        or(&mut self.compare_at_price, &defaults.compare_at_price);
        or(&mut self.tax_rate, &defaults.tax_rate);
        or(&mut self.weight, &defaults.weight);
        let own_dimensions = self.dimensions.is_some()
            || self.dim_length.is_some()
            || self.dim_width.is_some()
            || self.dim_height.is_some();
        if !own_dimensions {
            self.dimensions.clone_from(&defaults.dimensions);
            self.dim_length.clone_from(&defaults.dim_length);
            self.dim_width.clone_from(&defaults.dim_width);
            self.dim_height.clone_from(&defaults.dim_height);
        }
        self.track_inventory = self.track_inventory.or(defaults.track_inventory);
        self.default_min_stock = self.default_min_stock.or(defaults.default_min_stock);
        self.default_max_stock = self.default_max_stock.or(defaults.default_max_stock);
        if self.warehouse_id.is_none() {
            self.warehouse_id.clone_from(&defaults.warehouse_id);
        }
        self
    }
}

/// Dimensions as the pages send them.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionsInput {
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub length: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub width: Option<Money>,
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub height: Option<Money>,
    /// `cm` (the only unit stored).
    #[schema(schema_with = centimetres)]
    pub unit: Option<String>,
}

/// The one unit dimensions are stored in.
fn centimetres() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    accepts::one_of(&["cm"])
}

impl DimensionsInput {
    /// Fills `dim_*` that were not sent from `dimensions`; a unit other than `cm` is an error.
    fn apply(self, check: &mut Check, prefix: &str, dims: [&mut Option<Money>; 3]) {
        if self.unit.as_deref().is_some_and(|u| !u.trim().eq_ignore_ascii_case("cm")) {
            check.fail(&format!("{prefix}dimensions.unit"), "only cm is supported");
        }
        let [length, width, height] = dims;
        for (slot, value) in [(length, self.length), (width, self.width), (height, self.height)] {
            if slot.is_none() {
                *slot = value;
            }
        }
    }
}

/// Partial update: absent fields are kept, `null` clears a nullable one. Option values are
/// fixed at creation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVariant {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<500>)]
    pub title: Option<Option<String>>,
    #[schema(schema_with = accepts::present_text::<100>)]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<100>)]
    pub barcode: Option<Option<String>>,
    #[serde(alias = "price")]
    #[schema(schema_with = accepts::positive_money)]
    pub sale_price: Option<Money>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::money)]
    pub cost_price: Option<Option<Money>>,
    /// The pages' `{length, width, height, unit}`, instead of `dim_*`.
    pub dimensions: Option<DimensionsInput>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::money)]
    pub compare_at_price: Option<Option<Money>>,
    #[serde(alias = "tax")]
    #[schema(schema_with = accepts::percent)]
    pub tax_rate: Option<Money>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::decimal::<3, WEIGHT_MAX>)]
    pub weight: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_length: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_width: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::decimal::<2, DIMENSION_MAX>)]
    pub dim_height: Option<Option<Money>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<100>)]
    pub lot_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<200>)]
    pub vendor: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::id)]
    pub warehouse_id: Option<Option<String>>,
    pub track_inventory: Option<bool>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_min_stock: Option<i64>,
    #[schema(schema_with = accepts::int::<0, STOCK_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub default_max_stock: Option<i64>,
    #[schema(schema_with = accepts::metadata)]
    pub attributes: Option<Value>,
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    pub is_active: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

/// Fields already reported as malformed: the repository's rules (`variants::validate`) must
/// not report them a second time.
pub(crate) type Failed = HashSet<String>;

const WEIGHT_MAX: i64 = 9_999_999_999; // numeric(10,3), in grams
const DIMENSION_MAX: i64 = 9_999_999_999; // numeric(10,2), in hundredths
const STOCK_MAX: i64 = i32::MAX as i64;
const POSITION_MAX: i64 = i32::MAX as i64;
const QUANTITY_MAX: i64 = i32::MAX as i64;

/// Records `field` as failed when a value was given but did not parse.
fn seen<T>(failed: &mut Failed, field: &str, given: bool, parsed: Option<T>) -> Option<T> {
    if given && parsed.is_none() {
        failed.insert(field.to_string());
    }
    parsed
}

fn money(check: &mut Check, failed: &mut Failed, field: &str, value: Option<&Money>) -> Option<Decimal> {
    let parsed = check.money(field, value, false);
    seen(failed, field, value.is_some(), parsed)
}

fn measure(
    check: &mut Check,
    failed: &mut Failed,
    field: &str,
    value: Option<&Money>,
    weight: bool,
) -> Option<Decimal> {
    let (scale, max) = if weight { (3, Decimal::new(WEIGHT_MAX, 3)) } else { (2, Decimal::new(DIMENSION_MAX, 2)) };
    let parsed = check.decimal(field, value, scale, max, false);
    seen(failed, field, value.is_some(), parsed)
}

fn tax_rate(check: &mut Check, failed: &mut Failed, field: &str, value: Option<&Money>) -> Option<Decimal> {
    let parsed = check.decimal(field, value, 2, Decimal::ONE_HUNDRED, false);
    seen(failed, field, value.is_some(), parsed)
}

fn object(check: &mut Check, failed: &mut Failed, field: &str, value: Option<Value>) -> Option<Value> {
    let given = value.is_some();
    let object = check.object(field, value);
    if given && object.is_none() {
        failed.insert(field.to_string());
    }
    object
}

/// A variant's fields as parsed, before the repository's rules.
pub(crate) struct ParsedVariant {
    pub new: NewVariant,
    pub option_value_ids: Vec<OptionValueId>,
}

/// Parses a variant request into a [`NewVariant`], reporting malformed fields (named
/// `{prefix}{field}`) in `check` and `failed`. Malformed values are replaced by harmless ones so
/// that [`rule_errors`] can still judge the rest. `sku_required`: false for a simple product's
/// default variant, whose SKU is the product's.
pub(crate) fn parse_variant(
    check: &mut Check,
    failed: &mut Failed,
    prefix: &str,
    input: CreateVariant,
    sku_required: bool,
) -> ParsedVariant {
    let mut input = input;
    if let Some(dimensions) = input.dimensions.take() {
        dimensions.apply(check, prefix, [&mut input.dim_length, &mut input.dim_width, &mut input.dim_height]);
    }
    let f = |name: &str| format!("{prefix}{name}");
    let sku = if sku_required {
        let sku = check.required_text(&f("sku"), input.sku.as_deref(), max_chars::SKU);
        seen(failed, &f("sku"), true, sku)
    } else {
        let sku = check.text(&f("sku"), input.sku.as_deref(), max_chars::SKU);
        seen(failed, &f("sku"), input.sku.is_some(), sku)
    };
    let barcode = check.text(&f("barcode"), input.barcode.as_deref(), max_chars::BARCODE);
    let barcode = seen(failed, &f("barcode"), input.barcode.as_deref().is_some_and(|b| !b.trim().is_empty()), barcode);
    let sale_price = if input.sale_price.is_none() {
        check.fail(&f("sale_price"), "is required");
        failed.insert(f("sale_price"));
        None
    } else {
        let parsed = check.money(&f("sale_price"), input.sale_price.as_ref(), true);
        seen(failed, &f("sale_price"), true, parsed)
    };
    let cost_price = money(check, failed, &f("cost_price"), input.cost_price.as_ref());
    let compare_at_price = money(check, failed, &f("compare_at_price"), input.compare_at_price.as_ref());
    let tax = tax_rate(check, failed, &f("tax_rate"), input.tax_rate.as_ref());
    let weight = measure(check, failed, &f("weight"), input.weight.as_ref(), true);
    let dim_length = measure(check, failed, &f("dim_length"), input.dim_length.as_ref(), false);
    let dim_width = measure(check, failed, &f("dim_width"), input.dim_width.as_ref(), false);
    let dim_height = measure(check, failed, &f("dim_height"), input.dim_height.as_ref(), false);
    let title = check.text(&f("title"), input.title.as_deref(), max_chars::TITLE);
    let lot_number = check.text(&f("lot_number"), input.lot_number.as_deref(), max_chars::LOT_NUMBER);
    let vendor = check.text(&f("vendor"), input.vendor.as_deref(), max_chars::VENDOR);
    let warehouse_id: Option<WarehouseId> = check.id(&f("warehouse_id"), input.warehouse_id.as_deref());
    let min_stock = check.int(&f("default_min_stock"), input.default_min_stock, 0, i64::from(i32::MAX));
    let min_stock = seen(failed, &f("default_min_stock"), input.default_min_stock.is_some(), min_stock);
    let max_stock = check.int(&f("default_max_stock"), input.default_max_stock, 0, i64::from(i32::MAX));
    let max_stock = seen(failed, &f("default_max_stock"), input.default_max_stock.is_some(), max_stock);
    let position = check.int(&f("position"), input.position, 0, i64::from(i32::MAX));
    let attributes = object(check, failed, &f("attributes"), input.attributes);
    let metadata = object(check, failed, &f("metadata"), input.metadata);
    let option_value_ids = input
        .option_value_ids
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| check.id::<OptionValueId>(&f(&format!("option_value_ids[{i}]")), Some(raw)))
        .collect();

    let mut new = NewVariant::new(sku.unwrap_or_default(), sale_price.unwrap_or(Decimal::ONE));
    new.title = title;
    new.barcode = barcode;
    new.cost_price = cost_price;
    new.compare_at_price = compare_at_price;
    new.tax_rate = tax.unwrap_or(Decimal::ZERO);
    new.weight = weight;
    new.dim_length = dim_length;
    new.dim_width = dim_width;
    new.dim_height = dim_height;
    new.lot_number = lot_number;
    new.vendor = vendor;
    new.warehouse_id = warehouse_id;
    new.track_inventory = input.track_inventory.unwrap_or(true);
    // A malformed bound is replaced by the loosest one, so the min ≤ max rule stays quiet; a
    // default bound gives way to the one sent.
    new.default_min_stock = match (input.default_min_stock, min_stock) {
        (_, Some(min)) => min,
        (Some(_), None) => 0,
        (None, None) => new.default_min_stock.min(max_stock.unwrap_or(i32::MAX)),
    };
    new.default_max_stock = match (input.default_max_stock, max_stock) {
        (_, Some(max)) => max,
        (Some(_), None) => i32::MAX,
        (None, None) => new.default_max_stock.max(new.default_min_stock),
    };
    new.position = position.unwrap_or(0);
    new.is_active = input.is_active.unwrap_or(true);
    if let Some(attributes) = attributes {
        new.attributes = attributes;
    }
    if let Some(metadata) = metadata {
        new.metadata = metadata;
    }
    ParsedVariant { new, option_value_ids }
}

/// `variants::validate` on the parsed variant, minus the fields already reported, named with
/// `prefix`.
pub(crate) fn rule_errors(new: &NewVariant, failed: &Failed, prefix: &str) -> Vec<FieldError> {
    variants::validate(new)
        .into_iter()
        .map(|e| FieldError::new(format!("{prefix}{}", request_field(&e.field)), e.message))
        .filter(|e| !failed.contains(&e.field))
        .collect()
}

/// The repository names option problems `options`; requests send `option_value_ids`.
pub(crate) fn request_field(field: &str) -> &str {
    if field == "options" { "option_value_ids" } else { field }
}

/// The errors of a finished `Check`, or the error to pass on.
pub(crate) fn check_errors(check: Check) -> Result<Vec<FieldError>, ApiError> {
    match check.finish() {
        Ok(()) => Ok(Vec::new()),
        Err(Error::Validation { fields, .. }) => Ok(fields),
        Err(other) => Err(other.into()),
    }
}

fn warehouse_local(w: Option<WarehouseId>) -> Option<LocalId> {
    // The Auth Service lists locals and warehouses in one `locals` claim.
    w.map(|w| LocalId(w.0))
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Variants as the pages show them, with their images and, with `tiers`, the rules of the
/// active tiers that price them: two statements for any number of variants.
async fn views(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    rows: Vec<Variant>,
    tiers: bool,
) -> Result<Vec<VariantView>, ApiError> {
    let ids: Vec<VariantId> = rows.iter().map(|v| v.id).collect();
    let mut images_of: HashMap<VariantId, Vec<_>> = HashMap::new();
    for image in images::list_variant_images(conn, org, &ids).await? {
        images_of.entry(image.variant_id).or_default().push(image);
    }
    let mut prices_of: HashMap<VariantId, Vec<_>> = HashMap::new();
    if tiers {
        for (tier, rule) in price_tiers::tier_rules_for_variants(conn, org, &ids).await? {
            prices_of.entry(rule.variant_id).or_default().push((tier, rule));
        }
    }
    Ok(rows
        .into_iter()
        .map(|v| {
            let sale_price = v.sale_price;
            let prices = prices_of.remove(&v.id).unwrap_or_default();
            let images = images_of.remove(&v.id).unwrap_or_default();
            let view = VariantView::new(v, images);
            if !tiers {
                return view;
            }
            view.with_price_tiers(prices.into_iter().map(|(tier, rule)| tier_price(sale_price, tier, rule)).collect())
        })
        .collect())
}

fn tier_price(sale_price: Decimal, tier: PriceTier, rule: PriceTierRule) -> VariantTierPrice {
    VariantTierPrice {
        price_tier_id: tier.id,
        tier_name: tier.name,
        slug: tier.slug,
        rule_id: rule.id,
        min_qty: rule.min_qty,
        price: rule.price,
        discount_percentage: if sale_price > Decimal::ZERO {
            cents((sale_price - rule.price) / sale_price * Decimal::ONE_HUNDRED)
        } else {
            Decimal::ZERO
        },
    }
}

/// One variant as the pages show it.
async fn view(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    variant: Variant,
    tiers: bool,
) -> Result<VariantView, ApiError> {
    views(conn, org, vec![variant], tiers).await?.pop().ok_or(ApiError(Error::NotFound(Entity::Variant)))
}

/// The variant's answer with its `stock` (page 10), its alert level its product's.
async fn add_stock(
    state: &ApiState,
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    view: VariantView,
) -> Result<VariantView, ApiError> {
    let alert_threshold = products::get(conn, org, view.variant.product_id).await?.alert_stock;
    let lookup = StockLookup::of(state, conn, org, &[view.variant_id]).await?;
    let stock = lookup.view(view.variant_id, alert_threshold);
    Ok(view.with_stock(stock))
}

/// The variant's answer to a write: with price tiers, and stock for those who may read it.
async fn written(
    state: &ApiState,
    caller: &Caller,
    conn: &mut catalog_core::db::PgConn,
    variant: Variant,
) -> Result<VariantView, ApiError> {
    let view = view(conn, caller.org(), variant, true).await?;
    if shown(caller, None, true)? { add_stock(state, conn, caller.org(), view).await } else { Ok(view) }
}

/// Variant list filters (page 10).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListArgs {
    /// `true` or `false`.
    #[param(schema_with = accepts::flag)]
    pub is_active: Option<String>,
    /// One of the variant's option values, e.g. `Rojo` (case-insensitive).
    #[param(schema_with = accepts::text::<200>)]
    pub option_value: Option<String>,
    /// `sale_price` at least this...
    #[param(schema_with = accepts::money_text)]
    pub min_price: Option<String>,
    /// ...and at most this.
    #[param(schema_with = accepts::money_text)]
    pub max_price: Option<String>,
    /// `true`: only variants with stock available (over all warehouses, as Inventory last
    /// reported it); `false`: only those without.
    #[param(schema_with = accepts::flag)]
    pub in_stock: Option<String>,
    /// Each variant's `stock` (default true for callers holding `inventory.stock.read`).
    #[param(schema_with = accepts::flag)]
    pub include_stock: Option<String>,
}

fn variant_filter(args: &ListArgs) -> Result<VariantFilter, Error> {
    let mut check = Check::new(Entity::Variant);
    let is_active = flag(&mut check, "is_active", args.is_active.as_deref());
    let option_value = check.text("option_value", args.option_value.as_deref(), max_chars::SEARCH);
    let min_price = check.money("min_price", args.min_price.clone().map(Money::Text).as_ref(), false);
    let max_price = check.money("max_price", args.max_price.clone().map(Money::Text).as_ref(), false);
    let in_stock = flag(&mut check, "in_stock", args.in_stock.as_deref());
    check.finish()?;
    Ok(VariantFilter { is_active, option_value, min_price, max_price, in_stock })
}

/// The product's live variants, oldest first, with their images: `{product, variants,
/// total_variants}` as the pages show them, and the same page as `edges`/`pageInfo`.
#[utoipa::path(get, path = "/api/v1/products/{id}/variants", tag = "variants", params(PageArgs, ListArgs), responses((status = 200, body = crate::openapi::ProductVariants), (status = 400), (status = 404, description = "PRODUCT_NOT_FOUND")))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    product_id: web::Path<ProductId>,
    args: web::Query<PageArgs>,
    filters: web::Query<ListArgs>,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let filter = variant_filter(&filters)?;
    let mut check = Check::new(Entity::Variant);
    let asked = flag(&mut check, "include_stock", filters.include_stock.as_deref());
    check.finish()?;
    let with_stock = shown(&caller, asked, true)?;
    let conn = &mut *state.conn().await?;
    let product = products::get(conn, caller.org(), *product_id).await?;
    let found = variants::list(conn, caller.org(), *product_id, &filter, &page).await?;
    let mut found = found;
    let mut items = views(conn, caller.org(), std::mem::take(&mut found.items), true).await?;
    if with_stock {
        let ids: Vec<VariantId> = items.iter().map(|item| item.variant_id).collect();
        let lookup = StockLookup::of(&state, conn, caller.org(), &ids).await?;
        items = items
            .into_iter()
            .map(|item| {
                let stock = lookup.view(item.variant_id, product.alert_stock);
                item.with_stock(stock)
            })
            .collect();
    }
    let total = found.total;
    let connection = reply::connection(found.with_items(items), |v| v.variant_id.as_uuid());
    let variants: Vec<&VariantView> = connection.edges.iter().map(|e| &e.node).collect();
    Ok(reply::ok(json!({
        "product": { "product_id": product.id, "name": product.title, "sku": product.sku },
        "total_variants": total.unwrap_or(variants.len() as i64),
        "variants": variants,
        "edges": connection.edges,
        "pageInfo": connection.page_info,
    })))
}

/// Creates a variant; every problem (malformed fields, the variant rules, the option values
/// against the options the product declares) is reported at once.
#[utoipa::path(post, path = "/api/v1/products/{id}/variants", tag = "variants", request_body = CreateVariant, responses((status = 201, body = VariantView, headers(("ETag" = String))), (status = 400, description = "INVALID_VARIANT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED"), (status = 404, description = "PRODUCT_NOT_FOUND"), (status = 409, description = "VARIANT_SKU_EXISTS, VARIANT_BARCODE_EXISTS, VARIANT_OPTIONS_EXIST")))]
pub async fn create(
    caller: Caller,
    state: web::Data<ApiState>,
    product_id: web::Path<ProductId>,
    body: web::Json<CreateVariant>,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Create)?;
    let mut check = Check::new(Entity::Variant);
    let mut failed = Failed::new();
    let mut body = body.into_inner();
    let named_value = named_option_value(&mut check, body.option_id.take(), body.option_value.take());
    let ParsedVariant { mut new, option_value_ids } = parse_variant(&mut check, &mut failed, "", body, true);
    caller.require_local(warehouse_local(new.warehouse_id))?;
    new.product_id = *product_id;
    // Malformed fields are reported together with the rules' and the options' problems.
    let options_field = if named_value.is_some() { "option_id" } else { "option_value_ids" };
    let draft = VariantDraft { new, option_value_ids, named_value, reported: check_errors(check)?, unparsed: failed };
    let org = caller.org();
    let conn = &mut *state.conn().await?;
    let variant = state
        .catalog
        .write(variants::create_draft(conn, org, &caller.actor, draft, options_field))
        .await
        .explained(conn, org)
        .await?;
    let version = variant.version;
    Ok(reply::created(written(&state, &caller, conn, variant).await?, version))
}

/// The pages' `option_id` + `option_value` (both or neither).
fn named_option_value(
    check: &mut Check,
    option_id: Option<String>,
    value: Option<String>,
) -> Option<(OptionId, String)> {
    match (option_id, value) {
        (None, None) => None,
        (Some(id), Some(value)) => {
            let id = check.id::<OptionId>("option_id", Some(&id));
            let value = check.required_text("option_value", Some(&value), max_chars::OPTION_VALUE);
            id.zip(value)
        }
        (None, Some(_)) => {
            check.fail("option_id", "is required with option_value");
            None
        }
        (Some(_), None) => {
            check.fail("option_value", "is required with option_id");
            None
        }
    }
}

/// The live variant, when it belongs to `product` (if given); else 404.
async fn scoped(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    id: VariantId,
    product: Option<ProductId>,
) -> Result<Variant, ApiError> {
    let variant = variants::get(conn, org, id).await?;
    if product.is_some_and(|p| p != variant.product_id) {
        return Err(ApiError(Error::NotFound(Entity::Variant)));
    }
    Ok(variant)
}

/// What a variant read embeds (page 10); each `true`/`false`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadArgs {
    /// `product {product_id, name, sku, brand}` (default false).
    #[param(schema_with = accepts::flag)]
    pub include_product: Option<String>,
    /// `stock {total, available, reserved, damaged, in_transit, below_alert, alert_threshold,
    /// last_stock_update, stale}` (default true for callers holding `inventory.stock.read`).
    #[param(schema_with = accepts::flag)]
    pub include_stock: Option<String>,
    /// The rules of active tiers that price the variant (default true).
    #[param(schema_with = accepts::flag)]
    pub include_price_tiers: Option<String>,
}

async fn read(
    caller: Caller,
    state: web::Data<ApiState>,
    id: VariantId,
    product: Option<ProductId>,
    args: ReadArgs,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Read)?;
    let mut check = Check::new(Entity::Variant);
    let with_product = flag(&mut check, "include_product", args.include_product.as_deref()).unwrap_or(false);
    let asked = flag(&mut check, "include_stock", args.include_stock.as_deref());
    let with_tiers = flag(&mut check, "include_price_tiers", args.include_price_tiers.as_deref()).unwrap_or(true);
    check.finish()?;
    let with_stock = shown(&caller, asked, true)?;
    let conn = &mut *state.conn().await?;
    let variant = scoped(conn, caller.org(), id, product).await?;
    let version = variant.version;
    let product_id = variant.product_id;
    let mut view = view(conn, caller.org(), variant, with_tiers).await?;
    if with_stock {
        view = add_stock(&state, conn, caller.org(), view).await?;
    }
    if !with_product {
        return Ok(reply::ok_versioned(view, version));
    }
    let details = state.catalog.product_details(caller.org(), &[product_id]).await?.into_iter().next().flatten();
    let mut answer =
        serde_json::to_value(view).map_err(|e| ApiError(Error::internal_from("encoding a variant", &e)))?;
    answer["product"] = match details {
        Some(d) => json!({
            "product_id": d.product.id,
            "name": d.product.title,
            "sku": d.product.sku,
            "brand": d.brand.map(|b| json!({ "brand_id": b.id, "name": b.name, "slug": b.slug })),
        }),
        None => Value::Null,
    };
    Ok(reply::ok_versioned(answer, version))
}

#[utoipa::path(get, path = "/api/v1/variants/{id}", tag = "variants", params(ReadArgs), responses((status = 200, body = crate::openapi::VariantDetails, headers(("ETag" = String))), (status = 404, description = "VARIANT_NOT_FOUND")))]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    args: web::Query<ReadArgs>,
) -> ApiResult {
    read(caller, state, *id, None, args.into_inner()).await
}

/// The variant, only if it is one of the product's (else 404 `VARIANT_NOT_FOUND`).
#[utoipa::path(get, path = "/api/v1/products/{product_id}/variants/{id}", tag = "variants", params(ReadArgs), responses((status = 200, body = crate::openapi::VariantDetails, headers(("ETag" = String))), (status = 404, description = "VARIANT_NOT_FOUND")))]
pub async fn get_nested(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(ProductId, VariantId)>,
    args: web::Query<ReadArgs>,
) -> ApiResult {
    let (product_id, id) = path.into_inner();
    read(caller, state, id, Some(product_id), args.into_inner()).await
}

/// Parses an update; malformed fields are reported here, the variant rules (on the merged
/// row) by the repository.
fn parse_changes(check: &mut Check, mut body: UpdateVariant) -> VariantChanges {
    let mut failed = Failed::new();
    if let Some(dimensions) = body.dimensions.take() {
        let (mut length, mut width, mut height) = (None, None, None);
        dimensions.apply(check, "", [&mut length, &mut width, &mut height]);
        body.dim_length = body.dim_length.or(length.map(Some));
        body.dim_width = body.dim_width.or(width.map(Some));
        body.dim_height = body.dim_height.or(height.map(Some));
    }
    let sku = body.sku.as_deref().and_then(|s| check.required_text("sku", Some(s), max_chars::SKU));
    let barcode = body.barcode.map(|b| b.and_then(|b| check.text("barcode", Some(&b), max_chars::BARCODE)));
    let sale_price = body.sale_price.as_ref().and_then(|p| check.money("sale_price", Some(p), true));
    let cost_price = body.cost_price.map(|p| p.and_then(|p| money(check, &mut failed, "cost_price", Some(&p))));
    let compare_at_price =
        body.compare_at_price.map(|p| p.and_then(|p| money(check, &mut failed, "compare_at_price", Some(&p))));
    let tax = body.tax_rate.as_ref().and_then(|t| tax_rate(check, &mut failed, "tax_rate", Some(t)));
    let weight = body.weight.map(|w| w.and_then(|w| measure(check, &mut failed, "weight", Some(&w), true)));
    let dim_length =
        body.dim_length.map(|d| d.and_then(|d| measure(check, &mut failed, "dim_length", Some(&d), false)));
    let dim_width = body.dim_width.map(|d| d.and_then(|d| measure(check, &mut failed, "dim_width", Some(&d), false)));
    let dim_height =
        body.dim_height.map(|d| d.and_then(|d| measure(check, &mut failed, "dim_height", Some(&d), false)));
    let title = body.title.map(|t| t.and_then(|t| check.text("title", Some(&t), max_chars::TITLE)));
    let lot_number = body.lot_number.map(|l| l.and_then(|l| check.text("lot_number", Some(&l), max_chars::LOT_NUMBER)));
    let vendor = body.vendor.map(|v| v.and_then(|v| check.text("vendor", Some(&v), max_chars::VENDOR)));
    let warehouse_id = body.warehouse_id.map(|w| w.and_then(|w| check.id::<WarehouseId>("warehouse_id", Some(&w))));
    let default_min_stock = check.int("default_min_stock", body.default_min_stock, 0, i64::from(i32::MAX));
    let default_max_stock = check.int("default_max_stock", body.default_max_stock, 0, i64::from(i32::MAX));
    let position = check.int("position", body.position, 0, i64::from(i32::MAX));
    let attributes = object(check, &mut failed, "attributes", body.attributes);
    let metadata = object(check, &mut failed, "metadata", body.metadata);
    VariantChanges {
        title,
        sku,
        barcode,
        sale_price,
        cost_price,
        compare_at_price,
        tax_rate: tax,
        weight,
        dim_length,
        dim_width,
        dim_height,
        lot_number,
        vendor,
        warehouse_id,
        track_inventory: body.track_inventory,
        default_min_stock,
        default_max_stock,
        attributes,
        option_signature: None,
        position,
        is_active: body.is_active,
        metadata,
    }
}

async fn change(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: VariantId,
    product: Option<ProductId>,
    body: UpdateVariant,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let expected = if_match(&req)?;
    let mut check = Check::new(Entity::Variant);
    let changes = parse_changes(&mut check, body);
    check.finish()?;
    caller.require_local(warehouse_local(changes.warehouse_id.flatten()))?;
    let conn = &mut *state.conn().await?;
    scoped(conn, caller.org(), id, product).await?;
    let variant = state
        .catalog
        .write(variants::update(conn, caller.org(), &caller.actor, id, expected, changes))
        .await
        .map_err(|err| match err {
            Error::Validation { entity, fields } => Error::Validation {
                entity,
                fields: fields.into_iter().map(|e| FieldError::new(request_field(&e.field), e.message)).collect(),
            },
            other => other,
        })
        .explained(conn, caller.org())
        .await?;
    let version = variant.version;
    Ok(reply::ok_versioned(written(&state, &caller, conn, variant).await?, version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/variants/{id}", tag = "variants", request_body = UpdateVariant, params(crate::openapi::IfMatch), responses((status = 200, body = VariantView, headers(("ETag" = String))), (status = 400, description = "INVALID_VARIANT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED"), (status = 404), (status = 409), (status = 412, description = "VERSION_MISMATCH")))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<VariantId>,
    body: web::Json<UpdateVariant>,
) -> ApiResult {
    change(caller, state, req, *id, None, body.into_inner()).await
}

#[utoipa::path(patch, path = "/api/v1/products/{product_id}/variants/{id}", tag = "variants", request_body = UpdateVariant, params(crate::openapi::IfMatch), responses((status = 200, body = VariantView, headers(("ETag" = String))), (status = 400), (status = 404, description = "VARIANT_NOT_FOUND, also for a variant of another product"), (status = 409), (status = 412)))]
pub async fn update_nested(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(ProductId, VariantId)>,
    body: web::Json<UpdateVariant>,
) -> ApiResult {
    let (product_id, id) = path.into_inner();
    change(caller, state, req, id, Some(product_id), body.into_inner()).await
}

async fn remove(
    caller: Caller,
    state: web::Data<ApiState>,
    id: VariantId,
    product: Option<ProductId>,
    force: bool,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Delete)?;
    let conn = &mut *state.conn().await?;
    scoped(conn, caller.org(), id, product).await?;
    state.catalog.write(variants::delete(conn, caller.org(), &caller.actor, id, force)).await?;
    Ok(reply::no_content())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteArgs {
    /// Delete even when recipes use the variant as an ingredient (they keep deducting it). The
    /// pages' "delete even with stock" too: the catalog does not know stock yet, so a variant
    /// is never refused for that.
    #[serde(default)]
    pub force: bool,
}

/// Soft delete: the SKU, barcode and option combination become reusable.
#[utoipa::path(delete, path = "/api/v1/variants/{id}", tag = "variants", params(DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "VARIANT_IN_RECIPES")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    remove(caller, state, *id, None, args.force).await
}

#[utoipa::path(delete, path = "/api/v1/products/{product_id}/variants/{id}", tag = "variants", params(DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "VARIANT_IN_RECIPES")))]
pub async fn delete_nested(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(ProductId, VariantId)>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    let (product_id, id) = path.into_inner();
    remove(caller, state, id, Some(product_id), args.force).await
}

async fn set_active(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: VariantId,
    active: bool,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let expected = if_match(&req)?;
    let conn = &mut *state.conn().await?;
    let variant =
        state.catalog.write(variants::set_active(conn, caller.org(), &caller.actor, id, expected, active)).await?;
    let version = variant.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), variant, false).await?, version))
}

/// `If-Match` is optional.
#[utoipa::path(post, path = "/api/v1/variants/{id}/activate", tag = "variants", params(crate::openapi::IfMatch), responses((status = 200, body = VariantView, headers(("ETag" = String))), (status = 404), (status = 412)))]
pub async fn activate(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<VariantId>,
) -> ApiResult {
    set_active(caller, state, req, *id, true).await
}

/// `If-Match` is optional.
#[utoipa::path(post, path = "/api/v1/variants/{id}/deactivate", tag = "variants", params(crate::openapi::IfMatch), responses((status = 200, body = VariantView, headers(("ETag" = String))), (status = 404), (status = 412)))]
pub async fn deactivate(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<VariantId>,
) -> ApiResult {
    set_active(caller, state, req, *id, false).await
}

// ---------------------------------------------------------------------------------------------
// Price calculation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceArgs {
    /// Units to price, an integer ≥ 1; 1 when absent.
    #[param(schema_with = accepts::int::<1, QUANTITY_MAX>)]
    pub quantity: Option<String>,
    /// The tier to price with (must be active); by default the active tier of highest priority
    /// that has rules for the variant.
    #[param(schema_with = accepts::id)]
    pub price_tier_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierRef {
    pub id: PriceTierId,
    pub name: String,
    /// The pages' names for the same tier.
    pub price_tier_id: PriceTierId,
    pub tier_name: String,
    pub slug: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Savings {
    /// Compared with paying `sale_price` for every unit.
    #[schema(value_type = String, format = "decimal", example = "5.00")]
    pub amount: Decimal,
    /// Percent of the undiscounted subtotal.
    #[schema(value_type = String, format = "decimal", example = "10.00")]
    pub percentage: Decimal,
    /// The pages' names for `amount` and `percentage`.
    #[schema(value_type = String, format = "decimal")]
    pub amount_saved: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub percentage_saved: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedRule {
    pub rule_id: PriceTierRuleId,
    pub min_qty: i32,
    #[schema(value_type = String, format = "decimal")]
    pub price: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextTierOut {
    pub min_qty: i32,
    #[schema(value_type = String, format = "decimal")]
    pub price: Decimal,
    pub additional_qty_needed: i32,
    /// What the quantity asked would save at the next step's price (page 10's example:
    /// (270 − 255) × 75 = 1125).
    #[schema(value_type = String, format = "decimal")]
    pub additional_savings: Decimal,
}

/// A quote; money as decimal strings with two decimals.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceCalculation {
    pub variant_id: VariantId,
    pub sku: String,
    pub quantity: i32,
    /// The tier whose rules priced the quote (`null`: none applies to this variant).
    pub price_tier: Option<TierRef>,
    /// The pages' name for `price_tier`.
    pub applied_price_tier: Option<TierRef>,
    #[schema(value_type = String, format = "decimal")]
    pub sale_price: Decimal,
    /// The pages' name for `sale_price`.
    #[schema(value_type = String, format = "decimal")]
    pub base_price: Decimal,
    /// The pages' names for `unit_price` and `subtotal` (page 21).
    #[schema(value_type = String, format = "decimal")]
    pub final_price: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub total_amount: Decimal,
    /// Percent.
    #[schema(value_type = String, format = "decimal")]
    pub tax_rate: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub unit_price: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub subtotal: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub tax_amount: Decimal,
    #[schema(value_type = String, format = "decimal")]
    pub total: Decimal,
    pub savings: Savings,
    /// The rule with the largest `min_qty ≤ quantity`, if any.
    pub applied_rule: Option<AppliedRule>,
    /// The smallest step above `quantity`, if any.
    pub next_tier: Option<NextTierOut>,
}

async fn quote(caller: Caller, state: web::Data<ApiState>, id: VariantId, args: PriceArgs) -> ApiResult {
    caller.require(Resource::Variants, Action::Read)?;
    let mut check = Check::new(Entity::Variant);
    let quantity = match args.quantity.as_deref().map(str::trim) {
        None | Some("") => Some(1),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) => check.int("quantity", Some(n), 1, QUANTITY_MAX),
            Err(_) => {
                check.fail("quantity", "must be an integer of at least 1");
                None
            }
        },
    };
    let tier_id: Option<PriceTierId> = check.id("price_tier_id", args.price_tier_id.as_deref());
    check.finish()?;
    let quantity = quantity.unwrap_or(1);
    let org = caller.org();
    let conn = &mut *state.conn().await?;
    let variant = variants::get(conn, org, id).await?;
    let priced = price_tiers::rules_for_variant(conn, org, id, tier_id).await?;
    let (tier, rules) = match priced {
        Some((tier, rules)) => (Some(tier), rules),
        None => (None, Vec::new()),
    };
    let quote = pricing::calculate_price(variant.sale_price, variant.tax_rate, quantity, &rules)?;
    let tier_ref = |t: &catalog_core::models::PriceTier| TierRef {
        id: t.id,
        name: t.name.clone(),
        price_tier_id: t.id,
        tier_name: t.name.clone(),
        slug: t.slug.clone(),
    };
    let answer = PriceCalculation {
        variant_id: id,
        sku: variant.sku.clone(),
        quantity,
        price_tier: tier.as_ref().map(tier_ref),
        applied_price_tier: tier.as_ref().map(tier_ref),
        sale_price: cents(variant.sale_price),
        base_price: cents(variant.sale_price),
        final_price: cents(quote.unit_price),
        total_amount: cents(quote.subtotal),
        tax_rate: cents(variant.tax_rate),
        unit_price: cents(quote.unit_price),
        subtotal: cents(quote.subtotal),
        tax_amount: cents(quote.tax_amount),
        total: cents(quote.total),
        savings: Savings {
            amount: cents(quote.savings_amount),
            percentage: cents(quote.savings_percentage),
            amount_saved: cents(quote.savings_amount),
            percentage_saved: cents(quote.savings_percentage),
        },
        applied_rule: quote.applied_rule.map(|r| AppliedRule {
            rule_id: r.id,
            min_qty: r.min_qty,
            price: cents(r.price),
        }),
        next_tier: quote.next_tier.map(|n| NextTierOut {
            min_qty: n.min_qty,
            price: cents(n.price),
            additional_qty_needed: n.additional_qty_needed,
            additional_savings: cents((quote.unit_price - n.price).max(Decimal::ZERO) * Decimal::from(quantity)),
        }),
    };
    Ok(reply::ok(answer))
}

/// What `quantity` units cost: the rule with the largest `min_qty ≤ quantity` of the chosen (or
/// highest-priority active) tier, else `sale_price`; tax on the subtotal; savings against
/// `sale_price`; the next volume step.
#[utoipa::path(get, path = "/api/v1/variants/{id}/price", tag = "variants", params(PriceArgs), responses((status = 200, body = PriceCalculation), (status = 400, description = "INVALID_VARIANT_DATA (quantity, price_tier_id) or INVALID_PRICE_TIER_DATA (inactive tier)"), (status = 404, description = "VARIANT_NOT_FOUND or PRICE_TIER_NOT_FOUND")))]
pub async fn price(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    args: web::Query<PriceArgs>,
) -> ApiResult {
    quote(caller, state, *id, args.into_inner()).await
}

/// Alias of `/api/v1/variants/{id}/price`.
#[utoipa::path(get, path = "/api/v1/variants/{id}/calculate-price", tag = "variants", params(PriceArgs), responses((status = 200, body = PriceCalculation), (status = 400), (status = 404)))]
pub async fn calculate_price(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    args: web::Query<PriceArgs>,
) -> ApiResult {
    quote(caller, state, *id, args.into_inner()).await
}
