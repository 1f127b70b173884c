//! `/api/v1/options` and their values end to end.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::ids::{OptionId, ProductId};
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

fn values(r: &Reply) -> Vec<String> {
    let list = if r.data().is_array() { r.data() } else { &r.data()["values"] };
    list.as_array().unwrap().iter().map(|v| v["value"].as_str().unwrap().to_string()).collect()
}

fn names(r: &Reply) -> Vec<String> {
    r.data()["edges"].as_array().unwrap().iter().map(|e| e["node"]["name"].as_str().unwrap().to_string()).collect()
}

async fn product(app: &TestApp, user: &User, sku: &str) -> ProductId {
    let conn = &mut *app.db.conn().await;
    let (product, _) = repo::products::create(
        conn,
        user.org,
        &Actor::system(),
        NewProduct::new(format!("Producto {sku}"), sku),
        Some(NewVariant::new("", rust_decimal::Decimal::TEN)),
    )
    .await
    .expect("product");
    product.id
}

#[actix_web::test]
async fn options_and_their_values_through_their_whole_life() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created = app
        .post(&admin, "/api/v1/options", json!({ "name": "Color", "position": 0, "values": ["Rojo", "Azul"] }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    assert_eq!(values(&created), ["Rojo", "Azul"]);
    assert_eq!(created.data()["values"][1]["position"], 1);
    let path = format!("/api/v1/options/{}", created.id());

    let read = app.get(&admin, &path).await;
    assert_eq!((read.status, read.data()["name"].as_str()), (StatusCode::OK, Some("Color")));
    assert_eq!(values(&read), ["Rojo", "Azul"]);

    let renamed = app.patch_if(&admin, &path, "\"1\"", json!({ "name": "Colour", "position": 2 })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    assert_eq!((renamed.data()["name"].as_str(), renamed.etag.as_deref()), (Some("Colour"), Some("\"2\"")));
    assert_eq!(values(&renamed), ["Rojo", "Azul"], "the values come along");
    let stale = app.patch_if(&admin, &path, "\"1\"", json!({ "name": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let put = app.send(&admin, Method::PUT, &path, Some(json!({ "name": "Color" }))).await;
    assert_eq!((put.status, put.etag.as_deref()), (StatusCode::OK, Some("\"3\"")));

    // Values: appended at the end by default, ordered by position.
    let values_path = format!("{path}/values");
    let verde = app.post(&admin, &values_path, json!({ "value": "Verde" })).await;
    assert_eq!(verde.status, StatusCode::CREATED, "{:?}", verde.body);
    assert_eq!((verde.data()["position"].as_i64(), verde.etag.as_deref()), (Some(2), Some("\"4\"")));
    let rojo_id = created.data()["values"][0]["id"].as_str().unwrap().to_string();
    let moved = app.patch_if(&admin, &format!("{values_path}/{rojo_id}"), "\"4\"", json!({ "position": 10 })).await;
    assert_eq!((moved.status, moved.etag.as_deref()), (StatusCode::OK, Some("\"5\"")), "{:?}", moved.body);
    let listed = app.get(&admin, &values_path).await;
    assert_eq!(values(&listed), ["Azul", "Verde", "Rojo"]);
    assert_eq!(listed.etag.as_deref(), Some("\"5\""));
    let stale = app.patch_if(&admin, &format!("{values_path}/{rojo_id}"), "\"4\"", json!({ "value": "Carmín" })).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let renamed = app.patch(&admin, &format!("{values_path}/{rojo_id}"), json!({ "name": "Carmín" })).await;
    assert_eq!(renamed.data()["value"], "Carmín");

    let dup = app.post(&admin, &values_path, json!({ "value": "azul" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "OPTION_VALUE_EXISTS"));
    let moved_dup = app.patch(&admin, &format!("{values_path}/{rojo_id}"), json!({ "value": "VERDE" })).await;
    assert_eq!((moved_dup.status, moved_dup.code()), (StatusCode::CONFLICT, "OPTION_VALUE_EXISTS"));

    let removed = app.delete(&admin, &format!("{values_path}/{rojo_id}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(values(&app.get(&admin, &values_path).await), ["Azul", "Verde"]);
    let again = app.delete(&admin, &format!("{values_path}/{rojo_id}")).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "OPTION_VALUE_NOT_FOUND"));

    assert_eq!(app.delete(&admin, &path).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &path).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "OPTION_NOT_FOUND"));
    assert_eq!(app.get(&admin, &values_path).await.code(), "OPTION_NOT_FOUND");

    let mut expected = vec!["catalog.option.created"];
    // rename, PUT, value added, moved, renamed, removed
    expected.extend(["catalog.option.updated"; 6]);
    expected.push("catalog.option.deleted");
    assert_eq!(app.events(admin.org).await, expected);
}

#[actix_web::test]
async fn a_value_must_belong_to_the_option_in_the_path() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let color = app.post(&admin, "/api/v1/options", json!({ "name": "Color", "values": ["Rojo"] })).await;
    let talla = app.post(&admin, "/api/v1/options", json!({ "name": "Talla", "values": ["M"] })).await;
    let m = talla.data()["values"][0]["id"].as_str().unwrap();
    let wrong = format!("/api/v1/options/{}/values/{m}", color.id());
    let patched = app.patch(&admin, &wrong, json!({ "value": "L" })).await;
    assert_eq!((patched.status, patched.code()), (StatusCode::NOT_FOUND, "OPTION_VALUE_NOT_FOUND"));
    let deleted = app.delete(&admin, &wrong).await;
    assert_eq!((deleted.status, deleted.code()), (StatusCode::NOT_FOUND, "OPTION_VALUE_NOT_FOUND"));
    assert_eq!(values(&app.get(&admin, &format!("/api/v1/options/{}", talla.id())).await), ["M"], "untouched");
    let not_uuid = app.delete(&admin, &format!("/api/v1/options/{}/values/nope", color.id())).await;
    assert_eq!(not_uuid.code(), "OPTION_VALUE_NOT_FOUND");
}

#[actix_web::test]
async fn validation_lists_every_failing_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(&admin, "/api/v1/options", json!({ "name": " ", "position": -1, "values": ["Rojo", " ", "ROJO"] }))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_OPTION_DATA"));
    assert_eq!(r.fields(), ["name", "position", "values", "values"]);
    let long = "x".repeat(101);
    let r = app.post(&admin, "/api/v1/options", json!({ "name": long, "values": [long] })).await;
    assert_eq!(r.fields(), ["name", "values"]);
    let r = app.post(&admin, "/api/v1/options", json!({ "name": "Color", "valores": [] })).await;
    assert_eq!((r.code(), r.fields()), ("INVALID_OPTION_DATA", vec!["valores".to_string()]));

    let option = app.post(&admin, "/api/v1/options", json!({ "name": "Color" })).await;
    assert_eq!(option.status, StatusCode::CREATED);
    assert!(option.data()["values"].as_array().unwrap().is_empty());
    let path = format!("/api/v1/options/{}", option.id());
    let r = app.patch(&admin, &path, json!({ "name": "", "position": 2_000_000 })).await;
    assert_eq!((r.code(), r.fields()), ("INVALID_OPTION_DATA", vec!["name".to_string(), "position".to_string()]));
    let r = app.post(&admin, &format!("{path}/values"), json!({ "value": " ", "position": -3 })).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_OPTION_VALUE_DATA"));
    assert_eq!(r.fields(), ["value", "position"]);
    let value = app.post(&admin, &format!("{path}/values"), json!({ "value": "Rojo" })).await;
    let r = app.patch(&admin, &format!("{path}/values/{}", value.id()), json!({ "value": "", "position": -1 })).await;
    assert_eq!(r.fields(), ["value", "position"]);

    let dup = app.post(&admin, "/api/v1/options", json!({ "name": "COLOR" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "OPTION_NAME_EXISTS"));
    assert_eq!(
        app.post(&User::admin(), "/api/v1/options", json!({ "name": "Color" })).await.status,
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn an_option_products_declare_needs_force_to_delete() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let option = app.post(&admin, "/api/v1/options", json!({ "name": "Talla", "values": ["S", "M"] })).await;
    let option_id: OptionId = option.id().parse().unwrap();
    let product_id = product(&app, &admin, "T-1").await;
    repo::products::set_options(&mut *app.db.conn().await, admin.org, &Actor::system(), product_id, &[option_id])
        .await
        .expect("declare");
    let path = format!("/api/v1/options/{option_id}");
    let refused = app.delete(&admin, &path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "OPTION_IN_USE"));
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
    let declared = repo::products::option_ids(&mut *app.db.conn().await, admin.org, product_id).await.unwrap();
    assert!(declared.is_empty());
}

#[actix_web::test]
async fn pages_walk_forward_and_backward_with_values() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for i in 0..5 {
        app.post(&admin, "/api/v1/options", json!({ "name": format!("Opción {i}"), "values": [format!("v{i}")] }))
            .await;
    }
    let first = app.get(&admin, "/api/v1/options?first=2").await;
    assert_eq!(names(&first), ["Opción 0", "Opción 1"]);
    assert_eq!(first.data()["edges"][1]["node"]["values"][0]["value"], "v1");
    assert_eq!(first.data()["pageInfo"]["hasNextPage"], true);
    let end = first.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let second = app.get(&admin, &format!("/api/v1/options?first=2&after={end}")).await;
    assert_eq!(names(&second), ["Opción 2", "Opción 3"]);
    let start = second.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("/api/v1/options?last=2&before={start}")).await;
    assert_eq!(names(&back), ["Opción 0", "Opción 1"]);
    let last = app.get(&admin, "/api/v1/options?last=1").await;
    assert_eq!(
        (names(&last), last.data()["pageInfo"]["hasPreviousPage"].clone()),
        (vec!["Opción 4".into()], json!(true))
    );
    assert!(app.get(&User::admin(), "/api/v1/options").await.data()["edges"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn permissions_and_tenancy_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let option = app.post(&admin, "/api/v1/options", json!({ "name": "Color", "values": ["Rojo"] })).await;
    let path = format!("/api/v1/options/{}", option.id());
    let value_path = format!("{path}/values/{}", option.data()["values"][0]["id"].as_str().unwrap());

    let reader = admin.colleague(&["catalog.options.read"]);
    assert_eq!(app.get(&reader, &path).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, &format!("{path}/values")).await.status, StatusCode::OK);
    let forbidden: Vec<Reply> = vec![
        app.post(&reader, "/api/v1/options", json!({ "name": "Talla" })).await,
        app.patch(&reader, &path, json!({ "name": "X" })).await,
        app.delete(&reader, &path).await,
        app.post(&reader, &format!("{path}/values"), json!({ "value": "Azul" })).await,
        app.patch(&reader, &value_path, json!({ "value": "Azul" })).await,
        app.delete(&reader, &value_path).await,
        app.get(&admin.colleague(&["catalog.brands.read"]), "/api/v1/options").await,
    ];
    for r in forbidden {
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{:?}", r.body);
    }

    let stranger = User::admin();
    let not_found =
        |r: &Reply, code: &str| assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, code), "{:?}", r.body);
    not_found(&app.get(&stranger, &path).await, "OPTION_NOT_FOUND");
    not_found(&app.patch(&stranger, &path, json!({ "name": "Mine" })).await, "OPTION_NOT_FOUND");
    not_found(&app.send(&stranger, Method::PUT, &path, Some(json!({ "name": "Mine" }))).await, "OPTION_NOT_FOUND");
    not_found(&app.delete(&stranger, &format!("{path}?force=true")).await, "OPTION_NOT_FOUND");
    not_found(&app.get(&stranger, &format!("{path}/values")).await, "OPTION_NOT_FOUND");
    not_found(&app.post(&stranger, &format!("{path}/values"), json!({ "value": "Azul" })).await, "OPTION_NOT_FOUND");
    not_found(&app.patch(&stranger, &value_path, json!({ "value": "Azul" })).await, "OPTION_NOT_FOUND");
    not_found(&app.delete(&stranger, &value_path).await, "OPTION_NOT_FOUND");
    // The stranger's own option does not open the door to our value either.
    let theirs = app.post(&stranger, "/api/v1/options", json!({ "name": "Color" })).await;
    let crossed =
        format!("/api/v1/options/{}/values/{}", theirs.id(), option.data()["values"][0]["id"].as_str().unwrap());
    not_found(&app.patch(&stranger, &crossed, json!({ "value": "Azul" })).await, "OPTION_VALUE_NOT_FOUND");
    not_found(&app.delete(&stranger, &crossed).await, "OPTION_VALUE_NOT_FOUND");

    let after = app.get(&admin, &path).await;
    assert_eq!((after.data()["name"].clone(), values(&after)), (Value::from("Color"), vec!["Rojo".to_string()]));
    assert_eq!(app.events(admin.org).await, ["catalog.option.created"], "nothing was written");
}
