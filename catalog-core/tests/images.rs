//! Image repository against a real PostgreSQL: tenancy, the single primary image, promotion on
//! delete, positions and reordering, for both owner kinds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{ImageId, OrganizationId, ProductId, VariantId};
use catalog_core::models::{
    Actor, ImageChanges, NewProductImage, NewVariant, NewVariantImage, Product, ProductImage, VariantImage,
};
use catalog_core::repo::{images, outbox, variants};
use catalog_core::schema;
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde_json::{Value, json};

mod common;

async fn product(conn: &mut PgConn, org: OrganizationId, title: &str) -> Product {
    common::product_row(conn, org, common::titled(title)).await
}

async fn variant(conn: &mut PgConn, org: OrganizationId, product_id: ProductId, sku: &str) -> VariantId {
    let new = NewVariant { product_id, ..NewVariant::new(sku, Decimal::new(1000, 2)) };
    variants::create(conn, org, &Actor::system(), new, &[]).await.expect("create variant").id
}

/// `position: -1` appends.
fn product_image(url: &str, is_primary: bool) -> NewProductImage {
    NewProductImage {
        metadata: None,
        id: ImageId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        product_id: ProductId::generate(),           // overwritten with the owner argument
        url: url.into(),
        alt: None,
        position: -1,
        is_primary,
    }
}

fn variant_image(url: &str, is_primary: bool) -> NewVariantImage {
    NewVariantImage {
        metadata: None,
        id: ImageId::generate(),
        organization_id: OrganizationId::generate(),
        variant_id: VariantId::generate(),
        url: url.into(),
        alt: None,
        position: -1,
        is_primary,
    }
}

async fn product_images(conn: &mut PgConn, org: OrganizationId, id: ProductId) -> Vec<ProductImage> {
    images::list_product_images(conn, org, &[id]).await.expect("list")
}

fn primaries(rows: &[ProductImage]) -> Vec<&str> {
    rows.iter().filter(|i| i.is_primary).map(|i| i.url.as_str()).collect()
}

fn summary(rows: &[ProductImage]) -> Vec<(&str, i32, bool)> {
    rows.iter().map(|i| (i.url.as_str(), i.position, i.is_primary)).collect()
}

#[tokio::test]
async fn another_organization_cannot_reach_images_or_attach_to_foreign_owners() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let p = product(conn, mine, "Camisa").await;
    let v = variant(conn, mine, p.id, "CAM-1").await;
    let pi = images::add_product_image(conn, mine, &actor, p.id, product_image("a.jpg", false)).await.expect("add");
    let vi = images::add_variant_image(conn, mine, &actor, v, variant_image("v.jpg", false)).await.expect("add");
    assert_eq!((pi.organization_id, pi.product_id), (mine, p.id));
    assert_eq!((vi.organization_id, vi.variant_id), (mine, v));

    let attach = images::add_product_image(conn, theirs, &actor, p.id, product_image("x.jpg", false)).await;
    assert!(matches!(attach, Err(Error::NotFound(Entity::Product))), "{attach:?}");
    let attach = images::add_variant_image(conn, theirs, &actor, v, variant_image("x.jpg", false)).await;
    assert!(matches!(attach, Err(Error::NotFound(Entity::Variant))), "{attach:?}");

    let change = || ImageChanges { url: Some("stolen.jpg".into()), ..Default::default() };
    assert!(matches!(
        images::update_product_image(conn, theirs, &actor, pi.id, change()).await,
        Err(Error::NotFound(Entity::Image))
    ));
    assert!(matches!(
        images::update_variant_image(conn, theirs, &actor, vi.id, change()).await,
        Err(Error::NotFound(Entity::Image))
    ));
    assert!(matches!(
        images::delete_product_image(conn, theirs, &actor, pi.id).await,
        Err(Error::NotFound(Entity::Image))
    ));
    assert!(matches!(
        images::delete_variant_image(conn, theirs, &actor, vi.id).await,
        Err(Error::NotFound(Entity::Image))
    ));
    assert!(matches!(
        images::reorder_product_images(conn, theirs, &actor, p.id, &[pi.id]).await,
        Err(Error::NotFound(Entity::Product))
    ));
    assert!(matches!(
        images::reorder_variant_images(conn, theirs, &actor, v, &[vi.id]).await,
        Err(Error::NotFound(Entity::Variant))
    ));
    assert!(images::list_product_images(conn, theirs, &[p.id]).await.expect("list").is_empty());
    assert!(images::list_variant_images(conn, theirs, &[v]).await.expect("list").is_empty());
    assert!(outbox::list_for_organization(conn, theirs).await.expect("outbox").is_empty());

    // A variant image cannot be addressed as a product image (and vice versa).
    assert!(matches!(
        images::delete_product_image(conn, mine, &actor, vi.id).await,
        Err(Error::NotFound(Entity::Image))
    ));
    assert_eq!(images::list_product_images(conn, mine, &[p.id]).await.expect("list"), [pi]);
    assert_eq!(images::list_variant_images(conn, mine, &[v]).await.expect("list"), [vi]);
}

#[tokio::test]
async fn an_owner_has_exactly_one_primary_image() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa").await;

    let a = images::add_product_image(conn, org, &actor, p.id, product_image("a.jpg", false)).await.expect("add");
    assert!(a.is_primary, "the first image becomes primary");
    let b = images::add_product_image(conn, org, &actor, p.id, product_image("b.jpg", false)).await.expect("add");
    assert!(!b.is_primary);
    images::add_product_image(conn, org, &actor, p.id, product_image("c.jpg", true)).await.expect("add primary");
    assert_eq!(primaries(&product_images(conn, org, p.id).await), ["c.jpg"], "adding a primary unsets the old one");

    let b = images::update_product_image(
        conn,
        org,
        &actor,
        b.id,
        ImageChanges { is_primary: Some(true), ..Default::default() },
    )
    .await
    .expect("make primary");
    assert!(b.is_primary);
    assert_eq!(
        summary(&product_images(conn, org, p.id).await),
        [("a.jpg", 0, false), ("b.jpg", 1, true), ("c.jpg", 2, false)]
    );

    let same = images::update_product_image(
        conn,
        org,
        &actor,
        b.id,
        ImageChanges { is_primary: Some(true), ..Default::default() },
    )
    .await
    .expect("no-op");
    assert_eq!(same, b);

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let kinds: Vec<(&str, i32)> = events.iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(
        kinds,
        [
            ("catalog.product.image.created", 1),
            ("catalog.product.image.created", 1),
            ("catalog.product.image.updated", 1), // a demoted
            ("catalog.product.image.created", 1),
            ("catalog.product.image.updated", 1), // c demoted
            ("catalog.product.image.updated", 1), // b promoted
        ],
        "no event for the no-op"
    );
    let data = &events[0].payload["data"];
    assert_eq!((data["kind"].as_str(), &data["owner_id"]), (Some("product"), &json!(p.id)));
    // Page 22's `catalog.product.image.created`, field by field.
    assert_eq!(data["product_id"], json!(p.id));
    assert_eq!(data["image_id"], json!(events[0].aggregate_id));
    assert_eq!(
        (data["url"].as_str(), &data["position"], &data["is_primary"]),
        (Some("a.jpg"), &json!(0), &json!(true))
    );
    assert!(data.get("variant_id").is_none(), "a product's image names no variant");
    assert_eq!(events[5].payload["data"]["changes"], json!({ "is_primary": { "old": false, "new": true } }));
}

#[tokio::test]
async fn deleting_the_primary_promotes_the_lowest_position() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa").await;
    let explicit = |url: &str, position: i32, is_primary: bool| {
        let mut new = product_image(url, is_primary);
        new.position = position;
        new
    };
    let a = images::add_product_image(conn, org, &actor, p.id, explicit("a.jpg", 5, true)).await.expect("add");
    images::add_product_image(conn, org, &actor, p.id, explicit("b.jpg", 9, false)).await.expect("add");
    let c = images::add_product_image(conn, org, &actor, p.id, explicit("c.jpg", 2, false)).await.expect("add");
    images::add_product_image(conn, org, &actor, p.id, product_image("d.jpg", false)).await.expect("append");
    assert_eq!(
        summary(&product_images(conn, org, p.id).await),
        [("c.jpg", 2, false), ("a.jpg", 5, true), ("b.jpg", 9, false), ("d.jpg", 10, false)],
        "a negative position appends after the highest"
    );

    images::delete_product_image(conn, org, &actor, a.id).await.expect("delete primary");
    assert_eq!(primaries(&product_images(conn, org, p.id).await), ["c.jpg"]);
    images::delete_product_image(conn, org, &actor, c.id).await.expect("delete primary");
    assert_eq!(primaries(&product_images(conn, org, p.id).await), ["b.jpg"]);
    assert!(matches!(images::delete_product_image(conn, org, &actor, c.id).await, Err(Error::NotFound(Entity::Image))));
    let left: i64 = schema::product_images::table
        .filter(schema::product_images::product_id.eq(p.id))
        .count()
        .get_result(conn)
        .await
        .expect("count");
    assert_eq!(left, 2, "hard delete");

    let last = outbox::list_for_organization(conn, org).await.expect("outbox");
    let tail: Vec<&str> = last.iter().rev().take(2).map(|e| e.event_type.as_str()).collect();
    assert_eq!(tail, ["catalog.product.image.updated", "catalog.product.image.deleted"]);
}

#[tokio::test]
async fn reorder_sets_positions_from_an_exact_list() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let p = product(conn, org, "Camisa").await;
    let q = product(conn, org, "Pantalón").await;
    let mut ids = Vec::new();
    for url in ["a.jpg", "b.jpg", "c.jpg"] {
        ids.push(images::add_product_image(conn, org, &actor, p.id, product_image(url, false)).await.expect("add").id);
    }
    let elsewhere =
        images::add_product_image(conn, org, &actor, q.id, product_image("q.jpg", false)).await.expect("add");
    let op = product(conn, other, "Ajeno").await;
    let foreign =
        images::add_product_image(conn, other, &actor, op.id, product_image("f.jpg", false)).await.expect("add");

    let reordered =
        images::reorder_product_images(conn, org, &actor, p.id, &[ids[2], ids[0], ids[1]]).await.expect("reorder");
    // The first becomes the primary (page 14's reorder flow).
    assert_eq!(summary(&reordered), [("c.jpg", 0, true), ("a.jpg", 1, false), ("b.jpg", 2, false)]);
    assert_eq!(summary(&product_images(conn, org, q.id).await), [("q.jpg", 0, true)], "other owners untouched");

    let bad_lists = [
        vec![ids[0], ids[1]],                       // missing one
        vec![ids[0], ids[1], ids[2], elsewhere.id], // another owner's image
        vec![ids[0], ids[1], foreign.id],           // another organization's image
        vec![ids[0], ids[1], ids[1]],               // duplicate
    ];
    for list in bad_lists {
        let err = images::reorder_product_images(conn, org, &actor, p.id, &list).await.expect_err("invalid list");
        let Error::Validation { entity: Entity::Image, fields } = &err else { panic!("{err:?}") };
        assert_eq!(fields[0].field, "image_ids");
    }

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let reorders: Vec<_> = events.iter().filter(|e| e.event_type == "catalog.product.images.reordered").collect();
    assert_eq!(reorders.len(), 1);
    assert_eq!(reorders[0].aggregate_id, p.id.as_uuid());
    assert_eq!(reorders[0].payload["data"]["image_ids"], json!([ids[2], ids[0], ids[1]]));
    let primary_changes: Vec<(uuid::Uuid, &Value)> = events
        .iter()
        .filter(|e| e.event_type == "catalog.product.image.updated")
        .map(|e| (e.aggregate_id, &e.payload["data"]["changes"]["is_primary"]["new"]))
        .collect();
    assert_eq!(primary_changes, [(ids[0].as_uuid(), &json!(false)), (ids[2].as_uuid(), &json!(true))]);
    images::reorder_product_images(conn, org, &actor, p.id, &[ids[2], ids[0], ids[1]]).await.expect("same order");
    let count = outbox::list_for_organization(conn, org).await.expect("outbox").len();
    assert_eq!(count, events.len(), "an unchanged order publishes nothing");
}

#[tokio::test]
async fn variant_images_follow_the_same_rules() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa").await;
    let (v, w) = (variant(conn, org, p.id, "A").await, variant(conn, org, p.id, "B").await);
    let a = images::add_variant_image(conn, org, &actor, v, variant_image("a.jpg", false)).await.expect("add");
    let b = images::add_variant_image(conn, org, &actor, v, variant_image("b.jpg", true)).await.expect("add");
    let other = images::add_variant_image(conn, org, &actor, w, variant_image("w.jpg", false)).await.expect("add");
    assert!(other.is_primary, "primaries are per owner");

    let listed = images::list_variant_images(conn, org, &[w, v]).await.expect("list");
    let rows: Vec<(VariantId, &str, i32, bool)> =
        listed.iter().map(|i: &VariantImage| (i.variant_id, i.url.as_str(), i.position, i.is_primary)).collect();
    let mut expected = vec![(v, "a.jpg", 0, false), (v, "b.jpg", 1, true), (w, "w.jpg", 0, true)];
    expected.sort_by_key(|(owner, ..)| *owner);
    assert_eq!(rows, expected);

    let reordered = images::reorder_variant_images(conn, org, &actor, v, &[b.id, a.id]).await.expect("reorder");
    assert_eq!(reordered.iter().map(|i| (i.id, i.position)).collect::<Vec<_>>(), [(b.id, 0), (a.id, 1)]);
    let err = images::reorder_variant_images(conn, org, &actor, v, &[b.id, other.id]).await.expect_err("foreign id");
    assert!(matches!(err, Error::Validation { entity: Entity::Image, .. }));

    images::delete_variant_image(conn, org, &actor, b.id).await.expect("delete primary");
    let left = images::list_variant_images(conn, org, &[v]).await.expect("list");
    assert_eq!(left.iter().map(|i| (i.id, i.is_primary)).collect::<Vec<_>>(), [(a.id, true)]);

    let err = images::update_variant_image(
        conn,
        org,
        &actor,
        a.id,
        ImageChanges { url: Some(" ".into()), position: Some(-1), ..Default::default() },
    )
    .await
    .expect_err("invalid");
    let Error::Validation { fields, .. } = &err else { panic!("{err:?}") };
    assert_eq!(fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["url", "position"]);

    variants::delete(conn, org, &actor, w, false).await.expect("delete variant");
    assert!(
        images::list_variant_images(conn, org, &[w]).await.expect("list").is_empty(),
        "a deleted owner's images are gone"
    );
    let add = images::add_variant_image(conn, org, &actor, w, variant_image("late.jpg", false)).await;
    assert!(matches!(add, Err(Error::NotFound(Entity::Variant))), "{add:?}");

    let created = outbox::list_for_organization(conn, org)
        .await
        .expect("outbox")
        .into_iter()
        .find(|e| e.event_type == "catalog.variant.image.created")
        .expect("created event");
    assert_eq!(created.payload["data"]["kind"], "variant");
    assert_eq!(created.payload["data"]["owner_id"], json!(v));
    assert_eq!(created.payload["data"]["variant_id"], json!(v));
    assert!(created.payload["data"]["product_id"].is_string(), "page 22 names the variant's product");
}
