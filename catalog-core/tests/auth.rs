//! Authentication against a real Redis, PostgreSQL and a gRPC stand-in for the Auth Service:
//! permissions, the verification cache, retries and the circuit breaker, deactivated users,
//! and the local (jwt / dev) verification modes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use catalog_core::auth::stub::{AuthStub, response_for};
use catalog_core::auth::{Action, Authenticator, Claims, Principal, Resource, mint_dev_token};
use catalog_core::cache::{self, RedisPool};
use catalog_core::config::Settings;
use catalog_core::error::Error;
use catalog_core::ids::{LocalId, OrganizationId, UserId};
use catalog_core::testing::TestDb;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const DEV_SECRET: &str = "dev-secret-for-tests-only";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// Settings with a key prefix of their own, so tests share one Redis without seeing each other.
fn settings(vars: &[(String, String)]) -> Settings {
    // The last occurrence of a variable wins, as in a shell: the test's own come last.
    let mut env = vec![
        ("REDIS_URL".to_string(), redis_url()),
        ("REDIS_KEY_PREFIX".to_string(), format!("test:{}:", uuid::Uuid::now_v7().simple())),
    ];
    env.extend(vars.iter().cloned());
    Settings::from_env(env).expect("settings")
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn authenticator(settings: &Settings, db: &TestDb) -> Authenticator {
    let redis = cache::pool(&settings.redis).expect("redis pool");
    Authenticator::new(settings, Some(redis), db.pool.clone()).expect("authenticator")
}

fn redis(settings: &Settings) -> RedisPool {
    cache::pool(&settings.redis).expect("redis pool")
}

async fn ttl(pool: &RedisPool, key: &str) -> i64 {
    let mut conn = pool.get().await.expect("redis connection");
    redis::cmd("TTL").arg(key).query_async(&mut *conn).await.expect("TTL")
}

fn principal(permissions: &[&str]) -> Principal {
    Principal {
        user_id: UserId::generate(),
        organization_id: OrganizationId::generate(),
        email: "ada@example.com".into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        locals: vec![LocalId::generate()],
        roles: vec![],
    }
}

fn claims_for(p: &Principal, expires_in_secs: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        user_id: p.user_id,
        email: p.email.clone(),
        organization_id: p.organization_id,
        roles: vec!["manager".into()],
        permissions: p.permissions.clone(),
        locals: p.locals.clone(),
        exp: now + expires_in_secs,
        iat: now,
    }
}

fn rs256_token(claims: &Claims, private_key: &str) -> String {
    let pem = std::fs::read(fixture(private_key)).expect("fixture key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA private key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign")
}

fn is_unauthorized<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Unauthorized(_)))
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Unavailable(_)))
}

// ---------------------------------------------------------------------------------------------
// Permissions

#[test]
fn fine_grained_permissions_grant_exactly_their_resource_and_action() {
    let p = principal(&["catalog.products.read", "catalog.price_tiers.update"]);
    for resource in Resource::ALL {
        for action in Action::ALL {
            let expected = matches!(
                (resource, action),
                (Resource::Products, Action::Read) | (Resource::PriceTiers, Action::Update)
            );
            assert_eq!(p.allows(resource, action), expected, "{resource:?} {action:?}");
        }
    }
}

#[test]
fn module_level_permissions_grant_their_action_on_every_resource() {
    for (permission, action) in [
        ("catalog:read", Action::Read),
        ("catalog:create", Action::Create),
        ("catalog:edit", Action::Update),
        ("catalog:delete", Action::Delete),
    ] {
        let p = principal(&[permission]);
        for resource in Resource::ALL {
            for other in Action::ALL {
                assert_eq!(p.allows(resource, other), other == action, "{permission} {resource:?} {other:?}");
            }
        }
    }
    let all = principal(&["catalog:*"]);
    assert!(Resource::ALL.iter().all(|r| Action::ALL.iter().all(|a| all.allows(*r, *a))));
}

#[test]
fn nothing_else_grants() {
    let p = principal(&[
        "catalog.products.readx",
        "catalog.products",
        "catalog.products.*",
        "catalog.product.read",
        "xcatalog.products.read",
        "catalog:update",
        "catalog:edit:extra",
        "catalog:**",
        "catalog",
        "*",
        "inventory:*",
        "CATALOG:READ",
        "local:access_all",
        "",
    ]);
    assert!(Resource::ALL.iter().all(|r| Action::ALL.iter().all(|a| !p.allows(*r, *a))));
    assert!(!principal(&[]).allows(Resource::Products, Action::Read));
}

#[test]
fn locals_are_limited_to_the_users_unless_access_all() {
    let p = principal(&["catalog:*"]);
    assert!(p.may_use_local(p.locals[0]));
    assert!(!p.may_use_local(LocalId::generate()));
    let all = principal(&["local:access_all"]);
    assert!(all.may_use_local(LocalId::generate()));
    let prefixed = principal(&["local:access_all_but_not_really", "local:access"]);
    assert!(!prefixed.may_use_local(LocalId::generate()));
}

// ---------------------------------------------------------------------------------------------
// gRPC mode

#[tokio::test]
async fn grpc_mode_verifies_once_then_serves_from_the_cache() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let settings = settings(&stub.settings_env());
    let auth = authenticator(&settings, &db);
    let expected = principal(&["catalog:read"]);
    stub.register_principal("opaque-token-1", &expected);

    for _ in 0..3 {
        assert_eq!(auth.authenticate("opaque-token-1").await.expect("authenticated"), expected);
    }
    assert_eq!(stub.calls(), 1, "verified once, then served from the cache");
    let stats = auth.stats();
    assert_eq!((stats.verifications, stats.cache_hits), (1, 2));

    // The value cached is the principal, under the hash of the whole token.
    let key = format!("{}auth:token:{:x}", settings.redis.key_prefix, Sha256::digest(b"opaque-token-1"));
    assert_eq!(auth.token_key("opaque-token-1"), key);
    let mut conn = redis(&settings).get_owned().await.unwrap();
    let raw: Vec<u8> = redis::cmd("GET").arg(&key).query_async(&mut *conn).await.unwrap();
    assert_eq!(serde_json::from_slice::<Principal>(&raw).unwrap(), expected);
}

#[tokio::test]
async fn tokens_sharing_a_long_prefix_resolve_to_their_own_principals() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let auth = authenticator(&settings(&stub.settings_env()), &db);
    let shared = "x".repeat(120);
    let (first, second) = (format!("{shared}.first"), format!("{shared}.second"));
    let (alice, bob) = (principal(&["catalog:read"]), principal(&["catalog:*"]));
    stub.register_principal(&first, &alice);
    stub.register_principal(&second, &bob);

    assert_eq!(auth.authenticate(&first).await.unwrap(), alice);
    assert_eq!(auth.authenticate(&second).await.unwrap(), bob);
    // And from the cache too.
    assert_eq!(auth.authenticate(&first).await.unwrap(), alice);
    assert_eq!(auth.authenticate(&second).await.unwrap(), bob);
    assert_eq!(stub.calls(), 2);
}

#[tokio::test]
async fn the_cache_never_outlives_the_token() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let settings = settings(&stub.settings_env());
    let auth = authenticator(&settings, &db);
    let pool = redis(&settings);

    // A JWT: its (unverified) exp bounds the TTL.
    let p = principal(&["catalog:read"]);
    let jwt = mint_dev_token("someone-elses-secret", &claims_for(&p, 40)).unwrap();
    stub.register_principal(&jwt, &p);
    auth.authenticate(&jwt).await.unwrap();
    let jwt_ttl = ttl(&pool, &auth.token_key(&jwt)).await;
    assert!((1..=40).contains(&jwt_ttl), "TTL {jwt_ttl} must not exceed the token's remaining 40 s");

    // An opaque token: CACHE_TTL_AUTH.
    stub.register_principal("opaque", &p);
    auth.authenticate("opaque").await.unwrap();
    let opaque_ttl = ttl(&pool, &auth.token_key("opaque")).await;
    assert!((280..=300).contains(&opaque_ttl), "TTL {opaque_ttl}");

    // A token already past its exp (the Auth Service still said yes): not cached at all.
    let stale = mint_dev_token("someone-elses-secret", &claims_for(&p, -10)).unwrap();
    stub.register_principal(&stale, &p);
    auth.authenticate(&stale).await.unwrap();
    assert_eq!(ttl(&pool, &auth.token_key(&stale)).await, -2, "no key");
}

#[tokio::test]
async fn inactive_unknown_and_malformed_identities_are_refused_and_never_cached() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let auth = authenticator(&settings(&stub.settings_env()), &db);
    let p = principal(&["catalog:*"]);

    let mut inactive = response_for(&p);
    inactive.active = false;
    stub.register("inactive-token", inactive);
    let refused = auth.authenticate("inactive-token").await;
    assert!(is_unauthorized(&refused), "{refused:?}");

    let unknown = auth.authenticate("unknown-token-secret-part").await;
    assert!(is_unauthorized(&unknown), "{unknown:?}");
    assert!(!unknown.unwrap_err().to_string().contains("secret-part"), "the token is never echoed");

    let mut malformed = response_for(&p);
    malformed.organization_id = "not-a-uuid".into();
    stub.register("malformed-token", malformed);
    assert!(is_unauthorized(&auth.authenticate("malformed-token").await));

    assert!(is_unauthorized(&auth.authenticate("").await));
    assert!(is_unauthorized(&auth.authenticate(&"t".repeat(20_000)).await));

    // A refusal is not remembered: once the Auth Service accepts the token, so do we.
    stub.register_principal("unknown-token-secret-part", &p);
    assert_eq!(auth.authenticate("unknown-token-secret-part").await.unwrap(), p);
    let calls = stub.calls();
    assert!(is_unauthorized(&auth.authenticate("inactive-token").await));
    assert_eq!(stub.calls(), calls + 1, "the inactive user was asked about again");
    assert_eq!(auth.stats().refusals, 6);
}

#[tokio::test]
async fn a_transient_unavailable_is_retried() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let auth = authenticator(&settings(&stub.settings_env()), &db); // AUTH_GRPC_RETRIES=2
    let p = principal(&["catalog:read"]);
    stub.register_principal("token", &p);

    stub.fail_next(2);
    assert_eq!(auth.authenticate("token").await.expect("third attempt succeeds"), p);
    assert_eq!(stub.calls(), 3);

    stub.register_principal("token-2", &p);
    stub.fail_next(3);
    let exhausted = auth.authenticate("token-2").await;
    assert!(is_unavailable(&exhausted), "{exhausted:?}");
    assert_eq!(stub.calls(), 6, "one call plus two retries");
}

#[tokio::test]
async fn repeated_failures_open_the_circuit_then_one_trial_closes_it() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let mut env = stub.settings_env();
    env.extend(vars(&[("AUTH_GRPC_RETRIES", "0")]));
    let auth = authenticator(&settings(&env), &db).with_circuit_breaker(3, Duration::from_millis(300));
    let p = principal(&["catalog:read"]);
    stub.register_principal("token", &p);

    stub.fail_next(100);
    for _ in 0..3 {
        assert!(is_unavailable(&auth.authenticate("token").await));
    }
    assert_eq!(stub.calls(), 3);
    assert!(auth.stats().circuit_open);

    let started = Instant::now();
    assert!(is_unavailable(&auth.authenticate("token").await));
    assert!(started.elapsed() < Duration::from_millis(100), "fails fast");
    assert_eq!(stub.calls(), 3, "the Auth Service is not called while the circuit is open");

    tokio::time::sleep(Duration::from_millis(350)).await;
    stub.fail_next(0);
    assert_eq!(auth.authenticate("token").await.expect("half-open trial"), p);
    assert!(!auth.stats().circuit_open);
    assert_eq!(stub.calls(), 4);
}

#[tokio::test]
async fn a_slow_auth_service_times_out_and_an_absent_one_is_unavailable() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let mut env = stub.settings_env();
    env.extend(vars(&[("AUTH_GRPC_TIMEOUT", "1"), ("AUTH_GRPC_RETRIES", "0")]));
    let auth = authenticator(&settings(&env), &db);
    stub.register_principal("token", &principal(&[]));
    stub.set_delay(Duration::from_millis(2500));
    let started = Instant::now();
    assert!(is_unavailable(&auth.authenticate("token").await));
    assert!(started.elapsed() < Duration::from_millis(2000), "{:?}", started.elapsed());

    // Nothing listens on the port: the authenticator still builds (lazy connection).
    let free_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let absent = settings(&vars(&[("AUTH_GRPC_HOST", "127.0.0.1"), ("AUTH_GRPC_PORT", &free_port)]));
    let auth = authenticator(&absent, &db);
    let result = auth.authenticate("token").await;
    assert!(is_unavailable(&result), "{result:?}");
    assert_eq!(auth.stats().unavailable, 1);
}

// ---------------------------------------------------------------------------------------------
// Deactivated users

#[tokio::test]
async fn a_deactivated_user_is_refused_even_with_a_cached_verification_in_grpc_mode() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let auth = authenticator(&settings(&stub.settings_env()), &db);
    let p = principal(&["catalog:*"]);
    // One opaque token (the user is only known from the cache) and one JWT (the user is
    // named in the token): both paths of the deny check.
    let jwt = mint_dev_token("someone-elses-secret", &claims_for(&p, 600)).unwrap();
    for token in ["opaque-token", jwt.as_str()] {
        stub.register_principal(token, &p);
        auth.authenticate(token).await.expect("active");
    }
    assert_eq!(stub.calls(), 2);

    auth.deactivate_user(p.user_id, Some(p.organization_id)).await.expect("deactivate");
    auth.deactivate_user(p.user_id, None).await.expect("idempotent");
    for token in ["opaque-token", jwt.as_str()] {
        let refused = auth.authenticate(token).await;
        assert!(is_unauthorized(&refused), "{refused:?}");
    }
    assert_eq!(stub.calls(), 2, "refused from the cache's deny key, without asking again");

    // A new token of the same user, never cached: refused via the verification path.
    stub.register_principal("fresh-token", &p);
    assert!(is_unauthorized(&auth.authenticate("fresh-token").await));

    auth.reactivate_user(p.user_id).await.expect("reactivate");
    for token in ["opaque-token", jwt.as_str(), "fresh-token"] {
        assert_eq!(auth.authenticate(token).await.expect("active again"), p);
    }
}

#[tokio::test]
async fn a_deactivated_user_is_refused_in_jwt_and_dev_modes() {
    let db = TestDb::new().await;
    let key = fixture("auth_public.pem");
    for (mode, env) in [
        ("jwt", vars(&[("AUTH_MODE", "jwt"), ("JWT_PUBLIC_KEY_PATH", &key)])),
        ("dev", vars(&[("AUTH_MODE", "dev"), ("AUTH_DEV_SECRET", DEV_SECRET)])),
    ] {
        let auth = authenticator(&settings(&env), &db);
        let p = principal(&["catalog:read"]);
        let claims = claims_for(&p, 600);
        let token = match mode {
            "jwt" => rs256_token(&claims, "auth_private.pem"),
            _ => mint_dev_token(DEV_SECRET, &claims).unwrap(),
        };
        auth.authenticate(&token).await.expect(mode);
        auth.authenticate(&token).await.expect(mode);
        assert_eq!(auth.stats().cache_hits, 1, "{mode}: cached");

        auth.deactivate_user(p.user_id, Some(p.organization_id)).await.unwrap();
        let refused = auth.authenticate(&token).await;
        assert!(is_unauthorized(&refused), "{mode}: {refused:?}");
    }
}

#[tokio::test]
async fn with_redis_down_tokens_are_still_verified_and_deactivated_users_refused_via_postgres() {
    let db = TestDb::new().await;
    let stub = AuthStub::start().await;
    let mut env = stub.settings_env();
    env.extend(vars(&[("REDIS_URL", "redis://127.0.0.1:1/0")]));
    let auth = authenticator(&settings(&env), &db);
    let p = principal(&["catalog:read"]);
    stub.register_principal("token", &p);

    assert_eq!(auth.authenticate("token").await.expect("no cache, still verified"), p);
    assert_eq!(auth.authenticate("token").await.expect("again"), p);
    assert_eq!(stub.calls(), 2, "nothing cached");

    auth.deactivate_user(p.user_id, None).await.expect("recorded in PostgreSQL");
    let refused = auth.authenticate("token").await;
    assert!(is_unauthorized(&refused), "{refused:?}");

    // Dev mode too.
    let dev = settings(&vars(&[
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
        ("AUTH_MODE", "dev"),
        ("AUTH_DEV_SECRET", DEV_SECRET),
    ]));
    let auth = authenticator(&dev, &db);
    let q = principal(&["catalog:read"]);
    let token = mint_dev_token(DEV_SECRET, &claims_for(&q, 600)).unwrap();
    assert_eq!(auth.authenticate(&token).await.unwrap().user_id, q.user_id);
    auth.deactivate_user(q.user_id, Some(q.organization_id)).await.unwrap();
    assert!(is_unauthorized(&auth.authenticate(&token).await));
}

#[tokio::test]
async fn deactivation_is_recorded_in_the_database_idempotently() {
    use catalog_core::schema::deactivated_users::dsl as du;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let db = TestDb::new().await;
    let auth = authenticator(&settings(&vars(&[("AUTH_MODE", "dev"), ("AUTH_DEV_SECRET", DEV_SECRET)])), &db);
    let (user, org) = (UserId::generate(), OrganizationId::generate());
    auth.deactivate_user(user, None).await.unwrap();
    auth.deactivate_user(user, Some(org)).await.unwrap();
    auth.deactivate_user(user, None).await.unwrap();
    let rows: Vec<Option<uuid::Uuid>> = du::deactivated_users
        .filter(du::user_id.eq(user.as_uuid()))
        .select(du::organization_id)
        .load(&mut *db.conn().await)
        .await
        .unwrap();
    assert_eq!(rows, vec![Some(org.as_uuid())], "one row, the organization kept");

    auth.reactivate_user(user).await.unwrap();
    let count: i64 = du::deactivated_users.count().get_result(&mut *db.conn().await).await.unwrap();
    assert_eq!(count, 0);
}

// ---------------------------------------------------------------------------------------------
// jwt and dev modes

#[tokio::test]
async fn jwt_mode_accepts_valid_rs256_tokens_and_refuses_the_rest() {
    let db = TestDb::new().await;
    let key = fixture("auth_public.pem");
    let settings = settings(&vars(&[("AUTH_MODE", "jwt"), ("JWT_PUBLIC_KEY_PATH", &key)]));
    let auth = authenticator(&settings, &db);
    let p = principal(&["catalog.products.read"]);

    let claims = claims_for(&p, 30);
    let valid = rs256_token(&claims, "auth_private.pem");
    let accepted = auth.authenticate(&valid).await.expect("valid token");
    assert_eq!(accepted.user_id, p.user_id);
    assert_eq!(accepted.organization_id, p.organization_id);
    assert_eq!(accepted.roles, vec!["manager".to_string()]);
    assert!(accepted.allows(Resource::Products, Action::Read));
    let cached_for = ttl(&redis(&settings), &auth.token_key(&valid)).await;
    assert!((1..=30).contains(&cached_for), "TTL {cached_for}");

    let expired = rs256_token(&claims_for(&p, -120), "auth_private.pem");
    let wrong_key = rs256_token(&claims, "other_private.pem");
    let hs256 = mint_dev_token("0123456789abcdef0123", &claims).unwrap();
    let tampered = {
        let mut other = claims.clone();
        other.permissions = vec!["catalog:*".into()];
        let forged_payload = rs256_token(&other, "other_private.pem");
        let parts: Vec<&str> = valid.split('.').collect();
        let forged: Vec<&str> = forged_payload.split('.').collect();
        format!("{}.{}.{}", parts[0], forged[1], parts[2])
    };
    for (what, token) in [("expired", &expired), ("wrong key", &wrong_key), ("HS256", &hs256), ("tampered", &tampered)]
    {
        let refused = auth.authenticate(token).await;
        assert!(is_unauthorized(&refused), "{what}: {refused:?}");
    }
    assert!(auth.authenticate("not.a.jwt").await.is_err());
}

#[tokio::test]
async fn jwt_mode_without_a_usable_key_fails_at_start_naming_the_variable() {
    let db = TestDb::new().await;
    for path in ["/nonexistent/key.pem", &fixture("README.md")] {
        let settings = settings(&vars(&[("AUTH_MODE", "jwt"), ("JWT_PUBLIC_KEY_PATH", path)]));
        let err = Authenticator::new(&settings, None, db.pool.clone()).err().expect("refused at start");
        assert!(err.to_string().contains("JWT_PUBLIC_KEY_PATH") || format!("{err:?}").contains("JWT_PUBLIC_KEY_PATH"));
    }
}

#[tokio::test]
async fn dev_mode_accepts_minted_tokens_and_refuses_other_secrets() {
    let db = TestDb::new().await;
    let auth = authenticator(&settings(&vars(&[("AUTH_MODE", "dev"), ("AUTH_DEV_SECRET", DEV_SECRET)])), &db);
    let p = principal(&["catalog:edit"]);
    let token = mint_dev_token(DEV_SECRET, &claims_for(&p, 900)).unwrap();
    let accepted = auth.authenticate(&token).await.expect("minted token");
    assert_eq!((accepted.user_id, accepted.organization_id), (p.user_id, p.organization_id));
    assert!(accepted.allows(Resource::Tags, Action::Update));

    let foreign = mint_dev_token("another-secret-of-16+", &claims_for(&p, 900)).unwrap();
    assert!(is_unauthorized(&auth.authenticate(&foreign).await));
    let expired = mint_dev_token(DEV_SECRET, &claims_for(&p, -120)).unwrap();
    assert!(is_unauthorized(&auth.authenticate(&expired).await));
    // Without Redis the verification works the same.
    let no_cache = Authenticator::new(
        &settings(&vars(&[("AUTH_MODE", "dev"), ("AUTH_DEV_SECRET", DEV_SECRET)])),
        None,
        db.pool.clone(),
    )
    .unwrap();
    assert_eq!(no_cache.authenticate(&token).await.unwrap().user_id, p.user_id);
}
