//! Collection repository against a real PostgreSQL: tenancy, slugs, the tree and its cycle
//! guard, delete with children, product links, versions and events.

#![allow(clippy::expect_used)]

use catalog_core::error::Error;
use catalog_core::ids::{CollectionId, OrganizationId};
use catalog_core::models::{ActiveStatus, Actor, CollectionChanges, NewCollection};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::collections::{self, CollectionNode, OnDelete};
use catalog_core::repo::outbox;
use catalog_core::schema::{collection_products, products};
use catalog_core::testing::TestDb;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

mod common;

// Products are inserted directly: these tests are about collections, not the product repository.
use common::insert_product;

fn new_collection(name: &str, parent: Option<CollectionId>) -> NewCollection {
    NewCollection {
        metadata: None,
        id: CollectionId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        parent_id: parent,
        name: name.into(),
        slug: String::new(), // derived from the name
        description: None,
        image_url: None,
        status: ActiveStatus::Active,
        position: 0,
    }
}

fn parent_error(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Validation { fields, .. }) => {
            assert_eq!(fields.len(), 1, "{fields:?}");
            assert_eq!(fields[0].field, "parent_id");
            fields[0].message.clone()
        }
        other => panic!("expected a validation error on parent_id, got {other:?}"),
    }
}

/// A refused re-parenting: `CircularCollection` naming the moved collection and the parent asked for.
fn cycle_error(result: Result<impl std::fmt::Debug, Error>, moved: CollectionId, parent: CollectionId) {
    match result {
        Err(Error::CircularCollection { details }) => {
            assert_eq!(details, json!({ "collection_id": moved, "parent_id": parent }));
        }
        other => panic!("expected a circular reference, got {other:?}"),
    }
}

fn parent_of(c: &catalog_core::models::Collection) -> CollectionChanges {
    CollectionChanges { parent_id: Some(Some(c.id)), ..Default::default() }
}

#[tokio::test]
async fn another_organization_cannot_see_change_or_link_a_collection() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let root = collections::create(conn, mine, &actor, new_collection("Ropa", None)).await.expect("create");
    assert_eq!(root.organization_id, mine, "the repository stamps the caller's organization");
    let my_product = insert_product(conn, mine, "MINE-1").await;
    collections::add_products(conn, mine, &actor, root.id, &[my_product]).await.expect("link");
    let root = collections::get(conn, mine, root.id).await.expect("get");

    // Reads.
    assert!(collections::find(conn, theirs, root.id).await.expect("find").is_none());
    assert!(matches!(collections::get(conn, theirs, root.id).await, Err(Error::NotFound(_))));
    assert!(collections::get_many(conn, theirs, &[root.id]).await.expect("get_many").is_empty());
    let page = PageRequest::first(10);
    assert!(collections::list(conn, theirs, &page, None, &Default::default()).await.expect("list").items.is_empty());
    assert!(
        collections::list(conn, theirs, &page, Some(None), &Default::default()).await.expect("roots").items.is_empty()
    );
    assert!(collections::tree(conn, theirs).await.expect("tree").is_empty());
    assert!(collections::list_for_products(conn, theirs, &[my_product]).await.expect("for products").is_empty());
    assert!(matches!(collections::product_ids(conn, theirs, root.id, &page).await, Err(Error::NotFound(_))));

    // Writes on my collection.
    let rename = CollectionChanges { name: Some("Stolen".into()), ..Default::default() };
    assert!(matches!(collections::update(conn, theirs, &actor, root.id, None, rename).await, Err(Error::NotFound(_))));
    assert!(matches!(
        collections::delete(conn, theirs, &actor, root.id, OnDelete::Force).await,
        Err(Error::NotFound(_))
    ));
    let their_product = insert_product(conn, theirs, "THEIRS-1").await;
    let add = collections::add_products(conn, theirs, &actor, root.id, &[their_product]).await;
    assert!(matches!(add, Err(Error::NotFound(_))), "{add:?}");
    let remove = collections::remove_products(conn, theirs, &actor, root.id, &[my_product]).await;
    assert!(matches!(remove, Err(Error::NotFound(_))), "{remove:?}");

    // My collection as their parent, my product in their collection.
    let foreign_parent = collections::create(conn, theirs, &actor, new_collection("Hijo", Some(root.id))).await;
    assert_eq!(parent_error(foreign_parent), "refers to something that does not exist");
    let theirs_root = collections::create(conn, theirs, &actor, new_collection("Suyo", None)).await.expect("create");
    let moved = collections::update(conn, theirs, &actor, theirs_root.id, None, parent_of(&root)).await;
    assert_eq!(parent_error(moved), "refers to something that does not exist");
    let linked = collections::add_products(conn, theirs, &actor, theirs_root.id, &[my_product, their_product]).await;
    match linked {
        Err(Error::Validation { fields, .. }) => {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].field, "product_ids");
            assert!(fields[0].message.contains(&my_product.to_string()), "{}", fields[0].message);
            assert!(!fields[0].message.contains(&their_product.to_string()), "only the bad id is listed");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let unlinked = collections::remove_products(conn, theirs, &actor, theirs_root.id, &[my_product]).await;
    assert!(matches!(unlinked, Err(Error::Validation { .. })), "{unlinked:?}");
    assert!(
        collections::product_ids(conn, theirs, theirs_root.id, &page).await.expect("ids").items.is_empty(),
        "nothing was linked by the failed call"
    );

    // Mine is untouched.
    assert_eq!(collections::get(conn, mine, root.id).await.expect("still there"), root);
    assert_eq!(collections::product_ids(conn, mine, root.id, &page).await.expect("ids").items, [my_product]);
}

#[tokio::test]
async fn slugs_come_from_names_and_are_unique_per_organization_among_live_collections() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let first = collections::create(conn, org, &actor, new_collection("Ropa de Niño", None)).await.expect("create");
    assert_eq!(first.slug, "ropa-de-nino");
    let dup = collections::create(conn, org, &actor, new_collection("Ropa de niño", None)).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "COLLECTION_SLUG_EXISTS", .. })), "{dup:?}");
    collections::create(conn, other, &actor, new_collection("Ropa de Niño", None))
        .await
        .expect("another organization may reuse it");
    // Sibling names are unique too (case-insensitive), whatever the slug.
    let same_name = NewCollection { slug: "kids".into(), ..new_collection("ROPA DE NIÑO", None) };
    let same_name = collections::create(conn, org, &actor, same_name).await;
    assert!(matches!(same_name, Err(Error::Conflict { code: "COLLECTION_NAME_EXISTS", .. })), "{same_name:?}");
    let explicit = NewCollection { slug: "kids".into(), ..new_collection("Ropa infantil", None) };
    assert_eq!(collections::create(conn, org, &actor, explicit).await.expect("explicit slug").slug, "kids");
    let unsluggable = collections::create(conn, org, &actor, new_collection("☃", None)).await.expect("☃");
    assert!(unsluggable.slug.starts_with("collection-") && unsluggable.slug.len() == 19, "{}", unsluggable.slug);

    collections::delete(conn, org, &actor, first.id, OnDelete::Refuse).await.expect("delete");
    assert!(collections::find(conn, org, first.id).await.expect("find").is_none());
    collections::create(conn, org, &actor, new_collection("Ropa de Niño", None))
        .await
        .expect("a deleted collection's slug is reusable");
}

#[tokio::test]
async fn parents_must_be_live_collections() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let gone = collections::create(conn, org, &actor, new_collection("Gone", None)).await.expect("create");
    collections::delete(conn, org, &actor, gone.id, OnDelete::Refuse).await.expect("delete");
    let under_deleted = collections::create(conn, org, &actor, new_collection("Child", Some(gone.id))).await;
    assert_eq!(parent_error(under_deleted), "refers to something that does not exist");
    let missing = collections::create(conn, org, &actor, new_collection("Child", Some(CollectionId::generate()))).await;
    assert_eq!(parent_error(missing), "refers to something that does not exist");

    let live = collections::create(conn, org, &actor, new_collection("Live", None)).await.expect("create");
    let child = collections::create(conn, org, &actor, new_collection("Child", Some(live.id))).await.expect("child");
    assert_eq!(child.parent_id, Some(live.id));
    let to_deleted = collections::update(conn, org, &actor, child.id, None, parent_of(&gone)).await;
    assert_eq!(parent_error(to_deleted), "refers to something that does not exist");
    let to_root = CollectionChanges { parent_id: Some(None), ..Default::default() };
    let root = collections::update(conn, org, &actor, child.id, Some(1), to_root).await.expect("to root");
    assert_eq!((root.parent_id, root.version), (None, 2));
}

#[tokio::test]
async fn re_parenting_rejects_cycles() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let a = collections::create(conn, org, &actor, new_collection("A", None)).await.expect("a");
    let b = collections::create(conn, org, &actor, new_collection("B", Some(a.id))).await.expect("b");
    let c = collections::create(conn, org, &actor, new_collection("C", Some(b.id))).await.expect("c");
    let d = collections::create(conn, org, &actor, new_collection("D", Some(c.id))).await.expect("d");

    for target in [&a, &b, &c, &d] {
        // A under itself, its child, its grandchild, C's child.
        let result = collections::update(conn, org, &actor, a.id, None, parent_of(target)).await;
        cycle_error(result, a.id, target.id);
    }
    let self_parent = collections::update(conn, org, &actor, c.id, None, parent_of(&c)).await;
    cycle_error(self_parent, c.id, c.id);
    let b_under_d = collections::update(conn, org, &actor, b.id, None, parent_of(&d)).await;
    cycle_error(b_under_d, b.id, d.id);
    assert_eq!(collections::get(conn, org, a.id).await.expect("a").version, 1, "rejected moves change nothing");

    // Moving down a sibling branch or up the tree is fine.
    let d_under_a = collections::update(conn, org, &actor, d.id, Some(1), parent_of(&a)).await.expect("d under a");
    assert_eq!((d_under_a.parent_id, d_under_a.version), (Some(a.id), 2));
    let c_under_d = collections::update(conn, org, &actor, c.id, None, parent_of(&d)).await.expect("c under d");
    assert_eq!(c_under_d.parent_id, Some(d.id));
}

/// Two transactions that each move one root under the other would each pass a check that
/// cannot see the other's uncommitted edge; the per-organization lock makes one of them fail.
#[tokio::test]
async fn concurrent_re_parents_cannot_form_a_cycle_together() {
    let db = TestDb::new().await;
    let org = TestDb::org();
    let actor = Actor::system();
    for _ in 0..5 {
        let (a, b) = {
            let conn = &mut *db.conn().await;
            let a = collections::create(conn, org, &actor, new_collection("", None).with_name()).await.expect("a");
            let b = collections::create(conn, org, &actor, new_collection("", None).with_name()).await.expect("b");
            (a, b)
        };
        let (mut c1, mut c2) = (db.conn().await, db.conn().await);
        let (r1, r2) = tokio::join!(
            collections::update(&mut c1, org, &actor, a.id, None, parent_of(&b)),
            collections::update(&mut c2, org, &actor, b.id, None, parent_of(&a)),
        );
        assert!(r1.is_ok() != r2.is_ok(), "exactly one move wins: {r1:?} / {r2:?}");
        if r1.is_ok() {
            cycle_error(r2, b.id, a.id);
        } else {
            cycle_error(r1, a.id, b.id);
        }
    }
}

trait WithName {
    fn with_name(self) -> Self;
}

impl WithName for NewCollection {
    /// A unique name (and so slug) for loops.
    fn with_name(mut self) -> Self {
        self.name = format!("c-{}", self.id.as_uuid().simple());
        self
    }
}

#[tokio::test]
async fn deleting_a_collection_with_children_needs_force_which_moves_them_up() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let a = collections::create(conn, org, &actor, new_collection("A", None)).await.expect("a");
    let b = collections::create(conn, org, &actor, new_collection("B", Some(a.id))).await.expect("b");
    let c = collections::create(conn, org, &actor, new_collection("C", Some(b.id))).await.expect("c");
    let d = collections::create(conn, org, &actor, new_collection("D", Some(b.id))).await.expect("d");
    let product = insert_product(conn, org, "P-1").await;
    collections::add_products(conn, org, &actor, b.id, &[product]).await.expect("link");

    let refused = collections::delete(conn, org, &actor, b.id, OnDelete::Refuse).await;
    match refused {
        Err(Error::InUse { code: "COLLECTION_HAS_CHILDREN", details, .. }) => {
            assert_eq!((&details["collection_id"], &details["children_count"]), (&json!(b.id), &json!(2)));
        }
        other => panic!("expected COLLECTION_HAS_CHILDREN, got {other:?}"),
    }
    assert!(collections::find(conn, org, b.id).await.expect("find").is_some(), "refused delete changes nothing");

    collections::delete(conn, org, &actor, b.id, OnDelete::Force).await.expect("forced delete");
    assert!(collections::find(conn, org, b.id).await.expect("find").is_none());
    for child in [c.id, d.id] {
        let moved = collections::get(conn, org, child).await.expect("child");
        assert_eq!((moved.parent_id, moved.version), (Some(a.id), 2), "children move up to the grandparent");
    }
    let links: i64 = collection_products::table
        .filter(collection_products::collection_id.eq(b.id))
        .count()
        .get_result(conn)
        .await
        .expect("count");
    assert_eq!(links, 0, "the deleted collection's product links are removed");
    assert!(collections::list_for_products(conn, org, &[product]).await.expect("for products").is_empty());

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let mut tail: Vec<(&str, uuid::Uuid, i32)> = events
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|e| (e.event_type.as_str(), e.aggregate_id, e.aggregate_version))
        .collect();
    tail[..2].sort(); // the children's order within one UPDATE is unspecified
    assert_eq!(
        tail,
        [
            ("catalog.collection.updated", c.id.as_uuid(), 2),
            ("catalog.collection.updated", d.id.as_uuid(), 2),
            ("catalog.collection.deleted", b.id.as_uuid(), 3),
        ]
    );
    let deleted = &events[events.len() - 1].payload["data"];
    assert_eq!(deleted["removed_product_ids"], json!([product]));

    // A leaf needs no force; deleting the root with force makes its children roots.
    collections::delete(conn, org, &actor, c.id, OnDelete::Refuse).await.expect("leaf");
    collections::delete(conn, org, &actor, a.id, OnDelete::Force).await.expect("root");
    assert_eq!(collections::get(conn, org, d.id).await.expect("d").parent_id, None);
}

#[tokio::test]
async fn deleting_a_collection_with_products_needs_force_or_an_heir_that_takes_them() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let old = collections::create(conn, org, &actor, new_collection("Old", None)).await.expect("old");
    let child = collections::create(conn, org, &actor, new_collection("Child", Some(old.id))).await.expect("child");
    let heir = collections::create(conn, org, &actor, new_collection("Heir", None)).await.expect("heir");
    let (p1, p2) = (insert_product(conn, org, "P1").await, insert_product(conn, org, "P2").await);
    collections::add_products(conn, org, &actor, old.id, &[p1, p2]).await.expect("link");
    collections::add_products(conn, org, &actor, heir.id, &[p1]).await.expect("link");
    let leaf = collections::create(conn, org, &actor, new_collection("Leaf", None)).await.expect("leaf");
    collections::add_products(conn, org, &actor, leaf.id, &[p2]).await.expect("link");

    // Products alone refuse a plain delete too.
    let refused = collections::delete(conn, org, &actor, leaf.id, OnDelete::Refuse).await;
    match refused {
        Err(Error::InUse { code: "COLLECTION_HAS_PRODUCTS", details, .. }) => {
            assert_eq!((&details["collection_id"], &details["products_count"]), (&json!(leaf.id), &json!(1)));
            assert!(details["suggestion"].as_str().is_some_and(|s| s.contains("reassign_to")), "{details}");
        }
        other => panic!("expected COLLECTION_HAS_PRODUCTS, got {other:?}"),
    }
    assert_eq!(collections::product_ids(conn, org, leaf.id, &PageRequest::first(10)).await.expect("ids").items, [p2]);

    // An heir under the deleted collection would be a cycle; a missing heir is a field error.
    let under_itself = collections::delete(conn, org, &actor, old.id, OnDelete::ReassignTo(child.id)).await;
    cycle_error(under_itself, old.id, child.id);
    let missing = collections::delete(conn, org, &actor, old.id, OnDelete::ReassignTo(CollectionId::generate())).await;
    assert!(
        matches!(&missing, Err(Error::Validation { fields, .. }) if fields[0].field == "reassign_to"),
        "{missing:?}"
    );

    // The heir takes the sub-collections and the products it lacked.
    collections::delete(conn, org, &actor, old.id, OnDelete::ReassignTo(heir.id)).await.expect("reassigned");
    assert!(collections::find(conn, org, old.id).await.expect("find").is_none());
    assert_eq!(collections::get(conn, org, child.id).await.expect("child").parent_id, Some(heir.id));
    let heir_ids = collections::product_ids(conn, org, heir.id, &PageRequest::first(10)).await.expect("ids");
    assert_eq!(heir_ids.items, [p1, p2]);
    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let heir_update = events
        .iter()
        .rev()
        .find(|e| e.aggregate_id == heir.id.as_uuid() && e.event_type == "catalog.collection.updated")
        .expect("heir updated");
    assert_eq!(heir_update.payload["data"]["added_product_ids"], json!([p2]), "only the product it lacked");

    // force unlinks instead.
    collections::delete(conn, org, &actor, leaf.id, OnDelete::Force).await.expect("forced");
    assert_eq!(collections::list_for_products(conn, org, &[p2]).await.expect("for p2").len(), 1, "only the heir");
}

#[tokio::test]
async fn the_tree_nests_live_collections_in_position_order() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let at = |name: &str, parent: Option<CollectionId>, position: i32| NewCollection {
        metadata: None,
        position,
        ..new_collection(name, parent)
    };
    let second = collections::create(conn, org, &actor, at("Second", None, 2)).await.expect("create");
    let first = collections::create(conn, org, &actor, at("First", None, 1)).await.expect("create");
    let b = collections::create(conn, org, &actor, at("Child B", Some(first.id), 5)).await.expect("create");
    let a = collections::create(conn, org, &actor, at("Child A", Some(first.id), 0)).await.expect("create");
    let grandchild = collections::create(conn, org, &actor, at("Grandchild", Some(a.id), 0)).await.expect("create");
    let gone = collections::create(conn, org, &actor, at("Gone", Some(first.id), 3)).await.expect("create");
    collections::delete(conn, org, &actor, gone.id, OnDelete::Refuse).await.expect("delete");
    let other = TestDb::org();
    collections::create(conn, other, &actor, at("Other org", None, 0)).await.expect("create");

    fn shape(nodes: &[CollectionNode]) -> Vec<(String, Vec<(String, usize)>)> {
        nodes
            .iter()
            .map(|n| {
                let kids = n.children.iter().map(|k| (k.collection.name.clone(), k.children.len())).collect();
                (n.collection.name.clone(), kids)
            })
            .collect()
    }
    let tree = collections::tree(conn, org).await.expect("tree");
    assert_eq!(
        shape(&tree),
        [
            ("First".to_string(), vec![("Child A".to_string(), 1), ("Child B".to_string(), 0)]),
            ("Second".to_string(), vec![]),
        ]
    );
    assert_eq!(tree[0].children[0].children[0].collection, grandchild);
    assert_eq!(tree[1].collection, second);

    let page = PageRequest::first(10);
    let roots = collections::list(conn, org, &page, Some(None), &Default::default()).await.expect("roots");
    assert_eq!(roots.items.iter().map(|c| c.id).collect::<Vec<_>>(), [second.id, first.id]);
    let kids = collections::list(conn, org, &page, Some(Some(first.id)), &Default::default()).await.expect("children");
    assert_eq!(kids.items.iter().map(|c| c.id).collect::<Vec<_>>(), [b.id, a.id], "id order, live only");
    let all = collections::list(conn, org, &PageRequest::first(3), None, &Default::default()).await.expect("all");
    assert_eq!(all.items.len(), 3);
    assert!(all.has_next);
}

#[tokio::test]
async fn updates_bump_the_version_and_guard_against_stale_writers() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let collection = collections::create(conn, org, &actor, new_collection("Verano", None)).await.expect("create");
    assert_eq!(collection.version, 1);

    let changes = CollectionChanges { description: Some(Some("Hot".into())), ..Default::default() };
    let updated =
        collections::update(conn, org, &actor, collection.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.description.as_deref(), Some("Hot"));

    let stale = collections::update(conn, org, &actor, collection.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");

    let same = collections::update(conn, org, &actor, collection.id, Some(2), changes).await.expect("no-op");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let rename =
        CollectionChanges { name: Some("Verano 2026".into()), slug: Some(String::new()), ..Default::default() };
    let renamed = collections::update(conn, org, &actor, collection.id, Some(2), rename).await.expect("rename");
    assert_eq!((renamed.slug.as_str(), renamed.version), ("verano-2026", 3), "an empty slug follows the name");

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let summary: Vec<(&str, i32)> = events.iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(
        summary,
        [("catalog.collection.created", 1), ("catalog.collection.updated", 2), ("catalog.collection.updated", 3)],
        "no event for the no-op"
    );
    assert_eq!(events[1].payload["data"]["changes"]["description"], json!({ "old": null, "new": "Hot" }));
}

#[tokio::test]
async fn product_links_change_the_version_only_when_something_changed() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let collection = collections::create(conn, org, &actor, new_collection("Oferta", None)).await.expect("create");
    let (p1, p2, p3) = (
        insert_product(conn, org, "P1").await,
        insert_product(conn, org, "P2").await,
        insert_product(conn, org, "P3").await,
    );

    let after = collections::add_products(conn, org, &actor, collection.id, &[p1, p2, p1]).await.expect("add");
    assert_eq!(after.version, 2);
    let again = collections::add_products(conn, org, &actor, collection.id, &[p2, p1]).await.expect("add again");
    assert_eq!(again.version, 2, "already linked: nothing changed");
    let more = collections::add_products(conn, org, &actor, collection.id, &[p2, p3]).await.expect("add p3");
    assert_eq!(more.version, 3);
    let none = collections::add_products(conn, org, &actor, collection.id, &[]).await.expect("empty");
    assert_eq!(none.version, 3);

    let page = collections::product_ids(conn, org, collection.id, &PageRequest::first(2)).await.expect("page 1");
    assert_eq!((page.items.as_slice(), page.has_next), ([p1, p2].as_slice(), true));
    let after_cursor = PageRequest::after(2, p2.as_uuid());
    let page = collections::product_ids(conn, org, collection.id, &after_cursor).await.expect("page 2");
    assert_eq!((page.items.as_slice(), page.has_next, page.has_previous), ([p3].as_slice(), false, true));
    let before_cursor = PageRequest::before(5, p3.as_uuid());
    let page = collections::product_ids(conn, org, collection.id, &before_cursor).await.expect("backward");
    assert_eq!(page.items, [p1, p2]);

    // A soft-deleted product drops out of the listing.
    diesel::update(products::table.filter(products::id.eq(p3)))
        .set(products::deleted_at.eq(Some(Utc::now())))
        .execute(conn)
        .await
        .expect("soft delete");
    let page = collections::product_ids(conn, org, collection.id, &PageRequest::first(10)).await.expect("ids");
    assert_eq!(page.items, [p1, p2]);
    let gone = collections::add_products(conn, org, &actor, collection.id, &[p3]).await;
    assert!(matches!(gone, Err(Error::Validation { .. })), "a deleted product cannot be linked: {gone:?}");

    let removed = collections::remove_products(conn, org, &actor, collection.id, &[p1]).await.expect("remove");
    assert_eq!(removed.version, 4);
    let not_linked = collections::remove_products(conn, org, &actor, collection.id, &[p1]).await.expect("remove again");
    assert_eq!(not_linked.version, 4, "not linked: nothing changed");

    let by_product = collections::list_for_products(conn, org, &[p1, p2]).await.expect("for products");
    assert_eq!(by_product.iter().map(|(p, c)| (*p, c.id)).collect::<Vec<_>>(), [(p2, collection.id)]);

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let updates: Vec<_> = events.iter().filter(|e| e.event_type == "catalog.collection.updated").collect();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[0].payload["data"]["added_product_ids"], json!([p1, p2]));
    assert_eq!(updates[1].payload["data"]["added_product_ids"], json!([p3]));
    assert_eq!(updates[2].payload["data"]["removed_product_ids"], json!([p1]));
    assert_eq!(updates.iter().map(|e| e.aggregate_version).collect::<Vec<_>>(), [2, 3, 4]);
    // Page 19's finer events: what was added or removed, and the collection's count after it.
    let finer: Vec<(&str, Value, Value)> = events
        .iter()
        .filter(|e| e.event_type.starts_with("catalog.collection.products."))
        .map(|e| {
            (
                e.event_type.as_str(),
                e.payload["data"]["product_ids"].clone(),
                e.payload["data"]["products_count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        finer,
        [
            ("catalog.collection.products.added", json!([p1, p2]), json!(2)),
            ("catalog.collection.products.added", json!([p3]), json!(3)),
            ("catalog.collection.products.removed", json!([p1]), json!(2)),
        ]
    );

    let missing = CollectionId::generate();
    let result = collections::product_ids(conn, org, missing, &PageRequest::first(10)).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    let result = collections::add_products(conn, org, &actor, missing, &[p1]).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
}
