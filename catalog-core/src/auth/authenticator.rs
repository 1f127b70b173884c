//! Turns a bearer token into a [`Principal`]: verification (per `AUTH_MODE`), the Redis
//! verification cache, and the deny-list of deactivated users.
//!
//! Hot path: ONE Redis round trip (`MGET` of the cached verification, the deny key of the user
//! the token names and the standing key of its organization). On a miss the token is verified,
//! `deactivated_users` and `organization_states` (the sources of truth) are checked in
//! PostgreSQL, and the result is cached. Redis failures degrade to "no cache": every request is
//! then verified and checked against PostgreSQL.

use super::Claims;
use super::grpc::GrpcVerifier;
use super::local::LocalVerifier;
use super::principal::Principal;
use crate::cache::RedisPool;
use crate::config::{AuthMode, Settings};
use crate::db::PgPool;
use crate::error::{Error, Result};
use crate::ids::{OrganizationId, UserId};
use crate::organizations::{self, Standing};
use crate::schema::deactivated_users;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longer than any token the Auth Service issues (15 minutes) and than any cached verification.
const DENY_TTL_SECS: u64 = 24 * 60 * 60;
/// Real tokens are well under 2 KB; anything this large is refused before hashing or calling out.
const MAX_TOKEN_LEN: usize = 8 * 1024;

enum Verifier {
    Grpc(GrpcVerifier),
    Local(LocalVerifier),
}

/// Outcome counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Requests answered from the verification cache.
    pub cache_hits: u64,
    /// Tokens verified by the Auth Service or locally (cache misses).
    pub verifications: u64,
    /// Requests refused (401).
    pub refusals: u64,
    /// Requests failed because the Auth Service or a database was unreachable (503).
    pub unavailable: u64,
    /// Whether the Auth Service circuit breaker is currently open or half-open.
    pub circuit_open: bool,
}

#[derive(Default)]
struct Counters {
    cache_hits: AtomicU64,
    verifications: AtomicU64,
    refusals: AtomicU64,
    unavailable: AtomicU64,
}

pub struct Authenticator {
    verifier: Verifier,
    redis: Option<RedisPool>,
    db: PgPool,
    key_prefix: String,
    redis_timeout: Duration,
    ttl_secs: u64,
    counters: Counters,
}

/// What the token says about itself, read WITHOUT verifying it: only used to pick cache keys
/// and TTLs, never to grant anything.
#[derive(Debug, Default)]
struct Unverified {
    user_id: Option<UserId>,
    organization_id: Option<OrganizationId>,
    exp: Option<i64>,
}

impl Unverified {
    fn peek(token: &str) -> Self {
        let Ok(claims) = jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token) else {
            return Self::default();
        };
        fn id<T: std::str::FromStr>(claims: &serde_json::Value, names: &[&str]) -> Option<T> {
            names.iter().find_map(|name| claims.get(name)?.as_str()?.parse().ok())
        }
        let exp = claims.get("exp").and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
        Self {
            user_id: id(&claims, &["user_id", "sub"]),
            organization_id: id(&claims, &["organization_id", "org_id"]),
            exp,
        }
    }
}

/// The cache read of one request: `None` overall when Redis could not be asked.
struct Lookup {
    cached: Option<Principal>,
    /// Whether the deny key of the token's (unverified) user was set.
    hinted_user_denied: bool,
    /// The cached standing of the token's (unverified) organization.
    hinted_organization: Standing,
}

impl Authenticator {
    /// Builds the verifier for `AUTH_MODE`. Reads the JWT public key once (a bad file fails
    /// here, naming `JWT_PUBLIC_KEY_PATH`); the gRPC client connects lazily. Call inside a
    /// Tokio runtime. `redis = None` disables the cache (every request verified).
    pub fn new(settings: &Settings, redis: Option<RedisPool>, db: PgPool) -> Result<Self> {
        let verifier = match settings.auth.mode {
            AuthMode::Grpc => Verifier::Grpc(GrpcVerifier::new(&settings.auth)?),
            AuthMode::Jwt => Verifier::Local(LocalVerifier::rs256(settings.auth.jwt_public_key_path.as_deref())?),
            AuthMode::Dev => Verifier::Local(LocalVerifier::hs256_dev(settings.auth.dev_secret.expose())?),
        };
        Ok(Self {
            verifier,
            redis,
            db,
            key_prefix: settings.redis.key_prefix.clone(),
            redis_timeout: Duration::from_millis(settings.redis.timeout_ms.max(50)),
            ttl_secs: settings.cache.ttl_auth_secs,
            counters: Counters::default(),
        })
    }

    /// Overrides the circuit breaker (`CIRCUIT_BREAKER_FAILURE_THRESHOLD`, `_RECOVERY_TIMEOUT`).
    /// No effect outside `AUTH_MODE=grpc`.
    pub fn with_circuit_breaker(mut self, failures: u32, open_for: Duration) -> Self {
        if let Verifier::Grpc(grpc) = &mut self.verifier {
            grpc.calls.breaker = crate::breaker::CircuitBreaker::new("auth service", failures, open_for);
        }
        self
    }

    /// Verifies a bearer token (the token itself, without the `Bearer ` scheme).
    /// `Unauthorized` for bad, expired or refused tokens and deactivated users; `Unavailable`
    /// when the Auth Service cannot be reached (and nothing valid is cached).
    pub async fn authenticate(&self, bearer_token: &str) -> Result<Principal> {
        let outcome = self.authenticate_uncounted(bearer_token.trim()).await;
        match &outcome {
            Ok(_) => {}
            Err(Error::Unauthorized(_)) => {
                self.counters.refusals.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
            }
        }
        outcome
    }

    async fn authenticate_uncounted(&self, token: &str) -> Result<Principal> {
        if token.is_empty() {
            return Err(Error::Unauthorized("missing token".into()));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::Unauthorized("token too long".into()));
        }
        let unverified = Unverified::peek(token);
        let token_key = self.token_key(token);
        let lookup = self.lookup(&token_key, &unverified).await;

        if let Some(Lookup { cached: Some(principal), hinted_user_denied, hinted_organization }) = &lookup {
            let denied = if Some(principal.user_id) == unverified.user_id {
                *hinted_user_denied
            } else {
                // The token did not name its user readably (opaque token): one more look.
                self.is_denied(principal.user_id).await?
            };
            if denied {
                return Err(deactivated());
            }
            let standing = if Some(principal.organization_id) == unverified.organization_id {
                *hinted_organization
            } else {
                self.cached_standing(principal.organization_id).await?
            };
            if let Some(refusal) = standing.refusal() {
                return Err(refusal);
            }
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(principal.clone());
        }

        self.counters.verifications.fetch_add(1, Ordering::Relaxed);
        let (principal, exp) = match &self.verifier {
            Verifier::Grpc(grpc) => (grpc.verify(token).await?, unverified.exp),
            Verifier::Local(local) => {
                let claims: Claims = local.verify(token)?;
                let exp = claims.exp;
                (Principal::from(claims), Some(exp))
            }
        };
        // PostgreSQL is the source of truth: checked on every verification, so a Redis that
        // lost its deny keys (restart, eviction) never lets a deactivated user back in.
        let mut conn = self.db.get().await?;
        if user_deactivated(&mut conn, principal.user_id).await? {
            return Err(deactivated());
        }
        if let Some(refusal) = organizations::standing(&mut conn, principal.organization_id).await?.refusal() {
            return Err(refusal);
        }
        drop(conn);
        // A failed read means Redis was unreachable a moment ago: do not wait on it again.
        if lookup.is_some() {
            self.store(&token_key, &principal, exp).await;
        }
        Ok(principal)
    }

    /// Refuses the user from now on, in every mode, including tokens whose verification is
    /// cached. Idempotent. Records it in `deactivated_users` (the source of truth), then sets
    /// the Redis deny key; if Redis is down then, cached verifications may still be served
    /// until they expire (at most `CACHE_TTL_AUTH` seconds).
    pub async fn deactivate_user(&self, user_id: UserId, organization_id: Option<OrganizationId>) -> Result<()> {
        let mut conn = self.db.get().await?;
        let insert = diesel::insert_into(deactivated_users::table)
            .values((deactivated_users::user_id.eq(user_id), deactivated_users::organization_id.eq(organization_id)));
        match organization_id {
            Some(org) => {
                insert
                    .on_conflict(deactivated_users::user_id)
                    .do_update()
                    .set(deactivated_users::organization_id.eq(org))
                    .execute(&mut conn)
                    .await?
            }
            None => insert.on_conflict_do_nothing().execute(&mut conn).await?,
        };
        drop(conn);
        let key = self.deny_key(user_id);
        let set: Option<()> = self
            .redis_run("deny", || {
                let mut pipe = redis::pipe();
                pipe.cmd("SET").arg(&key).arg(1).arg("EX").arg(DENY_TTL_SECS).ignore();
                pipe
            })
            .await;
        if set.is_none() && self.redis.is_some() {
            tracing::warn!(%user_id, "user deactivated in the database but the cache deny key could not be set");
        }
        Ok(())
    }

    /// Lets a deactivated user in again. Fails with `Unavailable` when the Redis deny key
    /// cannot be removed (the user would stay refused on cached tokens): retry later.
    pub async fn reactivate_user(&self, user_id: UserId) -> Result<()> {
        let mut conn = self.db.get().await?;
        diesel::delete(deactivated_users::table.find(user_id)).execute(&mut conn).await?;
        drop(conn);
        if self.redis.is_none() {
            return Ok(());
        }
        let key = self.deny_key(user_id);
        let removed: Option<()> = self
            .redis_run("undeny", || {
                let mut pipe = redis::pipe();
                pipe.cmd("DEL").arg(&key).ignore();
                pipe
            })
            .await;
        removed.ok_or_else(|| Error::Unavailable("redis: cannot remove the deny key".into()))
    }

    /// Refuses the organization's requests (403) until [`Self::reinstate_organization`] or
    /// `until`, including tokens whose verification is cached. Call after `organization_states`
    /// (the source of truth) says so; this only sets the cache key the hot path reads. The key
    /// lives at most as long as a user's deny key: past that no cached verification is left,
    /// and verifications read `organization_states`.
    pub async fn refuse_organization(
        &self,
        org: OrganizationId,
        standing: Standing,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        const DENY_TTL_MS: i64 = DENY_TTL_SECS as i64 * 1000;
        let left_ms = until.map_or(DENY_TTL_MS, |until| (until - Utc::now()).num_milliseconds());
        if left_ms <= 0 {
            return self.reinstate_organization(org).await;
        }
        let key = self.organization_key(org);
        let ttl_ms = left_ms.min(DENY_TTL_MS);
        self.redis_write("refuse_organization", || {
            let mut pipe = redis::pipe();
            pipe.cmd("SET").arg(&key).arg(standing.as_str()).arg("PX").arg(ttl_ms).ignore();
            pipe
        })
        .await
    }

    /// Lets the organization's requests in again (its state row already says so).
    pub async fn reinstate_organization(&self, org: OrganizationId) -> Result<()> {
        let key = self.organization_key(org);
        self.redis_write("reinstate_organization", || {
            let mut pipe = redis::pipe();
            pipe.cmd("DEL").arg(&key).ignore();
            pipe
        })
        .await
    }

    /// A cache write whose failure must be retried by the caller (an event redelivered).
    async fn redis_write(&self, what: &str, build: impl FnOnce() -> redis::Pipeline) -> Result<()> {
        if self.redis.is_none() {
            return Ok(());
        }
        let written: Option<()> = self.redis_run(what, build).await;
        written.ok_or_else(|| Error::Unavailable(format!("redis: {what} failed")))
    }

    pub fn stats(&self) -> AuthStats {
        let c = &self.counters;
        AuthStats {
            cache_hits: AtomicU64::load(&c.cache_hits, Ordering::Relaxed),
            verifications: AtomicU64::load(&c.verifications, Ordering::Relaxed),
            refusals: AtomicU64::load(&c.refusals, Ordering::Relaxed),
            unavailable: AtomicU64::load(&c.unavailable, Ordering::Relaxed),
            circuit_open: matches!(&self.verifier, Verifier::Grpc(grpc) if grpc.calls.breaker.is_open()),
        }
    }

    /// `{prefix}auth:token:{sha256 of the whole token}`: JWTs share long prefixes.
    pub fn token_key(&self, token: &str) -> String {
        format!("{}auth:token:{:x}", self.key_prefix, Sha256::digest(token.as_bytes()))
    }

    pub fn deny_key(&self, user_id: UserId) -> String {
        format!("{}auth:denied:{user_id}", self.key_prefix)
    }

    /// Set while the organization is refused; its value is the [`Standing`].
    pub fn organization_key(&self, org: OrganizationId) -> String {
        format!("{}auth:org:{org}", self.key_prefix)
    }

    async fn lookup(&self, token_key: &str, hint: &Unverified) -> Option<Lookup> {
        // Absent hints still take a slot (a key nobody sets), so positions stay fixed.
        let keys = [
            token_key.to_string(),
            hint.user_id.map_or_else(|| format!("{}auth:none", self.key_prefix), |user| self.deny_key(user)),
            hint.organization_id
                .map_or_else(|| format!("{}auth:none", self.key_prefix), |org| self.organization_key(org)),
        ];
        let (values,): (Vec<Option<Vec<u8>>>,) = self
            .redis_run("lookup", || {
                let mut pipe = redis::pipe();
                pipe.cmd("MGET").arg(&keys);
                pipe
            })
            .await?;
        let mut values = values.into_iter();
        let cached = values.next().flatten().and_then(|raw| serde_json::from_slice::<Principal>(&raw).ok());
        let hinted_user_denied = values.next().flatten().is_some();
        let hinted_organization = values.next().flatten().map_or(Standing::Good, |raw| Standing::parse(&raw));
        Some(Lookup { cached, hinted_user_denied, hinted_organization })
    }

    /// Redis standing key first; PostgreSQL when Redis cannot answer.
    async fn cached_standing(&self, org: OrganizationId) -> Result<Standing> {
        match self.read_key("standing_check", self.organization_key(org)).await {
            Some(raw) => Ok(raw.map_or(Standing::Good, |raw| Standing::parse(&raw))),
            None => self.standing_in_db(org).await,
        }
    }

    /// One key's value (`Some(None)`: not set); `None` when Redis could not answer.
    async fn read_key(&self, what: &str, key: String) -> Option<Option<Vec<u8>>> {
        let value: Option<(Option<Vec<u8>>,)> = self
            .redis_run(what, || {
                let mut pipe = redis::pipe();
                pipe.cmd("GET").arg(&key);
                pipe
            })
            .await;
        value.map(|(raw,)| raw)
    }

    async fn standing_in_db(&self, org: OrganizationId) -> Result<Standing> {
        let mut conn = self.db.get().await?;
        organizations::standing(&mut conn, org).await
    }

    /// Redis deny key first; PostgreSQL when Redis cannot answer.
    async fn is_denied(&self, user_id: UserId) -> Result<bool> {
        match self.read_key("deny_check", self.deny_key(user_id)).await {
            Some(raw) => Ok(raw.is_some()),
            None => self.deactivated_in_db(user_id).await,
        }
    }

    async fn deactivated_in_db(&self, user_id: UserId) -> Result<bool> {
        user_deactivated(&mut *self.db.get().await?, user_id).await
    }

    /// Caches a verification for min(`CACHE_TTL_AUTH`, time left before `exp`).
    async fn store(&self, token_key: &str, principal: &Principal, exp: Option<i64>) {
        let ttl = cache_ttl(self.ttl_secs, exp, chrono::Utc::now().timestamp());
        let (Some(ttl), Ok(json)) = (ttl, serde_json::to_vec(principal)) else { return };
        let _: Option<()> = self
            .redis_run("store", || {
                let mut pipe = redis::pipe();
                pipe.cmd("SET").arg(token_key).arg(json).arg("EX").arg(ttl).ignore();
                pipe
            })
            .await;
    }

    /// Runs one pipeline within the Redis timeout; `None` on any failure (logged).
    async fn redis_run<T: redis::FromRedisValue>(
        &self,
        what: &str,
        build: impl FnOnce() -> redis::Pipeline,
    ) -> Option<T> {
        let pool = self.redis.as_ref()?;
        let attempt = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            build().query_async::<T>(&mut *conn).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.redis_timeout, attempt).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::warn!(operation = what, error = %e, "auth cache unavailable");
                None
            }
            Err(_) => {
                tracing::warn!(operation = what, "auth cache timed out");
                None
            }
        }
    }
}

async fn user_deactivated(conn: &mut crate::db::PgConn, user_id: UserId) -> Result<bool> {
    let query = deactivated_users::table.filter(deactivated_users::user_id.eq(user_id));
    Ok(diesel::select(diesel::dsl::exists(query)).get_result::<bool>(conn).await?)
}

fn deactivated() -> Error {
    Error::Unauthorized("user is deactivated".into())
}

/// Seconds to cache a verification; `None` when the token is (about to be) expired.
fn cache_ttl(max_secs: u64, exp: Option<i64>, now: i64) -> Option<u64> {
    let ttl = match exp {
        Some(exp) => u64::try_from(exp.saturating_sub(now)).ok()?.min(max_secs),
        None => max_secs,
    };
    (ttl > 0).then_some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_never_outlives_the_token() {
        assert_eq!(cache_ttl(300, None, 1000), Some(300));
        assert_eq!(cache_ttl(300, Some(1000 + 900), 1000), Some(300));
        assert_eq!(cache_ttl(300, Some(1000 + 42), 1000), Some(42));
        assert_eq!(cache_ttl(300, Some(1000), 1000), None);
        assert_eq!(cache_ttl(300, Some(10), 1000), None);
    }

    #[test]
    fn peeks_user_and_expiry_of_a_jwt_and_nothing_of_an_opaque_token() {
        let claims = Claims {
            user_id: UserId::generate(),
            email: "a@b.c".into(),
            organization_id: OrganizationId::generate(),
            roles: vec![],
            permissions: vec![],
            locals: vec![],
            exp: 12345,
            iat: 1,
        };
        let token = super::super::mint_dev_token("0123456789abcdef", &claims).expect("signs");
        let peek = Unverified::peek(&token);
        assert_eq!(peek.user_id, Some(claims.user_id));
        assert_eq!(peek.exp, Some(12345));
        let opaque = Unverified::peek("not-a-jwt");
        assert!(opaque.user_id.is_none() && opaque.exp.is_none());
    }
}
