//! CORS: closed unless origins are configured, and then only for those origins.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use common::{TestApp, User};

fn preflight(origin: &str) -> actix_http::Request {
    TestRequest::default()
        .method(Method::OPTIONS)
        .uri("/api/v1/products")
        .insert_header(("Origin", origin))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header(("Access-Control-Request-Headers", "authorization, content-type, idempotency-key"))
        .to_request()
}

/// An authenticated read sent from a page of `origin`.
fn cross_origin_get(origin: &str) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/v1/products")
        .insert_header(("Origin", origin))
        .insert_header(("Authorization", format!("Bearer {}", User::admin().token)))
        .to_request()
}

fn allowed_origin(reply: &common::Reply) -> Option<&str> {
    reply.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn cors_is_closed_by_default() {
    let app = TestApp::start().await;
    let reply = app.call(preflight("https://shop.example")).await;
    assert_eq!(allowed_origin(&reply), None);
    let reply = app.call(cross_origin_get("https://shop.example")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(allowed_origin(&reply), None, "no CORS header means browsers keep other sites out");
}

#[actix_web::test]
async fn configured_origins_and_only_those_are_allowed() {
    let origins = ("API_CORS_ORIGINS".to_string(), "https://shop.example, https://admin.example".to_string());
    let app = TestApp::start_with(&[origins]).await;

    let reply = app.call(preflight("https://admin.example")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(allowed_origin(&reply), Some("https://admin.example"));
    let headers = reply.headers.get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(headers.contains("idempotency-key") && headers.contains("authorization"), "{headers}");

    let reply = app.call(preflight("https://evil.example")).await;
    assert_eq!(allowed_origin(&reply), None);

    let reply = app.call(cross_origin_get("https://shop.example")).await;
    assert_eq!(allowed_origin(&reply), Some("https://shop.example"));
    let exposed = reply.headers.get("access-control-expose-headers").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(exposed.contains("etag"), "{exposed}");
}
