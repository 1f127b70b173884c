//! What every handler shares.

use crate::error::ApiError;
use crate::rate::{Kind, RateLimits};
use catalog_core::auth::{Authenticator, Principal};
use catalog_core::config::Settings;
use catalog_core::db::PgPool;
use catalog_core::media::{MediaStore, Uploads};
use catalog_core::read::Catalog;
use std::sync::Arc;

pub use catalog_core::db::PooledConn;

pub struct ApiState {
    pub settings: Arc<Settings>,
    pub pg: PgPool,
    /// Cached reads and the cache invalidation writes must do after commit.
    pub catalog: Catalog,
    pub auth: Authenticator,
    /// Per-user request budgets by kind of operation, per replica.
    limits: RateLimits,
    /// Wakes this replica's import runner when an upload was staged (it polls otherwise).
    pub imports_queued: tokio::sync::Notify,
    /// Uploaded images: rendered in a bounded pool, stored in the object store.
    pub uploads: Uploads,
}

impl ApiState {
    pub fn new(settings: Arc<Settings>, pg: PgPool, catalog: Catalog, auth: Authenticator, media: MediaStore) -> Self {
        let limits = RateLimits::new(&settings.api);
        let uploads = Uploads::new(media, pg.clone(), settings.storage.image_workers);
        Self { settings, pg, catalog, auth, limits, imports_queued: tokio::sync::Notify::new(), uploads }
    }

    /// A connection for the current request: a caught-up read replica's for a GET, else the
    /// primary's (see `catalog_core::db::replicas`).
    pub async fn conn(&self) -> Result<PooledConn<'_>, ApiError> {
        Ok(self.catalog.conn().await?)
    }

    pub fn check_rate(&self, principal: &Principal, kind: Kind) -> Result<(), ApiError> {
        Ok(self.limits.check(&principal.user_id, kind)?)
    }
}
