//! Rows the repository tests need but do not test, inserted straight with diesel so that only
//! the repository under test runs. Built from the models' SPEC-default constructors.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code, clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::ids::{OptionId, OptionValueId, OrganizationId, ProductId};
use catalog_core::models::{NewOptionValue, NewProduct, NewProductOption, NewVariant, Product, Variant};
use catalog_core::schema::{product_option_values, product_options, product_variants, products};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// An active simple product titled `title`, slugged from it, with the SKU `P-<slug>`.
pub fn titled(title: &str) -> NewProduct {
    let slug = catalog_core::slug::slugify(title);
    NewProduct { sku: format!("P-{slug}"), slug, ..NewProduct::new(title, "") }
}

/// Inserts `new` into `org`; an empty slug becomes the lowercased SKU.
pub async fn product_row(conn: &mut PgConn, org: OrganizationId, mut new: NewProduct) -> Product {
    new.organization_id = org;
    if new.slug.is_empty() {
        new.slug = new.sku.to_lowercase();
    }
    diesel::insert_into(products::table)
        .values(&new)
        .returning(Product::as_returning())
        .get_result(conn)
        .await
        .expect("insert product")
}

/// An active simple product titled and SKU'd `sku`.
pub async fn insert_product(conn: &mut PgConn, org: OrganizationId, sku: &str) -> ProductId {
    product_row(conn, org, NewProduct::new(sku, sku)).await.id
}

/// Inserts `new` into `org` as a variant of `product_id`.
pub async fn variant_row(
    conn: &mut PgConn,
    org: OrganizationId,
    product_id: ProductId,
    mut new: NewVariant,
) -> Variant {
    new.organization_id = org;
    new.product_id = product_id;
    diesel::insert_into(product_variants::table)
        .values(&new)
        .returning(Variant::as_returning())
        .get_result(conn)
        .await
        .expect("insert variant")
}

/// An option with `values` in order.
pub async fn option(
    conn: &mut PgConn,
    org: OrganizationId,
    name: &str,
    values: &[&str],
) -> (OptionId, Vec<OptionValueId>) {
    let option_id = OptionId::generate();
    diesel::insert_into(product_options::table)
        .values(&NewProductOption { id: option_id, organization_id: org, name: name.into(), position: 0 })
        .execute(conn)
        .await
        .expect("insert option");
    let rows: Vec<NewOptionValue> = values
        .iter()
        .enumerate()
        .map(|(i, value)| NewOptionValue {
            id: OptionValueId::generate(),
            organization_id: org,
            option_id,
            value: (*value).into(),
            position: i as i32,
        })
        .collect();
    diesel::insert_into(product_option_values::table).values(&rows).execute(conn).await.expect("insert values");
    (option_id, rows.into_iter().map(|r| r.id).collect())
}

/// Counts the UPDATE statements `conn` sends from now on; each call returns those sent since
/// the previous one. What the diff-first update rule is checked with.
pub fn count_updates(conn: &mut PgConn) -> impl Fn() -> usize + use<> {
    use diesel::connection::InstrumentationEvent;
    use diesel_async::AsyncConnection;
    use std::sync::{Arc, Mutex};
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&sent);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            log.lock().expect("log").push(query.to_string());
        }
    });
    move || sent.lock().expect("log").drain(..).filter(|sql| sql.trim_start().starts_with("UPDATE")).count()
}
