//! PostgreSQL access: the pool, embedded migrations, and error classification.

pub mod constraints;
pub mod replicas;

use crate::config::DatabaseSettings;
use crate::error::{Error, Result};
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use std::collections::VecDeque;
use std::time::Duration;

pub use diesel_async::AsyncPgConnection as PgConn;

pub type PgPool = Pool<AsyncPgConnection>;
pub type PooledConn<'a> = diesel_async::pooled_connection::bb8::PooledConnection<'a, AsyncPgConnection>;

/// SQL statements sent by this process, all pools together: exported as a metric, and what
/// tests use to prove a batch costs a constant number of round trips.
pub static STATEMENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The SQL text of a Diesel query, its binds left as `$n`: what the benchmark's pgbench twins
/// run, so they send exactly the service's statements.
pub fn statement_text<Q>(query: &Q) -> String
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    let text = diesel::debug_query::<diesel::pg::Pg, _>(query).to_string();
    text.split(" -- binds:").next().unwrap_or_default().to_string()
}

pub fn statements_sent() -> u64 {
    STATEMENTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts statements and gives each a client span (only when spans are exported, inside a
/// traced unit of work). Spans end in the order statements started: a pipelined connection
/// answers in order.
#[derive(Default)]
struct StatementSpans {
    open: VecDeque<tracing::Span>,
}

impl Instrumentation for StatementSpans {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                STATEMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.open.push_back(crate::telemetry::client_span(|| {
                    let text = query.to_string();
                    // Never the bound values: they are the callers' data.
                    let text = text.split(" -- binds:").next().unwrap_or_default();
                    let operation = text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    tracing::info_span!(
                        "SQL",
                        otel.name = %operation,
                        otel.kind = "client",
                        otel.status_code = tracing::field::Empty,
                        otel.status_description = tracing::field::Empty,
                        db.system.name = "postgresql",
                        db.operation.name = %operation,
                        db.query.text = text,
                    )
                }));
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                if let (Some(span), Some(error)) = (self.open.pop_front(), error) {
                    crate::telemetry::fail(&span, &error.to_string());
                }
            }
            _ => {}
        }
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Serializes concurrent `migrate` runs (several pods, a Job and a developer at once).
const MIGRATION_LOCK_KEY: i64 = 0x00ca_7a10_9001;

/// Builds the pool. Connections are opened lazily so a process can start (and report itself
/// not ready) while the database is still down; every connection gets a statement timeout so a
/// runaway query cannot hold a pooled connection forever.
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool> {
    pool_for(settings, settings.url().expose(), true)
}

/// A pool of connections to `url` with `settings`' sizes and timeouts; `counted`: its statements
/// count in [`STATEMENTS`] (and get spans), as the requests' own do.
pub(crate) fn pool_for(settings: &DatabaseSettings, url: &str, counted: bool) -> Result<PgPool> {
    let statement_timeout_ms = settings.statement_timeout_ms;
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // The default recycling sends `SELECT 1` on every checkout: one extra round trip per
    // request. Broken connections are still detected (and dropped) without it.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            // No JIT: an OLTP statement whose estimate crosses `jit_above_cost` pays hundreds of
            // milliseconds of LLVM compilation (408 of the 614 ms of the REST search's count,
            // EXPLAIN ANALYZE, 2026-12-06) to save a few.
            conn.batch_execute(&format!("SET statement_timeout = {statement_timeout_ms}; SET jit = off"))
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            if counted && crate::telemetry::exporting() {
                conn.set_instrumentation(StatementSpans::default());
            } else if counted {
                conn.set_instrumentation(|event: InstrumentationEvent<'_>| {
                    if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                        STATEMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
    Ok(Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(settings.pool_min_idle.min(settings.pool_size)))
        .connection_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .max_lifetime((settings.pool_recycle_secs > 0).then(|| Duration::from_secs(settings.pool_recycle_secs)))
        .build_unchecked(manager))
}

/// Checks out a connection and runs a trivial query: what readiness probes ask.
pub async fn ping(pool: &PgPool) -> Result<()> {
    let mut conn = pool.get().await?;
    conn.batch_execute("SELECT 1").await.map_err(|e| Error::Unavailable(e.to_string()))
}

/// Applies pending migrations under an advisory lock; returns the versions applied.
pub async fn migrate(url: &str) -> Result<Vec<String>> {
    with_migration_connection(url, |conn| {
        conn.run_pending_migrations(MIGRATIONS).map(|done| done.iter().map(|v| v.to_string()).collect())
    })
    .await
}

/// Reverts the last `steps` migrations; returns the versions reverted.
pub async fn revert(url: &str, steps: usize) -> Result<Vec<String>> {
    with_migration_connection(url, move |conn| {
        let mut reverted = Vec::with_capacity(steps);
        for _ in 0..steps {
            if conn.applied_migrations()?.is_empty() {
                break;
            }
            reverted.push(conn.revert_last_migration(MIGRATIONS)?.to_string());
        }
        Ok(reverted)
    })
    .await
}

/// Versions known to the binary and whether each is applied.
pub async fn migration_status(url: &str) -> Result<Vec<(String, bool)>> {
    with_migration_connection(url, |conn| {
        let applied: Vec<String> = conn.applied_migrations()?.iter().map(|v| v.to_string()).collect();
        let mut known: Vec<String> = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        known.sort();
        Ok(known.into_iter().map(|v| (v.clone(), applied.contains(&v))).collect())
    })
    .await
}

type MigrationResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// diesel's migration harness is synchronous: run it on a blocking thread through the async
/// connection wrapper, holding the advisory lock for the whole run.
async fn with_migration_connection<T, F>(url: &str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut AsyncConnectionWrapper<AsyncPgConnection>) -> MigrationResult<T> + Send + 'static,
{
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
            .map_err(|e| Error::Unavailable(format!("cannot connect to the database: {e}")))?;
        SimpleConnection::batch_execute(&mut conn, &format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
        let outcome = work(&mut conn);
        let _ = SimpleConnection::batch_execute(&mut conn, &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
        outcome.map_err(|e| Error::Internal(format!("migration failed: {e}")))
    })
    .await
    .map_err(Error::internal)?
}
