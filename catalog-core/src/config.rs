//! Settings: defaults ← optional TOML file (`CATALOG_CONFIG`) ← environment.
//!
//! Environment variables use the seed's flat names (`GRPC_PORT`, `DATABASE_POOL_SIZE`, ...), which
//! do not split unambiguously on `_`, so each setting names its variable where it is declared
//! (one line per setting in a [`settings_section!`], with its type and default); [`ENV_VARS`]
//! lists them all.
//! A bad value fails at start with a message naming the variable.
//!
//! The operators' page (design 04) names some settings differently: those names are aliases of
//! today's, converted to today's unit (seconds → milliseconds, Python log levels). When a name
//! and its alias are both set they must agree (after conversion) or start-up fails naming both:
//! silently preferring one would hide the other's intent. Names the page documents that mean
//! nothing here are accepted and ignored, each with its reason (`check-config` prints them).
//! A set variable in the service's own namespace ([`OWNED_PREFIXES`]) that is not in the list
//! is reported as unknown (a typo such as `DATABASE_POOL_SZIE`), never fatal.

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// Why the settings cannot be loaded; the message names the variables at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

type Result<T> = std::result::Result<T, ConfigError>;

/// One environment variable the service reads or accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    pub reading: Reading,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Today's name of a settings key.
    Key { key: &'static str, unit: Unit },
    /// Another name (design page 04) for the setting of the variable `of`, given in `unit`.
    Alias { of: &'static str, unit: Unit },
    /// Qualifies another variable: `RATE_LIMIT_WINDOW` is the period of `RATE_LIMIT_REQUESTS`.
    PartOf { of: &'static str },
    /// Documented on page 04 but meaningless here: accepted so start-up never fails on it.
    Ignored { reason: &'static str },
}

/// How a value is turned into the settings key's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    AsIs,
    /// Seconds (fractions allowed) into whole milliseconds.
    SecsToMs,
    /// Python level names (`INFO`, `WARNING`, `CRITICAL`) into tracing's; directives pass.
    LogLevel,
    /// Requests per `RATE_LIMIT_WINDOW` seconds (default 60) into requests per minute.
    PerWindow,
}

const fn key_in(name: &'static str, key: &'static str, unit: Unit) -> EnvVar {
    EnvVar { name, reading: Reading::Key { key, unit } }
}
const fn alias(name: &'static str, of: &'static str) -> EnvVar {
    EnvVar { name, reading: Reading::Alias { of, unit: Unit::AsIs } }
}
const fn alias_in(name: &'static str, of: &'static str, unit: Unit) -> EnvVar {
    EnvVar { name, reading: Reading::Alias { of, unit } }
}
const fn ignored(name: &'static str, reason: &'static str) -> EnvVar {
    EnvVar { name, reading: Reading::Ignored { reason } }
}

/// One section of the settings (`[grpc]`, `GRPC_*`), each setting declared once: its field
/// (type and doc), its default as a TOML literal (none: unset, for `Option`s), and the variable
/// that sets it (`in Unit`: given in another unit). Generates the struct and its [`Section`].
macro_rules! settings_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $section:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $ty:ty $(= $default:literal)?, env $env:ident $(in $unit:ident)?;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Deserialize, Serialize)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $name {
            const SECTION: Section = Section {
                name: stringify!($section),
                names: &[$(
                    key_in(
                        stringify!($env),
                        concat!(stringify!($section), ".", stringify!($field)),
                        settings_section!(@unit $($unit)?),
                    ),
                )*],
                defaults: &[$( (stringify!($field), settings_section!(@default $($default)?)), )*],
            };
        }
    };
    (@unit) => { Unit::AsIs };
    (@unit $unit:ident) => { Unit::$unit };
    (@default) => { None };
    (@default $default:literal) => { Some(stringify!($default)) };
}

/// What a [`settings_section!`] declares besides its struct.
struct Section {
    /// The TOML table (`grpc`).
    name: &'static str,
    /// Today's variable of each setting.
    names: &'static [EnvVar],
    /// (field, default as a TOML literal); `None`: unset.
    defaults: &'static [(&'static str, Option<&'static str>)],
}

/// Every section, in [`Settings`]' order.
const SECTIONS: &[Section] = &[
    ServiceSettings::SECTION,
    GrpcSettings::SECTION,
    ApiSettings::SECTION,
    WorkerSettings::SECTION,
    DatabaseSettings::SECTION,
    RedisSettings::SECTION,
    RabbitSettings::SECTION,
    AuthSettings::SECTION,
    InventorySettings::SECTION,
    CacheSettings::SECTION,
    StorageSettings::SECTION,
    PaginationSettings::SECTION,
    LogSettings::SECTION,
];

/// The defaults of every section as one TOML document, the first of the sources.
fn defaults_toml() -> String {
    let mut toml = String::new();
    for section in SECTIONS {
        let _ = writeln!(toml, "[{}]", section.name);
        for (field, default) in section.defaults {
            if let Some(literal) = default {
                let _ = writeln!(toml, "{field} = {literal}");
            }
        }
    }
    toml
}

/// Today's names come from the settings sections ([`SECTIONS`]); these are the others: the
/// design page's aliases, and the names it documents that mean nothing here.
const OTHER_NAMES: &[EnvVar] = &[
    alias("RATE_LIMIT_ENABLED", "API_RATE_LIMIT_ENABLED"),
    alias_in("RATE_LIMIT_REQUESTS", "API_RATE_LIMIT_READ_PER_MINUTE", Unit::PerWindow),
    EnvVar { name: "RATE_LIMIT_WINDOW", reading: Reading::PartOf { of: "RATE_LIMIT_REQUESTS" } },
    alias("CORS_ORIGINS", "API_CORS_ORIGINS"),
    ignored(
        "CORS_ALLOW_CREDENTIALS",
        "callers authenticate with a bearer token, never cookies, so browsers need no credentialed CORS",
    ),
    ignored(
        "ENFORCE_TENANT_ISOLATION",
        "always on: every query is filtered by the token's organization, it cannot be turned off",
    ),
    ignored("SERVICE_NAME", "each binary names itself (catalog-grpc, catalog-api, catalog-worker)"),
    ignored("SERVICE_VERSION", "each binary reports the version it was built as"),
    ignored("DATABASE_MAX_OVERFLOW", "the pool has a fixed size (DATABASE_POOL_SIZE), no overflow connections"),
    alias_in("DATABASE_POOL_TIMEOUT", "DATABASE_CONNECT_TIMEOUT_MS", Unit::SecsToMs),
    alias("REDIS_MAX_CONNECTIONS", "REDIS_POOL_SIZE"),
    alias("RABBITMQ_PREFETCH_COUNT", "RABBITMQ_PREFETCH"),
    alias("RABBITMQ_EXCHANGE_CATALOG", "RABBITMQ_EXCHANGE"),
    ignored(
        "RABBITMQ_QUEUE_CATALOG",
        "the worker has one queue per source (catalog.auth_events, catalog.pricing_events, \
         catalog.cache_invalidation), named apart only by RABBITMQ_QUEUE_PREFIX",
    ),
    ignored(
        "RABBITMQ_QUEUE_AUTH_EVENTS",
        "the auth events queue is catalog.auth_events, named apart only by RABBITMQ_QUEUE_PREFIX",
    ),
    alias("AUTH_GRPC_MAX_RETRIES", "AUTH_GRPC_RETRIES"),
    alias_in("AUTH_GRPC_RETRY_DELAY", "AUTH_GRPC_RETRY_DELAY_MS", Unit::SecsToMs),
    ignored("AUTH_REST_URL", "there is no REST fallback: the Auth Service is asked over gRPC only"),
    ignored("AUTH_REST_TIMEOUT", "there is no REST fallback: the Auth Service is asked over gRPC only"),
    ignored(
        "CIRCUIT_BREAKER_TIMEOUT",
        "each call is bounded by AUTH_GRPC_TIMEOUT; how long the circuit stays open is \
         CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
    ),
    alias("CACHE_TTL_PRODUCTS", "CACHE_TTL_PRODUCT"),
    alias("CACHE_TTL_VARIANTS", "CACHE_TTL_VARIANT"),
    ignored("CACHE_TTL_DEFAULT", "every cached kind has its own TTL (CACHE_TTL_PRODUCT, _VARIANT, _AUTH)"),
    ignored("CACHE_TTL_OPTIONS", "options are not cached: they are read with their product"),
    ignored("CACHE_TTL_LOCALS", "locals are not cached: they come with the caller's token"),
    ignored("LOG_FILE", "logs go to standard output, for the container runtime to collect"),
    ignored("LOG_MAX_BYTES", "logs go to standard output, for the container runtime to collect"),
    ignored("LOG_BACKUP_COUNT", "logs go to standard output, for the container runtime to collect"),
];

/// The only list of variables the service reads besides `CATALOG_CONFIG`: every section's
/// names, then [`OTHER_NAMES`]; `check-config`, the README's table and the manifests
/// (deploy/check_manifests.py) cross-check against it.
pub static ENV_VARS: LazyLock<Vec<EnvVar>> =
    LazyLock::new(|| SECTIONS.iter().flat_map(|section| section.names).chain(OTHER_NAMES).copied().collect());

/// The one variable read outside [`ENV_VARS`]: names an optional TOML settings file.
pub const CONFIG_FILE_VAR: &str = "CATALOG_CONFIG";

/// Prefixes of the service's own namespace: a set variable starting with one of them that is
/// not in [`ENV_VARS`] is reported as unknown. `CATALOG_` is left out on purpose: Kubernetes
/// injects `CATALOG_GRPC_SERVICE_HOST` and the like for our own Services, and the only
/// `CATALOG_` variable we read is `CATALOG_CONFIG`.
pub const OWNED_PREFIXES: &[&str] = &[
    "GRPC_",
    "API_",
    "WORKER_",
    "DATABASE_",
    "REDIS_",
    "RABBITMQ_",
    "AUTH_",
    "JWT_",
    "CACHE_",
    "PAGINATION_",
    "STORAGE_",
    "LOG_",
    "RATE_LIMIT_",
    "CIRCUIT_BREAKER_",
    "CORS_",
    "TENANT_",
    "INVENTORY_",
    "STOCK_",
];

/// The entry of a variable name.
pub fn env_var(name: &str) -> Option<&'static EnvVar> {
    ENV_VARS.iter().find(|v| v.name == name)
}

/// The settings key a variable ends up in (through its alias target), if it sets one.
pub fn key_of(name: &str) -> Option<&'static str> {
    match env_var(name)?.reading {
        Reading::Key { key, .. } => Some(key),
        Reading::Alias { of, .. } => key_of(of),
        Reading::PartOf { .. } | Reading::Ignored { .. } => None,
    }
}

/// Whether a variable is one Kubernetes injects for a Service (`enableServiceLinks`): for a
/// Service `redis`, `REDIS_SERVICE_HOST`, `REDIS_SERVICE_PORT[_NAME]`, `REDIS_PORT=tcp://…`,
/// `REDIS_PORT_6379_TCP[_ADDR|_PORT|_PROTO]`.
fn is_service_link(name: &str, value: &str) -> bool {
    if name.contains("_SERVICE_HOST") || name.contains("_SERVICE_PORT") {
        return true;
    }
    if name.ends_with("_PORT") && ["tcp://", "udp://", "sctp://"].iter().any(|s| value.starts_with(s)) {
        return true;
    }
    // `<SVC>_PORT_<number>_<protocol>...`
    name.split("_PORT_").skip(1).any(|rest| {
        let mut parts = rest.split('_');
        let number = parts.next().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        number && matches!(parts.next(), Some("TCP" | "UDP" | "SCTP"))
    })
}

/// What the environment says beyond the settings themselves: for `check-config` and the
/// start-up log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvReport {
    /// Set, in the service's namespace, not read: probably a typo.
    pub unknown: Vec<String>,
    /// Set, documented, meaningless here: (name, why).
    pub ignored: Vec<(String, &'static str)>,
    /// Set aliases: (alias, the variable it stands for).
    pub aliases: Vec<(String, &'static str)>,
}

impl EnvReport {
    pub fn from_env(vars: &[(String, String)]) -> Self {
        let mut report = Self::default();
        for (name, value) in vars {
            match env_var(name).map(|v| v.reading) {
                Some(Reading::Ignored { reason }) => report.ignored.push((name.clone(), reason)),
                Some(Reading::Alias { of, .. }) => report.aliases.push((name.clone(), of)),
                Some(Reading::PartOf { of }) if !vars.iter().any(|(k, _)| k == of) => {
                    report.ignored.push((name.clone(), "only read together with RATE_LIMIT_REQUESTS"));
                }
                Some(_) => {}
                None if name != CONFIG_FILE_VAR
                    && OWNED_PREFIXES.iter().any(|p| name.starts_with(p))
                    && !is_service_link(name, value) =>
                {
                    report.unknown.push(name.clone());
                }
                None => {}
            }
        }
        report.unknown.sort();
        report.unknown.dedup();
        report.ignored.sort();
        report.ignored.dedup();
        report.aliases.sort();
        report.aliases.dedup();
        report
    }

    /// Logs each finding once at start-up.
    pub fn log(&self) {
        for name in &self.unknown {
            tracing::warn!(variable = %name, "unknown variable in the service's namespace: not read (a typo?)");
        }
        for (name, reason) in &self.ignored {
            tracing::info!(variable = %name, reason, "variable accepted and ignored");
        }
    }

    /// `# ...` lines for `check-config`: comments, so its output keeps its TOML shape.
    pub fn comments(&self) -> String {
        let mut out = String::new();
        for (name, of) in &self.aliases {
            out.push_str(&format!("# {name}: read as {of}\n"));
        }
        for (name, reason) in &self.ignored {
            out.push_str(&format!("# {name}: accepted and ignored: {reason}\n"));
        }
        for name in &self.unknown {
            out.push_str(&format!("# {name}: UNKNOWN, not read (a typo?)\n"));
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }
}

/// A value that must never reach logs or `check-config` output.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"[redacted]\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[redacted]" })
    }
}

/// A connection URL whose password is masked when shown.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// `scheme://user:****@host/...`
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.clone() };
        let Some(at) = url[scheme_end..].find('@').map(|i| i + scheme_end) else { return url.clone() };
        match url[scheme_end..at].find(':') {
            Some(colon) => format!("{}****{}", &url[..scheme_end + colon + 1], &url[at..]),
            None => url.clone(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub service: ServiceSettings,
    pub grpc: GrpcSettings,
    pub api: ApiSettings,
    pub worker: WorkerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub rabbitmq: RabbitSettings,
    pub auth: AuthSettings,
    pub inventory: InventorySettings,
    pub cache: CacheSettings,
    pub storage: StorageSettings,
    pub pagination: PaginationSettings,
    pub log: LogSettings,
}

settings_section! {
    /// Where uploaded images' files go (page 22 "Storage y CDN").
    pub struct StorageSettings in storage {
        backend: StorageBackend = "local", env STORAGE_BACKEND;
        /// `local`: the directory the files are written under (the API serves it at `/media/`).
        local_path: String = "data/media", env STORAGE_LOCAL_PATH;
        /// Prepended to an object's key to make the URL answers carry: a CDN in production.
        public_base_url: String = "http://127.0.0.1:8002/media", env STORAGE_PUBLIC_BASE_URL;
        /// `s3`: any S3-compatible store; an empty endpoint means AWS itself.
        s3_endpoint: String = "", env STORAGE_S3_ENDPOINT;
        s3_bucket: String = "catalog-media", env STORAGE_S3_BUCKET;
        s3_region: String = "us-east-1", env STORAGE_S3_REGION;
        s3_access_key_id: Secret = "", env STORAGE_S3_ACCESS_KEY_ID;
        s3_secret_access_key: Secret = "", env STORAGE_S3_SECRET_ACCESS_KEY;
        /// `bucket` in the path rather than the host name: what self-hosted stores expect.
        s3_path_style: bool = true, env STORAGE_S3_PATH_STYLE;
        /// Images rendered at once (CPU work, off the async runtime); further uploads wait.
        image_workers: usize = 2, env STORAGE_IMAGE_WORKERS;
        /// `s3`: how long one store call may take, retries included (then 503 / retried later).
        timeout_ms: u64 = 10000, env STORAGE_TIMEOUT_MS;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

settings_section! {
    pub struct ServiceSettings in service {
        /// Where this deployment runs (`production`, `staging`, ...); logged at start-up.
        environment: String = "production", env ENVIRONMENT;
    }
}

settings_section! {
    pub struct GrpcSettings in grpc {
        host: String = "0.0.0.0", env GRPC_HOST;
        port: u16 = 50052, env GRPC_PORT;
        /// Requests served concurrently (the seed's thread-pool size).
        max_workers: usize = 10, env GRPC_MAX_WORKERS;
        /// Server reflection; development only.
        reflection: bool = false, env GRPC_REFLECTION;
        max_batch_size: usize = 1000, env GRPC_MAX_BATCH_SIZE;
        metrics_port: u16 = 9101, env GRPC_METRICS_PORT;
        /// When set, callers must send `authorization: Bearer <token>`.
        service_token: Secret = "", env GRPC_SERVICE_TOKEN;
        tls_cert_path: Option<String>, env GRPC_TLS_CERT_PATH;
        tls_key_path: Option<String>, env GRPC_TLS_KEY_PATH;
    }
}

settings_section! {
    pub struct ApiSettings in api {
        host: String = "0.0.0.0", env API_HOST;
        port: u16 = 8002, env API_PORT;
        /// actix worker threads; 0 means one per core.
        workers: usize = 0, env API_WORKERS;
        body_limit_bytes: usize = 1048576, env API_BODY_LIMIT_BYTES;
        /// Off: no request is ever refused with 429.
        rate_limit_enabled: bool = true, env API_RATE_LIMIT_ENABLED;
        /// Per user, every kind together: a ceiling over the per-kind budgets below.
        rate_limit_per_minute: u32 = 600, env API_RATE_LIMIT_PER_MINUTE;
        /// Per user: GET requests other than price calculation.
        rate_limit_read_per_minute: u32 = 100, env API_RATE_LIMIT_READ_PER_MINUTE;
        /// Per user: POST, PUT, PATCH, DELETE other than uploads.
        rate_limit_write_per_minute: u32 = 20, env API_RATE_LIMIT_WRITE_PER_MINUTE;
        /// Per user: `GET /variants/{id}/price` and `/calculate-price`.
        rate_limit_price_per_minute: u32 = 200, env API_RATE_LIMIT_PRICE_PER_MINUTE;
        /// Per user: image additions and `POST /imports`.
        rate_limit_upload_per_minute: u32 = 10, env API_RATE_LIMIT_UPLOAD_PER_MINUTE;
        /// Comma-separated allowed origins; empty means CORS closed.
        cors_origins: String = "", env API_CORS_ORIGINS;
        tenant_header_name: String = "X-Tenant-ID", env TENANT_HEADER_NAME;
    }
}

settings_section! {
    pub struct WorkerSettings in worker {
        host: String = "0.0.0.0", env WORKER_HOST;
        port: u16 = 9102, env WORKER_PORT;
        outbox_batch_size: i64 = 500, env WORKER_OUTBOX_BATCH_SIZE;
        outbox_poll_ms: u64 = 1000, env WORKER_OUTBOX_POLL_MS;
        outbox_retention_hours: u32 = 72, env WORKER_OUTBOX_RETENTION_HOURS;
        max_retries: u32 = 5, env WORKER_MAX_RETRIES;
        /// When set, the outbox partition count this worker applies at start (1–64): each
        /// partition is relayed by one replica at a time. Unset: the count in the database.
        outbox_partitions: Option<u32>, env WORKER_OUTBOX_PARTITIONS;
    }
}

settings_section! {
    pub struct DatabaseSettings in database {
        url: Option<SecretUrl>, env DATABASE_URL;
        host: String = "127.0.0.1", env DATABASE_HOST;
        port: u16 = 5432, env DATABASE_PORT;
        name: String = "catalog", env DATABASE_NAME;
        user: String = "postgres", env DATABASE_USER;
        password: Secret = "", env DATABASE_PASSWORD;
        pool_size: u32 = 10, env DATABASE_POOL_SIZE;
        pool_min_idle: u32 = 1, env DATABASE_POOL_MIN_IDLE;
        /// How long a request waits for a pooled connection (bb8 `connection_timeout`).
        connect_timeout_ms: u64 = 3000, env DATABASE_CONNECT_TIMEOUT_MS;
        /// Connections older than this are closed and replaced; 0 keeps them.
        pool_recycle_secs: u64 = 1800, env DATABASE_POOL_RECYCLE;
        statement_timeout_ms: u64 = 5000, env DATABASE_STATEMENT_TIMEOUT_MS;
        /// Read replicas, comma-separated URLs: gRPC reads and REST GETs go there when caught up.
        read_url: Option<SecretUrl>, env DATABASE_READ_URL;
        /// A replica further behind than this (replay time) is skipped: reads go to the primary.
        read_max_lag_ms: u64 = 1000, env DATABASE_READ_MAX_LAG_MS;
        /// How long a writer's reads carry its write's position (the `catalog_read_after` cookie).
        read_after_write_secs: u64 = 60, env DATABASE_READ_AFTER_WRITE_SECS;
    }
}

impl DatabaseSettings {
    /// `DATABASE_URL` when given, else assembled from the `DATABASE_*` parts.
    pub fn url(&self) -> SecretUrl {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let auth = if self.password.is_empty() {
            self.user.clone()
        } else {
            format!("{}:{}", self.user, self.password.expose())
        };
        SecretUrl(format!("postgres://{auth}@{}:{}/{}", self.host, self.port, self.name))
    }
}

settings_section! {
    pub struct RedisSettings in redis {
        url: Option<SecretUrl>, env REDIS_URL;
        host: String = "127.0.0.1", env REDIS_HOST;
        port: u16 = 6379, env REDIS_PORT;
        db: u32 = 0, env REDIS_DB;
        password: Secret = "", env REDIS_PASSWORD;
        pool_size: u32 = 16, env REDIS_POOL_SIZE;
        timeout_ms: u64 = 200, env REDIS_TIMEOUT_MS;
        /// Prepended to every key: lets several deployments (or tests) share one Redis.
        key_prefix: String = "", env REDIS_KEY_PREFIX;
    }
}

impl RedisSettings {
    pub fn url(&self) -> SecretUrl {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let auth = if self.password.is_empty() { String::new() } else { format!(":{}@", self.password.expose()) };
        SecretUrl(format!("redis://{auth}{}:{}/{}", self.host, self.port, self.db))
    }
}

settings_section! {
    pub struct RabbitSettings in rabbitmq {
        url: Option<SecretUrl>, env RABBITMQ_URL;
        host: String = "127.0.0.1", env RABBITMQ_HOST;
        port: u16 = 5672, env RABBITMQ_PORT;
        user: String = "guest", env RABBITMQ_USER;
        password: Secret = "guest", env RABBITMQ_PASSWORD;
        vhost: String = "/", env RABBITMQ_VHOST;
        prefetch: u16 = 10, env RABBITMQ_PREFETCH;
        exchange: String = "catalog_events", env RABBITMQ_EXCHANGE;
        /// The Auth Service's exchange the worker consumes from.
        auth_exchange: String = "auth_events", env RABBITMQ_EXCHANGE_AUTH;
        /// Prepended to queue names (tests run side by side on one broker).
        queue_prefix: String = "", env RABBITMQ_QUEUE_PREFIX;
        /// `quorum` (replicated across a cluster's nodes) or `classic` (single-node development).
        queue_type: QueueType = "quorum", env RABBITMQ_QUEUE_TYPE;
        /// Quorum queues only: a message delivered this many times without an acknowledgement
        /// (its consumer died handling it each time) is dead-lettered by the broker.
        delivery_limit: u32 = 10, env RABBITMQ_DELIVERY_LIMIT;
    }
}

/// How the worker's queues are declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

impl RabbitSettings {
    /// The Auth Service's exchange as bound here (prefixed like the queues).
    pub fn auth_exchange_name(&self) -> String {
        format!("{}{}", self.queue_prefix, self.auth_exchange)
    }

    /// The Pricing Service's exchange as bound here (`pricing_events`, prefixed like the queues).
    pub fn pricing_exchange_name(&self) -> String {
        format!("{}pricing_events", self.queue_prefix)
    }

    /// The Inventory Service's exchange as bound here (`inventory_events`, prefixed like the queues).
    pub fn inventory_exchange_name(&self) -> String {
        format!("{}inventory_events", self.queue_prefix)
    }

    pub fn url(&self) -> SecretUrl {
        if let Some(url) = &self.url {
            return url.clone();
        }
        let vhost = if self.vhost == "/" { "%2f".to_string() } else { self.vhost.clone() };
        SecretUrl(format!(
            "amqp://{}:{}@{}:{}/{vhost}?heartbeat=30",
            self.user,
            self.password.expose(),
            self.host,
            self.port
        ))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every token verified by the Auth Service (`AuthService.VerifyToken`), results cached.
    Grpc,
    /// RS256 tokens verified locally with the Auth Service's public key.
    Jwt,
    /// Local development only: HS256 tokens signed with `AUTH_DEV_SECRET`.
    Dev,
}

settings_section! {
    pub struct AuthSettings in auth {
        mode: AuthMode = "grpc", env AUTH_MODE;
        grpc_host: String = "127.0.0.1", env AUTH_GRPC_HOST;
        grpc_port: u16 = 50051, env AUTH_GRPC_PORT;
        grpc_timeout_secs: u64 = 5, env AUTH_GRPC_TIMEOUT;
        grpc_retries: u32 = 2, env AUTH_GRPC_RETRIES;
        /// First delay between retries; doubles per attempt, at most one second.
        grpc_retry_delay_ms: u64 = 50, env AUTH_GRPC_RETRY_DELAY_MS;
        /// Consecutive failed calls that open the circuit.
        breaker_failure_threshold: u32 = 5, env CIRCUIT_BREAKER_FAILURE_THRESHOLD;
        /// How long an open circuit refuses calls before one trial call.
        breaker_recovery_secs: u64 = 10, env CIRCUIT_BREAKER_RECOVERY_TIMEOUT;
        jwt_public_key_path: Option<String>, env JWT_PUBLIC_KEY_PATH;
        jwt_algorithm: String = "RS256", env JWT_ALGORITHM;
        dev_secret: Secret = "", env AUTH_DEV_SECRET;
    }
}

settings_section! {
    /// The Inventory Service, which owns stock: its gRPC server repairs the catalog's stock read
    /// model (`stock-resync`, the worker's periodic reconciliation). Calls share the Auth client's
    /// circuit-breaker settings (`CIRCUIT_BREAKER_*`).
    pub struct InventorySettings in inventory {
        /// Empty: no Inventory to ask (the model is kept from events alone).
        grpc_host: String = "", env INVENTORY_GRPC_HOST;
        grpc_port: u16 = 50053, env INVENTORY_GRPC_PORT;
        grpc_timeout_secs: u64 = 5, env INVENTORY_GRPC_TIMEOUT;
        grpc_retries: u32 = 2, env INVENTORY_GRPC_RETRIES;
        /// Variants per `CheckBulkAvailability` call.
        batch_size: usize = 100, env INVENTORY_BATCH_SIZE;
        /// How often the worker compares the model with Inventory; 0 turns it off.
        reconcile_interval_secs: u64 = 900, env STOCK_RECONCILE_INTERVAL_SECS;
        /// Stock answers say `stale: true` once neither Inventory's events nor a successful call to
        /// Inventory have told the catalog anything for this long.
        stale_after_secs: u64 = 1800, env STOCK_STALE_AFTER_SECS;
        /// Inventory's stock events the worker applies in one transaction (at most; as many as
        /// have arrived). Its queue's prefetch is twice this, so the next batch arrives meanwhile.
        events_batch_size: u16 = 200, env STOCK_EVENTS_BATCH_SIZE;
    }
}

impl InventorySettings {
    pub fn configured(&self) -> bool {
        !self.grpc_host.trim().is_empty()
    }
}

settings_section! {
    pub struct CacheSettings in cache {
        ttl_product_secs: u64 = 3600, env CACHE_TTL_PRODUCT;
        ttl_variant_secs: u64 = 3600, env CACHE_TTL_VARIANT;
        ttl_auth_secs: u64 = 300, env CACHE_TTL_AUTH;
        /// How long the gRPC and REST processes keep an answer Redis served in memory; invalidations
        /// reach them at once, this bounds staleness only if they are lost. `0`: no near cache.
        near_ttl_ms: u64 = 2000, env CACHE_NEAR_TTL_MS;
        /// The near cache's bound, per process.
        near_max_mb: u64 = 16, env CACHE_NEAR_MAX_MB;
    }
}

settings_section! {
    pub struct PaginationSettings in pagination {
        /// The smallest page size a client may ask for.
        min_limit: i64 = 1, env PAGINATION_MIN_LIMIT;
        default_limit: i64 = 20, env PAGINATION_DEFAULT_LIMIT;
        max_limit: i64 = 100, env PAGINATION_MAX_LIMIT;
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

settings_section! {
    pub struct LogSettings in log {
        level: String = "info", env LOG_LEVEL in LogLevel;
        format: LogFormat = "json", env LOG_FORMAT;
    }
}

impl Settings {
    /// Loads from the process environment (and `CATALOG_CONFIG`, if set).
    pub fn load() -> Result<Self> {
        Self::from_env(std::env::vars())
    }

    /// Loads from an explicit environment: tests pass their own instead of mutating the process's.
    /// When a variable appears twice the later one wins, as in a shell.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(&defaults_toml(), config::FileFormat::Toml));
        if let Some(path) = last(&vars, CONFIG_FILE_VAR) {
            builder = builder.add_source(config::File::with_name(path).required(true));
        }
        for (key, set) in values_by_key(&vars)? {
            let (first, value) = &set[0];
            if let Some((other, _)) = set.iter().find(|(_, v)| v != value) {
                return Err(ConfigError(format!(
                    "{first} and {other} both set {key}, to different values (after unit conversion): set one"
                )));
            }
            builder = builder.set_override(key, value.as_str()).map_err(|e| config_error(&e, &vars))?;
        }
        let settings: Settings =
            builder.build().and_then(|c| c.try_deserialize()).map_err(|e| config_error(&e, &vars))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, var: &str, what: &str| {
            if !ok {
                problems.push(format!("{var}: {what}"));
            }
        };
        check(self.grpc.port != 0, "GRPC_PORT", "must be a port between 1 and 65535");
        check(self.api.port != 0, "API_PORT", "must be a port between 1 and 65535");
        check(self.grpc.max_workers > 0, "GRPC_MAX_WORKERS", "must be at least 1");
        check(self.grpc.max_batch_size > 0, "GRPC_MAX_BATCH_SIZE", "must be at least 1");
        check(self.storage.image_workers > 0, "STORAGE_IMAGE_WORKERS", "must be at least 1");
        check(self.storage.timeout_ms >= 100, "STORAGE_TIMEOUT_MS", "must be at least 100");
        check(
            self.storage.backend != StorageBackend::S3 || !self.storage.s3_bucket.trim().is_empty(),
            "STORAGE_S3_BUCKET",
            "is required with STORAGE_BACKEND=s3",
        );
        check(
            self.grpc.tls_cert_path.is_some() == self.grpc.tls_key_path.is_some(),
            "GRPC_TLS_CERT_PATH",
            "and GRPC_TLS_KEY_PATH must be set together",
        );
        check(self.database.pool_size > 0, "DATABASE_POOL_SIZE", "must be at least 1");
        check(self.redis.pool_size > 0, "REDIS_POOL_SIZE", "must be at least 1");
        check(self.rabbitmq.prefetch > 0, "RABBITMQ_PREFETCH", "must be at least 1");
        check(self.rabbitmq.delivery_limit > 0, "RABBITMQ_DELIVERY_LIMIT", "must be at least 1");
        let budgets = [
            (self.api.rate_limit_per_minute, "API_RATE_LIMIT_PER_MINUTE"),
            (self.api.rate_limit_read_per_minute, "API_RATE_LIMIT_READ_PER_MINUTE"),
            (self.api.rate_limit_write_per_minute, "API_RATE_LIMIT_WRITE_PER_MINUTE"),
            (self.api.rate_limit_price_per_minute, "API_RATE_LIMIT_PRICE_PER_MINUTE"),
            (self.api.rate_limit_upload_per_minute, "API_RATE_LIMIT_UPLOAD_PER_MINUTE"),
        ];
        for (per_minute, var) in budgets {
            check(per_minute > 0, var, "must be at least 1 (API_RATE_LIMIT_ENABLED=false turns limits off)");
        }
        check(self.auth.breaker_failure_threshold > 0, "CIRCUIT_BREAKER_FAILURE_THRESHOLD", "must be at least 1");
        check(self.auth.breaker_recovery_secs > 0, "CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "must be at least 1 second");
        check((1..=1000).contains(&self.inventory.batch_size), "INVENTORY_BATCH_SIZE", "must be between 1 and 1000");
        check(
            (1..=1000).contains(&self.inventory.events_batch_size),
            "STOCK_EVENTS_BATCH_SIZE",
            "must be between 1 and 1000",
        );
        check(self.inventory.stale_after_secs > 0, "STOCK_STALE_AFTER_SECS", "must be at least 1 second");
        check(self.worker.outbox_batch_size > 0, "WORKER_OUTBOX_BATCH_SIZE", "must be at least 1");
        check(
            self.worker.outbox_partitions.is_none_or(|n| (1..=64).contains(&n)),
            "WORKER_OUTBOX_PARTITIONS",
            "must be between 1 and 64",
        );
        check(self.pagination.min_limit > 0, "PAGINATION_MIN_LIMIT", "must be at least 1");
        check(
            self.pagination.default_limit >= self.pagination.min_limit,
            "PAGINATION_DEFAULT_LIMIT",
            "must be at least PAGINATION_MIN_LIMIT",
        );
        check(
            self.pagination.max_limit >= self.pagination.default_limit,
            "PAGINATION_MAX_LIMIT",
            "must be at least PAGINATION_DEFAULT_LIMIT",
        );
        check(
            self.cache.ttl_auth_secs > 0 && self.cache.ttl_auth_secs <= 300,
            "CACHE_TTL_AUTH",
            "must be between 1 and 300 seconds",
        );
        check(self.cache.near_ttl_ms <= 60_000, "CACHE_NEAR_TTL_MS", "must be at most 60000 (a minute)");
        check((1..=4096).contains(&self.cache.near_max_mb), "CACHE_NEAR_MAX_MB", "must be between 1 and 4096");
        check(
            self.log.level.parse::<tracing_subscriber::EnvFilter>().is_ok(),
            "LOG_LEVEL",
            "must be a level (error, warn, info, debug, trace) or a filter directive",
        );
        check(
            self.auth.mode != AuthMode::Jwt || self.auth.jwt_public_key_path.is_some(),
            "JWT_PUBLIC_KEY_PATH",
            "is required when AUTH_MODE=jwt",
        );
        check(self.auth.jwt_algorithm == "RS256", "JWT_ALGORITHM", "only RS256 is supported");
        check(
            self.auth.mode != AuthMode::Dev || self.auth.dev_secret.expose().len() >= 16,
            "AUTH_DEV_SECRET",
            "must be at least 16 characters when AUTH_MODE=dev",
        );
        if problems.is_empty() { Ok(()) } else { Err(ConfigError(problems.join("; "))) }
    }

    /// The effective configuration as TOML, secrets redacted (`check-config`).
    pub fn redacted_toml(&self) -> String {
        toml_like(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// The value of a variable; the later wins when it appears twice, as in a shell.
fn last<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The set variables that give one settings key a value: (variable, value in the key's unit).
type KeyValues = (&'static str, Vec<(&'static str, String)>);

/// Every set variable that sets a key, grouped by key, in [`ENV_VARS`] order (today's name
/// before its aliases).
fn values_by_key(vars: &[(String, String)]) -> Result<Vec<KeyValues>> {
    let mut by_key: Vec<KeyValues> = Vec::new();
    for var in ENV_VARS.iter() {
        let unit = match var.reading {
            Reading::Key { unit, .. } | Reading::Alias { unit, .. } => unit,
            Reading::PartOf { .. } | Reading::Ignored { .. } => continue,
        };
        let (Some(key), Some(raw)) = (key_of(var.name), last(vars, var.name)) else { continue };
        let value = convert(var.name, raw, unit, vars)?;
        match by_key.iter_mut().find(|(k, _)| *k == key) {
            Some((_, set)) => set.push((var.name, value)),
            None => by_key.push((key, vec![(var.name, value)])),
        }
    }
    Ok(by_key)
}

/// A variable's value in its settings key's unit.
fn convert(name: &str, raw: &str, unit: Unit, vars: &[(String, String)]) -> Result<String> {
    let bad = |name: &str, what: &str| ConfigError(format!("invalid value for {name}: {what}"));
    match unit {
        Unit::AsIs => Ok(raw.to_string()),
        Unit::SecsToMs => {
            let secs = raw.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0);
            let secs = secs.ok_or_else(|| bad(name, "must be a number of seconds"))?;
            Ok(format!("{}", (secs * 1000.0).round() as u64))
        }
        Unit::LogLevel => Ok(log_level(raw)),
        Unit::PerWindow => {
            let requests: u64 = raw.trim().parse().map_err(|_| bad(name, "must be a whole number of requests"))?;
            let window = match last(vars, "RATE_LIMIT_WINDOW") {
                Some(w) => w
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|w| *w > 0)
                    .ok_or_else(|| bad("RATE_LIMIT_WINDOW", "must be a whole number of seconds, at least 1"))?,
                None => 60,
            };
            Ok(requests.saturating_mul(60).div_ceil(window).to_string())
        }
    }
}

/// Python's level names (the operators' page uses them) as tracing's; anything else, such as
/// a filter directive, passes unchanged.
fn log_level(raw: &str) -> String {
    let lower = raw.trim().to_ascii_lowercase();
    match lower.as_str() {
        "warning" => "warn".into(),
        "critical" | "fatal" => "error".into(),
        "notset" => "trace".into(),
        "trace" | "debug" | "info" | "warn" | "error" | "off" => lower,
        _ => raw.to_string(),
    }
}

/// Names the environment variable behind a failing key, when there is one: the one that was
/// set (today's name or an alias), else today's name.
fn config_error(err: &config::ConfigError, vars: &[(String, String)]) -> ConfigError {
    let text = err.to_string();
    let names_key =
        |name: &str| key_of(name).is_some_and(|key| text.contains(&format!("`{key}`")) || text.contains(key));
    let set = vars.iter().map(|(k, _)| k.as_str()).find(|name| names_key(name));
    let var = set.or_else(|| ENV_VARS.iter().map(|v| v.name).find(|name| names_key(name)));
    let message = match var.and_then(|var| Some((var, key_of(var)?))) {
        Some((var, key)) => format!("invalid value for {var} ({key}): {text}"),
        None => format!("invalid configuration: {text}"),
    };
    ConfigError(message)
}

/// Renders the settings tree as TOML-style sections, for humans.
fn toml_like(value: &serde_json::Value) -> String {
    let mut out = String::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let serde_json::Value::Object(fields) = fields {
                for (name, v) in fields {
                    out.push_str(&format!("{name} = {v}\n"));
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_match_the_seed() {
        let s = Settings::from_env(env(&[])).expect("defaults load");
        assert_eq!(s.grpc.port, 50052);
        assert_eq!(s.grpc.max_workers, 10);
        assert!(!s.grpc.reflection);
        assert_eq!(s.api.port, 8002);
        assert_eq!(s.cache.ttl_product_secs, 3600);
        assert_eq!(s.pagination.default_limit, 20);
        assert_eq!(s.pagination.max_limit, 100);
        assert_eq!(s.grpc.max_batch_size, 1000);
    }

    #[test]
    fn seed_variable_names_override_defaults() {
        let s = Settings::from_env(env(&[
            ("GRPC_PORT", "6000"),
            ("GRPC_REFLECTION", "true"),
            ("DATABASE_HOST", "db.internal"),
            ("DATABASE_PASSWORD", "s3cret"),
            ("DATABASE_NAME", "cat"),
            ("REDIS_DB", "3"),
            ("LOG_FORMAT", "text"),
        ]))
        .expect("loads");
        assert_eq!(s.grpc.port, 6000);
        assert!(s.grpc.reflection);
        assert_eq!(s.database.url().expose(), "postgres://postgres:s3cret@db.internal:5432/cat");
        assert_eq!(s.redis.url().expose(), "redis://127.0.0.1:6379/3");
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn database_url_wins_over_parts() {
        let s = Settings::from_env(env(&[("DATABASE_URL", "postgres://a@b/c"), ("DATABASE_HOST", "ignored")]))
            .expect("loads");
        assert_eq!(s.database.url().expose(), "postgres://a@b/c");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = Settings::from_env(env(&[("GRPC_PORT", "not-a-port")])).expect_err("must fail");
        assert!(err.to_string().contains("GRPC_PORT"), "{err}");
        let err = Settings::from_env(env(&[("LOG_FORMAT", "xml")])).expect_err("must fail");
        assert!(err.to_string().contains("LOG_FORMAT"), "{err}");
        let err = Settings::from_env(env(&[("PAGINATION_MAX_LIMIT", "5")])).expect_err("must fail");
        assert!(err.to_string().contains("PAGINATION_MAX_LIMIT"), "{err}");
        let err = Settings::from_env(env(&[("AUTH_MODE", "jwt")])).expect_err("must fail");
        assert!(err.to_string().contains("JWT_PUBLIC_KEY_PATH"), "{err}");
    }

    #[test]
    fn every_alias_and_part_names_a_variable_that_sets_a_key() {
        for var in ENV_VARS.iter() {
            match var.reading {
                Reading::Alias { of, .. } | Reading::PartOf { of } => {
                    assert!(key_of(of).is_some(), "{} stands for {of}, which sets no key", var.name)
                }
                Reading::Key { key, .. } => assert!(key.contains('.'), "{}: {key}", var.name),
                Reading::Ignored { reason } => assert!(!reason.is_empty(), "{}", var.name),
            }
            assert_eq!(ENV_VARS.iter().filter(|v| v.name == var.name).count(), 1, "{} listed twice", var.name);
        }
    }

    #[test]
    fn documented_names_are_aliases_of_todays() {
        let s = Settings::from_env(env(&[
            ("RABBITMQ_PREFETCH_COUNT", "25"),
            ("RABBITMQ_EXCHANGE_CATALOG", "catalog_x"),
            ("CORS_ORIGINS", "http://localhost:3000,http://localhost:3001"),
            ("CACHE_TTL_PRODUCTS", "600"),
            ("CACHE_TTL_VARIANTS", "601"),
            ("REDIS_MAX_CONNECTIONS", "50"),
            ("AUTH_GRPC_MAX_RETRIES", "3"),
            ("RATE_LIMIT_ENABLED", "false"),
        ]))
        .expect("loads");
        assert_eq!(s.rabbitmq.prefetch, 25);
        assert_eq!(s.rabbitmq.exchange, "catalog_x");
        assert_eq!(s.api.cors_origins, "http://localhost:3000,http://localhost:3001");
        assert_eq!((s.cache.ttl_product_secs, s.cache.ttl_variant_secs), (600, 601));
        assert_eq!(s.redis.pool_size, 50);
        assert_eq!(s.auth.grpc_retries, 3);
        assert!(!s.api.rate_limit_enabled);
    }

    #[test]
    fn documented_seconds_become_milliseconds() {
        let s =
            Settings::from_env(env(&[("DATABASE_POOL_TIMEOUT", "30"), ("AUTH_GRPC_RETRY_DELAY", "1")])).expect("loads");
        assert_eq!(s.database.connect_timeout_ms, 30_000);
        assert_eq!(s.auth.grpc_retry_delay_ms, 1_000);
        let s = Settings::from_env(env(&[("DATABASE_POOL_TIMEOUT", "0.25")])).expect("fractions");
        assert_eq!(s.database.connect_timeout_ms, 250);
        let err = Settings::from_env(env(&[("DATABASE_POOL_TIMEOUT", "30s")])).expect_err("not a number");
        assert!(err.to_string().contains("DATABASE_POOL_TIMEOUT"), "{err}");
        let err = Settings::from_env(env(&[("DATABASE_POOL_TIMEOUT", "-1")])).expect_err("negative");
        assert!(err.to_string().contains("DATABASE_POOL_TIMEOUT"), "{err}");
    }

    #[test]
    fn requests_per_window_become_the_read_budget_per_minute() {
        let s = Settings::from_env(env(&[("RATE_LIMIT_REQUESTS", "100"), ("RATE_LIMIT_WINDOW", "60")])).expect("loads");
        assert_eq!(s.api.rate_limit_read_per_minute, 100);
        let s = Settings::from_env(env(&[("RATE_LIMIT_REQUESTS", "10"), ("RATE_LIMIT_WINDOW", "1")])).expect("loads");
        assert_eq!(s.api.rate_limit_read_per_minute, 600);
        let s =
            Settings::from_env(env(&[("RATE_LIMIT_REQUESTS", "100"), ("RATE_LIMIT_WINDOW", "3600")])).expect("loads");
        assert_eq!(s.api.rate_limit_read_per_minute, 2, "rounded up, never 0");
        let s = Settings::from_env(env(&[("RATE_LIMIT_REQUESTS", "70")])).expect("window defaults to 60");
        assert_eq!(s.api.rate_limit_read_per_minute, 70);
        let err = Settings::from_env(env(&[("RATE_LIMIT_REQUESTS", "1"), ("RATE_LIMIT_WINDOW", "0")]))
            .expect_err("no window");
        assert!(err.to_string().contains("RATE_LIMIT_WINDOW"), "{err}");
    }

    #[test]
    fn python_log_levels_are_accepted() {
        for (given, expected) in [("INFO", "info"), ("WARNING", "warn"), ("ERROR", "error"), ("CRITICAL", "error")] {
            let s = Settings::from_env(env(&[("LOG_LEVEL", given)])).expect(given);
            assert_eq!(s.log.level, expected);
        }
        let directive = "info,catalog_core=debug";
        assert_eq!(Settings::from_env(env(&[("LOG_LEVEL", directive)])).expect("directive").log.level, directive);
    }

    #[test]
    fn a_name_and_its_alias_must_agree() {
        let s = Settings::from_env(env(&[("CACHE_TTL_PRODUCT", "600"), ("CACHE_TTL_PRODUCTS", "600")]))
            .expect("same value");
        assert_eq!(s.cache.ttl_product_secs, 600);
        let s = Settings::from_env(env(&[("DATABASE_CONNECT_TIMEOUT_MS", "2000"), ("DATABASE_POOL_TIMEOUT", "2")]))
            .expect("same value after conversion");
        assert_eq!(s.database.connect_timeout_ms, 2000);
        let err = Settings::from_env(env(&[("CACHE_TTL_PRODUCT", "3600"), ("CACHE_TTL_PRODUCTS", "600")]))
            .expect_err("disagree");
        let text = err.to_string();
        assert!(text.contains("CACHE_TTL_PRODUCT ") && text.contains("CACHE_TTL_PRODUCTS"), "{text}");
        let err = Settings::from_env(env(&[("RABBITMQ_PREFETCH_COUNT", "many")])).expect_err("bad alias value");
        assert!(err.to_string().contains("RABBITMQ_PREFETCH_COUNT"), "{err}");
    }

    #[test]
    fn documented_but_meaningless_names_are_accepted_and_reported() {
        let vars = env(&[
            ("DATABASE_MAX_OVERFLOW", "10"),
            ("AUTH_REST_URL", "http://localhost:8001"),
            ("LOG_FILE", "/var/log/catalog-service/app.log"),
            ("LOG_MAX_BYTES", "10485760"),
            ("ENFORCE_TENANT_ISOLATION", "false"),
            ("CIRCUIT_BREAKER_TIMEOUT", "60"),
            ("CACHE_TTL_PRODUCTS", "600"),
        ]);
        Settings::from_env(vars.clone()).expect("start-up does not fail");
        let report = EnvReport::from_env(&vars);
        let ignored: Vec<&str> = report.ignored.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            ignored,
            [
                "AUTH_REST_URL",
                "CIRCUIT_BREAKER_TIMEOUT",
                "DATABASE_MAX_OVERFLOW",
                "ENFORCE_TENANT_ISOLATION",
                "LOG_FILE",
                "LOG_MAX_BYTES"
            ]
        );
        assert!(report.unknown.is_empty(), "{:?}", report.unknown);
        let comments = report.comments();
        assert!(comments.contains("# DATABASE_MAX_OVERFLOW: accepted and ignored: the pool has a fixed size"));
        assert!(comments.contains("# CACHE_TTL_PRODUCTS: read as CACHE_TTL_PRODUCT"));
        assert!(comments.lines().all(|l| l.is_empty() || l.starts_with("# ")), "comments only");
    }

    #[test]
    fn breaker_retry_and_pagination_knobs() {
        let s = Settings::from_env(env(&[
            ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "7"),
            ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "30"),
            ("PAGINATION_MIN_LIMIT", "5"),
            ("RABBITMQ_EXCHANGE_AUTH", "auth_x"),
            ("ENVIRONMENT", "staging"),
        ]))
        .expect("loads");
        assert_eq!((s.auth.breaker_failure_threshold, s.auth.breaker_recovery_secs), (7, 30));
        assert_eq!(s.pagination.min_limit, 5);
        assert_eq!(s.rabbitmq.auth_exchange, "auth_x");
        assert_eq!(s.service.environment, "staging");
        let err = Settings::from_env(env(&[("PAGINATION_MIN_LIMIT", "50")])).expect_err("above the default");
        assert!(err.to_string().contains("PAGINATION_DEFAULT_LIMIT"), "{err}");
        let err = Settings::from_env(env(&[("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0")])).expect_err("zero");
        assert!(err.to_string().contains("CIRCUIT_BREAKER_FAILURE_THRESHOLD"), "{err}");
    }

    #[test]
    fn unknown_variables_in_our_namespace_are_reported() {
        let report = EnvReport::from_env(&env(&[
            ("DATABASE_POOL_SZIE", "5"),
            ("REDIS_TIMEOUT", "200"),
            ("DATABSE_POOL_SIZE", "5"),
            ("CATALOG_CONFIG", "/etc/catalog.toml"),
            ("CATALOG_GRPC_SERVICE_HOST", "10.0.0.7"),
            ("HOME", "/root"),
            ("RUST_LOG", "debug"),
            // Kubernetes service links, for Services named `redis`, `auth-service`, `api`.
            ("REDIS_SERVICE_HOST", "10.0.0.1"),
            ("REDIS_SERVICE_PORT", "6379"),
            ("REDIS_SERVICE_PORT_REDIS", "6379"),
            ("REDIS_PORT_6379_TCP", "tcp://10.0.0.1:6379"),
            ("REDIS_PORT_6379_TCP_ADDR", "10.0.0.1"),
            ("REDIS_PORT_6379_TCP_PROTO", "tcp"),
            ("AUTH_SERVICE_PORT", "tcp://10.0.0.2:50051"),
            ("AUTH_SERVICE_PORT_50051_TCP_PORT", "50051"),
            ("API_PORT_8002_TCP", "tcp://10.0.0.3:8002"),
            ("GRPC_PORT", "50052"),
        ]));
        assert_eq!(report.unknown, ["DATABASE_POOL_SZIE", "REDIS_TIMEOUT"]);
        assert!(report.comments().contains("# DATABASE_POOL_SZIE: UNKNOWN"));
        let report = EnvReport::from_env(&env(&[("RATE_LIMIT_WINDOW", "60")]));
        assert_eq!(report.ignored.len(), 1, "a window without requests qualifies nothing");
    }

    #[test]
    fn the_readme_names_every_variable() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
        let missing: Vec<&str> =
            ENV_VARS.iter().map(|v| v.name).filter(|name| !readme.contains(&format!("`{name}`"))).collect();
        assert!(missing.is_empty(), "README.md's configuration section lacks {missing:?}");
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings::from_env(env(&[
            ("DATABASE_URL", "postgres://user:hunter2@db/catalog"),
            ("RABBITMQ_PASSWORD", "rabbit-pass"),
            ("GRPC_SERVICE_TOKEN", "tok-123"),
        ]))
        .expect("loads");
        let shown = format!("{}\n{:?}", s.redacted_toml(), s);
        for secret in ["hunter2", "rabbit-pass", "tok-123"] {
            assert!(!shown.contains(secret), "{secret} leaked");
        }
        assert!(shown.contains("postgres://user:****@db/catalog"));
    }
}
