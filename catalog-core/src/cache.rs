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
