//! Keeps the stock read model honest (`catalog_core::stock`):
//! - every few seconds, on every replica, the model's lag per organization
//!   (`inventory_stock_lag_seconds{organization_id}`: age of the newest report applied) from the
//!   database, so replicas agree and a restart loses nothing;
//! - every `STOCK_RECONCILE_INTERVAL_SECS`, on one replica at a time (a PostgreSQL advisory lock
//!   held by a connection of its own for the pass), a reconciliation of every organization with
//!   Inventory's gRPC answer, oldest reconciled first. A failed organization is retried at the
//!   next pass; the others go on.

use crate::metrics::WorkerMetrics;
use catalog_core::db::{PgConn, PgPool};
use catalog_core::shutdown::Shutdown;
use catalog_core::stock::inventory::InventoryClient;
use catalog_core::stock::resync::{self, ResyncOptions};
use chrono::Utc;
use diesel::sql_types::Bool;
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::sync::Arc;
use std::time::Duration;

/// Advisory lock key of the reconciliation (the relay's is 0x00ca_7a10_0b0c).
const RECONCILE_LOCK_KEY: i64 = 0x00ca_7a10_570c;
/// How often the lag gauges are refreshed.
const LAG_EVERY: Duration = Duration::from_secs(5);

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

pub struct StockKeeper {
    pub pg: PgPool,
    pub database_url: String,
    /// `None`: no Inventory configured, no reconciliation.
    pub inventory: Option<Arc<InventoryClient>>,
    pub options: ResyncOptions,
    /// Zero: no reconciliation.
    pub reconcile_every: Duration,
    pub metrics: WorkerMetrics,
}

impl StockKeeper {
    pub async fn run(self, stop: Shutdown) {
        let reconciling = self.inventory.is_some() && !self.reconcile_every.is_zero();
        // The first pass waits a moment: a fleet starting together does not stampede Inventory.
        let mut next_reconcile = tokio::time::Instant::now() + LAG_EVERY;
        loop {
            self.refresh_lag().await;
            if reconciling && tokio::time::Instant::now() >= next_reconcile {
                next_reconcile = tokio::time::Instant::now() + self.reconcile_every;
                tokio::select! {
                    () = self.reconcile_if_first() => {}
                    () = stop.wait() => return,
                }
            }
            tokio::select! {
                () = stop.wait() => return,
                () = tokio::time::sleep(LAG_EVERY) => {}
            }
        }
    }

    async fn refresh_lag(&self) {
        let newest = match self.pg.get().await {
            Ok(mut conn) => catalog_core::stock::newest_report_by_organization(&mut conn).await,
            Err(error) => Err(error.into()),
        };
        match newest {
            Ok(rows) => {
                let now = Utc::now();
                for (org, at) in rows {
                    let lag = now.signed_duration_since(at).num_milliseconds().max(0) as f64 / 1000.0;
                    self.metrics.stock_lag_seconds.with_label_values(&[&org.to_string()]).set(lag);
                }
            }
            Err(error) => tracing::warn!(%error, "reading the stock model's lag failed"),
        }
    }

    /// One reconciliation pass, unless another replica is running one.
    async fn reconcile_if_first(&self) {
        let Some(inventory) = &self.inventory else { return };
        let mut lock_conn = match PgConn::establish(&self.database_url).await {
            Ok(conn) => conn,
            Err(error) => return tracing::warn!(%error, "stock reconciliation: no database connection"),
        };
        let first: Result<Flag, _> = sql_query(format!("SELECT pg_try_advisory_lock({RECONCILE_LOCK_KEY}) AS value"))
            .get_result(&mut lock_conn)
            .await;
        if !first.is_ok_and(|flag| flag.value) {
            return;
        }
        let organizations = match self.pg.get().await {
            Ok(mut conn) => resync::organizations(&mut conn).await,
            Err(error) => Err(error.into()),
        };
        let organizations = organizations.unwrap_or_else(|error| {
            tracing::warn!(%error, "stock reconciliation: listing organizations failed");
            Vec::new()
        });
        for org in organizations {
            match resync::resync_organization(&self.pg, inventory, org, self.options).await {
                Ok(report) => {
                    self.metrics.stock_reconciled.with_label_values(&["checked"]).inc_by(report.checked as u64);
                    self.metrics.stock_reconciled.with_label_values(&["repaired"]).inc_by(report.repaired as u64);
                    if report.repaired > 0 {
                        tracing::info!(organization_id = %org, checked = report.checked, repaired = report.repaired,
                            "stock model repaired from Inventory");
                    }
                }
                Err(error) => {
                    self.metrics.stock_reconcile_failures.inc();
                    tracing::warn!(organization_id = %org, %error, "stock reconciliation failed; retried next pass");
                    if inventory.circuit_open() {
                        break;
                    }
                }
            }
        }
        // Dropping the connection releases the lock.
    }
}
