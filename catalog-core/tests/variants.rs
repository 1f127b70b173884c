//! Variant repository against a real PostgreSQL: tenancy, per-organization SKU/barcode
//! uniqueness, option combinations, validation, versions, and the one-statement validation
//! lookup used by gRPC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{OptionId, OptionValueId, OrganizationId, ProductId, VariantId};
use catalog_core::models::{Actor, NewProduct, NewVariant, Product, ProductStatus, VariantChanges};
use catalog_core::pagination::PageRequest;
use catalog_core::repo::{outbox, variants};
use catalog_core::schema;
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

// Options are inserted directly: the options repository is not under test.
use common::option;

async fn product(conn: &mut PgConn, org: OrganizationId, title: &str, status: ProductStatus) -> Product {
    common::product_row(conn, org, NewProduct { status, ..common::titled(title) }).await
}

fn new_variant(product_id: ProductId, sku: &str) -> NewVariant {
    NewVariant {
        product_id,
        cost_price: Some(Decimal::new(1000, 2)),
        tax_rate: Decimal::new(1900, 2),
        ..NewVariant::new(sku, Decimal::new(1990, 2))
    }
}

fn with_barcode(mut new: NewVariant, barcode: &str) -> NewVariant {
    new.barcode = Some(barcode.into());
    new
}

async fn declare(conn: &mut PgConn, org: OrganizationId, product_id: ProductId, options: &[OptionId]) {
    use schema::product_option_assignments as a;
    let rows: Vec<_> = options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            (a::organization_id.eq(org), a::product_id.eq(product_id), a::option_id.eq(*o), a::position.eq(i as i32))
        })
        .collect();
    diesel::insert_into(a::table).values(rows).execute(conn).await.expect("declare options");
}

async fn event_types(conn: &mut PgConn, org: OrganizationId) -> Vec<String> {
    outbox::list_for_organization(conn, org).await.expect("outbox").into_iter().map(|e| e.event_type).collect()
}

fn names(errors: &[catalog_core::error::FieldError]) -> Vec<&str> {
    errors.iter().map(|f| f.field.as_str()).collect()
}

fn fields(err: &Error) -> Vec<String> {
    match err {
        Error::Validation { fields, .. } => fields.iter().map(|f| f.field.clone()).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_a_variant() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let p = product(conn, mine, "Camisa", ProductStatus::Active).await;
    let v = variants::create(conn, mine, &actor, new_variant(p.id, "CAM-1"), &[]).await.expect("create");
    assert_eq!(v.organization_id, mine, "the repository stamps the caller's organization");

    assert!(variants::find(conn, theirs, v.id).await.expect("query").is_none());
    assert!(matches!(variants::get(conn, theirs, v.id).await, Err(Error::NotFound(Entity::Variant))));
    assert!(variants::get_many(conn, theirs, &[v.id]).await.expect("query").is_empty());
    assert!(variants::list_for_products(conn, theirs, &[p.id]).await.expect("query").is_empty());
    assert!(
        variants::list(conn, theirs, p.id, &Default::default(), &PageRequest::first(10))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(variants::validate_many(conn, theirs, &[v.id]).await.expect("query").is_empty());
    let change = VariantChanges { sale_price: Some(Decimal::ONE), ..Default::default() };
    assert!(matches!(
        variants::update(conn, theirs, &actor, v.id, None, change).await,
        Err(Error::NotFound(Entity::Variant))
    ));
    assert!(matches!(
        variants::set_active(conn, theirs, &actor, v.id, None, false).await,
        Err(Error::NotFound(Entity::Variant))
    ));
    assert!(matches!(variants::delete(conn, theirs, &actor, v.id, false).await, Err(Error::NotFound(Entity::Variant))));
    let planted = variants::create(conn, theirs, &actor, new_variant(p.id, "CAM-2"), &[]).await;
    assert!(matches!(planted, Err(Error::NotFound(Entity::Product))), "{planted:?}");

    assert_eq!(variants::get(conn, mine, v.id).await.expect("still there"), v);
    assert!(event_types(conn, theirs).await.is_empty());
}

#[tokio::test]
async fn sku_and_barcode_are_unique_per_organization_across_products() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let (p1, p2) = (
        product(conn, org, "Uno", ProductStatus::Active).await,
        product(conn, org, "Dos", ProductStatus::Active).await,
    );
    let first = variants::create(conn, org, &actor, with_barcode(new_variant(p1.id, "SKU-1"), "770001"), &[])
        .await
        .expect("create");

    let dup_sku = variants::create(conn, org, &actor, new_variant(p2.id, "SKU-1"), &[]).await;
    assert!(matches!(dup_sku, Err(Error::Conflict { code: "VARIANT_SKU_EXISTS", .. })), "{dup_sku:?}");
    let dup_barcode =
        variants::create(conn, org, &actor, with_barcode(new_variant(p2.id, "SKU-2"), "770001"), &[]).await;
    assert!(matches!(dup_barcode, Err(Error::Conflict { code: "VARIANT_BARCODE_EXISTS", .. })), "{dup_barcode:?}");

    let second = variants::create(conn, org, &actor, new_variant(p2.id, "SKU-2"), &[]).await.expect("distinct sku");
    let steal = VariantChanges { sku: Some("SKU-1".into()), ..Default::default() };
    let stolen = variants::update(conn, org, &actor, second.id, None, steal).await;
    assert!(matches!(stolen, Err(Error::Conflict { code: "VARIANT_SKU_EXISTS", .. })), "{stolen:?}");

    let p_other = product(conn, other, "Uno", ProductStatus::Active).await;
    variants::create(conn, other, &actor, with_barcode(new_variant(p_other.id, "SKU-1"), "770001"), &[])
        .await
        .expect("another organization may reuse both");

    variants::delete(conn, org, &actor, first.id, false).await.expect("delete");
    variants::create(conn, org, &actor, with_barcode(new_variant(p2.id, "SKU-1"), "770001"), &[])
        .await
        .expect("a deleted variant's SKU and barcode are reusable");
}

#[tokio::test]
async fn variants_take_exactly_one_value_per_declared_option() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let p = product(conn, org, "Camiseta", ProductStatus::Active).await;
    let (color, colors) = option(conn, org, "Color", &["Rojo", "Azul"]).await;
    let (size, sizes) = option(conn, org, "Talla", &["M", "L"]).await;
    let (_material, materials) = option(conn, org, "Material", &["Algodón"]).await;
    let (_, foreign) = option(conn, other, "Color", &["Rojo"]).await;
    declare(conn, org, p.id, &[color, size]).await;
    let (red, blue, m, l) = (colors[0], colors[1], sizes[0], sizes[1]);

    let v = variants::create(conn, org, &actor, new_variant(p.id, "CAM-R-M"), &[m, red]).await.expect("valid");
    assert_eq!(v.attributes, json!({ "Color": "Rojo", "Talla": "M" }));
    let mut pairs = [format!("{color}={red}"), format!("{size}={m}")];
    pairs.sort();
    assert_eq!(v.option_signature.as_deref(), Some(pairs.join(",").as_str()));
    let links: i64 = schema::variant_option_values::table
        .filter(schema::variant_option_values::variant_id.eq(v.id))
        .count()
        .get_result(conn)
        .await
        .expect("count");
    assert_eq!(links, 2);

    let cases: [(&str, Vec<OptionValueId>, &str); 5] = [
        ("missing", vec![red], "missing a value for option Talla"),
        ("extra", vec![red, m, materials[0]], "does not declare"),
        ("foreign", vec![red, foreign[0]], "does not exist"),
        ("two of one option", vec![red, blue, m], "more than one value for option Color"),
        ("unknown", vec![red, OptionValueId::generate()], "does not exist"),
    ];
    for (i, (case, values, expected)) in cases.into_iter().enumerate() {
        let err =
            variants::create(conn, org, &actor, new_variant(p.id, &format!("BAD-{i}")), &values).await.expect_err(case);
        let Error::Validation { entity: Entity::Variant, fields } = &err else { panic!("{case}: {err:?}") };
        assert!(fields.iter().all(|f| f.field == "options"), "{case}: {fields:?}");
        assert!(fields.iter().any(|f| f.message.contains(expected)), "{case}: {fields:?}");
    }

    let dup = variants::create(conn, org, &actor, new_variant(p.id, "CAM-R-M-2"), &[red, m]).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "VARIANT_OPTIONS_EXIST", .. })), "{dup:?}");
    variants::create(conn, org, &actor, new_variant(p.id, "CAM-A-L"), &[blue, l]).await.expect("another combination");
    variants::delete(conn, org, &actor, v.id, false).await.expect("delete");
    variants::create(conn, org, &actor, new_variant(p.id, "CAM-R-M-3"), &[red, m])
        .await
        .expect("a deleted variant's combination is reusable");

    let plain = product(conn, org, "Llavero", ProductStatus::Active).await;
    let err =
        variants::create(conn, org, &actor, new_variant(plain.id, "LLA-1"), &[red]).await.expect_err("no options");
    assert_eq!(fields(&err), ["options"]);
    let ok = variants::create(conn, org, &actor, new_variant(plain.id, "LLA-1"), &[]).await.expect("no options");
    assert_eq!(ok.option_signature, None);
}

#[tokio::test]
async fn validation_lists_every_failing_field() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa", ProductStatus::Active).await;
    let (color, _) = option(conn, org, "Color", &["Rojo"]).await;
    declare(conn, org, p.id, &[color]).await;

    let mut bad = new_variant(p.id, " ");
    bad.sale_price = Decimal::ZERO;
    bad.cost_price = Some(Decimal::new(-1, 0));
    bad.compare_at_price = Some(Decimal::new(-5, 1));
    bad.tax_rate = Decimal::new(101, 0);
    bad.default_min_stock = -1;
    bad.default_max_stock = -2;
    let expected =
        ["sku", "sale_price", "cost_price", "compare_at_price", "tax_rate", "default_min_stock", "default_max_stock"];
    assert_eq!(names(&variants::validate(&bad)), expected);

    let err = variants::create(conn, org, &actor, bad, &[]).await.expect_err("invalid");
    let mut with_options = expected.to_vec();
    with_options.push("options");
    assert_eq!(fields(&err), with_options, "field and option problems are reported together");
    assert!(event_types(conn, org).await.is_empty(), "nothing written");

    let mut too_long = new_variant(p.id, &"X".repeat(101));
    too_long.default_min_stock = 20;
    too_long.default_max_stock = 10;
    assert_eq!(names(&variants::validate(&too_long)), ["sku", "default_max_stock"]);

    let plain = product(conn, org, "Llavero", ProductStatus::Active).await;
    let v = variants::create(conn, org, &actor, new_variant(plain.id, "LLA-1"), &[]).await.expect("create");
    let changes =
        VariantChanges { sale_price: Some(Decimal::new(-1, 0)), default_max_stock: Some(5), ..Default::default() };
    let err = variants::update(conn, org, &actor, v.id, None, changes).await.expect_err("invalid update");
    assert_eq!(fields(&err), ["sale_price", "default_max_stock"], "updates are judged on the resulting row");
}

#[tokio::test]
async fn creating_a_variant_marks_the_product_as_having_variants() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa", ProductStatus::Active).await;
    let v = variants::create(conn, org, &actor, new_variant(p.id, "A"), &[]).await.expect("create");
    variants::create(conn, org, &actor, new_variant(p.id, "B"), &[]).await.expect("create");
    let (has_variants, version): (bool, i32) = schema::products::table
        .find(p.id)
        .select((schema::products::has_variants, schema::products::version))
        .get_result(conn)
        .await
        .expect("product");
    assert_eq!((has_variants, version), (true, 2), "flipped once, one version bump");

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let summary: Vec<(&str, i32)> = events.iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(
        summary,
        [("catalog.product.updated", 2), ("catalog.variant.created", 1), ("catalog.variant.created", 1)]
    );
    assert_eq!(events[1].aggregate_id, v.id.as_uuid());
    assert_eq!(events[1].payload["data"]["variant"]["sku"], "A");
}

#[tokio::test]
async fn updates_bump_the_version_and_guard_against_stale_writers() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa", ProductStatus::Active).await;
    let v = variants::create(conn, org, &actor, new_variant(p.id, "A"), &[]).await.expect("create");
    assert_eq!(v.version, 1);

    let changes = VariantChanges { sale_price: Some(Decimal::new(2500, 2)), ..Default::default() };
    let updated = variants::update(conn, org, &actor, v.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!((updated.version, updated.sale_price), (2, Decimal::new(2500, 2)));
    let stale = variants::update(conn, org, &actor, v.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");
    let same = variants::update(conn, org, &actor, v.id, Some(2), changes).await.expect("no-op");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let same = variants::set_active(conn, org, &actor, v.id, Some(2), true).await.expect("no-op");
    assert_eq!(same.version, 2);
    let off = variants::set_active(conn, org, &actor, v.id, Some(2), false).await.expect("deactivate");
    assert_eq!((off.is_active, off.version), (false, 3));

    let tamper = VariantChanges { option_signature: Some(Some("x=y".into())), ..Default::default() };
    let err = variants::update(conn, org, &actor, v.id, None, tamper).await.expect_err("signature is derived");
    assert_eq!(fields(&err), ["options"]);

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let summary: Vec<(&str, i32)> = events.iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(
        summary,
        [
            ("catalog.product.updated", 2),
            ("catalog.variant.created", 1),
            ("catalog.variant.updated", 2),
            ("catalog.variant.price.changed", 2),
            ("catalog.variant.updated", 3),
        ]
    );
    // Flat as page 05 and Inventory's handler read it, money as a JSON number.
    let created = &events[1].payload["data"];
    for (field, value) in [
        ("variant_id", json!(v.id)),
        ("product_id", json!(p.id)),
        ("organization_id", json!(org)),
        ("sku", json!(v.sku)),
        ("price", json!(19.9)),
        ("is_active", json!(true)),
        ("track_inventory", json!(v.track_inventory)),
        ("default_min_stock", json!(v.default_min_stock)),
        ("default_max_stock", json!(v.default_max_stock)),
        ("created_by", Value::Null),
        ("created_at", events[1].payload["timestamp"].clone()),
    ] {
        assert_eq!(created[field], value, "catalog.variant.created data.{field}");
    }
    assert!(created["options"].is_array() && created.get("warehouse_id").is_some());
    let data = &events[2].payload["data"];
    assert_eq!(data["variant_id"], json!(v.id));
    assert_eq!(data["changes"]["sale_price"], json!({ "old": "19.90", "new": "25.00" }));
    assert_eq!(data["changes"]["price"], json!({ "old": 19.9, "new": 25.0 }), "page 10's name, money as numbers");
    let price = &events[3].payload["data"];
    assert_eq!(
        (&price["old_price"], &price["new_price"], &price["change_percentage"]),
        (&json!(19.9), &json!(25.0), &json!(25.63)),
        "catalog.variant.price.changed: (25.00 - 19.90) / 19.90 = 25.628… %"
    );
    assert_eq!(events[4].payload["data"]["changes"], json!({ "is_active": { "old": true, "new": false } }));
}

#[tokio::test]
async fn deleted_variants_disappear_from_reads() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(conn, org, "Camisa", ProductStatus::Active).await;
    let q = product(conn, org, "Pantalón", ProductStatus::Active).await;
    let mut made = Vec::new();
    for (i, (owner, position)) in [(q.id, 1), (p.id, 2), (p.id, 1), (q.id, 0)].into_iter().enumerate() {
        let mut new = new_variant(owner, &format!("V-{i}"));
        new.position = position;
        made.push(variants::create(conn, org, &actor, new, &[]).await.expect("create"));
    }

    let listed = variants::list_for_products(conn, org, &[p.id, q.id]).await.expect("list");
    let mut expected: Vec<(ProductId, i32, VariantId)> =
        made.iter().map(|v| (v.product_id, v.position, v.id)).collect();
    expected.sort();
    assert_eq!(listed.iter().map(|v| (v.product_id, v.position, v.id)).collect::<Vec<_>>(), expected);

    let page = variants::list(conn, org, p.id, &Default::default(), &PageRequest::first(1)).await.expect("page");
    assert_eq!((page.items.len(), page.has_next), (1, true));
    assert_eq!(page.items[0].id, made[1].id, "keyset order is id order");

    let gone = made[1].id;
    variants::delete(conn, org, &actor, gone, false).await.expect("delete");
    assert!(variants::find(conn, org, gone).await.expect("query").is_none());
    assert!(matches!(variants::get(conn, org, gone).await, Err(Error::NotFound(Entity::Variant))));
    let ids: Vec<VariantId> = made.iter().map(|v| v.id).collect();
    assert_eq!(variants::get_many(conn, org, &ids).await.expect("query").len(), 3);
    assert!(matches!(variants::delete(conn, org, &actor, gone, false).await, Err(Error::NotFound(Entity::Variant))));
    let deleted_at: Option<chrono::DateTime<chrono::Utc>> = schema::product_variants::table
        .find(gone)
        .select(schema::product_variants::deleted_at)
        .get_result(conn)
        .await
        .expect("row kept");
    assert!(deleted_at.is_some(), "soft delete keeps the row");

    let last = outbox::list_for_organization(conn, org).await.expect("outbox").pop().expect("an event");
    assert_eq!((last.event_type.as_str(), last.aggregate_version), ("catalog.variant.deleted", 2));
    let data = &last.payload["data"];
    assert_eq!((&data["variant_id"], &data["product_id"]), (&json!(gone), &json!(p.id)));
    assert_eq!((&data["organization_id"], &data["deleted_at"]), (&json!(org), &last.payload["timestamp"]));
    assert_eq!(data["deleted_by"], json!(actor.user_id));
}

#[tokio::test]
async fn validate_many_reports_every_reason_a_variant_cannot_be_sold() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, suspended_org, other) = (TestDb::org(), TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let active = product(conn, org, "Activo", ProductStatus::Active).await;
    let inactive = product(conn, org, "Inactivo", ProductStatus::Inactive).await;
    let archived = product(conn, org, "Archivado", ProductStatus::Archived).await;
    let doomed = product(conn, org, "Borrado", ProductStatus::Active).await;

    let ok = variants::create(conn, org, &actor, new_variant(active.id, "OK"), &[]).await.expect("create");
    let mut off = new_variant(active.id, "OFF");
    off.is_active = false;
    let off = variants::create(conn, org, &actor, off, &[]).await.expect("create");
    let deleted = variants::create(conn, org, &actor, new_variant(active.id, "DEL"), &[]).await.expect("create");
    variants::delete(conn, org, &actor, deleted.id, false).await.expect("delete");
    let of_inactive = variants::create(conn, org, &actor, new_variant(inactive.id, "PI"), &[]).await.expect("create");
    let of_archived = variants::create(conn, org, &actor, new_variant(archived.id, "PA"), &[]).await.expect("create");
    let of_deleted = variants::create(conn, org, &actor, new_variant(doomed.id, "PD"), &[]).await.expect("create");
    diesel::update(schema::products::table.find(doomed.id))
        .set(schema::products::deleted_at.eq(chrono::Utc::now()))
        .execute(conn)
        .await
        .expect("soft-delete the product");

    let sp = product(conn, suspended_org, "Activo", ProductStatus::Active).await;
    let of_suspended =
        variants::create(conn, suspended_org, &actor, new_variant(sp.id, "OK"), &[]).await.expect("create");
    diesel::insert_into(schema::organization_states::table)
        .values((
            schema::organization_states::organization_id.eq(suspended_org),
            schema::organization_states::suspended.eq(true),
        ))
        .execute(conn)
        .await
        .expect("suspend");
    let op = product(conn, other, "Ajeno", ProductStatus::Active).await;
    let foreign = variants::create(conn, other, &actor, new_variant(op.id, "X"), &[]).await.expect("create");

    let ids = [ok.id, off.id, deleted.id, of_inactive.id, of_archived.id, of_deleted.id, foreign.id, ok.id];
    let found = variants::validate_many(conn, org, &ids).await.expect("validate");
    let verdict = |id: VariantId| found.iter().find(|r| r.variant.id == id).map(|r| r.is_active);
    assert_eq!(found.len(), 6, "one row per distinct found id; the foreign one is absent");
    assert_eq!(verdict(ok.id), Some(true));
    assert_eq!(verdict(off.id), Some(false), "variant inactive");
    assert_eq!(verdict(deleted.id), Some(false), "variant deleted, still reported");
    assert_eq!(verdict(of_inactive.id), Some(false), "product inactive");
    assert_eq!(verdict(of_archived.id), Some(false), "product archived");
    assert_eq!(verdict(of_deleted.id), Some(false), "product deleted");
    assert_eq!(verdict(foreign.id), None, "another organization's variant does not exist here");
    let archived_row = found.iter().find(|r| r.variant.id == of_archived.id).expect("row");
    assert_eq!(archived_row.product_status, ProductStatus::Archived);
    assert!(found.iter().find(|r| r.variant.id == of_deleted.id).expect("row").product_deleted);
    assert!(found.iter().all(|r| !r.organization_suspended));

    let suspended = variants::validate_many(conn, suspended_org, &[of_suspended.id]).await.expect("validate");
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0].organization_suspended && !suspended[0].is_active, "organization suspended");
}

#[tokio::test]
async fn validate_many_is_one_statement_whatever_the_number_of_ids() {
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.expect("connect");
    let org = TestDb::org();
    let actor = Actor::system();
    let p = product(&mut conn, org, "Camisa", ProductStatus::Active).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            variants::create(&mut conn, org, &actor, new_variant(p.id, &format!("S-{i}")), &[])
                .await
                .expect("create")
                .id,
        );
    }
    ids.extend((ids.len()..500).map(|_| VariantId::generate()));

    let statements = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&statements);
    conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if matches!(event, diesel::connection::InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });

    let one = variants::validate_many(&mut conn, org, &ids[..1]).await.expect("validate");
    let for_one = statements.swap(0, Ordering::SeqCst);
    let many = variants::validate_many(&mut conn, org, &ids).await.expect("validate");
    let for_many = statements.swap(0, Ordering::SeqCst);
    assert_eq!((one.len(), many.len()), (1, 5));
    assert_eq!(for_one, 1, "one statement for one id");
    assert_eq!(for_many, for_one, "and the same for 500 ids");

    variants::get_many(&mut conn, org, &ids).await.expect("get_many");
    variants::list_for_products(&mut conn, org, &[p.id, ProductId::generate()]).await.expect("list");
    assert_eq!(AtomicUsize::load(&statements, Ordering::SeqCst), 2, "batch reads are one statement each");
}

#[tokio::test]
async fn a_variant_update_diffs_at_the_columns_scale_before_it_writes() {
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.expect("connect");
    let (org, actor) = (TestDb::org(), Actor::system());
    let p = product(&mut conn, org, "Camisa", ProductStatus::Active).await;
    let v = variants::create(&mut conn, org, &actor, new_variant(p.id, "A"), &[]).await.expect("create");
    let before = event_types(&mut conn, org).await;
    let updates = common::count_updates(&mut conn);

    // 19.9 and 19.899 are stored as 19.90, the price the variant already has.
    let same_price = VariantChanges {
        sale_price: Some(Decimal::new(199, 1)),
        cost_price: Some(Some(Decimal::new(9999, 3))),
        ..Default::default()
    };
    let unchanged = variants::update(&mut conn, org, &actor, v.id, Some(1), same_price).await.expect("no-op");
    assert_eq!((unchanged.version, updates()), (1, 0), "nothing changed: no UPDATE, same version");
    assert_eq!(event_types(&mut conn, org).await, before, "and no event");

    let repriced = VariantChanges { sale_price: Some(Decimal::new(2105, 3)), ..Default::default() };
    let changed = variants::update(&mut conn, org, &actor, v.id, Some(1), repriced).await.expect("update");
    assert_eq!((changed.version, updates()), (2, 1), "a change: exactly one UPDATE");
    assert_eq!(changed.sale_price.to_string(), "2.11", "rounded half away from zero, as PostgreSQL does");
    let events = outbox::list_for_organization(&mut conn, org).await.expect("outbox");
    let [.., updated, price_changed] = events.as_slice() else { panic!("two more events: {events:?}") };
    assert_eq!(updated.payload["data"]["changes"]["sale_price"], json!({ "old": "19.90", "new": "2.11" }));
    assert_eq!(price_changed.payload["data"]["new_price"], json!(2.11));
}
