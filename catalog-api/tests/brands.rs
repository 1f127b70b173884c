//! `/api/v1/brands` end to end — and the behaviour every resource shares: envelopes, auth,
//! tenancy, validation of all fields, ETag/If-Match, pagination both ways, 409/404 codes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{TestApp, User};
use serde_json::json;

#[actix_web::test]
async fn create_read_update_delete_with_envelopes_and_events() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let created =
        app.post(&admin, "/api/v1/brands", json!({ "name": "Café Ñandú", "description": "Tostadores" })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "success");
    assert_eq!(created.body["statusCode"], 201);
    assert_eq!(created.body["path"], "/api/v1/brands");
    assert!(created.body["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(created.data()["slug"], "cafe-nandu");
    assert_eq!(
        (&created.data()["brand_id"], &created.data()["is_active"], &created.data()["products_count"]),
        (&created.data()["id"], &json!(true), &json!(0))
    );
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let path = format!("/api/v1/brands/{}", created.id());

    let read = app.get(&admin, &path).await;
    assert_eq!((read.status, read.data()["name"].as_str()), (StatusCode::OK, Some("Café Ñandú")));

    let updated = app.patch_if(&admin, &path, "\"1\"", json!({ "description": null, "status": "inactiva" })).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(
        (updated.data()["description"].clone(), updated.data()["status"].clone(), updated.data()["is_active"].clone()),
        (json!(null), json!("inactive"), json!(false))
    );
    assert_eq!(updated.etag.as_deref(), Some("\"2\""));

    let stale = app.patch_if(&admin, &path, "\"1\"", json!({ "name": "Otro" })).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));

    let deleted = app.delete(&admin, &path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &path).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "BRAND_NOT_FOUND"));
    assert_eq!(gone.body["status"], "error");

    assert_eq!(
        app.events(admin.org).await,
        ["catalog.brand.created", "catalog.brand.updated", "catalog.brand.deleted"]
    );
}

#[actix_web::test]
async fn validation_lists_every_failing_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let r = app
        .post(
            &admin,
            "/api/v1/brands",
            json!({ "name": " ", "slug": "No Vale", "logo_url": "ftp://x", "status": "maybe" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_BRAND_DATA"));
    assert_eq!(r.fields(), ["name", "slug", "logo_url", "status"]);

    let r = app.post(&admin, "/api/v1/brands", json!({ "name": "X", "colour": "red" })).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_BRAND_DATA"));
    assert_eq!(r.fields(), ["colour"], "unknown fields are named");

    let r = app
        .call(
            TestRequest::post()
                .uri("/api/v1/brands")
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{not json")
                .to_request(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app.post(&admin, "/api/v1/brands", json!({ "name": huge })).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
}

#[actix_web::test]
async fn duplicates_conflict_and_delete_in_use_needs_force() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let first = app.post(&admin, "/api/v1/brands", json!({ "name": "Acme" })).await;
    let dup = app.post(&admin, "/api/v1/brands", json!({ "name": "Acme" })).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "BRAND_SLUG_EXISTS"));
    let other_org = User::admin();
    assert_eq!(app.post(&other_org, "/api/v1/brands", json!({ "name": "Acme" })).await.status, StatusCode::CREATED);

    let brand_id: catalog_core::ids::BrandId = first.id().parse().unwrap();
    let conn = &mut *app.db.conn().await;
    let mut product = catalog_core::models::NewProduct::new("Yunque", "Y-1");
    product.brand_id = Some(brand_id);
    catalog_core::repo::products::create(
        conn,
        admin.org,
        &catalog_core::models::Actor::system(),
        product,
        Some(catalog_core::models::NewVariant::new("", rust_decimal::Decimal::ONE)),
    )
    .await
    .expect("product");
    let path = format!("/api/v1/brands/{brand_id}");
    assert_eq!(app.get(&admin, &path).await.data()["products_count"], 1);
    let refused = app.delete(&admin, &path).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "BRAND_HAS_PRODUCTS"));
    let details = &refused.body["error"]["details"];
    assert_eq!((&details["brand_id"], &details["products_count"]), (&json!(brand_id), &json!(1)));
    assert_eq!(app.delete(&admin, &format!("{path}?force=true")).await.status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn auth_permissions_and_tenancy() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let brand = app.post(&admin, "/api/v1/brands", json!({ "name": "Acme" })).await;
    let path = format!("/api/v1/brands/{}", brand.id());

    let anonymous = app.call(TestRequest::get().uri(&path).to_request()).await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let garbage =
        app.call(TestRequest::get().uri(&path).insert_header(("Authorization", "Bearer not.a.jwt")).to_request()).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);

    let reader = admin.colleague(&["catalog.brands.read"]);
    assert_eq!(app.get(&reader, &path).await.status, StatusCode::OK);
    let denied = app.patch(&reader, &path, json!({ "name": "Nope" })).await;
    assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let module_level = admin.colleague(&["catalog:edit"]);
    assert_eq!(app.patch(&module_level, &path, json!({ "name": "Acme 2" })).await.status, StatusCode::OK);

    let stranger = User::admin();
    let foreign = app.get(&stranger, &path).await;
    let missing = app.get(&stranger, &format!("/api/v1/brands/{}", uuid::Uuid::now_v7())).await;
    assert_eq!((foreign.status, foreign.code()), (missing.status, missing.code()), "foreign ids look missing");
    assert_eq!(app.patch(&stranger, &path, json!({ "name": "Mine" })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&stranger, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&admin, &path).await.data()["name"], "Acme 2", "nothing changed");
    assert_eq!(app.get(&admin, "/api/v1/brands/not-a-uuid").await.code(), "BRAND_NOT_FOUND");

    let mismatched = app
        .call(
            TestRequest::get()
                .uri(&path)
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("X-Organization-ID", stranger.org.to_string()))
                .to_request(),
        )
        .await;
    assert_eq!(mismatched.status, StatusCode::FORBIDDEN);
    let matching = app
        .call(
            TestRequest::get()
                .uri(&path)
                .insert_header(("Authorization", format!("Bearer {}", admin.token)))
                .insert_header(("X-Tenant-ID", admin.org.to_string()))
                .to_request(),
        )
        .await;
    assert_eq!(matching.status, StatusCode::OK);
}

#[actix_web::test]
async fn pages_walk_forward_and_backward() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for i in 0..5 {
        app.post(&admin, "/api/v1/brands", json!({ "name": format!("Marca {i}") })).await;
    }
    let first = app.get(&admin, "/api/v1/brands?first=2").await;
    let names = |r: &common::Reply| {
        r.data()["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["Marca 0", "Marca 1"]);
    assert_eq!(first.data()["pageInfo"]["hasNextPage"], true);
    let end = first.data()["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let second = app.get(&admin, &format!("/api/v1/brands?first=2&after={end}")).await;
    assert_eq!(names(&second), ["Marca 2", "Marca 3"]);
    let start = second.data()["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let back = app.get(&admin, &format!("/api/v1/brands?last=2&before={start}")).await;
    assert_eq!(names(&back), ["Marca 0", "Marca 1"]);
    assert_eq!(app.get(&admin, "/api/v1/brands?first=101").await.status, StatusCode::BAD_REQUEST);
    let truncated = app.get(&admin, &format!("/api/v1/brands?after={}", &end[..end.len() - 2])).await;
    assert_eq!((truncated.status, truncated.fields()), (StatusCode::BAD_REQUEST, vec!["after".to_string()]));
    assert!(app.get(&User::admin(), "/api/v1/brands").await.data()["edges"].as_array().unwrap().is_empty());

    // search (name or description), is_active, and the total over all pages.
    assert_eq!(first.data()["pageInfo"]["totalCount"], 5);
    app.post(
        &admin,
        "/api/v1/brands",
        json!({ "name": "Acme", "description": "Marca de yunques", "is_active": false }),
    )
    .await;
    let found = app.get(&admin, "/api/v1/brands?search=yunque").await;
    assert_eq!((names(&found), &found.data()["pageInfo"]["totalCount"]), (vec!["Acme".to_string()], &json!(1)));
    let marcas = app.get(&admin, "/api/v1/brands?search=MARCA&first=2").await;
    assert_eq!((names(&marcas).len(), &marcas.data()["pageInfo"]["totalCount"]), (2, &json!(6)));
    assert_eq!(names(&app.get(&admin, "/api/v1/brands?is_active=false").await), ["Acme"]);
    let active = app.get(&admin, "/api/v1/brands?search=marca&is_active=true").await;
    assert_eq!(active.data()["pageInfo"]["totalCount"], 5);
    let bad = app.get(&admin, "/api/v1/brands?is_active=maybe").await;
    assert_eq!((bad.status, bad.fields()), (StatusCode::BAD_REQUEST, vec!["is_active".to_string()]));
}

/// Cursor-connection arguments combine as the Relay spec has it: `after`/`before` bound the rows,
/// `first` keeps the first of them, `last` the last of those; cursors are `01` and the id in hex,
/// in either case, and the checksummed ones handed out before still work.
#[actix_web::test]
async fn page_arguments_combine_like_relay_connections() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(app.post(&admin, "/api/v1/brands", json!({ "name": format!("Marca {i}") })).await.id());
    }
    let cursor = |i: usize| format!("01{}", ids[i].replace('-', ""));
    let page = |query: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let reply = app.get(admin, &format!("/api/v1/brands?{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {:?}", reply.body);
            let names: Vec<String> = reply.data()["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["name"].as_str().unwrap().trim_start_matches("Marca ").to_string())
                .collect();
            let info = &reply.data()["pageInfo"];
            (names.join(","), info["hasPreviousPage"].as_bool().unwrap(), info["hasNextPage"].as_bool().unwrap())
        }
    };
    let (after, before) = (cursor(1), cursor(6));
    let between = format!("after={after}&before={before}");

    // The first 5 of all, then their last 2.
    assert_eq!(page("first=5&last=2".into()).await, ("3,4".into(), true, true));
    // Strictly between the cursors: 2..=5 (walking back from `before`, the default size).
    assert_eq!(page(between.clone()).await, ("2,3,4,5".into(), true, true));
    assert_eq!(page(format!("{between}&first=3")).await, ("2,3,4".into(), true, true));
    assert_eq!(page(format!("{between}&last=3")).await, ("3,4,5".into(), true, true));
    assert_eq!(page(format!("{between}&first=3&last=2")).await, ("3,4".into(), true, true));
    assert_eq!(page(format!("{between}&first=10&last=10")).await, ("2,3,4,5".into(), true, true));
    assert_eq!(page(format!("first=2&last=5&after={after}")).await, ("2,3".into(), true, true));
    assert_eq!(page(format!("first=5&last=1&after={}", cursor(4))).await, ("7".into(), true, false));
    assert_eq!(page(format!("first=1&before={before}")).await, ("0".into(), false, true));
    assert_eq!(page(format!("last=2&after={}", cursor(5))).await, ("6,7".into(), true, false));
    // Crossed or adjacent cursors leave nothing between them.
    assert_eq!(page(format!("after={before}&before={after}")).await, ("".into(), true, true));
    assert_eq!(page(format!("first=1&after={}&before={}", cursor(2), cursor(3))).await, ("".into(), true, true));

    // Cursors: any case; the legacy checksummed form of a handed-out cursor; made-up ids are
    // positions like any other.
    assert_eq!(page(format!("first=2&after={}", after.to_uppercase())).await, ("2,3".into(), true, true));
    let handed_out = app.get(&admin, "/api/v1/brands?first=1").await;
    let issued = handed_out.data()["pageInfo"]["endCursor"].as_str().unwrap();
    assert_eq!(issued, cursor(0));
    let legacy = legacy_cursor(&ids[0]);
    assert_eq!(page(format!("first=1&after={legacy}")).await, ("1".into(), true, true));
    assert_eq!(page(format!("first=1&after=01{}", "0".repeat(32))).await, ("0".into(), true, true));
    assert_eq!(page(format!("last=1&before=01{}", "F".repeat(32))).await, ("7".into(), true, true));

    // Still refused, naming the argument: sizes out of range and undecodable cursors.
    for (query, field) in [
        ("first=0&last=2".to_string(), "first"),
        ("first=2&last=101".to_string(), "last"),
        (format!("after={after}&before=02{}", "0".repeat(32)), "before"),
        (format!("after={}&before={before}", &legacy[..40]), "after"),
    ] {
        let reply = app.get(&admin, &format!("/api/v1/brands?{query}")).await;
        assert_eq!((reply.status, reply.fields()), (StatusCode::BAD_REQUEST, vec![field.to_string()]), "{query}");
    }
}

/// A cursor as handed out before the checksum was dropped: version, id, 4 bytes of
/// SHA-256("catalog-cursor" ‖ version ‖ id).
fn legacy_cursor(id: &str) -> String {
    use sha2::{Digest, Sha256};
    let current = format!("01{}", id.replace('-', ""));
    let bytes: Vec<u8> =
        (0..current.len()).step_by(2).map(|i| u8::from_str_radix(&current[i..i + 2], 16).unwrap()).collect();
    let digest = Sha256::digest([b"catalog-cursor".as_slice(), &bytes].concat());
    format!("{current}{}", digest[..4].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[actix_web::test]
async fn health_metrics_openapi_and_docs_are_served() {
    let app = TestApp::start().await;
    let ready = app.call(TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    let live = app.call(TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(live.status, StatusCode::OK);
    let doc = app.call(TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["paths"]["/api/v1/brands/{id}"]["patch"].is_object());
    let events = app.call(TestRequest::get().uri("/asyncapi.json").to_request()).await;
    assert_eq!((events.status, events.body["asyncapi"].as_str()), (StatusCode::OK, Some("3.0.0")));
    let published = &events.body["channels"]["catalog_variant_created"];
    assert_eq!(published["address"], "catalog.variant.created");
    assert_eq!(published["bindings"]["amqp"]["exchange"]["name"], app.settings.rabbitmq.exchange.as_str());
    let page = app.call(TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(page.status, StatusCode::OK, "the browsable page is served by the API itself");
    let unknown = app.call(TestRequest::get().uri("/api/v1/nothing-here").to_request()).await;
    assert_eq!((unknown.status, unknown.body["status"].as_str()), (StatusCode::NOT_FOUND, Some("error")));
    let metrics = app.call(TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(metrics.status, StatusCode::OK);
}

/// The links the document offers from each create point at where the real answer holds the new
/// id (schemathesis's stateful phase follows them; a wrong pointer once left options unreached).
#[actix_web::test]
async fn create_links_point_at_the_new_id_in_the_real_answer() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let doc = app.call(TestRequest::get().uri("/openapi.json").to_request()).await.body;
    let creates = [
        ("/api/v1/brands", json!({ "name": "Enlazada" })),
        ("/api/v1/options", json!({ "name": "Enlace", "values": ["Uno"] })),
        ("/api/v1/tags", json!({ "name": "enlace" })),
        ("/api/v1/collections", json!({ "name": "Enlaces" })),
        ("/api/v1/price-tiers", json!({ "name": "Enlace" })),
        ("/api/v1/products", json!({ "name": "Enlace", "sku": "ENL-1", "base_price": "1.00" })),
    ];
    for (path, body) in creates {
        let created = app.post(&admin, path, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{path}: {:?}", created.body);
        let links = doc["paths"][path]["post"]["responses"]["201"]["links"].as_object().expect(path);
        assert!(!links.is_empty(), "{path} links to nothing");
        for (name, link) in links {
            for (parameter, source) in link["parameters"].as_object().into_iter().flatten() {
                let Some(pointer) = source.as_str().and_then(|s| s.strip_prefix("$response.body#")) else { continue };
                let id = created.body.pointer(pointer);
                assert_eq!(id, Some(&created.data()["id"]), "{path} → {name}.{parameter} reads {pointer}");
            }
        }
    }
}
