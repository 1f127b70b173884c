//! Variants end to end: creation against the product's options with every problem reported at
//! once, the flat and nested item routes (a variant of another product is 404 there), paging,
//! activation, local access, tenancy, and the volume price calculation at tier boundaries.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use catalog_core::ids::{LocalId, OptionId, OptionValueId, OrganizationId, PriceTierId, PriceTierRuleId, VariantId};
use catalog_core::models::{Actor, NewPriceTier, NewPriceTierRule, NewProductOption};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

async fn option(app: &TestApp, org: OrganizationId, name: &str, values: &[&str]) -> (OptionId, Vec<OptionValueId>) {
    let conn = &mut *app.db.conn().await;
    let new = NewProductOption { id: OptionId::generate(), organization_id: org, name: name.into(), position: 0 };
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    let (option, values) = repo::options::create(conn, org, &Actor::system(), new, &values).await.expect("option");
    (option.id, values.into_iter().map(|v| v.id).collect())
}

async fn tier(app: &TestApp, org: OrganizationId, name: &str, priority: i32, active: bool) -> PriceTierId {
    let conn = &mut *app.db.conn().await;
    let new = NewPriceTier {
        metadata: None,
        id: PriceTierId::generate(),
        organization_id: org,
        name: name.into(),
        slug: String::new(),
        description: None,
        priority,
        is_active: active,
    };
    repo::price_tiers::create(conn, org, &Actor::system(), new).await.expect("tier").id
}

async fn rule(
    app: &TestApp,
    org: OrganizationId,
    tier: PriceTierId,
    variant: &str,
    min_qty: i32,
    price: &str,
) -> PriceTierRuleId {
    let conn = &mut *app.db.conn().await;
    let new = NewPriceTierRule {
        id: PriceTierRuleId::generate(),
        organization_id: org,
        price_tier_id: tier,
        variant_id: VariantId::from_str(variant).unwrap(),
        min_qty,
        price: Decimal::from_str(price).unwrap(),
    };
    repo::price_tiers::add_rule(conn, org, &Actor::system(), tier, new).await.expect("rule").id
}

/// A product with variants declaring `options` (no variants yet); its id.
async fn product(app: &TestApp, user: &User, sku: &str, options: &[OptionId]) -> String {
    let r = app
        .post(
            user,
            "/api/v1/products",
            json!({ "title": format!("Producto {sku}"), "sku": sku, "has_variants": true, "option_ids": options }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.data()["id"].as_str().unwrap().to_string()
}

async fn variant(app: &TestApp, user: &User, product: &str, body: Value) -> Reply {
    let r = app.post(user, &format!("/api/v1/products/{product}/variants"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r
}

async fn send(app: &TestApp, user: &User, method: &str, path: &str, body: Option<Value>) -> Reply {
    app.send(user, Method::from_bytes(method.as_bytes()).unwrap(), path, body).await
}

#[actix_web::test]
async fn create_with_option_values_read_update_delete() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let (color, colors) = option(&app, admin.org, "Color", &["Rojo", "Azul"]).await;
    let (size, sizes) = option(&app, admin.org, "Talla", &["S", "M"]).await;
    let product = product(&app, &admin, "REM", &[color, size]).await;

    let created = variant(
        &app,
        &admin,
        &product,
        json!({
            "sku": "REM-R-S", "barcode": "100", "price": "19.9", "cost_price": 8, "compare_at_price": "25",
            "tax_rate": "21", "weight": 0.2, "dim_length": "30.5", "lot_number": "L1", "vendor": "Textil SA",
            "default_min_stock": 2, "default_max_stock": 50, "metadata": { "k": "v" },
            "option_value_ids": [sizes[0], colors[0]],
        }),
    )
    .await;
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let data = created.data();
    assert_eq!(data["product_id"], json!(product));
    assert_eq!(data["attributes"], json!({ "Color": "Rojo", "Talla": "S" }));
    // The pages' names beside the row's.
    assert_eq!((&data["variant_id"], &data["price"], &data["tax"]), (&data["id"], &json!("19.90"), &json!("21.00")));
    assert_eq!(data["dimensions"], json!({ "length": "30.50", "width": null, "height": null, "unit": "cm" }));
    assert_eq!((&data["option_name"], &data["option_value"]), (&json!("Color"), &json!("Rojo")));
    assert_eq!((&data["images"], &data["price_tiers"]), (&json!([]), &json!([])));
    assert_eq!(
        (&data["sale_price"], &data["tax_rate"], &data["weight"]),
        (&json!("19.90"), &json!("21.00"), &json!("0.200"))
    );
    assert_eq!(
        (&data["default_min_stock"], &data["default_max_stock"], &data["is_active"]),
        (&json!(2), &json!(50), &json!(true))
    );
    let id = created.id();
    let flat = format!("/api/v1/variants/{id}");
    let nested = format!("/api/v1/products/{product}/variants/{id}");

    let read = app.get(&admin, &flat).await;
    assert_eq!(
        (read.status, read.etag.as_deref(), read.data()["sku"].as_str()),
        (StatusCode::OK, Some("\"1\""), Some("REM-R-S"))
    );
    assert_eq!(app.get(&admin, &nested).await.data()["id"], json!(id));
    let with_product = app.get(&admin, &format!("{flat}?include_product=true&include_price_tiers=false")).await;
    assert_eq!(
        with_product.data()["product"],
        json!({ "product_id": product, "name": "Producto REM", "sku": "REM", "brand": null })
    );
    assert!(with_product.data().get("price_tiers").is_none(), "{:?}", with_product.body);
    let bad_flag = app.get(&admin, &format!("{flat}?include_product=maybe")).await;
    assert_eq!((bad_flag.status, bad_flag.fields()), (StatusCode::BAD_REQUEST, vec!["include_product".to_string()]));

    let updated =
        app.patch_if(&admin, &flat, "\"1\"", json!({ "sale_price": 21, "barcode": null, "title": "Roja S" })).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));
    assert_eq!((&updated.data()["sale_price"], &updated.data()["barcode"]), (&json!("21.00"), &json!(null)));
    let stale = app.patch_if(&admin, &nested, "\"1\"", json!({ "vendor": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let nested_update = app.patch_if(&admin, &nested, "\"2\"", json!({ "vendor": "Otro" })).await;
    assert_eq!((nested_update.status, nested_update.etag.as_deref()), (StatusCode::OK, Some("\"3\"")));
    let put = send(&app, &admin, "PUT", &flat, Some(json!({ "position": 3 }))).await;
    assert_eq!((put.status, put.data()["position"].clone()), (StatusCode::OK, json!(3)));
    let fixed = app.patch(&admin, &flat, json!({ "attributes": { "Color": "Verde" } })).await;
    assert_eq!((fixed.status, fixed.fields()), (StatusCode::BAD_REQUEST, vec!["attributes".to_string()]));

    // Same combination, SKU or barcode again: 409.
    let combo = app
        .post(
            &admin,
            &format!("/api/v1/products/{product}/variants"),
            json!({ "sku": "OTRA", "price": 1, "option_value_ids": [colors[0], sizes[0]] }),
        )
        .await;
    assert_eq!((combo.status, combo.code()), (StatusCode::CONFLICT, "VARIANT_OPTIONS_EXIST"));
    let sku = app
        .post(
            &admin,
            &format!("/api/v1/products/{product}/variants"),
            json!({ "sku": "REM-R-S", "price": 1, "option_value_ids": [colors[1], sizes[1]] }),
        )
        .await;
    assert_eq!((sku.status, sku.code()), (StatusCode::CONFLICT, "VARIANT_SKU_EXISTS"));
    variant(
        &app,
        &admin,
        &product,
        json!({ "sku": "REM-A-M", "barcode": "200", "price": 1, "option_value_ids": [colors[1], sizes[1]] }),
    )
    .await;
    let barcode = app
        .post(
            &admin,
            &format!("/api/v1/products/{product}/variants"),
            json!({ "sku": "REM-A-S", "barcode": "200", "price": 1, "option_value_ids": [colors[1], sizes[0]] }),
        )
        .await;
    assert_eq!((barcode.status, barcode.code()), (StatusCode::CONFLICT, "VARIANT_BARCODE_EXISTS"));
    let rename = app.patch(&admin, &flat, json!({ "sku": "REM-A-M" })).await;
    assert_eq!((rename.status, rename.code()), (StatusCode::CONFLICT, "VARIANT_SKU_EXISTS"));

    assert_eq!(app.delete(&admin, &nested).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &flat).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"));
    assert_eq!(app.delete(&admin, &flat).await.status, StatusCode::NOT_FOUND);
    // The combination and SKU are free again.
    variant(&app, &admin, &product, json!({ "sku": "REM-R-S", "price": 1, "option_value_ids": [colors[0], sizes[0]] }))
        .await;
    let events = app.events(admin.org).await;
    assert!(events.contains(&"catalog.variant.deleted".to_string()), "{events:?}");
}

#[actix_web::test]
async fn every_problem_is_reported_at_once_and_nothing_is_written() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let (color, colors) = option(&app, admin.org, "Color", &["Rojo"]).await;
    let (size, _) = option(&app, admin.org, "Talla", &["S"]).await;
    let product = product(&app, &admin, "P", &[color, size]).await;
    let path = format!("/api/v1/products/{product}/variants");
    let before = app.events(admin.org).await.len();

    let r = app
        .post(
            &admin,
            &path,
            json!({
                "sku": " ", "barcode": "b".repeat(101), "sale_price": "-1", "cost_price": "1.005",
                "tax_rate": 150, "weight": "-2", "warehouse_id": "nope", "default_min_stock": 10,
                "default_max_stock": 5, "attributes": [], "option_value_ids": [colors[0]],
            }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_VARIANT_DATA"));
    assert_eq!(
        r.fields(),
        [
            "sku",
            "barcode",
            "sale_price",
            "cost_price",
            "tax_rate",
            "weight",
            "warehouse_id",
            "attributes",
            "default_max_stock",
            "option_value_ids",
        ],
        "malformed fields, the variant rules and the option values, together"
    );
    let r = app.post(&admin, &path, json!({ "sku": "OK", "option_value_ids": ["x"] })).await;
    assert_eq!(r.fields(), ["sale_price", "option_value_ids[0]", "option_value_ids", "option_value_ids"]);
    let r = app
        .post(&admin, &path, json!({ "sku": "OK", "price": 1, "default_min_stock": 10, "default_max_stock": 5 }))
        .await;
    assert_eq!(r.fields(), ["default_max_stock", "option_value_ids", "option_value_ids"], "one per missing option");
    assert_eq!(app.events(admin.org).await.len(), before, "nothing was written");
    let listed = app.get(&admin, &path).await;
    assert!(listed.data()["edges"].as_array().unwrap().is_empty());

    let unknown = app.post(&admin, &path, json!({ "sku": "OK", "price": 1, "color": "red" })).await;
    assert_eq!(
        (unknown.status, unknown.code(), unknown.fields()),
        (StatusCode::BAD_REQUEST, "INVALID_VARIANT_DATA", vec!["color".to_string()])
    );

    let plain = product_without_options(&app, &admin).await;
    let with_values = app
        .post(
            &admin,
            &format!("/api/v1/products/{plain}/variants"),
            json!({ "sku": "Z", "price": 1, "option_value_ids": [colors[0]] }),
        )
        .await;
    assert_eq!(with_values.fields(), ["option_value_ids"], "the product declares no options");

    let created = variant(&app, &admin, &plain, json!({ "sku": "Z", "price": 1 })).await;
    let flat = format!("/api/v1/variants/{}", created.id());
    let bad = app
        .patch(&admin, &flat, json!({ "sku": "", "sale_price": 0, "tax_rate": "x", "weight": -1, "default_min_stock": -1, "position": -1, "metadata": 1, "warehouse_id": "no" }))
        .await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "INVALID_VARIANT_DATA"));
    assert_eq!(
        bad.fields(),
        ["sku", "sale_price", "tax_rate", "weight", "warehouse_id", "default_min_stock", "position", "metadata"]
    );
    let merged = app.patch(&admin, &flat, json!({ "default_max_stock": 3 })).await;
    assert_eq!(merged.fields(), ["default_max_stock"], "judged against the stored minimum (10)");
}

async fn product_without_options(app: &TestApp, user: &User) -> String {
    product(app, user, "PLAIN", &[]).await
}

#[actix_web::test]
async fn nested_routes_only_reach_the_products_own_variants() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let first = product(&app, &admin, "A", &[]).await;
    let second = product(&app, &admin, "B", &[]).await;
    let theirs = variant(&app, &admin, &second, json!({ "sku": "B-1", "price": 1 })).await.id();
    let wrong = format!("/api/v1/products/{first}/variants/{theirs}");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({ "vendor": "x" }))),
        ("PUT", Some(json!({ "vendor": "x" }))),
        ("DELETE", None),
    ] {
        let r = send(&app, &admin, method, &wrong, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"), "{method}");
    }
    let still = app.get(&admin, &format!("/api/v1/products/{second}/variants/{theirs}")).await;
    assert_eq!(
        (still.status, still.data()["vendor"].clone(), still.etag.as_deref()),
        (StatusCode::OK, json!(null), Some("\"1\""))
    );
}

#[actix_web::test]
async fn list_pages_both_ways_and_activation() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = product(&app, &admin, "P", &[]).await;
    for i in 0..5 {
        variant(&app, &admin, &product, json!({ "sku": format!("V-{i}"), "price": 1 + i })).await;
    }
    let skus = |r: &Reply| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["sku"].as_str().unwrap().to_string()).collect()
    };
    let path = format!("/api/v1/products/{product}/variants");
    let first = app.get(&admin, &format!("{path}?first=2")).await;
    assert_eq!(skus(&first), ["V-0", "V-1"]);
    // The pages' shape beside the connection: the product, the page's variants, the total.
    let nodes: Vec<&Value> = first.data()["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(first.data()["variants"], json!(nodes));
    assert_eq!(
        (&first.data()["product"]["product_id"], &first.data()["product"]["sku"], &first.data()["total_variants"]),
        (&json!(product), &json!("P"), &json!(5))
    );
    let end = first.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let second = app.get(&admin, &format!("{path}?first=2&after={end}")).await;
    assert_eq!(skus(&second), ["V-2", "V-3"]);
    let start = second.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("{path}?last=2&before={start}")).await;
    assert_eq!(skus(&back), ["V-0", "V-1"]);
    assert_eq!(skus(&app.get(&admin, &format!("{path}?last=1")).await), ["V-4"]);
    assert_eq!(app.get(&admin, &format!("{path}?first=0")).await.status, StatusCode::BAD_REQUEST);

    let id = first.data()["edges"][0]["node"]["id"].as_str().unwrap().to_string();
    let off = app.post(&admin, &format!("/api/v1/variants/{id}/deactivate"), json!(null)).await;
    assert_eq!(
        (off.status, off.data()["is_active"].clone(), off.etag.as_deref()),
        (StatusCode::OK, json!(false), Some("\"2\""))
    );
    let stale = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/variants/{id}/activate"))
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("If-Match", "\"1\""))
                .to_request(),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let inactive = app.get(&admin, &format!("{path}?is_active=false")).await;
    assert_eq!((skus(&inactive), &inactive.data()["total_variants"]), (vec!["V-0".to_string()], &json!(1)));
    // PATCH is the pages' method for the same action.
    let on = send(&app, &admin, "PATCH", &format!("/api/v1/variants/{id}/activate"), None).await;
    assert_eq!(
        (on.status, on.data()["is_active"].clone(), on.etag.as_deref()),
        (StatusCode::OK, json!(true), Some("\"3\""))
    );
}

#[actix_web::test]
async fn warehouse_ids_need_local_access() {
    let app = TestApp::start().await;
    let (mine, foreign) = (LocalId::generate(), LocalId::generate());
    let org = OrganizationId::generate();
    let user = User::new(org, &["catalog:*"], &[mine]);
    let all = User::new(org, &["catalog:*", "local:access_all"], &[]);
    let product = product(&app, &user, "P", &[]).await;
    let path = format!("/api/v1/products/{product}/variants");

    let denied = app.post(&user, &path, json!({ "sku": "A", "price": 1, "warehouse_id": foreign })).await;
    assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"));
    let created = variant(&app, &user, &product, json!({ "sku": "A", "price": 1, "warehouse_id": mine })).await;
    let flat = format!("/api/v1/variants/{}", created.id());
    let moved = app.patch(&user, &flat, json!({ "warehouse_id": foreign })).await;
    assert_eq!((moved.status, moved.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"));
    assert_eq!(app.patch(&all, &flat, json!({ "warehouse_id": foreign })).await.status, StatusCode::OK);
    variant(&app, &all, &product, json!({ "sku": "B", "price": 1, "warehouse_id": foreign })).await;
}

#[actix_web::test]
async fn permissions_and_foreign_ids_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = product(&app, &admin, "P", &[]).await;
    let id = variant(&app, &admin, &product, json!({ "sku": "V", "price": 1 })).await.id();
    let flat = format!("/api/v1/variants/{id}");
    let nested = format!("/api/v1/products/{product}/variants/{id}");

    let product_reader = admin.colleague(&["catalog.products.read", "catalog.products.update"]);
    for route in [flat.clone(), nested.clone(), format!("{flat}/price"), format!("/api/v1/products/{product}/variants")]
    {
        let r = app.get(&product_reader, &route).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{route}: variants need variant permissions"
        );
    }
    let reader = admin.colleague(&["catalog.variants.read"]);
    assert_eq!(app.get(&reader, &flat).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, &format!("{flat}/calculate-price?quantity=2")).await.status, StatusCode::OK);
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", format!("/api/v1/products/{product}/variants"), Some(json!({ "sku": "X", "price": 1 }))),
        ("PATCH", flat.clone(), Some(json!({ "vendor": "x" }))),
        ("PUT", nested.clone(), Some(json!({ "vendor": "x" }))),
        ("DELETE", flat.clone(), None),
        ("DELETE", nested.clone(), None),
        ("POST", format!("{flat}/activate"), None),
        ("POST", format!("{flat}/deactivate"), None),
        ("PATCH", format!("{flat}/activate"), None),
        ("PATCH", format!("{flat}/deactivate"), None),
    ];
    for (method, route, body) in writes {
        let r = send(&app, &reader, method, &route, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{method} {route}");
    }
    let module = admin.colleague(&["catalog:edit"]);
    assert_eq!(app.patch(&module, &flat, json!({ "vendor": "ok" })).await.status, StatusCode::OK);

    // Another organization: its ids answer like missing ones everywhere.
    let stranger = User::admin();
    let missing_variant = VariantId::generate();
    for variant_path in [flat.clone(), format!("/api/v1/variants/{missing_variant}")] {
        for (method, route, body) in [
            ("GET", variant_path.clone(), None),
            ("PATCH", variant_path.clone(), Some(json!({ "vendor": "mine" }))),
            ("PUT", variant_path.clone(), Some(json!({ "vendor": "mine" }))),
            ("DELETE", variant_path.clone(), None),
            ("POST", format!("{variant_path}/activate"), None),
            ("POST", format!("{variant_path}/deactivate"), None),
            ("PATCH", format!("{variant_path}/activate"), None),
            ("GET", format!("{variant_path}/price"), None),
            ("GET", format!("{variant_path}/calculate-price?quantity=3"), None),
        ] {
            let r = send(&app, &stranger, method, &route, body).await;
            assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"), "{method} {route}");
        }
    }
    let their_product = format!("/api/v1/products/{product}/variants");
    for (method, body) in [("GET", None), ("POST", Some(json!({ "sku": "Mine", "price": 1 })))] {
        let r = send(&app, &stranger, method, &their_product, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"), "{method} {their_product}");
    }
    let invalid_too = app.post(&stranger, &their_product, json!({ "sku": "", "price": -1 })).await;
    assert_eq!(invalid_too.code(), "PRODUCT_NOT_FOUND", "an invalid body does not reveal whether the product exists");
    for (method, body) in [("GET", None), ("PATCH", Some(json!({ "vendor": "mine" }))), ("DELETE", None)] {
        let r = send(&app, &stranger, method, &nested, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"), "{method} {nested}");
    }
    let read = app.get(&admin, &flat).await;
    assert_eq!((read.data()["vendor"].as_str(), read.status), (Some("ok"), StatusCode::OK), "nothing changed");
    assert_eq!(app.get(&admin, "/api/v1/variants/not-a-uuid").await.code(), "VARIANT_NOT_FOUND");
}

/// Price of `quantity` units, the answer's data. `next_tier.additional_savings` is taken out
/// (checked to be a non-negative amount): how the pages compute it is an open question.
async fn quote(app: &TestApp, user: &User, variant: &str, query: &str) -> Value {
    let r = app.get(user, &format!("/api/v1/variants/{variant}/price?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    let mut data = r.data().clone();
    if let Some(next) = data["next_tier"].as_object_mut() {
        let saved = next.remove("additional_savings").expect("additional_savings");
        let saved = Decimal::from_str(saved.as_str().expect("a decimal string")).expect("a decimal");
        assert!(saved >= Decimal::ZERO, "{query}: {saved}");
    }
    data
}

/// A tier as a quote names it, under SPEC.md's names and the pages'.
fn tier_ref(id: PriceTierId, name: &str) -> Value {
    let slug = name.to_lowercase();
    json!({ "id": id, "name": name, "price_tier_id": id, "tier_name": name, "slug": slug })
}

#[actix_web::test]
async fn price_calculation_at_tier_boundaries() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = product(&app, &admin, "P", &[]).await;
    let id = variant(&app, &admin, &product, json!({ "sku": "V", "price": "10.00", "tax_rate": 16 })).await.id();
    let plain = variant(&app, &admin, &product, json!({ "sku": "W", "price": "3.33" })).await.id();
    let wholesale = tier(&app, admin.org, "Mayorista", 0, true).await;
    let from_50 = rule(&app, admin.org, wholesale, &id, 50, "8.50").await;
    let from_10 = rule(&app, admin.org, wholesale, &id, 10, "9.00").await;
    let retail = tier(&app, admin.org, "Minorista", 5, true).await;
    let from_5 = rule(&app, admin.org, retail, &id, 5, "9.99").await;
    let dormant = tier(&app, admin.org, "Inactivo", 0, false).await;
    rule(&app, admin.org, dormant, &id, 1, "1.00").await;

    // A variant read lists the active tiers' rules for it, by priority then quantity.
    let read = app.get(&admin, &format!("/api/v1/variants/{id}")).await;
    let tiers: Vec<(&str, i64, &str, &str)> = read.data()["price_tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let text = |k: &str| t[k].as_str().unwrap();
            (text("tier_name"), t["min_qty"].as_i64().unwrap(), text("price"), text("discount_percentage"))
        })
        .collect();
    assert_eq!(
        tiers,
        [("Mayorista", 10, "9.00", "10.00"), ("Mayorista", 50, "8.50", "15.00"), ("Minorista", 5, "9.99", "0.10")],
        "{:?}",
        read.body
    );

    // (quantity, unit, subtotal, tax, total, savings, savings %, applied, next)
    type Row = (i32, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, Value, Value);
    let rows: Vec<Row> = vec![
        (
            1,
            "10.00",
            "10.00",
            "1.60",
            "11.60",
            "0.00",
            "0.00",
            json!(null),
            json!({ "min_qty": 10, "price": "9.00", "additional_qty_needed": 9 }),
        ),
        (
            9,
            "10.00",
            "90.00",
            "14.40",
            "104.40",
            "0.00",
            "0.00",
            json!(null),
            json!({ "min_qty": 10, "price": "9.00", "additional_qty_needed": 1 }),
        ),
        (
            10,
            "9.00",
            "90.00",
            "14.40",
            "104.40",
            "10.00",
            "10.00",
            json!({ "rule_id": from_10, "min_qty": 10, "price": "9.00" }),
            json!({ "min_qty": 50, "price": "8.50", "additional_qty_needed": 40 }),
        ),
        (
            11,
            "9.00",
            "99.00",
            "15.84",
            "114.84",
            "11.00",
            "10.00",
            json!({ "rule_id": from_10, "min_qty": 10, "price": "9.00" }),
            json!({ "min_qty": 50, "price": "8.50", "additional_qty_needed": 39 }),
        ),
        (
            49,
            "9.00",
            "441.00",
            "70.56",
            "511.56",
            "49.00",
            "10.00",
            json!({ "rule_id": from_10, "min_qty": 10, "price": "9.00" }),
            json!({ "min_qty": 50, "price": "8.50", "additional_qty_needed": 1 }),
        ),
        (
            50,
            "8.50",
            "425.00",
            "68.00",
            "493.00",
            "75.00",
            "15.00",
            json!({ "rule_id": from_50, "min_qty": 50, "price": "8.50" }),
            json!(null),
        ),
        (
            51,
            "8.50",
            "433.50",
            "69.36",
            "502.86",
            "76.50",
            "15.00",
            json!({ "rule_id": from_50, "min_qty": 50, "price": "8.50" }),
            json!(null),
        ),
    ];
    for (qty, unit, subtotal, tax, total, saved, percent, applied, next) in rows {
        let q = quote(&app, &admin, &id, &format!("quantity={qty}")).await;
        let expected = json!({
            "variant_id": id, "sku": "V", "quantity": qty,
            "price_tier": tier_ref(wholesale, "Mayorista"), "applied_price_tier": tier_ref(wholesale, "Mayorista"),
            "sale_price": "10.00", "base_price": "10.00", "tax_rate": "16.00",
            "unit_price": unit, "final_price": unit, "subtotal": subtotal, "total_amount": subtotal,
            "tax_amount": tax, "total": total,
            "savings": { "amount": saved, "percentage": percent, "amount_saved": saved, "percentage_saved": percent },
            "applied_rule": applied, "next_tier": next,
        });
        assert_eq!(q, expected, "quantity {qty}");
    }

    // A chosen tier: 7 × 9.99 = 69.93; tax 16 % = 11.1888 → 11.19; savings 0.07 of 70.00 = 0.1 %.
    let q = quote(&app, &admin, &id, &format!("quantity=7&price_tier_id={retail}")).await;
    assert_eq!(
        (&q["price_tier"], &q["applied_price_tier"]),
        (&tier_ref(retail, "Minorista"), &tier_ref(retail, "Minorista"))
    );
    assert_eq!(
        (&q["unit_price"], &q["subtotal"], &q["tax_amount"], &q["total"], &q["savings"]),
        (
            &json!("9.99"),
            &json!("69.93"),
            &json!("11.19"),
            &json!("81.12"),
            &json!({ "amount": "0.07", "percentage": "0.10", "amount_saved": "0.07", "percentage_saved": "0.10" })
        )
    );
    assert_eq!(
        (&q["applied_rule"], &q["next_tier"]),
        (&json!({ "rule_id": from_5, "min_qty": 5, "price": "9.99" }), &json!(null))
    );
    let below = quote(&app, &admin, &id, &format!("quantity=4&price_tier_id={retail}")).await;
    assert_eq!((&below["unit_price"], &below["next_tier"]["additional_qty_needed"]), (&json!("10.00"), &json!(1)));

    // No tier prices the variant: the sale price, no rule, no next step; quantity defaults to 1.
    let q = quote(&app, &admin, &plain, "").await;
    assert_eq!(
        q,
        json!({
            "variant_id": plain, "sku": "W", "quantity": 1, "price_tier": null, "applied_price_tier": null,
            "sale_price": "3.33", "base_price": "3.33", "tax_rate": "0.00",
            "unit_price": "3.33", "final_price": "3.33", "subtotal": "3.33", "total_amount": "3.33",
            "tax_amount": "0.00", "total": "3.33",
            "savings": { "amount": "0.00", "percentage": "0.00", "amount_saved": "0.00", "percentage_saved": "0.00" },
            "applied_rule": null, "next_tier": null,
        })
    );
    let alias = app.get(&admin, &format!("/api/v1/variants/{id}/calculate-price?quantity=10")).await;
    assert_eq!((alias.status, alias.data()["unit_price"].clone()), (StatusCode::OK, json!("9.00")));

    // Rule changes show at once (no stale cache).
    rule(&app, admin.org, wholesale, &id, 20, "8.80").await;
    assert_eq!(quote(&app, &admin, &id, "quantity=20").await["unit_price"], "8.80");
    let repriced = app.patch(&admin, &format!("/api/v1/variants/{id}"), json!({ "sale_price": "12" })).await;
    assert_eq!(repriced.status, StatusCode::OK);
    let q = quote(&app, &admin, &id, "quantity=2").await;
    assert_eq!((&q["unit_price"], &q["total"]), (&json!("12.00"), &json!("27.84")));

    for (query, field) in [
        ("quantity=0", "quantity"),
        ("quantity=-3", "quantity"),
        ("quantity=abc", "quantity"),
        ("quantity=1.5", "quantity"),
        ("price_tier_id=nope", "price_tier_id"),
    ] {
        let r = app.get(&admin, &format!("/api/v1/variants/{id}/price?{query}")).await;
        assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec![field.to_string()]), "{query}");
    }
    let r = app.get(&admin, &format!("/api/v1/variants/{id}/price?quantity=0&price_tier_id=nope")).await;
    assert_eq!(r.fields(), ["quantity", "price_tier_id"]);
    let r = app.get(&admin, &format!("/api/v1/variants/{id}/price?price_tier_id={}", PriceTierId::generate())).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PRICE_TIER_NOT_FOUND"));
    let r = app.get(&admin, &format!("/api/v1/variants/{id}/price?price_tier_id={dormant}")).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["price_tier_id".to_string()]));
    let stranger = User::admin();
    let foreign_tier = tier(&app, stranger.org, "Ajeno", 0, true).await;
    let r = app.get(&admin, &format!("/api/v1/variants/{id}/price?price_tier_id={foreign_tier}")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PRICE_TIER_NOT_FOUND"));
}
