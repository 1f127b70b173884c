//! Reads through a real streaming replica (`deploy/local/replica.sh`, PostgreSQL's own
//! `pg_basebackup` on 127.0.0.1:5433, named by `TEST_REPLICA_URL`): GETs are served by it, a
//! writer's reads carry its write's position and fall back to the primary while replay is
//! paused, and a replica further behind than `DATABASE_READ_MAX_LAG_MS` is skipped.
//!
//! deploy/local/test.sh starts the replica, runs this binary alone, and removes the replica.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::db::PgConn;
use common::{TestApp, User};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;
use std::time::Duration;

const HEADER: &str = "x-catalog-read-after";

fn replica_base() -> String {
    std::env::var("TEST_REPLICA_URL").expect(
        "TEST_REPLICA_URL names a streaming replica of the test PostgreSQL (deploy/local/replica.sh start; \
         deploy/local/test.sh sets it)",
    )
}

/// The app with the test database's replica as its read replica.
async fn app_reading_the_replica(max_lag_ms: u64) -> TestApp {
    TestApp::start_with_env(|db| {
        vec![
            ("DATABASE_READ_URL".into(), format!("{}/{}", replica_base(), db.name)),
            ("DATABASE_READ_MAX_LAG_MS".into(), max_lag_ms.to_string()),
        ]
    })
    .await
}

/// `db_reads_total{target}` from the app's metrics.
async fn reads(app: &TestApp, target: &str) -> u64 {
    let text = metrics(app).await;
    let series = format!("db_reads_total{{target=\"{target}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&series)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

async fn metrics(app: &TestApp) -> String {
    let (_, bytes) = app.call_bytes(actix_web::test::TestRequest::get().uri("/metrics").to_request()).await;
    String::from_utf8_lossy(&bytes).to_string()
}

/// How many products a search of the list finds for `term`, asked with `headers`. The search
/// runs on the database the request is routed to (the items' views may come from the cache).
async fn found(app: &TestApp, user: &User, term: &str, headers: &[(&str, &str)]) -> usize {
    let path = format!("/api/v1/products?search={term}");
    let reply = app.send_raw(Some(&format!("Bearer {}", user.token)), Method::GET, &path, None, headers).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.data()["edges"].as_array().unwrap().len()
}

async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    catalog_core::testing::eventually(what, Duration::from_secs(30), check).await;
}

#[derive(diesel::QueryableByName)]
struct State {
    #[diesel(sql_type = Text)]
    state: String,
}

/// Pauses (or resumes) WAL replay on the replica and waits until it took effect.
async fn replay(paused: bool) {
    let mut conn = PgConn::establish(&format!("{}/postgres", replica_base())).await.expect("replica");
    let call = if paused { "pg_wal_replay_pause()" } else { "pg_wal_replay_resume()" };
    diesel::sql_query(format!("SELECT {call}")).execute(&mut conn).await.expect(call);
    let wanted = if paused { "paused" } else { "not paused" };
    eventually(&format!("replay {wanted}"), async || {
        let state: State = diesel::sql_query("SELECT pg_get_wal_replay_pause_state() AS state")
            .get_result(&mut conn)
            .await
            .expect("pause state");
        state.state == wanted
    })
    .await;
}

/// Resumes replay however the test ends: the replica serves the next test.
struct ResumeReplay;

impl Drop for ResumeReplay {
    fn drop(&mut self) {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(replay(false))
        })
        .join()
        .ok();
    }
}

/// A product named "Before" in `app`, once the replica serves it; returns its id.
async fn product_served_by_the_replica(app: &TestApp, admin: &User) -> (String, String) {
    let created = app.post(admin, "/api/v1/products", json!({ "name": "Before", "sku": "R-1", "price": 1 })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let position =
        created.headers.get(HEADER).expect("a write answers with its position").to_str().unwrap().to_string();
    eventually("the replica serves the list", async || {
        let before = reads(app, "replica").await;
        found(app, admin, "Before", &[]).await == 1 && reads(app, "replica").await > before
    })
    .await;
    (created.id(), position)
}

/// One test: pausing replay is for the whole replica, so its phases cannot run side by side.
#[actix_web::test]
async fn a_writer_reads_its_own_write_while_replay_is_paused_and_a_replica_past_the_lag_budget_is_skipped() {
    // A long lag budget keeps the paused replica in use for reads without a position; a short
    // one drops it.
    let (patient, strict) = (app_reading_the_replica(600_000).await, app_reading_the_replica(300).await);
    let admin = User::admin();
    let (id, position) = product_served_by_the_replica(&patient, &admin).await;
    let (strict_id, _) = product_served_by_the_replica(&strict, &admin).await;

    let _resume = ResumeReplay;
    replay(true).await;
    let renamed = patient.patch(&admin, &format!("/api/v1/products/{id}"), json!({ "name": "After" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let after_write = renamed.headers.get(HEADER).unwrap().to_str().unwrap().to_string();
    assert_ne!(after_write, position, "the position moved with the write");
    let cookie = renamed.headers.get("set-cookie").expect("the position as a cookie").to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("catalog_read_after={after_write};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Max-Age=60"), "{cookie}");

    // The writer brings its position: the paused replica is behind it, the primary answers.
    let primary_before = reads(&patient, "primary").await;
    assert_eq!(found(&patient, &admin, "After", &[(HEADER, after_write.as_str())]).await, 1);
    assert!(reads(&patient, "primary").await > primary_before, "served by the primary");
    // The same through the cookie, as a browser sends it back.
    let cookie = format!("catalog_read_after={after_write}");
    assert_eq!(found(&patient, &admin, "After", &[("cookie", cookie.as_str())]).await, 1);
    // A reader without it gets the replica's older version: the replica path is really in use.
    let replica_before = reads(&patient, "replica").await;
    assert_eq!(found(&patient, &admin, "After", &[]).await, 0, "the replica has not replayed the rename");
    assert!(reads(&patient, "replica").await > replica_before);

    // Past the short budget even a reader without a position is sent to the primary.
    let renamed = strict.patch(&admin, &format!("/api/v1/products/{strict_id}"), json!({ "name": "After" })).await;
    assert_eq!(renamed.status, StatusCode::OK);
    eventually("the lagging replica skipped", async || {
        let before = reads(&strict, "primary").await;
        found(&strict, &admin, "After", &[]).await == 1 && reads(&strict, "primary").await > before
    })
    .await;
    let lag: f64 = metrics(&strict)
        .await
        .lines()
        .find_map(|line| line.strip_prefix("db_replica_lag_seconds{").and_then(|rest| rest.split_once("} ")))
        .map(|(_, value)| value.trim().parse().unwrap())
        .expect("the lag is a metric");
    assert!(lag > 0.3, "the lag metric shows the replica behind: {lag}");

    // Replay resumes: the replica catches up and serves the writer too.
    replay(false).await;
    eventually("the caught-up replica serves the writer's position", async || {
        let before = reads(&patient, "replica").await;
        found(&patient, &admin, "After", &[(HEADER, after_write.as_str())]).await == 1
            && reads(&patient, "replica").await > before
    })
    .await;
}
