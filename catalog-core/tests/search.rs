//! POS search against a real PostgreSQL: typo correction follows the organization's own titles,
//! as they are created and renamed, and never another organization's.

#![allow(clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::ids::OrganizationId;
use catalog_core::models::{Actor, NewProduct, NewVariant, ProductChanges};
use catalog_core::repo::products;
use catalog_core::search::{self, MatchType, SearchRequest};
use catalog_core::testing::TestDb;
use rust_decimal::Decimal;

async fn product(conn: &mut PgConn, org: OrganizationId, title: &str, sku: &str) -> catalog_core::ids::ProductId {
    let variant = NewVariant::new("", Decimal::new(1990, 2));
    let (product, _) = products::create(conn, org, &Actor::system(), NewProduct::new(title, sku), Some(variant))
        .await
        .expect("create");
    product.id
}

async fn titles(conn: &mut PgConn, org: OrganizationId, query: &str) -> Vec<String> {
    let request = SearchRequest { query: query.into(), ..Default::default() };
    let hits = search::search(conn, org, &request).await.expect("search");
    assert!(hits.iter().all(|h| h.match_type == MatchType::Title), "{hits:?}");
    hits.into_iter().map(|h| h.title).collect()
}

#[tokio::test]
async fn typos_are_corrected_to_the_organizations_own_title_words() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let shirt = product(conn, org, "Camiseta de algodón", "CAM-1").await;
    product(conn, org, "Pantalón vaquero", "PAN-1").await;
    product(conn, other, "Zapatilla deportiva", "ZAP-1").await;

    assert_eq!(titles(conn, org, "camizeta algodon").await, ["Camiseta de algodón"], "typo and missing accent");
    assert_eq!(titles(conn, org, "pantalon").await, ["Pantalón vaquero"]);
    assert_eq!(titles(conn, org, "vaq").await, ["Pantalón vaquero"], "a word being typed");
    assert!(titles(conn, org, "zapatila").await.is_empty(), "another organization's words correct nothing here");
    assert_eq!(titles(conn, other, "zapatila").await, ["Zapatilla deportiva"]);

    // A renamed product's new words are known at once (the update trigger), the old title's
    // words now match nothing.
    let changes = ProductChanges { title: Some("Chaqueta impermeable".into()), ..Default::default() };
    products::update(conn, org, &Actor::system(), shirt, None, changes).await.expect("rename");
    assert_eq!(titles(conn, org, "chaketa imperneable").await, ["Chaqueta impermeable"]);
    assert!(titles(conn, org, "camiseta").await.is_empty());
}
