//! Stock as the catalog shows it (pages 09 and 10): `GET /variants/{id}/stock` and
//! `GET /products/{id}/stock`, read from the stock read model (`catalog_core::stock`), which
//! the worker keeps from Inventory's events. Inventory owns stock: every answer says when
//! Inventory last reported it (`last_stock_update`, `null` when never).
//!
//! Permissions (page 10): `read` on the resource and Inventory's `inventory.stock.read`.
//!
//! Also what product and variant answers embed ([`shown`], [`StockLookup`]): stock where the
//! page shows it or `include_stock` asks, for callers holding `inventory.stock.read` (an
//! explicit `include_stock=true` without it is 403; where the page shows stock by default it
//! is left out instead). Stock is read beside the cached answer, never cached with it: a report
//! from Inventory needs no cache invalidation.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::reply;
use crate::state::ApiState;
use crate::views::StockView;
use actix_web::web;
use catalog_core::auth::{Action, Resource};
use catalog_core::error::Error;
use catalog_core::ids::{ProductId, VariantId};
use catalog_core::models::Variant;
use catalog_core::repo::{products, variants};
use catalog_core::stock::{self, VariantStock, quantity_json};
use serde_json::{Value, json};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(paths(variant_stock, product_stock))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/variants/{id}/stock").route(web::get().to(variant_stock)))
        .service(web::resource("/products/{id}/stock").route(web::get().to(product_stock)));
}

/// Inventory's permission to read stock, beside the catalog's own.
const STOCK_READ: &str = "inventory.stock.read";

fn may_read_stock(caller: &Caller) -> bool {
    caller.principal.permissions.iter().any(|p| p == STOCK_READ)
}

fn missing_stock_read() -> ApiError {
    ApiError(Error::Forbidden { code: "FORBIDDEN", message: format!("missing permission {STOCK_READ}") })
}

fn require_stock_read(caller: &Caller, resource: Resource) -> Result<(), ApiError> {
    caller.require(resource, Action::Read)?;
    if may_read_stock(caller) { Ok(()) } else { Err(missing_stock_read()) }
}

/// Whether an answer shows stock: `include_stock` if sent, else the page's default; only to
/// callers holding `inventory.stock.read`.
pub(crate) fn shown(caller: &Caller, include_stock: Option<bool>, by_default: bool) -> Result<bool, ApiError> {
    match include_stock {
        Some(true) if !may_read_stock(caller) => Err(missing_stock_read()),
        Some(asked) => Ok(asked),
        None => Ok(by_default && may_read_stock(caller)),
    }
}

/// Whether the organization's stock is stale ([`stock::is_stale`]), read once per answer.
pub(crate) async fn stale(
    state: &ApiState,
    conn: &mut catalog_core::db::PgConn,
    org: catalog_core::ids::OrganizationId,
) -> Result<bool, ApiError> {
    let heard = stock::last_heard(conn, org).await?;
    let limit = std::time::Duration::from_secs(state.settings.inventory.stale_after_secs);
    Ok(stock::is_stale(heard, limit, chrono::Utc::now()))
}

/// The stock of a set of variants and the organization's staleness: two statements.
pub(crate) struct StockLookup {
    stocks: std::collections::HashMap<VariantId, VariantStock>,
    pub(crate) stale: bool,
}

impl StockLookup {
    pub(crate) async fn of(
        state: &ApiState,
        conn: &mut catalog_core::db::PgConn,
        org: catalog_core::ids::OrganizationId,
        variants: &[VariantId],
    ) -> Result<Self, ApiError> {
        Ok(Self { stocks: stock::of_variants(conn, org, variants).await?, stale: stale(state, conn, org).await? })
    }

    /// A variant's stock (all zero when Inventory never reported it).
    pub(crate) fn get(&self, variant: VariantId) -> VariantStock {
        self.stocks.get(&variant).copied().unwrap_or_default()
    }

    pub(crate) fn view(&self, variant: VariantId, alert_threshold: i32) -> StockView {
        StockView::new(&self.get(variant), alert_threshold, self.stale)
    }
}

/// The variant's option values as one label (`Black`, `Black / M`), as page 10 shows it.
fn option_value(variant: &Variant) -> Value {
    let values: Vec<&str> =
        variant.attributes.as_object().into_iter().flatten().filter_map(|(_, v)| v.as_str()).collect();
    if values.is_empty() { Value::Null } else { json!(values.join(" / ")) }
}

/// A variant's stock over every warehouse, its alert level (its product's `alert_stock`) and
/// when Inventory last reported it.
#[utoipa::path(get, path = "/api/v1/variants/{id}/stock", tag = "stock",
    params(("id" = uuid::Uuid, Path, description = "Variant id")),
    responses((status = 200, description = "variant_id, sku, product_name, option_value, stock {total, available, reserved, damaged, in_transit}, alert_threshold, below_alert, lot_number, last_stock_update, stale"), (status = 403, description = "FORBIDDEN (needs catalog.variants.read and inventory.stock.read)"), (status = 404, description = "VARIANT_NOT_FOUND")))]
pub async fn variant_stock(caller: Caller, state: web::Data<ApiState>, id: web::Path<VariantId>) -> ApiResult {
    require_stock_read(&caller, Resource::Variants)?;
    let org = caller.org();
    let conn = &mut *state.conn().await?;
    let variant = variants::get(conn, org, *id).await?;
    let product = products::get(conn, org, variant.product_id).await?;
    let lookup = StockLookup::of(&state, conn, org, &[variant.id]).await?;
    let stock = lookup.get(variant.id);
    Ok(reply::ok(json!({
        "variant_id": variant.id,
        "sku": variant.sku,
        "product_name": product.title,
        "option_value": option_value(&variant),
        "stock": {
            "total": quantity_json(stock.total),
            "available": quantity_json(stock.available),
            "reserved": quantity_json(stock.reserved),
            "damaged": quantity_json(stock.damaged),
            "in_transit": quantity_json(stock.in_transit),
        },
        "alert_threshold": product.alert_stock,
        "below_alert": stock.below(product.alert_stock),
        "lot_number": variant.lot_number,
        "last_stock_update": stock.last_update,
        "stale": lookup.stale,
    })))
}

/// A product's stock: each live variant's, their sum, and the product's alert level.
#[utoipa::path(get, path = "/api/v1/products/{id}/stock", tag = "stock",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    responses((status = 200, description = "product_id, product_name, total_stock, alert_stock, below_alert, variants [{variant_id, sku, option_value, stock_total, stock_available, stock_reserved, stock_damaged}], last_stock_update, stale"), (status = 403, description = "FORBIDDEN (needs catalog.products.read and inventory.stock.read)"), (status = 404, description = "PRODUCT_NOT_FOUND")))]
pub async fn product_stock(caller: Caller, state: web::Data<ApiState>, id: web::Path<ProductId>) -> ApiResult {
    require_stock_read(&caller, Resource::Products)?;
    let org = caller.org();
    let conn = &mut *state.conn().await?;
    let product = products::get(conn, org, *id).await?;
    let listed = variants::list_for_products(conn, org, &[product.id]).await?;
    let ids: Vec<VariantId> = listed.iter().map(|variant| variant.id).collect();
    let lookup = StockLookup::of(&state, conn, org, &ids).await?;
    let mut total = VariantStock::default();
    let rows: Vec<Value> = listed
        .iter()
        .map(|variant| {
            let stock = lookup.get(variant.id);
            total.total += stock.total;
            total.available += stock.available;
            total.last_update = total.last_update.max(stock.last_update);
            json!({
                "variant_id": variant.id,
                "sku": variant.sku,
                "option_value": option_value(variant),
                "stock_total": quantity_json(stock.total),
                "stock_available": quantity_json(stock.available),
                "stock_reserved": quantity_json(stock.reserved),
                "stock_damaged": quantity_json(stock.damaged),
            })
        })
        .collect();
    Ok(reply::ok(json!({
        "product_id": product.id,
        "product_name": product.title,
        "total_stock": quantity_json(total.total),
        "alert_stock": product.alert_stock,
        "below_alert": total.below(product.alert_stock),
        "variants": rows,
        "last_stock_update": total.last_update,
        "stale": lookup.stale,
    })))
}
