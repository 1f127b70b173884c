//! What every handler shares.

use crate::error::ApiError;
use catalog_core::auth::{Authenticator, Principal};
use catalog_core::config::Settings;
use catalog_core::db::{PgConn, PgPool};
use catalog_core::error::Error;
use catalog_core::ids::UserId;
use catalog_core::query::Catalog;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;

pub type PooledConn<'a> =
    bb8::PooledConnection<'a, diesel_async::pooled_connection::AsyncDieselConnectionManager<PgConn>>;

pub struct ApiState {
    pub settings: Arc<Settings>,
    pub pg: PgPool,
    /// Cached reads and the cache invalidation writes must do after commit.
    pub catalog: Catalog,
    pub auth: Authenticator,
    /// Per-user request budget (`API_RATE_LIMIT_PER_MINUTE`), per replica.
    limiter: DefaultKeyedRateLimiter<UserId>,
    /// Wakes this replica's import runner when an upload was staged (it polls otherwise).
    pub imports_queued: tokio::sync::Notify,
}

impl ApiState {
    pub fn new(settings: Arc<Settings>, pg: PgPool, catalog: Catalog, auth: Authenticator) -> Self {
        let per_minute = NonZeroU32::new(settings.api.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_minute(per_minute));
        Self { settings, pg, catalog, auth, limiter, imports_queued: tokio::sync::Notify::new() }
    }

    pub async fn conn(&self) -> Result<PooledConn<'_>, ApiError> {
        Ok(self.pg.get().await.map_err(Error::from)?)
    }

    pub fn check_rate(&self, principal: &Principal) -> Result<(), ApiError> {
        self.limiter.check_key(&principal.user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            ApiError(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) })
        })
    }
}
