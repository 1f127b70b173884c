//! The stock read model's writer against a real PostgreSQL: a batch of Inventory's reports
//! leaves exactly what applying them one at a time leaves, in the statements of one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::ids::{OrganizationId, VariantId};
use catalog_core::models::NewVariant;
use catalog_core::repo::outbox;
use catalog_core::stock::{self, Applied, Change, Quantities};
use catalog_core::testing::TestDb;
use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

mod common;

fn on_hand(total: i64, available: i64) -> Quantities {
    Quantities {
        total: total.into(),
        available: available.into(),
        reserved: (total - available).into(),
        damaged: Decimal::ZERO,
        in_transit: None,
    }
}

fn report(
    org: Option<OrganizationId>,
    variant: VariantId,
    warehouse: Uuid,
    (quantities, previous): (Quantities, Option<Quantities>),
    observed_at: DateTime<Utc>,
) -> Change {
    Change::Warehouse { organization: org, variant, warehouse, quantities, previous, observed_at }
}

/// Every row of `org`'s model, and the data of every stock announcement, in a stable order.
async fn state(conn: &mut PgConn, org: OrganizationId) -> (Vec<String>, Vec<Value>) {
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let rows: Vec<Line> = diesel::sql_query(format!(
        "SELECT concat_ws(' ', variant_id, warehouse_id, total, available, reserved, damaged, in_transit, observed_at) AS line \
         FROM variant_stock WHERE organization_id = '{org}' ORDER BY variant_id, warehouse_id"
    ))
    .load(conn)
    .await
    .unwrap();
    let mut announced: Vec<Value> = outbox::list_for_organization(conn, org)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.event_type == "catalog.variant.stock_updated")
        .map(|event| event.payload["data"].clone())
        .collect();
    announced.sort_by_key(|data| (data["variant_id"].to_string(), data["stock_available"].to_string()));
    (rows.into_iter().map(|row| row.line).collect(), announced)
}

async fn forget(conn: &mut PgConn, orgs: &[OrganizationId]) {
    for org in orgs {
        diesel::sql_query(format!("DELETE FROM variant_stock WHERE organization_id = '{org}'"))
            .execute(conn)
            .await
            .unwrap();
        diesel::sql_query(format!("DELETE FROM outbox WHERE organization_id = '{org}'")).execute(conn).await.unwrap();
    }
}

#[tokio::test]
async fn a_batch_of_reports_leaves_what_one_at_a_time_leaves_in_the_statements_of_one() {
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(&db.url).await.expect("connect");
    let (org, other) = (TestDb::org(), TestDb::org());
    let product = common::insert_product(&mut conn, org, "MARTILLO").await;
    diesel::sql_query(format!("UPDATE products SET alert_stock = 5 WHERE id = '{product}'"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut variants = Vec::new();
    for i in 0..30 {
        let new = NewVariant::new(format!("M-{i}"), Decimal::ONE);
        variants.push(common::variant_row(&mut conn, org, product, new).await.id);
    }
    let foreign_product = common::insert_product(&mut conn, other, "AJENO").await;
    let foreign = common::variant_row(&mut conn, other, foreign_product, NewVariant::new("A-1", Decimal::ONE)).await.id;

    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    let ten = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
    let mut changes = Vec::new();
    for (i, &variant) in (0i64..).zip(&variants) {
        let first = on_hand(i % 9, i % 7);
        let named = Some(org).filter(|_| i % 2 == 0); // some events name no organization
        changes.extend([
            report(named, variant, north, (first, None), ten),
            report(named, variant, north, (first, None), ten), // a redelivery
            report(named, variant, north, (on_hand(i % 9 + 4, i % 7 + 3), Some(first)), ten), // same second, chained
            report(named, variant, south, (on_hand(2, 1), None), ten + Duration::seconds(1)),
            report(named, variant, north, (on_hand(999, 999), None), ten - Duration::hours(1)), // late
        ]);
    }
    changes.push(report(Some(org), foreign, north, (on_hand(5, 5), None), ten)); // another organization's
    changes.push(report(None, VariantId::generate(), north, (on_hand(5, 5), None), ten)); // no one's
    changes.push(Change::Variant {
        organization: org,
        variant: variants[1],
        reports: vec![stock::Report { warehouse: south, warehouse_name: None, quantities: on_hand(8, 8) }],
        observed_at: ten + Duration::seconds(2),
    });

    let mut one_at_a_time = Vec::new();
    for change in &changes {
        one_at_a_time.extend(stock::apply_and_announce(&mut conn, std::slice::from_ref(change)).await.unwrap());
    }
    let expected = state(&mut conn, org).await;
    forget(&mut conn, &[org, other]).await;

    let statements = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&statements);
    conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if matches!(event, diesel::connection::InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let batched = stock::apply_and_announce(&mut conn, &changes).await.unwrap();
    let for_batch = statements.swap(0, Ordering::SeqCst);
    assert_eq!(batched, one_at_a_time, "the same verdict for each report");
    assert_eq!(
        state(&mut conn, other).await,
        (vec![], vec![]),
        "a report naming the wrong organization changes nothing"
    );
    statements.swap(0, Ordering::SeqCst);
    let actual = state(&mut conn, org).await;
    assert_eq!(actual, expected, "the same rows and announcements");
    assert_eq!(actual.0.len(), 59, "two warehouses per variant, but the resync removed one");
    assert!(!actual.1.is_empty(), "some variants crossed their alert level");

    let verdicts = |range: std::ops::Range<usize>| batched[range].to_vec();
    use Applied::{Changed, NotNewer, UnknownVariant};
    assert_eq!(verdicts(0..5), [Changed, NotNewer, Changed, Changed, NotNewer]);
    assert_eq!(verdicts(150..152), [UnknownVariant, UnknownVariant]);
    assert_eq!(batched[152], Changed, "the resync replaced the variant's warehouses");

    forget(&mut conn, &[org]).await;
    statements.swap(0, Ordering::SeqCst);
    // A report that announces, as the batch does; the batch also removes a row (one delete).
    stock::apply_and_announce(&mut conn, &changes[5..6]).await.unwrap();
    let for_one = statements.swap(0, Ordering::SeqCst);
    assert_eq!(state(&mut conn, org).await.1.len(), 1);
    assert!(for_batch <= for_one + 1, "{for_batch} statements for {} reports, {for_one} for one", changes.len());
}
