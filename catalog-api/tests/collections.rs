//! `/api/v1/collections` end to end: the tree, re-parenting, product links.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::ids::ProductId;
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

fn names(r: &Reply) -> Vec<String> {
    r.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_string()).collect()
}

fn titles(r: &Reply) -> Vec<String> {
    node_titles(r.data())
}

/// The product titles of a connection, in order.
fn node_titles(connection: &Value) -> Vec<String> {
    connection["edges"].as_array().unwrap().iter().map(|e| e["node"]["title"].as_str().unwrap().to_string()).collect()
}

/// `[name, [children...]]` of a tree, for compact assertions.
fn shape(nodes: &Value) -> Value {
    Value::Array(
        nodes.as_array().unwrap().iter().map(|n| json!([n["name"], shape(&n["children"])])).collect::<Vec<_>>(),
    )
}

async fn product(app: &TestApp, user: &User, title: &str) -> ProductId {
    let conn = &mut *app.db.conn().await;
    let (product, _) = repo::products::create(
        conn,
        user.org,
        &Actor::system(),
        NewProduct::new(title, title.to_uppercase().replace(' ', "-")),
        Some(NewVariant::new("", rust_decimal::Decimal::TEN)),
    )
    .await
    .expect("product");
    product.id
}

async fn collection(app: &TestApp, user: &User, body: Value) -> String {
    let r = app.post(user, "/api/v1/collections", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.id()
}

#[actix_web::test]
async fn create_read_update_delete_with_events() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(
            &admin,
            "/api/v1/collections",
            json!({ "name": "Verano Ñandú", "description": "Temporada", "image_url": "https://img.example/v.png", "position": 3 }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        (created.data()["slug"].as_str(), created.data()["status"].as_str(), created.data()["position"].as_i64()),
        (Some("verano-nandu"), Some("active"), Some(3))
    );
    assert_eq!(created.data()["parent_id"], Value::Null);
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let path = format!("/api/v1/collections/{}", created.id());
    assert_eq!(app.get(&admin, &path).await.data()["name"], "Verano Ñandú");

    let updated = app.patch_if(&admin, &path, "\"1\"", json!({ "description": null, "status": "inactiva" })).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(
        (updated.data()["description"].clone(), updated.data()["status"].clone()),
        (Value::Null, json!("inactive"))
    );
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));
    let stale = app.patch_if(&admin, &path, "\"1\"", json!({ "name": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let put = app.send(&admin, Method::PUT, &path, Some(json!({ "name": "Verano" }))).await;
    assert_eq!((put.status, put.data()["name"].as_str()), (StatusCode::OK, Some("Verano")));

    assert_eq!(app.delete(&admin, &path).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &path).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "COLLECTION_NOT_FOUND"));
    assert_eq!(
        app.events(admin.org).await,
        [
            "catalog.collection.created",
            "catalog.collection.updated",
            "catalog.collection.updated",
            "catalog.collection.deleted"
        ]
    );
}

#[actix_web::test]
async fn the_tree_reparenting_and_cycles() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let ropa = collection(&app, &admin, json!({ "name": "Ropa" })).await;
    let hombre = collection(&app, &admin, json!({ "name": "Hombre", "parent_id": ropa, "position": 1 })).await;
    let mujer = collection(&app, &admin, json!({ "name": "Mujer", "parent_id": ropa, "position": 0 })).await;
    let camisas = collection(&app, &admin, json!({ "name": "Camisas", "parent_id": hombre })).await;
    let hogar = collection(&app, &admin, json!({ "name": "Hogar", "position": 1 })).await;

    let tree = app.get(&admin, "/api/v1/collections/tree").await;
    assert_eq!(tree.status, StatusCode::OK, "{:?}", tree.body);
    assert_eq!(shape(tree.data()), json!([["Ropa", [["Mujer", []], ["Hombre", [["Camisas", []]]]]], ["Hogar", []]]));
    assert_eq!(tree.data()[0]["children"][1]["id"].as_str(), Some(hombre.as_str()), "nodes carry the collection");

    // Filters: roots, one level, a bad id.
    assert_eq!(names(&app.get(&admin, "/api/v1/collections?parent_id=root").await), ["Ropa", "Hogar"]);
    assert_eq!(names(&app.get(&admin, &format!("/api/v1/collections?parent_id={ropa}")).await), ["Hombre", "Mujer"]);
    let bad = app.get(&admin, "/api/v1/collections?parent_id=nope").await;
    assert_eq!(
        (bad.status, bad.code(), bad.fields()),
        (StatusCode::BAD_REQUEST, "INVALID_COLLECTION_DATA", vec!["parent_id".into()])
    );
    assert_eq!(names(&app.get(&admin, "/api/v1/collections").await).len(), 5);

    // A collection under its own descendant is a circular reference; under itself, a bad parent_id.
    for parent in [&camisas, &hombre] {
        let r = app.patch(&admin, &format!("/api/v1/collections/{ropa}"), json!({ "parent_id": parent })).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "CIRCULAR_COLLECTION_REFERENCE"), "{:?}", r.body);
        assert_eq!(r.body["error"]["details"], json!({ "collection_id": ropa, "parent_id": parent }));
    }
    let itself = app.patch(&admin, &format!("/api/v1/collections/{ropa}"), json!({ "parent_id": ropa })).await;
    assert_eq!((itself.status, itself.code()), (StatusCode::BAD_REQUEST, "INVALID_COLLECTION_DATA"));
    assert_eq!(itself.fields(), ["parent_id"]);
    assert_eq!(app.get(&admin, &format!("/api/v1/collections/{ropa}")).await.etag.as_deref(), Some("\"1\""));
    let missing =
        app.patch(&admin, &format!("/api/v1/collections/{ropa}"), json!({ "parent_id": uuid::Uuid::now_v7() })).await;
    assert_eq!(missing.fields(), ["parent_id"]);
    let foreign = collection(&app, &User::admin(), json!({ "name": "Ajena" })).await;
    let r = app.post(&admin, "/api/v1/collections", json!({ "name": "Hija", "parent_id": foreign })).await;
    assert_eq!(
        (r.status, r.code(), r.fields()),
        (StatusCode::NOT_FOUND, "COLLECTION_NOT_FOUND", vec!["parent_id".to_string()])
    );

    // Moves: Camisas to Hogar, Hombre to the root.
    let moved = app.patch(&admin, &format!("/api/v1/collections/{camisas}"), json!({ "parent_id": hogar })).await;
    assert_eq!((moved.status, moved.data()["parent_id"].as_str()), (StatusCode::OK, Some(hogar.as_str())));
    let rooted = app.patch(&admin, &format!("/api/v1/collections/{hombre}"), json!({ "parent_id": null })).await;
    assert_eq!(rooted.data()["parent_id"], Value::Null);
    let tree = app.get(&admin, "/api/v1/collections/tree").await;
    assert_eq!(shape(tree.data()), json!([["Ropa", [["Mujer", []]]], ["Hogar", [["Camisas", []]]], ["Hombre", []]]));
    let _ = mujer;
    assert!(app.get(&User::admin(), "/api/v1/collections/tree").await.data().as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn deleting_a_parent_needs_force_and_moves_children_up() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let top = collection(&app, &admin, json!({ "name": "Arriba" })).await;
    let middle = collection(&app, &admin, json!({ "name": "Medio", "parent_id": top })).await;
    let leaf = collection(&app, &admin, json!({ "name": "Hoja", "parent_id": middle })).await;
    let path = format!("/api/v1/collections/{middle}");
    let refused = app.delete(&admin, &path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "COLLECTION_HAS_CHILDREN"));
    let details = &refused.body["error"]["details"];
    assert_eq!((&details["collection_id"], &details["children_count"]), (&json!(middle), &json!(1)));
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
    let leaf = app.get(&admin, &format!("/api/v1/collections/{leaf}")).await;
    assert_eq!(leaf.data()["parent_id"].as_str(), Some(top.as_str()));
    assert_eq!(shape(app.get(&admin, "/api/v1/collections/tree").await.data()), json!([["Arriba", [["Hoja", []]]]]));
}

#[actix_web::test]
async fn products_are_added_listed_and_removed() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let id = collection(&app, &admin, json!({ "name": "Ofertas" })).await;
    let path = format!("/api/v1/collections/{id}/products");
    let mut products = Vec::new();
    for title in ["Uno", "Dos", "Tres", "Cuatro"] {
        products.push(product(&app, &admin, title).await);
    }

    let added = app.post(&admin, &path, json!({ "product_ids": products })).await;
    assert_eq!(added.status, StatusCode::OK, "{:?}", added.body);
    assert_eq!((added.data()["collection_id"].as_str(), added.etag.as_deref()), (Some(id.as_str()), Some("\"2\"")));
    assert_eq!((&added.data()["products_added"], &added.data()["products_count"]), (&json!(4), &json!(4)));
    assert_eq!(
        (&added.data()["collection"]["id"], &added.data()["collection"]["version"]),
        (&json!(id), &json!(2)),
        "the collection after the change"
    );
    let again = app.post(&admin, &path, json!({ "product_ids": [products[0]] })).await;
    assert_eq!(again.etag.as_deref(), Some("\"2\""), "already linked: nothing changes");
    assert_eq!((&again.data()["products_added"], &again.data()["products_count"]), (&json!(0), &json!(4)));

    let first = app.get(&admin, &format!("{path}?first=3")).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(titles(&first), ["Uno", "Dos", "Tres"]);
    assert_eq!(first.data()["pageInfo"]["hasNextPage"], true);
    assert_eq!(first.data()["edges"][0]["node"]["sku"], "UNO");
    let end = first.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let second = app.get(&admin, &format!("{path}?first=3&after={end}")).await;
    assert_eq!(
        (titles(&second), second.data()["pageInfo"]["hasNextPage"].clone()),
        (vec!["Cuatro".into()], json!(false))
    );
    let start = second.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("{path}?last=2&before={start}")).await;
    assert_eq!(titles(&back), ["Dos", "Tres"]);
    assert_eq!(back.data()["pageInfo"]["hasPreviousPage"], true);

    // A foreign product links nothing: it does not exist here (404, as page 14's flows answer).
    let stranger = User::admin();
    let foreign = product(&app, &stranger, "Ajeno").await;
    let other = collection(&app, &admin, json!({ "name": "Otra" })).await;
    let other_path = format!("/api/v1/collections/{other}/products");
    let r = app.post(&admin, &other_path, json!({ "product_ids": [products[0], foreign] })).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"));
    assert_eq!(r.fields(), ["product_ids"]);
    assert!(r.body["error"]["details"]["fields"][0]["message"].as_str().unwrap().contains(&foreign.to_string()));
    for body in [json!({ "product_ids": ["nope"] }), json!({ "product_ids": [] }), json!({})] {
        let r = app.post(&admin, &other_path, body).await;
        assert_eq!((r.status, r.fields()), (StatusCode::BAD_REQUEST, vec!["product_ids".to_string()]));
    }
    assert!(titles(&app.get(&admin, &other_path).await).is_empty(), "nothing linked");

    // Removal: several through the body, one through the path.
    let removed =
        app.send(&admin, Method::DELETE, &path, Some(json!({ "product_ids": [products[0], products[1]] }))).await;
    assert_eq!((removed.status, removed.etag.as_deref()), (StatusCode::OK, Some("\"3\"")), "{:?}", removed.body);
    assert_eq!(
        (&removed.data()["collection_id"], &removed.data()["products_removed"], &removed.data()["products_count"]),
        (&json!(id), &json!(2), &json!(2))
    );
    let not_linked = app.send(&admin, Method::DELETE, &path, Some(json!({ "product_ids": [products[0]] }))).await;
    assert_eq!(
        (not_linked.status, &not_linked.data()["products_removed"], not_linked.etag.as_deref()),
        (StatusCode::OK, &json!(0), Some("\"3\"")),
        "not linked: nothing changes"
    );
    let one = app.delete(&admin, &format!("{path}/{}", products[2])).await;
    assert_eq!(one.status, StatusCode::NO_CONTENT);
    assert_eq!(titles(&app.get(&admin, &path).await), ["Cuatro"]);
    let foreign_one = app.delete(&admin, &format!("{path}/{foreign}")).await;
    assert_eq!((foreign_one.status, foreign_one.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"));
    let r = app.send(&admin, Method::DELETE, &path, Some(json!({ "product_ids": [foreign] }))).await;
    assert_eq!((r.status, r.fields()), (StatusCode::NOT_FOUND, vec!["product_ids".to_string()]));

    let events = app.events(admin.org).await;
    let collection_events: Vec<&str> =
        events.iter().map(String::as_str).filter(|e| e.starts_with("catalog.collection.")).collect();
    assert_eq!(
        collection_events,
        [
            "catalog.collection.created",
            "catalog.collection.updated",
            "catalog.collection.products.added",
            "catalog.collection.created",
            "catalog.collection.updated",
            "catalog.collection.products.removed",
            "catalog.collection.updated",
            "catalog.collection.products.removed"
        ]
    );
}

#[actix_web::test]
async fn link_changes_refresh_cached_product_details() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let id = collection(&app, &admin, json!({ "name": "Destacados" })).await;
    let product_id = product(&app, &admin, "Lámpara").await;
    let org = admin.org;
    let details = |app: &TestApp| {
        let catalog = app.catalog.clone();
        async move { catalog.product_details(org, &[product_id]).await.unwrap().remove(0).unwrap() }
    };
    assert!(details(&app).await.collections.is_empty(), "now cached");
    app.post(&admin, &format!("/api/v1/collections/{id}/products"), json!({ "product_ids": [product_id] })).await;
    assert_eq!(details(&app).await.collections.len(), 1);
    app.patch(&admin, &format!("/api/v1/collections/{id}"), json!({ "name": "Novedades" })).await;
    assert_eq!(details(&app).await.collections[0].name, "Novedades");
    app.delete(&admin, &format!("/api/v1/collections/{id}/products/{product_id}")).await;
    assert!(details(&app).await.collections.is_empty());
}

#[actix_web::test]
async fn validation_lists_every_failing_field_and_duplicates_conflict() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(
            &admin,
            "/api/v1/collections",
            json!({ "name": "", "slug": "No Vale", "image_url": "ftp://x", "status": "quizá", "position": -1, "parent_id": "nope" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_COLLECTION_DATA"));
    assert_eq!(r.fields(), ["name", "slug", "image_url", "status", "position", "parent_id"]);
    let id = collection(&app, &admin, json!({ "name": "Ropa" })).await;
    let path = format!("/api/v1/collections/{id}");
    let r = app
        .patch(&admin, &path, json!({ "name": " ", "slug": "-", "image_url": "nope", "status": "x", "parent_id": "y" }))
        .await;
    assert_eq!(r.fields(), ["name", "slug", "image_url", "status", "parent_id"]);
    let r = app.patch(&admin, &path, json!({ "colour": "red" })).await;
    assert_eq!(r.fields(), ["colour"]);

    let dup = app.post(&admin, "/api/v1/collections", json!({ "name": "Otra", "slug": "ropa" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "COLLECTION_SLUG_EXISTS"));
    let other = collection(&app, &admin, json!({ "name": "Otra" })).await;
    let dup = app.patch(&admin, &format!("/api/v1/collections/{other}"), json!({ "slug": "ropa" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "COLLECTION_SLUG_EXISTS"));
}

#[actix_web::test]
async fn permissions_and_tenancy_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let id = collection(&app, &admin, json!({ "name": "Ropa" })).await;
    let product_id = product(&app, &admin, "Camisa").await;
    let path = format!("/api/v1/collections/{id}");
    let products = format!("{path}/products");
    let one = format!("{products}/{product_id}");
    let ids = json!({ "product_ids": [product_id] });
    app.post(&admin, &products, ids.clone()).await;

    let reader = admin.colleague(&["catalog.collections.read"]);
    assert_eq!(app.get(&reader, &path).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, &products).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, "/api/v1/collections/tree").await.status, StatusCode::OK);
    let forbidden = vec![
        app.post(&reader, "/api/v1/collections", json!({ "name": "X" })).await,
        app.patch(&reader, &path, json!({ "name": "X" })).await,
        app.delete(&reader, &path).await,
        app.post(&reader, &products, ids.clone()).await,
        app.send(&reader, Method::DELETE, &products, Some(ids.clone())).await,
        app.delete(&reader, &one).await,
        app.get(&admin.colleague(&["catalog.tags.read"]), "/api/v1/collections/tree").await,
        app.get(&admin.colleague(&["catalog.tags.read"]), "/api/v1/collections").await,
    ];
    for r in forbidden {
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{:?}", r.body);
    }

    let stranger = User::admin();
    let theirs = product(&app, &stranger, "Suya").await;
    let their_ids = json!({ "product_ids": [theirs] });
    let replies = vec![
        app.get(&stranger, &path).await,
        app.patch(&stranger, &path, json!({ "name": "Mía" })).await,
        app.send(&stranger, Method::PUT, &path, Some(json!({ "name": "Mía" }))).await,
        app.delete(&stranger, &format!("{path}?force=true")).await,
        app.get(&stranger, &products).await,
        app.post(&stranger, &products, their_ids.clone()).await,
        app.send(&stranger, Method::DELETE, &products, Some(their_ids)).await,
        app.delete(&stranger, &format!("{products}/{theirs}")).await,
    ];
    for r in replies {
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "COLLECTION_NOT_FOUND"), "{:?}", r.body);
    }
    let missing = app.get(&stranger, &format!("/api/v1/collections/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(missing.code(), "COLLECTION_NOT_FOUND");
    assert!(app.get(&stranger, "/api/v1/collections").await.data()["edges"].as_array().unwrap().is_empty());
    let after = app.get(&admin, &products).await;
    assert_eq!(titles(&after), ["Camisa"], "nothing changed");
    assert_eq!(app.get(&admin, &path).await.data()["name"], "Ropa");
}

#[actix_web::test]
async fn the_routes_are_documented() {
    let app = TestApp::start().await;
    let doc = app.call(actix_web::test::TestRequest::get().uri("/openapi.json").to_request()).await;
    let paths = &doc.body["paths"];
    for (path, method) in [
        ("/api/v1/collections/tree", "get"),
        ("/api/v1/collections/{id}", "patch"),
        ("/api/v1/collections/{id}/products", "delete"),
        ("/api/v1/collections/{id}/products/{product_id}", "delete"),
        ("/api/v1/options/{id}/values/{value_id}", "patch"),
        ("/api/v1/tags/{id}/products", "get"),
        ("/api/v1/price-tiers/{id}/rules/{rule_id}", "delete"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    assert_eq!(paths["/api/v1/collections/{id}"]["get"]["parameters"][0]["name"], "id");
    assert!(doc.body["components"]["schemas"]["CollectionTreeNode"].is_object());
}

#[actix_web::test]
async fn a_collection_with_products_is_refused_unless_forced_or_reassigned() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let old = collection(&app, &admin, json!({ "name": "Vieja" })).await;
    let child = collection(&app, &admin, json!({ "name": "Hija", "parent_id": old })).await;
    let heir = collection(&app, &admin, json!({ "name": "Heredera" })).await;
    let leaf = collection(&app, &admin, json!({ "name": "Hoja" })).await;
    let (p1, p2) = (product(&app, &admin, "Uno").await, product(&app, &admin, "Dos").await);
    for (id, ids) in [(&old, json!([p1, p2])), (&heir, json!([p1])), (&leaf, json!([p2]))] {
        let r = app.post(&admin, &format!("/api/v1/collections/{id}/products"), json!({ "product_ids": ids })).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }

    let refused = app.delete(&admin, &format!("/api/v1/collections/{leaf}")).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "COLLECTION_HAS_PRODUCTS"));
    let details = &refused.body["error"]["details"];
    assert_eq!((&details["collection_id"], &details["products_count"]), (&json!(leaf), &json!(1)));
    assert!(details["suggestion"].as_str().is_some_and(|s| s.contains("reassign_to")), "{details}");
    let refused = app.delete(&admin, &format!("/api/v1/collections/{old}")).await;
    assert_eq!(refused.code(), "COLLECTION_HAS_CHILDREN", "children are named first");

    // Bad heirs: itself, one of its own descendants, no collection at all.
    let path = format!("/api/v1/collections/{old}");
    let itself = app.delete(&admin, &format!("{path}?reassign_to={old}")).await;
    assert_eq!((itself.status, itself.fields()), (StatusCode::BAD_REQUEST, vec!["reassign_to".to_string()]));
    let below = app.delete(&admin, &format!("{path}?reassign_to={child}")).await;
    assert_eq!((below.status, below.code()), (StatusCode::BAD_REQUEST, "CIRCULAR_COLLECTION_REFERENCE"));
    let malformed = app.delete(&admin, &format!("{path}?reassign_to=nope")).await;
    assert_eq!((malformed.status, malformed.fields()), (StatusCode::BAD_REQUEST, vec!["reassign_to".to_string()]));
    // A well-formed id of no collection is that collection's 404, as any missing reference.
    let unknown = app.delete(&admin, &format!("{path}?reassign_to={}", uuid::Uuid::now_v7())).await;
    assert_eq!(
        (unknown.status, unknown.code(), unknown.fields()),
        (StatusCode::NOT_FOUND, "COLLECTION_NOT_FOUND", vec!["reassign_to".to_string()])
    );
    assert_eq!(app.get(&admin, &path).await.status, StatusCode::OK, "nothing was deleted");

    // The heir takes the products and the sub-collections.
    assert_eq!(app.delete(&admin, &format!("{path}?reassign_to={heir}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&admin, &path).await.status, StatusCode::NOT_FOUND);
    let heir_read = app.get(&admin, &format!("/api/v1/collections/{heir}")).await;
    assert_eq!(
        (&heir_read.data()["products_count"], &heir_read.data()["children_count"]),
        (&json!(2), &json!(1)),
        "{:?}",
        heir_read.body
    );
    assert_eq!(titles(&app.get(&admin, &format!("/api/v1/collections/{heir}/products")).await), ["Uno", "Dos"]);
    let child_read = app.get(&admin, &format!("/api/v1/collections/{child}")).await;
    assert_eq!(child_read.data()["parent_id"].as_str(), Some(heir.as_str()));

    // force unlinks the products instead.
    assert_eq!(
        app.delete(&admin, &format!("/api/v1/collections/{leaf}?force=true")).await.status,
        StatusCode::NO_CONTENT
    );
    let p2_read = app.get(&admin, &format!("/api/v1/products/{p2}")).await;
    let names: Vec<&str> =
        p2_read.data()["collections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Heredera"]);
}

#[actix_web::test]
async fn reads_embed_counts_children_and_products_and_lists_filter() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let ropa = collection(&app, &admin, json!({ "name": "Ropa", "description": "Prendas", "sort_order": 2 })).await;
    let hombre = collection(&app, &admin, json!({ "name": "Hombre", "parent_id": ropa })).await;
    let camisas = collection(&app, &admin, json!({ "name": "Camisas", "parent_id": hombre })).await;
    let lino = collection(&app, &admin, json!({ "name": "Lino", "parent_id": camisas })).await;
    collection(&app, &admin, json!({ "name": "Archivo", "is_active": false, "sort_order": 5 })).await;
    let remera = product(&app, &admin, "Remera").await;
    app.post(&admin, &format!("/api/v1/collections/{ropa}/products"), json!({ "product_ids": [remera] })).await;

    // Sibling names are unique (another parent may reuse one).
    let twin = app
        .post(&admin, "/api/v1/collections", json!({ "name": "hombre", "slug": "otro-hombre", "parent_id": ropa }))
        .await;
    assert_eq!((twin.status, twin.code()), (StatusCode::CONFLICT, "COLLECTION_NAME_EXISTS"), "{:?}", twin.body);
    collection(&app, &admin, json!({ "name": "Hombre", "slug": "hombre-2", "parent_id": camisas })).await;

    let plain = app.get(&admin, &format!("/api/v1/collections/{ropa}")).await;
    let data = plain.data();
    assert_eq!(
        (&data["collection_id"], &data["is_active"], &data["sort_order"], &data["position"]),
        (&json!(ropa), &json!(true), &json!(2), &json!(2))
    );
    assert_eq!(
        (&data["products_count"], &data["children_count"], &data["metadata"]),
        (&json!(1), &json!(1), &json!({}))
    );
    assert!(data.get("children").is_none() && data.get("products").is_none(), "{data}");
    let full =
        app.get(&admin, &format!("/api/v1/collections/{ropa}?include_children=true&include_products=true")).await;
    assert_eq!(full.data()["children"][0]["collection_id"], json!(hombre));
    assert_eq!(node_titles(&full.data()["products"]), ["Remera"]);
    let bad = app.get(&admin, &format!("/api/v1/collections/{ropa}?include_children=maybe")).await;
    assert_eq!((bad.status, bad.fields()), (StatusCode::BAD_REQUEST, vec!["include_children".to_string()]));

    // The tree: three levels by default, counts unless asked not to.
    let tree = app.get(&admin, "/api/v1/collections/tree").await;
    assert_eq!(
        shape(tree.data()),
        json!([["Ropa", [["Hombre", [["Camisas", []]]]]], ["Archivo", []]]),
        "Lino and the second Hombre are a fourth level"
    );
    let root = &tree.data()[0];
    assert_eq!(
        (&root["products_count"], &root["children_count"], &root["collection_id"]),
        (&json!(1), &json!(1), &json!(ropa))
    );
    let deep = app.get(&admin, "/api/v1/collections/tree?max_depth=4&include_counts=false").await;
    let fourth = &deep.data()[0]["children"][0]["children"][0]["children"];
    assert_eq!(shape(fourth), json!([["Hombre", []], ["Lino", []]]), "by position, then name");
    assert_eq!(fourth[1]["id"], json!(lino));
    assert!(deep.data()[0].get("products_count").is_none(), "{:?}", deep.body);
    assert_eq!(
        shape(app.get(&admin, "/api/v1/collections/tree?max_depth=1").await.data()),
        json!([["Ropa", []], ["Archivo", []]])
    );
    let bad = app.get(&admin, "/api/v1/collections/tree?max_depth=0").await;
    assert_eq!((bad.status, bad.fields()), (StatusCode::BAD_REQUEST, vec!["max_depth".to_string()]));

    // Lists: search (name or description), is_active, and the total over all pages.
    let all = app.get(&admin, "/api/v1/collections?first=2").await;
    assert_eq!((names(&all).len(), &all.data()["pageInfo"]["totalCount"]), (2, &json!(6)));
    assert_eq!(names(&app.get(&admin, "/api/v1/collections?search=HOMBRE").await), ["Hombre", "Hombre"]);
    assert_eq!(names(&app.get(&admin, "/api/v1/collections?search=prendas").await), ["Ropa"]);
    let inactive = app.get(&admin, "/api/v1/collections?is_active=false").await;
    assert_eq!(
        (names(&inactive), &inactive.data()["pageInfo"]["totalCount"]),
        (vec!["Archivo".to_string()], &json!(1))
    );
    let roots = app.get(&admin, "/api/v1/collections?parent_id=root&is_active=true").await;
    assert_eq!(names(&roots), ["Ropa"]);
    let bad = app.get(&admin, "/api/v1/collections?is_active=maybe").await;
    assert_eq!((bad.status, bad.fields()), (StatusCode::BAD_REQUEST, vec!["is_active".to_string()]));
}
