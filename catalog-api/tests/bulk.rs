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
        [
            "catalog.product.created",
            "catalog.product.updated",
            "catalog.variant.created",
            "catalog.variant.price.changed",
            "catalog.variant.updated"
        ],
        "one event per changed entity: EDIT's title and price (and its price change), NEW and its default variant"
    );
    let edited = app.get(&admin, &format!("/api/v1/products/{}", results[1]["product_id"].as_str().unwrap())).await;
    assert_eq!(edited.data()["title"], "Plato hondo");
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
    assert_eq!(mine.data()["sku"], "CAM-RENAMED");
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
    assert_eq!(events.iter().filter(|e| *e == "catalog.collection.products.added").count(), 1, "{events:?}");

    assert_eq!(actions(&app.post(&admin, BULK, rows(json!([verano]))).await), ["unchanged", "unchanged"]);
    assert_eq!(app.events(admin.org).await.len(), events.len());
    assert_eq!(actions(&app.post(&admin, BULK, rows(json!([]))).await), ["updated", "updated"]);
    let members = app.get(&admin, &format!("/api/v1/collections/{verano}/products")).await;
    assert_eq!(members.data()["edges"].as_array().map(Vec::len), Some(0));
    let after = app.events(admin.org).await[events.len()..].to_vec();
    assert_eq!(
        after,
        ["catalog.collection.updated", "catalog.collection.products.removed"],
        "the products themselves did not change"
    );

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

    // A batch failing only on rows that exist nowhere is their 404, as a single create answers it;
    // option values given to a product declaring no options are named first if they exist nowhere.
    let mut row = simple("LUNA", "Gafas", "30.00");
    row["tag_ids"] = json!([uuid::Uuid::now_v7()]);
    row["variants"] = json!([{ "sku": "LUNA-1", "sale_price": "1.00", "option_value_ids": [uuid::Uuid::now_v7()] }]);
    let r = app.post(&admin, BULK, json!({ "products": [row] })).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"), "{:?}", r.body);
    assert_eq!(r.fields(), ["products[0].tag_ids[0]", "products[0].variants[0].option_value_ids"]);

    let too_many: Vec<Value> = (0..1001).map(|n| simple(&format!("S{n}"), "x", "1")).collect();
    let r = app.post(&admin, BULK, json!({ "products": too_many })).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["products".to_string()]));
    let r = app.post(&admin, BULK, json!({ "products": [], "error_policy": "sometimes" })).await;
    assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["error_policy".to_string()]));
    let reader = admin.colleague(&["catalog:products:read"]);
    assert_eq!(app.post(&reader, BULK, json!({ "products": [] })).await.status, StatusCode::FORBIDDEN);
}

fn shirt(colors: &[(&str, &str)]) -> Value {
    json!({
        "title": "Camisa", "sku": "CAM", "has_variants": true, "options": ["Color", "Talla"],
        "variants": colors.iter().enumerate().map(|(i, (color, size))| json!({
            "sku": format!("CAM-{i}"), "sale_price": "20.00", "attributes": { "color": color, "Talla": size },
        })).collect::<Vec<_>>(),
    })
}

/// The organization's options by name, each with its values in order.
async fn option_values(app: &TestApp, user: &User) -> Vec<(String, Vec<String>)> {
    let listed = app.get(user, "/api/v1/options").await;
    let mut options = Vec::new();
    for edge in listed.data()["edges"].as_array().unwrap() {
        let read = app.get(user, &format!("/api/v1/options/{}", edge["node"]["id"].as_str().unwrap())).await;
        let values = read.data()["values"].as_array().unwrap().iter();
        let values = values.map(|v| v["value"].as_str().unwrap().to_string()).collect();
        options.push((read.data()["name"].as_str().unwrap().to_string(), values));
    }
    options.sort();
    options
}

#[actix_web::test]
async fn options_named_in_rows_are_created_once_and_variants_take_their_values_by_name() {
    let app = TestApp::start().await;
    let admin = User::admin();
    app.post(&admin, "/api/v1/options", json!({ "name": "Talla", "values": ["S", "M"] })).await;
    let before = app.events(admin.org).await.len();

    let row = shirt(&[("Rojo", "M"), ("Azul", "m")]);
    let created = app.post(&admin, BULK, json!({ "products": [row.clone()] })).await;
    assert_eq!(actions(&created), ["created"], "{:?}", created.body);
    assert_eq!(
        option_values(&app, &admin).await,
        [
            ("Color".to_string(), vec!["Rojo".to_string(), "Azul".to_string()]),
            ("Talla".into(), vec!["S".into(), "M".into()])
        ],
        "Color is new; Talla and its value M (any case) already existed"
    );
    let id = created.data()["results"][0]["product_id"].as_str().unwrap().to_string();
    let details = app.get(&admin, &format!("/api/v1/products/{id}")).await;
    assert_eq!(
        details.data()["variants"][1]["attributes"],
        json!({ "Color": "Azul", "Talla": "M" }),
        "{:?}",
        details.body
    );
    let events = app.events(admin.org).await[before..].to_vec();
    assert_eq!(events.iter().filter(|e| *e == "catalog.option.created").count(), 1, "{events:?}");
    assert!(!events.contains(&"catalog.option.updated".to_string()), "Talla gained nothing: {events:?}");

    let again = app.post(&admin, BULK, json!({ "products": [row] })).await;
    assert_eq!(actions(&again), ["unchanged"], "{:?}", again.body);
    let count = app.events(admin.org).await.len();
    assert_eq!(count, before + events.len(), "nothing published for an unchanged row");

    // A new variant with a new size adds the value to the existing option: one event for it.
    let grown =
        app.post(&admin, BULK, json!({ "products": [shirt(&[("Rojo", "M"), ("Azul", "m"), ("Rojo", "XL")])] })).await;
    assert_eq!(actions(&grown), ["updated"], "{:?}", grown.body);
    let after = app.events(admin.org).await[count..].to_vec();
    assert_eq!(after.iter().filter(|e| *e == "catalog.option.updated").count(), 1, "{after:?}");
    assert_eq!(after.iter().filter(|e| *e == "catalog.variant.created").count(), 1, "{after:?}");
    assert!(option_values(&app, &admin).await[1].1.contains(&"XL".to_string()));

    // A matched variant keeps its values; an undeclared name is refused by field.
    let mut changed = shirt(&[("Verde", "M")]);
    changed["variants"][0]["attributes"]["Material"] = json!("lino");
    let refused = app.post(&admin, BULK, json!({ "products": [changed] })).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let fields = refused.fields();
    assert!(fields.contains(&"products[0].variants[0].attributes.Material".to_string()), "{fields:?}");
    let fixed = app.post(&admin, BULK, json!({ "products": [shirt(&[("Verde", "M")])] })).await;
    assert_eq!(fixed.fields(), ["products[0].variants[0].attributes"], "{:?}", fixed.body);
    assert!(
        !option_values(&app, &admin).await[0].1.contains(&"Verde".to_string()),
        "nothing written for a refused call"
    );
}

#[actix_web::test]
async fn options_by_id_take_values_by_id_and_a_repeated_barcode_fails_only_its_row() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let color = app.post(&admin, "/api/v1/options", json!({ "name": "Color", "values": ["Rojo", "Azul"] })).await;
    let value_ids: Vec<String> =
        color.data()["values"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    let taza = |second: &str| {
        json!({ "products": [{
            "title": "Taza", "sku": "TAZA", "has_variants": true, "option_ids": [color.id()],
            "variants": [
                { "sku": "TAZA-R", "sale_price": "5.00", "option_value_ids": [value_ids[0]] },
                { "sku": "TAZA-A", "sale_price": "5.00", "option_value_ids": [second] },
            ],
        }] })
    };
    let clash = app.post(&admin, BULK, taza(&value_ids[0])).await;
    assert_eq!(clash.fields(), ["products[0].variants[1].option_value_ids"], "two variants, one combination");
    let created = app.post(&admin, BULK, taza(&value_ids[1])).await;
    assert_eq!(actions(&created), ["created"], "{:?}", created.body);
    let id = created.data()["results"][0]["product_id"].as_str().unwrap().to_string();
    let details = app.get(&admin, &format!("/api/v1/products/{id}")).await;
    assert_eq!(details.data()["variants"][1]["attributes"], json!({ "Color": "Azul" }));

    let mut a = simple("A", "Lápiz", "1.00");
    let mut b = simple("B", "Goma", "1.00");
    a["barcode"] = json!("7800000000024");
    b["barcode"] = json!("7800000000024");
    let per_row = app.post(&admin, BULK, json!({ "products": [a, b], "error_policy": "per_row" })).await;
    assert_eq!(actions(&per_row), ["created", "failed"], "{:?}", per_row.body);
    assert_eq!(per_row.data()["results"][1]["errors"][0]["field"], "barcode");
}

#[actix_web::test]
async fn images_listed_become_the_owners_images_matched_by_url_with_an_event_per_change() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let row = |product_images: Value, variant_images: Value| {
        json!({ "products": [{
            "title": "Mochila", "sku": "MOC", "has_variants": true, "images": product_images,
            "variants": [{ "sku": "MOC-N", "sale_price": "80.00", "images": variant_images }],
        }] })
    };
    let first = row(
        json!(["https://img.example/a.jpg", { "url": "https://img.example/b.jpg", "alt": "Lateral" }]),
        json!(["https://img.example/n.jpg"]),
    );
    let created = app.post(&admin, BULK, first.clone()).await;
    assert_eq!(actions(&created), ["created"], "{:?}", created.body);
    let id = created.data()["results"][0]["product_id"].as_str().unwrap().to_string();
    let details = app.get(&admin, &format!("/api/v1/products/{id}")).await;
    let images = details.data()["images"].as_array().unwrap().clone();
    let summary: Vec<(&str, bool)> =
        images.iter().map(|i| (i["url"].as_str().unwrap(), i["is_primary"].as_bool().unwrap())).collect();
    assert_eq!(summary, [("https://img.example/a.jpg", true), ("https://img.example/b.jpg", false)], "{images:?}");
    assert_eq!((&images[1]["alt"], &images[1]["alt_text"]), (&json!("Lateral"), &json!("Lateral")));
    let events = app.events(admin.org).await;
    let created_images = |kind: &str| events.iter().filter(|e| **e == format!("catalog.{kind}.image.created")).count();
    assert_eq!((created_images("product"), created_images("variant")), (2, 1), "{events:?}");

    assert_eq!(actions(&app.post(&admin, BULK, first).await), ["unchanged"]);
    assert_eq!(app.events(admin.org).await.len(), events.len());

    // b first and primary, a gone, c new; the variant's list untouched when omitted.
    let second = row(
        json!([{ "url": "https://img.example/b.jpg", "alt": "Lateral", "is_primary": true }, "https://img.example/c.jpg"]),
        Value::Null,
    );
    let mut second = second;
    second["products"][0]["variants"][0].as_object_mut().unwrap().remove("images");
    let changed = app.post(&admin, BULK, second).await;
    assert_eq!(actions(&changed), ["updated"], "{:?}", changed.body);
    let after = app.events(admin.org).await[events.len()..].to_vec();
    let mut after_sorted = after.clone();
    after_sorted.sort();
    assert_eq!(
        after_sorted,
        ["catalog.product.image.created", "catalog.product.image.deleted", "catalog.product.image.updated"],
        "{after:?}"
    );
    let details = app.get(&admin, &format!("/api/v1/products/{id}")).await;
    let urls: Vec<&str> =
        details.data()["images"].as_array().unwrap().iter().map(|i| i["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["https://img.example/b.jpg", "https://img.example/c.jpg"]);
    assert_eq!(details.data()["images"][0]["is_primary"], true);
    let variant = created.data()["results"][0]["variant_ids"][0].as_str().unwrap().to_string();
    let variant_images = app.get(&admin, &format!("/api/v1/variants/{variant}/images")).await;
    assert_eq!(variant_images.data()["images"].as_array().map(Vec::len), Some(1), "{:?}", variant_images.body);
    assert_eq!(variant_images.data()["images"][0]["url"], "https://img.example/n.jpg");

    let mut bad = row(json!(["https://img.example/x.jpg", "https://img.example/x.jpg", 7]), json!([]));
    bad["products"][0]["title"] = json!("");
    let fields = app.post(&admin, BULK, bad).await.fields();
    for field in ["products[0].title", "products[0].images[2]"] {
        assert!(fields.contains(&field.to_string()), "every field error at once: {fields:?}");
    }
    let mut twice = row(json!(["https://img.example/x.jpg", "https://img.example/x.jpg"]), json!([]));
    twice["products"][0]["sku"] = json!("OTRA");
    twice["products"][0]["variants"][0]["sku"] = json!("OTRA-N");
    assert_eq!(app.post(&admin, BULK, twice).await.fields(), ["products[0].images[1].url"]);
}
