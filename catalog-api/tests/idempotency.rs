//! `Idempotency-Key` on POST: a retried request gets the first response and creates nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

async fn post_with_key(app: &TestApp, user: &User, path: &str, key: &str, body: Value) -> Reply {
    let authorization = format!("Bearer {}", user.token);
    app.send_raw(Some(&authorization), Method::POST, path, Some(body), &[("Idempotency-Key", key)]).await
}

fn replayed(reply: &Reply) -> bool {
    reply.headers.get("Idempotent-Replayed").is_some_and(|v| v == "true")
}

async fn brand_count(app: &TestApp, user: &User) -> usize {
    let list = app.get(user, "/api/v1/brands?first=100").await;
    list.data()["edges"].as_array().map(Vec::len).unwrap_or_default()
}

#[actix_web::test]
async fn a_retried_post_returns_the_first_response_and_creates_nothing() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let body = json!({ "name": "Andina" });

    let first = post_with_key(&app, &admin, "/api/v1/brands", "create-andina-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert!(!replayed(&first));
    let retry = post_with_key(&app, &admin, "/api/v1/brands", "create-andina-1", body.clone()).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert!(replayed(&retry));
    assert_eq!(retry.body, first.body, "the very same answer, request id included");
    assert_eq!(retry.etag, first.etag);
    assert_eq!(brand_count(&app, &admin).await, 1);
    let org = admin.org;
    assert_eq!(app.events(org).await, ["catalog.brand.created"], "one write, one event");

    // Without a key the same body is a new request (and here a duplicate name).
    let again = app.post(&admin, "/api/v1/brands", body.clone()).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // The key with another request is refused, naming the header.
    let other = post_with_key(&app, &admin, "/api/v1/brands", "create-andina-1", json!({ "name": "Otra" })).await;
    assert_eq!((other.status, other.code()), (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(brand_count(&app, &admin).await, 1);

    // Keys belong to an organization: another one's identical key is its own.
    let stranger = User::admin();
    let theirs = post_with_key(&app, &stranger, "/api/v1/brands", "create-andina-1", body.clone()).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert!(!replayed(&theirs));
    assert_ne!(theirs.id(), first.id());
}

#[actix_web::test]
async fn client_errors_are_replayed_and_bad_keys_are_named() {
    let app = TestApp::start().await;
    let admin = User::admin();

    let invalid = post_with_key(&app, &admin, "/api/v1/brands", "bad-brand", json!({ "name": "" })).await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let retry = post_with_key(&app, &admin, "/api/v1/brands", "bad-brand", json!({ "name": "" })).await;
    assert!(replayed(&retry));
    assert_eq!(retry.body, invalid.body);

    for key in ["", &"k".repeat(256)] {
        let reply = post_with_key(&app, &admin, "/api/v1/brands", key, json!({ "name": "Andina" })).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "key of {} characters", key.len());
        assert_eq!(reply.fields(), ["Idempotency-Key"]);
    }
    assert_eq!(brand_count(&app, &admin).await, 0);

    // An unauthenticated request with a key is still just unauthorized.
    let anonymous = app
        .send_raw(None, Method::POST, "/api/v1/brands", Some(json!({ "name": "A" })), &[("Idempotency-Key", "k")])
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_write_once() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let body = json!({ "name": "Simultánea" });
    let replies = futures_util::future::join_all(
        (0..8).map(|_| post_with_key(&app, &admin, "/api/v1/brands", "same-moment", body.clone())),
    )
    .await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let waiting = replies.iter().filter(|r| r.code() == "IDEMPOTENCY_KEY_IN_PROGRESS").count();
    assert_eq!(created + waiting, replies.len(), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(created >= 1);
    assert_eq!(brand_count(&app, &admin).await, 1, "one brand whatever the interleaving");
    let ids: std::collections::HashSet<String> =
        replies.iter().filter(|r| r.status == StatusCode::CREATED).map(Reply::id).collect();
    assert_eq!(ids.len(), 1, "every 201 is the same answer");
}

#[actix_web::test]
async fn a_bulk_call_larger_than_the_default_body_limit_takes_a_key_too() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let long = "lino ".repeat(400);
    let rows: Vec<Value> = (0..600)
        .map(|n| json!({ "title": format!("Camisa {n}"), "sku": format!("C{n}"), "sale_price": "10.00", "description": long }))
        .collect();
    let body = json!({ "products": rows });
    assert!(body.to_string().len() > 1024 * 1024, "over the 1 MiB default");
    let first = post_with_key(&app, &admin, "/api/v1/products/bulk", "bulk-1", body.clone()).await;
    assert_eq!((first.status, first.data()["created"].as_u64()), (StatusCode::OK, Some(600)), "{:?}", first.body);
    let retry = post_with_key(&app, &admin, "/api/v1/products/bulk", "bulk-1", body).await;
    assert!(replayed(&retry));
    assert_eq!(retry.data()["created"], 600, "the first answer, not a second run (which would say unchanged)");
}
