//! REST request bodies: any bytes parse into the request types or fail cleanly, and the
//! validators the handlers apply to what parsed never panic.
#![no_main]

use catalog_api::routes::{brands, collections, options, price_tiers, products, tags, variants};
use catalog_core::error::Entity;
use catalog_core::validate::Check;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<products::UpdateProduct>(data);
    let _ = serde_json::from_slice::<variants::UpdateVariant>(data);
    let _ = serde_json::from_slice::<variants::CreateVariant>(data);
    let _ = serde_json::from_slice::<brands::CreateBrand>(data);
    let _ = serde_json::from_slice::<collections::CreateCollection>(data);
    let _ = serde_json::from_slice::<options::CreateOption>(data);
    let _ = serde_json::from_slice::<tags::CreateTag>(data);
    let _ = serde_json::from_slice::<price_tiers::CreatePriceTier>(data);
    let Ok(body) = serde_json::from_slice::<products::CreateProduct>(data) else { return };
    let mut check = Check::new(Entity::Product);
    check.required_text("title", body.title.as_deref(), 500);
    check.slug("slug", body.slug.as_deref());
    check.required_text("sku", body.sku.as_deref(), 100);
    check.text("barcode", body.barcode.as_deref(), 100);
    check.int("alert_stock", body.alert_stock, 0, i64::from(i32::MAX));
    check.id::<uuid::Uuid>("brand_id", body.brand_id.as_deref());
    check.object("metadata", body.metadata);
    for (field, money) in [("sale_price", &body.sale_price), ("cost_price", &body.cost_price), ("weight", &body.weight)] {
        check.money(field, money.as_ref(), true);
    }
    let _ = check.finish();
});
