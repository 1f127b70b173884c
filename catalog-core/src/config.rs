//! Settings: defaults ← optional TOML file (`CATALOG_CONFIG`) ← environment.
//!
//! Environment variables use the seed's flat names (`GRPC_PORT`, `DATABASE_POOL_SIZE`, ...), which
//! do not split unambiguously on `_`, so each one is mapped to its key explicitly in [`ENV_VARS`].
//! A bad value fails at start with a message naming the variable.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// (environment variable, settings key). The only list of variables the service reads besides
/// `CATALOG_CONFIG`; `check-config` and the manifests cross-check against it.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("GRPC_HOST", "grpc.host"),
    ("GRPC_PORT", "grpc.port"),
    ("GRPC_MAX_WORKERS", "grpc.max_workers"),
    ("GRPC_REFLECTION", "grpc.reflection"),
    ("GRPC_MAX_BATCH_SIZE", "grpc.max_batch_size"),
    ("GRPC_METRICS_PORT", "grpc.metrics_port"),
    ("GRPC_SERVICE_TOKEN", "grpc.service_token"),
    ("GRPC_TLS_CERT_PATH", "grpc.tls_cert_path"),
    ("GRPC_TLS_KEY_PATH", "grpc.tls_key_path"),
    ("API_HOST", "api.host"),
    ("API_PORT", "api.port"),
    ("API_WORKERS", "api.workers"),
    ("API_BODY_LIMIT_BYTES", "api.body_limit_bytes"),
    ("API_RATE_LIMIT_PER_MINUTE", "api.rate_limit_per_minute"),
    ("API_CORS_ORIGINS", "api.cors_origins"),
    ("TENANT_HEADER_NAME", "api.tenant_header_name"),
    ("WORKER_HOST", "worker.host"),
    ("WORKER_PORT", "worker.port"),
    ("WORKER_OUTBOX_BATCH_SIZE", "worker.outbox_batch_size"),
    ("WORKER_OUTBOX_POLL_MS", "worker.outbox_poll_ms"),
    ("WORKER_OUTBOX_RETENTION_HOURS", "worker.outbox_retention_hours"),
    ("WORKER_MAX_RETRIES", "worker.max_retries"),
    ("DATABASE_URL", "database.url"),
    ("DATABASE_HOST", "database.host"),
    ("DATABASE_PORT", "database.port"),
    ("DATABASE_NAME", "database.name"),
    ("DATABASE_USER", "database.user"),
    ("DATABASE_PASSWORD", "database.password"),
    ("DATABASE_POOL_SIZE", "database.pool_size"),
    ("DATABASE_POOL_MIN_IDLE", "database.pool_min_idle"),
    ("DATABASE_CONNECT_TIMEOUT_MS", "database.connect_timeout_ms"),
    ("DATABASE_STATEMENT_TIMEOUT_MS", "database.statement_timeout_ms"),
    ("REDIS_URL", "redis.url"),
    ("REDIS_HOST", "redis.host"),
    ("REDIS_PORT", "redis.port"),
    ("REDIS_DB", "redis.db"),
    ("REDIS_PASSWORD", "redis.password"),
    ("REDIS_POOL_SIZE", "redis.pool_size"),
    ("REDIS_TIMEOUT_MS", "redis.timeout_ms"),
    ("REDIS_KEY_PREFIX", "redis.key_prefix"),
    ("RABBITMQ_URL", "rabbitmq.url"),
    ("RABBITMQ_HOST", "rabbitmq.host"),
    ("RABBITMQ_PORT", "rabbitmq.port"),
    ("RABBITMQ_USER", "rabbitmq.user"),
    ("RABBITMQ_PASSWORD", "rabbitmq.password"),
    ("RABBITMQ_VHOST", "rabbitmq.vhost"),
    ("RABBITMQ_PREFETCH", "rabbitmq.prefetch"),
    ("RABBITMQ_EXCHANGE", "rabbitmq.exchange"),
    ("RABBITMQ_QUEUE_PREFIX", "rabbitmq.queue_prefix"),
    ("AUTH_MODE", "auth.mode"),
    ("AUTH_GRPC_HOST", "auth.grpc_host"),
    ("AUTH_GRPC_PORT", "auth.grpc_port"),
    ("AUTH_GRPC_TIMEOUT", "auth.grpc_timeout_secs"),
    ("AUTH_GRPC_RETRIES", "auth.grpc_retries"),
    ("JWT_PUBLIC_KEY_PATH", "auth.jwt_public_key_path"),
    ("JWT_ALGORITHM", "auth.jwt_algorithm"),
    ("AUTH_DEV_SECRET", "auth.dev_secret"),
    ("CACHE_TTL_PRODUCT", "cache.ttl_product_secs"),
    ("CACHE_TTL_VARIANT", "cache.ttl_variant_secs"),
    ("CACHE_TTL_AUTH", "cache.ttl_auth_secs"),
    ("PAGINATION_DEFAULT_LIMIT", "pagination.default_limit"),
    ("PAGINATION_MAX_LIMIT", "pagination.max_limit"),
    ("LOG_LEVEL", "log.level"),
    ("LOG_FORMAT", "log.format"),
];

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
    pub grpc: GrpcSettings,
    pub api: ApiSettings,
    pub worker: WorkerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub rabbitmq: RabbitSettings,
    pub auth: AuthSettings,
    pub cache: CacheSettings,
    pub pagination: PaginationSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GrpcSettings {
    pub host: String,
    pub port: u16,
    /// Requests served concurrently (the seed's thread-pool size).
    pub max_workers: usize,
    /// Server reflection; development only.
    pub reflection: bool,
    pub max_batch_size: usize,
    pub metrics_port: u16,
    /// When set, callers must send `authorization: Bearer <token>`.
    pub service_token: Secret,
    pub tls_cert_path: Option<String>,
    pub tls_key_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApiSettings {
    pub host: String,
    pub port: u16,
    /// actix worker threads; 0 means one per core.
    pub workers: usize,
    pub body_limit_bytes: usize,
    pub rate_limit_per_minute: u32,
    /// Comma-separated allowed origins; empty means CORS closed.
    pub cors_origins: String,
    pub tenant_header_name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WorkerSettings {
    pub host: String,
    pub port: u16,
    pub outbox_batch_size: i64,
    pub outbox_poll_ms: u64,
    pub outbox_retention_hours: u32,
    pub max_retries: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    pub url: Option<SecretUrl>,
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: Secret,
    pub pool_size: u32,
    pub pool_min_idle: u32,
    pub connect_timeout_ms: u64,
    pub statement_timeout_ms: u64,
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedisSettings {
    pub url: Option<SecretUrl>,
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub password: Secret,
    pub pool_size: u32,
    pub timeout_ms: u64,
    /// Prepended to every key: lets several deployments (or tests) share one Redis.
    pub key_prefix: String,
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RabbitSettings {
    pub url: Option<SecretUrl>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub vhost: String,
    pub prefetch: u16,
    pub exchange: String,
    /// Prepended to queue names (tests run side by side on one broker).
    pub queue_prefix: String,
}

impl RabbitSettings {
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

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub grpc_host: String,
    pub grpc_port: u16,
    pub grpc_timeout_secs: u64,
    pub grpc_retries: u32,
    pub jwt_public_key_path: Option<String>,
    pub jwt_algorithm: String,
    pub dev_secret: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CacheSettings {
    pub ttl_product_secs: u64,
    pub ttl_variant_secs: u64,
    pub ttl_auth_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PaginationSettings {
    pub default_limit: i64,
    pub max_limit: i64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

const DEFAULTS: &str = r#"
[grpc]
host = "0.0.0.0"
port = 50052
max_workers = 10
reflection = false
max_batch_size = 1000
metrics_port = 9101
service_token = ""

[api]
host = "0.0.0.0"
port = 8002
workers = 0
body_limit_bytes = 1048576
rate_limit_per_minute = 600
cors_origins = ""
tenant_header_name = "X-Tenant-ID"

[worker]
host = "0.0.0.0"
port = 9102
outbox_batch_size = 500
outbox_poll_ms = 1000
outbox_retention_hours = 72
max_retries = 5

[database]
host = "127.0.0.1"
port = 5432
name = "catalog"
user = "postgres"
password = ""
pool_size = 10
pool_min_idle = 1
connect_timeout_ms = 3000
statement_timeout_ms = 5000

[redis]
host = "127.0.0.1"
port = 6379
db = 0
password = ""
pool_size = 16
timeout_ms = 200
key_prefix = ""

[rabbitmq]
host = "127.0.0.1"
port = 5672
user = "guest"
password = "guest"
vhost = "/"
prefetch = 10
exchange = "catalog_events"
queue_prefix = ""

[auth]
mode = "grpc"
grpc_host = "127.0.0.1"
grpc_port = 50051
grpc_timeout_secs = 5
grpc_retries = 2
jwt_algorithm = "RS256"
dev_secret = ""

[cache]
ttl_product_secs = 3600
ttl_variant_secs = 3600
ttl_auth_secs = 300

[pagination]
default_limit = 20
max_limit = 100

[log]
level = "info"
format = "json"
"#;

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
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some((_, path)) = vars.iter().rev().find(|(k, _)| k == "CATALOG_CONFIG") {
            builder = builder.add_source(config::File::with_name(path).required(true));
        }
        for (var, key) in ENV_VARS {
            if let Some((_, value)) = vars.iter().rev().find(|(k, _)| k == var) {
                builder = builder.set_override(*key, value.as_str()).map_err(|e| config_error(&e))?;
            }
        }
        let settings: Settings = builder.build().and_then(|c| c.try_deserialize()).map_err(|e| config_error(&e))?;
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
        check(
            self.grpc.tls_cert_path.is_some() == self.grpc.tls_key_path.is_some(),
            "GRPC_TLS_CERT_PATH",
            "and GRPC_TLS_KEY_PATH must be set together",
        );
        check(self.database.pool_size > 0, "DATABASE_POOL_SIZE", "must be at least 1");
        check(self.redis.pool_size > 0, "REDIS_POOL_SIZE", "must be at least 1");
        check(self.rabbitmq.prefetch > 0, "RABBITMQ_PREFETCH", "must be at least 1");
        check(self.worker.outbox_batch_size > 0, "WORKER_OUTBOX_BATCH_SIZE", "must be at least 1");
        check(self.pagination.default_limit > 0, "PAGINATION_DEFAULT_LIMIT", "must be at least 1");
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
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidArgument { field: "configuration", message: problems.join("; ") })
        }
    }

    /// The effective configuration as TOML, secrets redacted (`check-config`).
    pub fn redacted_toml(&self) -> String {
        toml_like(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// Names the environment variable behind a failing key, when there is one.
fn config_error(err: &config::ConfigError) -> Error {
    let text = err.to_string();
    let var = ENV_VARS.iter().find(|(_, key)| text.contains(&format!("`{key}`")) || text.contains(key));
    let message = match var {
        Some((var, key)) => format!("invalid value for {var} ({key}): {text}"),
        None => format!("invalid configuration: {text}"),
    };
    Error::InvalidArgument { field: "configuration", message }
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
