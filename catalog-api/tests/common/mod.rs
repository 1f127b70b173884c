//! The REST app driven in-process against real PostgreSQL and Redis. Tokens are minted for the
//! dev auth mode unless a test starts the Auth Service stand-in (`with_auth_stub`).

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use actix_http::Request;
use actix_service::ServiceExt;
use actix_service::boxed::{self, BoxService};
use actix_web::body::{BoxBody, to_bytes};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{test, web};
use catalog_api::AppParts;
use catalog_api::context::HttpMetrics;
use catalog_api::state::ApiState;
use catalog_core::auth::{Authenticator, Claims, mint_dev_token};
use catalog_core::cache::{self, Cache};
use catalog_core::config::Settings;
use catalog_core::db::replicas::Reads;
use catalog_core::health::HealthChecker;
use catalog_core::ids::{LocalId, OrganizationId, UserId};
use catalog_core::media::MediaStore;
use catalog_core::read::Catalog;
use catalog_core::shutdown::Shutdown;
use catalog_core::testing::TestDb;
use catalog_core::{ops, repo};
use serde_json::Value;
use std::sync::Arc;

pub const DEV_SECRET: &str = "api-tests-dev-secret-0123456789";

pub struct TestApp {
    pub db: TestDb,
    pub settings: Arc<Settings>,
    pub catalog: Catalog,
    service: BoxService<Request, ServiceResponse<BoxBody>, actix_web::Error>,
}

/// What a response said, envelope parsed.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub etag: Option<String>,
    pub headers: actix_web::http::header::HeaderMap,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
    /// The names of the fields a validation error lists.
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|e| e["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
    pub fn id(&self) -> String {
        self.data()["id"].as_str().expect("id").to_string()
    }
}

/// Test defaults (dev auth, no practical rate limit), overridden by `extra`.
pub fn settings(extra: &[(String, String)], db: &TestDb) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        // GETs read through the replica path: the same database on read-only connections, so a
        // GET that tried to write would fail.
        ("DATABASE_READ_URL".into(), format!("{}?options=-c%20default_transaction_read_only%3Don", db.url)),
        ("REDIS_KEY_PREFIX".into(), format!("test:{}:", uuid::Uuid::now_v7().simple())),
        ("AUTH_MODE".into(), "dev".into()),
        ("AUTH_DEV_SECRET".into(), DEV_SECRET.into()),
        ("API_RATE_LIMIT_PER_MINUTE".into(), "100000".into()),
        // Tests write far more than the production budgets (20 writes a minute) as one user.
        ("API_RATE_LIMIT_READ_PER_MINUTE".into(), "100000".into()),
        ("API_RATE_LIMIT_WRITE_PER_MINUTE".into(), "100000".into()),
        ("API_RATE_LIMIT_PRICE_PER_MINUTE".into(), "100000".into()),
        ("API_RATE_LIMIT_UPLOAD_PER_MINUTE".into(), "100000".into()),
        // Each app its own media directory (uploaded images' files).
        (
            "STORAGE_LOCAL_PATH".into(),
            std::env::temp_dir()
                .join(format!("catalog-test-media/{}", uuid::Uuid::now_v7().simple()))
                .display()
                .to_string(),
        ),
        ("STORAGE_PUBLIC_BASE_URL".into(), "http://media.test".into()),
    ];
    env.extend(extra.iter().cloned());
    Settings::from_env(env).expect("settings")
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(String, String)]) -> Self {
        Self::start_with_env(|_| extra.to_vec()).await
    }

    /// Settings that depend on the test's database (e.g. a replica's URL naming it).
    pub async fn start_with_env(extra: impl FnOnce(&TestDb) -> Vec<(String, String)>) -> Self {
        let db = TestDb::new().await;
        let settings = Arc::new(settings(&extra(&db), &db));
        let redis = cache::pool(&settings.redis).expect("redis");
        let registry = prometheus::Registry::new();
        let reads = Reads::start(&settings.database, &registry, Shutdown::default()).expect("read replicas");
        let catalog = Catalog::new(db.pool.clone(), Cache::new(redis.clone(), &settings).with_near_cache(&settings))
            .with_reads(reads);
        let auth = Authenticator::new(&settings, Some(redis.clone()), db.pool.clone()).expect("authenticator");
        let parts = AppParts {
            state: web::Data::new(ApiState::new(
                settings.clone(),
                db.pool.clone(),
                catalog.clone(),
                auth,
                MediaStore::from_settings(&settings.storage).expect("media store"),
            )),
            metrics: web::Data::new(HttpMetrics::register(&registry).expect("metrics")),
            ops: web::Data::new(ops::OpsState {
                health: Arc::new(HealthChecker::new(db.pool.clone()).with_redis(redis)),
                registry,
                service: "catalog-api",
            }),
        };
        let service = test::init_service(catalog_api::app(parts)).await;
        let service = boxed::service(service.map(|res: ServiceResponse<_>| res.map_into_boxed_body()));
        Self { db, settings, catalog, service }
    }

    /// The raw answer (CSV, JSON Lines, streamed bodies).
    #[allow(dead_code)]
    pub async fn call_bytes(&self, request: Request) -> (StatusCode, Vec<u8>) {
        let response = self.service.call(request).await.expect("service");
        let status = response.status();
        (status, to_bytes(response.into_body()).await.unwrap_or_default().to_vec())
    }

    pub async fn call(&self, request: Request) -> Reply {
        let response = self.service.call(request).await.expect("service");
        let status = response.status();
        let headers = response.headers().clone();
        let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, etag, headers }
    }

    /// `method path` with `Authorization: <authorization>` (when given), more headers and a
    /// JSON body.
    pub async fn send_raw(
        &self,
        authorization: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(value) = authorization {
            req = req.insert_header((header::AUTHORIZATION, value));
        }
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        if let Some(body) = body {
            req = req.set_json(body);
        }
        self.call(req.to_request()).await
    }

    /// `method path` with a JSON body as `user`.
    pub async fn send(&self, user: &User, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_raw(Some(&format!("Bearer {}", user.token)), method, path, body, &[]).await
    }

    /// Another `Authenticator` over the app's PostgreSQL and Redis key prefix: what the worker
    /// uses when it consumes `auth.user.deactivated`.
    pub fn authenticator(&self) -> Authenticator {
        let redis = cache::pool(&self.settings.redis).expect("redis");
        Authenticator::new(&self.settings, Some(redis), self.db.pool.clone()).expect("authenticator")
    }

    pub async fn get(&self, user: &User, path: &str) -> Reply {
        self.send(user, Method::GET, path, None).await
    }
    pub async fn post(&self, user: &User, path: &str, body: Value) -> Reply {
        self.send(user, Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, user: &User, path: &str, body: Value) -> Reply {
        self.send(user, Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, user: &User, path: &str) -> Reply {
        self.send(user, Method::DELETE, path, None).await
    }

    /// PATCH with `If-Match`.
    pub async fn patch_if(&self, user: &User, path: &str, etag: &str, body: Value) -> Reply {
        let req = test::TestRequest::patch()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", user.token)))
            .insert_header(("If-Match", etag))
            .set_json(body);
        self.call(req.to_request()).await
    }

    /// The organization's outbox event types, oldest first.
    pub async fn events(&self, org: OrganizationId) -> Vec<String> {
        let conn = &mut *self.db.conn().await;
        repo::outbox::list_for_organization(conn, org)
            .await
            .expect("outbox")
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }
}

/// A caller: a dev-mode token for an organization with the given permissions and locals.
#[derive(Debug, Clone)]
pub struct User {
    pub org: OrganizationId,
    pub user_id: UserId,
    pub token: String,
}

impl User {
    pub fn new(org: OrganizationId, permissions: &[&str], locals: &[LocalId]) -> Self {
        let user_id = UserId::generate();
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            user_id,
            email: "tester@example.com".into(),
            organization_id: org,
            roles: vec![],
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            locals: locals.to_vec(),
            exp: now + 900,
            iat: now,
        };
        Self { org, user_id, token: mint_dev_token(DEV_SECRET, &claims).expect("token") }
    }

    /// Full catalog rights in a fresh organization, and Inventory's stock read (the `/stock`
    /// answers).
    pub fn admin() -> Self {
        Self::new(OrganizationId::generate(), &["catalog:*", "inventory.stock.read"], &[])
    }

    /// The same organization, other rights.
    pub fn colleague(&self, permissions: &[&str]) -> Self {
        Self::new(self.org, permissions, &[])
    }
}
