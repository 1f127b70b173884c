//! `/api/v1/products/{id}/images` and `/api/v1/variants/{id}/images` end to end: one primary per
//! owner, promotion on delete, reorder, validation, permissions, tenancy, cache and events.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{Method, StatusCode};
use catalog_core::ids::{ProductId, VariantId};
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo;
use common::{Reply, TestApp, User};
use serde_json::{Value, json};

/// A live product of `user`'s organization with its default variant.
async fn product(app: &TestApp, user: &User, sku: &str) -> (ProductId, VariantId) {
    let conn = &mut *app.db.conn().await;
    let (product, variant) = repo::products::create(
        conn,
        user.org,
        &Actor::system(),
        NewProduct::new(format!("Producto {sku}"), sku),
        Some(NewVariant::new("", rust_decimal::Decimal::ONE)),
    )
    .await
    .expect("product");
    (product.id, variant.expect("default variant").id)
}

/// The owner's id under its key (`product_id` or `variant_id`), from an images path.
fn owner_of(base: &str) -> (&'static str, Value) {
    let mut parts = base.trim_start_matches("/api/v1/").split('/');
    let key = if parts.next() == Some("products") { "product_id" } else { "variant_id" };
    (key, json!(parts.next().unwrap()))
}

/// An image as the pages show it: the row with `image_id` and `alt_text` beside `id` and `alt`.
fn assert_image_view(image: &Value) {
    assert_eq!((&image["image_id"], &image["alt_text"]), (&image["id"], &image["alt"]), "{image}");
    assert!(image["metadata"].is_object(), "{image}");
}

/// The owner's images as `(id, position, is_primary)`, in the order the API lists them
/// (`{product_id | variant_id, images, total_images}`).
async fn listed(app: &TestApp, user: &User, base: &str) -> Vec<(String, i64, bool)> {
    let r = app.get(user, base).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (key, owner) = owner_of(base);
    assert_eq!(r.data()[key], owner, "{:?}", r.body);
    let images = r.data()["images"].as_array().unwrap();
    assert_eq!(r.data()["total_images"], images.len());
    images
        .iter()
        .map(|i| {
            assert_image_view(i);
            (i["id"].as_str().unwrap().to_string(), i["position"].as_i64().unwrap(), i["is_primary"].as_bool().unwrap())
        })
        .collect()
}

async fn add(app: &TestApp, user: &User, base: &str, body: Value) -> String {
    let r = app.post(user, base, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.id()
}

/// Image events as page 22 names them, with the owner kind (`product`/`variant`) taken out so
/// both owners' sequences compare alike; an image event under another name fails here.
fn image_events(events: Vec<String>) -> Vec<String> {
    events
        .into_iter()
        .filter(|e| e.contains(".image.") || e.contains(".images."))
        .map(|e| {
            let rest = e.strip_prefix("catalog.product.").or_else(|| e.strip_prefix("catalog.variant."));
            rest.unwrap_or_else(|| panic!("not a page 22 image event: {e}")).to_string()
        })
        .collect()
}

/// Both owner kinds behave the same; each test runs against both.
async fn owners(app: &TestApp, user: &User, sku: &str) -> [String; 2] {
    let (product_id, variant_id) = product(app, user, sku).await;
    [format!("/api/v1/products/{product_id}/images"), format!("/api/v1/variants/{variant_id}/images")]
}

#[actix_web::test]
async fn create_read_update_delete_with_one_primary_and_events() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for (n, base) in owners(&app, &admin, "IMG-1").await.iter().enumerate() {
        assert!(listed(&app, &admin, base).await.is_empty(), "no images yet");
        let created = app
            .post(
                &admin,
                base,
                json!({ "url": "https://cdn.example.com/a.jpg", "alt": "Frente", "metadata": { "width": 800 } }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_image_view(created.data());
        assert_eq!(
            (&created.data()["alt_text"], &created.data()["metadata"]),
            (&json!("Frente"), &json!({ "width": 800 }))
        );
        assert_eq!(created.body["statusCode"], 201);
        assert_eq!(created.etag, None, "images are unversioned");
        assert_eq!(
            (
                &created.data()["url"],
                &created.data()["alt"],
                &created.data()["position"],
                &created.data()["is_primary"]
            ),
            (&json!("https://cdn.example.com/a.jpg"), &json!("Frente"), &json!(0), &json!(true)),
            "the first image is the primary"
        );
        let first = created.id();
        // Aliases; absent position appends.
        let second =
            add(&app, &admin, base, json!({ "image_url": "http://cdn.example.com/b.jpg", "alt_text": "B" })).await;
        let third =
            add(&app, &admin, base, json!({ "url": "https://cdn.example.com/c.jpg", "is_primary": true })).await;
        assert_eq!(
            listed(&app, &admin, base).await,
            [(first.clone(), 0, false), (second.clone(), 1, false), (third.clone(), 2, true)],
            "a new primary unsets the old one"
        );

        let updated = app
            .patch(&admin, &format!("{base}/{first}"), json!({ "is_primary": true, "alt": null, "position": 7 }))
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
        assert_eq!((&updated.data()["alt"], &updated.data()["position"]), (&json!(null), &json!(7)));
        assert_image_view(updated.data());
        assert_eq!(
            listed(&app, &admin, base).await,
            [(second.clone(), 1, false), (third.clone(), 2, false), (first.clone(), 7, true)]
        );
        // The primary is replaced, never unset (page 22's PRIMARY_IMAGE_REQUIRED).
        let unset = app.patch(&admin, &format!("{base}/{first}"), json!({ "is_primary": false })).await;
        assert_eq!((unset.status, unset.code()), (StatusCode::UNPROCESSABLE_ENTITY, "PRIMARY_IMAGE_REQUIRED"));
        assert_eq!(unset.body["error"]["details"]["image_id"], json!(first));
        let kept = app.patch(&admin, &format!("{base}/{second}"), json!({ "is_primary": false })).await;
        assert_eq!(kept.status, StatusCode::OK, "false on an image that is not the primary changes nothing");
        let put = app
            .send(&admin, Method::PUT, &format!("{base}/{second}"), Some(json!({ "url": "https://x.io/b2.png" })))
            .await;
        assert_eq!((put.status, put.data()["url"].as_str()), (StatusCode::OK, Some("https://x.io/b2.png")));

        // Deleting the primary promotes the lowest-position remaining image.
        assert_eq!(app.delete(&admin, &format!("{base}/{first}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(listed(&app, &admin, base).await, [(second.clone(), 1, true), (third.clone(), 2, false)]);
        assert_eq!(app.delete(&admin, &format!("{base}/{third}")).await.status, StatusCode::NO_CONTENT);
        assert_eq!(
            listed(&app, &admin, base).await,
            [(second.clone(), 1, true)],
            "a non-primary delete promotes nothing"
        );
        let again = app.delete(&admin, &format!("{base}/{third}")).await;
        assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND"));

        let events = image_events(app.events(admin.org).await);
        let expected = [
            "image.created",
            "image.created",
            "image.updated", // old primary unset
            "image.created",
            "image.updated", // old primary unset
            "image.updated",
            "image.updated",
            "image.deleted",
            "image.updated", // promotion
            "image.deleted",
        ];
        assert_eq!(events.len(), expected.len() * (n + 1), "{events:?}");
        assert_eq!(events[expected.len() * n..], expected);
    }
}

#[actix_web::test]
async fn an_owner_takes_at_most_its_limit_of_images_even_when_two_adds_race_for_the_last_place() {
    let app = TestApp::start().await;
    let user = User::admin();
    for (base, max) in owners(&app, &user, "LIMIT-1").await.into_iter().zip([10, 5]) {
        for i in 0..max - 1 {
            add(&app, &user, &base, json!({"url": format!("https://cdn.example.com/{i}.jpg")})).await;
        }
        // Two adds race for the last place: the owner lock lets exactly one through.
        let (one, two) = tokio::join!(
            app.post(&user, &base, json!({"url": "https://cdn.example.com/a.jpg"})),
            app.post(&user, &base, json!({"url": "https://cdn.example.com/b.jpg"})),
        );
        let mut statuses = [one.status.as_u16(), two.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 422], "{:?} {:?}", one.body, two.body);
        let refused = if one.status == StatusCode::CREATED { two } else { one };
        assert_eq!(refused.code(), "MAX_IMAGES_EXCEEDED");
        assert_eq!(refused.body["error"]["catalog_code"], "CAT-5003");
        assert_eq!(
            (
                refused.body["error"]["details"]["images_count"].as_u64(),
                refused.body["error"]["details"]["max_images"].as_u64()
            ),
            (Some(max as u64), Some(max as u64))
        );
        assert_eq!(listed(&app, &user, &base).await.len(), max);
    }
}

#[actix_web::test]
async fn reorder_sets_positions_and_refuses_a_wrong_set() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for base in owners(&app, &admin, "IMG-R").await {
        let mut ids = Vec::new();
        for name in ["a", "b", "c"] {
            ids.push(add(&app, &admin, &base, json!({ "url": format!("https://cdn.example.com/{name}.jpg") })).await);
        }
        let reorder = format!("{base}/reorder");
        let order = [ids[2].clone(), ids[0].clone(), ids[1].clone()];
        let r = app.send(&admin, Method::PUT, &reorder, Some(json!({ "image_ids": order }))).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let (key, owner) = owner_of(&base);
        assert_eq!((&r.data()[key], &r.data()["images_reordered"]), (&owner, &json!(3)));
        let answered: Vec<&str> =
            r.data()["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(answered, order);
        assert_eq!(
            r.data()["new_order"],
            json!([
                { "image_id": order[0], "position": 0 },
                { "image_id": order[1], "position": 1 },
                { "image_id": order[2], "position": 2 },
            ])
        );
        assert_eq!(
            listed(&app, &admin, &base).await,
            [(ids[2].clone(), 0, true), (ids[0].clone(), 1, false), (ids[1].clone(), 2, false)],
            "the first image becomes the primary (page 14's reorder flow)"
        );

        let foreign_image = uuid::Uuid::now_v7().to_string();
        for wrong in [
            json!({ "image_ids": [ids[0], ids[1]] }),
            json!({ "image_ids": [ids[0], ids[1], ids[1]] }),
            json!({ "image_ids": [ids[0], ids[1], ids[2], foreign_image] }),
            json!({ "image_ids": [ids[0], ids[1], "not-a-uuid"] }),
            json!({}),
        ] {
            let r = app.send(&admin, Method::PUT, &reorder, Some(wrong.clone())).await;
            // An id that is none of the owner's images names an image that does not exist here.
            let expected = if wrong.to_string().contains(&foreign_image.to_string()) {
                (StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND")
            } else {
                (StatusCode::BAD_REQUEST, "INVALID_IMAGE_DATA")
            };
            assert_eq!((r.status, r.code()), expected, "{wrong}");
            assert_eq!(r.fields(), ["image_ids"], "{wrong}");
        }
        let unchanged = listed(&app, &admin, &base).await;
        assert_eq!(unchanged.iter().map(|i| i.1).collect::<Vec<_>>(), [0, 1, 2]);
    }
    let reordered = image_events(app.events(admin.org).await).iter().filter(|e| *e == "images.reordered").count();
    assert_eq!(reordered, 2);
}

#[actix_web::test]
async fn validation_lists_every_failing_field() {
    let app = TestApp::start().await;
    let admin = User::admin();
    for base in owners(&app, &admin, "IMG-V").await {
        let long_url = format!("https://cdn.example.com/{}", "x".repeat(2048));
        let cases = [
            (json!({}), vec!["url"]),
            (json!({ "url": "  " }), vec!["url"]),
            (
                json!({ "url": "ftp://cdn.example.com/a.jpg", "alt": "a".repeat(501), "position": -1 }),
                vec!["url", "alt", "position"],
            ),
            (json!({ "url": "/relative.jpg" }), vec!["url"]),
            (json!({ "url": long_url }), vec!["url"]),
            (json!({ "url": "https://x.io/a.jpg", "caption": "?" }), vec!["caption"]),
            (json!({ "url": "https://x.io/a.jpg", "metadata": [1] }), vec!["metadata"]),
        ];
        for (body, fields) in cases {
            let r = app.post(&admin, &base, body.clone()).await;
            assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_DATA"), "{body}");
            assert_eq!(r.fields(), fields, "{body}");
        }
        let id = add(&app, &admin, &base, json!({ "url": "https://x.io/a.jpg" })).await;
        let item = format!("{base}/{id}");
        let r = app.patch(&admin, &item, json!({ "url": null, "alt": "b".repeat(501), "position": -3 })).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_IMAGE_DATA"));
        assert_eq!(r.fields(), ["url", "alt", "position"]);
        let r = app.patch(&admin, &item, json!({ "url": "javascript:alert(1)" })).await;
        assert_eq!(r.fields(), ["url"]);
        assert_eq!(listed(&app, &admin, &base).await, [(id, 0, true)], "nothing changed");
    }
}

#[actix_web::test]
async fn permissions_follow_the_owner() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let [product_base, variant_base] = owners(&app, &admin, "IMG-P").await;
    let product_image = add(&app, &admin, &product_base, json!({ "url": "https://x.io/p.jpg" })).await;
    let variant_image = add(&app, &admin, &variant_base, json!({ "url": "https://x.io/v.jpg" })).await;

    let reader = admin.colleague(&["catalog.products.read", "catalog.variants.read"]);
    assert_eq!(app.get(&reader, &product_base).await.status, StatusCode::OK);
    assert_eq!(app.get(&reader, &variant_base).await.status, StatusCode::OK);
    // Writing an image is editing its owner: `create` or `delete` on it do not suffice.
    let not_editors =
        admin.colleague(&["catalog.products.create", "catalog.products.delete", "catalog.variants.create"]);
    let cross = admin.colleague(&["catalog.variants.update"]);
    for user in [&reader, &not_editors, &cross] {
        for r in [
            app.post(user, &product_base, json!({ "url": "https://x.io/n.jpg" })).await,
            app.patch(user, &format!("{product_base}/{product_image}"), json!({ "alt": "n" })).await,
            app.delete(user, &format!("{product_base}/{product_image}")).await,
            app.send(
                user,
                Method::PUT,
                &format!("{product_base}/reorder"),
                Some(json!({ "image_ids": [product_image] })),
            )
            .await,
        ] {
            assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        }
    }
    let products_only = admin.colleague(&["catalog.products.update", "catalog.products.read"]);
    assert_eq!(app.get(&products_only, &variant_base).await.status, StatusCode::FORBIDDEN);
    let r = app.post(&products_only, &variant_base, json!({ "url": "https://x.io/n.jpg" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.patch(&products_only, &format!("{variant_base}/{variant_image}"), json!({ "alt": "n" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&cross, &product_base).await.status, StatusCode::FORBIDDEN);

    let editor = admin.colleague(&["catalog.products.update"]);
    assert_eq!(
        app.post(&editor, &product_base, json!({ "url": "https://x.io/e.jpg" })).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.patch(&cross, &format!("{variant_base}/{variant_image}"), json!({ "alt": "ok" })).await.status,
        StatusCode::OK
    );
    let module = admin.colleague(&["catalog:edit"]);
    assert_eq!(app.delete(&module, &format!("{variant_base}/{variant_image}")).await.status, StatusCode::NO_CONTENT);
}

/// Every route and verb, with a foreign owner, a missing owner, another owner's image (same
/// organization) and a foreign image: 404, nothing changes.
#[actix_web::test]
async fn foreign_and_mismatched_ids_are_not_found_on_every_route() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let stranger = User::admin();
    let [mine_p, mine_v] = owners(&app, &admin, "IMG-M").await;
    let [other_p, other_v] = owners(&app, &admin, "IMG-O").await;
    let [theirs_p, theirs_v] = owners(&app, &stranger, "IMG-T").await;
    let missing_p = format!("/api/v1/products/{}/images", uuid::Uuid::now_v7());
    let missing_v = format!("/api/v1/variants/{}/images", uuid::Uuid::now_v7());

    for (mine, other, theirs, missing, owner_code) in [
        (&mine_p, &other_p, &theirs_p, &missing_p, "PRODUCT_NOT_FOUND"),
        (&mine_v, &other_v, &theirs_v, &missing_v, "VARIANT_NOT_FOUND"),
    ] {
        let my_image = add(&app, &admin, mine, json!({ "url": "https://x.io/mine.jpg" })).await;
        let other_image = add(&app, &admin, other, json!({ "url": "https://x.io/other.jpg" })).await;
        let their_image = add(&app, &stranger, theirs, json!({ "url": "https://x.io/theirs.jpg" })).await;
        let body = json!({ "url": "https://x.io/new.jpg" });
        let patch = json!({ "alt": "hijacked", "is_primary": false });

        // The owner is not the caller's (foreign or missing): same answer either way.
        for owner in [theirs, missing] {
            let answers = [
                app.get(&admin, owner).await,
                app.post(&admin, owner, body.clone()).await,
                app.send(&admin, Method::PUT, &format!("{owner}/reorder"), Some(json!({ "image_ids": [their_image] })))
                    .await,
                app.patch(&admin, &format!("{owner}/{their_image}"), patch.clone()).await,
                app.delete(&admin, &format!("{owner}/{their_image}")).await,
            ];
            for r in answers {
                assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, owner_code), "{owner}: {:?}", r.body);
            }
        }
        // The caller's owner, an image that is not its own: another owner's, foreign, missing.
        for image in [&other_image, &their_image, &uuid::Uuid::now_v7().to_string()] {
            let item = format!("{mine}/{image}");
            let r = app.patch(&admin, &item, patch.clone()).await;
            assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND"), "{:?}", r.body);
            let r = app.delete(&admin, &item).await;
            assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "IMAGE_NOT_FOUND"));
        }
        assert_eq!(app.patch(&admin, &format!("{mine}/not-a-uuid"), patch.clone()).await.code(), "IMAGE_NOT_FOUND");
        // Another owner's image cannot be smuggled into a reorder either.
        let r = app
            .send(
                &admin,
                Method::PUT,
                &format!("{mine}/reorder"),
                Some(json!({ "image_ids": [my_image, other_image] })),
            )
            .await;
        assert_eq!(r.fields(), ["image_ids"]);

        assert_eq!(listed(&app, &admin, other).await, [(other_image, 0, true)], "untouched");
        assert_eq!(listed(&app, &stranger, theirs).await, [(their_image, 0, true)], "untouched");
        assert_eq!(listed(&app, &admin, mine).await, [(my_image, 0, true)], "untouched");
    }
    assert_eq!(image_events(app.events(stranger.org).await), ["image.created"; 2]);
}

/// The image URLs of the product and of its variant, as the cache serves them (and fills it).
async fn cached_images(
    app: &TestApp,
    user: &User,
    product_id: ProductId,
    variant_id: VariantId,
) -> (Vec<String>, Vec<String>) {
    let details = app.catalog.product_details(user.org, &[product_id]).await.unwrap().remove(0).unwrap();
    let card = app.catalog.variant_cards(user.org, &[variant_id]).await.unwrap().remove(0).unwrap();
    let variant_urls: Vec<String> = card.images.iter().map(|i| i.url.clone()).collect();
    let embedded: Vec<String> =
        details.variant_images.get(&variant_id).into_iter().flatten().map(|i| i.url.clone()).collect();
    assert_eq!(variant_urls, embedded, "the product's copy of the variant's images agrees");
    (details.images.iter().map(|i| i.url.clone()).collect(), variant_urls)
}

#[actix_web::test]
async fn writes_invalidate_the_cached_product_and_variant() {
    let app = TestApp::start().await;
    let admin = User::admin();
    let (product_id, variant_id) = product(&app, &admin, "IMG-C").await;
    let cached = || cached_images(&app, &admin, product_id, variant_id);
    let urls = |names: &[&str]| names.iter().map(|n| format!("https://x.io/{n}.jpg")).collect::<Vec<_>>();
    assert_eq!(cached().await, (vec![], vec![]), "now cached, empty");

    // Each write checked on its own, so one owner's invalidation never hides the other's.
    let p_base = format!("/api/v1/products/{product_id}/images");
    let v_base = format!("/api/v1/variants/{variant_id}/images");
    let p1 = add(&app, &admin, &p_base, json!({ "url": "https://x.io/p1.jpg" })).await;
    assert_eq!(cached().await, (urls(&["p1"]), vec![]));
    let v1 = add(&app, &admin, &v_base, json!({ "url": "https://x.io/v1.jpg" })).await;
    assert_eq!(cached().await, (urls(&["p1"]), urls(&["v1"])));

    app.patch(&admin, &format!("{p_base}/{p1}"), json!({ "url": "https://x.io/p2.jpg" })).await;
    assert_eq!(cached().await, (urls(&["p2"]), urls(&["v1"])));
    app.patch(&admin, &format!("{v_base}/{v1}"), json!({ "url": "https://x.io/v2.jpg" })).await;
    assert_eq!(cached().await, (urls(&["p2"]), urls(&["v2"])));

    let p3 = add(&app, &admin, &p_base, json!({ "url": "https://x.io/p3.jpg" })).await;
    let v3 = add(&app, &admin, &v_base, json!({ "url": "https://x.io/v3.jpg" })).await;
    assert_eq!(cached().await, (urls(&["p2", "p3"]), urls(&["v2", "v3"])));
    app.send(&admin, Method::PUT, &format!("{p_base}/reorder"), Some(json!({ "image_ids": [p3, p1] }))).await;
    assert_eq!(cached().await, (urls(&["p3", "p2"]), urls(&["v2", "v3"])));
    app.send(&admin, Method::PUT, &format!("{v_base}/reorder"), Some(json!({ "image_ids": [v3, v1] }))).await;
    assert_eq!(cached().await, (urls(&["p3", "p2"]), urls(&["v3", "v2"])));

    app.delete(&admin, &format!("{p_base}/{p3}")).await;
    assert_eq!(cached().await, (urls(&["p2"]), urls(&["v3", "v2"])));
    app.delete(&admin, &format!("{v_base}/{v3}")).await;
    assert_eq!(cached().await, (urls(&["p2"]), urls(&["v2"])));

    // The product answer embeds both: its own images, and each variant's under the variant.
    let read = app.get(&admin, &format!("/api/v1/products/{product_id}")).await;
    let urls_of = |images: &Value| -> Vec<String> {
        images.as_array().unwrap().iter().map(|i| i["url"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        (urls_of(&read.data()["images"]), urls_of(&read.data()["variants"][0]["images"])),
        (urls(&["p2"]), urls(&["v2"]))
    );
    assert_eq!(read.data()["variants"][0]["images"][0]["image_id"], json!(v1));
}

#[actix_web::test]
async fn documented_in_openapi() {
    let app = TestApp::start().await;
    let doc: Reply = app.call(actix_web::test::TestRequest::get().uri("/openapi.json").to_request()).await;
    for (path, verbs) in [
        ("/api/v1/products/{id}/images", &["get", "post"][..]),
        ("/api/v1/products/{id}/images/{image_id}", &["patch", "delete"]),
        ("/api/v1/products/{id}/images/reorder", &["put"]),
        ("/api/v1/variants/{id}/images", &["get", "post"]),
        ("/api/v1/variants/{id}/images/{image_id}", &["patch", "delete"]),
        ("/api/v1/variants/{id}/images/reorder", &["put"]),
    ] {
        for verb in verbs {
            assert!(doc.body["paths"][path][verb].is_object(), "{verb} {path}");
        }
    }
}
