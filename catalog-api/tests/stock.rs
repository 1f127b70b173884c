//! Stock as the catalog shows it (pages 09 and 10), from the read model the worker keeps from
//! Inventory's events (set here through `catalog_core::stock`, as the worker does): the two
//! `/stock` answers, their permission, tenancy, and `VARIANT_HAS_STOCK` on delete.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::StatusCode;
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::stock::{self, Quantities};
use chrono::{TimeZone, Utc};
use common::{TestApp, User};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn quantities(total: i64, available: i64, reserved: i64, damaged: i64) -> Quantities {
    Quantities {
        total: Decimal::from(total),
        available: Decimal::from(available),
        reserved: Decimal::from(reserved),
        damaged: Decimal::from(damaged),
        in_transit: None,
    }
}

#[actix_web::test]
async fn stock_answers_sum_warehouses_say_how_fresh_and_guard_the_delete() {
    let app = TestApp::start().await;
    let admin = User::new(catalog_core::ids::OrganizationId::generate(), &["catalog:*", "inventory.stock.read"], &[]);
    let conn = &mut *app.db.conn().await;
    let mut new = NewProduct::new("Audífonos", "HEAD-1");
    new.alert_stock = 10;
    let (product, variant) = catalog_core::repo::products::create(
        conn,
        admin.org,
        &Actor::system(),
        new,
        Some(NewVariant::new("", Decimal::ONE)),
    )
    .await
    .unwrap();
    let variant = variant.unwrap();
    let (north, south) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let at = |hour| Utc.with_ymd_and_hms(2025, 11, 23, hour, 0, 0).unwrap();
    stock::apply(conn, admin.org, variant.id, north, quantities(30, 25, 5, 0), at(9)).await.unwrap();
    stock::apply(conn, admin.org, variant.id, south, quantities(15, 15, 0, 0), at(10)).await.unwrap();

    let r = app.get(&admin, &format!("/api/v1/variants/{}/stock", variant.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let data = r.data();
    assert_eq!(data["stock"], json!({"total": 45, "available": 40, "reserved": 5, "damaged": 0, "in_transit": 0}));
    assert_eq!((&data["sku"], &data["product_name"]), (&json!("HEAD-1"), &json!("Audífonos")));
    assert_eq!((&data["alert_threshold"], &data["below_alert"]), (&json!(10), &json!(false)));
    assert_eq!(data["last_stock_update"], json!("2025-11-23T10:00:00Z"));

    let r = app.get(&admin, &format!("/api/v1/products/{}/stock", product.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let data = r.data();
    assert_eq!((&data["total_stock"], &data["alert_stock"]), (&json!(45), &json!(10)));
    assert_eq!(data["variants"][0]["stock_available"], 40);
    assert_eq!(data["variants"][0]["variant_id"], json!(variant.id));

    // Inventory's permission is needed beside the catalog's; another organization sees nothing.
    let without = admin.colleague(&["catalog:*"]);
    let r = app.get(&without, &format!("/api/v1/variants/{}/stock", variant.id)).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let stranger =
        User::new(catalog_core::ids::OrganizationId::generate(), &["catalog:*", "inventory.stock.read"], &[]);
    let r = app.get(&stranger, &format!("/api/v1/variants/{}/stock", variant.id)).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"));

    // A variant with stock is not deleted unless forced; the refusal says how fresh it is.
    let r = app.delete(&admin, &format!("/api/v1/variants/{}", variant.id)).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "VARIANT_HAS_STOCK"), "{:?}", r.body);
    let details = &r.body["error"]["details"];
    assert_eq!((&details["stock_total"], &details["stock_available"]), (&json!(45), &json!(40)));
    assert_eq!(details["stock_as_of"], json!("2025-11-23T10:00:00Z"));
    let r = app.delete(&admin, &format!("/api/v1/variants/{}?force=true", variant.id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "force deletes it anyway: {:?}", r.body);
}

#[actix_web::test]
async fn a_variant_never_reported_has_zero_stock_and_no_update_time() {
    let app = TestApp::start().await;
    let admin = User::new(catalog_core::ids::OrganizationId::generate(), &["catalog:*", "inventory.stock.read"], &[]);
    let conn = &mut *app.db.conn().await;
    let (_, variant) = catalog_core::repo::products::create(
        conn,
        admin.org,
        &Actor::system(),
        NewProduct::new("Nuevo", "NEW-1"),
        Some(NewVariant::new("", Decimal::ONE)),
    )
    .await
    .unwrap();
    let variant = variant.unwrap();
    let r = app.get(&admin, &format!("/api/v1/variants/{}/stock", variant.id)).await;
    assert_eq!((&r.data()["stock"]["total"], &r.data()["last_stock_update"]), (&json!(0), &json!(null)));
    // An event for a variant of no organization of the catalog's is kept nowhere.
    let other = catalog_core::ids::OrganizationId::generate();
    let applied = stock::apply(conn, other, variant.id, uuid::Uuid::now_v7(), quantities(5, 5, 0, 0), Utc::now()).await;
    assert_eq!(applied.unwrap(), stock::Applied::UnknownVariant);
    let r = app.delete(&admin, &format!("/api/v1/variants/{}", variant.id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
}

#[actix_web::test]
async fn the_variant_list_filters_by_stock_available() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(
            &admin,
            "/api/v1/products",
            json!({"name": "Camisa", "sku": "CAM", "has_variants": true,
                   "variants": [{"sku": "CAM-S", "price": 10.0}, {"sku": "CAM-M", "price": 10.0}, {"sku": "CAM-L", "price": 10.0}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let product = created.data()["product_id"].as_str().unwrap().to_string();
    let ids: Vec<catalog_core::ids::VariantId> = created.data()["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant_id"].as_str().or(v["id"].as_str()).unwrap().parse().unwrap())
        .collect();
    let conn = &mut *app.db.conn().await;
    let warehouse = uuid::Uuid::now_v7();
    // S has stock, M had some and sold out (reserved only), L was never reported.
    stock::apply(conn, admin.org, ids[0], warehouse, quantities(4, 4, 0, 0), Utc::now()).await.unwrap();
    stock::apply(conn, admin.org, ids[1], warehouse, quantities(2, 0, 2, 0), Utc::now()).await.unwrap();
    let skus = async |query: &str| -> Vec<String> {
        let r = app.get(&admin, &format!("/api/v1/products/{product}/variants?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
        r.data()["variants"].as_array().unwrap().iter().map(|v| v["sku"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(skus("in_stock=true").await, ["CAM-S"]);
    assert_eq!(skus("in_stock=false").await, ["CAM-M", "CAM-L"]);
    assert_eq!(skus("in_stock=true&is_active=true").await, ["CAM-S"]);
    let r = app.get(&admin, &format!("/api/v1/products/{product}/variants?in_stock=maybe")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fields(), ["in_stock"]);
}

/// Product and variant answers show stock where the pages do (a product list's `total_stock`,
/// a variant's `stock`, `include_stock` on a product), to callers holding
/// `inventory.stock.read`; each says how fresh it is and whether the model is stale.
#[actix_web::test]
async fn product_and_variant_answers_show_stock_to_those_who_may_read_it() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(
            &admin,
            "/api/v1/products",
            json!({"name": "Polo", "sku": "POLO", "has_variants": true, "alert_stock": 10,
                   "variants": [{"sku": "POLO-S", "price": 10.0}, {"sku": "POLO-M", "price": 10.0}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let product = created.data()["product_id"].as_str().unwrap().to_string();
    let ids: Vec<catalog_core::ids::VariantId> = created.data()["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let conn = &mut *app.db.conn().await;
    let (north, south) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let long_ago = Utc.with_ymd_and_hms(2025, 11, 23, 9, 0, 0).unwrap();
    stock::apply(conn, admin.org, ids[0], north, quantities(30, 25, 5, 0), long_ago).await.unwrap();
    stock::apply(conn, admin.org, ids[0], south, quantities(6, 6, 0, 0), long_ago).await.unwrap();
    stock::apply(conn, admin.org, ids[1], north, quantities(8, 5, 2, 1), long_ago).await.unwrap();

    // Reported a year ago and never reconciled: stale.
    let r = app.get(&admin, "/api/v1/products").await;
    let listed = &r.data()["edges"][0]["node"];
    assert_eq!((&listed["total_stock"], &listed["stock_stale"]), (&json!(44), &json!(true)), "{listed}");
    assert_eq!(listed["last_stock_update"], json!("2025-11-23T09:00:00Z"));
    let r = app.get(&admin, &format!("/api/v1/variants/{}", ids[1])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.data()["stock"],
        json!({"total": 8, "available": 5, "reserved": 2, "damaged": 1, "in_transit": 0, "below_alert": true,
               "alert_threshold": 10, "last_stock_update": "2025-11-23T09:00:00Z", "stale": true})
    );
    let r = app.get(&admin, &format!("/api/v1/variants/{}/stock", ids[1])).await;
    assert_eq!(r.data()["stale"], json!(true));

    // A fresh report: no longer stale. The product answer shows stock only when asked.
    stock::apply(conn, admin.org, ids[1], north, quantities(9, 6, 2, 1), Utc::now()).await.unwrap();
    let r = app.get(&admin, &format!("/api/v1/products/{product}")).await;
    assert!(r.data().get("total_stock").is_none(), "include_stock defaults to false on a product");
    let r = app.get(&admin, &format!("/api/v1/products/{product}?include_stock=true")).await;
    let data = r.data();
    assert_eq!((&data["total_stock"], &data["stock_stale"]), (&json!(45), &json!(false)), "{data}");
    let embedded: Vec<(Value, Value)> =
        data["variants"].as_array().unwrap().iter().map(|v| (v["sku"].clone(), v["stock_total"].clone())).collect();
    assert_eq!(embedded, [(json!("POLO-S"), json!(36)), (json!("POLO-M"), json!(9))]);
    let r = app.get(&admin, &format!("/api/v1/products/{product}/variants")).await;
    let stocks: Vec<Value> =
        r.data()["variants"].as_array().unwrap().iter().map(|v| v["stock"]["available"].clone()).collect();
    assert_eq!(stocks, [json!(31), json!(6)]);
    let r = app.get(&admin, &format!("/api/v1/variants/{}?include_stock=false", ids[0])).await;
    assert!(r.data().get("stock").is_none());

    // Without Inventory's permission: left out where the page shows it by default, 403 when
    // asked for explicitly.
    let clerk = admin.colleague(&["catalog:*"]);
    let r = app.get(&clerk, &format!("/api/v1/variants/{}", ids[0])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.data().get("stock").is_none(), "{:?}", r.body);
    let r = app.get(&clerk, "/api/v1/products").await;
    assert!(r.data()["edges"][0]["node"].get("total_stock").is_none());
    let r = app.get(&clerk, &format!("/api/v1/products/{product}?include_stock=true")).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = app.get(&admin, &format!("/api/v1/products/{product}?include_stock=perhaps")).await;
    assert_eq!(r.fields(), ["include_stock"]);
}

/// Inventory's timestamps are whole seconds: of two movements in one second, the one whose
/// `previous_quantities` are what the model holds follows it and applies; a redelivery, or a
/// report that does not follow, changes nothing.
#[actix_web::test]
async fn movements_in_the_same_second_apply_in_their_chain_order() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let conn = &mut *app.db.conn().await;
    let (_, variant) = catalog_core::repo::products::create(
        conn,
        admin.org,
        &Actor::system(),
        NewProduct::new("Tornillo", "TOR-1"),
        Some(NewVariant::new("", Decimal::ONE)),
    )
    .await
    .unwrap();
    let variant = variant.unwrap().id;
    let warehouse = uuid::Uuid::now_v7();
    let second = Utc.with_ymd_and_hms(2025, 11, 23, 15, 0, 0).unwrap();
    let on_hand = |n: i64| quantities(n, n, 0, 0);
    let report = async |now: i64, before: Option<i64>| {
        let conn = &mut *app.db.conn().await;
        stock::apply_after(conn, admin.org, variant, warehouse, on_hand(now), before.map(on_hand), second)
            .await
            .unwrap()
    };
    assert_eq!(
        stock::apply(conn, admin.org, variant, warehouse, on_hand(10), second).await.unwrap(),
        stock::Applied::Changed
    );
    assert_eq!(report(8, Some(10)).await, stock::Applied::Changed, "follows 10");
    assert_eq!(report(8, Some(10)).await, stock::Applied::NotNewer, "a redelivery");
    assert_eq!(report(5, Some(9)).await, stock::Applied::NotNewer, "follows nothing the model holds");
    assert_eq!(report(3, None).await, stock::Applied::NotNewer, "no chain to tell: a tie is a redelivery");
    assert_eq!(report(6, Some(8)).await, stock::Applied::Changed, "follows 8");
    let held = stock::of_variants(conn, admin.org, &[variant]).await.unwrap()[&variant];
    assert_eq!(held.available, Decimal::from(6));
}
