//! Brand repository against a real PostgreSQL: tenancy, uniqueness, versions, soft delete.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use catalog_core::error::Error;
use catalog_core::ids::BrandId;
use catalog_core::ids::OrganizationId;
use catalog_core::models::{ActiveStatus, Actor, BrandChanges, NewBrand};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::{brands, outbox};
use catalog_core::testing::TestDb;

fn new_brand(name: &str) -> NewBrand {
    NewBrand {
        metadata: None,
        website: None,
        id: BrandId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        name: name.into(),
        slug: catalog_core::slug::slugify(name),
        description: None,
        logo_url: None,
        status: ActiveStatus::Active,
    }
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_a_brand() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let brand = brands::create(conn, mine, &actor, new_brand("Acme")).await.expect("create");
    assert_eq!(brand.organization_id, mine, "the repository stamps the caller's organization");

    assert!(brands::find(conn, theirs, brand.id).await.expect("query").is_none());
    assert!(matches!(brands::get(conn, theirs, brand.id).await, Err(Error::NotFound(_))));
    assert!(brands::get_many(conn, theirs, &[brand.id]).await.expect("query").is_empty());
    assert!(
        brands::list(conn, theirs, &Default::default(), &PageRequest::first(10)).await.expect("list").items.is_empty()
    );
    let rename = BrandChanges { name: Some("Stolen".into()), ..Default::default() };
    assert!(matches!(brands::update(conn, theirs, &actor, brand.id, None, rename).await, Err(Error::NotFound(_))));
    assert!(matches!(brands::delete(conn, theirs, &actor, brand.id, true).await, Err(Error::NotFound(_))));

    let still = brands::get(conn, mine, brand.id).await.expect("still there");
    assert_eq!(still, brand);
}

#[tokio::test]
async fn slugs_are_unique_per_organization_among_live_brands() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let first = brands::create(conn, org, &actor, new_brand("Acme")).await.expect("create");
    let dup = brands::create(conn, org, &actor, new_brand("Acme")).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "BRAND_SLUG_EXISTS", .. })), "{dup:?}");
    brands::create(conn, other, &actor, new_brand("Acme")).await.expect("another organization may reuse it");

    brands::delete(conn, org, &actor, first.id, false).await.expect("delete");
    brands::create(conn, org, &actor, new_brand("Acme")).await.expect("a deleted brand's slug is reusable");
}

#[tokio::test]
async fn updates_bump_the_version_and_guard_against_stale_writers() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let brand = brands::create(conn, org, &actor, new_brand("Acme")).await.expect("create");
    assert_eq!(brand.version, 1);

    let changes = BrandChanges { description: Some(Some("Tools".into())), ..Default::default() };
    let updated = brands::update(conn, org, &actor, brand.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.description.as_deref(), Some("Tools"));

    let stale = brands::update(conn, org, &actor, brand.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");

    let same = brands::update(conn, org, &actor, brand.id, Some(2), changes).await.expect("no-op update");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let events: Vec<String> =
        outbox::list_for_organization(conn, org).await.expect("outbox").into_iter().map(|e| e.event_type).collect();
    assert_eq!(events, ["catalog.brand.created", "catalog.brand.updated"], "no event for the no-op");
}
