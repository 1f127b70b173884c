//! Test fixtures. Each test gets its own database, cloned from a template that was migrated
//! once per migration set, so tests run in parallel and never see each other's rows.
//!
//! `TEST_DATABASE_ADMIN_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names a
//! role allowed to create databases.

use crate::config::{DatabaseSettings, SecretUrl};
use crate::db::{self, PgPool};
use crate::ids::OrganizationId;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use std::time::Duration;

const MIGRATIONS_HASH: &str = env!("CATALOG_MIGRATIONS_HASH");

/// Checks `check` every 100 ms until it holds; panics naming `what` once `within` has passed.
pub async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or(admin);
    format!("{base}/{name}")
}

/// A migrated database of its own, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> Self {
        let template = ensure_template().await;
        let name = format!("catalog_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = admin_connection().await;
        // Cloning fails while another session is connected to the template (a builder that
        // is just finishing); that window is short, so retry briefly.
        let mut attempt = 0;
        loop {
            match admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await {
                Ok(()) => break,
                Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        let url = database_url(&name);
        let pool = db::pool(&Self::settings_for(&url)).unwrap_or_else(|e| panic!("pool for {name}: {e}"));
        Self { name, url, pool }
    }

    /// An empty database with no migrations applied (migration tests).
    pub async fn empty() -> Self {
        let name = format!("catalog_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = admin_connection().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = database_url(&name);
        let pool = db::pool(&Self::settings_for(&url)).unwrap_or_else(|e| panic!("pool for {name}: {e}"));
        Self { name, url, pool }
    }

    pub fn settings_for(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: Some(
                serde_json::from_value::<SecretUrl>(serde_json::Value::String(url.to_string())).unwrap_or_default(),
            ),
            host: String::new(),
            port: 5432,
            name: String::new(),
            user: String::new(),
            password: Default::default(),
            pool_size: 8,
            pool_min_idle: 0,
            connect_timeout_ms: 5000,
            pool_recycle_secs: 1800,
            statement_timeout_ms: 30_000,
            read_url: None,
            read_max_lag_ms: 1000,
            read_after_write_secs: 60,
        }
    }

    pub async fn conn(
        &self,
    ) -> bb8::PooledConnection<'_, diesel_async::pooled_connection::AsyncDieselConnectionManager<AsyncPgConnection>>
    {
        self.pool.get().await.unwrap_or_else(|e| panic!("connection to {}: {e}", self.name))
    }

    /// A fresh organization id: tests tell tenants apart with these.
    pub fn org() -> OrganizationId {
        OrganizationId::generate()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a plain thread with its own runtime avoids
        // blocking on it.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        });
        let _ = dropper.join();
    }
}

async fn admin_connection() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {} (is it running?): {e}", admin_url()))
}

/// Builds `catalog_tpl_<hash>` once, under an advisory lock shared by every test process.
async fn ensure_template() -> String {
    let template = format!("catalog_tpl_{MIGRATIONS_HASH}");
    let mut admin = admin_connection().await;
    admin.batch_execute("SELECT pg_advisory_lock(7265734)").await.unwrap_or_else(|e| panic!("template lock: {e}"));
    let exists = template_exists(&mut admin, &template).await;
    if !exists {
        let building = format!("{template}_building");
        let setup = async {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await?;
            admin.batch_execute(&format!("CREATE DATABASE {building}")).await?;
            db::migrate(&database_url(&building))
                .await
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
            // Only a fully migrated template gets the final name.
            admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).await
        };
        if let Err(e) = setup.await {
            let _ = admin.batch_execute("SELECT pg_advisory_unlock(7265734)").await;
            panic!("cannot build test template {template}: {e}");
        }
    }
    let _ = admin.batch_execute("SELECT pg_advisory_unlock(7265734)").await;
    template
}

async fn template_exists(admin: &mut AsyncPgConnection, template: &str) -> bool {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<diesel::sql_types::Text, _>(template)
        .get_result::<Found>(admin)
        .await
        .map(|f| f.found)
        .unwrap_or(false)
}

/// `png` with its header (IHDR) claiming `width` × `height` px and its checksum fixed up: a
/// decompression bomb's shape, for the upload tests.
pub fn png_claiming(png: &[u8], width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFF_u32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut out = png.to_vec();
    // Signature (8), chunk length (4), "IHDR" (4), then width and height.
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The S3-protocol server the test script starts (moto in server mode, see
/// `deploy/local/lib.sh`): `TEST_S3_ENDPOINT`, default `http://127.0.0.1:9100`.
pub fn s3_endpoint() -> String {
    std::env::var("TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9100".into())
}

/// A new, empty bucket on the test S3 server at `endpoint` and the settings that make the
/// service store uploaded files there (`STORAGE_*`).
pub async fn s3_bucket(endpoint: &str) -> Vec<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bucket = format!("test-{}", uuid::Uuid::now_v7().simple());
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap_or_else(|e| {
        panic!("no S3 server at {endpoint} ({e}): start it with `source deploy/local/lib.sh && ensure_s3`")
    });
    // moto takes unsigned requests: creating the bucket needs no SigV4.
    let request = format!("PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap_or_else(|e| panic!("create bucket: {e}"));
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap_or_else(|e| panic!("create bucket answer: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {answer}");
    [
        ("STORAGE_BACKEND", "s3"),
        ("STORAGE_S3_ENDPOINT", endpoint),
        ("STORAGE_S3_BUCKET", &bucket),
        ("STORAGE_S3_REGION", "us-east-1"),
        ("STORAGE_S3_ACCESS_KEY_ID", "test"),
        ("STORAGE_S3_SECRET_ACCESS_KEY", "test"),
        ("STORAGE_S3_PATH_STYLE", "true"),
        ("STORAGE_TIMEOUT_MS", "1500"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect()
}

/// A TCP proxy in front of a real server that a test can take down and bring back: down,
/// it severs open connections and closes new ones at once — a network fault, not a fake.
pub struct FaultProxy {
    pub addr: std::net::SocketAddr,
    down: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl FaultProxy {
    pub async fn start(upstream: String) -> Self {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("proxy listener: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("proxy address: {e}"));
        let down = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let state = down.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *state.borrow() {
                    continue; // dropped: closed at once
                }
                let mut cut = state.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Self { addr, down }
    }

    /// `http://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

/// A stand-in for another team's gRPC server (`auth::stub`, `stock::stub`): `routes` served on
/// `127.0.0.1:<free port>`, accepting connections when this returns, until the sender drops.
pub async fn serve_grpc(routes: tonic::service::Routes) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind a stand-in gRPC server: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("stand-in address: {e}"));
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), async {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, shutdown)
}
