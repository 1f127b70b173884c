//! `/api/v1/tags` end to end, with the products carrying a tag.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::ids::{ProductId, TagId};
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

fn names(r: &Reply) -> Vec<String> {
    r.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_string()).collect()
}

/// The page of products of a `/tags/{id}/products` answer (`{tag, products}`).
fn products(r: &Reply) -> &Value {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    &r.data()["products"]
}

fn titles(r: &Reply) -> Vec<String> {
    products(r)["edges"].as_array().unwrap().iter().map(|e| e["node"]["title"].as_str().unwrap().to_string()).collect()
}

async fn product(app: &TestApp, user: &User, title: &str) -> ProductId {
    let conn = &mut *app.db.conn().await;
    let (product, _) = repo::products::create(
        conn,
        user.org,
        &Actor::system(),
        NewProduct::new(title, title.to_uppercase()),
        Some(NewVariant::new("", rust_decimal::Decimal::TEN)),
    )
    .await
    .expect("product");
    product.id
}

async fn tag_product(app: &TestApp, user: &User, product: ProductId, tag: &str) {
    let tag: TagId = tag.parse().unwrap();
    repo::tags::add_to_product(&mut *app.db.conn().await, user.org, &Actor::system(), product, &[tag])
        .await
        .expect("tagged");
}

#[actix_web::test]
async fn create_read_update_delete_with_events() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(&admin, "/api/v1/tags", json!({ "name": "Algodón orgánico", "type": "feature", "color": "#43A047" }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        (created.data()["slug"].as_str(), created.data()["type"].as_str(), created.data()["color"].as_str()),
        (Some("algodon-organico"), Some("feature"), Some("#43A047"))
    );
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    assert_eq!(
        (&created.data()["tag_id"], &created.data()["products_count"], &created.data()["metadata"]),
        (&created.data()["id"], &json!(0), &json!({}))
    );
    let path = format!("/api/v1/tags/{}", created.id());
    assert_eq!(app.get(&admin, &path).await.data()["name"], "Algodón orgánico");

    let updated = app.patch_if(&admin, &path, "\"1\"", json!({ "color": null, "tag_type": "promotion" })).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!((updated.data()["color"].clone(), updated.data()["type"].clone()), (Value::Null, json!("promotion")));
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));
    let stale = app.patch_if(&admin, &path, "\"1\"", json!({ "name": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let put = app.send(&admin, Method::PUT, &path, Some(json!({ "name": "Lino", "slug": "" }))).await;
    assert_eq!((put.status, put.data()["slug"].as_str()), (StatusCode::OK, Some("lino")), "{:?}", put.body);

    assert_eq!(app.delete(&admin, &path).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &path).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"));
    assert_eq!(
        app.events(admin.org).await,
        ["catalog.tag.created", "catalog.tag.updated", "catalog.tag.updated", "catalog.tag.deleted"]
    );
}

#[actix_web::test]
async fn list_filters_by_type_and_pages_both_ways() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for (name, tag_type) in [("A", "category"), ("B", "feature"), ("C", "category"), ("D", "custom"), ("E", "category")]
    {
        app.post(&admin, "/api/v1/tags", json!({ "name": name, "type": tag_type })).await;
    }
    assert_eq!(names(&app.get(&admin, "/api/v1/tags?type=category").await), ["A", "C", "E"]);
    assert_eq!(names(&app.get(&admin, "/api/v1/tags?type=CUSTOM").await), ["D"]);
    assert!(names(&app.get(&admin, "/api/v1/tags?type=promotion").await).is_empty());
    let bad = app.get(&admin, "/api/v1/tags?type=weird").await;
    assert_eq!(
        (bad.status, bad.code(), bad.fields()),
        (StatusCode::BAD_REQUEST, "INVALID_TAG_DATA", vec!["type".into()])
    );

    let first = app.get(&admin, "/api/v1/tags?type=category&first=2").await;
    assert_eq!(names(&first), ["A", "C"]);
    let end = first.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let next = app.get(&admin, &format!("/api/v1/tags?type=category&first=2&after={end}")).await;
    assert_eq!((names(&next), next.data()["pageInfo"]["hasNextPage"].clone()), (vec!["E".into()], json!(false)));
    let start = next.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("/api/v1/tags?last=3&before={start}")).await;
    assert_eq!(names(&back), ["B", "C", "D"]);
    assert_eq!(back.data()["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(names(&app.get(&admin, "/api/v1/tags?last=2").await), ["D", "E"]);

    // search (name, case-insensitive) and the total over all pages.
    app.post(&admin, "/api/v1/tags", json!({ "name": "Algodón", "type": "feature" })).await;
    let all = app.get(&admin, "/api/v1/tags?first=2").await;
    assert_eq!((names(&all).len(), &all.data()["pageInfo"]["totalCount"]), (2, &json!(6)));
    let found = app.get(&admin, "/api/v1/tags?search=ALGOD").await;
    assert_eq!((names(&found), &found.data()["pageInfo"]["totalCount"]), (vec!["Algodón".to_string()], &json!(1)));
    assert_eq!(names(&app.get(&admin, "/api/v1/tags?search=algod&type=category").await), Vec::<String>::new());
    assert_eq!(names(&app.get(&admin, "/api/v1/tags?search=%25").await), Vec::<String>::new(), "% is literal");
    assert_eq!(all.data()["edges"][0]["node"]["products_count"], 0);
}

#[actix_web::test]
async fn products_by_tag_page_by_page() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let tag = app.post(&admin, "/api/v1/tags", json!({ "name": "Oferta", "type": "promotion" })).await.id();
    let other = app.post(&admin, "/api/v1/tags", json!({ "name": "Nuevo" })).await.id();
    for title in ["Uno", "Dos", "Tres", "Cuatro", "Cinco"] {
        let id = product(&app, &admin, title).await;
        if title != "Dos" {
            tag_product(&app, &admin, id, &tag).await;
        } else {
            tag_product(&app, &admin, id, &other).await;
        }
    }
    let path = format!("/api/v1/tags/{tag}/products");
    let first = app.get(&admin, &format!("{path}?first=2")).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(titles(&first), ["Uno", "Tres"]);
    assert_eq!(products(&first)["pageInfo"]["hasNextPage"], true);
    // The tag itself travels beside its page, with its count over all pages.
    let shown = &first.data()["tag"];
    assert_eq!(
        (&shown["tag_id"], &shown["name"], &shown["products_count"]),
        (&json!(tag), &json!("Oferta"), &json!(4))
    );
    let node = &products(&first)["edges"][0]["node"];
    assert_eq!((&node["product_id"], &node["tags"][0]["tag_id"]), (&node["id"], &json!(tag)), "whole product views");
    let end = products(&first)["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let second = app.get(&admin, &format!("{path}?first=2&after={end}")).await;
    assert_eq!(titles(&second), ["Cuatro", "Cinco"]);
    assert_eq!(products(&second)["pageInfo"]["hasNextPage"], false);
    let start = products(&second)["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("{path}?last=5&before={start}")).await;
    assert_eq!(
        (titles(&back), products(&back)["pageInfo"]["hasPreviousPage"].clone()),
        (vec!["Uno".into(), "Tres".into()], json!(false))
    );
    assert_eq!(titles(&app.get(&admin, &format!("/api/v1/tags/{other}/products")).await), ["Dos"]);
    let empty = app.post(&admin, "/api/v1/tags", json!({ "name": "Vacía" })).await.id();
    let r = app.get(&admin, &format!("/api/v1/tags/{empty}/products")).await;
    assert_eq!((titles(&r).len(), &r.data()["tag"]["products_count"]), (0, &json!(0)));
    assert_eq!(app.get(&admin, &format!("{path}?first=0")).await.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_tag_on_products_needs_force_and_renames_refresh_the_cache() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let tag = app.post(&admin, "/api/v1/tags", json!({ "name": "Oferta" })).await.id();
    let product_id = product(&app, &admin, "Lámpara").await;
    tag_product(&app, &admin, product_id, &tag).await;
    let org = admin.org;
    let details = |app: &TestApp| {
        let catalog = app.catalog.clone();
        async move { catalog.product_details(org, &[product_id]).await.unwrap().remove(0).unwrap() }
    };
    assert_eq!(details(&app).await.tags[0].name, "Oferta", "now cached");
    let path = format!("/api/v1/tags/{tag}");
    assert_eq!(app.patch(&admin, &path, json!({ "name": "Liquidación" })).await.status, StatusCode::OK);
    assert_eq!(details(&app).await.tags[0].name, "Liquidación");

    let refused = app.delete(&admin, &path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "TAG_HAS_PRODUCTS"));
    let why = &refused.body["error"]["details"];
    assert_eq!((&why["tag_id"], &why["products_count"]), (&json!(tag), &json!(1)));
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
    assert!(details(&app).await.tags.is_empty());
    let events = app.events(admin.org).await;
    assert_eq!(events.last().map(String::as_str), Some("catalog.tag.deleted"));
    assert!(events.iter().any(|e| e == "catalog.product.updated"), "the unlinked product is announced");
}

#[actix_web::test]
async fn validation_lists_every_failing_field_and_duplicates_conflict() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(&admin, "/api/v1/tags", json!({ "name": "", "slug": "No Vale", "type": "otro", "color": "rojo" }))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_TAG_DATA"));
    assert_eq!(r.fields(), ["name", "slug", "type", "color"]);
    let long = "x".repeat(101);
    let r = app.post(&admin, "/api/v1/tags", json!({ "name": long, "slug": long, "color": "#12345" })).await;
    assert_eq!(r.fields(), ["name", "slug", "color"]);
    let id = app.post(&admin, "/api/v1/tags", json!({ "name": "Oferta", "color": "#fff" })).await.id();
    let path = format!("/api/v1/tags/{id}");
    let r = app.patch(&admin, &path, json!({ "name": " ", "type": "x", "color": "#GGG" })).await;
    assert_eq!(r.fields(), ["name", "type", "color"]);
    let r = app.patch(&admin, &path, json!({ "colour": "red" })).await;
    assert_eq!(r.fields(), ["colour"]);

    let dup = app.post(&admin, "/api/v1/tags", json!({ "name": "OFERTA", "slug": "otra" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "TAG_NAME_EXISTS"));
    let dup = app.post(&admin, "/api/v1/tags", json!({ "name": "Otra", "slug": "oferta" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "TAG_SLUG_EXISTS"));
    let other = app.post(&admin, "/api/v1/tags", json!({ "name": "Otra" })).await.id();
    let dup = app.patch(&admin, &format!("/api/v1/tags/{other}"), json!({ "name": "oferta" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "TAG_NAME_EXISTS"));
    assert_eq!(app.post(&User::admin(), "/api/v1/tags", json!({ "name": "Oferta" })).await.status, StatusCode::CREATED);
}

#[actix_web::test]
async fn permissions_and_tenancy_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let tag = app.post(&admin, "/api/v1/tags", json!({ "name": "Oferta" })).await.id();
    let path = format!("/api/v1/tags/{tag}");
    let product_id = product(&app, &admin, "Camisa").await;
    tag_product(&app, &admin, product_id, &tag).await;

    let reader = admin.colleague(&["catalog.tags.read"]);
    assert_eq!(app.get(&reader, &path).await.status, StatusCode::OK);
    assert_eq!(titles(&app.get(&reader, &format!("{path}/products")).await), ["Camisa"]);
    let forbidden = vec![
        app.post(&reader, "/api/v1/tags", json!({ "name": "X" })).await,
        app.patch(&reader, &path, json!({ "name": "X" })).await,
        app.delete(&reader, &path).await,
        app.get(&admin.colleague(&["catalog.collections.read"]), "/api/v1/tags").await,
        app.get(&admin.colleague(&["catalog.collections.read"]), &format!("{path}/products")).await,
    ];
    for r in forbidden {
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{:?}", r.body);
    }

    let stranger = User::admin();
    let replies = vec![
        app.get(&stranger, &path).await,
        app.patch(&stranger, &path, json!({ "name": "Mía" })).await,
        app.send(&stranger, Method::PUT, &path, Some(json!({ "name": "Mía" }))).await,
        app.delete(&stranger, &format!("{path}?force=true")).await,
        app.get(&stranger, &format!("{path}/products")).await,
        app.get(&stranger, &format!("/api/v1/tags/{}", uuid::Uuid::now_v7())).await,
        app.get(&stranger, "/api/v1/tags/not-a-uuid/products").await,
    ];
    for r in replies {
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "TAG_NOT_FOUND"), "{:?}", r.body);
    }
    assert!(names(&app.get(&stranger, "/api/v1/tags").await).is_empty());
    assert_eq!(app.get(&admin, &path).await.data()["name"], "Oferta", "nothing changed");
}
