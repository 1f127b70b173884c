//! `POST /api/v1/products/bulk`: upsert by SKU with a result for every row.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::StatusCode;
use catalog_core::db;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

const BULK: &str = "/api/v1/products/bulk";

fn product_with_variants(n: usize, variants: usize, price: &str) -> Value {
    json!({
        "title": format!("Camiseta {n}"),
        "sku": format!("CAM-{n:04}"),
        "has_variants": true,
        "variants": (0..variants).map(|j| json!({
            "sku": format!("CAM-{n:04}-{j}"),
            "title": format!("Talla {j}"),
            "sale_price": price,
        })).collect::<Vec<_>>(),
    })
}

fn simple(sku: &str, title: &str, price: &str) -> Value {
    json!({ "title": title, "sku": sku, "sale_price": price })
}

fn actions(reply: &Reply) -> Vec<String> {
    reply.data()["results"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_string()).collect()
}

/// Sends a bulk call and counts the SQL statements it cost.
async fn bulk(app: &TestApp, user: &User, body: Value) -> (Reply, u64) {
    let before = db::statements_sent();
    let reply = app.post(user, BULK, body).await;
    (reply, db::statements_sent() - before)
}

#[actix_web::test]
async fn a_thousand_products_with_five_variants_in_one_call_then_the_same_call_changes_nothing() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let rows: Vec<Value> = (0..1000).map(|n| product_with_variants(n, 5, "19.90")).collect();

    let (small, small_cost) = bulk(&app, &admin, json!({ "products": rows[..10].to_vec() })).await;
    assert_eq!(small.status, StatusCode::OK, "{:?}", small.body);
    let (first, cost) = bulk(&app, &admin, json!({ "products": rows })).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let data = first.data();
    assert_eq!((data["created"].as_u64(), data["unchanged"].as_u64()), (Some(990), Some(10)), "{data}");
    let results = data["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i);
        assert!(result["product_id"].is_string());
        assert_eq!(result["variant_ids"].as_array().unwrap().len(), 5);
    }
    // Reads and writes are set-based: 100 times the rows costs only the extra chunks of the
    // multi-row statements (1,500 rows each), not a statement per row.
    assert!(cost <= small_cost + 6, "1,000 rows cost {cost} statements, 10 rows {small_cost}");

    let events = app.events(admin.org).await;
    assert_eq!(events.iter().filter(|e| *e == "catalog.product.created").count(), 1000);
    assert_eq!(events.iter().filter(|e| *e == "catalog.variant.created").count(), 5000);
    let detail = app.get(&admin, &format!("/api/v1/products/{}", results[999]["product_id"].as_str().unwrap())).await;
    assert_eq!(detail.data()["variants"].as_array().unwrap().len(), 5);
    assert_eq!(detail.data()["variants"][4]["sale_price"], "19.90");

    let rows: Vec<Value> = (0..1000).map(|n| product_with_variants(n, 5, "19.90")).collect();
    let (again, _) = bulk(&app, &admin, json!({ "products": rows })).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(actions(&again).iter().all(|a| a == "unchanged"), "{:?}", again.data()["updated"]);
    assert_eq!(again.data()["results"][7]["product_id"], results[7]["product_id"]);
    assert_eq!(app.events(admin.org).await.len(), events.len(), "an unchanged row publishes nothing");
}

#[actix_web::test]
async fn a_mixed_call_reports_every_row_under_both_error_policies() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let seed = json!({ "products": [simple("KEEP", "Taza", "5.00"), simple("EDIT", "Plato", "7.00")] });
    assert_eq!(app.post(&admin, BULK, seed).await.status, StatusCode::OK);
    let before = app.events(admin.org).await.len();
    let mixed = |policy: &str| {
        json!({
            "error_policy": policy,
            "products": [
                simple("KEEP", "Taza", "5.00"),
                simple("EDIT", "Plato hondo", "7.50"),
                simple("NEW", "Vaso", "3.00"),
                { "title": "", "sku": "BAD", "sale_price": "-1" },
                { "title": "Jarra", "sku": "KEEP", "sale_price": "1.00" },
            ],
        })
    };

    let rejected = app.post(&admin, BULK, mixed("all_or_nothing")).await;
    assert_eq!(rejected.status, StatusCode::BAD_REQUEST, "{:?}", rejected.body);
    let fields = rejected.fields();
    for field in ["products[3].title", "products[3].sale_price", "products[4].sku"] {
        assert!(fields.contains(&field.to_string()), "{fields:?}");
    }
    assert_eq!(app.events(admin.org).await.len(), before, "all_or_nothing wrote nothing");
    assert_eq!(app.get(&admin, "/api/v1/products?search=Vaso").await.data()["edges"].as_array().unwrap().len(), 0);

    let dry = app.post(&admin, &format!("{BULK}?dry_run=true"), mixed("per_row")).await;
    assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
    assert_eq!(actions(&dry), ["unchanged", "updated", "created", "failed", "failed"]);
    assert_eq!(dry.data()["committed"], false);
    assert_eq!(app.events(admin.org).await.len(), before, "a dry run writes nothing");

    let partial = app.post(&admin, BULK, mixed("per_row")).await;
    assert_eq!(partial.status, StatusCode::OK, "{:?}", partial.body);
    assert_eq!(actions(&partial), ["unchanged", "updated", "created", "failed", "failed"]);
    let results = partial.data()["results"].as_array().unwrap();
    let bad: Vec<&str> =
        results[3]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(bad.contains(&"title") && bad.contains(&"sale_price"), "{bad:?}");
    assert!(results[4]["errors"][0]["message"].as_str().unwrap().contains("row 0"));
    let events = app.events(admin.org).await[before..].to_vec();
    let mut events_sorted = events.clone();
    events_sorted.sort();
    assert_eq!(
        events_sorted,
        ["catalog.product.created", "catalog.product.updated", "catalog.variant.created", "catalog.variant.updated"],
        "one event per changed entity: EDIT's title and price, NEW and its default variant"
    );
    let edited = app.get(&admin, &format!("/api/v1/products/{}", results[1]["product_id"].as_str().unwrap())).await;
    assert_eq!(edited.data()["product"]["title"], "Plato hondo");
    assert_eq!(edited.data()["variants"][0]["sale_price"], "7.50");
}

#[actix_web::test]
async fn rows_match_by_variant_sku_and_never_across_organizations() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let first = app.post(&admin, BULK, json!({ "products": [product_with_variants(1, 2, "10.00")] })).await;
    let product_id = first.data()["results"][0]["product_id"].clone();

    // A new product SKU, the same variant SKUs: the product is renamed, not duplicated.
    let mut renamed = product_with_variants(1, 2, "10.00");
    renamed["sku"] = json!("CAM-RENAMED");
    let second = app.post(&admin, BULK, json!({ "products": [renamed] })).await;
    assert_eq!(actions(&second), ["updated"]);
    assert_eq!(second.data()["results"][0]["product_id"], product_id);

    // Another organization's SKUs are not there: its call creates its own products.
    let stranger = User::admin();
    let theirs = app.post(&stranger, BULK, json!({ "products": [product_with_variants(1, 2, "10.00")] })).await;
    assert_eq!(actions(&theirs), ["created"]);
    assert_ne!(theirs.data()["results"][0]["product_id"], product_id);
    let mine = app.get(&admin, &format!("/api/v1/products/{}", product_id.as_str().unwrap())).await;
    assert_eq!(mine.data()["product"]["sku"], "CAM-RENAMED");
}

#[actix_web::test]
async fn collection_memberships_given_are_set_exactly_with_one_event_per_collection() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let verano = app.post(&admin, "/api/v1/collections", json!({ "name": "Verano" })).await.id();
    let rows = |collections: Value| {
        let mut a = simple("A", "Gafas", "30.00");
        let mut b = simple("B", "Sombrero", "20.00");
        a["collection_ids"] = collections.clone();
        b["collection_ids"] = collections;
        json!({ "products": [a, b] })
    };
    let created = app.post(&admin, BULK, rows(json!([verano]))).await;
    assert_eq!(actions(&created), ["created", "created"], "{:?}", created.body);
    let members = app.get(&admin, &format!("/api/v1/collections/{verano}/products")).await;
    assert_eq!(members.data()["edges"].as_array().map(Vec::len), Some(2), "{:?}", members.body);
    let events = app.events(admin.org).await;
    assert_eq!(events.iter().filter(|e| *e == "catalog.collection.updated").count(), 1, "{events:?}");

    assert_eq!(actions(&app.post(&admin, BULK, rows(json!([verano]))).await), ["unchanged", "unchanged"]);
    assert_eq!(app.events(admin.org).await.len(), events.len());
    assert_eq!(actions(&app.post(&admin, BULK, rows(json!([]))).await), ["updated", "updated"]);
    let members = app.get(&admin, &format!("/api/v1/collections/{verano}/products")).await;
    assert_eq!(members.data()["edges"].as_array().map(Vec::len), Some(0));
    let after = app.events(admin.org).await[events.len()..].to_vec();
    assert_eq!(after, ["catalog.collection.updated"], "the products themselves did not change");

    let unknown = app.post(&admin, BULK, rows(json!([uuid::Uuid::now_v7()]))).await;
    assert!(unknown.fields().contains(&"products[0].collection_ids[0]".to_string()), "{:?}", unknown.body);
}

#[actix_web::test]
async fn tags_given_are_set_exactly_and_bad_requests_name_their_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let tag = app.post(&admin, "/api/v1/tags", json!({ "name": "verano" })).await.id();
    let mut row = simple("SOL", "Gafas", "30.00");
    row["tag_ids"] = json!([tag]);
    let created = app.post(&admin, BULK, json!({ "products": [row.clone()] })).await;
    assert_eq!(actions(&created), ["created"], "{:?}", created.body);
    let id = created.data()["results"][0]["product_id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&admin, &format!("/api/v1/products/{id}")).await.data()["tags"][0]["id"], tag.as_str());
    assert_eq!(actions(&app.post(&admin, BULK, json!({ "products": [row.clone()] })).await), ["unchanged"]);
    row["tag_ids"] = json!([]);
    assert_eq!(actions(&app.post(&admin, BULK, json!({ "products": [row] })).await), ["updated"]);
    assert_eq!(app.get(&admin, &format!("/api/v1/products/{id}")).await.data()["tags"], json!([]));

    let too_many: Vec<Value> = (0..1001).map(|n| simple(&format!("S{n}"), "x", "1")).collect();
    let r = app.post(&admin, BULK, json!({ "products": too_many })).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["products".to_string()]));
    let r = app.post(&admin, BULK, json!({ "products": [], "error_policy": "sometimes" })).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["error_policy".to_string()]));
    let reader = admin.colleague(&["catalog:products:read"]);
    assert_eq!(app.post(&reader, BULK, json!({ "products": [] })).await.status, StatusCode::FORBIDDEN);
}
