//! `/api/v1/products` end to end: the simple product's default variant, products created with
//! their variants and links in one transaction, every list filter, delete with force, tags and
//! options, local access, tenancy and the cache being refreshed by writes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use catalog_core::ids::{BrandId, CollectionId, LocalId, OptionId, OptionValueId, OrganizationId, TagId};
use catalog_core::models::{ActiveStatus, Actor, NewBrand, NewCollection, NewProductOption, NewTag, TagType};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

// ----------------------------------------------------------------------------------------------
// Fixtures made through the repositories (other resources' routes are tested elsewhere)
// ----------------------------------------------------------------------------------------------

async fn brand(app: &TestApp, org: OrganizationId, name: &str) -> BrandId {
    let conn = &mut *app.db.conn().await;
    let new = NewBrand {
        metadata: None,
        website: None,
        id: BrandId::generate(),
        organization_id: org,
        name: name.into(),
        slug: String::new(),
        description: None,
        logo_url: None,
        status: ActiveStatus::Active,
    };
    repo::brands::create(conn, org, &Actor::system(), new).await.expect("brand").id
}

async fn tag(app: &TestApp, org: OrganizationId, name: &str) -> TagId {
    let conn = &mut *app.db.conn().await;
    let new = NewTag {
        metadata: None,
        id: TagId::generate(),
        organization_id: org,
        name: name.into(),
        slug: String::new(),
        tag_type: TagType::Custom,
        color: None,
    };
    repo::tags::create(conn, org, &Actor::system(), new).await.expect("tag").id
}

async fn collection(app: &TestApp, org: OrganizationId, name: &str) -> CollectionId {
    let conn = &mut *app.db.conn().await;
    let new = NewCollection {
        metadata: None,
        id: CollectionId::generate(),
        organization_id: org,
        parent_id: None,
        name: name.into(),
        slug: String::new(),
        description: None,
        image_url: None,
        status: ActiveStatus::Active,
        position: 0,
    };
    repo::collections::create(conn, org, &Actor::system(), new).await.expect("collection").id
}

/// An option with its values, ids in the values' order.
async fn option(app: &TestApp, org: OrganizationId, name: &str, values: &[&str]) -> (OptionId, Vec<OptionValueId>) {
    let conn = &mut *app.db.conn().await;
    let new = NewProductOption { id: OptionId::generate(), organization_id: org, name: name.into(), position: 0 };
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    let (option, values) = repo::options::create(conn, org, &Actor::system(), new, &values).await.expect("option");
    (option.id, values.into_iter().map(|v| v.id).collect())
}

async fn simple(app: &TestApp, user: &User, title: &str, sku: &str, price: &str) -> Reply {
    let r = app.post(user, "/api/v1/products", json!({ "title": title, "sku": sku, "sale_price": price })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r
}

/// The id of a product answer, which shows it under both names.
fn product_id(r: &Reply) -> String {
    let data = r.data();
    assert_eq!(data["product_id"], data["id"], "{data}");
    data["id"].as_str().expect("product id").to_string()
}

/// The SKUs of a product page, in order.
fn skus(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["sku"].as_str().unwrap().to_string()).collect()
}

async fn send(app: &TestApp, user: &User, method: &str, path: &str, body: Option<Value>) -> Reply {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    app.send(user, method, path, body).await
}

// ----------------------------------------------------------------------------------------------

#[actix_web::test]
async fn simple_product_gets_a_default_variant_and_full_lifecycle() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(
            &admin,
            "/api/v1/products",
            json!({
                "name": "Camión de juguete", "sku": "CAM-1", "barcode": "7790001", "price": 24.99,
                "cost_price": "10", "tax_rate": 19, "weight": "0.250", "default_min_stock": 5,
                "product_type": "juguete", "metadata": { "origen": "AR" }
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let data = created.data();
    assert_eq!((&data["title"], &data["name"]), (&json!("Camión de juguete"), &json!("Camión de juguete")));
    assert_eq!(data["slug"], "camion-de-juguete");
    assert_eq!((&data["status"], &data["is_active"]), (&json!("active"), &json!(true)));
    assert_eq!(data["unit_of_measure"], "unit");
    assert_eq!(data["has_variants"], false);
    assert_eq!(data["base_price"], "24.99", "a simple product's price is its default variant's");
    assert_eq!((&data["brand"], &data["tags"], &data["images"]), (&json!(null), &json!([]), &json!([])));
    let variants = data["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1, "a simple product has exactly its default variant");
    assert_eq!(data["variants_count"], 1);
    let variant = &variants[0];
    assert_eq!(variant["variant_id"], variant["id"]);
    assert_eq!(
        (&variant["sku"], &variant["barcode"], &variant["sale_price"], &variant["cost_price"]),
        (&json!("CAM-1"), &json!("7790001"), &json!("24.99"), &json!("10.00"))
    );
    assert_eq!((&variant["tax_rate"], &variant["default_min_stock"]), (&json!("19.00"), &json!(5)));
    assert_eq!(
        (&variant["price"], &variant["tax"], &variant["images"]),
        (&json!("24.99"), &json!("19.00"), &json!([]))
    );
    let path = format!("/api/v1/products/{}", product_id(&created));
    let variant_path = format!("/api/v1/variants/{}", variant["id"].as_str().unwrap());

    let read = app.get(&admin, &path).await;
    assert_eq!((read.status, read.etag.as_deref()), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(read.data()["variants"][0]["id"], variant["id"]);

    let updated =
        app.patch_if(&admin, &path, "\"1\"", json!({ "description": "Metálico", "status": "inactiva" })).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));
    assert_eq!(
        (&updated.data()["description"], &updated.data()["status"], &updated.data()["is_active"]),
        (&json!("Metálico"), &json!("inactive"), &json!(false))
    );
    let stale = app.patch_if(&admin, &path, "\"1\"", json!({ "title": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let put = send(&app, &admin, "PUT", &path, Some(json!({ "product_type": null, "slug": "" }))).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!((&put.data()["product_type"], &put.data()["slug"]), (&json!(null), &json!("camion-de-juguete")));

    let deleted = app.delete(&admin, &path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "a simple product is deleted without force");
    let gone = app.get(&admin, &path).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"));
    assert_eq!(app.get(&admin, &variant_path).await.status, StatusCode::NOT_FOUND, "its variant went with it");

    assert_eq!(
        app.events(admin.org).await,
        [
            "catalog.product.created",
            "catalog.variant.created",
            "catalog.product.deactivated",
            "catalog.product.updated",
            "catalog.product.deleted",
            "catalog.variant.deleted",
        ]
    );
}

#[actix_web::test]
async fn validation_lists_every_failing_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(
            &admin,
            "/api/v1/products",
            json!({
                "title": " ", "sku": "", "slug": "No Vale", "barcode": "1".repeat(101),
                "unit_of_measure": "u".repeat(21), "alert_stock": -1, "status": "maybe",
                "brand_id": "nope", "local_id": "nope", "metadata": [1], "tag_ids": ["x"],
                "sale_price": "-1", "tax_rate": "101", "default_min_stock": 5, "default_max_stock": 2,
            }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_PRODUCT_DATA"));
    let details = &r.body["error"]["details"];
    assert_eq!(details["validation_errors"], details["fields"], "the pages' name for the same list");
    assert_eq!(
        r.fields(),
        [
            "title",
            "slug",
            "sku",
            "barcode",
            "status",
            "unit_of_measure",
            "alert_stock",
            "brand_id",
            "local_id",
            "metadata",
            "tag_ids[0]",
            "sale_price",
            "tax_rate",
            "default_max_stock",
        ]
    );

    let no_price = app.post(&admin, "/api/v1/products", json!({ "title": "T", "sku": "S" })).await;
    assert_eq!((no_price.status, no_price.fields()), (StatusCode::BAD_REQUEST, vec!["sale_price".to_string()]));
    let title_too_long = app
        .post(&admin, "/api/v1/products", json!({ "title": "t".repeat(501), "sku": "s".repeat(101), "price": 1 }))
        .await;
    assert_eq!(title_too_long.fields(), ["title", "sku"]);

    let mixed = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "T", "sku": "S", "has_variants": true, "sale_price": 3,
                    "variants": [{ "sku": "", "price": "abc" }, { "sku": "V2", "sale_price": 1, "cost_price": -2 }] }),
        )
        .await;
    assert_eq!((mixed.status, mixed.code()), (StatusCode::BAD_REQUEST, "INVALID_PRODUCT_DATA"));
    assert_eq!(mixed.fields(), ["variants[0].sku", "variants[0].sale_price", "variants[1].cost_price"]);

    // With variants, the top-level variant fields are the defaults of the variants listed.
    let defaults = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "Taza", "sku": "TZ", "has_variants": true, "base_price": 10, "weight": "0.3",
                    "variants": [{ "sku": "TZ-1", "price": 12 }, { "sku": "TZ-2", "weight": "0.5" }] }),
        )
        .await;
    assert_eq!(defaults.status, StatusCode::CREATED, "{:?}", defaults.body);
    let priced: Vec<(String, String)> = defaults.data()["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["sale_price"].as_str().unwrap().to_string(), v["weight"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(priced, [("12.00".into(), "0.300".into()), ("10.00".into(), "0.500".into())]);

    let simple_with_variants =
        app.post(&admin, "/api/v1/products", json!({ "title": "T", "sku": "S", "has_variants": false, "price": 1, "variants": [{ "sku": "A", "price": 1 }] })).await;
    assert_eq!(simple_with_variants.fields(), ["variants"]);

    let unknown =
        app.post(&admin, "/api/v1/products", json!({ "title": "T", "sku": "S", "price": 1, "colour": "red" })).await;
    assert_eq!((unknown.status, unknown.fields()), (StatusCode::BAD_REQUEST, vec!["colour".to_string()]));

    let product = simple(&app, &admin, "Mesa", "MESA-1", "10").await;
    let path = format!("/api/v1/products/{}", product_id(&product));
    let bad_update = app
        .patch(&admin, &path, json!({ "title": "", "sku": " ", "slug": "A B", "status": "x", "alert_stock": -5, "brand_id": "no", "metadata": "x", "unit_of_measure": "" }))
        .await;
    assert_eq!((bad_update.status, bad_update.code()), (StatusCode::BAD_REQUEST, "INVALID_PRODUCT_DATA"));
    assert_eq!(
        bad_update.fields(),
        ["title", "slug", "sku", "status", "unit_of_measure", "alert_stock", "brand_id", "metadata"]
    );
    let missing_brand = app.patch(&admin, &path, json!({ "brand_id": uuid::Uuid::now_v7() })).await;
    assert_eq!(
        (missing_brand.status, missing_brand.code(), missing_brand.fields()),
        (StatusCode::NOT_FOUND, "BRAND_NOT_FOUND", vec!["brand_id".to_string()])
    );
    let bad_if_match = TestRequest::patch()
        .uri(&path)
        .insert_header(("Authorization", format!("Bearer {}", admin.token)))
        .insert_header(("If-Match", "yesterday"))
        .set_json(json!({ "title": "X" }));
    let bad_if_match = app.call(bad_if_match.to_request()).await;
    assert_eq!(
        (bad_if_match.status, bad_if_match.code()),
        (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"),
        "an ETag this API never issued matches no version"
    );
    assert_eq!(app.get(&admin, &path).await.data()["title"], "Mesa", "nothing changed");
}

#[actix_web::test]
async fn duplicates_conflict_and_slugs_are_generated() {
    let app = TestApp::start().await;
    let admin = User::admin();
    simple(&app, &admin, "Silla", "SIL-1", "5").await;
    let dup = app.post(&admin, "/api/v1/products", json!({ "title": "Otra", "sku": "SIL-1", "price": 5 })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "PRODUCT_SKU_EXISTS"));
    let same_title = simple(&app, &admin, "Silla", "SIL-2", "5").await;
    assert_eq!(same_title.data()["slug"], "silla-2");
    let taken_slug = app
        .post(&admin, "/api/v1/products", json!({ "title": "X", "sku": "SIL-3", "slug": "silla", "price": 5 }))
        .await;
    assert_eq!((taken_slug.status, taken_slug.code()), (StatusCode::CONFLICT, "PRODUCT_SLUG_EXISTS"));
    app.post(&admin, "/api/v1/products", json!({ "title": "B1", "sku": "B-1", "barcode": "999", "price": 5 })).await;
    let barcode = app
        .post(&admin, "/api/v1/products", json!({ "title": "B2", "sku": "B-2", "barcode": "999", "price": 5 }))
        .await;
    assert_eq!((barcode.status, barcode.code()), (StatusCode::CONFLICT, "PRODUCT_BARCODE_EXISTS"));
    let variant_sku = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "V", "sku": "V-0", "variants": [{ "sku": "SIL-1", "price": 1 }] }),
        )
        .await;
    assert_eq!((variant_sku.status, variant_sku.code()), (StatusCode::CONFLICT, "VARIANT_SKU_EXISTS"));
    let rename =
        app.patch(&admin, &format!("/api/v1/products/{}", product_id(&same_title)), json!({ "sku": "SIL-1" })).await;
    assert_eq!((rename.status, rename.code()), (StatusCode::CONFLICT, "PRODUCT_SKU_EXISTS"));
    let other_org = User::admin();
    simple(&app, &other_org, "Silla", "SIL-1", "5").await;
}

#[actix_web::test]
async fn a_product_with_variants_options_tags_and_collections_is_created_at_once() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let (color, colors) = option(&app, admin.org, "Color", &["Rojo", "Azul"]).await;
    let (size, sizes) = option(&app, admin.org, "Talla", &["S", "M"]).await;
    let sale = tag(&app, admin.org, "Oferta").await;
    let summer = collection(&app, admin.org, "Verano").await;
    let acme = brand(&app, admin.org, "Acme").await;
    let body = json!({
        "title": "Remera", "sku": "REM", "brand_id": acme, "has_variants": true,
        "option_ids": [color, size], "tag_ids": [sale], "collection_ids": [summer],
        "variants": [
            { "sku": "REM-R-S", "price": "10", "option_value_ids": [colors[0], sizes[0]] },
            { "sku": "REM-A-M", "price": "12.5", "barcode": "123", "option_value_ids": [sizes[1], colors[1]] },
        ],
    });
    let created = app.post(&admin, "/api/v1/products", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let data = created.data();
    assert_eq!(data["has_variants"], true);
    assert_eq!(
        (&data["brand"]["name"], &data["brand"]["brand_id"], &data["brand"]["is_active"]),
        (&json!("Acme"), &json!(acme), &json!(true))
    );
    assert_eq!(data["option_ids"], json!([color, size]));
    assert_eq!((&data["tags"][0]["name"], &data["tags"][0]["tag_id"]), (&json!("Oferta"), &json!(sale)));
    assert_eq!(
        (&data["collections"][0]["name"], &data["collections"][0]["collection_id"]),
        (&json!("Verano"), &json!(summer))
    );
    let variants = data["variants"].as_array().unwrap();
    assert_eq!((variants.len(), &data["variants_count"]), (2, &json!(2)));
    assert_eq!(data["base_price"], "10.00", "the lowest variant price");
    assert_eq!(variants[0]["attributes"], json!({ "Color": "Rojo", "Talla": "S" }));
    assert_eq!(variants[1]["attributes"], json!({ "Color": "Azul", "Talla": "M" }));
    assert_eq!((&variants[1]["sale_price"], &variants[1]["price"]), (&json!("12.50"), &json!("12.50")));
    assert!(variants.iter().all(|v| v["images"] == json!([])), "each variant embeds its images");
    assert!(data.get("variant_images").is_none(), "no separate map of variant images");
    assert_eq!(created.etag, app.get(&admin, &format!("/api/v1/products/{}", product_id(&created))).await.etag);

    // One bad variant (a missing option value) undoes everything.
    let before = app.events(admin.org).await.len();
    let failing = app
        .post(
            &admin,
            "/api/v1/products",
            json!({
                "title": "Buzo", "sku": "BUZ", "option_ids": [color, size], "tag_ids": [sale],
                "variants": [
                    { "sku": "BUZ-1", "price": 1, "option_value_ids": [colors[0], sizes[0]] },
                    { "sku": "BUZ-2", "price": 1, "option_value_ids": [colors[1]] },
                ],
            }),
        )
        .await;
    assert_eq!((failing.status, failing.code()), (StatusCode::BAD_REQUEST, "INVALID_PRODUCT_DATA"));
    assert_eq!(failing.fields(), ["variants[1].option_value_ids"]);
    assert_eq!(app.events(admin.org).await.len(), before, "nothing was written");
    assert_eq!(skus(&app.get(&admin, "/api/v1/products?search=BUZ").await), Vec::<String>::new());

    let unknown_links = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "X", "sku": "X", "price": 1, "tag_ids": [uuid::Uuid::now_v7()] }),
        )
        .await;
    assert_eq!((unknown_links.status, unknown_links.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"));
    assert_eq!(unknown_links.fields(), ["tag_ids"]);
    let unknown_collection = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "X", "sku": "X", "price": 1, "collection_ids": [uuid::Uuid::now_v7()] }),
        )
        .await;
    assert_eq!(unknown_collection.fields(), ["collection_ids"]);
    let unknown_option = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "X", "sku": "X", "has_variants": true, "option_ids": [uuid::Uuid::now_v7()] }),
        )
        .await;
    assert_eq!(unknown_option.fields(), ["option_ids"]);
}

#[actix_web::test]
async fn deleting_a_product_with_variants_needs_force_and_cascades() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "Taza", "sku": "TAZ", "variants": [{ "sku": "TAZ-1", "price": 3 }, { "sku": "TAZ-2", "price": 4 }] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let path = format!("/api/v1/products/{}", product_id(&created));
    let variant_ids: Vec<String> =
        created.data()["variants"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    let refused = app.delete(&admin, &path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "PRODUCT_HAS_VARIANTS"));
    let details = &refused.body["error"]["details"];
    assert_eq!((&details["product_id"], &details["variants_count"]), (&created.data()["id"], &json!(2)));
    assert!(details["suggestion"].as_str().is_some_and(|s| s.contains("force=true")), "{details}");
    assert_eq!(app.get(&admin, &path).await.status, StatusCode::OK, "nothing was deleted");
    assert_eq!(app.delete(&admin, &format!("{path}?force=false")).await.status, StatusCode::CONFLICT);
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&admin, &path).await.status, StatusCode::NOT_FOUND);
    for id in &variant_ids {
        let gone = app.get(&admin, &format!("/api/v1/variants/{id}")).await;
        assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "VARIANT_NOT_FOUND"));
    }
    assert_eq!(app.get(&admin, &format!("{path}/variants")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NOT_FOUND);
    // The SKUs are free again.
    let again = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "Taza", "sku": "TAZ", "variants": [{ "sku": "TAZ-1", "price": 3 }] }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
}

#[actix_web::test]
async fn every_list_filter_narrows_the_page() {
    let app = TestApp::start().await;
    let local = LocalId::generate();
    let admin = User::new(OrganizationId::generate(), &["catalog:*"], &[local]);
    let acme = brand(&app, admin.org, "Acme").await;
    let (hot, new_tag) = (tag(&app, admin.org, "Hot").await, tag(&app, admin.org, "Nuevo").await);
    let summer = collection(&app, admin.org, "Verano").await;

    let p = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let r = app.post(admin, "/api/v1/products", body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
    };
    p(json!({ "title": "Camión Rojo", "sku": "CAM-R", "price": "30", "brand_id": acme, "tag_ids": [hot, new_tag], "product_type": "juguete" })).await;
    p(json!({ "title": "Camioneta azul", "sku": "CTA-A", "price": "120", "collection_ids": [summer], "tag_ids": [hot], "status": "inactive" })).await;
    p(json!({ "title": "Pelota", "sku": "PEL", "barcode": "7791234", "price": "8.50", "local_id": local, "product_type": "juguete", "status": "archivada" })).await;
    p(json!({ "title": "Remera", "sku": "REM", "variants": [
        { "sku": "REM-XL-ROJA", "barcode": "5550001", "price": "15" },
        { "sku": "REM-S", "price": "55" },
    ] }))
    .await;

    let list = |query: &str| {
        let app = &app;
        let admin = &admin;
        let query = query.to_string();
        async move { skus(&app.get(admin, &format!("/api/v1/products?{query}")).await) }
    };
    assert_eq!(list("").await, ["CAM-R", "CTA-A", "PEL", "REM"]);
    // Nodes are whole product views, relations embedded.
    let remera = app.get(&admin, "/api/v1/products?search=REM-S").await;
    let node = &remera.data()["edges"][0]["node"];
    assert_eq!(
        (&node["product_id"], &node["name"], &node["base_price"], &node["variants_count"]),
        (&node["id"], &json!("Remera"), &json!("15.00"), &json!(2)),
        "{node}"
    );
    assert_eq!(node["variants"].as_array().map(Vec::len), Some(2));
    // Title words, accents or not, Spanish stemming; and a title substring.
    assert_eq!(list("search=rojo").await, ["CAM-R"]);
    assert_eq!(list("search=cami%C3%B3n%20rojo").await, ["CAM-R"], "accented");
    assert_eq!(list("search=Camion%20Rojo").await, ["CAM-R"], "unaccented");
    assert_eq!(list("search=camion").await, ["CAM-R", "CTA-A"], "a word, and a part of \"Camioneta\"");
    assert_eq!(list("search=amion").await, ["CAM-R", "CTA-A"], "substring of the title");
    assert_eq!(list("search=AZUL").await, ["CTA-A"]);
    assert_eq!(list("q=pelotas").await, ["PEL"], "stemmed plural");
    // Codes: product SKU/barcode and a variant's, whole or prefix.
    assert_eq!(list("search=REM-XL").await, ["REM"]);
    assert_eq!(list("search=REM-XL-ROJA").await, ["REM"]);
    assert_eq!(list("search=5550001").await, ["REM"]);
    assert_eq!(list("search=555").await, ["REM"]);
    assert_eq!(list("search=779").await, ["PEL"]);
    assert_eq!(list("search=CTA").await, ["CTA-A"]);
    assert_eq!(list("search=zzz").await, Vec::<String>::new());
    assert_eq!(list("search=100%25_").await, Vec::<String>::new(), "LIKE wildcards are literal");

    assert_eq!(list(&format!("brand_id={acme}")).await, ["CAM-R"]);
    assert_eq!(list(&format!("collection_id={summer}")).await, ["CTA-A"]);
    assert_eq!(list(&format!("tag_ids={hot}")).await, ["CAM-R", "CTA-A"]);
    assert_eq!(list(&format!("tag_ids={hot},{new_tag}")).await, ["CAM-R"], "all of the tags");
    assert_eq!(list(&format!("tag_ids={}", TagId::generate())).await, Vec::<String>::new());
    assert_eq!(list("product_type=juguete").await, ["CAM-R", "PEL"]);
    assert_eq!(list("status=inactiva").await, ["CTA-A"]);
    assert_eq!(list("status=archived").await, ["PEL"]);
    assert_eq!(list("is_active=true").await, ["CAM-R", "REM"]);
    assert_eq!(list("is_active=false").await, ["CTA-A", "PEL"]);
    assert_eq!(list(&format!("local_id={local}")).await, ["PEL"]);
    assert_eq!(list("min_price=10&max_price=30").await, ["CAM-R", "REM"]);
    assert_eq!(list("min_price=50").await, ["CTA-A", "REM"], "REM has a variant at 55");
    assert_eq!(list("max_price=8.50").await, ["PEL"]);
    assert_eq!(list("min_price=16&max_price=29").await, Vec::<String>::new());
    assert_eq!(list("product_type=juguete&is_active=true&min_price=1").await, ["CAM-R"]);
    assert_eq!(list(&format!("search=cami&tag_ids={hot}&is_active=false")).await, ["CTA-A"]);

    // Sorting and paging both ways, in each order.
    assert_eq!(list("sort=-created").await, ["REM", "PEL", "CTA-A", "CAM-R"]);
    let page = app.get(&admin, "/api/v1/products?first=2").await;
    assert_eq!(skus(&page), ["CAM-R", "CTA-A"]);
    assert_eq!(page.data()["pageInfo"]["hasNextPage"], true);
    let end = page.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let next = app.get(&admin, &format!("/api/v1/products?first=2&after={end}")).await;
    assert_eq!(skus(&next), ["PEL", "REM"]);
    assert_eq!(next.data()["pageInfo"]["hasNextPage"], false);
    let start = next.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("/api/v1/products?last=2&before={start}")).await;
    assert_eq!(skus(&back), ["CAM-R", "CTA-A"]);
    let newest = app.get(&admin, "/api/v1/products?sort=newest&first=3").await;
    assert_eq!(skus(&newest), ["REM", "PEL", "CTA-A"]);
    let end = newest.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    assert_eq!(skus(&app.get(&admin, &format!("/api/v1/products?sort=-created&first=3&after={end}")).await), ["CAM-R"]);
    let back = app.get(&admin, &format!("/api/v1/products?sort=-created&last=2&before={end}")).await;
    assert_eq!(skus(&back), ["REM", "PEL"]);
    assert_eq!(
        (&back.data()["pageInfo"]["hasPreviousPage"], &back.data()["pageInfo"]["hasNextPage"]),
        (&json!(false), &json!(true))
    );
    // Both cursors bound in the shown order: newest first, strictly between REM and CAM-R.
    let rem = newest.data()["pageInfo"]["startCursor"].as_str().unwrap();
    let cam = page.data()["pageInfo"]["startCursor"].as_str().unwrap();
    let between = format!("/api/v1/products?sort=-created&after={rem}&before={cam}");
    assert_eq!(skus(&app.get(&admin, &between).await), ["PEL", "CTA-A"]);
    assert_eq!(skus(&app.get(&admin, &format!("{between}&first=2&last=1")).await), ["CTA-A"]);
    let filtered = app.get(&admin, "/api/v1/products?product_type=juguete&first=1").await;
    let end = filtered.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    assert_eq!(
        skus(&app.get(&admin, &format!("/api/v1/products?product_type=juguete&first=1&after={end}")).await),
        ["PEL"]
    );

    let bad = app
        .get(&admin, "/api/v1/products?brand_id=x&tag_ids=a,b&status=maybe&is_active=yes&min_price=abc&max_price=-1&sort=title&collection_id=1&local_id=2")
        .await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "INVALID_PRODUCT_DATA"));
    assert_eq!(
        bad.fields(),
        ["brand_id", "collection_id", "tag_ids", "status", "is_active", "local_id", "min_price", "max_price", "sort"]
    );
    // An empty price range is a filter nothing matches, not a mistake.
    let inverted = app.get(&admin, "/api/v1/products?min_price=10&max_price=5").await;
    assert_eq!((inverted.status, skus(&inverted)), (StatusCode::OK, Vec::<String>::new()));
    assert!(skus(&app.get(&User::admin(), "/api/v1/products").await).is_empty(), "another organization sees none");
}

#[actix_web::test]
async fn local_and_warehouse_ids_need_local_access() {
    let app = TestApp::start().await;
    let (mine, foreign) = (LocalId::generate(), LocalId::generate());
    let org = OrganizationId::generate();
    let user = User::new(org, &["catalog:*"], &[mine]);
    let all = User::new(org, &["catalog:*", "local:access_all"], &[]);

    for body in [
        json!({ "title": "A", "sku": "A", "price": 1, "local_id": foreign }),
        json!({ "title": "A", "sku": "A", "price": 1, "warehouse_id": foreign }),
        json!({ "title": "A", "sku": "A", "variants": [{ "sku": "A-1", "price": 1, "warehouse_id": foreign }] }),
    ] {
        let denied = app.post(&user, "/api/v1/products", body.clone()).await;
        assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"));
        // In bulk the same: the whole call under all_or_nothing, the row alone under per_row.
        let bulk = app.post(&user, "/api/v1/products/bulk", json!({ "products": [body.clone()] })).await;
        assert_eq!((bulk.status, bulk.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"), "{body}");
        let per_row =
            app.post(&user, "/api/v1/products/bulk", json!({ "products": [body], "error_policy": "per_row" })).await;
        assert_eq!((per_row.status, &per_row.data()["failed"]), (StatusCode::OK, &json!(1)));
    }
    let denied = app.get(&user, &format!("/api/v1/products?local_id={foreign}")).await;
    assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"));

    let own = app
        .post(
            &user,
            "/api/v1/products",
            json!({ "title": "A", "sku": "A", "price": 1, "local_id": mine, "warehouse_id": mine }),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.body);
    assert_eq!(own.data()["variants"][0]["warehouse_id"], json!(mine));
    let path = format!("/api/v1/products/{}", product_id(&own));
    let moved = app.patch(&user, &path, json!({ "local_id": foreign })).await;
    assert_eq!((moved.status, moved.code()), (StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED"));
    assert_eq!(app.patch(&user, &path, json!({ "local_id": null })).await.status, StatusCode::OK);

    let anywhere = app
        .post(
            &all,
            "/api/v1/products",
            json!({ "title": "B", "sku": "B", "price": 1, "local_id": foreign, "warehouse_id": foreign }),
        )
        .await;
    assert_eq!(anywhere.status, StatusCode::CREATED, "local:access_all reaches every local");
    assert_eq!(app.patch(&all, &path, json!({ "local_id": foreign })).await.status, StatusCode::OK);
    assert_eq!(skus(&app.get(&all, &format!("/api/v1/products?local_id={foreign}")).await), ["A", "B"]);
}

#[actix_web::test]
async fn permissions_and_foreign_ids_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = simple(&app, &admin, "Lámpara", "LAM", "9").await;
    let id = product_id(&product);
    let path = format!("/api/v1/products/{id}");
    let sale = tag(&app, admin.org, "Oferta").await;

    let reader = admin.colleague(&["catalog.products.read"]);
    assert_eq!(app.get(&reader, &path).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, "/api/v1/products").await.status, StatusCode::OK);
    let forbidden: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/api/v1/products".into(), Some(json!({ "title": "X", "sku": "X", "price": 1 }))),
        ("PATCH", path.clone(), Some(json!({ "title": "X" }))),
        ("PUT", path.clone(), Some(json!({ "title": "X" }))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/activate"), None),
        ("POST", format!("{path}/deactivate"), None),
        ("POST", format!("{path}/options"), Some(json!({ "option_ids": [] }))),
        ("POST", format!("{path}/tags"), Some(json!({ "tag_ids": [sale] }))),
        ("PUT", format!("{path}/tags"), Some(json!({ "tag_ids": [] }))),
        ("DELETE", format!("{path}/tags"), Some(json!({ "tag_ids": [sale] }))),
        ("DELETE", format!("{path}/tags/{sale}"), None),
    ];
    for (method, route, body) in &forbidden {
        let r = send(&app, &reader, method, route, body.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{method} {route}");
    }
    let nobody = admin.colleague(&["catalog.variants.read"]);
    assert_eq!(app.get(&nobody, &path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&nobody, "/api/v1/products").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&nobody, &format!("{path}/tags")).await.status, StatusCode::FORBIDDEN);

    // Another organization's product answers exactly like a missing one, on every route.
    let stranger = User::admin();
    let stranger_tag = tag(&app, stranger.org, "Oferta").await;
    let missing = format!("/api/v1/products/{}", uuid::Uuid::now_v7());
    for base in [path.clone(), missing] {
        let routes: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", base.clone(), None),
            ("PATCH", base.clone(), Some(json!({ "title": "Mía" }))),
            ("PUT", base.clone(), Some(json!({ "title": "Mía" }))),
            ("DELETE", format!("{base}?force=true"), None),
            ("POST", format!("{base}/activate"), None),
            ("POST", format!("{base}/deactivate"), None),
            ("POST", format!("{base}/options"), Some(json!({ "option_ids": [] }))),
            ("GET", format!("{base}/tags"), None),
            ("POST", format!("{base}/tags"), Some(json!({ "tag_ids": [stranger_tag] }))),
            ("PUT", format!("{base}/tags"), Some(json!({ "tag_ids": [stranger_tag] }))),
            ("DELETE", format!("{base}/tags"), Some(json!({ "tag_ids": [stranger_tag] }))),
            ("DELETE", format!("{base}/tags/{stranger_tag}"), None),
        ];
        for (method, route, body) in routes {
            let r = send(&app, &stranger, method, &route, body).await;
            assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"), "{method} {route}");
        }
    }
    // Linking another organization's tag or option to one's own product: unknown ids.
    let foreign_tag = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [stranger_tag] })).await;
    assert_eq!((foreign_tag.status, foreign_tag.fields()), (StatusCode::NOT_FOUND, vec!["tag_ids".to_string()]));
    let foreign_unlink = app.delete(&admin, &format!("{path}/tags/{stranger_tag}")).await;
    assert_eq!((foreign_unlink.status, foreign_unlink.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"));
    let (their_option, _) = option(&app, stranger.org, "Color", &["Rojo"]).await;
    let foreign_option = app.post(&admin, &format!("{path}/options"), json!({ "option_ids": [their_option] })).await;
    assert_eq!(foreign_option.fields(), ["option_ids"]);
    let read = app.get(&admin, &path).await;
    assert_eq!(
        (read.data()["title"].as_str(), read.etag.as_deref()),
        (Some("Lámpara"), Some("\"1\"")),
        "nothing changed"
    );
    assert_eq!(app.get(&admin, "/api/v1/products/not-a-uuid").await.code(), "PRODUCT_NOT_FOUND");
}

#[actix_web::test]
async fn activation_options_and_tags() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = simple(&app, &admin, "Vaso", "VAS", "2").await;
    let path = format!("/api/v1/products/{}", product_id(&product));

    let off = app.post(&admin, &format!("{path}/deactivate"), json!(null)).await;
    assert_eq!((off.status, off.etag.as_deref()), (StatusCode::OK, Some("\"2\"")), "{:?}", off.body);
    assert_eq!(off.data()["status"], "inactive");
    // PATCH is the pages' method for the same action.
    let again = send(&app, &admin, "PATCH", &format!("{path}/deactivate"), None).await;
    assert_eq!((again.status, &again.data()["is_active"]), (StatusCode::OK, &json!(false)), "{:?}", again.body);
    assert_eq!(again.etag.as_deref(), Some("\"2\""), "already inactive: no new version");
    let stale = app
        .call(
            TestRequest::post()
                .uri(&format!("{path}/activate"))
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("If-Match", "\"1\""))
                .to_request(),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let on = app
        .call(
            TestRequest::post()
                .uri(&format!("{path}/activate"))
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("If-Match", "\"2\""))
                .to_request(),
        )
        .await;
    assert_eq!((on.status, on.data()["status"].as_str()), (StatusCode::OK, Some("active")));

    let (color, _) = option(&app, admin.org, "Color", &["Rojo"]).await;
    let (size, _) = option(&app, admin.org, "Talla", &["M"]).await;
    let set = app.post(&admin, &format!("{path}/options"), json!({ "option_ids": [size, color] })).await;
    assert_eq!(
        (set.status, set.data()["option_ids"].clone()),
        (StatusCode::OK, json!([size, color])),
        "{:?}",
        set.body
    );
    let twice = app.post(&admin, &format!("{path}/options"), json!({ "option_ids": [size, size] })).await;
    assert_eq!((twice.status, twice.fields()), (StatusCode::BAD_REQUEST, vec!["option_ids".to_string()]));
    let malformed = app.post(&admin, &format!("{path}/options"), json!({ "option_ids": ["x"] })).await;
    assert_eq!(malformed.fields(), ["option_ids[0]"]);

    let (a, b, c) = (tag(&app, admin.org, "A").await, tag(&app, admin.org, "B").await, tag(&app, admin.org, "C").await);
    // GET and PUT answer the tags; POST and DELETE with a body what changed beside them.
    let names = |r: &Reply| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.data().as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    };
    let changed = |r: &Reply, key: &str| -> (i64, i64, Vec<String>) {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let data = r.data();
        assert_eq!(data["product_id"].as_str(), path.rsplit('/').next(), "{data}");
        let tags = data["tags"].as_array().unwrap();
        assert!(tags.iter().all(|t| t["tag_id"] == t["id"]), "{data}");
        let names = tags.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
        (data[key].as_i64().unwrap(), data["tags_count"].as_i64().unwrap(), names)
    };
    assert_eq!(names(&app.get(&admin, &format!("{path}/tags")).await), Vec::<String>::new());
    let added = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [b, a] })).await;
    assert_eq!(changed(&added, "tags_added"), (2, 2, vec!["A".to_string(), "B".to_string()]));
    let again = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [a] })).await;
    assert_eq!(changed(&again, "tags_added"), (0, 2, vec!["A".to_string(), "B".to_string()]), "already linked");
    assert_eq!(names(&app.get(&admin, &format!("{path}/tags")).await), ["A", "B"]);
    let removed = send(&app, &admin, "DELETE", &format!("{path}/tags"), Some(json!({ "tag_ids": [a, c] }))).await;
    assert_eq!(changed(&removed, "tags_removed"), (1, 1, vec!["B".to_string()]), "C was not linked");
    let added = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [a] })).await;
    assert_eq!(changed(&added, "tags_added"), (1, 2, vec!["A".to_string(), "B".to_string()]));
    assert_eq!(app.delete(&admin, &format!("{path}/tags/{a}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete(&admin, &format!("{path}/tags/{a}")).await.status,
        StatusCode::NO_CONTENT,
        "not linked: fine"
    );
    assert_eq!(names(&app.get(&admin, &format!("{path}/tags")).await), ["B"]);
    assert_eq!(
        names(&send(&app, &admin, "PUT", &format!("{path}/tags"), Some(json!({ "tag_ids": [c, a] }))).await),
        ["A", "C"]
    );
    assert_eq!(app.get(&admin, &path).await.data()["tags"].as_array().unwrap().len(), 2, "details show them");
    let unknown = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [TagId::generate()] })).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"));
    let unknown =
        send(&app, &admin, "DELETE", &format!("{path}/tags"), Some(json!({ "tag_ids": [TagId::generate()] }))).await;
    assert_eq!((unknown.status, unknown.fields()), (StatusCode::NOT_FOUND, vec!["tag_ids".to_string()]));
    let malformed = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": ["x"] })).await;
    assert_eq!(malformed.fields(), ["tag_ids[0]"]);
    let missing_tag = app.delete(&admin, &format!("{path}/tags/{}", TagId::generate())).await;
    assert_eq!((missing_tag.status, missing_tag.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"));
}

#[actix_web::test]
async fn writes_refresh_the_cached_product() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let product = simple(&app, &admin, "Plato", "PLA", "4").await;
    let path = format!("/api/v1/products/{}", product_id(&product));
    let variant_id = product.data()["variants"][0]["id"].as_str().unwrap().to_string();

    // The first read fills the cache; every kind of write must show on the next read.
    assert_eq!(app.get(&admin, &path).await.data()["title"], "Plato");
    assert_eq!(app.patch(&admin, &path, json!({ "title": "Plato hondo" })).await.status, StatusCode::OK);
    let read = app.get(&admin, &path).await;
    assert_eq!((read.data()["title"].as_str(), read.etag.as_deref()), (Some("Plato hondo"), Some("\"2\"")));

    let repriced = app.patch(&admin, &format!("/api/v1/variants/{variant_id}"), json!({ "sale_price": "4.75" })).await;
    assert_eq!(repriced.status, StatusCode::OK, "{:?}", repriced.body);
    assert_eq!(app.get(&admin, &path).await.data()["variants"][0]["sale_price"], "4.75");

    let t = tag(&app, admin.org, "Cocina").await;
    app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [t] })).await;
    assert_eq!(app.get(&admin, &path).await.data()["tags"][0]["name"], "Cocina");

    app.post(&admin, &format!("{path}/deactivate"), json!(null)).await;
    assert_eq!(app.get(&admin, &path).await.data()["status"], "inactive");

    let added = app.post(&admin, &format!("{path}/variants"), json!({ "sku": "PLA-2", "price": 5 })).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    let read = app.get(&admin, &path).await;
    assert_eq!((read.data()["variants"].as_array().unwrap().len(), &read.data()["has_variants"]), (2, &json!(true)));

    assert_eq!(app.delete(&admin, &format!("/api/v1/variants/{variant_id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&admin, &path).await.data()["variants"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&admin, &path).await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_openapi_document_describes_products_and_variants() {
    let app = TestApp::start().await;
    let doc = app.call(TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(doc.status, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/products", "get"),
        ("/api/v1/products", "post"),
        ("/api/v1/products/{id}", "patch"),
        ("/api/v1/products/{id}/tags/{tag_id}", "delete"),
        ("/api/v1/products/{id}/variants", "post"),
        ("/api/v1/products/{product_id}/variants/{id}", "get"),
        ("/api/v1/variants/{id}/price", "get"),
        ("/api/v1/variants/{id}/calculate-price", "get"),
    ] {
        assert!(doc.body["paths"][path][method].is_object(), "{method} {path}");
    }
    let schemas = &doc.body["components"]["schemas"];
    for schema in ["CreateProduct", "ProductView", "CreateVariant", "VariantView", "PriceCalculation"] {
        assert!(schemas[schema].is_object(), "{schema}");
    }
    let params = doc.body["paths"]["/api/v1/products"]["get"]["parameters"].as_array().unwrap();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"search") && names.contains(&"first") && names.contains(&"min_price"), "{names:?}");

    // What every operation shares: the envelopes, the common errors and every path id declared.
    let get = &doc.body["paths"]["/api/v1/products/{id}"]["get"];
    let ok = &get["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["properties"]["data"]["$ref"], "#/components/schemas/ProductView", "{ok}");
    for status in ["401", "403", "404", "429", "503"] {
        assert_eq!(
            get["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope",
            "{status}"
        );
    }
    for (path, operations) in doc.body["paths"].as_object().unwrap() {
        // Activation answers PATCH (the pages' verb) beside POST; it is no partial update.
        if path.ends_with("/activate") || path.ends_with("/deactivate") {
            assert!(operations["post"].is_object() && operations["patch"].is_object(), "{path}");
            assert!(operations.get("put").is_none(), "{path}: no PUT is served");
        } else if operations.get("patch").is_some() {
            // PUT is served as an alias of every PATCH, so it is documented with it.
            let put = &operations["put"];
            assert!(put.is_object(), "{path}: PUT alias of PATCH undocumented");
            assert_eq!(put["requestBody"], operations["patch"]["requestBody"], "{path}");
        }
        for (method, operation) in operations.as_object().unwrap() {
            for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                let declared = operation["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == name);
                assert!(declared, "{method} {path}: path parameter {name} undeclared");
            }
        }
    }
}

#[actix_web::test]
async fn nul_characters_are_a_named_field_error_not_a_database_failure() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(
            &admin,
            "/api/v1/products",
            json!({ "title": "Gorra\u{0}", "sku": "GOR-1", "sale_price": "9.90", "metadata": { "nota": "a\u{0}b" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, ["metadata", "title"]);
    let list = app.get(&admin, "/api/v1/products").await;
    assert_eq!(list.data()["edges"].as_array().map(Vec::len), Some(0), "nothing was written");
}

/// Each write drops the cached entries its own events make stale (`catalog_core::stale`), so a
/// product read right after a write to something it embeds shows the write.
#[actix_web::test]
async fn a_read_right_after_a_write_shows_it_wherever_it_is_embedded() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let brand = brand(&app, admin.org, "Acme").await;
    let body = json!({ "title": "Taza", "sku": "TAZA-1", "sale_price": "3.50", "brand_id": brand });
    let created = app.post(&admin, "/api/v1/products", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = product_id(&created);
    let path = format!("/api/v1/products/{id}");
    let variant = created.data()["variants"][0]["id"].as_str().expect("default variant").to_string();
    let read = async || {
        let r = app.get(&admin, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.data().clone()
    };
    let names = |list: &Value| -> Vec<String> {
        list.as_array().into_iter().flatten().filter_map(|e| e["name"].as_str().map(str::to_string)).collect()
    };
    assert_eq!(read().await["brand"]["name"], "Acme");

    let renamed = app.patch(&admin, &format!("/api/v1/brands/{brand}"), json!({ "name": "Acme Global" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!(read().await["brand"]["name"], "Acme Global");

    let summer = tag(&app, admin.org, "Verano").await;
    let linked = app.post(&admin, &format!("{path}/tags"), json!({ "tag_ids": [summer] })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    assert_eq!(names(&read().await["tags"]), ["Verano"]);

    let kitchen = collection(&app, admin.org, "Cocina").await;
    let joined =
        app.post(&admin, &format!("/api/v1/collections/{kitchen}/products"), json!({ "product_ids": [id] })).await;
    assert_eq!(joined.status, StatusCode::OK, "{:?}", joined.body);
    assert_eq!(names(&read().await["collections"]), ["Cocina"]);

    let repriced = app.patch(&admin, &format!("/api/v1/variants/{variant}"), json!({ "sale_price": "4.25" })).await;
    assert_eq!(repriced.status, StatusCode::OK, "{:?}", repriced.body);
    assert_eq!(read().await["variants"][0]["sale_price"], "4.25");

    let deactivated = send(&app, &admin, "PATCH", &format!("{path}/deactivate"), None).await;
    assert_eq!(deactivated.status, StatusCode::OK, "{:?}", deactivated.body);
    assert_eq!(read().await["is_active"], false);
}
