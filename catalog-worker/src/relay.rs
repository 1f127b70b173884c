//! The outbox relay: publishes committed outbox rows in id order and marks them published only
//! after the broker confirmed them.
//!
//! One replica relays at a time (a PostgreSQL session advisory lock elects it; the others stand
//! by and take over within `STANDBY_RETRY` when it dies, since the lock dies with its
//! connection). A single active relay keeps commit order per aggregate, which concurrent
//! SKIP LOCKED drainers cannot; rows are still claimed `FOR UPDATE SKIP LOCKED`, so even two
//! relays (e.g. across a lock handover) never claim the same row.
//! New rows wake the relay through LISTEN/NOTIFY; polling is only the fallback.
//!
//! Batches are pipelined over two connections: while the broker confirms one batch (its rows
//! locked in its open transaction), the next is claimed and written to the same channel, so
//! the broker receives them in id order. A batch is marked published only after its own
//! confirms and only after every earlier batch was; when one fails, the relay drops both
//! transactions and starts again from the oldest unpublished row (what the broker already got
//! is delivered again: at least once, each aggregate's newest event delivered last).

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
use diesel::sql_types::{BigInt, Bool, Double};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const RELAY_LOCK_KEY: i64 = 0x00ca_7a10_0b0c;
const STANDBY_RETRY: Duration = Duration::from_secs(2);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The backlog gauges cost a count over the unpublished rows: once a second is enough.
const BACKLOG_EVERY: Duration = Duration::from_secs(1);

pub struct Relay {
    pub settings: Arc<Settings>,
    pub publisher: Publisher,
    pub metrics: WorkerMetrics,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

#[derive(QueryableByName)]
struct Backlog {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Double)]
    oldest_seconds: f64,
}

impl Relay {
    /// Runs until `stop`; reconnects with backoff whenever PostgreSQL or RabbitMQ fail.
    pub async fn run(self, stop: Shutdown) {
        let wake = Arc::new(Notify::new());
        let url = self.settings.database.url().expose().to_string();
        tokio::spawn(listen(url.clone(), wake.clone(), stop.clone()));
        let mut backoff = Backoff::default();
        loop {
            let outcome = tokio::select! {
                outcome = self.lead(&url, &wake, &mut backoff) => outcome,
                () = stop.wait() => return,
            };
            self.metrics.relay_leader.set(0);
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "outbox relay interrupted; retrying");
                self.metrics.publish_failures.inc();
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.pause()) => {}
                () = stop.wait() => return,
            }
        }
    }

    /// Waits to become the relay, then drains until an error.
    async fn lead(&self, url: &str, wake: &Notify, backoff: &mut Backoff) -> Result<(), String> {
        let mut conn = PgConn::establish(url).await.map_err(|e| e.to_string())?;
        loop {
            let leader: Flag = diesel::sql_query(format!("SELECT pg_try_advisory_lock({RELAY_LOCK_KEY}) AS value"))
                .get_result(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if leader.value {
                break;
            }
            tokio::time::sleep(STANDBY_RETRY).await;
        }
        tracing::info!("this replica is now the outbox relay");
        self.metrics.relay_leader.set(1);
        let batch_size = self.settings.worker.outbox_batch_size;
        let poll = Duration::from_millis(self.settings.worker.outbox_poll_ms);
        // Two connections: one batch's rows stay locked in its transaction while the broker
        // confirms it, and the next batch is claimed and written meanwhile on the other.
        let mut idle = vec![conn, PgConn::establish(url).await.map_err(|e| e.to_string())?];
        let mut in_flight: Option<Claimed> = None;
        let mut last_prune = Instant::now() - PRUNE_EVERY;
        let mut last_backlog = Instant::now() - BACKLOG_EVERY;
        loop {
            let conn = idle.pop().ok_or("no idle relay connection")?;
            let claimed = self.claim(conn, batch_size).await?;
            // The previous batch went to the broker before this one: settle it first.
            if let Some(previous) = in_flight.take() {
                idle.push(self.settle(previous).await?);
            }
            // Housekeeping on the idle connection, also during a long drain.
            if let Some(conn) = idle.last_mut() {
                if last_backlog.elapsed() >= BACKLOG_EVERY {
                    self.refresh_backlog(conn).await;
                    last_backlog = Instant::now();
                }
                if last_prune.elapsed() >= PRUNE_EVERY {
                    self.prune(conn).await;
                    last_prune = Instant::now();
                }
            }
            match claimed {
                Claim::Batch(batch) if batch.ids.len() as i64 >= batch_size => {
                    in_flight = Some(batch);
                    backoff.reset();
                    continue;
                }
                Claim::Batch(batch) => {
                    idle.push(self.settle(batch).await?);
                    backoff.reset();
                }
                Claim::Empty(conn) => idle.push(conn),
            }
            // Caught up, nothing in flight: sleep until new rows commit (NOTIFY) or the poll
            // interval passes.
            let _ = tokio::time::timeout(poll, wake.notified()).await;
        }
    }

    /// Opens a transaction, locks the next batch of unpublished rows and hands their messages
    /// to the publisher. The transaction stays open until [`Self::settle`].
    async fn claim(&self, mut conn: PgConn, batch_size: i64) -> Result<Claim, String> {
        conn.batch_execute("BEGIN").await.map_err(database)?;
        let rows: Vec<OutboxRow> = outbox::table
            .filter(outbox::published_at.is_null())
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
        let verdict = self.publisher.hand_over(messages).await.map_err(|e| format!("publish: {e}"))?;
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
}

fn database(e: diesel::result::Error) -> String {
    format!("database: {e}")
}

/// A dedicated connection LISTENing on `catalog_outbox`; every notification wakes the relay.
async fn listen(url: String, wake: Arc<Notify>, stop: Shutdown) {
    loop {
        let session = async {
            let mut conn = PgConn::establish(&url).await.map_err(|e| e.to_string())?;
            conn.batch_execute("LISTEN catalog_outbox").await.map_err(|e| e.to_string())?;
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            while let Some(notification) = notifications.next().await {
                notification.map_err(|e| e.to_string())?;
                wake.notify_one();
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
