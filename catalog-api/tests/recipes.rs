//! `/api/v1/products/{id}/recipe`, `/api/v1/recipes/{id}` and the explosion end to end: page 03's
//! latte through REST, versions, validation naming fields, tenancy.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use common::{TestApp, User};
use serde_json::{Value, json};

/// A simple product stocked in `unit` costing `cost`; answers its default variant's id.
async fn stocked(app: &TestApp, user: &User, title: &str, sku: &str, unit: &str, cost: &str) -> String {
    let body = json!({ "title": title, "sku": sku, "sale_price": "1.00", "cost_price": cost, "unit_of_measure": unit });
    let r = app.post(user, "/api/v1/products", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.data()["variants"][0]["id"].as_str().expect("variant").to_string()
}

fn line(variant: &str, quantity: &str, unit: &str, waste: &str) -> Value {
    json!({ "ingredient_variant_id": variant, "quantity": quantity, "unit": unit, "waste_percentage": waste })
}

#[actix_web::test]
async fn the_latte_of_page_03_through_rest() {
    let app = TestApp::start().await;
    let (admin, stranger) = (User::admin(), User::admin());
    let latte = app
        .post(&admin, "/api/v1/products", json!({ "title": "Café Latte", "sku": "LATTE-001", "sale_price": "3.50" }))
        .await;
    let (latte_id, latte_variant) =
        (latte.id(), latte.data()["variants"][0]["id"].as_str().expect("variant").to_string());
    let coffee = stocked(&app, &admin, "Café en Grano", "CAFE-GRANO-KG", "kg", "18.00").await;
    let milk = stocked(&app, &admin, "Leche Entera", "LECHE-001-LT", "litro", "1.00").await;
    let cup = stocked(&app, &admin, "Vaso Desechable 12oz", "VASO-12-U", "unidad", "0.05").await;
    let path = format!("/api/v1/products/{latte_id}/recipe");
    let body = json!({
        "variant_id": latte_variant,
        "name": "Receta Café Latte Mediano",
        "ingredients": [line(&coffee, "20", "gramo", "5"), line(&milk, "200", "ml", "2"), line(&cup, "1", "unidad", "0")],
    });
    let created = app.post(&admin, &path, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let data = created.data();
    assert_eq!(
        (data["product_name"].as_str(), data["variant_sku"].clone()),
        (Some("Café Latte"), latte.data()["variants"][0]["sku"].clone())
    );
    assert_eq!(data["ingredients"][0]["ingredient_name"], "Café en Grano");
    assert_eq!(data["ingredients"][0]["ingredient_sku"], "CAFE-GRANO-KG");
    // 0.021 kg × 18 + 0.204 l × 1 + 1 × 0.05 = 0.378 + 0.204 + 0.05
    assert_eq!(data["total_cost"], "0.63");
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let recipe = created.id();

    let again = app
        .post(&admin, &path, json!({ "variant_id": latte_variant, "ingredients": [line(&cup, "1", "unit", "0")] }))
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "RECIPE_EXISTS"));
    let read = app.get(&admin, &format!("{path}?variant_id={latte_variant}")).await;
    assert_eq!((read.status, read.data()["id"].as_str()), (StatusCode::OK, Some(recipe.as_str())));
    let none = app.get(&admin, &path).await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "RECIPE_NOT_FOUND"));

    let exploded = app.get(&admin, &format!("/api/v1/variants/{latte_variant}/recipe/explode?quantity=2")).await;
    assert_eq!(exploded.status, StatusCode::OK, "{:?}", exploded.body);
    let deductions: Vec<(String, String)> = exploded.data()["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["quantity"].as_str().unwrap().to_string(), d["unit"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        deductions,
        [("0.042".into(), "kg".into()), ("0.408".into(), "litro".into()), ("2".into(), "unidad".into())]
    );

    let ingredients = format!("/api/v1/recipes/{recipe}/ingredients");
    let stale = app
        .send_raw(
            Some(&format!("Bearer {}", admin.token)),
            Method::PUT,
            &ingredients,
            Some(json!([line(&coffee, "18", "g", "5")])),
            &[("If-Match", "\"7\"")],
        )
        .await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "VERSION_MISMATCH"));
    let bad = app.send(&admin, Method::PUT, &ingredients, Some(json!([line(&coffee, "0", "ml", "101")]))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{:?}", bad.body);
    assert_eq!(bad.fields(), ["ingredients[0].quantity", "ingredients[0].waste_percentage"]);
    let mismatch = app.send(&admin, Method::PUT, &ingredients, Some(json!([line(&coffee, "18", "ml", "5")]))).await;
    assert_eq!(
        (mismatch.status, mismatch.fields()),
        (StatusCode::BAD_REQUEST, vec!["ingredients[0].unit".to_string()])
    );
    let replaced = app
        .send(&admin, Method::PUT, &ingredients, Some(json!({ "ingredients": [line(&coffee, "18", "g", "5")] })))
        .await;
    assert_eq!((replaced.status, replaced.etag.as_deref()), (StatusCode::OK, Some("\"2\"")), "{:?}", replaced.body);

    // Another organization's recipe, product and variant are missing to it.
    for (method, url) in [
        (Method::GET, format!("{path}?variant_id={latte_variant}")),
        (Method::GET, format!("/api/v1/variants/{latte_variant}/recipe/explode")),
        (Method::DELETE, format!("/api/v1/recipes/{recipe}")),
    ] {
        let r = app.send(&stranger, method.clone(), &url, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {url}: {:?}", r.body);
    }
    let foreign = app
        .post(
            &stranger,
            &format!("/api/v1/products/{latte_id}/recipe"),
            json!({ "ingredients": [line(&cup, "1", "unit", "0")] }),
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND"));

    assert_eq!(app.delete(&admin, &format!("/api/v1/recipes/{recipe}")).await.status, StatusCode::NO_CONTENT);
    let gone = app.get(&admin, &format!("{path}?variant_id={latte_variant}")).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::NOT_FOUND, "RECIPE_NOT_FOUND"));
    let events: Vec<String> = app.events(admin.org).await.into_iter().filter(|e| e.contains("recipe")).collect();
    assert_eq!(events, ["catalog.recipe.created", "catalog.recipe.updated", "catalog.recipe.deleted"]);
}
