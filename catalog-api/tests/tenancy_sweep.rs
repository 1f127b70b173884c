//! Tenant isolation, swept over every route and verb the OpenAPI document lists: called with
//! another organization's real ids, each answer is identical to the one for ids that do not
//! exist at all, and nothing of the owner changes. A new route is swept automatically; a path
//! parameter the sweep cannot fill fails the test until it learns it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::ids::*;
use catalog_core::models::*;
use catalog_core::repo::{brands, collections, images, options, outbox, price_tiers, products, tags, variants};
use common::{TestApp, User};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::HashMap;

/// One row of every kind, owned by `org`; keyed by the path parameter that names it.
async fn owner_fixture(app: &TestApp, org: OrganizationId) -> HashMap<&'static str, String> {
    let actor = Actor::system();
    let conn = &mut *app.db.conn().await;
    let brand = brands::create(
        conn,
        org,
        &actor,
        NewBrand {
            metadata: None,
            website: None,
            id: BrandId::generate(),
            organization_id: org,
            name: "Marca".into(),
            slug: String::new(),
            description: None,
            logo_url: None,
            status: ActiveStatus::Active,
        },
    )
    .await
    .unwrap();
    let mut new = NewProduct::new("Producto", "P-1");
    new.has_variants = true;
    new.brand_id = Some(brand.id);
    let (product, _) = products::create(conn, org, &actor, new, None).await.unwrap();
    let mut v = NewVariant::new("P-1-A", Decimal::ONE);
    v.product_id = product.id;
    let variant = variants::create(conn, org, &actor, v, &[]).await.unwrap();
    let image = |id| NewProductImage {
        metadata: None,
        id,
        organization_id: org,
        product_id: product.id,
        url: "https://img/p.jpg".into(),
        alt: None,
        position: 0,
        is_primary: true,
    };
    let product_image =
        images::add_product_image(conn, org, &actor, product.id, image(ImageId::generate())).await.unwrap();
    let variant_image = images::add_variant_image(
        conn,
        org,
        &actor,
        variant.id,
        NewVariantImage {
            metadata: None,
            id: ImageId::generate(),
            organization_id: org,
            variant_id: variant.id,
            url: "https://img/v.jpg".into(),
            alt: None,
            position: 0,
            is_primary: true,
        },
    )
    .await
    .unwrap();
    let (option, values) = options::create(
        conn,
        org,
        &actor,
        NewProductOption { id: OptionId::generate(), organization_id: org, name: "Color".into(), position: 0 },
        &["Rojo".into()],
    )
    .await
    .unwrap();
    let collection = collections::create(
        conn,
        org,
        &actor,
        NewCollection {
            metadata: None,
            id: CollectionId::generate(),
            organization_id: org,
            parent_id: None,
            name: "Colección".into(),
            slug: String::new(),
            description: None,
            image_url: None,
            status: ActiveStatus::Active,
            position: 0,
        },
    )
    .await
    .unwrap();
    collections::add_products(conn, org, &actor, collection.id, &[product.id]).await.unwrap();
    let tag = tags::create(
        conn,
        org,
        &actor,
        NewTag {
            metadata: None,
            id: TagId::generate(),
            organization_id: org,
            name: "Etiqueta".into(),
            slug: String::new(),
            tag_type: TagType::Custom,
            color: None,
        },
    )
    .await
    .unwrap();
    tags::add_to_product(conn, org, &actor, product.id, &[tag.id]).await.unwrap();
    let tier = price_tiers::create(
        conn,
        org,
        &actor,
        NewPriceTier {
            metadata: None,
            id: PriceTierId::generate(),
            organization_id: org,
            name: "Mayorista".into(),
            slug: String::new(),
            description: None,
            priority: 0,
            is_active: true,
        },
    )
    .await
    .unwrap();
    let rule = price_tiers::add_rule(
        conn,
        org,
        &actor,
        tier.id,
        NewPriceTierRule {
            id: PriceTierRuleId::generate(),
            organization_id: org,
            price_tier_id: tier.id,
            variant_id: variant.id,
            min_qty: 10,
            price: Decimal::new(90, 2),
        },
    )
    .await
    .unwrap();
    // A recipe for all of the product's variants, made of another product's variant.
    let (_, supply) = products::create(
        conn,
        org,
        &actor,
        NewProduct::new("Insumo", "INS-1"),
        Some(NewVariant::new("INS-1-U", Decimal::ONE)),
    )
    .await
    .unwrap();
    let ingredient = catalog_core::repo::recipes::IngredientDraft {
        ingredient_variant_id: supply.expect("default variant").id,
        quantity: Decimal::TWO,
        unit: "unit".into(),
        is_optional: false,
        waste_percentage: Decimal::ZERO,
        notes: None,
    };
    let draft = catalog_core::repo::recipes::RecipeDraft {
        variant_id: None,
        name: None,
        yield_quantity: Decimal::ONE,
        is_active: true,
        ingredients: vec![ingredient],
    };
    let recipe = catalog_core::repo::recipes::create(conn, org, &actor, product.id, draft).await.unwrap();
    // An import job (its rows need no file here: the sweep only reads it).
    let import = uuid::Uuid::now_v7();
    {
        use catalog_core::schema::import_jobs;
        use diesel::ExpressionMethods;
        use diesel_async::RunQueryDsl;
        diesel::insert_into(import_jobs::table)
            .values((
                import_jobs::id.eq(import),
                import_jobs::organization_id.eq(org),
                import_jobs::principal.eq(json!({})),
                import_jobs::format.eq("csv"),
                import_jobs::status.eq("completed"),
            ))
            .execute(conn)
            .await
            .unwrap();
    }
    HashMap::from([
        ("imports", import.to_string()),
        ("brands", brand.id.to_string()),
        ("products", product.id.to_string()),
        ("variants", variant.id.to_string()),
        ("product_images", product_image.id.to_string()),
        ("variant_images", variant_image.id.to_string()),
        ("options", option.id.to_string()),
        ("values", values[0].id.to_string()),
        ("collections", collection.id.to_string()),
        ("tags", tag.id.to_string()),
        ("price-tiers", tier.id.to_string()),
        ("rules", rule.id.to_string()),
        ("recipes", recipe.recipe.id.to_string()),
    ])
}

/// Fills a path template's parameters from `ids` by the resource each one names.
fn fill(template: &str, ids: &HashMap<&'static str, String>) -> String {
    let segments: Vec<&str> = template.trim_start_matches("/api/v1/").split('/').collect();
    let root = segments[0];
    let filled: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return segment.to_string();
            };
            let previous = if i > 0 { segments[i - 1] } else { root };
            let key = match (param, previous) {
                ("image_id", _) => {
                    if root == "products" {
                        "product_images"
                    } else {
                        "variant_images"
                    }
                }
                ("value_id", _) => "values",
                ("rule_id", _) => "rules",
                ("tag_id", _) => "tags",
                ("product_id", _) => "products",
                ("id", "variants") => "variants",
                ("id", _) => root,
                (other, _) => panic!("the sweep does not know path parameter {other} in {template}"),
            };
            ids.get(key).unwrap_or_else(|| panic!("no id for {key} in {template}")).clone()
        })
        .collect();
    format!("/api/v1/{}", filled.join("/"))
}

#[actix_web::test]
async fn every_route_answers_foreign_ids_exactly_like_missing_ones_and_changes_nothing() {
    let app = TestApp::start().await;
    let (owner, stranger) = (User::admin(), User::admin());
    let owned = owner_fixture(&app, owner.org).await;
    let missing: HashMap<&'static str, String> = owned.keys().map(|k| (*k, uuid::Uuid::now_v7().to_string())).collect();
    let events_before = app.events(owner.org).await.len();

    let doc = serde_json::to_value(catalog_api::openapi::document()).unwrap();
    let mut swept = 0;
    for (template, operations) in doc["paths"].as_object().unwrap() {
        if !template.contains('{') {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = operations.get(method) else { continue };
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // An empty body where one is documented: a no-op for updates, a validation error for
            // creates — either way it must not tell a foreign row from a missing one.
            let takes_body = operation.get("requestBody").is_some();
            let body = takes_body.then(|| json!({}));
            let foreign = app.send(&stranger, verb.clone(), &fill(template, &owned), body.clone()).await;
            let absent = app.send(&stranger, verb.clone(), &fill(template, &missing), body).await;
            assert_eq!(
                (foreign.status, foreign.code()),
                (absent.status, absent.code()),
                "{method} {template}: foreign {:?} vs missing {:?}",
                foreign.body,
                absent.body
            );
            assert!(
                foreign.status == StatusCode::NOT_FOUND || foreign.status == StatusCode::BAD_REQUEST,
                "{method} {template} answered {} to a stranger",
                foreign.status
            );
            if !takes_body {
                assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{method} {template}");
            }
            swept += 1;
        }
    }
    assert!(swept >= 50, "the sweep covered only {swept} route/verb pairs");
    assert_eq!(app.events(owner.org).await.len(), events_before, "a stranger changed nothing");
    for (resource, id) in [
        ("products", &owned["products"]),
        ("variants", &owned["variants"]),
        ("brands", &owned["brands"]),
        ("tags", &owned["tags"]),
    ] {
        assert_eq!(
            app.get(&owner, &format!("/api/v1/{resource}/{id}")).await.status,
            StatusCode::OK,
            "{resource} still there"
        );
    }
    let conn = &mut *app.db.conn().await;
    let stranger_events = outbox::list_for_organization(conn, stranger.org).await.unwrap();
    assert!(
        stranger_events.is_empty(),
        "nothing was written for the stranger either: {:?}",
        stranger_events.iter().map(|e| &e.event_type).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn the_owner_reaches_every_swept_read() {
    // Guards the sweep itself: the ids it fills in are real, so its 404s mean isolation.
    let app = TestApp::start().await;
    let owner = User::admin();
    let owned = owner_fixture(&app, owner.org).await;
    let doc = serde_json::to_value(catalog_api::openapi::document()).unwrap();
    for (template, operations) in doc["paths"].as_object().unwrap() {
        if template.contains('{') && operations.get("get").is_some() {
            let r = app.get(&owner, &fill(template, &owned)).await;
            assert_eq!(r.status, StatusCode::OK, "GET {template}: {:?}", r.body);
        }
    }
}
