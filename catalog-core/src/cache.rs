//! Redis connection pool. Redis is an accelerator, never a dependency of correctness: callers
//! treat every Redis error as a cache miss and carry on with PostgreSQL.

use crate::config::RedisSettings;
use crate::error::{Error, Result};
use bb8_redis::RedisConnectionManager;
use std::time::Duration;

pub type RedisPool = bb8::Pool<RedisConnectionManager>;

/// Builds the pool lazily: the process starts even while Redis is down.
pub fn pool(settings: &RedisSettings) -> Result<RedisPool> {
    let manager = RedisConnectionManager::new(settings.url().expose())
        .map_err(|e| Error::InvalidArgument { field: "REDIS_URL", message: e.to_string() })?;
    Ok(bb8::Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(0))
        // bb8 would PING before every checkout: a second round trip for each cached read. A
        // broken connection fails its command instead, which the callers treat as a miss.
        .test_on_check_out(false)
        // A short timeout: a slow cache must not make requests slower than no cache.
        .connection_timeout(Duration::from_millis(settings.timeout_ms.max(50)))
        .build_unchecked(manager))
}

pub async fn ping(pool: &RedisPool) -> Result<()> {
    let mut conn = pool.get().await.map_err(|e| Error::Unavailable(format!("redis: {e}")))?;
    let _: String =
        redis::cmd("PING").query_async(&mut *conn).await.map_err(|e| Error::Unavailable(format!("redis: {e}")))?;
    Ok(())
}

use crate::ids::OrganizationId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// What a cache entry holds; names the seed's key prefixes (`product:{org}:{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Product,
    Variant,
    /// What selling one unit of a variant takes out of inventory (its recipe exploded).
    Explosion,
}

impl CacheKind {
    fn prefix(self) -> &'static str {
        match self {
            CacheKind::Product => "product",
            CacheKind::Variant => "variant",
            CacheKind::Explosion => "explosion",
        }
    }

    /// An explosion spans many products, so no one id names the entries a change reaches: a
    /// second generation, the organization's recipes', drops all of them at once.
    fn has_recipe_generation(self) -> bool {
        self == CacheKind::Explosion
    }
}

/// Read-through cache of catalog entities.
///
/// Keys follow the seed (`product:{organization_id}:{product_id}`, `variant:...`). Each value is
/// stamped with the organization's generation (`catalog:org-gen:{organization_id}`); bumping the
/// generation invalidates every entry of the organization at once without scanning the
/// keyspace. Explosions are stamped with the organization's recipe generation as well
/// (`catalog:recipe-gen:{organization_id}`), bumped by whatever changes one. A batch read
/// is one `MGET` (generations included), a batch write one pipeline.
///
/// Every Redis failure is logged and treated as a miss: with Redis down the service is slower,
/// never failing.
#[derive(Clone)]
pub struct Cache {
    pool: Option<RedisPool>,
    prefix: String,
    timeout: Duration,
    ttl_product: u64,
    ttl_variant: u64,
}

#[derive(Serialize, serde::Deserialize)]
struct Stamped<T> {
    #[serde(rename = "g")]
    generation: i64,
    /// Explosions only (0 elsewhere, and left out).
    #[serde(rename = "r", default, skip_serializing_if = "is_zero")]
    recipe_generation: i64,
    #[serde(rename = "v")]
    value: T,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The generations seen by a read; writes stamp entries with them, so an entry filled from data
/// read before an invalidation of the organization (or of its recipes) is never served after it.
#[derive(Debug, Clone, Copy)]
pub struct Generation {
    organization: i64,
    recipes: i64,
}

impl Generation {
    /// Redis could not be read: nothing read now may be written back.
    const UNKNOWN: Generation = Generation { organization: -1, recipes: -1 };
}

impl Cache {
    pub fn new(pool: RedisPool, settings: &crate::config::Settings) -> Self {
        Self {
            pool: Some(pool),
            prefix: settings.redis.key_prefix.clone(),
            timeout: Duration::from_millis(settings.redis.timeout_ms.max(50)),
            ttl_product: settings.cache.ttl_product_secs,
            ttl_variant: settings.cache.ttl_variant_secs,
        }
    }

    /// A cache that never hits (tests, or Redis deliberately disabled).
    pub fn disabled() -> Self {
        Self { pool: None, prefix: String::new(), timeout: Duration::ZERO, ttl_product: 0, ttl_variant: 0 }
    }

    pub fn key(&self, kind: CacheKind, org: OrganizationId, id: impl Display) -> String {
        format!("{}{}:{org}:{id}", self.prefix, kind.prefix())
    }

    fn generation_key(&self, org: OrganizationId) -> String {
        format!("{}catalog:org-gen:{org}", self.prefix)
    }

    fn recipe_generation_key(&self, org: OrganizationId) -> String {
        format!("{}catalog:recipe-gen:{org}", self.prefix)
    }

    fn ttl(&self, kind: CacheKind) -> u64 {
        match kind {
            // An explosion changes with products and recipes alike: the products' TTL.
            CacheKind::Product | CacheKind::Explosion => self.ttl_product,
            CacheKind::Variant => self.ttl_variant,
        }
    }

    /// Runs one Redis command or pipeline within the cache timeout; `None` on any failure.
    async fn run<T: redis::FromRedisValue>(&self, what: &str, cmd: impl FnOnce() -> redis::Pipeline) -> Option<T> {
        let pool = self.pool.as_ref()?;
        let attempt = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            cmd().query_async::<T>(&mut *conn).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                tracing::warn!(operation = what, error = %e, "cache unavailable, falling back to the database");
                None
            }
            Err(_) => {
                tracing::warn!(operation = what, "cache timed out, falling back to the database");
                None
            }
        }
    }

    /// Looks up many entries in one round trip; misses (and stale generations) are `None`.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        ids: &[impl Display],
    ) -> (Vec<Option<T>>, Generation) {
        let mut keys = vec![self.generation_key(org)];
        if kind.has_recipe_generation() {
            keys.push(self.recipe_generation_key(org));
        }
        let generations = keys.len();
        keys.extend(ids.iter().map(|id| self.key(kind, org, id)));
        let values: Option<(Vec<Option<Vec<u8>>>,)> = self
            .run("get", || {
                let mut pipe = redis::pipe();
                pipe.cmd("MGET").arg(&keys);
                pipe
            })
            .await;
        let Some((mut values,)) = values else { return (ids.iter().map(|_| None).collect(), Generation::UNKNOWN) };
        let mut counter = |at: usize| -> i64 {
            values
                .get_mut(at)
                .filter(|_| at < generations)
                .and_then(Option::take)
                .and_then(|raw| String::from_utf8(raw).ok()?.parse().ok())
                .unwrap_or(0)
        };
        let generation = Generation { organization: counter(0), recipes: counter(1) };
        let entries = values
            .into_iter()
            .skip(generations)
            .map(|raw| {
                let stamped: Stamped<T> = serde_json::from_slice(&raw?).ok()?;
                let current =
                    stamped.generation == generation.organization && stamped.recipe_generation == generation.recipes;
                current.then_some(stamped.value)
            })
            .collect();
        (entries, generation)
    }

    /// Stores entries read at `generation`, each with the kind's TTL, in one pipeline.
    pub async fn put_many<T: Serialize>(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        generation: Generation,
        entries: &[(String, &T)],
    ) {
        // A failed generation read means Redis was unreachable a moment ago: do not write.
        if entries.is_empty() || generation.organization < 0 {
            return;
        }
        let ttl = self.ttl(kind);
        let _: Option<()> = self
            .run("put", || {
                let mut pipe = redis::pipe();
                for (id, value) in entries {
                    let stamped =
                        Stamped { generation: generation.organization, recipe_generation: generation.recipes, value };
                    if let Ok(bytes) = serde_json::to_vec(&stamped) {
                        pipe.cmd("SET").arg(self.key(kind, org, id)).arg(bytes).arg("EX").arg(ttl).ignore();
                    }
                }
                pipe
            })
            .await;
    }

    /// Drops entries; call after the write that changed them committed.
    pub async fn invalidate(&self, kind: CacheKind, org: OrganizationId, ids: &[impl Display]) {
        if ids.is_empty() {
            return;
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(kind, org, id)).collect();
        let _: Option<()> = self
            .run("invalidate", || {
                let mut pipe = redis::pipe();
                pipe.cmd("DEL").arg(&keys).ignore();
                pipe
            })
            .await;
    }

    /// Invalidates every entry of the organization at once (O(1), no keyspace scan).
    pub async fn invalidate_organization(&self, org: OrganizationId) -> bool {
        self.bump("invalidate_organization", self.generation_key(org)).await
    }

    /// Invalidates every explosion of the organization at once.
    pub async fn invalidate_explosions(&self, org: OrganizationId) -> bool {
        self.bump("invalidate_explosions", self.recipe_generation_key(org)).await
    }

    async fn bump(&self, what: &str, key: String) -> bool {
        let bumped: Option<()> = self
            .run(what, || {
                let mut pipe = redis::pipe();
                pipe.cmd("INCR").arg(&key).ignore();
                pipe
            })
            .await;
        bumped.is_some()
    }
}
