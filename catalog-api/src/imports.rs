//! The import runner (one per API replica): claims staged jobs and applies them batch by batch
//! through [`catalog_core::imports`], which holds the jobs' rules and SQL; this side adds the
//! REST body rules each line is parsed with, the pacing, and the planner statistics.

use crate::caller::Caller;
use crate::routes::bulk::parse_row;
use crate::state::ApiState;
use catalog_core::auth::Principal;
use catalog_core::db::PgConn;
use catalog_core::error::{Error, Result};
use catalog_core::imports::{BatchOutcome, fail};
use catalog_core::models::Actor;
use std::time::Duration;
use uuid::Uuid;

pub use catalog_core::imports::{
    Format, MAX_FILE_BYTES, MAX_UPLOAD_BYTES, PROCESS_BATCH, claim, stage, yield_to_others,
};

/// Other replicas' uploads (and expired leases) are noticed within this.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// Applies the job's next batch, each line read as `POST /products` reads its body.
pub async fn process_batch(conn: &mut PgConn, job: Uuid) -> Result<BatchOutcome> {
    let parser_for = |principal: Principal, actor: Actor| {
        let caller = Caller { principal, actor };
        move |row| parse_row(&caller, row)
    };
    catalog_core::imports::process_batch(conn, job, parser_for).await
}

/// Runs claimed jobs to completion, one batch at a time; forever (the process's lifetime).
pub async fn run(state: actix_web::web::Data<ApiState>) {
    loop {
        match run_once(&state).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = tokio::time::timeout(IDLE_POLL, state.imports_queued.notified()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "import runner: database unavailable; retrying");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// An import can grow an organization's catalog by thousands of rows in seconds, faster than
/// autovacuum notices; with the planner still believing the organization is tiny, the batch's
/// SKU lookups scan all its rows instead of using their indexes. So statistics are refreshed
/// after a job's 1st, 2nd, 4th, 8th... batch, for the lookup columns only (a sample each).
async fn refresh_statistics(state: &ApiState) {
    use diesel_async::SimpleAsyncConnection as _;
    let analyzed = match state.conn().await {
        Ok(mut conn) => conn
            .batch_execute(
                "ANALYZE products (organization_id, sku, barcode, slug), \
             product_variants (organization_id, sku, barcode, product_id), product_tags (organization_id, product_id)",
            )
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = analyzed {
        tracing::warn!(error = %e, "could not refresh planner statistics after an import batch");
    }
}

/// Claims one job and applies it until it is done or another organization's job is waiting;
/// `false` when nothing was claimable.
pub async fn run_once(state: &ApiState) -> std::result::Result<bool, String> {
    let Some(job) = ({
        let conn = &mut *state.conn().await.map_err(|e| e.to_string())?;
        claim(conn).await.map_err(|e| e.to_string())?
    }) else {
        return Ok(false);
    };
    tracing::info!(%job, "import claimed");
    loop {
        let outcome = {
            let conn = &mut *state.conn().await.map_err(|e| e.to_string())?;
            // The batch's events say which cached entries it made stale.
            state.catalog.write(process_batch(conn, job)).await
        };
        match outcome {
            Ok(batch) => {
                if u32::try_from(batch.number).is_ok_and(u32::is_power_of_two) {
                    refresh_statistics(state).await;
                }
                if batch.done {
                    tracing::info!(%job, "import completed");
                    return Ok(true);
                }
                let conn = &mut *state.conn().await.map_err(|e| e.to_string())?;
                if yield_to_others(conn, job).await.map_err(|e| e.to_string())? {
                    tracing::debug!(%job, "import gives its turn to another organization's");
                    return Ok(true);
                }
            }
            // Unavailable: the lease lapses and this (or another) replica resumes the job.
            Err(Error::Unavailable(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(%job, error = %e, "import failed");
                let conn = &mut *state.conn().await.map_err(|e| e.to_string())?;
                fail(conn, job, &e.public_message()).await;
                return Ok(true);
            }
        }
    }
}
