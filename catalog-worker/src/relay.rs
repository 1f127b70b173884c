//! The outbox relay: publishes committed outbox rows in id order and marks them published only
//! after the broker confirmed them.
//!
//! **Partitions.** The outbox is split into `outbox_relay.partitions` partitions by organization
//! (`outbox_partition(organization_id, n)`, a stable hash); each is drained by one relay at a
//! time, elected by a PostgreSQL session advisory lock of its own, so N worker replicas relay in
//! parallel while each aggregate's events (which belong to one organization) keep commit order.
//! Every replica waits on every partition's lock it does not hold: when a relay dies its lock
//! dies with its connection and a waiting replica takes the partition at once. A replica holding
//! more partitions than a waiting replica plus one hands one over (between batches), so the
//! partitions spread over the replicas. With one partition this is the single relay of before
//! (the same lock key), so replicas of the previous version and this one exclude each other.
//!
//! **Changing the count** (`WORKER_OUTBOX_PARTITIONS`, applied by a worker at start): the
//! change is announced first (`outbox_relay.changing_to`); relays seeing it at their next claim
//! claim nothing more, settle what is in flight, let go of their partitions and wait. Every
//! claimed batch holds the scheme lock shared until it settles; the change completes once it
//! gets that lock exclusively (polled, never queued, so no claim waits behind it), i.e. once no
//! batch of the old count is in flight. Relays then elect again under the new count. An
//! aggregate's unpublished rows are all in one new partition, none in flight: nothing is lost
//! or reordered.
//!
//! Rows are claimed `FOR UPDATE SKIP LOCKED`, so even two relays (e.g. across a lock handover)
//! never claim the same row. New rows wake the relays through LISTEN/NOTIFY; polling is only the
//! fallback.
//!
//! Batches are pipelined over two connections: while the broker confirms one batch (its rows
//! locked in its open transaction), the next is claimed and written to the same channel, so
//! the broker receives them in id order. A batch is marked published only after its own
//! confirms and only after every earlier batch was; when one fails, the relay drops both
//! transactions and starts again from the oldest unpublished row of its partition (what the
//! broker already got is delivered again: at least once, each aggregate's newest event last).

use crate::backoff::Backoff;
use crate::metrics::WorkerMetrics;
use crate::publisher::{OutgoingMessage, Publisher, Verdict};
use catalog_core::config::Settings;
use catalog_core::db::PgConn;
use catalog_core::repo::outbox::OutboxRow;
use catalog_core::schema::outbox;
use catalog_core::shutdown::Shutdown;
use catalog_core::telemetry::{self, Served};
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Integer, Text};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Partition `p`'s lock is `RELAY_LOCK_KEY + p` (partition 0's is the single relay's of before).
const RELAY_LOCK_KEY: i64 = 0x00ca_7a10_0b0c;
/// Held shared by every claimed batch until it settles, exclusively by a partition count change.
const SCHEME_LOCK_KEY: i64 = 0x00ca_7a10_0b0b;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The backlog gauges cost a count over the unpublished rows: once a second is enough.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);
/// How often a partition count change checks whether batches of the old count are in flight.
const CHANGE_POLL: Duration = Duration::from_millis(100);
/// How often a relay holding several partitions looks for a replica waiting with fewer.
const BALANCE_EVERY: Duration = Duration::from_secs(3);

pub struct Relay {
    pub settings: Arc<Settings>,
    /// The broker; each partition publishes over a connection of its own.
    pub amqp_url: String,
    pub metrics: WorkerMetrics,
}

/// The `outbox_relay` row.
#[derive(QueryableByName)]
struct Scheme {
    #[diesel(sql_type = Integer)]
    partitions: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    changing_to: Option<i32>,
}

#[derive(QueryableByName)]
struct Backlog {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Double)]
    oldest_seconds: f64,
}

/// A relay replica's partition locks, as `pg_locks` shows them.
#[derive(QueryableByName)]
struct RelayLocks {
    #[diesel(sql_type = Text)]
    relay: String,
    #[diesel(sql_type = BigInt)]
    held: i64,
    #[diesel(sql_type = Array<BigInt>)]
    waiting_for: Vec<i64>,
}

/// Why a partition's drain ended without an error.
enum Ended {
    /// The partition count changed: elect again under the new one.
    SchemeChanged,
    /// Handed over to a replica holding fewer partitions.
    HandedOver,
}

/// What the partitions of one replica share.
struct Shared {
    /// `application_name` of this replica's relay connections, how `pg_locks` tells replicas apart.
    name: String,
    held: AtomicI64,
    /// When this replica last handed a partition over (ms since `epoch`): one at a time.
    last_handover_ms: AtomicI64,
    epoch: Instant,
    /// Bumped by every NOTIFY: each partition's drain waits on it.
    wake: watch::Receiver<u64>,
}

impl Relay {
    /// Runs until `stop`: applies `WORKER_OUTBOX_PARTITIONS` if set, then relays every partition
    /// it is elected for, electing again whenever the count changes. Reconnects with backoff
    /// whenever PostgreSQL or RabbitMQ fail.
    pub async fn run(self, stop: Shutdown) {
        let this = Arc::new(self);
        let url = this.settings.database.url().expose().to_string();
        let (notify, wake) = watch::channel(0_u64);
        tokio::spawn(listen(url.clone(), notify, stop.clone()));
        let shared = Arc::new(Shared {
            name: format!("catalog-relay-{}", uuid::Uuid::now_v7().simple()),
            held: AtomicI64::new(0),
            last_handover_ms: AtomicI64::new(0),
            epoch: Instant::now(),
            wake,
        });
        let mut backoff = Backoff::default();
        loop {
            let partitions = tokio::select! {
                partitions = this.partitions(&url) => partitions,
                () = stop.wait() => return,
            };
            let partitions = match partitions {
                Ok(partitions) => partitions,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox partition count; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff.pause()) => continue,
                        () = stop.wait() => return,
                    }
                }
            };
            backoff.reset();
            this.metrics.relay_partitions.set(i64::from(partitions));
            // One election per partition; all end when the count changes (or at `stop`).
            let round = Shutdown::default();
            let mut tasks = tokio::task::JoinSet::new();
            for partition in 0..partitions {
                let (me, shared, round, stop, url) =
                    (this.clone(), shared.clone(), round.clone(), stop.clone(), url.clone());
                tasks.spawn(async move { me.elect(&url, partition, partitions, &shared, &round, &stop).await });
            }
            while tasks.join_next().await.is_some() {}
            if stop.triggered() {
                return;
            }
        }
    }

    /// The partition count, after applying `WORKER_OUTBOX_PARTITIONS` when it differs; waits
    /// while a change is under way.
    async fn partitions(&self, url: &str) -> Result<i32, String> {
        let mut conn = PgConn::establish(url).await.map_err(|e| e.to_string())?;
        if let Some(wanted) = self.settings.worker.outbox_partitions {
            let scheme = read_scheme(&mut conn).await?;
            if scheme.partitions != wanted as i32 || scheme.changing_to.is_some() {
                tracing::info!(from = scheme.partitions, to = wanted, "changing the outbox partition count");
                set_partitions(&mut conn, wanted as i32).await?;
            }
        }
        loop {
            let scheme = read_scheme(&mut conn).await?;
            if scheme.changing_to.is_none() {
                return Ok(scheme.partitions);
            }
            tokio::time::sleep(CHANGE_POLL).await;
        }
    }

    /// Waits for partition `partition`'s lock, drains it, and again, until the count changes
    /// (`round` is then triggered for every partition) or `stop`.
    async fn elect(
        &self,
        url: &str,
        partition: i32,
        partitions: i32,
        shared: &Shared,
        round: &Shutdown,
        stop: &Shutdown,
    ) {
        let mut backoff = Backoff::default();
        while !stop.triggered() && !round.triggered() {
            let outcome = tokio::select! {
                outcome = self.lead(url, partition, partitions, shared, &mut backoff) => outcome,
                () = round.wait() => return,
                () = stop.wait() => return,
            };
            match outcome {
                Ok(Ended::SchemeChanged) => {
                    tracing::info!(partition, "the outbox partition count changed; electing again");
                    round.trigger();
                    return;
                }
                Ok(Ended::HandedOver) => {}
                Err(e) => {
                    tracing::warn!(partition, error = %e, "outbox relay interrupted; retrying");
                    self.metrics.publish_failures.inc();
                    tokio::select! {
                        () = tokio::time::sleep(backoff.pause()) => {}
                        () = round.wait() => return,
                        () = stop.wait() => return,
                    }
                }
            }
        }
    }

    /// Waits to hold the partition's lock, then drains it until an error, a count change or a
    /// handover. The lock lives as long as the connection, which the drain keeps.
    async fn lead(
        &self,
        url: &str,
        partition: i32,
        partitions: i32,
        shared: &Shared,
        backoff: &mut Backoff,
    ) -> Result<Ended, String> {
        let mut conn = relay_connection(url, &shared.name).await?;
        let key = RELAY_LOCK_KEY + i64::from(partition);
        // Waiting (not polling) shows this replica in pg_locks to the holder, which may hand over.
        conn.batch_execute(&format!("SELECT pg_advisory_lock({key})")).await.map_err(database)?;
        let held = Held::new(shared, &self.metrics);
        tracing::info!(partition, partitions, held = held.count(), "this replica now relays an outbox partition");
        let outcome = self.drain(url, conn, partition, partitions, shared, backoff).await;
        drop(held);
        outcome
    }

    async fn drain(
        &self,
        url: &str,
        conn: PgConn,
        partition: i32,
        partitions: i32,
        shared: &Shared,
        backoff: &mut Backoff,
    ) -> Result<Ended, String> {
        let publisher = Publisher::start(self.amqp_url.clone(), self.settings.rabbitmq.exchange.clone());
        let batch_size = self.settings.worker.outbox_batch_size;
        let poll = Duration::from_millis(self.settings.worker.outbox_poll_ms);
        let scope = Partition { index: partition, count: partitions };
        let mut wake = shared.wake.clone();
        // Two connections: one batch's rows stay locked in its transaction while the broker
        // confirms it, and the next batch is claimed and written meanwhile on the other.
        let mut idle = vec![conn, relay_connection(url, &shared.name).await?];
        let mut in_flight: Option<Claimed> = None;
        let mut last_prune = Instant::now() - PRUNE_EVERY;
        let mut last_backlog = Instant::now() - BACKLOG_EVERY;
        let mut last_balance = Instant::now();
        loop {
            wake.borrow_and_update();
            let conn = idle.pop().ok_or("no idle relay connection")?;
            let claimed = self.claim(conn, &publisher, scope, batch_size).await?;
            // The previous batch went to the broker before this one: settle it first.
            if let Some(previous) = in_flight.take() {
                idle.push(self.settle(previous).await?);
            }
            // Housekeeping on the idle connection, also during a long drain; the outbox-wide
            // chores only by partition 0's relay.
            if let Some(conn) = idle.last_mut() {
                if partition == 0 && last_backlog.elapsed() >= BACKLOG_EVERY {
                    self.refresh_backlog(conn).await;
                    last_backlog = Instant::now();
                }
                if partition == 0 && last_prune.elapsed() >= PRUNE_EVERY {
                    self.prune(conn).await;
                    last_prune = Instant::now();
                }
            }
            // A full batch means a backlog: keep the next in flight, except once per
            // `BALANCE_EVERY`, when it settles so the partition can be handed over mid-backlog.
            let backlog = matches!(&claimed, Claim::Batch(batch) if batch.ids.len() as i64 >= batch_size);
            match claimed {
                Claim::Batch(batch) if backlog && last_balance.elapsed() < BALANCE_EVERY => {
                    in_flight = Some(batch);
                    backoff.reset();
                    continue;
                }
                Claim::Batch(batch) => {
                    idle.push(self.settle(batch).await?);
                    backoff.reset();
                }
                Claim::Empty(conn) => idle.push(conn),
                // The batch in flight before it was settled above.
                Claim::SchemeChanged => return Ok(Ended::SchemeChanged),
            }
            // Nothing in flight: the moment to hand the partition over, if fairer.
            if last_balance.elapsed() >= BALANCE_EVERY {
                last_balance = Instant::now();
                if let Some(conn) = idle.last_mut() {
                    if self.should_hand_over(conn, partition, shared).await {
                        tracing::info!(partition, "handing this outbox partition to a replica holding fewer");
                        return Ok(Ended::HandedOver);
                    }
                }
            }
            if backlog {
                continue;
            }
            // Caught up: sleep until new rows commit (NOTIFY) or the poll interval passes.
            let _ = tokio::time::timeout(poll, wake.changed()).await;
        }
    }

    /// Whether another replica waits for `partition` while holding at least two fewer partitions
    /// than this one (and this replica handed none over in the last `BALANCE_EVERY`).
    async fn should_hand_over(&self, conn: &mut PgConn, partition: i32, shared: &Shared) -> bool {
        let mine = AtomicI64::load(&shared.held, Ordering::SeqCst);
        let now_ms = shared.epoch.elapsed().as_millis() as i64;
        let last_handover_ms = AtomicI64::load(&shared.last_handover_ms, Ordering::SeqCst);
        if mine < 2 || now_ms - last_handover_ms < BALANCE_EVERY.as_millis() as i64 {
            return false;
        }
        let query = format!(
            "SELECT a.application_name AS relay, count(*) FILTER (WHERE l.granted) AS held, \
                    coalesce(array_agg((l.classid::bigint << 32) + l.objid::bigint) FILTER (WHERE NOT l.granted), '{{}}') AS waiting_for \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND (l.classid::bigint << 32) + l.objid::bigint BETWEEN {RELAY_LOCK_KEY} AND {RELAY_LOCK_KEY} + 63 \
             GROUP BY a.application_name"
        );
        let Ok(relays) = diesel::sql_query(query).load::<RelayLocks>(conn).await else { return false };
        let key = RELAY_LOCK_KEY + i64::from(partition);
        let fewer_waiting =
            relays.iter().any(|r| r.relay != shared.name && r.waiting_for.contains(&key) && r.held + 1 < mine);
        // Of this replica's partitions deciding at once, only the first hands over.
        fewer_waiting
            && shared
                .last_handover_ms
                .compare_exchange(last_handover_ms, now_ms, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// Opens a transaction, locks the next batch of unpublished rows and hands their messages
    /// to the publisher. The transaction stays open until [`Self::settle`].
    async fn claim(
        &self,
        mut conn: PgConn,
        publisher: &Publisher,
        scope: Partition,
        batch_size: i64,
    ) -> Result<Claim, String> {
        conn.batch_execute("BEGIN").await.map_err(database)?;
        // Shared until this transaction ends: a count change waits for this batch to settle.
        let scheme: Scheme = diesel::sql_query(format!(
            "SELECT partitions, changing_to FROM outbox_relay, pg_advisory_xact_lock_shared({SCHEME_LOCK_KEY})"
        ))
        .get_result(&mut conn)
        .await
        .map_err(database)?;
        if scheme.partitions != scope.count || scheme.changing_to.is_some() {
            conn.batch_execute("COMMIT").await.map_err(database)?;
            return Ok(Claim::SchemeChanged);
        }
        let in_partition = if scope.count > 1 {
            format!("outbox_partition(organization_id, {}) = {}", scope.count, scope.index)
        } else {
            "true".to_string()
        };
        let rows: Vec<OutboxRow> = outbox::table
            .filter(outbox::published_at.is_null())
            .filter(diesel::dsl::sql::<Bool>(&in_partition))
            .order(outbox::id.asc())
            .limit(batch_size)
            .for_update()
            .skip_locked()
            .select(OutboxRow::as_select())
            .load(&mut conn)
            .await
            .map_err(database)?;
        if rows.is_empty() {
            conn.batch_execute("COMMIT").await.map_err(database)?;
            return Ok(Claim::Empty(conn));
        }
        let exchange = self.settings.rabbitmq.exchange.as_str();
        let (messages, sends): (Vec<OutgoingMessage>, Vec<Served>) = rows
            .iter()
            .map(|row| {
                // Each event continues its writer's trace; its send span lasts until confirmed.
                let send = Served::start(telemetry::extract_event(&row.payload["metadata"]), || {
                    catalog_core::work_span!(
                        "publish",
                        "producer",
                        otel.name = %format_args!("publish {exchange}"),
                        messaging.system = "rabbitmq",
                        messaging.operation.type = "send",
                        messaging.destination.name = exchange,
                        messaging.rabbitmq.destination.routing_key = %row.event_type,
                        messaging.message.id = %row.event_id,
                    )
                });
                let message = OutgoingMessage {
                    routing_key: row.event_type.clone(),
                    message_id: row.event_id.to_string(),
                    body: serde_json::to_vec(&row.payload).unwrap_or_default(),
                    headers: send.headers(),
                };
                (message, send)
            })
            .unzip();
        let verdict = publisher.hand_over(messages).await.map_err(|e| format!("publish: {e}"))?;
        Ok(Claim::Batch(Claimed { conn, ids: rows.iter().map(|r| r.id).collect(), verdict, sends }))
    }

    /// Awaits the broker's verdict on a claimed batch: confirmed, its rows are marked published
    /// and the transaction commits; refused, the error drops the connection, which rolls the
    /// transaction back and leaves the rows for the next attempt. Returns the connection.
    async fn settle(&self, batch: Claimed) -> Result<PgConn, String> {
        let Claimed { mut conn, ids, verdict, sends } = batch;
        if let Err(e) = verdict.confirmed().await {
            for send in sends.iter().filter_map(Served::span) {
                telemetry::fail(send, &e);
            }
            return Err(format!("publish: {e}"));
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set((outbox::published_at.eq(Utc::now()), outbox::attempts.eq(outbox::attempts + 1)))
            .execute(&mut conn)
            .await
            .map_err(database)?;
        conn.batch_execute("COMMIT").await.map_err(database)?;
        self.metrics.published.inc_by(ids.len() as u64);
        Ok(conn)
    }

    async fn refresh_backlog(&self, conn: &mut PgConn) {
        let query = "SELECT count(*) AS rows, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds \
                     FROM outbox WHERE published_at IS NULL";
        if let Ok(backlog) = diesel::sql_query(query).get_result::<Backlog>(conn).await {
            self.metrics.outbox_backlog.set(backlog.rows);
            self.metrics.outbox_oldest_age_seconds.set(backlog.oldest_seconds as i64);
        }
    }

    /// Deletes published rows past the retention period and expired idempotency keys, a bounded
    /// chunk at a time.
    async fn prune(&self, conn: &mut PgConn) {
        let hours = self.settings.worker.outbox_retention_hours;
        let statement = format!(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < now() - interval '{hours} hours' LIMIT 10000)"
        );
        if let Err(e) = conn.batch_execute(&statement).await {
            tracing::warn!(error = %e, "outbox pruning failed");
        }
        if let Err(e) = catalog_core::repo::idempotency::prune(conn).await {
            tracing::warn!(error = %e, "idempotency key pruning failed");
        }
    }
}

/// A batch whose rows are locked in the open transaction on `conn`, handed to the publisher.
struct Claimed {
    conn: PgConn,
    ids: Vec<i64>,
    verdict: Verdict,
    /// The messages' send spans, ended when the batch settles.
    sends: Vec<Served>,
}

enum Claim {
    /// Nothing to publish (the transaction is closed).
    Empty(PgConn),
    Batch(Claimed),
    /// The partition count is changing or changed (the transaction is closed).
    SchemeChanged,
}

/// The rows a relay drains: those whose organization hashes to `index` among `count`.
#[derive(Clone, Copy)]
struct Partition {
    index: i32,
    count: i32,
}

/// Counts a held partition in the replica's total and its gauges while it lives.
struct Held<'a> {
    shared: &'a Shared,
    metrics: &'a WorkerMetrics,
}

impl<'a> Held<'a> {
    fn new(shared: &'a Shared, metrics: &'a WorkerMetrics) -> Self {
        let held = shared.held.fetch_add(1, Ordering::SeqCst) + 1;
        metrics.relay_partitions_held.set(held);
        metrics.relay_leader.set(1);
        Self { shared, metrics }
    }

    fn count(&self) -> i64 {
        AtomicI64::load(&self.shared.held, Ordering::SeqCst)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let held = self.shared.held.fetch_sub(1, Ordering::SeqCst) - 1;
        self.metrics.relay_partitions_held.set(held);
        self.metrics.relay_leader.set(i64::from(held > 0));
    }
}

async fn relay_connection(url: &str, name: &str) -> Result<PgConn, String> {
    let mut conn = PgConn::establish(url).await.map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("SET application_name = '{name}'")).await.map_err(database)?;
    Ok(conn)
}

async fn read_scheme(conn: &mut PgConn) -> Result<Scheme, String> {
    diesel::sql_query("SELECT partitions, changing_to FROM outbox_relay").get_result(conn).await.map_err(database)
}

/// Changes the partition count: announces it (relays stop claiming), then completes it once no
/// claimed batch is in flight — they hold the scheme lock shared until they settle, and this
/// polls for it exclusively rather than queueing, so a relay's next claim never waits behind it
/// while its previous batch, which this waits for, waits for that claim.
pub async fn set_partitions(conn: &mut PgConn, partitions: i32) -> Result<(), String> {
    if !(1..=64).contains(&partitions) {
        return Err(format!("WORKER_OUTBOX_PARTITIONS: must be between 1 and 64, not {partitions}"));
    }
    diesel::sql_query("UPDATE outbox_relay SET changing_to = $1")
        .bind::<Integer, _>(partitions)
        .execute(conn)
        .await
        .map_err(database)?;
    loop {
        let done = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let free: Vec<Scheme> = diesel::sql_query(format!(
                    "SELECT partitions, changing_to FROM outbox_relay WHERE pg_try_advisory_xact_lock({SCHEME_LOCK_KEY})"
                ))
                .load(conn)
                .await?;
                if free.is_empty() {
                    return Ok(false);
                }
                // The last announced count wins when two changes race.
                diesel::sql_query("UPDATE outbox_relay SET partitions = coalesce(changing_to, partitions), changing_to = NULL")
                    .execute(conn)
                    .await?;
                Ok(true)
            })
            .await
            .map_err(database)?;
        if done {
            return Ok(());
        }
        tokio::time::sleep(CHANGE_POLL).await;
    }
}

fn database(e: diesel::result::Error) -> String {
    format!("database: {e}")
}

/// A dedicated connection LISTENing on `catalog_outbox`; every notification wakes the relays.
async fn listen(url: String, wake: watch::Sender<u64>, stop: Shutdown) {
    loop {
        let session = async {
            let mut conn = PgConn::establish(&url).await.map_err(|e| e.to_string())?;
            conn.batch_execute("LISTEN catalog_outbox").await.map_err(|e| e.to_string())?;
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            while let Some(notification) = notifications.next().await {
                notification.map_err(|e| e.to_string())?;
                wake.send_modify(|n| *n = n.wrapping_add(1));
            }
            Ok::<(), String>(())
        };
        tokio::select! {
            outcome = session => if let Err(e) = outcome { tracing::warn!(error = %e, "outbox LISTEN connection lost") },
            () = stop.wait() => return,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
