//! Option repository against a real PostgreSQL: tenancy, uniqueness, value ordering, in-use
//! refusals, versions and events.

// Tests fail loudly on unexpected errors; `expect` names the step that failed.
#![allow(clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{OptionId, OptionValueId, OrganizationId, ProductId, VariantId};
use catalog_core::models::{Actor, NewProduct, NewProductOption, NewVariant, OptionValue, ProductOptionChanges};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::options;
use catalog_core::repo::outbox::{self, OutboxRow};
use catalog_core::schema::{product_option_assignments, product_variants, products, variant_option_values};
use catalog_core::testing::TestDb;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde_json::json;

mod common;

fn new_option(name: &str) -> NewProductOption {
    NewProductOption {
        id: OptionId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        name: name.into(),
        position: 0,
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_string()).collect()
}

fn texts(values: &[OptionValue]) -> Vec<&str> {
    values.iter().map(|v| v.value.as_str()).collect()
}

/// Products are inserted directly: these tests are about options, not the product repository.
async fn insert_product(conn: &mut PgConn, org: OrganizationId, sku: &str) -> ProductId {
    common::product_row(conn, org, NewProduct { has_variants: true, ..NewProduct::new(sku, sku) }).await.id
}

async fn assign(conn: &mut PgConn, org: OrganizationId, product_id: ProductId, option_id: OptionId, position: i32) {
    diesel::insert_into(product_option_assignments::table)
        .values((
            product_option_assignments::organization_id.eq(org),
            product_option_assignments::product_id.eq(product_id),
            product_option_assignments::option_id.eq(option_id),
            product_option_assignments::position.eq(position),
        ))
        .execute(conn)
        .await
        .expect("assign option");
}

/// A variant of `product_id` recorded with `value` for its option.
async fn insert_variant_with(
    conn: &mut PgConn,
    org: OrganizationId,
    product_id: ProductId,
    sku: &str,
    value: &OptionValue,
) -> VariantId {
    let variant = common::variant_row(conn, org, product_id, NewVariant::new(sku, Decimal::new(1000, 2))).await;
    diesel::insert_into(variant_option_values::table)
        .values((
            variant_option_values::organization_id.eq(org),
            variant_option_values::variant_id.eq(variant.id),
            variant_option_values::option_id.eq(value.option_id),
            variant_option_values::option_value_id.eq(value.id),
        ))
        .execute(conn)
        .await
        .expect("record variant option value");
    variant.id
}

async fn events(conn: &mut PgConn, org: OrganizationId) -> Vec<OutboxRow> {
    outbox::list_for_organization(conn, org).await.expect("outbox")
}

fn summary(rows: &[OutboxRow]) -> Vec<(String, i32)> {
    rows.iter().map(|e| (e.event_type.clone(), e.aggregate_version)).collect()
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_an_option_or_its_values() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let (option, values) =
        options::create(conn, mine, &actor, new_option("Color"), &strings(&["Rojo", "Azul"])).await.expect("create");
    assert_eq!(option.organization_id, mine, "the repository stamps the caller's organization");
    assert!(values.iter().all(|v| v.organization_id == mine));

    assert!(options::find(conn, theirs, option.id).await.expect("query").is_none());
    assert!(matches!(options::get(conn, theirs, option.id).await, Err(Error::NotFound(Entity::ProductOption))));
    assert!(options::get_many(conn, theirs, &[option.id]).await.expect("query").is_empty());
    assert!(options::list(conn, theirs, &PageRequest::first(10)).await.expect("list").items.is_empty());
    assert!(options::list_values(conn, theirs, &[option.id]).await.expect("values").is_empty());
    let rename = ProductOptionChanges { name: Some("Stolen".into()), ..Default::default() };
    let res = options::update(conn, theirs, &actor, option.id, None, rename).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::ProductOption))), "{res:?}");
    let res = options::add_value(conn, theirs, &actor, option.id, "Verde".into(), None).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::ProductOption))), "{res:?}");
    let res = options::update_value(conn, theirs, &actor, values[0].id, Some("Negro".into()), Some(9)).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::OptionValue))), "{res:?}");
    let res = options::delete_value(conn, theirs, &actor, values[0].id).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::OptionValue))), "{res:?}");
    let res = options::delete(conn, theirs, &actor, option.id, true).await;
    assert!(matches!(res, Err(Error::NotFound(Entity::ProductOption))), "{res:?}");

    assert_eq!(options::get(conn, mine, option.id).await.expect("still there"), option);
    assert_eq!(options::list_values(conn, mine, &[option.id]).await.expect("values"), values);
    assert!(events(conn, theirs).await.is_empty(), "nothing was published for the other organization");
    assert_eq!(summary(&events(conn, mine).await), [("catalog.option.created".to_string(), 1)]);
}

#[tokio::test]
async fn names_are_unique_per_organization_and_reusable_after_delete() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let (first, _) = options::create(conn, org, &actor, new_option("Color"), &[]).await.expect("create");
    let dup = options::create(conn, org, &actor, new_option("COLOR"), &strings(&["Rojo"])).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "OPTION_NAME_EXISTS", .. })), "{dup:?}");
    options::create(conn, other, &actor, new_option("Color"), &[]).await.expect("another organization may reuse it");

    options::delete(conn, org, &actor, first.id, false).await.expect("delete");
    assert!(options::find(conn, org, first.id).await.expect("query").is_none(), "deleted options are not read");
    let (again, values) = options::create(conn, org, &actor, new_option("Color"), &strings(&["Rojo"]))
        .await
        .expect("a deleted option's name is reusable");
    assert_eq!(texts(&values), ["Rojo"]);
    let page = options::list(conn, org, &PageRequest::first(10)).await.expect("list");
    assert_eq!(page.items.iter().map(|o| o.id).collect::<Vec<_>>(), [again.id]);
}

#[tokio::test]
async fn repeated_values_in_a_create_are_rejected_case_insensitively() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let res = options::create(conn, org, &actor, new_option("Talla"), &strings(&["S", "M", "m", "L"])).await;
    match res {
        Err(Error::Validation { entity: Entity::ProductOption, fields }) => {
            assert!(fields.iter().any(|f| f.field == "values" && f.message.contains('m')), "{fields:?}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(options::list(conn, org, &PageRequest::first(10)).await.expect("list").items.is_empty(), "nothing created");
    assert!(events(conn, org).await.is_empty());
}

#[tokio::test]
async fn values_keep_their_order_and_are_unique_within_an_option() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (size, created) =
        options::create(conn, org, &actor, new_option("Talla"), &strings(&["S", "M", "L"])).await.expect("create");
    assert_eq!(
        created.iter().map(|v| (v.value.as_str(), v.position)).collect::<Vec<_>>(),
        [("S", 0), ("M", 1), ("L", 2)]
    );
    let (color, _) =
        options::create(conn, org, &actor, new_option("Color"), &strings(&["Rojo", "Azul"])).await.expect("create");

    let xl = options::add_value(conn, org, &actor, size.id, "XL".into(), None).await.expect("append");
    assert_eq!(xl.position, 3, "without a position a value goes last");
    let xs = options::add_value(conn, org, &actor, size.id, "XS".into(), Some(-1)).await.expect("insert first");
    let dup = options::add_value(conn, org, &actor, size.id, "xl".into(), None).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "OPTION_VALUE_EXISTS", .. })), "{dup:?}");
    options::add_value(conn, org, &actor, color.id, "XL".into(), None).await.expect("another option may have it");

    // Move S to the end.
    options::update_value(conn, org, &actor, created[0].id, None, Some(10)).await.expect("move");
    let renamed =
        options::update_value(conn, org, &actor, created[1].id, Some("Mediana".into()), None).await.expect("rename");
    assert_eq!((renamed.value.as_str(), renamed.position), ("Mediana", 1));
    let clash = options::update_value(conn, org, &actor, created[2].id, Some("XS".into()), None).await;
    assert!(matches!(clash, Err(Error::Conflict { code: "OPTION_VALUE_EXISTS", .. })), "{clash:?}");

    let all = options::list_values(conn, org, &[color.id, size.id]).await.expect("values");
    let by_option =
        |id: OptionId| all.iter().filter(|v| v.option_id == id).map(|v| v.value.as_str()).collect::<Vec<_>>();
    assert_eq!(by_option(size.id), ["XS", "Mediana", "L", "XL", "S"]);
    assert_eq!(by_option(color.id), ["Rojo", "Azul", "XL"]);
    let options_in_order: Vec<OptionId> = all.iter().map(|v| v.option_id).collect();
    let mut grouped = options_in_order.clone();
    grouped.sort();
    assert_eq!(options_in_order, grouped, "values come grouped by option");
    assert_eq!(all.iter().find(|v| v.id == xs.id).map(|v| v.position), Some(-1));

    options::delete_value(conn, org, &actor, xl.id).await.expect("delete value");
    let left = options::list_values(conn, org, &[size.id]).await.expect("values");
    assert_eq!(texts(&left), ["XS", "Mediana", "L", "S"]);
    let missing = options::delete_value(conn, org, &actor, xl.id).await;
    assert!(matches!(missing, Err(Error::NotFound(Entity::OptionValue))), "{missing:?}");
    let nowhere = options::update_value(conn, org, &actor, OptionValueId::generate(), Some("Z".into()), None).await;
    assert!(matches!(nowhere, Err(Error::NotFound(Entity::OptionValue))), "{nowhere:?}");
}

#[tokio::test]
async fn every_change_bumps_the_option_version_and_publishes_it() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (option, values) =
        options::create(conn, org, &actor, new_option("Color"), &strings(&["Rojo"])).await.expect("create");
    assert_eq!(option.version, 1);

    let changes = ProductOptionChanges { name: Some("Colour".into()), ..Default::default() };
    let updated = options::update(conn, org, &actor, option.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!((updated.version, updated.name.as_str()), (2, "Colour"));
    let stale = options::update(conn, org, &actor, option.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");
    let same = options::update(conn, org, &actor, option.id, Some(2), changes).await.expect("no-op update");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let azul = options::add_value(conn, org, &actor, option.id, "Azul".into(), None).await.expect("add");
    assert_eq!(options::get(conn, org, option.id).await.expect("get").version, 3);
    let unchanged = options::update_value(conn, org, &actor, azul.id, Some("Azul".into()), Some(azul.position))
        .await
        .expect("no-op value update");
    assert_eq!(unchanged, azul);
    assert_eq!(options::get(conn, org, option.id).await.expect("get").version, 3, "a no-op keeps the version");
    options::update_value(conn, org, &actor, values[0].id, Some("Rojo oscuro".into()), None).await.expect("rename");
    options::delete_value(conn, org, &actor, azul.id).await.expect("delete value");
    assert_eq!(options::get(conn, org, option.id).await.expect("get").version, 5);
    options::delete(conn, org, &actor, option.id, false).await.expect("delete");

    let rows = events(conn, org).await;
    assert_eq!(
        summary(&rows),
        [
            ("catalog.option.created".to_string(), 1),
            ("catalog.option.updated".to_string(), 2),
            ("catalog.option.updated".to_string(), 3),
            ("catalog.option.updated".to_string(), 4),
            ("catalog.option.updated".to_string(), 5),
            ("catalog.option.deleted".to_string(), 6),
        ]
    );
    assert!(rows.iter().all(|e| e.aggregate_id == option.id.as_uuid() && e.aggregate_type == "option"));
    assert_eq!(rows[1].payload["data"]["changes"]["name"], json!({ "old": "Color", "new": "Colour" }));
    assert_eq!(rows[2].payload["data"]["changes"]["values"], json!({ "old": ["Rojo"], "new": ["Rojo", "Azul"] }));
    assert_eq!(rows[3].payload["data"]["value_id"], json!(values[0].id));
    assert_eq!(
        rows[4].payload["data"]["changes"]["values"],
        json!({ "old": ["Rojo oscuro", "Azul"], "new": ["Rojo oscuro"] })
    );
}

#[tokio::test]
async fn an_option_declared_by_live_products_is_only_deleted_with_force() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (color, _) =
        options::create(conn, org, &actor, new_option("Color"), &strings(&["Rojo"])).await.expect("create");
    let (size, _) = options::create(conn, org, &actor, new_option("Talla"), &strings(&["M"])).await.expect("create");
    let shirt = insert_product(conn, org, "SHIRT").await;
    assign(conn, org, shirt, color.id, 0).await;
    assign(conn, org, shirt, size.id, 1).await;

    let refused = options::delete(conn, org, &actor, color.id, false).await;
    assert!(matches!(refused, Err(Error::Conflict { code: "OPTION_IN_USE", .. })), "{refused:?}");
    assert_eq!(options::get(conn, org, color.id).await.expect("still there").version, 1);

    options::delete(conn, org, &actor, color.id, true).await.expect("forced delete");
    assert!(options::find(conn, org, color.id).await.expect("query").is_none());
    let declared: Vec<OptionId> = product_option_assignments::table
        .filter(product_option_assignments::product_id.eq(shirt))
        .select(product_option_assignments::option_id)
        .load(conn)
        .await
        .expect("assignments");
    assert_eq!(declared, [size.id], "force removed the option from the product");
    let version: i32 = products::table.find(shirt).select(products::version).first(conn).await.expect("product");
    assert_eq!(version, 2, "the product changed, so its version moved");

    let rows = events(conn, org).await;
    let tail: Vec<(String, i32)> = summary(&rows).into_iter().skip(2).collect();
    assert_eq!(tail, [("catalog.product.updated".to_string(), 2), ("catalog.option.deleted".to_string(), 2)]);
    assert_eq!(rows[2].aggregate_id, shirt.as_uuid());
    assert_eq!(
        rows[2].payload["data"]["changes"]["option_ids"],
        json!({ "old": [color.id, size.id], "new": [size.id] })
    );
}

#[tokio::test]
async fn only_live_products_keep_an_option_in_use() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (color, _) = options::create(conn, org, &actor, new_option("Color"), &[]).await.expect("create");
    let gone = insert_product(conn, org, "GONE").await;
    assign(conn, org, gone, color.id, 0).await;
    diesel::update(products::table.find(gone))
        .set(products::deleted_at.eq(Utc::now()))
        .execute(conn)
        .await
        .expect("soft delete");

    options::delete(conn, org, &actor, color.id, false).await.expect("a deleted product does not hold the option");
    let left: i64 = product_option_assignments::table
        .filter(product_option_assignments::option_id.eq(color.id))
        .count()
        .get_result(conn)
        .await
        .expect("count");
    assert_eq!(left, 0);
    let types: Vec<String> = events(conn, org).await.into_iter().map(|e| e.event_type).collect();
    assert_eq!(types, ["catalog.option.created", "catalog.option.deleted"], "no event for a deleted product");
}

#[tokio::test]
async fn a_value_used_by_a_live_variant_cannot_be_deleted() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let (color, values) =
        options::create(conn, org, &actor, new_option("Color"), &strings(&["Rojo", "Azul"])).await.expect("create");
    let shirt = insert_product(conn, org, "SHIRT").await;
    assign(conn, org, shirt, color.id, 0).await;
    let variant = insert_variant_with(conn, org, shirt, "SHIRT-R", &values[0]).await;

    let refused = options::delete_value(conn, org, &actor, values[0].id).await;
    assert!(matches!(refused, Err(Error::Conflict { code: "OPTION_VALUE_IN_USE", .. })), "{refused:?}");
    assert_eq!(options::list_values(conn, org, &[color.id]).await.expect("values").len(), 2);
    assert_eq!(options::get(conn, org, color.id).await.expect("get").version, 1, "a refused change keeps the version");
    options::delete_value(conn, org, &actor, values[1].id).await.expect("an unused value can go");

    diesel::update(product_variants::table.find(variant))
        .set(product_variants::deleted_at.eq(Utc::now()))
        .execute(conn)
        .await
        .expect("soft delete variant");
    options::delete_value(conn, org, &actor, values[0].id).await.expect("a deleted variant does not hold the value");
    assert!(options::list_values(conn, org, &[color.id]).await.expect("values").is_empty());
}
