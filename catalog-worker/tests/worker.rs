//! The event path against real RabbitMQ, PostgreSQL and Redis: every write's event is relayed
//! with the SPEC §6 envelope, exactly once in the normal path, none lost across a broker outage;
//! consumed events take effect; poison goes to the dead-letter queue without blocking the queue.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use amiquip::{Connection, ConsumerMessage, ConsumerOptions, FieldTable, Publish, QueueDeclareOptions};
use catalog_core::asyncapi;
use catalog_core::auth::{Authenticator, Claims, mint_dev_token};
use catalog_core::cache::{self, Cache, CacheKind};
use catalog_core::config::Settings;
use catalog_core::ids::{OrganizationId, UserId};
use catalog_core::inbound::EventHandler;
use catalog_core::media::MediaStore;
use catalog_core::models::{
    ActiveStatus, Actor, BrandChanges, NewBrand, NewProduct, NewVariant, ProductChanges, VariantChanges,
};
use catalog_core::read::Catalog;
use catalog_core::repo::recipes::{self, IngredientDraft, RecipeDraft};
use catalog_core::repo::{brands, products, variants};
use catalog_core::shutdown::Shutdown;
use catalog_core::testing::TestDb;
use catalog_worker::consumer::Consumers;
use catalog_worker::janitor::MediaJanitor;
use catalog_worker::metrics::WorkerMetrics;
use catalog_worker::relay::Relay;
use catalog_worker::topology::{INVENTORY_BINDINGS, Topology};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const DEV_SECRET: &str = "worker-tests-dev-secret-0123456789";

struct World {
    db: TestDb,
    settings: Arc<Settings>,
    topology: Topology,
    catalog: Catalog,
    stop: Shutdown,
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop.trigger();
        let t = self.topology.clone();
        let exchanges =
            [t.catalog_exchange, t.auth_exchange, t.pricing_exchange, t.inventory_exchange, t.dead_letter_exchange];
        let queues = [t.auth_queue, t.pricing_queue, t.inventory_queue, t.invalidation_queue, t.dead_letter_queue];
        // Best effort: leave the shared broker as we found it.
        if let Ok(mut conn) = Connection::insecure_open(AMQP) {
            if let Ok(channel) = conn.open_channel(None) {
                for q in queues {
                    let _ = channel.queue_delete(q, Default::default());
                }
                for e in exchanges {
                    let _ = channel.exchange_delete(e, Default::default());
                }
            }
            let _ = conn.close();
        }
    }
}

async fn world() -> World {
    world_with(Vec::new()).await
}

/// A world whose settings `extra` overrides.
async fn world_with(extra: Vec<(String, String)>) -> World {
    let db = TestDb::new().await;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("REDIS_KEY_PREFIX".into(), format!("test:{tag}:")),
        ("RABBITMQ_URL".into(), AMQP.into()),
        ("RABBITMQ_EXCHANGE".into(), format!("t{tag}.catalog_events")),
        ("RABBITMQ_QUEUE_PREFIX".into(), format!("t{tag}.")),
        ("WORKER_OUTBOX_POLL_MS".into(), "200".into()),
        ("WORKER_MAX_RETRIES".into(), "2".into()),
        ("AUTH_MODE".into(), "dev".into()),
        ("AUTH_DEV_SECRET".into(), DEV_SECRET.into()),
        (
            "STORAGE_LOCAL_PATH".into(),
            std::env::temp_dir().join(format!("catalog-test-media/{tag}")).display().to_string(),
        ),
    ];
    let env: Vec<(String, String)> = env.into_iter().chain(extra).collect();
    let settings = Arc::new(Settings::from_env(env).expect("settings"));
    let redis = cache::pool(&settings.redis).expect("redis");
    let catalog = Catalog::new(db.pool.clone(), Cache::new(redis, &settings));
    World { topology: Topology::new(&settings.rabbitmq), db, settings, catalog, stop: Shutdown::default() }
}

fn metrics() -> WorkerMetrics {
    WorkerMetrics::register(&prometheus::Registry::new()).expect("metrics")
}

fn start_relay(w: &World, url: &str, stop: &Shutdown) {
    start_relay_with(w.settings.clone(), url, stop, metrics());
}

fn start_relay_with(settings: Arc<Settings>, url: &str, stop: &Shutdown, metrics: WorkerMetrics) {
    let relay = Relay { settings, amqp_url: url.to_string(), metrics };
    tokio::spawn(relay.run(stop.clone()));
}

fn authenticator(w: &World) -> Arc<Authenticator> {
    let redis = cache::pool(&w.settings.redis).expect("redis");
    Arc::new(Authenticator::new(&w.settings, Some(redis), w.db.pool.clone()).expect("auth"))
}

fn start_consumers(w: &World) -> Arc<Authenticator> {
    start_consumers_counted(w, metrics())
}

/// Consumers reporting to `metrics`.
fn start_consumers_counted(w: &World, metrics: WorkerMetrics) -> Arc<Authenticator> {
    let auth = authenticator(w);
    let consumers = Consumers {
        url: AMQP.into(),
        topology: w.topology.clone(),
        handler: EventHandler { pg: w.db.pool.clone(), catalog: w.catalog.clone(), auth: auth.clone() },
        metrics,
        max_retries: 2,
        stock_batch_size: w.settings.inventory.events_batch_size,
    };
    consumers.start(tokio::runtime::Handle::current(), w.stop.clone());
    auth
}

/// A private queue bound to `routing` on `exchange`, drained on a blocking thread.
struct Tap {
    received: Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    /// Each delivery's `traceparent` AMQP header, in the same order.
    traceparents: Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

impl Tap {
    fn open(exchange: &str, routing: &str, declare_exchange: bool) -> Self {
        Self::bound(exchange, &[routing], declare_exchange)
    }

    /// One queue bound to each of `routings`, as a consumer binds its routing keys.
    fn bound(exchange: &str, routings: &[&str], declare_exchange: bool) -> Self {
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let traceparents = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sink, header_sink) = (received.clone(), traceparents.clone());
        let exchange = exchange.to_string();
        let routings: Vec<String> = routings.iter().map(|r| (*r).to_string()).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut conn = Connection::insecure_open(AMQP).expect("amqp");
            let channel = conn.open_channel(None).expect("channel");
            if declare_exchange {
                channel
                    .exchange_declare(
                        amiquip::ExchangeType::Topic,
                        exchange.as_str(),
                        amiquip::ExchangeDeclareOptions { durable: true, ..Default::default() },
                    )
                    .expect("exchange");
            }
            let queue = channel
                .queue_declare("", QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() })
                .expect("queue");
            for routing in &routings {
                channel
                    .queue_bind(queue.name(), exchange.as_str(), routing.as_str(), FieldTable::default())
                    .expect("bind");
            }
            let consumer = queue.consume(ConsumerOptions { no_ack: true, ..Default::default() }).expect("consume");
            ready_tx.send(()).ok();
            for message in consumer.receiver().iter() {
                if let ConsumerMessage::Delivery(d) = message {
                    let body: Value = serde_json::from_slice(&d.body).unwrap_or(Value::Null);
                    let traceparent = match d.properties.headers().as_ref().and_then(|h| h.get("traceparent")) {
                        Some(amiquip::AmqpValue::LongString(value)) => Some(value.clone()),
                        _ => None,
                    };
                    header_sink.lock().unwrap().push(traceparent);
                    sink.lock().unwrap().push((d.routing_key.clone(), body));
                } else {
                    break;
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("tap ready");
        Self { received, traceparents }
    }

    async fn wait_for(&self, count: usize, within: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn publish(exchange: &str, routing_key: &str, body: &[u8]) {
    let mut conn = Connection::insecure_open(AMQP).expect("amqp");
    let channel = conn.open_channel(None).expect("channel");
    publish_confirmed(&channel, exchange, routing_key, [body]);
    conn.close().expect("close");
}

/// Publishes `bodies` and waits for the broker's confirms, as the peers should: a quorum queue
/// may drop what a closing channel still buffers unconfirmed (a burst test flaked so once).
fn publish_confirmed<'a>(
    channel: &amiquip::Channel,
    exchange: &str,
    routing_key: &str,
    bodies: impl IntoIterator<Item = &'a [u8]>,
) {
    let confirms = channel.listen_for_publisher_confirms().expect("confirms");
    channel.enable_publisher_confirms().expect("confirm mode");
    let mut published = 0;
    for body in bodies {
        channel.basic_publish(exchange, Publish::new(body, routing_key)).expect("publish");
        published += 1;
    }
    let mut confirmed = 0;
    while confirmed < published {
        match confirms.recv_timeout(Duration::from_secs(10)).expect("the broker confirms") {
            amiquip::Confirm::Ack(ack) => confirmed = confirmed.max(ack.delivery_tag),
            amiquip::Confirm::Nack(nack) => panic!("the broker refused message {}", nack.delivery_tag),
        }
    }
}

async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    catalog_core::testing::eventually(what, Duration::from_secs(15), check).await;
}

/// Writes of every kind for `org`; returns (event type, aggregate id) in commit order.
async fn write_everything(w: &World, org: OrganizationId) -> usize {
    let actor = Actor { user_id: Some(UserId::generate()), correlation_id: Some("corr-1".into()) };
    let conn = &mut *w.db.conn().await;
    let brand = brands::create(
        conn,
        org,
        &actor,
        NewBrand {
            metadata: None,
            website: None,
            id: catalog_core::ids::BrandId::generate(),
            organization_id: org,
            name: "Acme".into(),
            slug: String::new(),
            description: None,
            logo_url: None,
            status: ActiveStatus::Active,
        },
    )
    .await
    .expect("brand");
    brands::update(
        conn,
        org,
        &actor,
        brand.id,
        None,
        BrandChanges { description: Some(Some("x".into())), ..Default::default() },
    )
    .await
    .expect("brand update");
    let (product, variant) = products::create(
        conn,
        org,
        &actor,
        NewProduct::new("Martillo", "M-1"),
        Some(NewVariant::new("", rust_decimal::Decimal::ONE)),
    )
    .await
    .expect("product");
    products::update(
        conn,
        org,
        &actor,
        product.id,
        None,
        ProductChanges { title: Some("Martillo grande".into()), ..Default::default() },
    )
    .await
    .expect("update");
    products::set_status(conn, org, &actor, product.id, None, catalog_core::models::ProductStatus::Inactive)
        .await
        .expect("deactivate");
    let variant = variant.expect("default variant");
    variants::update(
        conn,
        org,
        &actor,
        variant.id,
        None,
        VariantChanges { sale_price: Some(rust_decimal::Decimal::TWO), ..Default::default() },
    )
    .await
    .expect("variant update");
    products::delete(conn, org, &actor, product.id, true).await.expect("delete");
    catalog_core::repo::outbox::list_for_organization(conn, org).await.expect("outbox").len()
}

#[tokio::test]
async fn every_write_is_relayed_with_the_envelope_and_routing_key() {
    let w = world().await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    start_relay(&w, AMQP, &w.stop);
    let org = TestDb::org();
    let expected = write_everything(&w, org).await;
    let got = tap.wait_for(expected, Duration::from_secs(15)).await;
    let kinds: Vec<&str> = got.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "catalog.brand.created",
            "catalog.brand.updated",
            "catalog.product.created",
            "catalog.variant.created",
            "catalog.product.updated",
            "catalog.product.deactivated",
            "catalog.variant.updated",
            "catalog.variant.price.changed",
            "catalog.product.deleted",
            "catalog.variant.deleted",
        ]
    );
    for (key, body) in &got {
        assert_as_documented(key, body);
        assert_eq!(body["event"], *key);
        assert_eq!(body["event_type"], *key);
        assert_eq!(body["service"], "catalog-service");
        assert_eq!(body["version"], "1.0");
        assert_eq!(body["organization_id"], org.to_string());
        assert!(body["event_id"].as_str().is_some_and(|id| id.parse::<uuid::Uuid>().is_ok()));
        assert!(body["aggregate_version"].as_i64().is_some_and(|v| v >= 1));
        assert!(body["timestamp"].as_str().is_some());
        assert_eq!(body["metadata"]["correlation_id"], "corr-1");
    }
    let updated = &got[4].1;
    assert_eq!(updated["data"]["changes"]["title"], json!({ "old": "Martillo", "new": "Martillo grande" }));
    assert_eq!(updated["data"]["changes"]["name"], json!({ "old": "Martillo", "new": "Martillo grande" }));
    assert_eq!(got[6].1["data"]["changes"]["price"], json!({ "old": 1.0, "new": 2.0 }), "money as numbers");
    assert_eq!(got[7].1["data"]["change_percentage"], json!(100.0));
    assert_eq!(got[8].1["data"]["variant_ids"].as_array().map(Vec::len), Some(1));
    // Page 05, field by field: every field its example shows is in the relayed `data`, with the
    // example's JSON type (`null` where this write had no value to give).
    for (key, body) in &got {
        let Some(example) = page_example_if_any("05-eventos-publicados.md", key) else { continue };
        let example: Value = serde_json::from_str(&example).expect("page 05's example is JSON");
        for (field, shown) in example["data"].as_object().expect("example data") {
            let ours = &body["data"][field];
            let compatible = std::mem::discriminant(ours) == std::mem::discriminant(shown)
                || (ours.is_null() && NO_VALUE_IN_THIS_WRITE.contains(&field.as_str()));
            assert!(compatible, "{key}: data.{field} is {ours}, page 05 shows {shown}");
        }
    }
    eventually("outbox marked published", async || {
        let conn = &mut *w.db.conn().await;
        catalog_core::repo::outbox::list_for_organization(conn, org)
            .await
            .unwrap()
            .iter()
            .all(|r| r.published_at.is_some())
    })
    .await;
}

#[tokio::test]
async fn two_relays_publish_every_event_once() {
    let w = world().await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    start_relay(&w, AMQP, &w.stop);
    start_relay(&w, AMQP, &w.stop);
    let mut expected = 0;
    for _ in 0..10 {
        expected += write_everything(&w, TestDb::org()).await;
    }
    let got = tap.wait_for(expected, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = tap.received.lock().unwrap().clone();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, body) in &got_after {
        *seen.entry(body["event_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(got.len(), expected, "every event arrives");
    assert_eq!(seen.len(), expected);
    assert!(seen.values().all(|n| *n == 1), "none twice");
}

#[tokio::test]
async fn a_backlog_of_many_batches_is_relayed_once_each_in_commit_order() {
    // Batches of 7: a backlog of ~50 events crosses several pipelined batches.
    let w = world_with(vec![("WORKER_OUTBOX_BATCH_SIZE".into(), "7".into())]).await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    let mut expected = 0;
    for _ in 0..5 {
        expected += write_everything(&w, TestDb::org()).await;
    }
    start_relay(&w, AMQP, &w.stop);
    let got = tap.wait_for(expected, Duration::from_secs(20)).await;
    let arrived: Vec<String> = got.iter().map(|(_, body)| body["event_id"].as_str().unwrap().to_string()).collect();
    #[derive(diesel::QueryableByName)]
    struct Committed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
    }
    let committed: Vec<String> = {
        use diesel_async::RunQueryDsl;
        let conn = &mut *w.db.conn().await;
        diesel::sql_query("SELECT event_id::text FROM outbox ORDER BY id")
            .load::<Committed>(conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.event_id)
            .collect()
    };
    assert_eq!(committed.len(), expected);
    assert_eq!(arrived, committed, "every event once, in outbox order");
}

/// Each organization's events as committed (outbox order), by organization id.
async fn committed_by_organization(w: &World) -> HashMap<String, Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Committed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        organization_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
    }
    use diesel_async::RunQueryDsl;
    let conn = &mut *w.db.conn().await;
    let rows = diesel::sql_query("SELECT organization_id::text, event_id::text FROM outbox ORDER BY id")
        .load::<Committed>(conn)
        .await
        .unwrap();
    let mut by_org: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        by_org.entry(row.organization_id).or_default().push(row.event_id);
    }
    by_org
}

/// Each organization's events in the order they first arrived.
fn first_arrivals_by_organization(got: &[(String, Value)]) -> HashMap<String, Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut by_org: HashMap<String, Vec<String>> = HashMap::new();
    for (_, body) in got {
        let event = body["event_id"].as_str().unwrap().to_string();
        if seen.insert(event.clone()) {
            by_org.entry(body["organization_id"].as_str().unwrap().to_string()).or_default().push(event);
        }
    }
    by_org
}

/// Organizations whose ids fall in every one of `partitions` partitions.
fn organizations_across(partitions: u32, each: usize) -> Vec<OrganizationId> {
    let mut found: HashMap<u32, Vec<OrganizationId>> = HashMap::new();
    while found.len() < partitions as usize || found.values().any(|orgs| orgs.len() < each) {
        let org = TestDb::org();
        // outbox_partition(): the id's last 7 hex digits, modulo the count.
        let text = org.0.to_string();
        let partition = u32::from_str_radix(&text[text.len() - 7..], 16).unwrap() % partitions;
        let orgs = found.entry(partition).or_default();
        if orgs.len() < each {
            orgs.push(org);
        }
    }
    found.into_values().flatten().collect()
}

#[tokio::test]
async fn partitioned_relays_share_the_outbox_and_keep_each_organization_s_order() {
    let w = world_with(vec![
        ("WORKER_OUTBOX_PARTITIONS".into(), "2".into()),
        ("WORKER_OUTBOX_BATCH_SIZE".into(), "7".into()),
    ])
    .await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    let (first, second) = (metrics(), metrics());
    start_relay_with(w.settings.clone(), AMQP, &w.stop, first.clone());
    eventually("the first replica relays both partitions", async || first.relay_partitions_held.get() == 2).await;
    start_relay_with(w.settings.clone(), AMQP, &w.stop, second.clone());
    // The replica holding two hands one to the replica waiting with none.
    eventually("one partition each", async || {
        first.relay_partitions_held.get() == 1 && second.relay_partitions_held.get() == 1
    })
    .await;
    assert_eq!(first.relay_partitions.get(), 2);
    let mut expected = 0;
    for org in organizations_across(2, 3) {
        expected += write_everything(&w, org).await;
    }
    tap.wait_for(expected, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = tap.received.lock().unwrap().clone();
    assert_eq!(got.len(), expected, "every event once");
    assert_eq!(first_arrivals_by_organization(&got), committed_by_organization(&w).await, "in commit order");
}

#[tokio::test]
async fn changing_the_partition_count_while_writing_loses_and_reorders_nothing() {
    let w = world_with(vec![("WORKER_OUTBOX_BATCH_SIZE".into(), "5".into())]).await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    let (before, after) = (metrics(), metrics());
    start_relay_with(w.settings.clone(), AMQP, &w.stop, before.clone());
    let organizations = organizations_across(3, 2);
    let mut expected = 0;
    for (n, org) in organizations.iter().enumerate() {
        if n == 2 {
            // A replica configured with three partitions starts while events flow.
            let mut settings = (*w.settings).clone();
            settings.worker.outbox_partitions = Some(3);
            start_relay_with(Arc::new(settings), AMQP, &w.stop, after.clone());
        }
        expected += write_everything(&w, *org).await;
    }
    eventually("both replicas use three partitions", async || {
        before.relay_partitions.get() == 3 && after.relay_partitions.get() == 3
    })
    .await;
    let committed = committed_by_organization(&w).await;
    assert_eq!(committed.values().map(Vec::len).sum::<usize>(), expected);
    let got = tap.wait_for(expected, Duration::from_secs(20)).await;
    // At least once (a batch sent as the count changed may arrive again), never out of order.
    assert_eq!(first_arrivals_by_organization(&got), committed, "every event, in commit order");
    eventually("all three partitions relayed", async || {
        before.relay_partitions_held.get() + after.relay_partitions_held.get() == 3
    })
    .await;
}

#[tokio::test]
async fn events_committed_during_a_broker_outage_all_arrive_afterwards() {
    let w = world().await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "#", true);
    // The broker is unreachable: the relay keeps failing and the rows stay in the outbox.
    let outage = Shutdown::default();
    start_relay(&w, "amqp://guest:guest@127.0.0.1:1/%2f", &outage);
    let org = TestDb::org();
    let expected = write_everything(&w, org).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(tap.received.lock().unwrap().is_empty());
    {
        let conn = &mut *w.db.conn().await;
        let rows = catalog_core::repo::outbox::list_for_organization(conn, org).await.unwrap();
        assert!(rows.iter().all(|r| r.published_at.is_none()), "nothing marked published without a confirm");
    }
    outage.trigger();
    start_relay(&w, AMQP, &w.stop);
    let got = tap.wait_for(expected, Duration::from_secs(20)).await;
    assert_eq!(got.len(), expected, "every committed write's event arrives");
}

/// A product without variants, priced 1, made by the system.
async fn simple_product(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    title: &str,
    sku: &str,
) -> (catalog_core::models::Product, catalog_core::models::Variant) {
    let made = products::create(
        conn,
        org,
        &Actor::system(),
        NewProduct::new(title, sku),
        Some(NewVariant::new("", rust_decimal::Decimal::ONE)),
    )
    .await
    .expect("product");
    (made.0, made.1.expect("default variant"))
}

fn dev_token(user: UserId, org: OrganizationId) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        user_id: user,
        email: "u@example.com".into(),
        organization_id: org,
        roles: vec![],
        permissions: vec!["catalog:*".into()],
        locals: vec![],
        exp: now + 600,
        iat: now,
    };
    mint_dev_token(DEV_SECRET, &claims).unwrap()
}

#[tokio::test]
async fn consumed_events_take_effect_and_poison_goes_to_the_dead_letter_queue() {
    let w = world().await;
    let auth = start_consumers(&w);
    // The consumers declare their queues; give them a moment before publishing.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let dlq = {
        let (conn_tx, conn_rx) = std::sync::mpsc::channel::<usize>();
        let name = w.topology.dead_letter_queue.clone();
        std::thread::spawn(move || {
            let mut conn = Connection::insecure_open(AMQP).unwrap();
            let channel = conn.open_channel(None).unwrap();
            let queue = channel.queue_declare_passive(name).unwrap();
            conn_tx.send(queue.declared_message_count().unwrap_or(0) as usize).ok();
        });
        conn_rx
    };
    assert_eq!(dlq.recv_timeout(Duration::from_secs(5)).unwrap(), 0);

    // auth.user.deactivated: a cached verification stops working.
    let (org, user) = (TestDb::org(), UserId::generate());
    let token = dev_token(user, org);
    auth.authenticate(&token).await.expect("valid before");
    let event = json!({ "event": "auth.user.deactivated", "event_id": uuid::Uuid::now_v7(), "organization_id": org, "data": { "user_id": user } });
    publish(&w.topology.auth_exchange, "auth.user.deactivated", event.to_string().as_bytes());
    eventually("deactivated user refused", async || auth.authenticate(&token).await.is_err()).await;

    // pricing.price.updated without organization_id drops the variant's cached entries.
    let conn = &mut *w.db.conn().await;
    let (product, variant) = simple_product(conn, org, "Tuerca", "T-1").await;
    w.catalog.variant_cards(org, &[variant.id]).await.unwrap();
    w.catalog.product_details(org, &[product.id]).await.unwrap();
    let cached = |kind| w.catalog.cache.key(kind, org, variant.id);
    assert!(redis_holds(&w, &cached(CacheKind::Variant)).await);
    let event =
        json!({ "event_type": "pricing.price.updated", "payload": { "variant_id": variant.id, "price": "9.99" } });
    publish(&w.topology.pricing_exchange, "pricing.price.updated", event.to_string().as_bytes());
    eventually("variant cache dropped", async || !redis_holds(&w, &cached(CacheKind::Variant)).await).await;
    assert!(!redis_holds(&w, &w.catalog.cache.key(CacheKind::Product, org, product.id)).await);

    // auth.organization.suspended: the organization's variants validate as inactive (the
    // query gRPC's ValidateVariant answers from).
    assert!(w.catalog.variant_cards(org, &[variant.id]).await.unwrap()[0].as_ref().unwrap().validation.is_active);
    let suspended = json!({ "event": "auth.organization.suspended", "event_id": uuid::Uuid::now_v7(), "organization_id": org, "data": {} });
    publish(&w.topology.auth_exchange, "auth.organization.suspended", suspended.to_string().as_bytes());
    eventually("organization suspended", async || {
        !w.catalog.variant_cards(org, &[variant.id]).await.unwrap()[0].as_ref().unwrap().validation.is_active
    })
    .await;

    // Poison, then a good message: the poison is dead-lettered and the good one still handled.
    publish(&w.topology.auth_exchange, "auth.user.deactivated", b"{not json");
    publish(&w.topology.auth_exchange, "auth.user.deactivated", br#"{"event":"auth.user.deactivated","data":{}}"#);
    let (org2, user2) = (TestDb::org(), UserId::generate());
    let token2 = dev_token(user2, org2);
    auth.authenticate(&token2).await.expect("valid before");
    let good =
        json!({ "event": "auth.user.deactivated", "event_id": uuid::Uuid::now_v7(), "data": { "user_id": user2 } });
    publish(&w.topology.auth_exchange, "auth.user.deactivated", good.to_string().as_bytes());
    eventually("message after the poison handled", async || auth.authenticate(&token2).await.is_err()).await;
    let name = w.topology.dead_letter_queue.clone();
    eventually("two poison messages dead-lettered", async || {
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::insecure_open(AMQP).unwrap();
            let channel = conn.open_channel(None).unwrap();
            let count = channel.queue_declare_passive(name).unwrap().declared_message_count().unwrap_or(0);
            let _ = conn.close();
            count == 2
        })
        .await
        .unwrap()
    })
    .await;
    // Each says why and where from, in headers.
    let (name, auth_queue) = (w.topology.dead_letter_queue.clone(), w.topology.auth_queue.clone());
    let reasons = tokio::task::spawn_blocking(move || {
        let mut conn = Connection::insecure_open(AMQP).unwrap();
        let channel = conn.open_channel(None).unwrap();
        let mut reasons = Vec::new();
        while let Some(message) = channel.basic_get(name.as_str(), true).unwrap() {
            let headers = message.delivery.properties.headers().clone().unwrap_or_default();
            let text = |key: &str| match headers.get(key) {
                Some(amiquip::AmqpValue::LongString(text)) => text.clone(),
                other => panic!("{key}: {other:?}"),
            };
            assert_eq!(text("x-original-routing-key"), "auth.user.deactivated");
            assert_eq!(text("x-dead-letter-queue"), auth_queue);
            reasons.push(text("x-dead-letter-reason"));
        }
        let _ = conn.close();
        reasons
    })
    .await
    .unwrap();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("unparseable"), "{reasons:?}");
    assert!(reasons[1].contains("without data.user_id"), "{reasons:?}");
}

/// Whether the key holds an entry (an invalidated key holds an empty tombstone for a while).
async fn redis_holds(w: &World, key: &str) -> bool {
    let pool = cache::pool(&w.settings.redis).unwrap();
    let mut conn = pool.get().await.unwrap();
    let length: i64 = redis::cmd("STRLEN").arg(key).query_async(&mut *conn).await.unwrap();
    length > 0
}

/// A world whose consumers and relay run, given a moment to declare their queues.
async fn running_world() -> World {
    let w = world().await;
    start_consumers(&w);
    start_relay(&w, AMQP, &w.stop);
    tokio::time::sleep(Duration::from_millis(700)).await;
    w
}

fn start_media_janitor(w: &World) -> WorkerMetrics {
    let metrics = metrics();
    let janitor = MediaJanitor {
        pg: w.db.pool.clone(),
        store: media_store(&w.settings),
        metrics: metrics.clone(),
        every: Duration::from_millis(200),
    };
    tokio::spawn(janitor.run(w.stop.clone()));
    metrics
}

fn media_store(settings: &Settings) -> MediaStore {
    MediaStore::from_settings(&settings.storage).expect("media store")
}

/// Waits until every event of `org` is published, plus a moment for the consumers.
async fn all_relayed_and_consumed(w: &World, org: OrganizationId) {
    eventually("events relayed", async || {
        let conn = &mut *w.db.conn().await;
        let rows = catalog_core::repo::outbox::list_for_organization(conn, org).await.unwrap();
        rows.iter().all(|r| r.published_at.is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn own_events_invalidate_the_cache_a_second_time() {
    let w = running_world().await;
    let org = TestDb::org();
    let conn = &mut *w.db.conn().await;
    let (product, saw_variant) = simple_product(conn, org, "Sierra", "S-1").await;
    // Let the create's own events pass through the invalidation consumer first.
    all_relayed_and_consumed(&w, org).await;
    let key = w.catalog.cache.key(CacheKind::Product, org, product.id);
    // Filled once the invalidation's short tombstone is gone.
    eventually("product cached", async || {
        w.catalog.product_details(org, &[product.id]).await.unwrap();
        redis_holds(&w, &key).await
    })
    .await;
    // A write whose request-path invalidation was lost (the process died after commit):
    products::update(
        conn,
        org,
        &Actor::system(),
        product.id,
        None,
        ProductChanges { title: Some("Sierra circular".into()), ..Default::default() },
    )
    .await
    .unwrap();
    eventually("cache healed by the relayed event", async || !redis_holds(&w, &key).await).await;
    let fresh = w.catalog.product_details(org, &[product.id]).await.unwrap();
    assert_eq!(fresh[0].as_ref().unwrap().product.title, "Sierra circular");

    // The same for a recipe edit: its relayed event drops the organization's explosions.
    let (bench, bench_variant) = simple_product(conn, org, "Banco", "B-1").await;
    let saw = |quantity: &str| IngredientDraft {
        ingredient_variant_id: saw_variant.id,
        quantity: quantity.parse().unwrap(),
        unit: "unit".into(),
        is_optional: false,
        waste_percentage: Decimal::ZERO,
        notes: None,
    };
    let draft = RecipeDraft {
        variant_id: None,
        name: None,
        yield_quantity: Decimal::ONE,
        is_active: true,
        ingredients: vec![saw("2")],
    };
    let recipe = recipes::create(conn, org, &Actor::system(), bench.id, draft).await.unwrap();
    all_relayed_and_consumed(&w, org).await;
    let deducted = async || {
        let exploded = w.catalog.explode(org, &[(bench_variant.id, Decimal::ONE)]).await.unwrap();
        exploded[0].as_ref().unwrap().deductions[0].quantity
    };
    assert_eq!(deducted().await, Decimal::TWO);
    assert!(redis_holds(&w, &w.catalog.cache.key(CacheKind::Explosion, org, bench_variant.id)).await);
    // Served from the cache until the relayed event bumps the recipe generation.
    recipes::replace_ingredients(conn, org, &Actor::system(), recipe.recipe.id, None, vec![saw("3")]).await.unwrap();
    eventually("explosion healed by the relayed event", async || deducted().await == Decimal::from(3)).await;
}

/// An uploaded image in `org`'s product with files in the world's store: (image, its keys).
async fn uploaded_image(
    w: &World,
    org: OrganizationId,
    sku: &str,
) -> (catalog_core::models::ProductImage, Vec<String>) {
    let conn = &mut *w.db.conn().await;
    let (product, _) = simple_product(conn, org, "Lámpara", sku).await;
    let id = catalog_core::ids::ImageId::generate();
    let keys: Vec<String> =
        ["original", "thumb"].iter().map(|size| format!("{org}/products/{}/{id}_{size}.jpg", product.id)).collect();
    let objects = keys.iter().map(|key| (key.clone(), bytes::Bytes::from_static(b"jpeg bytes"))).collect();
    media_store(&w.settings).put_all(objects).await.unwrap();
    let new = catalog_core::models::NewProductImage {
        id,
        organization_id: org,
        product_id: product.id,
        url: format!("http://media.test/{}", keys[0]),
        alt: None,
        position: -1,
        is_primary: false,
        metadata: Some(json!({ "storage_keys": keys })),
    };
    let image =
        catalog_core::repo::images::add_product_image(conn, org, &Actor::system(), product.id, new).await.unwrap();
    (image, keys)
}

async fn none_stored(store: &MediaStore, keys: &[String]) -> bool {
    let mut any = false;
    for key in keys {
        any |= store.exists(key).await.unwrap();
    }
    !any
}

#[tokio::test]
async fn a_deleted_uploaded_image_has_its_files_removed_by_the_worker() {
    let w = world().await;
    let metrics = start_media_janitor(&w);
    let org = TestDb::org();
    let (image, keys) = uploaded_image(&w, org, "L-1").await;
    let store = media_store(&w.settings);
    // An upload that never committed its row: its files go when the grace ends (here: now).
    let orphan = format!("{org}/products/p/{}_original.jpg", catalog_core::ids::ImageId::generate());
    store.put_all(vec![(orphan.clone(), bytes::Bytes::from_static(b"jpeg"))]).await.unwrap();
    let conn = &mut *w.db.conn().await;
    let past = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    catalog_core::media::deletions::schedule(conn, org, std::slice::from_ref(&orphan), past).await.unwrap();
    eventually("the orphaned upload's file removed", async || none_stored(&store, std::slice::from_ref(&orphan)).await)
        .await;
    assert!(store.exists(&keys[0]).await.unwrap(), "an image's files stay while it exists");

    catalog_core::repo::images::delete_product_image(conn, org, &Actor::system(), image.id).await.unwrap();
    let removed = async || metrics.media_removed.get() == 3 && none_stored(&store, &keys).await;
    eventually("the deleted image's files removed", removed).await;
    eventually("nothing left scheduled", async || {
        catalog_core::media::deletions::backlog(&w.db.pool).await.unwrap() == 0
    })
    .await;
}

/// Object storage down when an image is deleted: the row goes at once, the files once the
/// store is back (S3 server behind a proxy the test takes down).
#[tokio::test]
async fn files_of_an_image_deleted_while_the_store_is_down_are_removed_when_it_returns() {
    let endpoint = catalog_core::testing::s3_endpoint();
    let proxy = catalog_core::testing::FaultProxy::start(endpoint.trim_start_matches("http://").to_string()).await;
    let mut env = catalog_core::testing::s3_bucket(&endpoint).await;
    env.push(("STORAGE_S3_ENDPOINT".into(), proxy.url()));
    let w = world_with(env).await;
    let metrics = start_media_janitor(&w);
    let org = TestDb::org();
    let (image, keys) = uploaded_image(&w, org, "L-2").await;
    let store = media_store(&w.settings);

    proxy.set_down(true);
    let conn = &mut *w.db.conn().await;
    catalog_core::repo::images::delete_product_image(conn, org, &Actor::system(), image.id).await.unwrap();
    eventually("removal attempts failing", async || metrics.media_removal_failures.get() >= 2).await;
    assert_eq!(metrics.media_removed.get(), 0);
    proxy.set_down(false);
    // The janitor counts a pass once its transaction commits, just after the files go.
    let removed = async || metrics.media_removed.get() == 2 && none_stored(&store, &keys).await;
    eventually("the files removed once the store is back", removed).await;
}

/// An event as the AsyncAPI document (`/asyncapi.json`) describes its routing key.
fn assert_as_documented(key: &str, event: &Value) {
    let kind = asyncapi::published(key).unwrap_or_else(|| panic!("{key} is not in the AsyncAPI document"));
    let wrong = asyncapi::mismatches(kind, &event["data"]);
    assert!(wrong.is_empty(), "{key}: {wrong:?} in {event}");
}

/// The JSON example under `### {routing_key}` on a design page, as printed there.
fn page_example(page: &str, routing_key: &str) -> String {
    page_example_if_any(page, routing_key).expect(routing_key)
}

fn page_example_if_any(page: &str, routing_key: &str) -> Option<String> {
    let path = format!("{}/../docs/design/{page}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(&path);
    let section = text.split(&format!("### {routing_key}\n")).nth(1)?;
    let block = section.split("```json\n").nth(1)?;
    Some(block.split("\n```").next()?.to_string())
}

/// Fields `write_everything` leaves empty: no barcode, warehouse, description or product type
/// was given, and no reason for a delete or deactivation (the API takes none yet).
const NO_VALUE_IN_THIS_WRITE: &[&str] = &["barcode", "warehouse_id", "description", "category", "reason"];

/// Events exactly as Auth's and Pricing's pages print them (no `event_id`, no AMQP message id,
/// Auth's `//` note inside the JSON), each delivered twice: applied once, and an organization
/// suspension refuses REST's caller (cached verification included) and validates its variants
/// as inactive within a second, until reactivated.
#[tokio::test]
async fn peers_events_as_their_pages_print_them_take_effect_once() {
    let w = world().await;
    start_consumers(&w);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Another process's authenticator, as the API has: only the shared cache and database tell it.
    let api_auth = authenticator(&w);
    let (org, user, other_user) = (TestDb::org(), UserId::generate(), UserId::generate());
    let conn = &mut *w.db.conn().await;
    let (_, variant) = simple_product(conn, org, "Clavo", "C-1").await;
    let ids = |example: String| {
        example
            .replace("org_123", &org.to_string())
            .replace("user_001", &user.to_string())
            .replace("var_789", &variant.id.to_string())
    };
    let twice = |exchange: &str, key: &str, body: &str| {
        publish(exchange, key, body.as_bytes());
        publish(exchange, key, body.as_bytes());
    };
    let is_active =
        async || w.catalog.variant_cards(org, &[variant.id]).await.unwrap()[0].as_ref().unwrap().validation.is_active;

    // auth.user.deactivated, with the page's `// "manual", "too_many_attempts"` note.
    let token = dev_token(user, org);
    let bystander = dev_token(other_user, org);
    api_auth.authenticate(&token).await.expect("valid before");
    let deactivated = ids(page_example("peers/auth-service_05-eventos-publicados.md", "auth.user.deactivated"));
    assert!(deactivated.contains("//"), "the page's example is sent as printed");
    twice(&w.topology.auth_exchange, "auth.user.deactivated", &deactivated);
    eventually("deactivated user refused", async || api_auth.authenticate(&token).await.is_err()).await;

    // auth.organization.suspended: refused on REST's path, inactive on gRPC's, within a second.
    api_auth.authenticate(&bystander).await.expect("cached verification before the suspension");
    assert!(is_active().await);
    let suspended = ids(page_example("peers/auth-service_05-eventos-publicados.md", "auth.organization.suspended"));
    let sent = Instant::now();
    twice(&w.topology.auth_exchange, "auth.organization.suspended", &suspended);
    eventually("suspension seen by REST and gRPC", async || {
        matches!(
            api_auth.authenticate(&bystander).await,
            Err(catalog_core::Error::Forbidden { code: "ORGANIZATION_SUSPENDED", .. })
        ) && !is_active().await
    })
    .await;
    assert!(sent.elapsed() < Duration::from_secs(1), "suspension visible after {:?}", sent.elapsed());
    let applied = async |prefix: &str| {
        use catalog_core::schema::processed_events::dsl::*;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let conn = &mut *w.db.conn().await;
        processed_events.filter(event_id.like(format!("{prefix}%"))).count().get_result::<i64>(conn).await.unwrap()
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(applied("sha256:").await, 1, "two deliveries of the suspension, applied once");

    // Reactivation lifts it on both paths.
    let reactivated = suspended.replace("auth.organization.suspended", "auth.organization.reactivated");
    publish(&w.topology.auth_exchange, "auth.organization.reactivated", reactivated.as_bytes());
    eventually("suspension lifted", async || api_auth.authenticate(&bystander).await.is_ok() && is_active().await)
        .await;

    // Page 06's shape (organization inside `data`) with a `suspension_end_date`: it lifts itself.
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let timed = page_example("06-eventos-consumidos.md", "auth.organization.suspended")
        .replace("org-uuid", &org.to_string())
        .replace("2025-12-23T19:00:00Z", &until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    publish(&w.topology.auth_exchange, "auth.organization.suspended", timed.as_bytes());
    eventually("timed suspension seen", async || {
        api_auth.authenticate(&bystander).await.is_err() && !is_active().await
    })
    .await;
    tokio::time::sleep((until - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1200)).await;
    api_auth.authenticate(&bystander).await.expect("the suspension ended by its date");
    // Cached validations learn it from the worker's periodic sweep (run here at once).
    let handler = EventHandler { pg: w.db.pool.clone(), catalog: w.catalog.clone(), auth: api_auth.clone() };
    assert_eq!(handler.end_expired_suspensions().await.unwrap(), 1);
    assert!(is_active().await, "validations active again after the sweep");
    assert_eq!(handler.end_expired_suspensions().await.unwrap(), 0, "nothing left to end");

    // pricing.price.updated as Pricing prints it (no organization): the variant's cache goes.
    w.catalog.variant_cards(org, &[variant.id]).await.unwrap();
    let cached = w.catalog.cache.key(CacheKind::Variant, org, variant.id);
    assert!(redis_holds(&w, &cached).await);
    let price = ids(page_example("peers/pricing-service_07-eventos-publicados.md", "pricing.price.updated"));
    twice(&w.topology.pricing_exchange, "pricing.price.updated", &price);
    eventually("variant cache dropped", async || !redis_holds(&w, &cached).await).await;
}

/// What a peer's documented handler reads from one routing key: `(routing key, [(path, JSON
/// type)])`, paths from the envelope's root (`data.changes.price.old`).
type Reads = &'static [(&'static str, &'static [(&'static str, Json)])];

#[derive(Debug, Clone, Copy)]
enum Json {
    Str,
    Int,
    Num,
    Bool,
    Obj,
    Arr,
}

impl Json {
    fn holds(self, value: &Value) -> bool {
        match self {
            Json::Str => value.is_string(),
            Json::Int => value.is_i64() || value.is_u64(),
            Json::Num => value.is_number(),
            Json::Bool => value.is_boolean(),
            Json::Obj => value.is_object(),
            Json::Arr => value.is_array(),
        }
    }
}

/// Every peer page in `peers/` that consumes `catalog_events`, with what its handlers
/// dereference (`event['data']['variant_id']`, `data.get('track_inventory', True)`, …).
/// Reports consumes none of the catalog's events (`peers/reports-service_04`).
const PEERS: &[(&str, Reads)] = &[
    (
        "inventory-service_15-eventos-consumidos.md",
        &[
            (
                "catalog.variant.created",
                &[
                    ("event", Json::Str),
                    ("organization_id", Json::Str),
                    ("data.variant_id", Json::Str),
                    ("data.product_id", Json::Str),
                    ("data.sku", Json::Str),
                    ("data.track_inventory", Json::Bool),
                    ("data.default_min_stock", Json::Int),
                    ("data.default_max_stock", Json::Int),
                ],
            ),
            (
                "catalog.variant.updated",
                &[
                    ("organization_id", Json::Str),
                    ("data.variant_id", Json::Str),
                    ("data.changes", Json::Obj),
                    ("data.changes.track_inventory.old", Json::Bool),
                    ("data.changes.track_inventory.new", Json::Bool),
                    ("data.track_inventory", Json::Bool),
                    ("data.default_min_stock", Json::Int),
                    ("data.default_max_stock", Json::Int),
                ],
            ),
            ("catalog.variant.deleted", &[("organization_id", Json::Str), ("data.variant_id", Json::Str)]),
            (
                "catalog.product.deleted",
                &[("organization_id", Json::Str), ("data.product_id", Json::Str), ("data.variant_ids", Json::Arr)],
            ),
        ],
    ),
    (
        "order-service_12-eventos-consumidos.md",
        &[
            (
                "catalog.product.updated",
                &[
                    ("data.product_id", Json::Str),
                    ("data.changes", Json::Obj),
                    ("data.updated_by", Json::Str),
                    ("data.updated_at", Json::Str),
                ],
            ),
            (
                "catalog.variant.updated",
                &[
                    ("data.variant_id", Json::Str),
                    ("data.changes", Json::Obj),
                    ("data.changes.price.old", Json::Num),
                    ("data.changes.price.new", Json::Num),
                ],
            ),
            ("catalog.product.deleted", &[("data.product_id", Json::Str), ("data.variant_ids", Json::Arr)]),
            (
                "catalog.variant.deleted",
                &[
                    ("organization_id", Json::Str),
                    ("data.variant_id", Json::Str),
                    ("data.product_id", Json::Str),
                    ("data.deleted_by", Json::Str),
                    ("data.deleted_at", Json::Str),
                ],
            ),
        ],
    ),
    (
        "pos-service_07-eventos-consumidos.md",
        &[
            ("catalog.product.updated", &[("data.variant_id", Json::Str)]),
            ("catalog.product.deleted", &[("data.variant_id", Json::Str)]),
            ("catalog.variant.updated", &[("data.variant_id", Json::Str)]),
            ("catalog.variant.deleted", &[("data.variant_id", Json::Str)]),
        ],
    ),
    (
        "pricing-service_08-eventos-consumidos.md",
        &[
            ("catalog.product.deleted", &[("data.variant_id", Json::Str)]),
            ("catalog.variant.deleted", &[("data.variant_id", Json::Str)]),
        ],
    ),
];

/// What Audit (`peers/audit-service_04`, bound with `#`) reads from every event.
const AUDIT_READS: &[(&str, Json)] = &[
    ("event", Json::Str),
    ("timestamp", Json::Str),
    ("service", Json::Str),
    ("version", Json::Str),
    ("data", Json::Obj),
];

/// The routing keys a peer page binds on `catalog_events` (its `CONSUMER_CONFIG`).
fn page_bindings(page: &str) -> Vec<String> {
    let path = format!("{}/../docs/design/peers/{page}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect(&path);
    text.split("'exchange': 'catalog_events'")
        .skip(1)
        .filter_map(|after| after.split("'routing_keys': [").nth(1)?.split(']').next())
        .flat_map(|list| list.split(',').map(|key| key.trim().trim_matches('\'').to_string()))
        .filter(|key| !key.is_empty())
        .collect()
}

fn at<'a>(event: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(event, |value, key| &value[key])
}

/// The REST app in-process, as `catalog-api serve` builds it, writing into the world's database.
async fn rest_api(
    w: &World,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    use actix_web::web::Data;
    let redis = cache::pool(&w.settings.redis).expect("redis");
    let registry = prometheus::Registry::new();
    // One test user writes every kind of change at once: past the per-user write budget.
    let mut settings = (*w.settings).clone();
    settings.api.rate_limit_enabled = false;
    settings.storage.local_path = std::env::temp_dir()
        .join(format!("catalog-test-media/{}", uuid::Uuid::now_v7().simple()))
        .display()
        .to_string();
    let media = catalog_core::media::MediaStore::from_settings(&settings.storage).expect("media store");
    let parts = catalog_api::AppParts {
        state: Data::new(catalog_api::state::ApiState::new(
            Arc::new(settings),
            w.db.pool.clone(),
            w.catalog.clone(),
            Authenticator::new(&w.settings, Some(redis.clone()), w.db.pool.clone()).expect("authenticator"),
            media,
        )),
        metrics: Data::new(catalog_api::context::HttpMetrics::register(&registry).expect("metrics")),
        ops: Data::new(catalog_core::ops::OpsState {
            health: Arc::new(catalog_core::health::HealthChecker::new(w.db.pool.clone()).with_redis(redis)),
            registry,
            service: "catalog-api",
        }),
    };
    actix_web::test::init_service(catalog_api::app(parts)).await
}

/// Consumer contracts: each peer's queue bound as its page binds it; the events produced by
/// the real API and relayed by the real relay; every field each documented handler reads is
/// there with its type. Audit, bound with `#`, gets every event with the envelope it reads.
#[tokio::test]
async fn every_peer_reads_what_its_handlers_need_from_events_made_through_the_api() {
    use actix_web::http::Method;
    use actix_web::test::{TestRequest, call_service, read_body};
    let w = world().await;
    let exchange = w.settings.rabbitmq.exchange.clone();
    let taps: Vec<(&str, Reads, Tap)> = PEERS
        .iter()
        .map(|(page, reads)| {
            let bindings = page_bindings(page);
            let documented: Vec<&str> = reads.iter().map(|(key, _)| *key).collect();
            assert_eq!(bindings, documented, "{page}: the bindings its page configures");
            let keys: Vec<&str> = bindings.iter().map(String::as_str).collect();
            (*page, *reads, Tap::bound(&exchange, &keys, true))
        })
        .collect();
    let audit = Tap::open(&exchange, "#", true);
    start_relay(&w, AMQP, &w.stop);
    let app = rest_api(&w).await;
    let (org, user) = (TestDb::org(), UserId::generate());
    let token = format!("Bearer {}", dev_token(user, org));
    let call = async |method: Method, path: &str, body: Option<Value>| -> Value {
        let mut request =
            TestRequest::default().method(method).uri(path).insert_header(("Authorization", token.as_str()));
        if let Some(body) = body {
            request = request.set_json(body);
        }
        let response = call_service(&app, request.to_request()).await;
        let status = response.status();
        let body: Value = serde_json::from_slice(&read_body(response).await).unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    };

    // A product with two variants, the first not tracked yet; a rename; the first variant's
    // price and tracking changed; the second deleted; the product deleted with the rest.
    let created = call(
        Method::POST,
        "/api/v1/products",
        Some(json!({
            "name": "Taladro", "sku": "TAL", "has_variants": true,
            "variants": [
                { "sku": "TAL-1", "price": 40.0, "track_inventory": false, "default_min_stock": 5, "default_max_stock": 50 },
                { "sku": "TAL-2", "price": 45.0 },
            ],
        })),
    )
    .await;
    let product = created["data"]["product_id"].as_str().expect("product_id").to_string();
    let variant_ids: Vec<String> = created["data"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v["variant_id"].as_str().or(v["id"].as_str()).expect("variant id").to_string())
        .collect();
    call(Method::PATCH, &format!("/api/v1/products/{product}"), Some(json!({ "name": "Taladro percutor" }))).await;
    call(
        Method::PATCH,
        &format!("/api/v1/variants/{}", variant_ids[0]),
        Some(json!({ "price": 42.5, "track_inventory": true })),
    )
    .await;
    // Inventory reports the first variant in stock (the worker's handler, as its consumer
    // calls it): leaving "out of stock" is announced as catalog.variant.stock_updated.
    let handler = EventHandler { pg: w.db.pool.clone(), catalog: w.catalog.clone(), auth: authenticator(&w) };
    let report = json!({
        "event": "inventory.stock.updated", "timestamp": "2025-11-23T15:00:00Z", "organization_id": org,
        "data": { "variant_id": variant_ids[0], "warehouse_id": uuid::Uuid::now_v7(),
                  "quantities": { "total": 5, "available": 5, "reserved": 0, "damaged": 0 } },
    });
    let report = catalog_core::inbound::parse(report.to_string().as_bytes(), None).expect("event");
    assert_eq!(handler.handle(&report).await.expect("applied"), catalog_core::inbound::Outcome::Handled);
    // Every other kind of write, so each kind published is held to the AsyncAPI document below.
    let id_of = |answer: Value| answer["data"]["id"].as_str().expect("data.id").to_string();
    let brand = id_of(call(Method::POST, "/api/v1/brands", Some(json!({ "name": "Bosch" }))).await);
    call(Method::PATCH, &format!("/api/v1/brands/{brand}"), Some(json!({ "name": "Bosch Pro" }))).await;
    let tag = id_of(call(Method::POST, "/api/v1/tags", Some(json!({ "name": "obra" }))).await);
    call(Method::PUT, &format!("/api/v1/products/{product}/tags"), Some(json!({ "tag_ids": [tag] }))).await;
    call(Method::PATCH, &format!("/api/v1/tags/{tag}"), Some(json!({ "name": "obra gruesa" }))).await;
    let collection = id_of(call(Method::POST, "/api/v1/collections", Some(json!({ "name": "Taller" }))).await);
    let members = format!("/api/v1/collections/{collection}/products");
    call(Method::POST, &members, Some(json!({ "product_ids": [product] }))).await;
    call(Method::PATCH, &format!("/api/v1/collections/{collection}"), Some(json!({ "name": "Taller pro" }))).await;
    call(Method::DELETE, &format!("{members}/{product}"), None).await;
    call(Method::PUT, &format!("/api/v1/products/{product}/tags"), Some(json!({ "tag_ids": [] }))).await;
    call(Method::PATCH, &format!("/api/v1/products/{product}/deactivate"), None).await;
    call(Method::PATCH, &format!("/api/v1/products/{product}/activate"), None).await;
    let values = json!({ "name": "Voltaje", "values": ["12V"] });
    let option = id_of(call(Method::POST, "/api/v1/options", Some(values)).await);
    call(Method::PATCH, &format!("/api/v1/options/{option}"), Some(json!({ "name": "Voltios" }))).await;
    let tier = id_of(call(Method::POST, "/api/v1/price-tiers", Some(json!({ "name": "Mayorista" }))).await);
    let rule = json!({ "variant_id": variant_ids[0], "min_qty": 10, "price": "39.00" });
    let rule = id_of(call(Method::POST, &format!("/api/v1/price-tiers/{tier}/rules"), Some(rule)).await);
    let rule_path = format!("/api/v1/price-tiers/{tier}/rules/{rule}");
    call(Method::PATCH, &rule_path, Some(json!({ "price": "38.00" }))).await;
    call(Method::DELETE, &rule_path, None).await;
    call(Method::PATCH, &format!("/api/v1/price-tiers/{tier}"), Some(json!({ "name": "Mayorista A" }))).await;
    for owner in [format!("/api/v1/products/{product}"), format!("/api/v1/variants/{}", variant_ids[0])] {
        let mut images = Vec::new();
        for url in ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"] {
            images.push(id_of(call(Method::POST, &format!("{owner}/images"), Some(json!({ "url": url }))).await));
        }
        let image = images[0].clone();
        call(Method::PATCH, &format!("{owner}/images/{image}"), Some(json!({ "alt": "Frente" }))).await;
        images.reverse();
        call(Method::PUT, &format!("{owner}/images/reorder"), Some(json!({ "image_ids": images }))).await;
        call(Method::DELETE, &format!("{owner}/images/{image}"), None).await;
    }
    let screw = json!({ "title": "Tornillo", "sku": "TOR-1", "sale_price": "0.10" });
    let screw = call(Method::POST, "/api/v1/products", Some(screw)).await;
    let screw = screw["data"]["variants"][0]["id"].as_str().expect("default variant").to_string();
    let line = |quantity: u32| json!({ "ingredient_variant_id": screw, "quantity": quantity, "unit": "unidad" });
    let recipe = json!({ "name": "Kit", "ingredients": [line(4)] });
    let recipe = id_of(call(Method::POST, &format!("/api/v1/products/{product}/recipe"), Some(recipe)).await);
    call(Method::PUT, &format!("/api/v1/recipes/{recipe}/ingredients"), Some(json!([line(6)]))).await;
    call(Method::DELETE, &format!("/api/v1/recipes/{recipe}"), None).await;
    call(Method::DELETE, &format!("/api/v1/variants/{}", variant_ids[1]), None).await;
    call(Method::DELETE, &format!("/api/v1/products/{product}?force=true"), None).await;
    for deleted in [
        format!("/api/v1/brands/{brand}"),
        format!("/api/v1/tags/{tag}"),
        format!("/api/v1/collections/{collection}"),
        format!("/api/v1/options/{option}"),
        format!("/api/v1/price-tiers/{tier}"),
    ] {
        call(Method::DELETE, &deleted, None).await;
    }

    // Audit's `#` queue gets every event the writes committed; each peer then the share its
    // bindings select.
    let committed = {
        let conn = &mut *w.db.conn().await;
        catalog_core::repo::outbox::list_for_organization(conn, org).await.expect("outbox").len()
    };
    let everything = audit.wait_for(committed, Duration::from_secs(15)).await;
    assert_eq!(everything.len(), committed, "audit sees every event");
    for (page, reads, tap) in &taps {
        let wanted: Vec<&str> = reads.iter().map(|(key, _)| *key).collect();
        let share = everything.iter().filter(|(key, _)| wanted.contains(&key.as_str())).count();
        let got = tap.wait_for(share, Duration::from_secs(5)).await;
        assert_eq!(got.len(), share, "{page}: every event its bindings select, once");
        for (key, fields) in *reads {
            let events: Vec<&Value> = got.iter().filter(|(k, _)| k == key).map(|(_, body)| body).collect();
            assert!(
                !events.is_empty(),
                "{page}: no {key} on its queue (got {:?})",
                got.iter().map(|g| &g.0).collect::<Vec<_>>()
            );
            // The handler runs on every delivery of its key: each must carry what it reads,
            // except where a field only exists for the change it reports (one `changes` entry).
            let carrying = |path: &str| events.iter().filter(|event| !at(event, path).is_null()).count();
            for (path, kind) in *fields {
                let conditional = path.starts_with("data.changes.");
                let holding = events.iter().filter(|event| kind.holds(at(event, path))).count();
                if conditional {
                    assert!(holding >= 1, "{page}: {key} never carries {path} as {kind:?}");
                    assert_eq!(holding, carrying(path), "{page}: {key}.{path} present but not {kind:?}");
                } else {
                    assert_eq!(holding, events.len(), "{page}: {key}.{path} missing or not {kind:?}: {events:?}");
                }
            }
        }
        assert!(got.iter().all(|(key, _)| wanted.contains(&key.as_str())), "{page}: only its bindings arrive");
    }
    let mut kinds: Vec<&str> = everything.iter().map(|(key, _)| key.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let undocumented: Vec<&str> =
        asyncapi::PUBLISHED.iter().map(|kind| kind.key).filter(|key| !kinds.contains(key)).collect();
    assert!(undocumented.is_empty(), "kinds this test never produced: {undocumented:?}");
    for (key, event) in &everything {
        assert_as_documented(key, event);
        for (path, kind) in AUDIT_READS {
            assert!(kind.holds(at(event, path)), "audit: {key}.{path} is not {kind:?}");
        }
        let user_of = event["data"]["created_by"].as_str().or(event["data"]["user_id"].as_str());
        if key.ends_with(".created") {
            assert_eq!(user_of, Some(user.to_string().as_str()), "audit takes the user of {key} from created_by");
        }
    }
}

/// Auth's local events as page 06 prints them, each delivered twice: a local Auth deleted or
/// deactivated can no longer be given to a product (404 LOCAL_NOT_FOUND, whatever the caller's
/// token still says), on creates and updates alike; a live local, or one never heard of, can.
#[tokio::test]
async fn a_local_auth_deleted_or_deactivated_cannot_be_given_to_a_product() {
    use catalog_core::ids::LocalId;
    let w = world().await;
    start_consumers(&w);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let org = TestDb::org();
    let (live, deleted, paused, unheard) =
        (LocalId::generate(), LocalId::generate(), LocalId::generate(), LocalId::generate());
    let twice = |key: &str, local: LocalId, edit: &dyn Fn(String) -> String| {
        let body = page_example("06-eventos-consumidos.md", key)
            .replace("org-uuid", &org.to_string())
            .replace("local-uuid", &local.to_string());
        let body = edit(body);
        publish(&w.topology.auth_exchange, key, body.as_bytes());
        publish(&w.topology.auth_exchange, key, body.as_bytes());
    };
    let same = |body: String| body;
    for local in [live, deleted, paused] {
        twice("auth.local.created", local, &same);
    }
    twice("auth.local.deleted", deleted, &same);
    let deactivate =
        |body: String| body.replace(r#""changes": {"#, r#""changes": { "is_active": { "old": true, "new": false },"#);
    twice("auth.local.updated", paused, &deactivate);
    eventually("the three locals' states applied", async || {
        use catalog_core::schema::organization_locals::dsl::*;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let conn = &mut *w.db.conn().await;
        let retired: i64 = organization_locals
            .filter(organization_id.eq(org.as_uuid()))
            .filter(is_active.eq(false))
            .count()
            .get_result(conn)
            .await
            .unwrap();
        retired == 2
    })
    .await;

    let conn = &mut *w.db.conn().await;
    let price = || Some(NewVariant::new("", rust_decimal::Decimal::ONE));
    let at = |local: LocalId, sku: &str| {
        let mut product = NewProduct::new("Caja", sku);
        product.local_id = Some(local);
        product
    };
    for (n, local) in [live, unheard].into_iter().enumerate() {
        let made = products::create(conn, org, &Actor::system(), at(local, &format!("OK-{n}")), price()).await;
        assert!(made.is_ok(), "{local}: {made:?}");
    }
    for (n, local) in [deleted, paused].into_iter().enumerate() {
        let refused = products::create(conn, org, &Actor::system(), at(local, &format!("NO-{n}")), price()).await;
        let error = refused.expect_err("a retired local");
        assert_eq!((error.code(), error.status().0), ("LOCAL_NOT_FOUND".to_string(), 404), "{local}: {error:?}");
    }
    // Moving a product there is refused too.
    let (product, _) = simple_product(conn, org, "Clavo", "C-1").await;
    let moved = ProductChanges { local_id: Some(Some(deleted)), ..Default::default() };
    let refused = products::update(conn, org, &Actor::system(), product.id, Some(product.version), moved).await;
    assert_eq!(refused.expect_err("retired").code(), "LOCAL_NOT_FOUND");
}

/// Inventory's `inventory.stock.*` events exactly as its page prints them (no `event_id`, the
/// depletion without organization or timestamp): totals add up across warehouses, a
/// redelivery changes nothing, an older event arriving after a newer one is not applied.
#[tokio::test]
async fn inventory_stock_events_keep_a_read_model_that_never_goes_back_in_time() {
    use diesel_async::RunQueryDsl as _;
    let w = world().await;
    let counted = metrics();
    start_consumers_counted(&w, counted.clone());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let org = TestDb::org();
    let conn = &mut *w.db.conn().await;
    let (product, variant) = simple_product(conn, org, "Martillo", "M-1").await;
    diesel::sql_query(format!("UPDATE products SET alert_stock = 50 WHERE id = '{}'", product.id))
        .execute(conn)
        .await
        .unwrap();
    let (north, south) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let page = "peers/inventory-service_14-eventos-publicados.md";
    let updated = |warehouse: uuid::Uuid, at: &str, total: u32, available: u32| {
        let example = page_example(page, "inventory.stock.updated");
        assert!(example.contains("\"total\": 150,") && example.contains("\"available\": 120,"), "{example}");
        example
            .replace("org_123", &org.to_string())
            .replace("var_789", &variant.id.to_string())
            .replace("wh_101", &warehouse.to_string())
            .replace("2025-11-23T15:00:00Z", at)
            .replace("\"total\": 150,", &format!("\"total\": {total},"))
            .replace("\"available\": 120,", &format!("\"available\": {available},"))
    };
    let send = |key: &str, body: &str| publish(&w.topology.inventory_exchange, key, body.as_bytes());
    let totals = async || {
        let stock = catalog_core::stock::of_variants(&mut *w.db.conn().await, org, &[variant.id]).await.unwrap();
        stock.get(&variant.id).map(|s| (s.total, s.available)).unwrap_or_default()
    };
    let is = |total: u32, available: u32| (Decimal::from(total), Decimal::from(available));

    let first = updated(north, "2025-11-23T10:00:00Z", 150, 120);
    send("inventory.stock.updated", &first);
    send("inventory.stock.updated", &first);
    send("inventory.stock.updated", &updated(south, "2025-11-23T10:00:00Z", 30, 20));
    eventually("both warehouses counted once", async || totals().await == is(180, 140)).await;

    // North's 12:00 report, then its 11:00 one arriving late, then a later South report: once
    // South's is applied, the late one has been handled before it (one queue, in order).
    send("inventory.stock.updated", &updated(north, "2025-11-23T12:00:00Z", 100, 80));
    send("inventory.stock.updated", &updated(north, "2025-11-23T11:00:00Z", 999, 999));
    send("inventory.stock.updated", &updated(south, "2025-11-23T12:00:00Z", 40, 35));
    eventually("the newer north report kept", async || totals().await == is(140, 115)).await;

    // Depleted, as printed: no organization, no timestamp — its last_movement_at (14:00) orders it.
    let depleted = page_example(page, "inventory.stock.depleted")
        .replace("var_789", &variant.id.to_string())
        .replace("wh_101", &north.to_string());
    send("inventory.stock.depleted", &depleted);
    eventually("north depleted", async || totals().await == is(40, 35)).await;
    let last = catalog_core::stock::of_variants(conn, org, &[variant.id]).await.unwrap()[&variant.id].last_update;
    assert_eq!(last.map(|at| at.to_rfc3339()), Some("2025-11-23T14:00:00+00:00".into()));
    // The model's freshness metric: the newest report applied (the late 11:00 one was not).
    let newest = chrono::DateTime::parse_from_rfc3339("2025-11-23T14:00:00Z").unwrap().timestamp();
    assert_eq!(counted.stock_last_report.get(), newest);

    // Announced only when the alert level (50 here) or zero is crossed: back in stock at the
    // first report, below 50 after the depletion — not on the movements between.
    let announced: Vec<(Value, Value, Value)> = catalog_core::repo::outbox::list_for_organization(conn, org)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "catalog.variant.stock_updated")
        .map(|e| {
            let data = &e.payload["data"];
            (data["stock_available"].clone(), data["below_alert"].clone(), data["out_of_stock"].clone())
        })
        .collect();
    assert_eq!(announced, [(json!(120), json!(false), json!(false)), (json!(35), json!(true), json!(false))]);
}

#[tokio::test]
async fn a_burst_of_stock_reports_is_applied_in_batches_and_only_its_poison_dead_lettered() {
    let w = world().await;
    let org = TestDb::org();
    let conn = &mut *w.db.conn().await;
    let (_, variant) = simple_product(conn, org, "Clavo", "C-1").await;
    let report = |warehouse: String| {
        json!({
            "event": "inventory.stock.updated", "timestamp": "2026-12-06T10:00:00Z", "organization_id": org,
            "data": { "variant_id": variant.id, "warehouse_id": warehouse,
                      "quantities": { "total": 2, "available": 1, "reserved": 1, "damaged": 0 } }
        })
        .to_string()
    };
    let mut burst: Vec<String> = (0..150).map(|_| report(uuid::Uuid::now_v7().to_string())).collect();
    burst.insert(75, report("not-a-warehouse".into()));
    // The whole burst waits in the queue before the worker starts, as after a restart.
    let (queue, exchange) = (w.topology.inventory_queue.clone(), w.topology.inventory_exchange.clone());
    let topology = w.topology.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = Connection::insecure_open(AMQP).unwrap();
        let channel = conn.open_channel(None).unwrap();
        catalog_worker::topology::declare(&channel, &topology, &queue, &exchange, INVENTORY_BINDINGS).unwrap();
        publish_confirmed(&channel, &exchange, "inventory.stock.updated", burst.iter().map(String::as_bytes));
        conn.close().unwrap();
    })
    .await
    .unwrap();

    let counted = metrics();
    start_consumers_counted(&w, counted.clone());
    let consumed = |outcome: &str| counted.consumed.with_label_values(&[&w.topology.inventory_queue, outcome]).get();
    eventually("the burst consumed", async || consumed("handled") + consumed("dead_lettered") == 151).await;
    assert_eq!((consumed("handled"), consumed("dead_lettered")), (150, 1), "only the poison dead-lettered");
    let stock = catalog_core::stock::of_variants(conn, org, &[variant.id]).await.unwrap()[&variant.id];
    assert_eq!((stock.total, stock.available), (Decimal::from(300), Decimal::from(150)), "150 warehouses of 2");
    let handled_in = counted.handler_seconds.get_sample_count();
    assert!(handled_in < 10, "150 reports applied in {handled_in} transactions, not one each");
}

fn on_hand(total: u32, available: u32, reserved: u32) -> catalog_core::stock::Quantities {
    catalog_core::stock::Quantities {
        total: Decimal::from(total),
        available: Decimal::from(available),
        reserved: Decimal::from(reserved),
        damaged: Decimal::ZERO,
        in_transit: None,
    }
}

/// A model whose events were lost is repaired from the Inventory Service's gRPC answer (a test
/// server implementing its page's contract): only variants whose availability differs are
/// asked for their warehouses, warehouses Inventory no longer lists go, a report newer than the
/// resync's question still wins, and `full` catches what the bulk check cannot see.
#[tokio::test]
async fn stock_resync_repairs_a_model_whose_events_were_lost() {
    use catalog_core::stock::inventory::InventoryClient;
    use catalog_core::stock::resync::{ResyncOptions, ResyncReport, resync_organization};
    use catalog_core::stock::{self, Applied, stub::InventoryStub};
    let inventory = InventoryStub::start().await;
    let w = world_with(inventory.settings_env()).await;
    let client = InventoryClient::new(&w.settings.inventory, &w.settings.auth).unwrap().expect("configured");
    let org = TestDb::org();
    let conn = &mut *w.db.conn().await;
    let (_, in_sync) = simple_product(conn, org, "Sincronizado", "S-1").await;
    let (_, lost) = simple_product(conn, org, "Perdido", "P-1").await;
    let (_, moved) = simple_product(conn, org, "Trasladado", "T-1").await;
    let (north, south) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(3);
    // In sync: the model says what Inventory says.
    stock::apply(conn, org, in_sync.id, north, on_hand(10, 8, 2), long_ago).await.unwrap();
    inventory.set_stock(org, in_sync.id, north, (10, 2, 0));
    // Lost: Inventory holds it in two warehouses, the model never heard.
    inventory.set_stock(org, lost.id, north, (50, 5, 0));
    inventory.set_stock(org, lost.id, south, (7, 0, 0));
    // Moved: the model still holds it in South; Inventory now only in North.
    stock::apply(conn, org, moved.id, south, on_hand(30, 30, 0), long_ago).await.unwrap();
    inventory.set_stock(org, moved.id, north, (4, 0, 0));
    // Another organization's model is not touched.
    let (_, foreign) = simple_product(conn, TestDb::org(), "Ajeno", "A-1").await;
    stock::apply(conn, foreign.organization_id, foreign.id, north, on_hand(9, 9, 0), long_ago).await.unwrap();

    let options = ResyncOptions { batch_size: 2, full: false };
    let report = resync_organization(&w.db.pool, &client, org, options).await.unwrap();
    assert_eq!(report, ResyncReport { checked: 3, repaired: 2 });
    assert_eq!(inventory.calls(), (2, 2), "two bulk checks (batches of 2), details only for the two that differ");
    let model = stock::of_variants(conn, org, &[in_sync.id, lost.id, moved.id]).await.unwrap();
    let totals = |id| model.get(&id).map(|s: &stock::VariantStock| (s.total, s.available));
    assert_eq!(totals(in_sync.id), Some((Decimal::from(10), Decimal::from(8))));
    assert_eq!(totals(lost.id), Some((Decimal::from(57), Decimal::from(52))), "both warehouses, summed");
    assert_eq!(totals(moved.id), Some((Decimal::from(4), Decimal::from(4))), "South removed, North added");
    let foreign_stock = stock::of_variants(conn, foreign.organization_id, &[foreign.id]).await.unwrap();
    assert_eq!(foreign_stock[&foreign.id].total, Decimal::from(9));
    let heard = stock::last_heard(conn, org).await.unwrap().expect("reconciled");
    assert!(chrono::Utc::now().signed_duration_since(heard) < chrono::Duration::minutes(1));

    // An event older than the resync's question does not undo it; a newer one wins.
    let before_resync = chrono::Utc::now() - chrono::Duration::minutes(5);
    let late = stock::apply(conn, org, lost.id, north, on_hand(1, 1, 0), before_resync).await.unwrap();
    assert_eq!(late, Applied::NotNewer);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(stock::apply(conn, org, lost.id, north, on_hand(49, 44, 5), later).await.unwrap(), Applied::Changed);
    inventory.set_stock(org, lost.id, north, (49, 5, 0));

    // Nothing differs now: no detail call. A reserved quantity that changed without changing
    // what is available is invisible to the bulk check; `full` asks every variant.
    inventory.set_stock(org, in_sync.id, north, (12, 2, 2));
    let again = resync_organization(&w.db.pool, &client, org, options).await.unwrap();
    assert_eq!(again, ResyncReport { checked: 3, repaired: 0 });
    assert_eq!(inventory.calls(), (4, 2));
    let full = resync_organization(&w.db.pool, &client, org, ResyncOptions { full: true, ..options }).await.unwrap();
    assert_eq!(full, ResyncReport { checked: 3, repaired: 1 });
    let model = stock::of_variants(conn, org, &[in_sync.id]).await.unwrap();
    assert_eq!((model[&in_sync.id].total, model[&in_sync.id].damaged), (Decimal::from(12), Decimal::from(2)));

    // Inventory failing: a clean Unavailable (after the retries), nothing half-written.
    inventory.fail_next(10);
    let failed = resync_organization(&w.db.pool, &client, org, options).await.unwrap_err();
    assert!(matches!(failed, catalog_core::error::Error::Unavailable(_)), "{failed:?}");
}

/// The worker's stock keeper: every replica measures the model's lag per organization from the
/// database; with Inventory configured it reconciles the model periodically.
#[tokio::test]
async fn the_stock_keeper_measures_lag_per_organization_and_reconciles_periodically() {
    use catalog_core::stock::inventory::InventoryClient;
    use catalog_core::stock::resync::ResyncOptions;
    use catalog_core::stock::{self, stub::InventoryStub};
    use catalog_worker::stock::StockKeeper;
    let inventory = InventoryStub::start().await;
    let w = world_with(inventory.settings_env()).await;
    let org = TestDb::org();
    let conn = &mut *w.db.conn().await;
    let (_, variant) = simple_product(conn, org, "Taladro", "TL-1").await;
    let warehouse = uuid::Uuid::now_v7();
    let ten_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    stock::apply(conn, org, variant.id, warehouse, on_hand(5, 5, 0), ten_minutes_ago).await.unwrap();
    inventory.set_stock(org, variant.id, warehouse, (8, 0, 0));

    let counted = metrics();
    let keeper = StockKeeper {
        pg: w.db.pool.clone(),
        database_url: w.db.url.clone(),
        inventory: InventoryClient::new(&w.settings.inventory, &w.settings.auth).unwrap().map(Arc::new),
        options: ResyncOptions { batch_size: 100, full: false },
        reconcile_every: Duration::from_secs(3600),
        metrics: counted.clone(),
    };
    tokio::spawn(keeper.run(w.stop.clone()));
    let lag = || counted.stock_lag_seconds.with_label_values(&[&org.to_string()]).get();
    eventually("the lag is about ten minutes", async || (590.0..700.0).contains(&lag())).await;
    // The first reconciliation (5 s after start) repairs the model; the lag falls with it.
    eventually("reconciled", async || {
        let model = stock::of_variants(&mut *w.db.conn().await, org, &[variant.id]).await.unwrap();
        model[&variant.id].total == Decimal::from(8)
    })
    .await;
    eventually("the lag falls", async || lag() < 60.0).await;
    assert_eq!(counted.stock_reconciled.with_label_values(&["repaired"]).get(), 1);
    w.stop.trigger();
}

/// A real OTLP endpoint (the official protobuf service): keeps every span exported to it.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<std::sync::Mutex<Vec<otlp::Span>>>,
}

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::trace::v1 as otlp;

#[tonic::codegen::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request.into_inner().resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
        self.spans.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// Listens on a free port; returns the endpoint to export to.
    async fn start() -> (Self, String) {
        let collector = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        (collector, endpoint)
    }

    /// The spans of `trace` received so far (the exporter is flushed first).
    async fn trace(&self, trace: &str) -> Vec<otlp::Span> {
        tokio::task::spawn_blocking(catalog_core::telemetry::flush).await.unwrap();
        let trace = hex(trace);
        self.spans.lock().unwrap().iter().filter(|span| span.trace_id == trace).cloned().collect()
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn attribute<'a>(
    span: &'a otlp::Span,
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

fn string_attribute<'a>(span: &'a otlp::Span, key: &str) -> Option<&'a str> {
    match attribute(span, key)? {
        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(value) => Some(value),
        _ => None,
    }
}

fn int_attribute(span: &otlp::Span, key: &str) -> Option<i64> {
    match attribute(span, key)? {
        opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(value) => Some(*value),
        _ => None,
    }
}

/// The one span of `kind` whose name starts with `name`, or a failure listing what there is.
fn only<'a>(spans: &'a [otlp::Span], kind: otlp::span::SpanKind, name: &str) -> &'a otlp::Span {
    let found: Vec<&otlp::Span> = spans.iter().filter(|s| s.kind == kind as i32 && s.name.starts_with(name)).collect();
    let names: Vec<(&str, i32)> = spans.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(found.len(), 1, "one {kind:?} span named {name}…; the trace holds {names:?}");
    found[0]
}

/// One trace, request → outbox → relay → consumer, as an operator's collector receives it: a
/// REST write and a gRPC read, each sent with a `traceparent`, export on to a real OTLP
/// endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_s_trace_runs_from_the_request_through_the_relay_to_the_consumer() {
    use actix_web::test::{TestRequest, call_service, read_body};
    use otlp::span::SpanKind;
    let (collector, endpoint) = Collector::start().await;
    // Before any connection opens: statements get spans only on connections opened exporting.
    let logs =
        catalog_core::config::LogSettings { level: "info".into(), format: catalog_core::config::LogFormat::Text };
    catalog_core::telemetry::init_exporting_to(&logs, "catalog-test", &endpoint);
    let w = world().await;
    let tap = Tap::open(&w.settings.rabbitmq.exchange, "catalog.product.created", true);
    start_consumers(&w);
    start_relay(&w, AMQP, &w.stop);
    let app = rest_api(&w).await;
    let (org, user) = (TestDb::org(), UserId::generate());

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let request = TestRequest::post()
        .uri("/api/v1/products")
        .insert_header(("Authorization", format!("Bearer {}", dev_token(user, org))))
        .insert_header(("traceparent", format!("00-{trace}-{caller_span}-01")))
        .set_json(json!({ "name": "Traza", "sku": "TRZ-1", "price": 10.0 }))
        .to_request();
    let response = call_service(&app, request).await;
    let status = response.status();
    let created: Value = serde_json::from_slice(&read_body(response).await).unwrap();
    assert!(status.is_success(), "{status} {created}");
    let product = created["data"]["product_id"].as_str().unwrap().to_string();
    all_relayed_and_consumed(&w, org).await;

    // The event carries the trace in its body and in its AMQP headers.
    let delivered = tap.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1, "the product.created event");
    let in_body = delivered[0].1["metadata"]["traceparent"].as_str().expect("metadata.traceparent").to_string();
    assert!(in_body.starts_with(&format!("00-{trace}-")), "{in_body}");
    let in_headers = tap.traceparents.lock().unwrap()[0].clone().expect("traceparent AMQP header");
    assert!(in_headers.starts_with(&format!("00-{trace}-")), "{in_headers}");

    let mut spans = Vec::new();
    eventually("the consumer's span exported", async || {
        spans = collector.trace(trace).await;
        spans.iter().any(|s| s.kind == SpanKind::Consumer as i32)
    })
    .await;
    let server = only(&spans, SpanKind::Server, "POST /api/v1/products");
    assert_eq!(server.parent_span_id, hex(caller_span), "the server span is the caller's child");
    assert_eq!(string_attribute(server, "http.request.method"), Some("POST"));
    assert_eq!(string_attribute(server, "http.route"), Some("/api/v1/products"));
    assert_eq!(
        int_attribute(server, "http.response.status_code"),
        Some(201),
        "the outcome, recorded after the handler"
    );
    let statements: Vec<&otlp::Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32 && string_attribute(s, "db.system.name") == Some("postgresql"))
        .collect();
    assert!(
        statements
            .iter()
            .any(|s| string_attribute(s, "db.query.text").is_some_and(|q| q.starts_with("INSERT INTO \"products\""))),
        "the product's INSERT among the statements: {:?}",
        statements.iter().map(|s| string_attribute(s, "db.query.text")).collect::<Vec<_>>()
    );
    let outbox = only(&spans, SpanKind::Producer, "create outbox");
    assert_eq!(in_body, format!("00-{trace}-{}-01", hex_of(&outbox.span_id)), "the body names the outbox span");
    let of_the_event = |kind: SpanKind| -> &otlp::Span {
        let routed = |s: &&otlp::Span| {
            string_attribute(s, "messaging.rabbitmq.destination.routing_key") == Some("catalog.product.created")
        };
        let found: Vec<&otlp::Span> = spans.iter().filter(|s| s.kind == kind as i32).filter(routed).collect();
        assert_eq!(found.len(), 1, "one {kind:?} span of catalog.product.created");
        found[0]
    };
    let publish = of_the_event(SpanKind::Producer);
    assert_eq!(publish.parent_span_id, outbox.span_id, "the relay's send continues the write's trace");
    assert_eq!(in_headers, format!("00-{trace}-{}-01", hex_of(&publish.span_id)), "the headers name the send");
    assert_eq!(string_attribute(publish, "messaging.system"), Some("rabbitmq"));
    let consumed = of_the_event(SpanKind::Consumer);
    assert_eq!(consumed.parent_span_id, publish.span_id, "the worker's consumer joins the same trace");
    assert_eq!(string_attribute(consumed, "messaging.destination.name"), Some(w.settings.rabbitmq.exchange.as_str()));

    // A gRPC read with trace metadata: its server span and its reads under the caller's trace.
    let redis = cache::pool(&w.settings.redis).unwrap();
    let server = catalog_grpc::server::GrpcServer {
        settings: w.settings.clone(),
        catalog: w.catalog.clone(),
        health: Arc::new(catalog_core::health::HealthChecker::new(w.db.pool.clone()).with_redis(redis)),
        registry: prometheus::Registry::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.run(listener, w.stop.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = catalog_grpc::pb::catalog::catalog_service_client::CatalogServiceClient::connect(address)
        .await
        .expect("grpc client");
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut request = tonic::Request::new(catalog_grpc::pb::catalog::GetProductDetailsRequest {
        organization_id: org.to_string(),
        product_id: product.clone(),
        include_variants: true,
        include_images: false,
    });
    request.metadata_mut().insert("traceparent", format!("00-{grpc_trace}-b7ad6b7169203331-01").parse().unwrap());
    let details = client.get_product_details(request).await.expect("details").into_inner();
    assert_eq!(details.product.expect("product").product_id, product);
    let mut spans = Vec::new();
    eventually("the RPC's spans exported", async || {
        spans = collector.trace(grpc_trace).await;
        spans.iter().any(|s| s.kind == SpanKind::Server as i32)
    })
    .await;
    let rpc = only(&spans, SpanKind::Server, "catalog.CatalogService/GetProductDetails");
    assert_eq!(rpc.parent_span_id, hex("b7ad6b7169203331"));
    assert_eq!(string_attribute(rpc, "rpc.system"), Some("grpc"));
    assert_eq!(string_attribute(rpc, "rpc.method"), Some("GetProductDetails"));
    assert_eq!(int_attribute(rpc, "rpc.grpc.status_code"), Some(0));
    let reads: Vec<&str> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .filter_map(|s| string_attribute(s, "db.system.name"))
        .collect();
    assert!(
        reads.contains(&"redis") && reads.contains(&"postgresql"),
        "a cold read asks Redis, then PostgreSQL: {reads:?}"
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
