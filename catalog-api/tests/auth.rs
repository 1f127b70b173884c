//! The authentication and authorization contract over HTTP (SPEC §5): 401 for every way a
//! token can be wrong, 503 when the Auth Service is down, the verification cache and the
//! deny-list of deactivated users, 403 for permissions / tenant headers / locals, 429 per user.
//! Runs against the Auth Service stand-in (`AuthStub`) or in dev mode; every error answer is
//! the error envelope and never echoes the token.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode, header};
use catalog_core::auth::stub::{AuthStub, response_for};
use catalog_core::auth::{Authenticator, Claims, Principal, mint_dev_token};
use catalog_core::ids::{LocalId, OrganizationId, UserId};
use common::{DEV_SECRET, Reply, TestApp, User};
use serde_json::{Value, json};

/// The shared test app, called with raw tokens (most cases here are about malformed ones).
struct App(TestApp);

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl App {
    async fn start(extra: &[(String, String)]) -> Self {
        Self(TestApp::start_with(extra).await)
    }

    /// Against the stub, plus `extra`.
    async fn with_stub(stub: &AuthStub, extra: &[(&str, &str)]) -> Self {
        let mut env = stub.settings_env();
        env.extend(vars(extra));
        Self::start(&env).await
    }

    fn authenticator(&self) -> Authenticator {
        self.0.authenticator()
    }

    async fn send(
        &self,
        authorization: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.0.send_raw(authorization, method, path, body, headers).await
    }

    async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(Some(&format!("Bearer {token}")), Method::GET, path, None, &[]).await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(Some(&format!("Bearer {token}")), Method::POST, path, Some(body), &[]).await
    }

    async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(Some(&format!("Bearer {token}")), Method::PATCH, path, Some(body), &[]).await
    }

    async fn delete(&self, token: &str, path: &str) -> Reply {
        self.send(Some(&format!("Bearer {token}")), Method::DELETE, path, None, &[]).await
    }
}

/// The error envelope with `status` and `code`, and no trace of `secret` (the token) anywhere
/// in the answer.
#[track_caller]
fn assert_error(r: &Reply, status: StatusCode, code: &str, secret: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{:?}", r.body);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["statusCode"], status.as_u16());
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", r.body);
    assert!(r.body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{:?}", r.body);
    assert!(r.body["path"].as_str().is_some_and(|p| p.starts_with('/')), "{:?}", r.body);
    if !secret.is_empty() {
        assert!(!r.body.to_string().contains(secret), "the token is echoed: {:?}", r.body);
        for (name, value) in &r.headers {
            assert!(!value.to_str().unwrap_or_default().contains(secret), "the token is echoed in {name}");
        }
    }
}

fn principal(org: OrganizationId, permissions: &[&str]) -> Principal {
    Principal {
        user_id: UserId::generate(),
        organization_id: org,
        email: "ada@example.com".into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        locals: vec![],
        roles: vec![],
    }
}

/// A brand of `org`, created as an admin of it; returns its path.
async fn brand(app: &App, admin: &User) -> String {
    let r =
        app.post(&admin.token, "/api/v1/brands", json!({ "name": format!("Marca {}", uuid::Uuid::now_v7()) })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    format!("/api/v1/brands/{}", r.id())
}

const BRANDS: &str = "/api/v1/brands";

// ---------------------------------------------------------------------------------------------
// 401

#[actix_web::test]
async fn missing_malformed_unknown_and_inactive_credentials_are_401() {
    let stub = AuthStub::start().await;
    let app = App::with_stub(&stub, &[]).await;
    let org = OrganizationId::generate();

    let missing = app.send(None, Method::GET, BRANDS, None, &[]).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "");
    assert_eq!(missing.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");

    let secret = "s3cr3t-token-value-0123456789";
    stub.register_principal(secret, &principal(org, &["catalog:*"]));
    for malformed in [
        format!("Basic {secret}"),
        "Bearer".to_string(),
        "Bearer    ".to_string(),
        secret.to_string(),
        format!("Token {secret}"),
    ] {
        let r = app.send(Some(&malformed), Method::GET, BRANDS, None, &[]).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", secret);
    }
    assert_eq!(stub.calls(), 0, "malformed headers never reach the Auth Service");

    let unknown = "unknown-token-the-stub-refuses-42";
    let r = app.get(unknown, BRANDS).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", unknown);
    let r = app.post(unknown, BRANDS, json!({ "name": "Nope" })).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", unknown);

    let inactive_token = "inactive-user-token-77";
    let mut inactive = response_for(&principal(org, &["catalog:*"]));
    inactive.active = false;
    stub.register(inactive_token, inactive);
    for _ in 0..2 {
        let r = app.get(inactive_token, BRANDS).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", inactive_token);
    }
    assert_eq!(stub.calls(), 4, "unknown x2, inactive x2 (refusals are never cached), nothing else");

    // The well-formed one passes, answering in the success envelope.
    let ok = app.get(secret, BRANDS).await;
    assert_eq!((ok.status, ok.body["status"].as_str()), (StatusCode::OK, Some("success")));
}

#[actix_web::test]
async fn expired_and_forged_tokens_are_401_in_dev_mode() {
    let app = App::start(&[]).await;
    let user = User::admin();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| Claims {
        user_id: user.user_id,
        email: "ada@example.com".into(),
        organization_id: user.org,
        roles: vec![],
        permissions: vec!["catalog:*".into()],
        locals: vec![],
        exp,
        iat: now - 1000,
    };
    let expired = mint_dev_token(DEV_SECRET, &claims(now - 120)).unwrap();
    assert_error(&app.get(&expired, BRANDS).await, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &expired);
    let forged = mint_dev_token("not-the-dev-secret-at-all-000000", &claims(now + 600)).unwrap();
    assert_error(&app.get(&forged, BRANDS).await, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &forged);
    let garbage = "not.a.jwt";
    assert_error(&app.get(garbage, BRANDS).await, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", garbage);

    let valid = mint_dev_token(DEV_SECRET, &claims(now + 600)).unwrap();
    assert_eq!(app.get(&valid, BRANDS).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// 503, the verification cache, deactivated users

#[actix_web::test]
async fn an_unreachable_auth_service_is_503_unless_the_verification_is_cached() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let app = App::start(&vars(&[
        ("AUTH_MODE", "grpc"),
        ("AUTH_GRPC_HOST", "127.0.0.1"),
        ("AUTH_GRPC_PORT", &closed_port),
        ("AUTH_GRPC_RETRIES", "0"),
        ("AUTH_GRPC_TIMEOUT", "1"),
    ]))
    .await;
    let token = "token-while-auth-is-down-123";
    for _ in 0..2 {
        let r = app.get(token, BRANDS).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", token);
    }
    let r = app.post(token, BRANDS, json!({ "name": "Acme" })).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", token);

    // Up, then failing: what was verified while it was up is still served; a new token is not.
    let stub = AuthStub::start().await;
    let app = App::with_stub(&stub, &[("AUTH_GRPC_RETRIES", "0")]).await;
    let org = OrganizationId::generate();
    stub.register_principal("verified-token", &principal(org, &["catalog:*"]));
    stub.register_principal("never-seen-token", &principal(org, &["catalog:*"]));
    assert_eq!(app.get("verified-token", BRANDS).await.status, StatusCode::OK);
    stub.fail_next(1000);
    assert_eq!(app.get("verified-token", BRANDS).await.status, StatusCode::OK, "served from the cache");
    let r = app.get("never-seen-token", BRANDS).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "never-seen-token");
}

#[actix_web::test]
async fn a_verified_token_is_served_from_the_cache() {
    let stub = AuthStub::start().await;
    let app = App::with_stub(&stub, &[]).await;
    let org = OrganizationId::generate();
    let (first, second) = ("cached-token-one", "cached-token-two");
    stub.register_principal(first, &principal(org, &["catalog:*"]));
    stub.register_principal(second, &principal(org, &["catalog.brands.read"]));

    let created = app.post(first, BRANDS, json!({ "name": "Acme" })).await;
    assert_eq!(created.status, StatusCode::CREATED);
    for _ in 0..4 {
        assert_eq!(app.get(first, BRANDS).await.status, StatusCode::OK);
    }
    assert_eq!(stub.calls(), 1, "verified once for five requests");
    // Each token is verified (and cached) on its own.
    assert_eq!(app.get(second, BRANDS).await.status, StatusCode::OK);
    assert_eq!(app.get(second, BRANDS).await.status, StatusCode::OK);
    assert_eq!(stub.calls(), 2);
}

#[actix_web::test]
async fn the_caller_s_trace_context_reaches_auth_s_verify_token_unchanged() {
    let stub = AuthStub::start().await;
    let app = App::with_stub(&stub, &[]).await;
    stub.register_principal("traced-token", &principal(OrganizationId::generate(), &["catalog:*"]));
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers = [("traceparent", traceparent), ("tracestate", "vendor=opaque")];
    let reply = app.send(Some("Bearer traced-token"), Method::GET, BRANDS, None, &headers).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Export is off in tests: the catalog is no participant and passes the context on as is.
    assert_eq!(stub.traceparents(), vec![Some(traceparent.to_string())]);
}

#[actix_web::test]
async fn a_deactivated_user_is_refused_even_with_a_cached_verification() {
    let stub = AuthStub::start().await;
    let app = App::with_stub(&stub, &[]).await;
    let org = OrganizationId::generate();
    let (leaving, staying) = (principal(org, &["catalog:*"]), principal(org, &["catalog:*"]));
    stub.register_principal("leaving-user-token", &leaving);
    stub.register_principal("staying-user-token", &staying);
    assert_eq!(app.get("leaving-user-token", BRANDS).await.status, StatusCode::OK);
    assert_eq!(app.get("staying-user-token", BRANDS).await.status, StatusCode::OK);
    assert_eq!(app.get("leaving-user-token", BRANDS).await.status, StatusCode::OK, "cached");
    assert_eq!(stub.calls(), 2);

    app.authenticator().deactivate_user(leaving.user_id, Some(org)).await.expect("deactivate");

    let r = app.get("leaving-user-token", BRANDS).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "leaving-user-token");
    let r = app.post("leaving-user-token", BRANDS, json!({ "name": "Last act" })).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "leaving-user-token");
    assert_eq!(stub.calls(), 2, "refused by the deny-list, without asking the Auth Service");
    // A fresh token of the same user (not cached) is refused too.
    stub.register_principal("leaving-user-new-token", &leaving);
    let r = app.get("leaving-user-new-token", BRANDS).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "leaving-user-new-token");
    assert_eq!(app.get("staying-user-token", BRANDS).await.status, StatusCode::OK, "others are unaffected");
}

// ---------------------------------------------------------------------------------------------
// 403

#[actix_web::test]
async fn permissions_fine_grained_and_module_level() {
    let app = App::start(&[]).await;
    let admin = User::admin();
    let path = brand(&app, &admin).await;
    let forbidden = |r: &Reply, user: &User| assert_error(r, StatusCode::FORBIDDEN, "FORBIDDEN", &user.token);

    let nobody = admin.colleague(&[]);
    forbidden(&app.get(&nobody.token, BRANDS).await, &nobody);
    forbidden(&app.get(&nobody.token, &path).await, &nobody);

    // Another resource's permissions do not grant brands; reading does not grant writing.
    let products_reader = admin.colleague(&["catalog.products.read"]);
    forbidden(&app.get(&products_reader.token, BRANDS).await, &products_reader);
    let r = app
        .post(&products_reader.token, "/api/v1/products", json!({ "title": "Nope", "sku": "N-1", "sale_price": "1" }))
        .await;
    forbidden(&r, &products_reader);
    assert_eq!(app.get(&products_reader.token, "/api/v1/products").await.status, StatusCode::OK);
    let brands_reader = admin.colleague(&["catalog.brands.read"]);
    forbidden(&app.post(&brands_reader.token, BRANDS, json!({ "name": "Nope" })).await, &brands_reader);
    let almost = admin.colleague(&["catalog.brands", "catalog.brands.*", "catalog.brands.create ", "catalog"]);
    forbidden(&app.post(&almost.token, BRANDS, json!({ "name": "Nope" })).await, &almost);

    // Module-level grants.
    let reader = admin.colleague(&["catalog:read"]);
    assert_eq!(app.get(&reader.token, &path).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader.token, "/api/v1/products").await.status, StatusCode::OK);
    forbidden(&app.post(&reader.token, BRANDS, json!({ "name": "Nope" })).await, &reader);
    forbidden(&app.patch(&reader.token, &path, json!({ "name": "Nope" })).await, &reader);
    forbidden(&app.delete(&reader.token, &path).await, &reader);

    let editor = admin.colleague(&["catalog:edit"]);
    assert_eq!(app.patch(&editor.token, &path, json!({ "description": "editada" })).await.status, StatusCode::OK);
    forbidden(&app.post(&editor.token, BRANDS, json!({ "name": "Nope" })).await, &editor);
    forbidden(&app.delete(&editor.token, &path).await, &editor);
    forbidden(&app.get(&editor.token, &path).await, &editor);

    let creator = admin.colleague(&["catalog:create"]);
    assert_eq!(app.post(&creator.token, BRANDS, json!({ "name": "Creada" })).await.status, StatusCode::CREATED);

    let all = admin.colleague(&["catalog:*"]);
    let created = app.post(&all.token, BRANDS, json!({ "name": "Todo" })).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let own = format!("{BRANDS}/{}", created.id());
    assert_eq!(app.get(&all.token, &own).await.status, StatusCode::OK);
    assert_eq!(app.patch(&all.token, &own, json!({ "name": "Todo 2" })).await.status, StatusCode::OK);
    assert_eq!(app.delete(&all.token, &own).await.status, StatusCode::NO_CONTENT);

    let deleter = admin.colleague(&["catalog:delete"]);
    assert_eq!(app.delete(&deleter.token, &path).await.status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn tenant_headers_must_match_the_tokens_organization() {
    let app = App::start(&[]).await;
    let admin = User::admin();
    let path = brand(&app, &admin).await;
    let bearer = format!("Bearer {}", admin.token);
    let mine = admin.org.to_string();
    let other = OrganizationId::generate().to_string();

    for header in ["X-Tenant-ID", "X-Organization-ID", "x-tenant-id"] {
        for value in [other.as_str(), "not-a-uuid", ""] {
            let r = app.send(Some(&bearer), Method::GET, &path, None, &[(header, value)]).await;
            assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN", &admin.token);
            let r = app
                .send(Some(&bearer), Method::POST, BRANDS, Some(json!({ "name": "Nope" })), &[(header, value)])
                .await;
            assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN", &admin.token);
        }
        let r = app.send(Some(&bearer), Method::GET, &path, None, &[(header, &mine)]).await;
        assert_eq!(r.status, StatusCode::OK, "{header} matching");
    }
    let both = app
        .send(Some(&bearer), Method::GET, &path, None, &[("X-Tenant-ID", &mine), ("X-Organization-ID", &mine)])
        .await;
    assert_eq!(both.status, StatusCode::OK);
    let one_wrong = app
        .send(Some(&bearer), Method::GET, &path, None, &[("X-Tenant-ID", &mine), ("X-Organization-ID", &other)])
        .await;
    assert_error(&one_wrong, StatusCode::FORBIDDEN, "FORBIDDEN", &admin.token);
    let r = app.get(&admin.token, BRANDS).await;
    assert_eq!(r.data()["edges"].as_array().unwrap().len(), 1, "nothing was created");

    // TENANT_HEADER_NAME renames the tenant header; X-Organization-ID is still honoured.
    let custom = App::start(&vars(&[("TENANT_HEADER_NAME", "X-Company-ID")])).await;
    let r = custom.send(Some(&bearer), Method::GET, BRANDS, None, &[("X-Company-ID", &other)]).await;
    assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN", &admin.token);
    let r = custom.send(Some(&bearer), Method::GET, BRANDS, None, &[("X-Company-ID", &mine)]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = custom.send(Some(&bearer), Method::GET, BRANDS, None, &[("X-Organization-ID", &other)]).await;
    assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN", &admin.token);
}

#[actix_web::test]
async fn a_local_outside_the_users_locals_is_local_access_denied() {
    let app = App::start(&[]).await;
    let org = OrganizationId::generate();
    let (my_local, other_local) = (LocalId::generate(), LocalId::generate());
    let clerk = User::new(org, &["catalog:*"], &[my_local]);
    let body =
        |sku: &str, local: LocalId| json!({ "title": "Mate", "sku": sku, "sale_price": "10", "local_id": local });

    let r = app.post(&clerk.token, "/api/v1/products", body("L-1", other_local)).await;
    assert_error(&r, StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED", &clerk.token);
    let r = app.get(&clerk.token, &format!("/api/v1/products?local_id={other_local}")).await;
    assert_error(&r, StatusCode::FORBIDDEN, "LOCAL_ACCESS_DENIED", &clerk.token);
    let r = app.post(&clerk.token, "/api/v1/products", body("L-2", my_local)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.get(&clerk.token, &format!("/api/v1/products?local_id={my_local}")).await.status, StatusCode::OK);

    let manager = User::new(org, &["catalog:*", "local:access_all"], &[]);
    let r = app.post(&manager.token, "/api/v1/products", body("L-3", other_local)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

// ---------------------------------------------------------------------------------------------
// 429

#[actix_web::test]
async fn the_rate_limit_is_per_user_with_retry_after() {
    let app = App::start(&vars(&[("API_RATE_LIMIT_PER_MINUTE", "2")])).await;
    let busy = User::admin();
    let other = busy.colleague(&["catalog:read"]);
    for _ in 0..2 {
        assert_eq!(app.get(&busy.token, BRANDS).await.status, StatusCode::OK);
    }
    let limited = app.get(&busy.token, BRANDS).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &busy.token);
    let retry_after: u64 =
        limited.headers.get(header::RETRY_AFTER).expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(limited.body["error"]["details"]["retry_after_secs"], retry_after);
    let r = app.post(&busy.token, BRANDS, json!({ "name": "Nope" })).await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &busy.token);

    // Same organization, another user: its own budget.
    assert_eq!(app.get(&other.token, BRANDS).await.status, StatusCode::OK);
    assert_eq!(app.get(&other.token, BRANDS).await.status, StatusCode::OK);
    assert_error(&app.get(&other.token, BRANDS).await, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &other.token);
    // Unauthenticated requests are refused before the limiter, never counted against a user.
    let anonymous = app.send(None, Method::GET, BRANDS, None, &[]).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "");
}

fn retry_after(r: &Reply) -> u64 {
    r.headers.get(header::RETRY_AFTER).expect("Retry-After").to_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn a_spent_write_budget_refuses_writes_while_reads_still_pass() {
    let app =
        App::start(&vars(&[("API_RATE_LIMIT_WRITE_PER_MINUTE", "2"), ("API_RATE_LIMIT_READ_PER_MINUTE", "50")])).await;
    let user = User::admin();
    for name in ["A", "B"] {
        let r = app.post(&user.token, BRANDS, json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let limited = app.post(&user.token, BRANDS, json!({ "name": "C" })).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &user.token);
    assert!((1..=60).contains(&retry_after(&limited)), "{:?}", limited.headers);
    assert_eq!(app.get(&user.token, BRANDS).await.status, StatusCode::OK, "reads have their own budget");
    let r = app.delete(&user.token, &format!("{BRANDS}/{}", uuid::Uuid::now_v7())).await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &user.token);
}

#[actix_web::test]
async fn price_calculation_has_its_own_budget() {
    let app =
        App::start(&vars(&[("API_RATE_LIMIT_READ_PER_MINUTE", "1"), ("API_RATE_LIMIT_PRICE_PER_MINUTE", "3")])).await;
    let user = User::admin();
    assert_eq!(app.get(&user.token, BRANDS).await.status, StatusCode::OK);
    assert_error(&app.get(&user.token, BRANDS).await, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &user.token);
    // An unknown variant is 404: the request went past the limiter.
    let variant = uuid::Uuid::now_v7();
    for path in ["price", "calculate-price", "price"] {
        let r = app.get(&user.token, &format!("/api/v1/variants/{variant}/{path}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
    }
    let r = app.get(&user.token, &format!("/api/v1/variants/{variant}/calculate-price")).await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", &user.token);
    assert!(retry_after(&r) >= 1);
}

#[actix_web::test]
async fn disabled_rate_limits_never_answer_429() {
    let app = App::start(&vars(&[
        ("RATE_LIMIT_ENABLED", "false"),
        ("API_RATE_LIMIT_PER_MINUTE", "1"),
        ("API_RATE_LIMIT_READ_PER_MINUTE", "1"),
        ("API_RATE_LIMIT_WRITE_PER_MINUTE", "1"),
    ]))
    .await;
    let user = User::admin();
    for i in 0..5 {
        assert_eq!(app.get(&user.token, BRANDS).await.status, StatusCode::OK);
        let r = app.post(&user.token, BRANDS, json!({ "name": format!("Brand {i}") })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

/// Log lines written while a test runs, whatever their level.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn tokens_never_reach_the_logs() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::start().await;
    let admin = User::admin();
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmb3JnZWQifQ.c2lnbmF0dXJlLXRoYXQtZmFpbHM";
    assert_eq!(app.get(&admin, "/api/v1/products").await.status, StatusCode::OK);
    let bearer = format!("Bearer {forged}");
    let refused = app.send_raw(Some(&bearer), Method::GET, "/api/v1/products", None, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("/api/v1/products"), "the access log was captured: {text}");
    for token in [admin.token.as_str(), forged] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a token's signature reached the logs");
    }
}
