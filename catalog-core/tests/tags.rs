//! Tag repository against a real PostgreSQL: tenancy, uniqueness, product links, versions,
//! soft delete and events.

// Tests fail loudly on unexpected errors; `expect` names the step that failed.
#![allow(clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{OrganizationId, ProductId, TagId};
use catalog_core::models::{Actor, NewTag, Tag, TagChanges, TagType};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::outbox::{self, OutboxRow};
use catalog_core::repo::tags;
use catalog_core::schema::{product_tags, products};
use catalog_core::testing::TestDb;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

mod common;

// Products are inserted directly: these tests are about tags, not the product repository.
use common::insert_product;

fn new_tag(name: &str, tag_type: TagType) -> NewTag {
    NewTag {
        metadata: None,
        id: TagId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        name: name.into(),
        slug: String::new(),
        tag_type,
        color: None,
    }
}

async fn soft_delete_product(conn: &mut PgConn, id: ProductId) {
    diesel::update(products::table.find(id))
        .set(products::deleted_at.eq(Utc::now()))
        .execute(conn)
        .await
        .expect("soft delete");
}

async fn product_version(conn: &mut PgConn, id: ProductId) -> i32 {
    products::table.find(id).select(products::version).first(conn).await.expect("product")
}

async fn linked_tag_ids(conn: &mut PgConn, product_id: ProductId) -> Vec<TagId> {
    product_tags::table
        .filter(product_tags::product_id.eq(product_id))
        .order(product_tags::tag_id)
        .select(product_tags::tag_id)
        .load(conn)
        .await
        .expect("links")
}

async fn events(conn: &mut PgConn, org: OrganizationId) -> Vec<OutboxRow> {
    outbox::list_for_organization(conn, org).await.expect("outbox")
}

fn names(tags: &[Tag]) -> Vec<&str> {
    tags.iter().map(|t| t.name.as_str()).collect()
}

fn sorted(mut ids: Vec<TagId>) -> Vec<TagId> {
    ids.sort();
    ids
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_a_tag() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let tag = tags::create(conn, mine, &actor, new_tag("Oferta", TagType::Promotion)).await.expect("create");
    assert_eq!(tag.organization_id, mine, "the repository stamps the caller's organization");
    let product = insert_product(conn, mine, "P1").await;
    tags::add_to_product(conn, mine, &actor, product, &[tag.id]).await.expect("link");

    assert!(tags::find(conn, theirs, tag.id).await.expect("query").is_none());
    assert!(matches!(tags::get(conn, theirs, tag.id).await, Err(Error::NotFound(Entity::Tag))));
    assert!(tags::get_many(conn, theirs, &[tag.id]).await.expect("query").is_empty());
    assert!(
        tags::list(conn, theirs, &PageRequest::first(10), None, &Default::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let rename = TagChanges { name: Some("Stolen".into()), ..Default::default() };
    let res = tags::update(conn, theirs, &actor, tag.id, None, rename).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Tag))), "{res:?}");
    let res = tags::delete(conn, theirs, &actor, tag.id, true).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Tag))), "{res:?}");
    assert!(tags::list_for_products(conn, theirs, &[product]).await.expect("query").is_empty());
    let res = tags::product_ids_for_tag(conn, theirs, tag.id, &PageRequest::first(10)).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Tag))), "{res:?}");

    // Their own tag on my product, and my tag on their product: both look like missing rows.
    let their_tag = tags::create(conn, theirs, &actor, new_tag("Suyo", TagType::Custom)).await.expect("create");
    let their_product = insert_product(conn, theirs, "P1").await;
    let res = tags::add_to_product(conn, theirs, &actor, product, &[their_tag.id]).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Product))), "{res:?}");
    let res = tags::remove_from_product(conn, theirs, &actor, product, &[their_tag.id]).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Product))), "{res:?}");
    let res = tags::set_product_tags(conn, theirs, &actor, product, &[]).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Product))), "{res:?}");
    for res in [
        tags::add_to_product(conn, theirs, &actor, their_product, &[tag.id]).await,
        tags::remove_from_product(conn, theirs, &actor, their_product, &[tag.id]).await,
        tags::set_product_tags(conn, theirs, &actor, their_product, &[their_tag.id, tag.id]).await,
    ] {
        match res {
            Err(Error::Validation { entity: Entity::Tag, fields }) => {
                assert_eq!(fields.len(), 1, "{fields:?}");
                assert_eq!(fields[0].field, "tag_ids");
                assert!(fields[0].message.contains(&tag.id.to_string()), "{fields:?}");
                assert!(!fields[0].message.contains(&their_tag.id.to_string()), "only the bad id is listed");
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
    let res = tags::add_to_product(conn, mine, &actor, product, &[their_tag.id]).await;
    assert!(matches!(res, Err(Error::Validation { entity: Entity::Tag, .. })), "{res:?}");

    assert_eq!(tags::get(conn, mine, tag.id).await.expect("still there"), tag);
    assert_eq!(linked_tag_ids(conn, product).await, [tag.id]);
    assert!(linked_tag_ids(conn, their_product).await.is_empty());
    assert_eq!(product_version(conn, product).await, 2, "only the one real link changed the product");
    let types: Vec<String> = events(conn, theirs).await.into_iter().map(|e| e.event_type).collect();
    assert_eq!(types, ["catalog.tag.created"], "their failed calls published nothing");
}

#[tokio::test]
async fn names_and_slugs_are_unique_per_organization_among_live_tags() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let first = tags::create(conn, org, &actor, new_tag("Nuevo Año", TagType::Feature)).await.expect("create");
    assert_eq!(first.slug, "nuevo-ano", "an empty slug is derived from the name");

    let dup = tags::create(conn, org, &actor, new_tag("NUEVO AÑO", TagType::Custom)).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "TAG_NAME_EXISTS", .. })), "{dup:?}");
    let same_slug = NewTag { slug: "nuevo-ano".into(), ..new_tag("Otro", TagType::Custom) };
    let dup = tags::create(conn, org, &actor, same_slug).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "TAG_SLUG_EXISTS", .. })), "{dup:?}");
    let unslugable = tags::create(conn, org, &actor, new_tag("☃", TagType::Custom)).await.expect("☃");
    assert!(unslugable.slug.starts_with("tag-") && unslugable.slug.len() == 12, "{}", unslugable.slug);
    tags::create(conn, other, &actor, new_tag("Nuevo Año", TagType::Feature))
        .await
        .expect("another organization may reuse it");

    tags::delete(conn, org, &actor, first.id, false).await.expect("delete");
    assert!(tags::find(conn, org, first.id).await.expect("query").is_none(), "deleted tags are not read");
    let again = tags::create(conn, org, &actor, new_tag("Nuevo Año", TagType::Feature))
        .await
        .expect("a deleted tag's name is reusable");
    assert_eq!(again.slug, "nuevo-ano");
}

#[tokio::test]
async fn lists_filter_by_type_and_walk_pages() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let mut promos = Vec::new();
    for name in ["A", "B", "C"] {
        promos.push(tags::create(conn, org, &actor, new_tag(name, TagType::Promotion)).await.expect("create").id);
    }
    let feature = tags::create(conn, org, &actor, new_tag("F", TagType::Feature)).await.expect("create");

    let all = tags::list(conn, org, &PageRequest::first(10), None, &Default::default()).await.expect("list");
    assert_eq!(all.items.len(), 4);
    let first = tags::list(conn, org, &PageRequest::first(2), Some(TagType::Promotion), &Default::default())
        .await
        .expect("list");
    assert_eq!((first.items.iter().map(|t| t.id).collect::<Vec<_>>(), first.has_next), (promos[..2].to_vec(), true));
    let next = PageRequest::after(2, first.items.last().map(|t| t.id.as_uuid()).expect("a full page"));
    let second = tags::list(conn, org, &next, Some(TagType::Promotion), &Default::default()).await.expect("list");
    assert_eq!((second.items.iter().map(|t| t.id).collect::<Vec<_>>(), second.has_next), (vec![promos[2]], false));
    let features = tags::list(conn, org, &PageRequest::first(10), Some(TagType::Feature), &Default::default())
        .await
        .expect("list");
    assert_eq!(features.items.iter().map(|t| t.id).collect::<Vec<_>>(), [feature.id]);
    let many = tags::get_many(conn, org, &[feature.id, promos[0], TagId::generate()]).await.expect("get_many");
    assert_eq!(many.len(), 2);
}

#[tokio::test]
async fn updates_bump_the_version_and_guard_against_stale_writers() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let tag = tags::create(conn, org, &actor, new_tag("Verano", TagType::Custom)).await.expect("create");
    assert_eq!(tag.version, 1);

    let changes = TagChanges { color: Some(Some("#ff0000".into())), ..Default::default() };
    let updated = tags::update(conn, org, &actor, tag.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!((updated.version, updated.color.as_deref()), (2, Some("#ff0000")));
    let stale = tags::update(conn, org, &actor, tag.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");
    let same = tags::update(conn, org, &actor, tag.id, Some(2), changes).await.expect("no-op update");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let rename = TagChanges { name: Some("Invierno Frío".into()), slug: Some(String::new()), ..Default::default() };
    let renamed = tags::update(conn, org, &actor, tag.id, None, rename).await.expect("rename");
    assert_eq!((renamed.slug.as_str(), renamed.version), ("invierno-frio", 3), "an empty slug is derived again");

    let rows = events(conn, org).await;
    let summary: Vec<(String, i32)> = rows.iter().map(|e| (e.event_type.clone(), e.aggregate_version)).collect();
    assert_eq!(
        summary,
        [
            ("catalog.tag.created".to_string(), 1),
            ("catalog.tag.updated".to_string(), 2),
            ("catalog.tag.updated".to_string(), 3)
        ]
    );
    assert_eq!(rows[2].payload["data"]["changes"]["slug"], json!({ "old": "verano", "new": "invierno-frio" }));
}

#[tokio::test]
async fn linking_changes_the_product_only_when_its_tag_set_changes() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let sale = tags::create(conn, org, &actor, new_tag("Sale", TagType::Promotion)).await.expect("create");
    let eco = tags::create(conn, org, &actor, new_tag("Eco", TagType::Feature)).await.expect("create");
    let kids = tags::create(conn, org, &actor, new_tag("Kids", TagType::Category)).await.expect("create");
    let product = insert_product(conn, org, "P1").await;

    let now = tags::add_to_product(conn, org, &actor, product, &[sale.id, eco.id, sale.id]).await.expect("add");
    assert_eq!(names(&now), ["Eco", "Sale"], "the product's tags, by name");
    assert_eq!(product_version(conn, product).await, 2);
    let again = tags::add_to_product(conn, org, &actor, product, &[sale.id]).await.expect("add again");
    assert_eq!(names(&again), ["Eco", "Sale"]);
    assert_eq!(product_version(conn, product).await, 2, "nothing new, no new version");
    let not_linked = tags::remove_from_product(conn, org, &actor, product, &[kids.id]).await.expect("remove unlinked");
    assert_eq!(names(&not_linked), ["Eco", "Sale"]);
    assert_eq!(product_version(conn, product).await, 2);

    let after = tags::remove_from_product(conn, org, &actor, product, &[sale.id]).await.expect("remove");
    assert_eq!(names(&after), ["Eco"]);
    assert_eq!(product_version(conn, product).await, 3);
    let replaced = tags::set_product_tags(conn, org, &actor, product, &[kids.id, sale.id]).await.expect("set");
    assert_eq!(names(&replaced), ["Kids", "Sale"]);
    assert_eq!(linked_tag_ids(conn, product).await, sorted(vec![kids.id, sale.id]));
    assert_eq!(product_version(conn, product).await, 4);
    tags::set_product_tags(conn, org, &actor, product, &[sale.id, kids.id]).await.expect("same set");
    assert_eq!(product_version(conn, product).await, 4, "the same set is no change");

    // One bad id fails the whole call: nothing is linked.
    let deleted = tags::create(conn, org, &actor, new_tag("Old", TagType::Custom)).await.expect("create");
    tags::delete(conn, org, &actor, deleted.id, false).await.expect("delete");
    let ghost = TagId::generate();
    let res = tags::add_to_product(conn, org, &actor, product, &[eco.id, deleted.id, ghost]).await;
    match res {
        Err(Error::Validation { entity: Entity::Tag, fields }) => {
            assert_eq!(fields[0].field, "tag_ids");
            assert!(
                fields[0].message.contains(&deleted.id.to_string()) && fields[0].message.contains(&ghost.to_string())
            );
            assert!(!fields[0].message.contains(&eco.id.to_string()), "{fields:?}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(linked_tag_ids(conn, product).await, sorted(vec![kids.id, sale.id]));
    let res = tags::set_product_tags(conn, org, &actor, product, &[ghost]).await;
    assert!(matches!(res, Err(Error::Validation { entity: Entity::Tag, .. })), "{res:?}");
    let cleared = tags::set_product_tags(conn, org, &actor, product, &[]).await.expect("clear");
    assert!(cleared.is_empty());
    assert_eq!(product_version(conn, product).await, 5);

    let (rows, finer): (Vec<OutboxRow>, Vec<OutboxRow>) = events(conn, org)
        .await
        .into_iter()
        .filter(|e| e.aggregate_type == "product")
        .partition(|e| e.event_type == "catalog.product.updated");
    let versions: Vec<i32> = rows.iter().map(|e| e.aggregate_version).collect();
    assert_eq!(versions, [2, 3, 4, 5], "one event per real change");
    assert!(rows.iter().all(|e| e.aggregate_id == product.as_uuid()));
    // Page 20's finer events beside each update: the tags added or removed, and the count after.
    let finer: Vec<(String, i32, Value, Value)> = finer
        .iter()
        .map(|e| {
            let data = &e.payload["data"];
            (e.event_type.clone(), e.aggregate_version, data["tag_ids"].clone(), data["tags_count"].clone())
        })
        .collect();
    let added = "catalog.product.tags.added".to_string();
    let removed = "catalog.product.tags.removed".to_string();
    assert_eq!(
        finer,
        [
            (added.clone(), 2, json!(sorted(vec![sale.id, eco.id])), json!(2)),
            (removed.clone(), 3, json!([sale.id]), json!(1)),
            (added, 4, json!(sorted(vec![kids.id, sale.id])), json!(2)),
            (removed.clone(), 4, json!([eco.id]), json!(2)),
            (removed, 5, json!(sorted(vec![kids.id, sale.id])), json!(0)),
        ]
    );
    let change = |i: usize| rows[i].payload["data"]["changes"]["tag_ids"].clone();
    assert_eq!(change(0), json!({ "old": [], "new": sorted(vec![sale.id, eco.id]) }));
    assert_eq!(change(1), json!({ "old": sorted(vec![sale.id, eco.id]), "new": [eco.id] }));
    assert_eq!(change(2), json!({ "old": [eco.id], "new": sorted(vec![kids.id, sale.id]) }));
    assert_eq!(change(3), json!({ "old": sorted(vec![kids.id, sale.id]), "new": [] }));

    soft_delete_product(conn, product).await;
    let res = tags::add_to_product(conn, org, &actor, product, &[eco.id]).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Product))), "a deleted product cannot be tagged: {res:?}");
}

#[tokio::test]
async fn a_tag_on_live_products_is_only_deleted_with_force() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let sale = tags::create(conn, org, &actor, new_tag("Sale", TagType::Promotion)).await.expect("create");
    let eco = tags::create(conn, org, &actor, new_tag("Eco", TagType::Feature)).await.expect("create");
    let (p1, p2, gone) = (
        insert_product(conn, org, "P1").await,
        insert_product(conn, org, "P2").await,
        insert_product(conn, org, "P3").await,
    );
    tags::add_to_product(conn, org, &actor, p1, &[sale.id, eco.id]).await.expect("link");
    tags::add_to_product(conn, org, &actor, p2, &[sale.id]).await.expect("link");
    tags::add_to_product(conn, org, &actor, gone, &[eco.id]).await.expect("link");
    soft_delete_product(conn, gone).await;

    let refused = tags::delete(conn, org, &actor, sale.id, false).await;
    match refused {
        Err(Error::InUse { code: "TAG_HAS_PRODUCTS", details, .. }) => {
            assert_eq!((&details["tag_id"], &details["products_count"]), (&json!(sale.id), &json!(2)));
        }
        other => panic!("expected the tag to be in use, got {other:?}"),
    }
    assert_eq!(tags::get(conn, org, sale.id).await.expect("still there").version, 1);
    let refused = tags::delete(conn, org, &actor, eco.id, false).await;
    match refused {
        Err(Error::InUse { code: "TAG_HAS_PRODUCTS", details, .. }) => {
            assert_eq!(details["products_count"], json!(1), "only p1 is live");
        }
        other => panic!("p1 is live: {other:?}"),
    }

    let before = events(conn, org).await.len();
    tags::delete(conn, org, &actor, sale.id, true).await.expect("forced delete");
    assert!(tags::find(conn, org, sale.id).await.expect("query").is_none());
    assert_eq!(linked_tag_ids(conn, p1).await, [eco.id]);
    assert!(linked_tag_ids(conn, p2).await.is_empty());
    assert_eq!((product_version(conn, p1).await, product_version(conn, p2).await), (3, 3));

    let rows: Vec<OutboxRow> = events(conn, org).await.into_iter().skip(before).collect();
    let mut products_changed: Vec<(uuid::Uuid, i32)> = rows
        .iter()
        .filter(|e| e.event_type == "catalog.product.updated")
        .map(|e| (e.aggregate_id, e.aggregate_version))
        .collect();
    products_changed.sort();
    let mut expected = vec![(p1.as_uuid(), 3), (p2.as_uuid(), 3)];
    expected.sort();
    assert_eq!(products_changed, expected);
    let p1_event = rows.iter().find(|e| e.aggregate_id == p1.as_uuid()).expect("p1 event");
    assert_eq!(
        p1_event.payload["data"]["changes"]["tag_ids"],
        json!({ "old": sorted(vec![sale.id, eco.id]), "new": [eco.id] })
    );
    let last = rows.last().expect("tag event");
    assert_eq!(
        (last.event_type.as_str(), last.aggregate_id, last.aggregate_version),
        ("catalog.tag.deleted", sale.id.as_uuid(), 2)
    );

    // A deleted product does not hold a tag.
    tags::remove_from_product(conn, org, &actor, p1, &[eco.id]).await.expect("unlink");
    tags::delete(conn, org, &actor, eco.id, false).await.expect("only a deleted product carries it");
}

#[tokio::test]
async fn tags_of_many_products_and_products_of_a_tag() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let zeta = tags::create(conn, org, &actor, new_tag("Zeta", TagType::Custom)).await.expect("create");
    let alpha = tags::create(conn, org, &actor, new_tag("Alpha", TagType::Custom)).await.expect("create");
    let dropped = tags::create(conn, org, &actor, new_tag("Dropped", TagType::Custom)).await.expect("create");
    let mut ids = Vec::new();
    for sku in ["P1", "P2", "P3", "P4"] {
        let id = insert_product(conn, org, sku).await;
        tags::add_to_product(conn, org, &actor, id, &[zeta.id, alpha.id]).await.expect("link");
        ids.push(id);
    }
    tags::add_to_product(conn, org, &actor, ids[0], &[dropped.id]).await.expect("link");
    diesel::update(catalog_core::schema::tags::table.find(dropped.id))
        .set(catalog_core::schema::tags::deleted_at.eq(Utc::now()))
        .execute(conn)
        .await
        .expect("soft delete tag directly, links kept");

    let pairs = tags::list_for_products(conn, org, &[ids[1], ids[0]]).await.expect("list");
    let shape: Vec<(ProductId, &str)> = pairs.iter().map(|(p, t)| (*p, t.name.as_str())).collect();
    let mut expected = vec![(ids[0], "Alpha"), (ids[0], "Zeta"), (ids[1], "Alpha"), (ids[1], "Zeta")];
    expected.sort_by_key(|(p, _)| *p);
    assert_eq!(shape, expected, "grouped by product, by name within, without deleted tags");

    soft_delete_product(conn, ids[3]).await;
    let first = tags::product_ids_for_tag(conn, org, alpha.id, &PageRequest::first(2)).await.expect("page");
    assert_eq!((first.items.clone(), first.has_next), (ids[..2].to_vec(), true));
    let next = PageRequest::after(2, first.items.last().map(|p| p.as_uuid()).expect("a full page"));
    let second = tags::product_ids_for_tag(conn, org, alpha.id, &next).await.expect("page");
    assert_eq!((second.items, second.has_next), (vec![ids[2]], false), "deleted products are left out");
    let back = PageRequest::before(2, ids[2].as_uuid());
    let previous = tags::product_ids_for_tag(conn, org, alpha.id, &back).await.expect("page");
    assert_eq!(previous.items, ids[..2].to_vec());
    let res = tags::product_ids_for_tag(conn, org, dropped.id, &PageRequest::first(2)).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::Tag))), "{res:?}");
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_nothing_and_one_that_does_writes_once() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.expect("connect");
    let (org, actor) = (TestDb::org(), Actor::system());
    let tag = tags::create(&mut conn, org, &actor, new_tag("Oferta", TagType::Promotion)).await.expect("create");
    let updates = common::count_updates(&mut conn);

    let same = TagChanges { name: Some("Oferta".into()), tag_type: Some(TagType::Promotion), ..TagChanges::default() };
    let unchanged = tags::update(&mut conn, org, &actor, tag.id, Some(tag.version), same).await.expect("update");
    assert_eq!((unchanged.version, updates()), (tag.version, 0), "nothing changed: no UPDATE, same version");
    assert_eq!(events(&mut conn, org).await.len(), 1, "and no event beside the create's");

    let renamed = TagChanges { name: Some("Oferta flash".into()), ..TagChanges::default() };
    let changed = tags::update(&mut conn, org, &actor, tag.id, Some(tag.version), renamed).await.expect("update");
    assert_eq!((changed.version, updates()), (tag.version + 1, 1), "a change: exactly one UPDATE");
    let last = events(&mut conn, org).await.pop().expect("event");
    assert_eq!(last.payload["data"]["changes"], json!({ "name": { "old": "Oferta", "new": "Oferta flash" } }));
}
