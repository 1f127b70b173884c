//! Price tier repository against a real PostgreSQL: tenancy, names and slugs, rules and their
//! validation, versions and events, delete with rules, and the choice of tier for a variant.

#![allow(clippy::expect_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Error, FieldError};
use catalog_core::ids::{OrganizationId, PriceTierId, PriceTierRuleId, VariantId};
use catalog_core::models::{
    Actor, NewPriceTier, NewPriceTierRule, NewProduct, NewVariant, PriceTier, PriceTierChanges, PriceTierRuleChanges,
};
use catalog_core::pagination::PageRequest;
use catalog_core::pricing::calculate_price;
use catalog_core::repo::outbox;
use catalog_core::repo::price_tiers;
use catalog_core::schema::{price_tier_rules, product_variants};
use catalog_core::testing::TestDb;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;

mod common;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

fn new_tier(name: &str, priority: i32) -> NewPriceTier {
    NewPriceTier {
        metadata: None,
        id: PriceTierId::generate(),
        organization_id: OrganizationId::generate(), // overwritten by the repository
        name: name.into(),
        slug: String::new(), // derived from the name
        description: None,
        priority,
        is_active: true,
    }
}

fn new_rule(variant_id: VariantId, min_qty: i32, price: &str) -> NewPriceTierRule {
    NewPriceTierRule {
        id: PriceTierRuleId::generate(),
        organization_id: OrganizationId::generate(), // overwritten
        price_tier_id: PriceTierId::generate(),      // overwritten
        variant_id,
        min_qty,
        price: d(price),
    }
}

/// A product with one variant, inserted straight with diesel: this test is about tiers.
async fn insert_variant(conn: &mut PgConn, org: OrganizationId, sku: &str) -> VariantId {
    let product = common::product_row(conn, org, NewProduct::new(format!("Product {sku}"), sku)).await;
    let variant = NewVariant { tax_rate: d("16"), ..NewVariant::new(format!("{sku}-V"), d("10.00")) };
    common::variant_row(conn, org, product.id, variant).await.id
}

fn fields_of<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<String> {
    match result {
        Err(Error::Validation { fields, .. }) => fields.into_iter().map(|FieldError { field, .. }| field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn not_found<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(matches!(result, Err(Error::NotFound(_))), "expected not found, got {result:?}");
}

async fn rule_count(conn: &mut PgConn, tier: PriceTierId) -> i64 {
    price_tier_rules::table
        .filter(price_tier_rules::price_tier_id.eq(tier))
        .count()
        .get_result(conn)
        .await
        .expect("count")
}

#[tokio::test]
async fn another_organization_cannot_see_change_or_use_a_tier() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (mine, theirs) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let tier = price_tiers::create(conn, mine, &actor, new_tier("Mayorista", 0)).await.expect("create");
    assert_eq!(tier.organization_id, mine, "the repository stamps the caller's organization");
    let my_variant = insert_variant(conn, mine, "MINE").await;
    let their_variant = insert_variant(conn, theirs, "THEIRS").await;
    let rule =
        price_tiers::add_rule(conn, mine, &actor, tier.id, new_rule(my_variant, 10, "9.00")).await.expect("rule");
    assert_eq!((rule.organization_id, rule.price_tier_id), (mine, tier.id));
    let tier = price_tiers::get(conn, mine, tier.id).await.expect("get");

    // The tier itself.
    assert!(price_tiers::find(conn, theirs, tier.id).await.expect("find").is_none());
    not_found(price_tiers::get(conn, theirs, tier.id).await);
    assert!(price_tiers::get_many(conn, theirs, &[tier.id]).await.expect("get_many").is_empty());
    assert!(
        price_tiers::list(conn, theirs, &Default::default(), &PageRequest::first(10))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let rename = PriceTierChanges { name: Some("Stolen".into()), ..Default::default() };
    not_found(price_tiers::update(conn, theirs, &actor, tier.id, None, rename).await);
    not_found(price_tiers::delete(conn, theirs, &actor, tier.id, true).await);

    // Its rules.
    not_found(price_tiers::add_rule(conn, theirs, &actor, tier.id, new_rule(their_variant, 5, "1.00")).await);
    not_found(price_tiers::list_rules(conn, theirs, tier.id).await);
    not_found(price_tiers::get_rule(conn, theirs, tier.id, rule.id).await);
    let cheaper = PriceTierRuleChanges { price: Some(d("0.01")), ..Default::default() };
    not_found(price_tiers::update_rule(conn, theirs, &actor, tier.id, rule.id, None, cheaper.clone()).await);
    not_found(price_tiers::delete_rule(conn, theirs, &actor, tier.id, rule.id, None).await);
    assert!(price_tiers::rules_for_variant(conn, theirs, my_variant, None).await.expect("rules").is_none());
    not_found(price_tiers::rules_for_variant(conn, theirs, my_variant, Some(tier.id)).await);

    // Their rule ids against my tier, and foreign variants in either direction.
    let their_tier = price_tiers::create(conn, theirs, &actor, new_tier("Suyo", 0)).await.expect("create");
    let their_rule = price_tiers::add_rule(conn, theirs, &actor, their_tier.id, new_rule(their_variant, 2, "5.00"))
        .await
        .expect("rule");
    not_found(price_tiers::update_rule(conn, mine, &actor, tier.id, their_rule.id, None, cheaper).await);
    not_found(price_tiers::delete_rule(conn, mine, &actor, tier.id, their_rule.id, None).await);
    let foreign_variant = price_tiers::add_rule(conn, mine, &actor, tier.id, new_rule(their_variant, 5, "1.00")).await;
    assert_eq!(fields_of(foreign_variant), ["variant_id"]);
    let foreign_variant =
        price_tiers::add_rule(conn, theirs, &actor, their_tier.id, new_rule(my_variant, 5, "1.00")).await;
    assert_eq!(fields_of(foreign_variant), ["variant_id"]);
    // My tier named by them while pricing their own variant.
    not_found(price_tiers::rules_for_variant(conn, theirs, their_variant, Some(tier.id)).await);

    // Mine is untouched.
    assert_eq!(price_tiers::get(conn, mine, tier.id).await.expect("get"), tier);
    assert_eq!(price_tiers::list_rules(conn, mine, tier.id).await.expect("rules"), [rule]);
}

#[tokio::test]
async fn names_are_unique_per_organization_regardless_of_case_and_reusable_after_delete() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, other) = (TestDb::org(), TestDb::org());
    let actor = Actor::system();
    let first = price_tiers::create(conn, org, &actor, new_tier("Mayorista Plus", 0)).await.expect("create");
    assert_eq!(first.slug, "mayorista-plus", "an empty slug is derived from the name");

    let shouting = NewPriceTier { slug: "other-slug".into(), ..new_tier("MAYORISTA plus", 1) };
    let dup = price_tiers::create(conn, org, &actor, shouting).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "PRICE_TIER_NAME_EXISTS", .. })), "{dup:?}");
    let same_slug = NewPriceTier { slug: "mayorista-plus".into(), ..new_tier("Otro", 1) };
    let dup = price_tiers::create(conn, org, &actor, same_slug).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "PRICE_TIER_SLUG_EXISTS", .. })), "{dup:?}");
    price_tiers::create(conn, other, &actor, new_tier("Mayorista Plus", 0)).await.expect("another organization");

    let second = price_tiers::create(conn, org, &actor, new_tier("Minorista", 1)).await.expect("create");
    let clash = PriceTierChanges { name: Some("mayorista plus".into()), ..Default::default() };
    let renamed = price_tiers::update(conn, org, &actor, second.id, None, clash).await;
    assert!(matches!(renamed, Err(Error::Conflict { code: "PRICE_TIER_NAME_EXISTS", .. })), "{renamed:?}");

    price_tiers::delete(conn, org, &actor, first.id, false).await.expect("delete");
    assert!(price_tiers::find(conn, org, first.id).await.expect("find").is_none());
    price_tiers::create(conn, org, &actor, new_tier("mayorista PLUS", 0))
        .await
        .expect("a deleted tier's name is reusable");

    let negative = price_tiers::create(conn, org, &actor, new_tier("Negativo", -1)).await;
    assert_eq!(fields_of(negative), ["priority"]);
}

#[tokio::test]
async fn tier_and_rule_changes_bump_the_tier_version_and_publish_events() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let variant = insert_variant(conn, org, "V").await;
    let tier = price_tiers::create(conn, org, &actor, new_tier("Mayorista", 0)).await.expect("create");
    assert_eq!(tier.version, 1);

    let changes = PriceTierChanges { priority: Some(3), ..Default::default() };
    let updated = price_tiers::update(conn, org, &actor, tier.id, Some(1), changes.clone()).await.expect("update");
    assert_eq!((updated.priority, updated.version), (3, 2));
    let stale = price_tiers::update(conn, org, &actor, tier.id, Some(1), changes.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");
    let same = price_tiers::update(conn, org, &actor, tier.id, Some(2), changes).await.expect("no-op");
    assert_eq!(same.version, 2, "an update that changes nothing keeps the version");

    let rule = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 10, "9.00")).await.expect("add");
    assert_eq!(price_tiers::get(conn, org, tier.id).await.expect("tier").version, 3);

    let cheaper = PriceTierRuleChanges { price: Some(d("8.75")), ..Default::default() };
    let stale = price_tiers::update_rule(conn, org, &actor, tier.id, rule.id, Some(2), cheaper.clone()).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { expected: 2, current: 3 })), "{stale:?}");
    let changed =
        price_tiers::update_rule(conn, org, &actor, tier.id, rule.id, Some(3), cheaper).await.expect("update");
    assert_eq!((changed.min_qty, changed.price), (10, d("8.75")));
    let same_price = PriceTierRuleChanges { price: Some(d("8.750")), min_qty: Some(10) };
    let same = price_tiers::update_rule(conn, org, &actor, tier.id, rule.id, None, same_price).await.expect("no-op");
    assert_eq!(same, changed);
    assert_eq!(price_tiers::get(conn, org, tier.id).await.expect("tier").version, 4, "the no-op kept the version");
    assert_eq!(price_tiers::get_rule(conn, org, tier.id, rule.id).await.expect("get_rule"), changed);

    let stale = price_tiers::delete_rule(conn, org, &actor, tier.id, rule.id, Some(3)).await;
    assert!(matches!(stale, Err(Error::VersionMismatch { .. })), "{stale:?}");
    price_tiers::delete_rule(conn, org, &actor, tier.id, rule.id, Some(4)).await.expect("delete rule");
    not_found(price_tiers::delete_rule(conn, org, &actor, tier.id, rule.id, None).await);
    not_found(price_tiers::get_rule(conn, org, tier.id, rule.id).await);
    assert_eq!(price_tiers::get(conn, org, tier.id).await.expect("tier").version, 5);

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let summary: Vec<(&str, i32)> = events.iter().map(|e| (e.event_type.as_str(), e.aggregate_version)).collect();
    assert_eq!(
        summary,
        [
            ("catalog.price_tier.created", 1),
            ("catalog.price_tier.updated", 2),
            ("catalog.price_tier.updated", 3),
            ("catalog.price_tier.rule.created", 3),
            ("catalog.price_tier.updated", 4),
            ("catalog.price_tier.rule.updated", 4),
            ("catalog.price_tier.updated", 5),
            ("catalog.price_tier.rule.deleted", 5),
        ]
    );
    assert!(events.iter().all(|e| e.aggregate_id == tier.id.as_uuid() && e.aggregate_type == "price_tier"));
    assert_eq!(events[1].payload["data"]["changes"]["priority"], json!({ "old": 0, "new": 3 }));
    let added = &events[2].payload["data"];
    assert_eq!((added["variant_id"].clone(), added["rule_added"]["min_qty"].clone()), (json!(variant), json!(10)));
    // Page 21's payload: the rule's ids, its quantity, and its price as a number.
    let created = &events[3].payload["data"];
    assert_eq!(
        (
            &created["rule_id"],
            &created["price_tier_id"],
            &created["variant_id"],
            &created["min_qty"],
            &created["price"]
        ),
        (&json!(rule.id), &json!(tier.id), &json!(variant), &json!(10), &json!(9.0))
    );
    let updated = &events[4].payload["data"]["rule_updated"];
    assert_eq!(updated["changes"]["price"], json!({ "old": "9.00", "new": "8.75" }));
    assert_eq!(events[5].payload["data"]["price"], json!(8.75));
    assert_eq!(events[6].payload["data"]["rule_deleted"]["id"], json!(rule.id));
    assert_eq!(events[7].payload["data"]["rule_id"], json!(rule.id));
}

#[tokio::test]
async fn rules_are_validated_and_unique_per_tier_variant_and_quantity() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let variant = insert_variant(conn, org, "V").await;
    let tier = price_tiers::create(conn, org, &actor, new_tier("Mayorista", 0)).await.expect("create");

    let bad = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(VariantId::generate(), 0, "-1")).await;
    assert_eq!(fields_of(bad), ["variant_id", "min_qty", "price"], "every failing field at once");
    let bad = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 1, "1.001")).await;
    assert_eq!(fields_of(bad), ["price"]);
    let bad = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 1, "10000000000")).await;
    assert_eq!(fields_of(bad), ["price"]);
    not_found(price_tiers::add_rule(conn, org, &actor, PriceTierId::generate(), new_rule(variant, 1, "1")).await);

    let ten = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 10, "9.00")).await.expect("10");
    let dup = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 10, "8.00")).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "PRICE_TIER_RULE_EXISTS", .. })), "{dup:?}");
    let fifty = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 50, "8.00")).await.expect("50");
    let collide = PriceTierRuleChanges { min_qty: Some(10), ..Default::default() };
    let dup = price_tiers::update_rule(conn, org, &actor, tier.id, fifty.id, None, collide).await;
    assert!(matches!(dup, Err(Error::Conflict { code: "PRICE_TIER_RULE_EXISTS", .. })), "{dup:?}");
    let bad = PriceTierRuleChanges { min_qty: Some(-5), price: Some(d("0")) };
    assert_eq!(
        fields_of(price_tiers::update_rule(conn, org, &actor, tier.id, ten.id, None, bad).await),
        ["min_qty", "price"]
    );
    assert_eq!(price_tiers::get(conn, org, tier.id).await.expect("tier").version, 3, "failures change nothing");

    // A soft-deleted variant takes no new rules and its old ones drop out of the listing.
    let other = insert_variant(conn, org, "W").await;
    price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(other, 5, "7.00")).await.expect("w");
    assert_eq!(price_tiers::list_rules(conn, org, tier.id).await.expect("rules").len(), 3);
    diesel::update(product_variants::table.filter(product_variants::id.eq(other)))
        .set(product_variants::deleted_at.eq(Some(Utc::now())))
        .execute(conn)
        .await
        .expect("soft delete");
    let gone = price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(other, 6, "7.00")).await;
    assert_eq!(fields_of(gone), ["variant_id"]);
    let listed: Vec<i32> =
        price_tiers::list_rules(conn, org, tier.id).await.expect("rules").iter().map(|r| r.min_qty).collect();
    assert_eq!(listed, [10, 50]);
    not_found(price_tiers::list_rules(conn, org, PriceTierId::generate()).await);
}

#[tokio::test]
async fn deleting_a_tier_with_rules_needs_force_which_deletes_them() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let variant = insert_variant(conn, org, "V").await;
    let empty = price_tiers::create(conn, org, &actor, new_tier("Vacío", 0)).await.expect("create");
    let tier = price_tiers::create(conn, org, &actor, new_tier("Mayorista", 0)).await.expect("create");
    price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 10, "9.00")).await.expect("rule");
    price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 20, "8.00")).await.expect("rule");

    price_tiers::delete(conn, org, &actor, empty.id, false).await.expect("a tier without rules needs no force");
    let refused = price_tiers::delete(conn, org, &actor, tier.id, false).await;
    match refused {
        Err(Error::InUse { code: "PRICE_TIER_HAS_RULES", details, .. }) => {
            assert_eq!((&details["price_tier_id"], &details["rules_count"]), (&json!(tier.id), &json!(2)));
        }
        other => panic!("expected the tier to be in use, got {other:?}"),
    }
    assert_eq!(rule_count(conn, tier.id).await, 2);

    price_tiers::delete(conn, org, &actor, tier.id, true).await.expect("forced");
    assert_eq!(rule_count(conn, tier.id).await, 0);
    assert!(price_tiers::find(conn, org, tier.id).await.expect("find").is_none());
    not_found(price_tiers::list_rules(conn, org, tier.id).await);
    not_found(price_tiers::add_rule(conn, org, &actor, tier.id, new_rule(variant, 5, "9.50")).await);

    let events = outbox::list_for_organization(conn, org).await.expect("outbox");
    let last = events.last().expect("event");
    assert_eq!((last.event_type.as_str(), last.aggregate_version), ("catalog.price_tier.deleted", 4));
    assert_eq!(last.payload["data"]["variant_ids"], json!([variant]));
}

#[tokio::test]
async fn a_variant_is_priced_by_the_named_tier_or_the_best_active_tier_with_rules() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let actor = Actor::system();
    let variant = insert_variant(conn, org, "V").await;
    let unpriced = insert_variant(conn, org, "U").await;
    let tier = |name: &str, priority: i32, is_active: bool| NewPriceTier { is_active, ..new_tier(name, priority) };
    let low = price_tiers::create(conn, org, &actor, tier("Low", 5, true)).await.expect("low");
    let best = price_tiers::create(conn, org, &actor, tier("Best", 1, true)).await.expect("best");
    let tied = price_tiers::create(conn, org, &actor, tier("Tied", 1, true)).await.expect("tied, younger");
    let inactive = price_tiers::create(conn, org, &actor, tier("Inactive", 0, false)).await.expect("inactive");
    let elsewhere = price_tiers::create(conn, org, &actor, tier("Elsewhere", 0, true)).await.expect("elsewhere");
    let add = async |conn: &mut PgConn, t: &PriceTier, min_qty: i32, price: &str| {
        price_tiers::add_rule(conn, org, &actor, t.id, new_rule(variant, min_qty, price)).await.expect("rule")
    };
    add(conn, &low, 5, "9.50").await;
    let best_50 = add(conn, &best, 50, "8.00").await;
    let best_10 = add(conn, &best, 10, "9.00").await;
    add(conn, &tied, 2, "9.90").await;
    add(conn, &inactive, 2, "1.00").await;
    price_tiers::add_rule(conn, org, &actor, elsewhere.id, new_rule(unpriced, 1, "1.00")).await.expect("other");

    let chosen = price_tiers::rules_for_variant(conn, org, variant, None).await.expect("auto").expect("some tier");
    let best_now = price_tiers::get(conn, org, best.id).await.expect("best");
    assert_eq!(chosen.0, best_now, "lowest priority number, then the oldest tier");
    assert_eq!(chosen.1, [best_10.clone(), best_50.clone()], "sorted by min_qty");

    let named = price_tiers::rules_for_variant(conn, org, variant, Some(low.id)).await.expect("named").expect("some");
    assert_eq!((named.0.id, named.1.iter().map(|r| r.min_qty).collect::<Vec<_>>()), (low.id, vec![5]));
    let no_rules =
        price_tiers::rules_for_variant(conn, org, variant, Some(elsewhere.id)).await.expect("named").expect("some");
    assert_eq!((no_rules.0.id, no_rules.1.len()), (elsewhere.id, 0), "a named tier without rules prices at sale_price");
    let refused = price_tiers::rules_for_variant(conn, org, variant, Some(inactive.id)).await;
    assert_eq!(fields_of(refused), ["price_tier_id"]);
    not_found(price_tiers::rules_for_variant(conn, org, variant, Some(PriceTierId::generate())).await);
    let third = insert_variant(conn, org, "X").await;
    assert!(price_tiers::rules_for_variant(conn, org, third, None).await.expect("none").is_none());

    // Deactivating the best tier hands over to the tied one; deleting that one to the next.
    let off = PriceTierChanges { is_active: Some(false), ..Default::default() };
    price_tiers::update(conn, org, &actor, best.id, None, off).await.expect("deactivate");
    let chosen = price_tiers::rules_for_variant(conn, org, variant, None).await.expect("auto").expect("some");
    assert_eq!(chosen.0.id, tied.id);
    price_tiers::delete(conn, org, &actor, tied.id, true).await.expect("delete");
    let chosen = price_tiers::rules_for_variant(conn, org, variant, None).await.expect("auto").expect("some");
    assert_eq!(chosen.0.id, low.id);
    not_found(price_tiers::rules_for_variant(conn, org, variant, Some(tied.id)).await);

    // And the rules feed the quote.
    let quote = calculate_price(d("10.00"), d("16"), 7, &chosen.1).expect("quote");
    assert_eq!(
        (quote.unit_price, quote.subtotal, quote.tax_amount, quote.total),
        (d("9.50"), d("66.50"), d("10.64"), d("77.14"))
    );
    assert_eq!((quote.savings_amount, quote.savings_percentage), (d("3.50"), d("5.00")));
    assert_eq!(quote.next_tier, None);
}
