//! Recipes against a real PostgreSQL: page 03's latte, nesting, cycles of every length, units,
//! tenancy, concurrent edits, and `products.is_composite`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use catalog_core::db::PgConn;
use catalog_core::error::{Error, FieldError};
use catalog_core::ids::{OrganizationId, ProductId, VariantId};
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo::outbox;
use catalog_core::repo::recipes::{self, Deduction, IngredientDraft, RecipeDraft};
use catalog_core::schema::products;
use catalog_core::testing::TestDb;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use std::str::FromStr;

mod common;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

/// A product stocked in `unit` with one variant; returns both ids.
async fn stocked(conn: &mut PgConn, org: OrganizationId, sku: &str, unit: &str) -> (ProductId, VariantId) {
    let new = NewProduct { unit_of_measure: unit.into(), ..NewProduct::new(sku, sku) };
    let product = common::product_row(conn, org, new).await;
    let variant = common::variant_row(conn, org, product.id, NewVariant::new(format!("{sku}-V"), d("1.00"))).await;
    (product.id, variant.id)
}

fn line(variant: VariantId, quantity: &str, unit: &str, waste: &str) -> IngredientDraft {
    IngredientDraft {
        ingredient_variant_id: variant,
        quantity: d(quantity),
        unit: unit.into(),
        is_optional: false,
        waste_percentage: d(waste),
        notes: None,
    }
}

fn recipe(lines: Vec<IngredientDraft>) -> RecipeDraft {
    RecipeDraft { variant_id: None, name: None, yield_quantity: Decimal::ONE, is_active: true, ingredients: lines }
}

fn messages<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<(String, String)> {
    match result {
        Err(Error::Validation { fields, .. }) => {
            fields.into_iter().map(|FieldError { field, message, .. }| (field, message)).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn deductions(explosion: &recipes::Explosion) -> Vec<(VariantId, Decimal, String)> {
    explosion
        .deductions
        .iter()
        .map(|Deduction { variant_id, quantity, unit, .. }| (*variant_id, *quantity, unit.clone()))
        .collect()
}

#[tokio::test]
async fn the_latte_of_page_03_deducts_exactly_the_documented_quantities() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let org = TestDb::org();
    let (latte, latte_medium) = stocked(conn, org, "LATTE-001", "unit").await;
    let (_, coffee) = stocked(conn, org, "CAFE-GRANO", "kg").await;
    let (_, milk) = stocked(conn, org, "LECHE-001", "litro").await;
    let (_, cup) = stocked(conn, org, "VASO-12", "unidad").await;
    let draft = RecipeDraft {
        variant_id: Some(latte_medium),
        name: Some("Receta Café Latte Mediano".into()),
        ..recipe(vec![line(coffee, "20", "gramo", "5"), line(milk, "200", "ml", "2"), line(cup, "1", "unidad", "0")])
    };
    let created = recipes::create(conn, org, &Actor::system(), latte, draft).await.expect("recipe");
    assert_eq!(created.ingredients.len(), 3);

    let sold = [(latte_medium, d("1")), (latte_medium, d("2"))];
    let Ok([one, two]) = <[_; 2]>::try_from(recipes::explode(conn, org, &sold).await.expect("explode")) else {
        panic!("one explosion per sale line");
    };
    assert_eq!(one.recipe_id, Some(created.recipe.id));
    assert_eq!(
        deductions(&one),
        [(coffee, d("0.021"), "kg".into()), (milk, d("0.204"), "litro".into()), (cup, d("1"), "unidad".into())]
    );
    assert_eq!(deductions(&two)[0], (coffee, d("0.042"), "kg".into()));

    let composite: bool =
        products::table.find(latte).select(products::is_composite).first(conn).await.expect("product");
    assert!(composite, "a product with an active recipe is composite");
    let events: Vec<String> =
        outbox::list_for_organization(conn, org).await.unwrap().into_iter().map(|e| e.event_type).collect();
    assert_eq!(events, ["catalog.recipe.created"]);

    // Without a recipe, the variant itself is deducted.
    let Ok([plain]) = <[_; 1]>::try_from(recipes::explode(conn, org, &[(cup, d("3"))]).await.expect("explode")) else {
        panic!()
    };
    assert_eq!((plain.recipe_id, deductions(&plain)), (None, vec![(cup, d("3"), "unidad".into())]));
}

#[tokio::test]
async fn nested_recipes_explode_through_three_levels_with_waste_at_each() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, system) = (TestDb::org(), Actor::system());
    let (burger, burger_v) = stocked(conn, org, "BURGER", "unit").await;
    let (sauce, sauce_v) = stocked(conn, org, "SAUCE", "kg").await;
    let (base, base_v) = stocked(conn, org, "BASE", "l").await;
    let (_, tomato) = stocked(conn, org, "TOMATO", "kg").await;
    let (_, bun) = stocked(conn, org, "BUN", "unit").await;
    // 1 l of base takes 500 g of tomato (10 % waste).
    recipes::create(conn, org, &system, base, recipe(vec![line(tomato, "500", "g", "10")])).await.expect("base");
    // 2 kg of sauce take 1 l of base (no waste).
    let sauce_recipe = RecipeDraft { yield_quantity: d("2"), ..recipe(vec![line(base_v, "1", "l", "0")]) };
    recipes::create(conn, org, &system, sauce, sauce_recipe).await.expect("sauce");
    // A burger takes 50 g of sauce (20 % waste) and a bun.
    let burger_recipe = recipe(vec![line(sauce_v, "50", "g", "20"), line(bun, "1", "unit", "0")]);
    recipes::create(conn, org, &system, burger, burger_recipe).await.expect("burger");

    let Ok([ticket]) = <[_; 1]>::try_from(recipes::explode(conn, org, &[(burger_v, d("10"))]).await.expect("explode"))
    else {
        panic!()
    };
    // 10 burgers: 600 g of sauce = 0.6 kg = 0.3 batches → 0.3 l of base → 150 g × 1.1 = 0.165 kg.
    assert_eq!(deductions(&ticket), [(tomato, d("0.165"), "kg".into()), (bun, d("10"), "unit".into())]);
}

#[tokio::test]
async fn cycles_of_length_one_two_and_three_are_refused_naming_the_path() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, system) = (TestDb::org(), Actor::system());
    let (a, a_v) = stocked(conn, org, "A", "unit").await;
    let (b, b_v) = stocked(conn, org, "B", "unit").await;
    let (c, c_v) = stocked(conn, org, "C", "unit").await;

    let itself = recipes::create(conn, org, &system, a, recipe(vec![line(a_v, "1", "unit", "0")])).await;
    assert_eq!(
        messages(itself),
        [("ingredients[0].ingredient_variant_id".into(), "cannot be a variant of the recipe's own product".into())]
    );

    recipes::create(conn, org, &system, a, recipe(vec![line(b_v, "1", "unit", "0")])).await.expect("a → b");
    let two = recipes::create(conn, org, &system, b, recipe(vec![line(a_v, "1", "unit", "0")])).await;
    assert_eq!(
        messages(two),
        [("ingredients[0].ingredient_variant_id".into(), "would make the recipe contain itself: B → A-V → B-V".into())]
    );

    recipes::create(conn, org, &system, b, recipe(vec![line(c_v, "1", "unit", "0")])).await.expect("b → c");
    let three = recipes::create(conn, org, &system, c, recipe(vec![line(a_v, "2", "unit", "0")])).await;
    assert_eq!(
        messages(three),
        [(
            "ingredients[0].ingredient_variant_id".into(),
            "would make the recipe contain itself: C → A-V → B-V → C-V".into()
        )]
    );
}

#[tokio::test]
async fn units_that_do_not_convert_and_foreign_ingredients_are_refused() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, stranger, system) = (TestDb::org(), TestDb::org(), Actor::system());
    let (latte, _) = stocked(conn, org, "LATTE", "unit").await;
    let (_, coffee) = stocked(conn, org, "COFFEE", "kg").await;
    let (_, theirs) = stocked(conn, stranger, "THEIRS", "kg").await;

    let by_volume = recipes::create(conn, org, &system, latte, recipe(vec![line(coffee, "20", "ml", "0")])).await;
    let errors = messages(by_volume);
    assert_eq!(errors[0].0, "ingredients[0].unit");
    assert!(errors[0].1.contains("ml cannot be converted to kg"), "{errors:?}");
    let unknown = recipes::create(conn, org, &system, latte, recipe(vec![line(coffee, "1", "pinch", "0")])).await;
    assert_eq!(messages(unknown)[0].0, "ingredients[0].unit");

    let foreign = recipes::create(conn, org, &system, latte, recipe(vec![line(theirs, "1", "kg", "0")])).await;
    assert_eq!(foreign.as_ref().err().map(Error::code), Some("VARIANT_NOT_FOUND".into()), "{foreign:?}");
    let not_theirs = recipes::create(conn, stranger, &system, latte, recipe(vec![line(theirs, "1", "kg", "0")])).await;
    assert_eq!(not_theirs.as_ref().err().map(Error::code), Some("PRODUCT_NOT_FOUND".into()));
    let missing = recipes::explode(conn, stranger, &[(coffee, d("1"))]).await.err().map(|e| e.code());
    assert_eq!(missing, Some("VARIANT_NOT_FOUND".into()));
}

#[tokio::test]
async fn concurrent_edits_of_one_recipe_keep_one_consistent_version() {
    let db = TestDb::new().await;
    let (org, system) = (TestDb::org(), Actor::system());
    let (latte, _, coffee, milk) = {
        let conn = &mut *db.conn().await;
        let (latte, latte_v) = stocked(conn, org, "LATTE", "unit").await;
        let (_, coffee) = stocked(conn, org, "COFFEE", "kg").await;
        let (_, milk) = stocked(conn, org, "MILK", "l").await;
        (latte, latte_v, coffee, milk)
    };
    let created = {
        let conn = &mut *db.conn().await;
        recipes::create(conn, org, &system, latte, recipe(vec![line(coffee, "20", "g", "0")])).await.expect("recipe")
    };
    let id = created.recipe.id;
    let edit = |lines: Vec<IngredientDraft>| {
        let (db, system) = (&db, system.clone());
        async move {
            let conn = &mut *db.conn().await;
            recipes::replace_ingredients(conn, org, &system, id, Some(1), lines).await
        }
    };
    let (first, second) =
        tokio::join!(edit(vec![line(coffee, "18", "g", "0")]), edit(vec![line(milk, "200", "ml", "0")]));
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one edit of version 1 wins: {first:?} {second:?}"
    );
    let loser = if outcomes[0] { second } else { first };
    assert_eq!(loser.err().map(|e| e.code()), Some("VERSION_MISMATCH".into()));

    let conn = &mut *db.conn().await;
    let stored = recipes::find_for(conn, org, latte, None).await.expect("read").expect("recipe");
    assert_eq!((stored.recipe.version, stored.ingredients.len()), (2, 1));
    recipes::delete(conn, org, &system, id, Some(2)).await.expect("delete");
    let composite: bool =
        products::table.find(latte).select(products::is_composite).first(conn).await.expect("product");
    assert!(!composite, "no recipe left: not composite");
}

#[tokio::test]
async fn an_ingredient_in_use_is_deleted_only_when_forced_then_still_deducted_and_reported_inactive() {
    let db = TestDb::new().await;
    let conn = &mut *db.conn().await;
    let (org, system) = (TestDb::org(), Actor::system());
    let (latte, latte_v) = stocked(conn, org, "LATTE", "unit").await;
    let (cup_product, cup) = stocked(conn, org, "CUP", "unit").await;
    let created = recipes::create(conn, org, &system, latte, recipe(vec![line(cup, "1", "unit", "0")])).await.unwrap();
    let refused = catalog_core::repo::variants::delete(conn, org, &system, cup, false).await;
    match refused {
        Err(Error::InUse { code, details, .. }) => {
            assert_eq!(code, "VARIANT_IN_RECIPES");
            assert_eq!(details["recipes"][0]["recipe_id"], created.recipe.id.to_string());
            assert_eq!(details["recipes"][0]["product_sku"], "LATTE");
        }
        other => panic!("an ingredient in use is not deleted without force: {other:?}"),
    }
    // Deleting the cup's (simple) product would delete the cup too: refused the same way.
    let refused = catalog_core::repo::products::delete(conn, org, &system, cup_product, false).await;
    match refused {
        Err(Error::InUse { code, details, .. }) => {
            assert_eq!(code, "VARIANT_IN_RECIPES");
            assert_eq!(details["product_id"], cup_product.to_string());
            assert_eq!(details["recipes"][0]["ingredient_variant_id"], cup.to_string());
        }
        other => panic!("a product whose variant is an ingredient is not deleted without force: {other:?}"),
    }
    catalog_core::repo::variants::delete(conn, org, &system, cup, true).await.expect("delete the cup, forced");

    let Ok([sale]) = <[_; 1]>::try_from(recipes::explode(conn, org, &[(latte_v, d("2"))]).await.expect("explode"))
    else {
        panic!()
    };
    assert_eq!(deductions(&sale), [(cup, d("2"), "unit".into())]);
    let described = recipes::describe(conn, org, &created).await.expect("describe");
    assert!(!described.ingredients[&cup].is_active, "the deleted ingredient is reported");
    let sold_deleted = recipes::explode(conn, org, &[(cup, d("1"))]).await.err().map(|e| e.code());
    assert_eq!(sold_deleted, Some("VARIANT_NOT_FOUND".into()));
}
