//! Removes uploaded images' files that no row references any more, from the store's outbox
//! (`catalog_core::media::deletions`): every replica drains it (each pass locks its keys), so
//! no leader is needed; a store outage only delays the removals.

use crate::metrics::WorkerMetrics;
use catalog_core::db::PgPool;
use catalog_core::media::{MediaStore, deletions};
use catalog_core::shutdown::Shutdown;
use std::time::Duration;

/// Keys removed per pass (one store round of concurrent deletes, one transaction).
const BATCH: i64 = 100;

pub struct MediaJanitor {
    pub pg: PgPool,
    pub store: MediaStore,
    pub metrics: WorkerMetrics,
    /// Pause between passes when nothing is due.
    pub every: Duration,
}

impl MediaJanitor {
    pub async fn run(self, stop: Shutdown) {
        loop {
            let full_batch = match deletions::remove_due(&self.pg, &self.store, BATCH).await {
                Ok(pass) => {
                    self.metrics.media_removed.inc_by(pass.removed as u64);
                    self.metrics.media_removal_failures.inc_by(pass.failed as u64);
                    pass.removed as i64 == BATCH
                }
                Err(error) => {
                    tracing::warn!(%error, "removing uploaded files failed; retrying");
                    false
                }
            };
            if let Ok(backlog) = deletions::backlog(&self.pg).await {
                self.metrics.media_deletions_backlog.set(backlog);
            }
            let pause = if full_batch { Duration::ZERO } else { self.every };
            tokio::select! {
                () = stop.wait() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
