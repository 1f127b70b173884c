//! Product repository against a real PostgreSQL: tenancy, uniqueness, slugs, default variants,
//! cascading delete, versions, options and the batch detail loader.

// A failed expectation is a failed test: panicking with context is the point here.
#![allow(clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::Error;
use catalog_core::ids::{
    BrandId, CollectionId, ImageId, LocalId, OptionId, OrganizationId, ProductId, TagId, VariantId,
};
use catalog_core::models::{
    ActiveStatus, Actor, Brand, NewBrand, NewCollection, NewProduct, NewProductImage, NewTag, NewVariant,
    NewVariantImage, Product, ProductChanges, ProductStatus, Tag, TagType, Variant,
};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::products::{self, ProductFilter, ProductSort};
use catalog_core::repo::{brands, outbox};
use catalog_core::schema::{collection_products, product_tags, product_variants, tags};
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde_json::json;

mod common;

/// SPEC defaults at a position the repository must overwrite.
fn new_variant(sku: &str) -> NewVariant {
    NewVariant { position: 7, ..NewVariant::new(sku, Decimal::new(1990, 2)) }
}

/// A simple product with its default variant (sku defaulted to the product's).
async fn simple(conn: &mut PgConn, org: OrganizationId, title: &str, sku: &str) -> (Product, Variant) {
    let (product, variant) =
        products::create(conn, org, &Actor::system(), NewProduct::new(title, sku), Some(new_variant("")))
            .await
            .expect("create");
    (product, variant.expect("default variant"))
}

/// A product with variants, and `count` variants inserted directly.
async fn with_variants(conn: &mut PgConn, org: OrganizationId, sku: &str, count: usize) -> (Product, Vec<Variant>) {
    let mut new = NewProduct::new(format!("Product {sku}"), sku);
    new.has_variants = true;
    let (product, none) = products::create(conn, org, &Actor::system(), new, None).await.expect("create");
    assert!(none.is_none());
    let mut variants = Vec::new();
    for i in 0..count {
        let v = NewVariant { position: i as i32, ..new_variant(&format!("{sku}-V{i}")) };
        variants.push(common::variant_row(conn, org, product.id, v).await);
    }
    (product, variants)
}

async fn brand(conn: &mut PgConn, org: OrganizationId, name: &str) -> Brand {
    let new = NewBrand {
        metadata: None,
        website: None,
        id: BrandId::generate(),
        organization_id: org,
        name: name.into(),
        slug: catalog_core::slug::slugify(name),
        description: None,
        logo_url: None,
        status: ActiveStatus::Active,
    };
    brands::create(conn, org, &Actor::system(), new).await.expect("brand")
}

async fn option(conn: &mut PgConn, org: OrganizationId, name: &str) -> OptionId {
    common::option(conn, org, name, &[]).await.0
}

async fn events(conn: &mut PgConn, org: OrganizationId) -> Vec<(String, i32)> {
    outbox::list_for_organization(conn, org)
        .await
        .expect("outbox")
        .into_iter()
        .map(|e| (e.event_type, e.aggregate_version))
        .collect()
}

fn conflict_code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    match result {
        Err(Error::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn invalid_fields<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<String> {
    match result {
        Err(Error::Validation { fields, .. }) => fields.into_iter().map(|f| f.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn another_organization_cannot_see_change_or_link_a_product() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let (product, _) = simple(conn, mine, "Camiseta", "CAM-1").await;
    assert_eq!(product.organization_id, mine, "the repository stamps the caller's organization");
    let my_brand = brand(conn, mine, "Acme").await;
    let my_option = option(conn, mine, "Color").await;

    assert!(products::find(conn, theirs, product.id).await.expect("query").is_none());
    assert!(matches!(products::get(conn, theirs, product.id).await, Err(Error::NotFound(_))));
    assert!(products::get_many(conn, theirs, &[product.id]).await.expect("query").is_empty());
    let page = products::list(conn, theirs, &ProductFilter::default(), &PageRequest::first(10)).await.expect("list");
    assert!(page.items.is_empty());
    let rename = ProductChanges { title: Some("Stolen".into()), ..Default::default() };
    assert!(matches!(products::update(conn, theirs, &actor, product.id, None, rename).await, Err(Error::NotFound(_))));
    assert!(matches!(
        products::set_status(conn, theirs, &actor, product.id, None, ProductStatus::Inactive).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(products::delete(conn, theirs, &actor, product.id, true).await, Err(Error::NotFound(_))));
    assert!(matches!(products::set_options(conn, theirs, &actor, product.id, &[]).await, Err(Error::NotFound(_))));
    assert!(products::load_details(conn, theirs, &[product.id], true, true).await.expect("details").is_empty());

    // Their own product cannot point at my brand or declare my option.
    let (their_product, _) = simple(conn, theirs, "Camiseta", "CAM-1").await;
    let mut foreign_brand = NewProduct::new("Gorra", "GOR-1");
    foreign_brand.brand_id = Some(my_brand.id);
    let created = products::create(conn, theirs, &actor, foreign_brand, Some(new_variant(""))).await;
    assert_eq!(invalid_fields(created), ["brand_id"]);
    let link = ProductChanges { brand_id: Some(Some(my_brand.id)), ..Default::default() };
    assert_eq!(
        invalid_fields(products::update(conn, theirs, &actor, their_product.id, None, link).await),
        ["brand_id"]
    );
    let options = products::set_options(conn, theirs, &actor, their_product.id, &[my_option]).await;
    assert_eq!(invalid_fields(options), ["options"]);

    assert_eq!(products::get(conn, mine, product.id).await.expect("still there"), product);
    assert_eq!(events(conn, theirs).await.len(), 2, "only their own create (product + variant) was published");
}

#[tokio::test]
async fn sku_slug_and_barcode_are_unique_per_organization_among_live_products() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let mut first = NewProduct::new("Camiseta", "CAM-1");
    first.slug = "camiseta".into();
    first.barcode = Some("7701234567890".into());
    let (first, _) =
        products::create(conn, org, &actor, first.clone(), Some(new_variant("V-1"))).await.expect("create");

    let dup_sku =
        products::create(conn, org, &actor, NewProduct::new("Other", "CAM-1"), Some(new_variant("V-2"))).await;
    assert_eq!(conflict_code(dup_sku), "PRODUCT_SKU_EXISTS");
    let mut dup_slug = NewProduct::new("Other", "CAM-2");
    dup_slug.slug = "camiseta".into();
    assert_eq!(
        conflict_code(products::create(conn, org, &actor, dup_slug, Some(new_variant("V-3"))).await),
        "PRODUCT_SLUG_EXISTS"
    );
    let mut dup_barcode = NewProduct::new("Other", "CAM-3");
    dup_barcode.barcode = Some("7701234567890".into());
    assert_eq!(
        conflict_code(products::create(conn, org, &actor, dup_barcode, Some(new_variant("V-4"))).await),
        "PRODUCT_BARCODE_EXISTS"
    );
    // Updates hit the same indexes.
    let (second, _) = simple(conn, org, "Pantalón", "PAN-1").await;
    let steal = ProductChanges { sku: Some("CAM-1".into()), ..Default::default() };
    assert_eq!(conflict_code(products::update(conn, org, &actor, second.id, None, steal).await), "PRODUCT_SKU_EXISTS");
    assert!(products::get_many(conn, org, &[first.id, second.id]).await.expect("query").len() == 2);

    // Another organization may use the same values.
    let mut theirs = NewProduct::new("Camiseta", "CAM-1");
    theirs.slug = "camiseta".into();
    theirs.barcode = Some("7701234567890".into());
    products::create(conn, other, &actor, theirs, Some(new_variant(""))).await.expect("other organization");

    // A deleted product's SKU, slug and barcode (and its default variant's SKU) are reusable.
    products::delete(conn, org, &actor, first.id, false).await.expect("delete");
    let mut again = NewProduct::new("Camiseta", "CAM-1");
    again.slug = "camiseta".into();
    again.barcode = Some("7701234567890".into());
    products::create(conn, org, &actor, again, Some(new_variant("V-1"))).await.expect("reuse after delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_sku_yield_one_product() {
    let db = TestDb::new().await;
    let org = TestDb::org();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.expect("connection");
            products::create(
                &mut conn,
                org,
                &Actor::system(),
                NewProduct::new("Camiseta", "RACE-1"),
                Some(new_variant("")),
            )
            .await
            .map(|(product, _)| product.id)
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(Error::Conflict { code: "PRODUCT_SKU_EXISTS", .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1);
    let conn = &mut *db.conn().await;
    let page = products::list(conn, org, &ProductFilter::default(), &PageRequest::first(20)).await.expect("list");
    assert_eq!(page.items.len(), 1);
    assert_eq!(events(conn, org).await.len(), 2, "only the winner published (product + variant)");
}

#[tokio::test]
async fn slugs_are_generated_from_the_title_with_numeric_suffixes() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let slug_of = |p: &Product| p.slug.clone();
    let (a, _) = simple(conn, org, "Camiseta Básica", "S-1").await;
    let (b, _) = simple(conn, org, "Camiseta  básica!", "S-2").await;
    let (c, _) = simple(conn, org, "CAMISETA BASICA", "S-3").await;
    assert_eq!([slug_of(&a), slug_of(&b), slug_of(&c)], ["camiseta-basica", "camiseta-basica-2", "camiseta-basica-3"]);
    // Similar-looking slugs of other titles do not count as taken suffixes.
    let (longer, _) = simple(conn, org, "Camiseta Básica Roja", "S-4").await;
    assert_eq!(longer.slug, "camiseta-basica-roja");
    let (d, _) = simple(conn, org, "Camiseta Básica", "S-5").await;
    assert_eq!(d.slug, "camiseta-basica-4");
    // A freed suffix is used again; other organizations start from the bare slug.
    products::delete(conn, org, &actor, b.id, false).await.expect("delete");
    let (e, _) = simple(conn, org, "Camiseta Básica", "S-6").await;
    assert_eq!(e.slug, "camiseta-basica-2");
    let (theirs, _) = simple(conn, other, "Camiseta Básica", "S-1").await;
    assert_eq!(theirs.slug, "camiseta-basica");
    // A title with nothing to slug still gets a valid slug.
    let (snow, _) = simple(conn, org, "☃", "S-7").await;
    assert_eq!(snow.slug, "product");
    // An empty slug in an update regenerates it from the new title, excluding the product itself.
    let regen =
        ProductChanges { title: Some("Camiseta Básica".into()), slug: Some(String::new()), ..Default::default() };
    let renamed = products::update(conn, org, &actor, snow.id, None, regen).await.expect("update");
    assert_eq!(renamed.slug, "camiseta-basica-5");
    let same = ProductChanges { slug: Some(String::new()), ..Default::default() };
    let kept = products::update(conn, org, &actor, renamed.id, None, same).await.expect("no-op");
    assert_eq!((kept.slug.as_str(), kept.version), ("camiseta-basica-5", renamed.version));
}

#[tokio::test]
async fn a_simple_product_gets_exactly_one_default_variant() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();

    let missing = products::create(conn, org, &actor, NewProduct::new("Gorra", "GOR-1"), None).await;
    assert_eq!(invalid_fields(missing), ["sale_price"]);
    assert!(events(conn, org).await.is_empty());

    let (product, variant) = simple(conn, org, "Gorra", "GOR-1").await;
    assert!(!product.has_variants);
    assert_eq!(variant.product_id, product.id, "product_id is overwritten");
    assert_eq!(variant.organization_id, org, "organization_id is overwritten");
    assert_eq!(variant.sku, "GOR-1", "an empty variant SKU defaults to the product's");
    assert_eq!(variant.position, 0);
    assert_eq!(variant.sale_price, Decimal::new(1990, 2));

    let (_, explicit) =
        products::create(conn, org, &actor, NewProduct::new("Bufanda", "BUF-1"), Some(new_variant("BUF-1-U")))
            .await
            .expect("create");
    assert_eq!(explicit.expect("variant").sku, "BUF-1-U");

    // A failing variant rolls the product back with it.
    let mut bad = new_variant("");
    bad.sale_price = Decimal::ZERO;
    let failed = products::create(conn, org, &actor, NewProduct::new("Guantes", "GUA-1"), Some(bad)).await;
    assert_eq!(invalid_fields(failed), ["sale_price"]);
    let page = products::list(conn, org, &ProductFilter::default(), &PageRequest::first(10)).await.expect("list");
    assert_eq!(page.items.len(), 2);

    let outbox = outbox::list_for_organization(conn, org).await.expect("outbox");
    let types: Vec<&str> = outbox.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["catalog.product.created", "catalog.variant.created", "catalog.product.created", "catalog.variant.created"]
    );
    assert_eq!(outbox[0].aggregate_id, product.id.as_uuid());
    assert_eq!(outbox[0].payload["data"]["product"]["sku"], "GOR-1");
    assert_eq!(outbox[1].aggregate_id, variant.id.as_uuid());
    assert_eq!(outbox[1].payload["data"]["variant"]["product_id"], json!(product.id));
}

#[tokio::test]
async fn deleting_a_product_with_variants_needs_force_and_cascades() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (product, variants) = with_variants(conn, org, "MULTI", 2).await;
    let (_, others) = with_variants(conn, org, "KEEP", 1).await;

    let refused = products::delete(conn, org, &actor, product.id, false).await;
    match refused {
        Err(Error::InUse { code, details, .. }) => {
            assert_eq!(code, "PRODUCT_HAS_VARIANTS");
            assert_eq!((&details["product_id"], &details["variants_count"]), (&json!(product.id), &json!(2)));
            assert!(details["suggestion"].as_str().is_some_and(|s| s.contains("force=true")), "{details}");
        }
        other => panic!("expected the product to be in use, got {other:?}"),
    }
    assert!(products::find(conn, org, product.id).await.expect("query").is_some());

    let mut deleted = products::delete(conn, org, &actor, product.id, true).await.expect("forced delete");
    deleted.sort();
    let mut expected: Vec<VariantId> = variants.iter().map(|v| v.id).collect();
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(products::find(conn, org, product.id).await.expect("query").is_none());
    assert!(matches!(products::delete(conn, org, &actor, product.id, true).await, Err(Error::NotFound(_))));

    let rows: Vec<(VariantId, Option<chrono::DateTime<chrono::Utc>>, i32)> = product_variants::table
        .filter(product_variants::organization_id.eq(org))
        .select((product_variants::id, product_variants::deleted_at, product_variants::version))
        .load(conn)
        .await
        .expect("variants");
    for (id, deleted_at, version) in rows {
        if expected.contains(&id) {
            assert!(deleted_at.is_some() && version == 2, "variant {id} soft-deleted with a new version");
        } else {
            assert_eq!(id, others[0].id);
            assert!(deleted_at.is_none() && version == 1, "another product's variant is untouched");
        }
    }

    let outbox = outbox::list_for_organization(conn, org).await.expect("outbox");
    let tail: Vec<(&str, i32)> =
        outbox[outbox.len() - 3..].iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(tail, [("catalog.product.deleted", 2), ("catalog.variant.deleted", 2), ("catalog.variant.deleted", 2)]);
    let product_event = &outbox[outbox.len() - 3];
    assert_eq!(product_event.payload["data"]["product_id"], json!(product.id));
    assert_eq!(product_event.payload["data"]["variant_ids"], json!(deleted));

    // A simple product goes without force, taking its default variant along; a product with
    // variants but none left goes without force too.
    let (simple_product, default) = simple(conn, org, "Gorra", "GOR-1").await;
    let gone = products::delete(conn, org, &actor, simple_product.id, false).await.expect("delete simple");
    assert_eq!(gone, [default.id]);
    let (empty, _) = with_variants(conn, org, "EMPTY", 0).await;
    assert!(products::delete(conn, org, &actor, empty.id, false).await.expect("delete empty").is_empty());
}

#[tokio::test]
async fn updates_bump_the_version_and_guard_against_stale_writers() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (product, _) = simple(conn, org, "Gorra", "GOR-1").await;
    assert_eq!(product.version, 1);
    let acme = brand(conn, org, "Acme").await;

    let changes =
        ProductChanges { description: Some(Some("Lana".into())), brand_id: Some(Some(acme.id)), ..Default::default() };
    let updated = products::update(conn, org, &actor, product.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!((updated.description.as_deref(), updated.brand_id), (Some("Lana"), Some(acme.id)));

    let stale = products::update(conn, org, &actor, product.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");
    let same = products::update(conn, org, &actor, product.id, Some(2), changes).await.expect("no-op update");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    // A deleted brand cannot be linked.
    let gone = brand(conn, org, "Gone").await;
    brands::delete(conn, org, &actor, gone.id, false).await.expect("delete brand");
    let link = ProductChanges { brand_id: Some(Some(gone.id)), ..Default::default() };
    assert_eq!(invalid_fields(products::update(conn, org, &actor, product.id, None, link).await), ["brand_id"]);

    // Status transitions publish their own events; setting the same status is a no-op.
    let stale = products::set_status(conn, org, &actor, product.id, Some(1), ProductStatus::Inactive).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { .. })), "{stale:?}");
    let inactive =
        products::set_status(conn, org, &actor, product.id, Some(2), ProductStatus::Inactive).await.expect("status");
    assert_eq!((inactive.status, inactive.version), (ProductStatus::Inactive, 3));
    let again =
        products::set_status(conn, org, &actor, product.id, None, ProductStatus::Inactive).await.expect("no-op");
    assert_eq!(again.version, 3);
    let active =
        products::set_status(conn, org, &actor, product.id, None, ProductStatus::Active).await.expect("active");
    assert_eq!(active.version, 4);
    let archived =
        products::set_status(conn, org, &actor, product.id, None, ProductStatus::Archived).await.expect("archive");
    assert_eq!(archived.version, 5);
    // Through update, a status change publishes the status event too (one event per version).
    let reactivate = ProductChanges { status: Some(ProductStatus::Active), ..Default::default() };
    let reactivated = products::update(conn, org, &actor, product.id, Some(5), reactivate).await.expect("update");
    assert_eq!(reactivated.version, 6);

    let product_events: Vec<(String, i32)> =
        events(conn, org).await.into_iter().filter(|(t, _)| t.starts_with("catalog.product.")).collect();
    let expected = [
        ("catalog.product.created", 1),
        ("catalog.product.updated", 2),
        ("catalog.product.deactivated", 3),
        ("catalog.product.activated", 4),
        ("catalog.product.updated", 5),
        ("catalog.product.activated", 6),
    ];
    assert_eq!(product_events, expected.map(|(t, v)| (t.to_string(), v)));
    let outbox = outbox::list_for_organization(conn, org).await.expect("outbox");
    let update = outbox.iter().find(|e| e.event_type == "catalog.product.updated").expect("updated event");
    assert_eq!(update.payload["data"]["changes"]["description"], json!({ "old": null, "new": "Lana" }));
}

#[tokio::test]
async fn options_are_declared_in_order_and_must_exist() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (product, _) = with_variants(conn, org, "OPT", 0).await;
    let (color, size, material) =
        (option(conn, org, "Color").await, option(conn, org, "Talla").await, option(conn, org, "Material").await);

    products::set_options(conn, org, &actor, product.id, &[size, color]).await.expect("set");
    assert_eq!(products::option_ids(conn, org, product.id).await.expect("read"), [size, color]);
    assert_eq!(products::get(conn, org, product.id).await.expect("get").version, 2);

    // Same list: nothing changes. Reordering is a change.
    products::set_options(conn, org, &actor, product.id, &[size, color]).await.expect("no-op");
    assert_eq!(products::get(conn, org, product.id).await.expect("get").version, 2);
    products::set_options(conn, org, &actor, product.id, &[color, size, material]).await.expect("reorder");
    assert_eq!(products::option_ids(conn, org, product.id).await.expect("read"), [color, size, material]);

    let missing = products::set_options(conn, org, &actor, product.id, &[color, OptionId::generate()]).await;
    assert_eq!(invalid_fields(missing), ["options"]);
    let twice = products::set_options(conn, org, &actor, product.id, &[color, color]).await;
    assert_eq!(invalid_fields(twice), ["options"]);
    let stale_product = products::set_options(conn, org, &actor, ProductId::generate(), &[color]).await;
    assert!(matches!(stale_product, Err(Error::NotFound(_))));

    products::set_options(conn, org, &actor, product.id, &[]).await.expect("clear");
    assert!(products::option_ids(conn, org, product.id).await.expect("read").is_empty());

    let outbox = outbox::list_for_organization(conn, org).await.expect("outbox");
    let updates: Vec<_> = outbox.iter().filter(|e| e.event_type == "catalog.product.updated").collect();
    assert_eq!(updates.iter().map(|e| e.aggregate_version).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(
        updates[1].payload["data"]["changes"]["options"],
        json!({ "old": [size, color], "new": [color, size, material] })
    );
}

#[tokio::test]
async fn list_filters_and_pages_by_id() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let acme = brand(conn, org, "Acme").await;
    let local = LocalId::generate();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut new = NewProduct::new(format!("P{i}"), format!("P-{i}"));
        if i % 2 == 0 {
            new.brand_id = Some(acme.id);
            new.product_type = Some("ropa".into());
        }
        if i == 1 {
            new.local_id = Some(local);
            new.status = ProductStatus::Inactive;
        }
        ids.push(products::create(conn, org, &actor, new, Some(new_variant(""))).await.expect("create").0.id);
    }
    let ids_of = |items: Vec<Product>| items.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let all = PageRequest::first(10);
    let by_brand = ProductFilter { brand_id: Some(acme.id), ..Default::default() };
    assert_eq!(ids_of(products::list(conn, org, &by_brand, &all).await.expect("list").items), [ids[0], ids[2], ids[4]]);
    let by_type = ProductFilter { product_type: Some("ropa".into()), ..Default::default() };
    assert_eq!(products::list(conn, org, &by_type, &all).await.expect("list").items.len(), 3);
    let by_status = ProductFilter { status: Some(ProductStatus::Inactive), ..Default::default() };
    assert_eq!(ids_of(products::list(conn, org, &by_status, &all).await.expect("list").items), [ids[1]]);
    let by_local = ProductFilter { local_id: Some(local), ..Default::default() };
    assert_eq!(ids_of(products::list(conn, org, &by_local, &all).await.expect("list").items), [ids[1]]);

    let none = ProductFilter::default();
    let first = products::list(conn, org, &none, &PageRequest::first(2)).await.expect("page 1");
    assert!(first.has_next && !first.has_previous);
    let next = PageRequest::after(2, ids[1].as_uuid());
    let second = products::list(conn, org, &none, &next).await.expect("page 2");
    assert_eq!(ids_of(second.items), [ids[2], ids[3]]);
    let back = PageRequest::before(2, ids[2].as_uuid());
    assert_eq!(ids_of(products::list(conn, org, &none, &back).await.expect("back").items), [ids[0], ids[1]]);

    // Newest first, `after`/`before` bound in the shown order: strictly between P4 and P0 is
    // P3, P2, P1; the first 3 of those, then their last 2.
    let newest = ProductFilter { sort: ProductSort::CreatedDesc, ..Default::default() };
    let (after, before) = (Some(ids[4].as_uuid()), Some(ids[0].as_uuid()));
    let between = PageRequest { after, before, then_last: Some(2), ..PageRequest::first(3) };
    let page = products::list(conn, org, &newest, &between).await.expect("between");
    assert_eq!((page.has_next, page.has_previous), (true, true));
    assert_eq!(ids_of(page.items), [ids[2], ids[1]]);
    let tail = PageRequest { after, ..PageRequest::before(2, ids[0].as_uuid()) };
    assert_eq!(ids_of(products::list(conn, org, &newest, &tail).await.expect("tail").items), [ids[2], ids[1]]);
}

#[tokio::test]
async fn load_details_returns_every_relation_for_live_products_only() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let acme = brand(conn, org, "Acme").await;
    let mut new = NewProduct::new("Camiseta", "CAM-1");
    new.brand_id = Some(acme.id);
    new.has_variants = true;
    let (shirt, _) = products::create(conn, org, &actor, new, None).await.expect("create");
    let (cap, cap_variant) = simple(conn, org, "Gorra", "GOR-1").await;
    let (deleted, _) = simple(conn, org, "Borrado", "DEL-1").await;
    products::delete(conn, org, &actor, deleted.id, false).await.expect("delete");
    let (foreign, _) = simple(conn, other, "Ajena", "AJ-1").await;

    // Variants out of position order, one deleted.
    let mut shirt_variants = Vec::new();
    for (sku, position) in [("CAM-1-L", 2), ("CAM-1-S", 0), ("CAM-1-M", 1), ("CAM-1-X", 3)] {
        // Trailing zeros and every numeric column filled: the decimals must keep value and scale.
        let v = NewVariant {
            position,
            cost_price: Some(Decimal::new(1000, 2)),
            compare_at_price: Some(Decimal::new(2500, 2)),
            tax_rate: Decimal::new(1900, 2),
            weight: Some(Decimal::new(1250, 3)),
            dim_length: Some(Decimal::new(300, 1)),
            dim_width: Some(Decimal::new(2050, 2)),
            dim_height: Some(Decimal::new(1, 0)),
            attributes: json!({ "Talla": sku }),
            ..new_variant(sku)
        };
        shirt_variants.push(common::variant_row(conn, org, shirt.id, v).await);
    }
    diesel::update(product_variants::table.filter(product_variants::sku.eq("CAM-1-X")))
        .set(product_variants::deleted_at.eq(chrono::Utc::now()))
        .execute(conn)
        .await
        .expect("delete variant");

    // Images, inserted out of order.
    let image = |product_id: ProductId, position: i32| NewProductImage {
        metadata: None,
        id: ImageId::generate(),
        organization_id: org,
        product_id,
        url: format!("https://img.example/{position}.jpg"),
        alt: None,
        position,
        is_primary: position == 0,
    };
    let shirt_images = vec![image(shirt.id, 1), image(shirt.id, 0)];
    diesel::insert_into(catalog_core::schema::product_images::table)
        .values(&shirt_images)
        .execute(conn)
        .await
        .expect("images");
    let small = shirt_variants[1].id;
    let variant_image = |position: i32| NewVariantImage {
        metadata: None,
        id: ImageId::generate(),
        organization_id: org,
        variant_id: small,
        url: format!("https://img.example/v{position}.jpg"),
        alt: None,
        position,
        is_primary: false,
    };
    diesel::insert_into(catalog_core::schema::variant_images::table)
        .values(&vec![variant_image(5), variant_image(1)])
        .execute(conn)
        .await
        .expect("variant images");

    // Tags (one deleted) and collections (one deleted).
    let tag = |name: &str| NewTag {
        metadata: None,
        id: TagId::generate(),
        organization_id: org,
        name: name.into(),
        slug: catalog_core::slug::slugify(name),
        tag_type: TagType::Custom,
        color: None,
    };
    let (summer, cotton, old_tag) = (tag("Verano"), tag("Algodón"), tag("Viejo"));
    diesel::insert_into(catalog_core::schema::tags::table)
        .values(&vec![summer.clone(), cotton.clone(), old_tag.clone()])
        .execute(conn)
        .await
        .expect("tags");
    diesel::update(catalog_core::schema::tags::table.find(old_tag.id))
        .set(catalog_core::schema::tags::deleted_at.eq(chrono::Utc::now()))
        .execute(conn)
        .await
        .expect("delete tag");
    let links: Vec<_> = [(shirt.id, summer.id), (shirt.id, cotton.id), (shirt.id, old_tag.id), (cap.id, summer.id)]
        .into_iter()
        .map(|(p, t)| {
            (product_tags::organization_id.eq(org), product_tags::product_id.eq(p), product_tags::tag_id.eq(t))
        })
        .collect();
    diesel::insert_into(product_tags::table).values(links).execute(conn).await.expect("product tags");

    let collection = |name: &str, position: i32| NewCollection {
        metadata: None,
        id: CollectionId::generate(),
        organization_id: org,
        parent_id: None,
        name: name.into(),
        slug: catalog_core::slug::slugify(name),
        description: None,
        image_url: None,
        status: ActiveStatus::Active,
        position,
    };
    let (men, sale, gone) = (collection("Hombre", 1), collection("Ofertas", 0), collection("Antigua", 2));
    diesel::insert_into(catalog_core::schema::collections::table)
        .values(&vec![men.clone(), sale.clone(), gone.clone()])
        .execute(conn)
        .await
        .expect("collections");
    diesel::update(catalog_core::schema::collections::table.find(gone.id))
        .set(catalog_core::schema::collections::deleted_at.eq(chrono::Utc::now()))
        .execute(conn)
        .await
        .expect("delete collection");
    let members: Vec<_> = [men.id, sale.id, gone.id]
        .into_iter()
        .map(|c| {
            (
                collection_products::organization_id.eq(org),
                collection_products::collection_id.eq(c),
                collection_products::product_id.eq(shirt.id),
            )
        })
        .collect();
    diesel::insert_into(collection_products::table).values(members).execute(conn).await.expect("members");

    let (color, size) = (option(conn, org, "Color").await, option(conn, org, "Talla").await);
    products::set_options(conn, org, &actor, shirt.id, &[size, color]).await.expect("options");
    let shirt = products::get(conn, org, shirt.id).await.expect("reload");

    let asked = [cap.id, deleted.id, foreign.id, shirt.id, ProductId::generate(), cap.id];
    let details = products::load_details(conn, org, &asked, true, true).await.expect("details");
    assert_eq!(
        details.iter().map(|d| d.product.id).collect::<Vec<_>>(),
        [cap.id, shirt.id],
        "request order, live only"
    );

    let cap_details = &details[0];
    assert!(cap_details.brand.is_none() && cap_details.images.is_empty() && cap_details.collections.is_empty());
    assert_eq!(cap_details.variants, [cap_variant]);
    assert_eq!(cap_details.tags.iter().map(|t| t.id).collect::<Vec<_>>(), [summer.id]);

    let shirt_details = &details[1];
    assert_eq!(shirt_details.product, shirt);
    // Relations arrive as JSON; they must decode to exactly what Diesel reads from the rows.
    let live_variants: Vec<Variant> = product_variants::table
        .filter(product_variants::product_id.eq(shirt.id))
        .filter(product_variants::deleted_at.is_null())
        .order(product_variants::position)
        .select(Variant::as_select())
        .load(conn)
        .await
        .expect("variants");
    assert_eq!(shirt_details.variants, live_variants);
    assert_eq!(shirt_details.variants[0].weight.map(|w| w.to_string()).as_deref(), Some("1.250"));
    let live_tags: Vec<Tag> = tags::table
        .filter(tags::id.eq_any([cotton.id, summer.id]))
        .order(tags::name)
        .select(Tag::as_select())
        .load(conn)
        .await
        .expect("tags");
    assert_eq!(shirt_details.tags, live_tags);
    assert_eq!(shirt_details.brand.as_ref(), Some(&acme));
    assert_eq!(shirt_details.brand.as_ref().map(|b| b.id), Some(acme.id));
    assert_eq!(shirt_details.images.iter().map(|i| i.position).collect::<Vec<_>>(), [0, 1]);
    let skus: Vec<&str> = shirt_details.variants.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["CAM-1-S", "CAM-1-M", "CAM-1-L"], "live variants by position");
    assert_eq!(shirt_details.variant_images.len(), 1);
    assert_eq!(shirt_details.variant_images[&small].iter().map(|i| i.position).collect::<Vec<_>>(), [1, 5]);
    assert_eq!(
        shirt_details.tags.iter().map(|t| t.id).collect::<Vec<_>>(),
        [cotton.id, summer.id],
        "live tags by name"
    );
    assert_eq!(shirt_details.collections.iter().map(|c| c.id).collect::<Vec<_>>(), [sale.id, men.id]);
    assert_eq!(shirt_details.option_ids, [size, color]);

    // Without variants or images those relations stay empty; the rest is still filled.
    let lean = products::load_details(conn, org, &[shirt.id], false, false).await.expect("lean");
    assert!(lean[0].variants.is_empty() && lean[0].images.is_empty() && lean[0].variant_images.is_empty());
    assert_eq!(lean[0].tags.len(), 2);
    assert_eq!(lean[0].brand.as_ref().map(|b| b.id), Some(acme.id));

    assert!(products::load_details(conn, org, &[], true, true).await.expect("empty").is_empty());
    assert!(products::load_details(conn, other, &[shirt.id, cap.id], true, true).await.expect("other").is_empty());
}

#[tokio::test]
async fn load_details_costs_the_same_number_of_statements_for_one_or_many_products() {
    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel_async::AsyncConnection;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let acme = brand(conn, org, "Acme").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut new = NewProduct::new(format!("P{i}"), format!("P-{i}"));
        new.brand_id = Some(acme.id);
        let (product, variant) =
            products::create(conn, org, &Actor::system(), new, Some(new_variant(""))).await.expect("create");
        let image = NewVariantImage {
            metadata: None,
            id: ImageId::generate(),
            organization_id: org,
            variant_id: variant.expect("variant").id,
            url: "https://img.example/v.jpg".into(),
            alt: None,
            position: 0,
            is_primary: true,
        };
        diesel::insert_into(catalog_core::schema::variant_images::table)
            .values(&image)
            .execute(conn)
            .await
            .expect("image");
        ids.push(product.id);
    }

    let statements = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&statements);
    let count = move |event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    };
    conn.set_instrumentation(Box::new(count) as Box<dyn Instrumentation>);

    let one = products::load_details(conn, org, &ids[..1], true, true).await.expect("one");
    let for_one = statements.swap(0, Ordering::SeqCst);
    let all = products::load_details(conn, org, &ids, true, true).await.expect("all");
    let for_all = statements.swap(0, Ordering::SeqCst);
    assert_eq!((one.len(), all.len()), (1, 6));
    assert!(all.iter().all(|d| d.brand.is_some() && d.variants.len() == 1 && d.variant_images.len() == 1));
    assert_eq!((for_one, for_all), (1, 1), "one statement, whatever the number of products");
}

#[tokio::test]
async fn a_product_update_that_changes_nothing_writes_nothing_and_one_that_does_writes_once() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.expect("connect");
    let (org, actor) = (TestDb::org(), Actor::system());
    let p = common::product_row(&mut conn, org, common::titled("Camisa")).await;
    let updates = common::count_updates(&mut conn);

    let same = ProductChanges { title: Some("Camisa".into()), status: Some(p.status), ..Default::default() };
    let unchanged = products::update(&mut conn, org, &actor, p.id, Some(p.version), same).await.expect("no-op");
    assert_eq!((unchanged.version, updates()), (p.version, 0), "nothing changed: no UPDATE, same version");
    assert!(outbox::list_for_organization(&mut conn, org).await.expect("outbox").is_empty(), "and no event");

    let archived =
        products::set_status(&mut conn, org, &actor, p.id, None, ProductStatus::Archived).await.expect("archive");
    assert_eq!((archived.version, updates()), (p.version + 1, 1), "a change: exactly one UPDATE");
    let events = outbox::list_for_organization(&mut conn, org).await.expect("outbox");
    let [event] = events.as_slice() else { panic!("one event: {events:?}") };
    assert_eq!(event.event_type, "catalog.product.updated");
    assert_eq!(
        event.payload["data"]["changes"],
        json!({
            "status": { "old": "active", "new": "archived" },
            "is_active": { "old": true, "new": false },
        })
    );
}
