//! Read replicas (`DATABASE_READ_URL`): gRPC reads and REST GETs are served by a streaming
//! replica when it is caught up enough; everything else uses the primary.
//!
//! **What goes where.** A unit of work marked read-only ([`read_only`], by the REST middleware
//! for GET/HEAD and by the gRPC layer, whose methods all read) checks its connections out of a
//! replica; writes, reads inside write transactions and anything unmarked use the primary. The
//! mark is a task-local, so the repositories and handlers need not know about replicas.
//!
//! **Read-your-writes.** After a successful write the REST API answers with the primary's WAL
//! position (`X-Catalog-Read-After`, also a short-lived `catalog_read_after` cookie). A read that
//! brings a position (header, cookie, or gRPC metadata `x-catalog-read-after`) is served by a
//! replica only once that replica has replayed past it, else by the primary: its writer never
//! reads an older version.
//!
//! **Lag.** A monitor asks the primary for its position and each replica for its replay position
//! every [`MONITOR_EVERY`] on connections of its own; lag (bytes and seconds) is exported, and a
//! replica more than `DATABASE_READ_MAX_LAG_MS` behind, or not answering, is skipped.

use crate::config::DatabaseSettings;
use crate::db::{PgConn, PgPool, PooledConn};
use crate::error::Result;
use crate::shutdown::Shutdown;
use diesel::QueryableByName;
use diesel::sql_types::{Double, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub const READ_AFTER_HEADER: &str = "x-catalog-read-after";
pub const READ_AFTER_COOKIE: &str = "catalog_read_after";
pub const MONITOR_EVERY: Duration = Duration::from_millis(200);
/// The longest a lag measurement (connecting included) may take before the server counts as
/// not answering.
const MEASURE_TIMEOUT: Duration = Duration::from_secs(1);

tokio::task_local! {
    static READ_ONLY: Option<Lsn>;
}

/// Runs `work` as read-only: its connections may come from a replica that has replayed past
/// `after` (any caught-up replica when `None`).
pub async fn read_only<F: Future>(after: Option<Lsn>, work: F) -> F::Output {
    READ_ONLY.scope(after, work).await
}

/// A PostgreSQL WAL position (`pg_lsn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl std::str::FromStr for Lsn {
    type Err = ();

    /// PostgreSQL's text form, `16/B374D848`.
    fn from_str(text: &str) -> std::result::Result<Self, ()> {
        let (high, low) = text.trim().split_once('/').ok_or(())?;
        let (high, low) =
            (u64::from_str_radix(high, 16).map_err(|_| ())?, u64::from_str_radix(low, 16).map_err(|_| ())?);
        if high > u64::from(u32::MAX) || low > u64::from(u32::MAX) {
            return Err(());
        }
        Ok(Self(high << 32 | low))
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// The read replicas of this process (none unless `DATABASE_READ_URL` is set).
#[derive(Clone, Default)]
pub struct Reads(Option<Arc<Replicas>>);

struct Replicas {
    replicas: Vec<Replica>,
    max_lag: Duration,
    next: AtomicUsize,
    /// The primary's pool for its WAL position after writes: uncounted, off the request pool.
    position: PgPool,
    lag_seconds: GaugeVec,
    lag_bytes: IntGaugeVec,
    reads: IntCounterVec,
    /// `reads`' two series, resolved once: each read-only checkout counts in one.
    read_replica: IntCounter,
    read_primary: IntCounter,
}

struct Replica {
    /// `host:port/database`, the metrics' label (never the credentials).
    name: String,
    url: String,
    pool: PgPool,
    /// Replayed WAL position, as last seen by the monitor (only ever behind the truth).
    replayed: AtomicU64,
    usable: AtomicBool,
}

impl Replica {
    /// Usable and replayed past `needed`. (`AtomicBool::load` spelled out: diesel's
    /// `RunQueryDsl::load` is in scope.)
    fn serves(&self, needed: u64) -> bool {
        AtomicBool::load(&self.usable, Ordering::Acquire)
            && AtomicU64::load(&self.replayed, Ordering::Acquire) >= needed
    }
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = Nullable<Text>)]
    lsn: Option<String>,
}

#[derive(QueryableByName)]
struct Replay {
    #[diesel(sql_type = Nullable<Text>)]
    replayed: Option<String>,
    #[diesel(sql_type = Double)]
    since_last_replay: f64,
}

impl Reads {
    /// The replicas `DATABASE_READ_URL` names (comma-separated), each with a pool sized like the
    /// primary's; connections open lazily.
    fn from_settings(settings: &DatabaseSettings) -> Result<Self> {
        let Some(urls) = &settings.read_url else { return Ok(Self(None)) };
        let replicas = urls
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| {
                Ok(Replica {
                    name: label(url),
                    url: url.to_string(),
                    pool: super::pool_for(settings, url, true)?,
                    replayed: AtomicU64::new(0),
                    usable: AtomicBool::new(false),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if replicas.is_empty() {
            return Ok(Self(None));
        }
        let lag_seconds = GaugeVec::new(
            Opts::new("db_replica_lag_seconds", "How far a read replica's replay is behind the primary, in time"),
            &["replica"],
        )
        .map_err(crate::Error::internal)?;
        let lag_bytes = IntGaugeVec::new(
            Opts::new("db_replica_lag_bytes", "How far a read replica's replay is behind the primary, in WAL bytes"),
            &["replica"],
        )
        .map_err(crate::Error::internal)?;
        let reads = IntCounterVec::new(
            Opts::new("db_reads_total", "Read-only units of work by the database that served them"),
            &["target"],
        )
        .map_err(crate::Error::internal)?;
        Ok(Self(Some(Arc::new(Replicas {
            replicas,
            max_lag: Duration::from_millis(settings.read_max_lag_ms),
            next: AtomicUsize::new(0),
            position: super::pool_for(settings, settings.url().expose(), false)?,
            lag_seconds,
            lag_bytes,
            read_replica: reads.with_label_values(&["replica"]),
            read_primary: reads.with_label_values(&["primary"]),
            reads,
        }))))
    }

    /// [`Self::from_settings`], its metrics registered and its lag monitor running until `stop`.
    pub fn start(settings: &DatabaseSettings, registry: &Registry, stop: Shutdown) -> Result<Self> {
        let reads = Self::from_settings(settings)?;
        reads.register(registry).map_err(crate::Error::internal)?;
        reads.start_monitor(settings.url().expose().to_string(), stop);
        if let Some(replicas) = &reads.0 {
            let names: Vec<&str> = replicas.replicas.iter().map(|r| r.name.as_str()).collect();
            tracing::info!(replicas = ?names, max_lag_ms = settings.read_max_lag_ms, "reads go to replicas when caught up");
        }
        Ok(reads)
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        if let Some(replicas) = &self.0 {
            registry.register(Box::new(replicas.lag_seconds.clone()))?;
            registry.register(Box::new(replicas.lag_bytes.clone()))?;
            registry.register(Box::new(replicas.reads.clone()))?;
        }
        Ok(())
    }

    /// A connection for the current unit of work: a usable replica's when it is marked
    /// read-only and the replica has replayed past its position, else `primary`'s.
    pub async fn conn<'a>(&'a self, primary: &'a PgPool) -> Result<PooledConn<'a>> {
        if let (Some(replicas), Ok(after)) = (&self.0, READ_ONLY.try_with(|after| *after)) {
            if let Some(replica) = replicas.pick(after) {
                match replica.pool.get().await {
                    Ok(conn) => {
                        replicas.read_replica.inc();
                        return Ok(conn);
                    }
                    Err(e) => {
                        tracing::warn!(replica = %replica.name, error = %e, "read replica unavailable; reading the primary")
                    }
                }
            }
            replicas.read_primary.inc();
        }
        Ok(primary.get().await?)
    }

    /// The primary's current WAL position: at or past the commit of every write that returned.
    /// `None` without replicas (nobody needs it).
    pub async fn primary_position(&self) -> Result<Option<Lsn>> {
        let Some(replicas) = &self.0 else { return Ok(None) };
        Ok(current_position(&mut *replicas.position.get().await?).await?)
    }

    /// Measures every replica's lag every [`MONITOR_EVERY`] until `stop`.
    fn start_monitor(&self, primary_url: String, stop: Shutdown) {
        if let Some(replicas) = self.0.clone() {
            tokio::spawn(async move { replicas.monitor(&primary_url, stop).await });
        }
    }
}

impl Replicas {
    /// The next usable replica (round robin) that has replayed past `after`.
    fn pick(&self, after: Option<Lsn>) -> Option<&Replica> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let needed = after.map_or(0, |lsn| lsn.0);
        (0..self.replicas.len())
            .map(|i| &self.replicas[(start + i) % self.replicas.len()])
            .find(|replica| replica.serves(needed))
    }

    async fn monitor(&self, primary_url: &str, stop: Shutdown) {
        let mut primary: Option<PgConn> = None;
        let mut connections: Vec<Option<PgConn>> = self.replicas.iter().map(|_| None).collect();
        loop {
            // The primary's position first: a replica answering later can only look closer.
            let position = measure(&mut primary, primary_url, current_position).await.flatten();
            for (replica, conn) in self.replicas.iter().zip(connections.iter_mut()) {
                let replay = measure(conn, &replica.url, async |conn: &mut PgConn| {
                    diesel::sql_query(
                        "SELECT pg_last_wal_replay_lsn()::text AS replayed, \
                         coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 AS since_last_replay",
                    )
                    .get_result::<Replay>(conn)
                    .await
                })
                .await;
                self.record(replica, position, replay);
            }
            tokio::select! {
                () = tokio::time::sleep(MONITOR_EVERY) => {}
                () = stop.wait() => return,
            }
        }
    }

    /// Updates a replica's replay position, lag gauges and usability from one measurement.
    fn record(&self, replica: &Replica, position: Option<Lsn>, replay: Option<Replay>) {
        let Some(replay) = replay else {
            replica.usable.store(false, Ordering::Release);
            self.lag_seconds.with_label_values(&[&replica.name]).set(f64::INFINITY);
            return;
        };
        let (replayed, lag_seconds, lag_bytes) = match replay.replayed.and_then(|lsn| lsn.parse::<Lsn>().ok()) {
            // Not in recovery: a primary (or a promoted replica) has everything.
            None => (u64::MAX, 0.0, 0),
            Some(replayed) => match position {
                Some(position) if replayed < position => {
                    (replayed.0, replay.since_last_replay.max(0.0), (position.0 - replayed.0) as i64)
                }
                Some(_) => (replayed.0, 0.0, 0),
                // The primary did not answer: how far behind is unknown; time is all there is.
                None => (replayed.0, replay.since_last_replay.max(0.0), 0),
            },
        };
        replica.replayed.fetch_max(replayed, Ordering::AcqRel);
        replica.usable.store(lag_seconds <= self.max_lag.as_secs_f64(), Ordering::Release);
        self.lag_seconds.with_label_values(&[&replica.name]).set(lag_seconds);
        self.lag_bytes.with_label_values(&[&replica.name]).set(lag_bytes);
    }
}

/// The primary's WAL position now (`None` from a server in recovery).
async fn current_position(conn: &mut PgConn) -> diesel::QueryResult<Option<Lsn>> {
    let position: Position = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn").get_result(conn).await?;
    Ok(position.lsn.and_then(|lsn| lsn.parse().ok()))
}

/// Runs `query` on `conn`, connecting first when needed; a failure, or no answer within
/// [`MEASURE_TIMEOUT`] (a host that drops packets never refuses), drops the connection (the
/// next measurement reconnects) and yields `None`, which makes the server unusable until then.
async fn measure<T>(
    conn: &mut Option<PgConn>,
    url: &str,
    query: impl AsyncFnOnce(&mut PgConn) -> std::result::Result<T, diesel::result::Error>,
) -> Option<T> {
    let outcome = tokio::time::timeout(MEASURE_TIMEOUT, async {
        if conn.is_none() {
            *conn = PgConn::establish(url).await.ok();
        }
        query(conn.as_mut()?).await.ok()
    })
    .await
    .ok()
    .flatten();
    if outcome.is_none() {
        *conn = None;
    }
    outcome
}

/// `host:port/database` of a URL, without user or password.
fn label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('?').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_print_as_postgresql_writes_them() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert!("0/1".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
        for bad in ["", "16", "x/1", "1/100000000", "1/-1"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_counts_as_not_answering_within_the_timeout() {
        // Accepts connections (the kernel's backlog) and never says a word: a dropped route.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("postgres://postgres@{}/catalog", silent.local_addr().unwrap());
        let started = std::time::Instant::now();
        let mut conn = None;
        let measured = measure(&mut conn, &url, async |_: &mut PgConn| Ok(())).await;
        assert!(measured.is_none() && conn.is_none());
        assert!(started.elapsed() < MEASURE_TIMEOUT + Duration::from_millis(500), "{:?}", started.elapsed());
    }

    #[test]
    fn a_replica_is_named_without_its_credentials() {
        assert_eq!(
            label("postgres://reader:secret@db-ro.internal:5433/catalog?sslmode=require"),
            "db-ro.internal:5433/catalog"
        );
    }
}
