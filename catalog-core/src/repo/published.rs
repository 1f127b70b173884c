//! Payloads of published events as the design pages and the peers' handlers read them (page
//! 05; `peers/inventory-service_15`): flat fields under their documented names and types, money
//! as JSON numbers. The row they come from stays beside them, under the aggregate's name, for
//! the consumers written against it.

use super::outbox::EventDraft;
use crate::ids::{ProductId, VariantId, WarehouseId};
use crate::models::Variant;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::json;

/// One of a variant's option values, as `options[]` of `catalog.variant.created`.
#[derive(Debug, Serialize)]
struct OptionValue<'a> {
    option_name: &'a str,
    value: &'a str,
}

/// `catalog.variant.created`: what Inventory initializes stock records from.
#[derive(Debug, Serialize)]
struct VariantCreated<'a> {
    variant_id: VariantId,
    product_id: ProductId,
    sku: &'a str,
    barcode: Option<&'a str>,
    /// The variant's own title, else its SKU (the product's name is in `catalog.product.*`).
    name: &'a str,
    price: Option<f64>,
    cost_price: Option<f64>,
    warehouse_id: Option<WarehouseId>,
    options: Vec<OptionValue<'a>>,
    /// The first option value, as page 10 shows it.
    option_value: Option<&'a str>,
    is_active: bool,
    track_inventory: bool,
    default_min_stock: i32,
    default_max_stock: i32,
    variant: &'a Variant,
}

/// Money leaves the service as a JSON number, as every page shows it (peers do arithmetic on it).
pub fn money(amount: Decimal) -> Option<f64> {
    amount.to_f64()
}

pub fn variant_created(variant: &Variant) -> EventDraft {
    let options: Vec<OptionValue> = variant
        .attributes
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(option_name, value)| Some(OptionValue { option_name, value: value.as_str()? }))
        .collect();
    let payload = VariantCreated {
        variant_id: variant.id,
        product_id: variant.product_id,
        sku: &variant.sku,
        barcode: variant.barcode.as_deref(),
        name: variant.title.as_deref().filter(|t| !t.is_empty()).unwrap_or(&variant.sku),
        price: money(variant.sale_price),
        cost_price: variant.cost_price.and_then(money),
        warehouse_id: variant.warehouse_id,
        option_value: options.first().map(|o| o.value),
        options,
        is_active: variant.is_active,
        track_inventory: variant.track_inventory,
        default_min_stock: variant.default_min_stock,
        default_max_stock: variant.default_max_stock,
        variant,
    };
    let data = serde_json::to_value(&payload).unwrap_or_else(|_| json!({ "variant": variant }));
    EventDraft::new("variant", "created", variant.id, variant.version, data)
}
