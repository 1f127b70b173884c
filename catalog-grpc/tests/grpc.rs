//! The gRPC server end to end: a real server on a free port, real PostgreSQL and Redis, called
//! through the generated client (and through a client generated from the seed's proto text).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use catalog_core::cache::{self, Cache, CacheKind, Edge};
use catalog_core::config::Settings;
use catalog_core::db::replicas::{self, Reads};
use catalog_core::health::HealthChecker;
use catalog_core::ids::{OrganizationId, ProductId, VariantId};
use catalog_core::models::{
    ActiveStatus, Actor, NewBrand, NewCollection, NewProduct, NewProductImage, NewTag, NewVariant, ProductChanges,
    ProductStatus, TagType, VariantChanges,
};
use catalog_core::read::Catalog;
use catalog_core::repo::recipes::{self, IngredientDraft, RecipeDraft};
use catalog_core::repo::{brands, collections, images, products, tags, variants};
use catalog_core::shutdown::Shutdown;
use catalog_core::testing::TestDb;
use catalog_core::{db, ids};
use catalog_grpc::pb::catalog as pb;
use catalog_grpc::pb::catalog::catalog_service_client::CatalogServiceClient;
use catalog_grpc::pb::seed;
use catalog_grpc::server::GrpcServer;
use rust_decimal::Decimal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

struct Harness {
    db: TestDb,
    settings: Arc<Settings>,
    catalog: Catalog,
    client: CatalogServiceClient<Channel>,
    addr: String,
    stop: Shutdown,
    registry: prometheus::Registry,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("REDIS_KEY_PREFIX".into(), format!("test:{}:", uuid::Uuid::now_v7().simple())),
        ("GRPC_MAX_BATCH_SIZE".into(), "600".into()),
        ("REDIS_TIMEOUT_MS".into(), "300".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_env(env).expect("test settings")
}

/// Starts the server against the test database (or `database_url`, to simulate an outage).
async fn start(extra: &[(&str, &str)], database_url: Option<&str>) -> Harness {
    start_reading(extra, database_url, None).await
}

/// Where reads may go besides the primary.
#[derive(Clone, Copy)]
enum Replica {
    /// The test database over read-only connections (a write through them would fail).
    ReadOnlyPrimary,
    /// The test database on the real streaming replica named by `TEST_REPLICA_URL`
    /// (deploy/local/replica.sh; deploy/local/test.sh sets it), with a lag budget long enough
    /// that other tests pausing its replay do not take it out of use.
    Streaming,
}

async fn start_reading(extra: &[(&str, &str)], database_url: Option<&str>, replica: Option<Replica>) -> Harness {
    let db = TestDb::new().await;
    let settings = Arc::new(settings(extra));
    let pool = match database_url {
        Some(url) => db::pool(&TestDb::settings_for(url)).expect("pool"),
        None => db.pool.clone(),
    };
    let redis = cache::pool(&settings.redis).expect("redis pool");
    let mut catalog = Catalog::new(pool.clone(), Cache::new(redis.clone(), &settings).with_near_cache(&settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = Shutdown::default();
    let registry = prometheus::Registry::new();
    if let Some(replica) = replica {
        let read_url = match replica {
            Replica::ReadOnlyPrimary => format!("{}?options=-c%20default_transaction_read_only%3Don", db.url),
            Replica::Streaming => {
                let base = std::env::var("TEST_REPLICA_URL").expect("TEST_REPLICA_URL names a streaming replica");
                format!("{base}/{}", db.name)
            }
        };
        let with_replica = Settings::from_env([
            ("DATABASE_URL".to_string(), db.url.clone()),
            ("DATABASE_READ_URL".to_string(), read_url),
            ("DATABASE_READ_MAX_LAG_MS".to_string(), "600000".to_string()),
        ])
        .expect("replica settings");
        catalog = catalog.with_reads(Reads::start(&with_replica.database, &registry, stop.clone()).expect("reads"));
    }
    let server = GrpcServer {
        settings: settings.clone(),
        catalog: catalog.clone(),
        health: Arc::new(HealthChecker::new(pool).with_redis(redis)),
        registry: registry.clone(),
    };
    let server_stop = stop.clone();
    tokio::spawn(async move { server.run(listener, server_stop).await.expect("server") });
    let client = connect(&addr).await;
    Harness { db, settings, catalog, client, addr, stop, registry }
}

async fn connect(addr: &str) -> CatalogServiceClient<Channel> {
    for _ in 0..50 {
        if let Ok(client) = CatalogServiceClient::connect(addr.to_string()).await {
            return client;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("server at {addr} did not start");
}

fn price(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A product with variants, brand, tags, a collection and images, plus the other shapes the
/// tests need (simple, inactive, archived, deleted) — for `org`.
struct Fixture {
    org: OrganizationId,
    product: ProductId,
    variants: Vec<VariantId>,
    simple_variant: VariantId,
    inactive_product_variant: VariantId,
    archived_product_variant: VariantId,
    deleted_product_variant: VariantId,
    inactive_variant: VariantId,
}

async fn fixture(h: &Harness) -> Fixture {
    let org = TestDb::org();
    let actor = Actor::system();
    let conn = &mut *h.db.conn().await;

    let brand = brands::create(
        conn,
        org,
        &actor,
        NewBrand {
            metadata: None,
            website: None,
            id: ids::BrandId::generate(),
            organization_id: org,
            name: "Andina".into(),
            slug: String::new(),
            description: Some("Ropa".into()),
            logo_url: None,
            status: ActiveStatus::Active,
        },
    )
    .await
    .expect("brand");
    let mut new = NewProduct::new("Camiseta básica de algodón", "CAM-001");
    new.brand_id = Some(brand.id);
    new.has_variants = true;
    let (product, _) = products::create(conn, org, &actor, new, None).await.expect("product");
    let mut variant_ids = Vec::new();
    for (i, size) in ["S", "M", "L"].iter().enumerate() {
        let mut v = NewVariant::new(format!("CAM-001-{size}"), price(1990 + i as i64 * 100));
        v.barcode = Some(format!("77000000000{i}"));
        v.position = i as i32;
        v.product_id = product.id;
        variant_ids.push(variants::create(conn, org, &actor, v, &[]).await.expect("variant").id);
    }
    for (position, url) in [(2, "https://img/2.jpg"), (0, "https://img/0.jpg"), (1, "https://img/1.jpg")] {
        images::add_product_image(
            conn,
            org,
            &actor,
            product.id,
            NewProductImage {
                metadata: None,
                id: ids::ImageId::generate(),
                organization_id: org,
                product_id: product.id,
                url: url.into(),
                alt: None,
                position,
                is_primary: false,
            },
        )
        .await
        .expect("image");
    }
    let tag = tags::create(
        conn,
        org,
        &actor,
        NewTag {
            metadata: None,
            id: ids::TagId::generate(),
            organization_id: org,
            name: "Verano".into(),
            slug: String::new(),
            tag_type: TagType::Promotion,
            color: None,
        },
    )
    .await
    .expect("tag");
    tags::add_to_product(conn, org, &actor, product.id, &[tag.id]).await.expect("tag link");
    let collection = collections::create(
        conn,
        org,
        &actor,
        NewCollection {
            metadata: None,
            id: ids::CollectionId::generate(),
            organization_id: org,
            parent_id: None,
            name: "Ropa".into(),
            slug: String::new(),
            description: None,
            image_url: None,
            status: ActiveStatus::Active,
            position: 0,
        },
    )
    .await
    .expect("collection");
    collections::add_products(conn, org, &actor, collection.id, &[product.id]).await.expect("collection link");

    let simple = |title: &str, sku: &str| {
        let mut p = NewProduct::new(title, sku);
        p.barcode = Some(format!("BAR-{sku}"));
        p
    };
    let (_, Some(simple_variant)) = products::create(
        conn,
        org,
        &actor,
        simple("Martillo de acero", "MAR-1"),
        Some(NewVariant::new("", price(1500))),
    )
    .await
    .expect("simple") else {
        panic!("default variant")
    };
    let mut inactive = simple("Taladro", "TAL-1");
    inactive.status = ProductStatus::Inactive;
    let (_, Some(inactive_product_variant)) =
        products::create(conn, org, &actor, inactive, Some(NewVariant::new("", price(9900)))).await.expect("inactive")
    else {
        panic!()
    };
    let mut archived = simple("Serrucho", "SER-1");
    archived.status = ProductStatus::Archived;
    let (_, Some(archived_product_variant)) =
        products::create(conn, org, &actor, archived, Some(NewVariant::new("", price(5000)))).await.expect("archived")
    else {
        panic!()
    };
    let (deleted, Some(deleted_product_variant)) =
        products::create(conn, org, &actor, simple("Clavos", "CLA-1"), Some(NewVariant::new("", price(300))))
            .await
            .expect("deleted")
    else {
        panic!()
    };
    products::delete(conn, org, &actor, deleted.id, true).await.expect("delete");
    let (_, Some(inactive_variant)) =
        products::create(conn, org, &actor, simple("Destornillador", "DES-1"), Some(NewVariant::new("", price(700))))
            .await
            .expect("p")
    else {
        panic!()
    };
    variants::set_active(conn, org, &actor, inactive_variant.id, None, false).await.expect("deactivate");

    Fixture {
        org,
        product: product.id,
        variants: variant_ids,
        simple_variant: simple_variant.id,
        inactive_product_variant: inactive_product_variant.id,
        archived_product_variant: archived_product_variant.id,
        deleted_product_variant: deleted_product_variant.id,
        inactive_variant: inactive_variant.id,
    }
}

fn validate(org: OrganizationId, id: impl ToString) -> pb::ValidateVariantRequest {
    pb::ValidateVariantRequest { organization_id: org.to_string(), variant_id: id.to_string() }
}

#[tokio::test]
async fn validate_variant_answers_found_missing_inactive_and_malformed() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;

    let ok = h.client.validate_variant(validate(f.org, f.variants[1])).await.expect("rpc").into_inner();
    assert!(ok.exists && ok.is_active, "{ok:?}");
    assert_eq!((ok.sku.as_str(), ok.barcode.as_str(), ok.price), ("CAM-001-M", "770000000001", 20.90));
    assert_eq!(
        (ok.product_id, ok.track_inventory, ok.default_min_stock, ok.default_max_stock),
        (f.product.to_string(), true, 10, 1000)
    );

    let simple = h.client.validate_variant(validate(f.org, f.simple_variant)).await.expect("rpc").into_inner();
    assert!(simple.exists && simple.is_active);

    for (case, id) in [
        ("variant inactive", f.inactive_variant),
        ("product inactive", f.inactive_product_variant),
        ("product archived", f.archived_product_variant),
        ("product deleted", f.deleted_product_variant),
    ] {
        let r = h.client.validate_variant(validate(f.org, id)).await.expect("rpc").into_inner();
        assert!(r.exists && !r.is_active, "{case}: {r:?}");
    }

    let missing = VariantId::generate();
    let r = h.client.validate_variant(validate(f.org, missing)).await.expect("rpc").into_inner();
    assert!(!r.exists && !r.is_active);
    assert_eq!(r.message, format!("Variant {missing} not found"));

    let r = h
        .client
        .validate_variant(validate(f.org, "not-a-uuid"))
        .await
        .expect("malformed id is not an error")
        .into_inner();
    assert!(!r.exists);

    let foreign = h.client.validate_variant(validate(TestDb::org(), f.variants[0])).await.expect("rpc").into_inner();
    assert!(!foreign.exists, "another organization's variant does not exist for the caller");

    for bad_org in ["", "acme", "123"] {
        let req = pb::ValidateVariantRequest { organization_id: bad_org.into(), variant_id: f.variants[0].to_string() };
        let err = h.client.validate_variant(req).await.expect_err("bad organization");
        assert_eq!(err.code(), Code::InvalidArgument, "{bad_org:?}");
        assert!(err.message().contains("organization_id"));
    }
}

#[tokio::test]
async fn batches_answer_in_request_order_with_duplicates_and_missing() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let missing = VariantId::generate().to_string();
    let asked = vec![
        f.variants[2].to_string(),
        missing.clone(),
        f.variants[0].to_string(),
        f.variants[2].to_string(),
        "junk".to_string(),
        f.inactive_variant.to_string(),
    ];
    let r = h
        .client
        .validate_variants_batch(pb::ValidateVariantsBatchRequest {
            organization_id: f.org.to_string(),
            variant_ids: asked.clone(),
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.success);
    let got: Vec<(String, bool, bool)> =
        r.validations.iter().map(|v| (v.variant_id.clone(), v.exists, v.is_active)).collect();
    let expected: Vec<(String, bool, bool)> = vec![
        (asked[0].clone(), true, true),
        (missing.clone(), false, false),
        (asked[2].clone(), true, true),
        (asked[3].clone(), true, true),
        ("junk".into(), false, false),
        (asked[5].clone(), true, false),
    ];
    assert_eq!(got, expected);
    assert_eq!(r.validations[0].sku, "CAM-001-L");

    let r = h
        .client
        .get_variants_batch(pb::GetVariantsBatchRequest {
            organization_id: f.org.to_string(),
            variant_ids: asked.clone(),
        })
        .await
        .expect("rpc")
        .into_inner();
    let skus: Vec<&str> = r.variants.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["CAM-001-L", "CAM-001-S", "CAM-001-L", "DES-1"]);
    assert_eq!(r.not_found_ids, [missing.as_str(), "junk"]);
    assert_eq!(r.variants[0].sale_price, 21.90);
    assert_eq!(r.variants[0].stock_available, 0, "stock belongs to Inventory");

    let too_many: Vec<String> = (0..601).map(|_| VariantId::generate().to_string()).collect();
    let err = h
        .client
        .validate_variants_batch(pb::ValidateVariantsBatchRequest {
            organization_id: f.org.to_string(),
            variant_ids: too_many,
        })
        .await
        .expect_err("over the batch limit");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn product_details_carry_relations_and_respect_tenancy() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let details = |org: OrganizationId, id: String, variants: bool, images: bool| pb::GetProductDetailsRequest {
        organization_id: org.to_string(),
        product_id: id,
        include_variants: variants,
        include_images: images,
    };
    let r = h
        .client
        .get_product_details(details(f.org, f.product.to_string(), true, true))
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.success, "{}", r.message);
    let p = r.product.expect("product");
    assert_eq!(
        (p.title.as_str(), p.sku.as_str(), p.status.as_str()),
        ("Camiseta básica de algodón", "CAM-001", "active")
    );
    assert_eq!(p.brand.as_ref().map(|b| b.name.as_str()), Some("Andina"));
    let urls: Vec<&str> = p.images.iter().map(|i| i.url.as_str()).collect();
    assert_eq!(urls, ["https://img/0.jpg", "https://img/1.jpg", "https://img/2.jpg"], "images sorted by position");
    assert_eq!(p.variants.iter().map(|v| v.sku.as_str()).collect::<Vec<_>>(), ["CAM-001-S", "CAM-001-M", "CAM-001-L"]);
    assert_eq!(p.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Verano"]);
    assert_eq!(p.collections.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), ["ropa"]);

    let only_variants = h
        .client
        .get_product_details(details(f.org, f.product.to_string(), true, false))
        .await
        .expect("rpc")
        .into_inner();
    let p = only_variants.product.expect("product");
    assert!(p.images.is_empty() && p.variants.len() == 3);
    let unset = h
        .client
        .get_product_details(details(f.org, f.product.to_string(), false, false))
        .await
        .expect("rpc")
        .into_inner();
    let p = unset.product.expect("product");
    assert!(!p.images.is_empty() && p.variants.len() == 3, "unset flags mean the seed's default: include both");

    for (case, org, id) in [
        ("missing", f.org, ProductId::generate().to_string()),
        ("malformed", f.org, "xyz".to_string()),
        ("another organization's", TestDb::org(), f.product.to_string()),
    ] {
        let r = h.client.get_product_details(details(org, id.clone(), true, true)).await.expect("rpc").into_inner();
        assert!(!r.success && r.product.is_none(), "{case}");
        assert_eq!(r.message, format!("Product {id} not found"), "{case}");
    }

    let r = h
        .client
        .get_products_batch(pb::GetProductsBatchRequest {
            organization_id: f.org.to_string(),
            product_ids: vec!["bad".into(), f.product.to_string(), f.product.to_string()],
            include_variants: Some(false),
            include_images: None,
        })
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.products.len(), 2);
    assert!(
        r.products[0].variants.is_empty() && !r.products[0].images.is_empty(),
        "explicit false honoured, unset = true"
    );
    assert_eq!(r.not_found_ids, ["bad"]);

    let r = h
        .client
        .get_product(pb::GetProductRequest {
            organization_id: f.org.to_string(),
            product_id: f.product.to_string(),
            ..Default::default()
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.success && r.product.map(|p| p.variants.len()) == Some(3));

    let r = h
        .client
        .get_variant(pb::GetVariantRequest {
            organization_id: f.org.to_string(),
            variant_id: f.inactive_product_variant.to_string(),
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.success && !r.is_active);
    assert_eq!(r.variant.map(|v| v.sku), Some("TAL-1".to_string()));
    let r = h
        .client
        .get_variant(pb::GetVariantRequest {
            organization_id: TestDb::org().to_string(),
            variant_id: f.variants[0].to_string(),
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(!r.success && r.variant.is_none());
}

fn search_request(org: OrganizationId, query: &str) -> pb::SearchRequest {
    pb::SearchRequest { organization_id: org.to_string(), query: query.into(), ..Default::default() }
}

/// `db_reads_total{target}` of the harness's server.
/// Calls a scan of the fixture's barcode until the replica answers it with the variant.
async fn until_the_replica_answers(h: &mut Harness, scan: impl Fn() -> tonic::Request<pb::SearchRequest>) {
    catalog_core::testing::eventually("the replica answers the scan", Duration::from_secs(30), async || {
        let before = reads(h, "replica");
        let hits = h.client.search_products(scan()).await.expect("rpc").into_inner().hits;
        hits.first().map(|hit| hit.sku.as_str()) == Some("CAM-001-L") && reads(h, "replica") > before
    })
    .await;
}

/// A caller that wrote brings the primary's position as `x-catalog-read-after` metadata: a real
/// streaming replica that has not replayed that far is passed over for the primary, and serves
/// once it has.
#[tokio::test]
async fn a_read_after_position_in_metadata_keeps_a_call_off_a_replica_that_has_not_replayed_it() {
    let mut h = start_reading(&[], None, Some(Replica::Streaming)).await;
    let f = fixture(&h).await;
    let scan_after = |position: &str| {
        let mut request = tonic::Request::new(search_request(f.org, "770000000002"));
        request.metadata_mut().insert(replicas::READ_AFTER_HEADER, position.parse().expect("metadata value"));
        request
    };

    // Far past anything written: no replica has replayed it, the primary answers.
    let (primary, replica) = (reads(&h, "primary"), reads(&h, "replica"));
    let hits = h.client.search_products(scan_after("FFFF/0")).await.expect("rpc").into_inner().hits;
    assert_eq!(hits.first().map(|hit| hit.sku.as_str()), Some("CAM-001-L"), "the primary has the fixture");
    assert_eq!(reads(&h, "replica"), replica, "the replica is behind the position");
    assert!(reads(&h, "primary") > primary);

    // The primary's position now, which includes the fixture: the replica serves once replayed.
    let position = h.catalog.reads.primary_position().await.expect("primary position").expect("replicas configured");
    until_the_replica_answers(&mut h, || scan_after(&position.to_string())).await;
}

fn reads(h: &Harness, target: &str) -> u64 {
    h.registry
        .gather()
        .iter()
        .filter(|family| family.name() == "db_reads_total")
        .flat_map(|family| family.get_metric())
        .filter(|metric| metric.get_label().iter().any(|label| label.value() == target))
        .map(|metric| metric.get_counter().get_value() as u64)
        .sum()
}

#[tokio::test]
async fn a_scanned_code_search_reads_the_replica_and_cached_reads_fill_from_the_primary() {
    let mut h = start_reading(&[], None, Some(Replica::ReadOnlyPrimary)).await;
    let f = fixture(&h).await;
    // Once the lag monitor measured the replica, a scan (never cached) reads it.
    until_the_replica_answers(&mut h, || tonic::Request::new(search_request(f.org, "770000000002"))).await;
    // A cold GetProductDetails fills the cache: it reads the primary, never a replica.
    let (primary, replica) = (reads(&h, "primary"), reads(&h, "replica"));
    let request = pb::GetProductDetailsRequest {
        organization_id: f.org.to_string(),
        product_id: f.product.to_string(),
        ..Default::default()
    };
    let details = h.client.get_product_details(request).await.expect("rpc").into_inner();
    assert_eq!(details.product.expect("product").product_id, f.product.to_string());
    assert_eq!((reads(&h, "primary"), reads(&h, "replica")), (primary, replica), "no read-only checkout at all");
}

#[tokio::test]
async fn pos_search_puts_exact_codes_first_and_tolerates_typos() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let search = |query: &str| search_request(f.org, query);

    let r = h.client.search_products(search("770000000002")).await.expect("rpc").into_inner();
    assert_eq!(r.hits.first().map(|h| (h.match_type.as_str(), h.sku.as_str())), Some(("barcode", "CAM-001-L")));
    assert_eq!(r.hits[0].sale_price, 21.90);

    let r = h.client.search_products(search("CAM-001")).await.expect("rpc").into_inner();
    assert_eq!(r.hits[0].match_type, "sku", "the product's exact SKU comes first");
    let prefixes: Vec<&str> = r.hits.iter().filter(|h| h.match_type == "sku_prefix").map(|h| h.sku.as_str()).collect();
    assert_eq!(prefixes, ["CAM-001-L", "CAM-001-M", "CAM-001-S"]);

    let r = h.client.search_products(search("camizeta algodon")).await.expect("rpc").into_inner();
    assert_eq!(r.hits.first().map(|h| h.title.as_str()), Some("Camiseta básica de algodón"), "typo and missing accent");

    let r = h.client.search_products(search("taladro")).await.expect("rpc").into_inner();
    assert!(r.hits.is_empty(), "inactive products are not sellable by default");
    let r = h
        .client
        .search_products(pb::SearchRequest { include_inactive: true, ..search("taladro") })
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(r.hits.len(), 1);
    assert!(!r.hits[0].is_active);

    let r = h
        .client
        .search_products(pb::SearchRequest { organization_id: TestDb::org().to_string(), ..search("CAM-001") })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.hits.is_empty(), "another organization's catalog is invisible");
    let err = h.client.search_products(search("   ")).await.expect_err("empty query");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_cached_read_reflects_an_update_once_the_write_path_invalidates() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let ask = pb::GetProductDetailsRequest {
        organization_id: f.org.to_string(),
        product_id: f.product.to_string(),
        include_variants: true,
        include_images: true,
    };
    let first = h.client.get_product_details(ask.clone()).await.expect("rpc").into_inner();
    assert_eq!(first.product.map(|p| p.title), Some("Camiseta básica de algodón".into()));

    let conn = &mut *h.db.conn().await;
    let changes = ProductChanges { title: Some("Camiseta premium".into()), ..Default::default() };
    products::update(conn, f.org, &Actor::system(), f.product, None, changes).await.expect("update");
    let stale = h.client.get_product_details(ask.clone()).await.expect("rpc").into_inner();
    assert_eq!(stale.product.map(|p| p.title), Some("Camiseta básica de algodón".into()), "served from the cache");

    // A write through `Catalog::write` drops what its events made stale.
    let changes = ProductChanges { title: Some("Camiseta premium 2".into()), ..Default::default() };
    h.catalog.write(products::update(conn, f.org, &Actor::system(), f.product, None, changes)).await.expect("update");
    let fresh = h.client.get_product_details(ask).await.expect("rpc").into_inner();
    assert_eq!(fresh.product.map(|p| p.title), Some("Camiseta premium 2".into()));

    // A product status change reaches its variants' validations too (the event names them).
    let validated = h.client.validate_variant(validate(f.org, f.variants[0])).await.expect("rpc").into_inner();
    assert!(validated.is_active);
    let system = Actor::system();
    let deactivate = products::set_status(conn, f.org, &system, f.product, None, ProductStatus::Inactive);
    h.catalog.write(deactivate).await.expect("deactivate");
    let validated = h.client.validate_variant(validate(f.org, f.variants[0])).await.expect("rpc").into_inner();
    assert!(!validated.is_active);

    // Whole-organization invalidation (e.g. organization suspended) without a keyspace scan.
    let changes = VariantChanges { sale_price: Some(price(4242)), ..Default::default() };
    variants::update(conn, f.org, &Actor::system(), f.variants[0], None, changes).await.expect("update");
    assert!(h.catalog.cache.invalidate_organization(f.org).await);
    let v = h
        .client
        .get_variant(pb::GetVariantRequest {
            organization_id: f.org.to_string(),
            variant_id: f.variants[0].to_string(),
        })
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(v.variant.map(|v| v.sale_price), Some(42.42));
}

fn details_request(
    org: OrganizationId,
    product: ProductId,
    variants: bool,
    images: bool,
) -> pb::GetProductDetailsRequest {
    pb::GetProductDetailsRequest {
        organization_id: org.to_string(),
        product_id: product.to_string(),
        include_variants: variants,
        include_images: images,
    }
}

#[tokio::test]
async fn a_cached_product_answer_is_the_fresh_conversion_for_every_flag() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let details =
        h.catalog.product_details(f.org, &[f.product]).await.expect("details").pop().flatten().expect("found");
    // The first call fills the encoded entry (with everything); the others shape the cached one.
    for (variants, images) in [(true, true), (true, true), (true, false), (false, true)] {
        let request = details_request(f.org, f.product, variants, images);
        let answer = h.client.get_product_details(request).await.expect("rpc").into_inner();
        let expected = catalog_grpc::convert::product(&details, variants, images);
        assert_eq!(answer.product, Some(expected), "include_variants={variants}, include_images={images}");
    }
}

#[tokio::test]
async fn a_fill_from_a_read_begun_before_an_invalidation_is_refused() {
    let h = start(&[], None).await;
    let f = fixture(&h).await;
    let (cache, kind) = (&h.catalog.cache, CacheKind::ProductAs(Edge::Grpc));
    let (hits, read_before) = cache.get_encoded(kind, f.org, &[f.product]).await;
    assert_eq!(hits, [None]);
    h.catalog.invalidate_variants(f.org, &[], &[f.product]).await;
    cache.put_encoded(kind, f.org, read_before, &[(f.product, b"read before the write".as_slice())]).await;
    assert_eq!(cache.get_encoded(kind, f.org, &[f.product]).await.0, [None], "the invalidation's tombstone stands");

    // Where no invalidation stands, a read too long before its fill fills nothing either
    // (an invalidation it might have raced is gone), and a prompt one fills.
    let other = ProductId::generate();
    let (_, read_long_ago) = cache.get_encoded(kind, f.org, &[other]).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    cache.put_encoded(kind, f.org, read_long_ago, &[(other, b"slow read".as_slice())]).await;
    assert_eq!(cache.get_encoded(kind, f.org, &[other]).await.0, [None]);
    let (_, read_now) = cache.get_encoded(kind, f.org, &[other]).await;
    cache.put_encoded(kind, f.org, read_now, &[(other, b"prompt read".as_slice())]).await;
    assert_eq!(cache.get_encoded(kind, f.org, &[other]).await.0, [Some(b"prompt read".to_vec())]);
}

/// Readers ask for the cached answers (GetProductDetails, ValidateVariantsBatch) without pause
/// while a writer changes the product's title and a variant's SKU again and again, each write
/// through `Catalog::write` (commit, then invalidation). Readers keep filling the cache from
/// reads that began before a write committed; still, once a write has returned, no reader
/// may be answered with anything older.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_during_a_write_storm_never_see_an_older_version_once_the_write_returned() {
    const WRITES: i64 = 40;
    let h = start(&[], None).await;
    let f = fixture(&h).await;
    let written = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    // Write n names the product "storm n" and the variant "STORM-n"; the fixture's own names are 0.
    fn number(name: &str, prefix: &str) -> i64 {
        name.strip_prefix(prefix).and_then(|n| n.parse().ok()).unwrap_or(0)
    }
    let mut readers = Vec::new();
    for reader in 0..6 {
        let mut client = connect(&h.addr).await;
        let (written, done, org, product, variant) = (written.clone(), done.clone(), f.org, f.product, f.variants[0]);
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                let floor = written.load(Ordering::SeqCst);
                let seen = if reader % 2 == 0 {
                    let answer = client.get_product_details(details_request(org, product, true, true)).await;
                    number(&answer.expect("rpc").into_inner().product.expect("product").title, "storm ")
                } else {
                    let ask = pb::ValidateVariantsBatchRequest {
                        organization_id: org.to_string(),
                        variant_ids: vec![variant.to_string()],
                    };
                    let answer = client.validate_variants_batch(ask).await.expect("rpc").into_inner();
                    number(&answer.validations[0].sku, "STORM-")
                };
                assert!(seen >= floor, "reader {reader} was answered with write {seen} after write {floor} returned");
                reads += 1;
            }
            reads
        }));
    }
    let conn = &mut *h.db.conn().await;
    let system = Actor::system();
    for n in 1..=WRITES {
        let title = ProductChanges { title: Some(format!("storm {n}")), ..Default::default() };
        h.catalog.write(products::update(conn, f.org, &system, f.product, None, title)).await.expect("product");
        let sku = VariantChanges { sku: Some(format!("STORM-{n}")), ..Default::default() };
        h.catalog.write(variants::update(conn, f.org, &system, f.variants[0], None, sku)).await.expect("variant");
        written.store(n, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    let mut reads = Vec::new();
    for reader in readers {
        reads.push(reader.await.expect("a reader saw an older version"));
    }
    assert!(reads.iter().all(|&n| n > 0), "every reader read during the storm: {reads:?}");
}

/// Another replica (its own near cache over the same Redis and database) answers the hot product
/// from memory, without asking Redis, and forgets it the moment a write elsewhere invalidates
/// it: long before its TTL (a minute here), which only bounds what lost messages could leave.
#[tokio::test]
async fn another_replica_s_near_cache_forgets_an_answer_as_soon_as_a_write_invalidates_it() {
    let h = start(&[("CACHE_NEAR_TTL_MS", "60000")], None).await;
    let f = fixture(&h).await;
    let redis = cache::pool(&h.settings.redis).expect("redis");
    let replica = Catalog::new(h.db.pool.clone(), Cache::new(redis.clone(), &h.settings).with_near_cache(&h.settings));
    let channel = format!("{}catalog:invalidations", h.settings.redis.key_prefix);
    let listeners = async || -> i64 {
        let (_, count): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut *redis.get().await.unwrap())
            .await
            .unwrap();
        count
    };
    for _ in 0..100 {
        if listeners().await >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listeners().await, 2, "the server's and the replica's near caches listen");
    let title = |details: &products::ProductDetails| details.product.title.clone().into_bytes();
    let read = async |product: ProductId| {
        let answer = replica.products_encoded(Edge::Grpc, f.org, &[product], title).await.expect("read");
        String::from_utf8(answer[0].clone().expect("the product")).unwrap()
    };
    // Reads `product` into the replica's memory, then, behind every cache's back, retitles it in
    // the database and drops its Redis entry: the replica still answers from memory.
    let conn = &mut *h.db.conn().await;
    let mut kept_in_memory_then_retitled = async |product: ProductId, title: &str| -> String {
        let before = read(product).await; // fills Redis
        tokio::time::sleep(Duration::from_millis(50)).await; // the listener marks itself subscribed
        assert_eq!(read(product).await, before); // a Redis hit, now kept in memory too
        let quiet = ProductChanges { title: Some(title.into()), ..Default::default() };
        products::update(conn, f.org, &Actor::system(), product, None, quiet).await.expect("update");
        let key = h.catalog.cache.key(CacheKind::ProductAs(Edge::Grpc), f.org, product);
        let _: () = redis::cmd("DEL").arg(&key).query_async(&mut *redis.get().await.unwrap()).await.unwrap();
        assert_eq!(read(product).await, before, "served from the replica's memory");
        before
    };
    let until_changed = async |product: ProductId, before: &str| {
        let invalidated = std::time::Instant::now();
        while read(product).await == before {
            assert!(invalidated.elapsed() < Duration::from_secs(1), "the replica kept the old answer");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        read(product).await
    };

    // An invalidation by the other process reaches it at once: of the product...
    let before = kept_in_memory_then_retitled(f.product, "Camiseta lisa").await;
    h.catalog.invalidate_variants(f.org, &[], &[f.product]).await;
    assert_eq!(until_changed(f.product, &before).await, "Camiseta lisa");
    // ...and of the whole organization.
    let (other, _) = stocked(&h, f.org, "NEAR-2", "unit").await;
    let before = kept_in_memory_then_retitled(other, "NEAR-2 renamed").await;
    assert!(h.catalog.cache.invalidate_organization(f.org).await);
    assert_eq!(until_changed(other, &before).await, "NEAR-2 renamed");
}

#[tokio::test]
async fn a_cached_search_follows_every_product_and_variant_write_of_its_organization() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let search = |query: &str| search_request(f.org, query);
    let titles = |r: pb::SearchResponse| r.hits.into_iter().map(|hit| hit.title).collect::<Vec<_>>();
    let first = titles(h.client.search_products(search("camiseta")).await.expect("rpc").into_inner());
    assert!(first.contains(&"Camiseta básica de algodón".to_string()), "{first:?}");

    // Unannounced to the cache (no `Catalog::write`): the same hits are served again.
    let conn = &mut *h.db.conn().await;
    let system = Actor::system();
    let quiet = ProductChanges { title: Some("Camiseta lisa".into()), ..Default::default() };
    products::update(conn, f.org, &system, f.product, None, quiet).await.expect("update");
    assert_eq!(titles(h.client.search_products(search("camiseta")).await.expect("rpc").into_inner()), first);

    // Any variant write of the organization drops its cached searches: the product's new title shows.
    let sku = VariantChanges { sku: Some("CAM-001-XL".into()), ..Default::default() };
    h.catalog.write(variants::update(conn, f.org, &system, f.simple_variant, None, sku)).await.expect("variant");
    let after = titles(h.client.search_products(search("camiseta")).await.expect("rpc").into_inner());
    assert!(after.contains(&"Camiseta lisa".to_string()), "{after:?}");

    // Another organization's searches are its own.
    let other = pb::SearchRequest { organization_id: TestDb::org().to_string(), ..search("camiseta") };
    assert!(h.client.search_products(other).await.expect("rpc").into_inner().hits.is_empty());
}

/// A simple product stocked in `unit`; returns its one variant.
async fn stocked(h: &Harness, org: OrganizationId, sku: &str, unit: &str) -> (ProductId, VariantId) {
    let conn = &mut *h.db.conn().await;
    let new = NewProduct { unit_of_measure: unit.into(), ..NewProduct::new(sku, sku) };
    let default_variant = Some(NewVariant::new("", price(100)));
    let (product, variant) =
        products::create(conn, org, &Actor::system(), new, default_variant).await.expect("product");
    (product.id, variant.expect("default variant").id)
}

fn ingredient(variant: VariantId, quantity: &str, unit: &str, waste: &str) -> IngredientDraft {
    IngredientDraft {
        ingredient_variant_id: variant,
        quantity: quantity.parse().unwrap(),
        unit: unit.into(),
        is_optional: false,
        waste_percentage: waste.parse().unwrap(),
        notes: None,
    }
}

/// Each explosion as (variant, has_recipe, [(variant, quantity, unit)]).
type Exploded = Vec<(String, bool, Vec<(String, String, String)>)>;

async fn explode(client: &mut CatalogServiceClient<Channel>, org: OrganizationId, lines: &[(&str, &str)]) -> Exploded {
    let request = pb::ExplodeRecipeRequest {
        organization_id: org.to_string(),
        lines: lines.iter().map(|(v, q)| pb::SoldLine { variant_id: v.to_string(), quantity: q.to_string() }).collect(),
    };
    let answer = client.explode_recipe(request).await.expect("rpc").into_inner();
    assert!(answer.success);
    answer
        .explosions
        .into_iter()
        .map(|e| {
            assert_eq!(e.found, !e.deductions.is_empty(), "{e:?}");
            let deductions = e.deductions.into_iter().map(|d| (d.variant_id, d.quantity, d.unit)).collect();
            (e.variant_id, e.has_recipe, deductions)
        })
        .collect()
}

#[tokio::test]
async fn explode_recipe_answers_a_whole_ticket_in_order_and_follows_what_changes_the_trees() {
    let h = start(&[], None).await;
    let mut client = h.client.clone();
    let org = TestDb::org();
    let (latte, latte_v) = stocked(&h, org, "LATTE", "unidad").await;
    let (coffee_product, coffee) = stocked(&h, org, "CAFE-GRANO", "kg").await;
    let (_, milk) = stocked(&h, org, "LECHE", "litro").await;
    let (_, cup) = stocked(&h, org, "VASO", "unidad").await;
    let conn = &mut *h.db.conn().await;
    let lines = vec![ingredient(coffee, "20", "gramo", "5"), ingredient(milk, "200", "ml", "2")];
    let draft =
        RecipeDraft { variant_id: None, name: None, yield_quantity: Decimal::ONE, is_active: true, ingredients: lines };
    let created = h.catalog.write(recipes::create(conn, org, &Actor::system(), latte, draft)).await.expect("recipe");

    let (latte_s, coffee_s, milk_s, cup_s) =
        (latte_v.to_string(), coffee.to_string(), milk.to_string(), cup.to_string());
    let stranger = VariantId::generate().to_string();
    let ticket = [(latte_s.as_str(), "2"), (cup_s.as_str(), ""), ("not-a-uuid", "1"), (stranger.as_str(), "1")];
    let expected_latte = |coffee_qty: &str, coffee_unit: &str| {
        (
            latte_s.clone(),
            true,
            vec![
                (coffee_s.clone(), coffee_qty.to_string(), coffee_unit.to_string()),
                (milk_s.clone(), "0.408".to_string(), "litro".to_string()),
            ],
        )
    };
    let first = explode(&mut client, org, &ticket).await;
    assert_eq!(
        first,
        vec![
            expected_latte("0.042", "kg"),
            (cup_s.clone(), false, vec![(cup_s.clone(), "1".into(), "unidad".into())]),
            ("not-a-uuid".into(), false, vec![]),
            (stranger.clone(), false, vec![]),
        ]
    );
    // Another organization's variant is missing; its recipes are never read.
    assert_eq!(explode(&mut client, TestDb::org(), &[(&latte_s, "1")]).await, vec![(latte_s.clone(), false, vec![])]);

    // The explosion is cached: a change the cache is not told of is not seen...
    use diesel_async::RunQueryDsl;
    diesel::sql_query("UPDATE recipe_ingredients SET quantity = 30 WHERE recipe_id = $1 AND unit = 'gramo'")
        .bind::<diesel::sql_types::Uuid, _>(created.recipe.id)
        .execute(conn)
        .await
        .expect("behind the cache's back");
    assert_eq!(explode(&mut client, org, &[(&latte_s, "2")]).await, vec![expected_latte("0.042", "kg")]);
    // ...a recipe write drops every explosion of the organization (and reads the 30 g as well)...
    let lines = vec![ingredient(coffee, "25", "gramo", "5"), ingredient(milk, "200", "ml", "2")];
    let system = Actor::system();
    let replace = recipes::replace_ingredients(conn, org, &system, created.recipe.id, None, lines);
    h.catalog.write(replace).await.expect("replace");
    assert_eq!(explode(&mut client, org, &[(&latte_s, "2")]).await, vec![expected_latte("0.0525", "kg")]);
    // ...and so does a change of an ingredient's unit of measure, two levels away from the id.
    let changes = ProductChanges { unit_of_measure: Some("gramo".into()), ..Default::default() };
    h.catalog.write(products::update(conn, org, &Actor::system(), coffee_product, None, changes)).await.expect("unit");
    assert_eq!(explode(&mut client, org, &[(&latte_s, "2")]).await, vec![expected_latte("52.5", "gramo")]);

    for bad in ["0", "-1", "abc", "1.00001", "100000000"] {
        let request = pb::ExplodeRecipeRequest {
            organization_id: org.to_string(),
            lines: vec![pb::SoldLine { variant_id: latte_s.clone(), quantity: bad.into() }],
        };
        let err = client.explode_recipe(request).await.expect_err(bad);
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert!(err.message().starts_with("lines[0].quantity"), "{bad}: {}", err.message());
    }
}

#[tokio::test]
async fn explode_recipe_costs_the_same_statements_for_a_ticket_of_1_and_of_20_cold_and_none_warm() {
    let h = start(&[], None).await;
    let org = TestDb::org();
    let (_, flour) = stocked(&h, org, "HARINA", "kg").await;
    let (sauce, sauce_v) = stocked(&h, org, "SALSA", "litro").await;
    let conn = &mut *h.db.conn().await;
    let draft = |ingredients| RecipeDraft {
        variant_id: None,
        name: None,
        yield_quantity: Decimal::ONE,
        is_active: true,
        ingredients,
    };
    recipes::create(conn, org, &Actor::system(), sauce, draft(vec![ingredient(flour, "50", "g", "0")]))
        .await
        .expect("sauce");
    let mut dishes = Vec::new();
    for i in 0..21 {
        let (dish, dish_v) = stocked(&h, org, &format!("PLATO-{i}"), "unidad").await;
        let lines = vec![ingredient(sauce_v, "100", "ml", "10"), ingredient(flour, "10", "g", "0")];
        recipes::create(conn, org, &Actor::system(), dish, draft(lines)).await.expect("dish");
        dishes.push(dish_v.to_string());
    }
    let cost = |ids: Vec<String>| {
        let mut client = h.client.clone();
        async move {
            let before = db::statements_sent();
            let lines = ids.into_iter().map(|variant_id| pb::SoldLine { variant_id, quantity: "3".into() }).collect();
            let answer = client
                .explode_recipe(pb::ExplodeRecipeRequest { organization_id: org.to_string(), lines })
                .await
                .expect("rpc")
                .into_inner();
            assert!(answer.explosions.iter().all(|e| e.found && e.has_recipe && e.deductions.len() == 1));
            // 3 × (100 ml × 1.1 = 0.11 l of sauce → 5.5 g of flour, plus 10 g) = 46.5 g.
            assert!(answer.explosions.iter().all(|e| e.deductions[0].quantity == "0.0465"), "{answer:?}");
            db::statements_sent() - before
        }
    };
    let one = cost(dishes[..1].to_vec()).await;
    let twenty = cost(dishes[1..].to_vec()).await;
    assert!(one > 0, "a cold ticket reaches the database");
    assert_eq!(one, twenty, "a ticket costs a constant number of statements, whatever its size and depth");
    assert_eq!(cost(dishes[1..].to_vec()).await, 0, "a warm ticket is served from Redis alone");
}

#[tokio::test]
async fn validate_variants_batch_costs_the_same_statements_for_1_and_500_ids() {
    let h = start(&[], None).await;
    let org = TestDb::org();
    let conn = &mut *h.db.conn().await;
    let mut new = NewProduct::new("Tornillo", "TOR");
    new.has_variants = true;
    let (product, _) = products::create(conn, org, &Actor::system(), new, None).await.expect("product");
    let rows: Vec<NewVariant> = (0..501)
        .map(|i| {
            let mut v = NewVariant::new(format!("TOR-{i:04}"), price(100 + i));
            v.organization_id = org;
            v.product_id = product.id;
            v
        })
        .collect();
    use diesel_async::RunQueryDsl;
    diesel::insert_into(catalog_core::schema::product_variants::table)
        .values(&rows)
        .execute(conn)
        .await
        .expect("bulk insert");
    let ids: Vec<String> = rows.iter().map(|v| v.id.to_string()).collect();

    // Cold cache both times: the 1-id call and the 500-id call ask for different variants.
    let cost = |variant_ids: Vec<String>| {
        let mut client = h.client.clone();
        async move {
            let before = db::statements_sent();
            let r = client
                .validate_variants_batch(pb::ValidateVariantsBatchRequest {
                    organization_id: org.to_string(),
                    variant_ids,
                })
                .await
                .expect("rpc")
                .into_inner();
            (db::statements_sent() - before, r.validations.iter().filter(|v| v.exists && v.is_active).count())
        }
    };
    let (one, found_one) = cost(ids[..1].to_vec()).await;
    let (many, found_many) = cost(ids[1..].to_vec()).await;
    assert_eq!((found_one, found_many), (1, 500));
    assert!(one > 0, "the cold call reaches the database");
    assert_eq!(one, many, "a batch costs a constant number of statements");
    let (warm, _) = cost(ids[1..].to_vec()).await;
    assert_eq!(warm, 0, "a warm batch is served from Redis alone");
}

#[tokio::test]
async fn a_client_generated_from_the_seed_proto_works_unchanged() {
    let h = start(&[], None).await;
    let f = fixture(&h).await;
    let mut client =
        seed::catalog_service_client::CatalogServiceClient::connect(h.addr.clone()).await.expect("connect");
    let r = client
        .validate_variant(seed::ValidateVariantRequest {
            organization_id: f.org.to_string(),
            variant_id: f.variants[0].to_string(),
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.exists && r.is_active);
    assert_eq!(r.sku, "CAM-001-S");
    let r = client
        .get_product_details(seed::GetProductDetailsRequest {
            organization_id: f.org.to_string(),
            product_id: f.product.to_string(),
            include_variants: true,
            include_images: true,
        })
        .await
        .expect("rpc")
        .into_inner();
    assert!(r.success);
    assert_eq!(r.product.map(|p| p.variants.len()), Some(3));
}

#[tokio::test]
async fn redis_down_means_slower_not_failing() {
    let mut h = start(&[("REDIS_URL", "redis://127.0.0.1:1/0")], None).await;
    let f = fixture(&h).await;
    for _ in 0..2 {
        let r = h
            .client
            .validate_variant(validate(f.org, f.variants[0]))
            .await
            .expect("served from PostgreSQL")
            .into_inner();
        assert!(r.exists && r.is_active);
    }
}

#[tokio::test]
async fn database_down_is_unavailable_without_internal_detail() {
    let mut h = start(&[], Some("postgres://postgres@127.0.0.1:1/nothing")).await;
    let err = h.client.validate_variant(validate(TestDb::org(), VariantId::generate())).await.expect_err("no database");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(!err.message().contains("127.0.0.1") && !err.message().contains("connect"), "{}", err.message());
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        Channel::from_shared(h.addr.clone()).unwrap().connect().await.expect("channel"),
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "catalog.CatalogService".into() })
        .await
        .expect("health")
        .into_inner();
    assert_ne!(status.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);
}

#[tokio::test]
async fn health_reports_serving_when_the_database_answers() {
    let h = start(&[], None).await;
    let channel = Channel::from_shared(h.addr.clone()).unwrap().connect().await.expect("channel");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut serving = false;
    for _ in 0..50 {
        let r = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await;
        if r.map(|r| r.into_inner().status() == tonic_health::pb::health_check_response::ServingStatus::Serving)
            .unwrap_or(false)
        {
            serving = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(serving);
}

#[tokio::test]
async fn reflection_lists_the_catalog_service_when_enabled() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let h = start(&[("GRPC_REFLECTION", "true")], None).await;
    let channel = Channel::from_shared(h.addr.clone()).unwrap().connect().await.expect("connect");
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers =
        client.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection").into_inner();
    let Some(Ok(answer)) = answers.next().await else { panic!("no reflection answer") };
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"catalog.CatalogService".to_string()), "{names:?}");
}

/// One call of `method` as `org` for the given product id, variant id and search code, as text
/// (an error as its code and message: its metadata carries nothing the caller chose).
async fn call(
    client: &mut CatalogServiceClient<Channel>,
    method: &str,
    org: &str,
    product: &str,
    variant: &str,
    code: &str,
) -> String {
    fn text<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> String {
        match result {
            Ok(response) => format!("{:?}", response.into_inner()),
            Err(status) => format!("{:?}: {}", status.code(), status.message()),
        }
    }
    let organization_id = org.to_string();
    let (product, variant) = (product.to_string(), variant.to_string());
    match method {
        "ValidateVariant" => {
            text(client.validate_variant(pb::ValidateVariantRequest { organization_id, variant_id: variant }).await)
        }
        "GetProductDetails" => text(
            client
                .get_product_details(pb::GetProductDetailsRequest {
                    organization_id,
                    product_id: product,
                    include_variants: true,
                    include_images: true,
                })
                .await,
        ),
        "GetVariantsBatch" => text(
            client
                .get_variants_batch(pb::GetVariantsBatchRequest { organization_id, variant_ids: vec![variant] })
                .await,
        ),
        "ValidateVariantsBatch" => text(
            client
                .validate_variants_batch(pb::ValidateVariantsBatchRequest {
                    organization_id,
                    variant_ids: vec![variant],
                })
                .await,
        ),
        "GetProduct" => text(
            client
                .get_product(pb::GetProductRequest { organization_id, product_id: product, ..Default::default() })
                .await,
        ),
        "GetProductsBatch" => text(
            client
                .get_products_batch(pb::GetProductsBatchRequest {
                    organization_id,
                    product_ids: vec![product],
                    ..Default::default()
                })
                .await,
        ),
        "GetVariant" => text(client.get_variant(pb::GetVariantRequest { organization_id, variant_id: variant }).await),
        "SearchProducts" => text(
            client
                .search_products(pb::SearchRequest { organization_id, query: code.into(), ..Default::default() })
                .await,
        ),
        "ExplodeRecipe" => text(
            client
                .explode_recipe(pb::ExplodeRecipeRequest {
                    organization_id,
                    lines: vec![pb::SoldLine { variant_id: variant, quantity: "1".into() }],
                })
                .await,
        ),
        other => panic!("{other} is not swept: add it to `call`"),
    }
}

/// The methods `catalog.CatalogService` declares, from the descriptor the server is built from.
fn declared_methods() -> Vec<String> {
    use prost::Message as _;
    let files = prost_types::FileDescriptorSet::decode(catalog_grpc::pb::FILE_DESCRIPTOR_SET).expect("descriptor");
    files
        .file
        .iter()
        .filter(|file| file.package() == "catalog")
        .flat_map(|file| &file.service)
        .filter(|service| service.name() == "CatalogService")
        .flat_map(|service| &service.method)
        .map(|method| method.name().to_string())
        .collect()
}

#[tokio::test]
async fn every_method_answers_another_organizations_ids_exactly_like_missing_ones() {
    let mut h = start(&[], None).await;
    let f = fixture(&h).await;
    let (owner, stranger) = (f.org.to_string(), TestDb::org().to_string());
    let (product, variant, code) = (f.product.to_string(), f.variants[0].to_string(), "CAM-001-S");
    let (no_product, no_variant, no_code) =
        (ProductId::generate().to_string(), VariantId::generate().to_string(), "NADA-404-X");

    let methods = declared_methods();
    assert_eq!(methods.len(), 9, "{methods:?}");
    for method in &methods {
        let theirs = call(&mut h.client, method, &stranger, &product, &variant, code).await;
        let missing = call(&mut h.client, method, &stranger, &no_product, &no_variant, no_code)
            .await
            .replace(&no_product, &product)
            .replace(&no_variant, &variant)
            .replace(no_code, code);
        assert_eq!(theirs, missing, "{method}: another organization's ids must read as missing");
        // The same call as the owner sees the data: the comparison above could tell a leak.
        let own = call(&mut h.client, method, &owner, &product, &variant, code).await;
        assert_ne!(own, theirs, "{method}: the owner should see its own data");
    }
}

#[tokio::test]
async fn malformed_requests_are_answered_without_internal_errors() {
    let mut h = start(&[("GRPC_MAX_BATCH_SIZE", "100")], None).await;
    let f = fixture(&h).await;
    let org = f.org.to_string();
    let huge = "9".repeat(100_000);
    let bad_ids = ["", " ", "not-a-uuid", "'; DROP TABLE products; --", "\0", "ñ😀", huge.as_str()];

    for method in declared_methods() {
        for bad_org in ["", "acme", "00000000-0000-0000-0000-00000000000g"] {
            let answer = call(&mut h.client, &method, bad_org, &f.product.to_string(), "x", "CAM").await;
            assert!(answer.starts_with("InvalidArgument: organization_id"), "{method} org {bad_org:?}: {answer}");
        }
        for id in bad_ids {
            let answer = call(&mut h.client, &method, &org, id, id, id).await;
            assert!(
                !answer.starts_with("Internal") && !answer.starts_with("Unknown"),
                "{method} with {:?}: {answer}",
                id.chars().take(20).collect::<String>()
            );
        }
    }

    // More ids than allowed, and a message larger than the server decodes.
    let too_many: Vec<String> = (0..101).map(|_| VariantId::generate().to_string()).collect();
    let err = h
        .client
        .validate_variants_batch(pb::ValidateVariantsBatchRequest {
            organization_id: org.clone(),
            variant_ids: too_many,
        })
        .await
        .expect_err("over the batch limit");
    assert_eq!(err.code(), Code::InvalidArgument);
    let oversized = vec!["x".repeat(1024); 5 * 1024];
    let err = h
        .client
        .get_variants_batch(pb::GetVariantsBatchRequest { organization_id: org.clone(), variant_ids: oversized })
        .await
        .expect_err("over the message size limit");
    assert!(matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted), "{err:?}");

    // Search bounds: limit and query length are the caller's mistakes, named.
    for (limit, query) in [(-1, "CAM"), (101, "CAM"), (0, "x".repeat(201).as_str())] {
        let err = h
            .client
            .search_products(pb::SearchRequest {
                organization_id: org.clone(),
                query: query.into(),
                limit,
                ..Default::default()
            })
            .await
            .expect_err("out of bounds");
        assert_eq!(err.code(), Code::InvalidArgument, "limit {limit}: {err:?}");
    }
}
