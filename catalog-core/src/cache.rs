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

mod near;

use crate::ids::OrganizationId;
use crate::telemetry;
use near::NearCache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

/// Entries looked up, by where the answer came from: this process's memory, Redis, or (a miss)
/// the database. Served as `catalog_cache_lookups_total{answered_from}` (see [`lookups`]).
static ANSWERED_FROM: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
const NEAR: usize = 0;
const REDIS: usize = 1;
const DATABASE: usize = 2;

fn answered(from: usize, entries: usize) {
    ANSWERED_FROM[from].fetch_add(entries as u64, Ordering::Relaxed);
}

/// Entries looked up so far in this process, by where the answer came from.
pub fn lookups() -> [(&'static str, u64); 3] {
    let count = |from: usize| ANSWERED_FROM[from].load(Ordering::Relaxed);
    [("near", count(NEAR)), ("redis", count(REDIS)), ("database", count(DATABASE))]
}

/// Counts one fetch's answers: hits from Redis, the rest from the database.
fn count_fetched<T>(entries: &[Option<T>]) {
    let hits = entries.iter().filter(|entry| entry.is_some()).count();
    answered(REDIS, hits);
    answered(DATABASE, entries.len() - hits);
}

/// How an edge answers with an entity. An entry encoded for an edge is kept beside the domain
/// entry and dropped with it, so a hit is written out as it is: no decode, no re-encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Protobuf, as the gRPC server encodes it.
    Grpc,
    /// JSON, as the REST API writes it in its envelope's `data`.
    Rest,
}

/// What a cache entry holds; names the seed's key prefixes (`product:{org}:{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Product,
    Variant,
    /// What selling one unit of a variant takes out of inventory (its recipe exploded).
    Explosion,
    /// A product as an edge answers it (see [`Edge`]).
    ProductAs(Edge),
    /// A variant's validation as an edge answers it.
    VariantAs(Edge),
    /// The hits of one POS search (id: the request, see [`crate::search::SearchRequest::cache_id`]).
    Search,
}

/// Encoded entries change shape with the code that writes them: a release reads only its own
/// (replicas of two releases side by side each fill their own keys).
macro_rules! encoded_prefix {
    ($name:literal) => {
        concat!($name, "@", env!("CARGO_PKG_VERSION"))
    };
}

impl CacheKind {
    fn prefix(self) -> &'static str {
        match self {
            CacheKind::Product => "product",
            CacheKind::Variant => "variant",
            CacheKind::Explosion => "explosion",
            CacheKind::ProductAs(Edge::Grpc) => encoded_prefix!("product.pb"),
            CacheKind::ProductAs(Edge::Rest) => encoded_prefix!("product.json"),
            CacheKind::VariantAs(Edge::Grpc) => encoded_prefix!("variant.pb"),
            CacheKind::VariantAs(Edge::Rest) => encoded_prefix!("variant.json"),
            CacheKind::Search => encoded_prefix!("search"),
        }
    }

    /// The kinds an invalidation of this kind drops: an entity with its encodings.
    fn with_encodings(self) -> &'static [CacheKind] {
        use CacheKind::*;
        match self {
            Product => &[Product, ProductAs(Edge::Grpc), ProductAs(Edge::Rest)],
            Variant => &[Variant, VariantAs(Edge::Grpc), VariantAs(Edge::Rest)],
            Explosion => &[Explosion],
            Search => &[Search],
            ProductAs(Edge::Grpc) => &[ProductAs(Edge::Grpc)],
            ProductAs(Edge::Rest) => &[ProductAs(Edge::Rest)],
            VariantAs(Edge::Grpc) => &[VariantAs(Edge::Grpc)],
            VariantAs(Edge::Rest) => &[VariantAs(Edge::Rest)],
        }
    }

    /// Entries no one id names the changes of: an explosion spans many products, a search's
    /// hits any of the organization's products. A second generation of the organization's, the
    /// kind's own, drops all of them at once: the recipes' (bumped by whatever changes one) and
    /// the searches' (bumped by every invalidation of a product or variant).
    fn own_generation(self) -> Option<&'static str> {
        match self {
            CacheKind::Explosion => Some("recipe-gen"),
            CacheKind::Search => Some("search-gen"),
            _ => None,
        }
    }

    fn ttl(self, cache: &Cache) -> u64 {
        match self {
            CacheKind::Variant | CacheKind::VariantAs(_) => cache.ttl_variant,
            // Explosions and searches change with products: the products' TTL.
            CacheKind::Product | CacheKind::ProductAs(_) | CacheKind::Explosion | CacheKind::Search => {
                cache.ttl_product
            }
        }
    }
}

/// How long an invalidated key refuses fills (it holds [`TOMBSTONE`] meanwhile).
const TOMBSTONE_SECS: u64 = 2;
/// A read fills the cache only this soon after it began. Together with the tombstone this
/// closes the race every delete-based cache has: a read that fetched the old row before the
/// write committed cannot store it after the write's invalidation, because it either stores
/// it before (and the invalidation replaces it) or while the tombstone still stands.
const FILL_WINDOW: Duration = Duration::from_secs(TOMBSTONE_SECS / 2);
/// What an invalidated key holds: no entry of any kind is empty.
const TOMBSTONE: &str = "";
/// Stores each entry unless its key holds a tombstone. KEYS: the entries' keys; ARGV[1]: the
/// TTL in seconds, ARGV[i + 1]: the value of KEYS[i].
const FILL_SCRIPT: &str = r"
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) ~= '' then
    redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
  end
end
return 0";

/// Read-through cache of catalog entities.
///
/// Keys follow the seed (`product:{organization_id}:{product_id}`, `variant:...`). Each value is
/// stamped with the organization's generation (`catalog:org-gen:{organization_id}`); bumping the
/// generation invalidates every entry of the organization at once without scanning the
/// keyspace. Explosions and searches are stamped with a generation of their own as well
/// (`catalog:recipe-gen:{organization_id}`, `catalog:search-gen:{organization_id}`). A batch read
/// is one `MGET` (generations included), a batch write one script call, an invalidation one
/// pipeline that leaves a short-lived tombstone in each key (see [`FILL_WINDOW`]).
///
/// Domain entries are JSON (`{"g": generation, "v": value}`); entries encoded for an edge are the
/// generation (8 bytes, little-endian) followed by the encoded answer.
///
/// Every Redis failure is logged and treated as a miss: with Redis down the service is slower,
/// never failing.
///
/// The processes that answer reads put a near cache in front (see [`Cache::with_near_cache`]).
#[derive(Clone)]
pub struct Cache {
    pool: Option<RedisPool>,
    near: Option<Arc<NearCache>>,
    prefix: String,
    timeout: Duration,
    ttl_product: u64,
    ttl_variant: u64,
}

#[derive(Serialize, serde::Deserialize)]
struct Stamped<T> {
    #[serde(rename = "g")]
    generation: i64,
    /// The kind's own generation (0 for kinds without one, and left out).
    #[serde(rename = "r", default, skip_serializing_if = "is_zero")]
    own_generation: i64,
    #[serde(rename = "v")]
    value: T,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The generations seen by a read, and when it began; writes stamp entries with them, so an
/// entry filled from data read before an invalidation of the organization (or of the kind's own
/// generation) is never served after it, and a read too old to fill safely fills nothing.
#[derive(Debug, Clone, Copy)]
pub struct Generation {
    organization: i64,
    own: i64,
    read_at: Instant,
}

impl Generation {
    /// Redis could not be read: nothing read now may be written back.
    fn unknown() -> Generation {
        Generation { organization: -1, own: -1, read_at: Instant::now() }
    }

    fn may_fill(&self) -> bool {
        self.organization >= 0 && self.read_at.elapsed() < FILL_WINDOW
    }
}

const STAMP_BYTES: usize = 8;

impl Cache {
    pub fn new(pool: RedisPool, settings: &crate::config::Settings) -> Self {
        Self {
            pool: Some(pool),
            near: None,
            prefix: settings.redis.key_prefix.clone(),
            timeout: Duration::from_millis(settings.redis.timeout_ms.max(50)),
            ttl_product: settings.cache.ttl_product_secs,
            ttl_variant: settings.cache.ttl_variant_secs,
        }
    }

    /// A cache that never hits (tests, or Redis deliberately disabled).
    pub fn disabled() -> Self {
        Self { pool: None, near: None, prefix: String::new(), timeout: Duration::ZERO, ttl_product: 0, ttl_variant: 0 }
    }

    /// Keeps the encoded answers Redis serves in this process too, for `CACHE_NEAR_TTL_MS`, up
    /// to `CACHE_NEAR_MAX_MB`, forgetting each as soon as any process invalidates it (see
    /// [`near`]). Spawns the listener: call within the Tokio runtime. `CACHE_NEAR_TTL_MS=0`: none.
    pub fn with_near_cache(mut self, settings: &crate::config::Settings) -> Self {
        let cache = &settings.cache;
        if cache.near_ttl_ms == 0 || self.pool.is_none() {
            return self;
        }
        let client = match redis::Client::open(settings.redis.url().expose()) {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "near cache off: bad Redis URL");
                return self;
            }
        };
        let near = Arc::new(NearCache::new(Duration::from_millis(cache.near_ttl_ms), cache.near_max_mb << 20));
        tokio::spawn(near.clone().listen(client, self.invalidations_channel()));
        self.near = Some(near);
        self
    }

    /// Where invalidations are announced to the near caches of every process.
    fn invalidations_channel(&self) -> String {
        format!("{}catalog:invalidations", self.prefix)
    }

    pub fn key(&self, kind: CacheKind, org: OrganizationId, id: impl Display) -> String {
        format!("{}{}:{org}:{id}", self.prefix, kind.prefix())
    }

    fn generation_key(&self, org: OrganizationId) -> String {
        format!("{}catalog:org-gen:{org}", self.prefix)
    }

    fn own_generation_key(&self, name: &str, org: OrganizationId) -> String {
        format!("{}catalog:{name}:{org}", self.prefix)
    }

    /// Runs one Redis command or pipeline within the cache timeout; `None` on any failure.
    async fn run<T: redis::FromRedisValue>(&self, what: &str, cmd: impl FnOnce() -> redis::Pipeline) -> Option<T> {
        let pool = self.pool.as_ref()?;
        let span = telemetry::client_span(|| {
            tracing::info_span!(
                "Redis",
                otel.name = what,
                otel.kind = "client",
                db.system.name = "redis",
                db.operation.name = what,
            )
        });
        let attempt = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            cmd().query_async::<T>(&mut *conn).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.timeout, attempt).instrument(span).await {
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

    /// The raw values of many entries and the generations, in one round trip (`None`: Redis
    /// could not be read).
    async fn fetch(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        entries: impl IntoIterator<Item = String>,
    ) -> Option<(Vec<Option<Vec<u8>>>, Generation)> {
        let read_at = Instant::now();
        let mut keys = vec![self.generation_key(org)];
        keys.extend(kind.own_generation().map(|name| self.own_generation_key(name, org)));
        let generations = keys.len();
        keys.extend(entries);
        let (mut values,): (Vec<Option<Vec<u8>>>,) = self
            .run("get", || {
                let mut pipe = redis::pipe();
                pipe.cmd("MGET").arg(&keys);
                pipe
            })
            .await?;
        let mut counter = |at: usize| -> i64 {
            values
                .get_mut(at)
                .filter(|_| at < generations)
                .and_then(Option::take)
                .and_then(|raw| String::from_utf8(raw).ok()?.parse().ok())
                .unwrap_or(0)
        };
        let generation = Generation { organization: counter(0), own: counter(1), read_at };
        values.drain(..generations);
        Some((values, generation))
    }

    /// Looks up many entries in one round trip; misses (and stale generations) are `None`.
    pub async fn get_many<T: DeserializeOwned>(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        ids: &[impl Display],
    ) -> (Vec<Option<T>>, Generation) {
        let keys = ids.iter().map(|id| self.key(kind, org, id));
        let Some((values, generation)) = self.fetch(kind, org, keys).await else {
            answered(DATABASE, ids.len());
            return (ids.iter().map(|_| None).collect(), Generation::unknown());
        };
        let entries: Vec<Option<T>> = values
            .into_iter()
            .map(|raw| {
                let stamped: Stamped<T> = serde_json::from_slice(&raw?).ok()?;
                let current = stamped.generation == generation.organization && stamped.own_generation == generation.own;
                current.then_some(stamped.value)
            })
            .collect();
        count_fetched(&entries);
        (entries, generation)
    }

    /// Looks up many encoded entries (see [`Edge`]) in one round trip, none when the near cache
    /// holds them all; each hit is the encoded answer as it was stored.
    pub async fn get_encoded(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        ids: &[impl Display],
    ) -> (Vec<Option<Vec<u8>>>, Generation) {
        let keys: Vec<String> = ids.iter().map(|id| self.key(kind, org, id)).collect();
        // Kinds with a generation of their own change without their keys being named.
        let near = self.near.as_deref().filter(|_| kind.own_generation().is_none());
        if let Some(hits) = near.and_then(|near| keys.iter().map(|key| near.get(key).map(Some)).collect()) {
            answered(NEAR, ids.len());
            return (hits, Generation::unknown());
        }
        let epoch = near.and_then(NearCache::epoch);
        let Some((values, generation)) = self.fetch(kind, org, keys.iter().cloned()).await else {
            answered(DATABASE, ids.len());
            return (ids.iter().map(|_| None).collect(), Generation::unknown());
        };
        let stamp = generation.organization.to_le_bytes();
        let entries = values
            .into_iter()
            .zip(keys)
            .map(|(raw, key)| {
                let mut raw = raw?;
                if raw.get(..STAMP_BYTES) != Some(&stamp[..]) {
                    return None;
                }
                raw.drain(..STAMP_BYTES);
                if let (Some(near), Some(epoch)) = (near, epoch) {
                    near.store(epoch, key, &raw);
                }
                Some(raw)
            })
            .collect::<Vec<_>>();
        count_fetched(&entries);
        (entries, generation)
    }

    /// Stores entries read at `generation`, each with the kind's TTL, in one round trip.
    pub async fn put_many<T: Serialize>(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        generation: Generation,
        entries: &[(String, &T)],
    ) {
        let values = entries.iter().filter_map(|(id, value)| {
            let stamped = Stamped { generation: generation.organization, own_generation: generation.own, value };
            Some((self.key(kind, org, id), serde_json::to_vec(&stamped).ok()?))
        });
        self.store(kind, generation, values).await;
    }

    /// Stores encoded answers (see [`Edge`]) read at `generation`.
    pub async fn put_encoded(
        &self,
        kind: CacheKind,
        org: OrganizationId,
        generation: Generation,
        entries: &[(impl Display, &[u8])],
    ) {
        let values = entries.iter().map(|(id, encoded)| {
            let mut value = Vec::with_capacity(STAMP_BYTES + encoded.len());
            value.extend_from_slice(&generation.organization.to_le_bytes());
            value.extend_from_slice(encoded);
            (self.key(kind, org, id), value)
        });
        self.store(kind, generation, values).await;
    }

    /// One call of [`FILL_SCRIPT`] for all the entries (key, value), unless the read was not
    /// safe to fill from: Redis unreadable a moment ago, or the read began too long ago.
    async fn store(&self, kind: CacheKind, generation: Generation, entries: impl Iterator<Item = (String, Vec<u8>)>) {
        if !generation.may_fill() {
            return;
        }
        let (keys, values): (Vec<String>, Vec<Vec<u8>>) = entries.unzip();
        if keys.is_empty() {
            return;
        }
        let _: Option<()> = self
            .run("put", || {
                let mut pipe = redis::pipe();
                pipe.cmd("EVAL").arg(FILL_SCRIPT).arg(keys.len()).arg(&keys).arg(kind.ttl(self)).arg(&values).ignore();
                pipe
            })
            .await;
    }

    /// Drops entries (a kind and an entity's id each) and their encodings, leaving a tombstone
    /// in each key for [`TOMBSTONE_SECS`], and, when a product or variant is among them, every
    /// search of the organization (its search generation). Call after the write that changed
    /// them committed; one round trip for all of them.
    pub async fn invalidate(&self, org: OrganizationId, stale: impl IntoIterator<Item = (CacheKind, uuid::Uuid)>) {
        let mut searches = false;
        let keys: Vec<String> = stale
            .into_iter()
            .inspect(|(kind, _)| searches |= matches!(kind, CacheKind::Product | CacheKind::Variant))
            .flat_map(|(kind, id)| kind.with_encodings().iter().map(move |kind| self.key(*kind, org, id)))
            .collect();
        if keys.is_empty() {
            return;
        }
        let _: Option<()> = self
            .run("invalidate", || {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("SET").arg(key).arg(TOMBSTONE).arg("EX").arg(TOMBSTONE_SECS).ignore();
                }
                pipe.cmd("PUBLISH").arg(self.invalidations_channel()).arg(keys.join("\n")).ignore();
                if searches {
                    pipe.cmd("INCR").arg(self.own_generation_key("search-gen", org)).ignore();
                }
                pipe
            })
            .await;
        if let Some(near) = &self.near {
            near.forget(keys.iter().map(String::as_str));
        }
    }

    /// Invalidates every entry of the organization at once (O(1), no keyspace scan).
    /// Near caches forget everything (they hold no generation to compare).
    pub async fn invalidate_organization(&self, org: OrganizationId) -> bool {
        let bumped = self.bump("invalidate_organization", self.generation_key(org), true).await;
        if let Some(near) = &self.near {
            near.forget_all();
        }
        bumped
    }

    /// Invalidates every explosion of the organization at once (no near cache holds them).
    pub async fn invalidate_explosions(&self, org: OrganizationId) -> bool {
        self.bump("invalidate_explosions", self.own_generation_key("recipe-gen", org), false).await
    }

    async fn bump(&self, what: &str, key: String, announce: bool) -> bool {
        let bumped: Option<()> = self
            .run(what, || {
                let mut pipe = redis::pipe();
                pipe.cmd("INCR").arg(&key).ignore();
                if announce {
                    pipe.cmd("PUBLISH").arg(self.invalidations_channel()).arg(near::FORGET_ALL).ignore();
                }
                pipe
            })
            .await;
        bumped.is_some()
    }
}
