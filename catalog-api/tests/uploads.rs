//! Image files uploaded to `/api/v1/{products|variants}/{id}/images` (page 22): real jpg, png
//! and webp files made here, every refusal with its documented code, and the store left as the
//! rows say — renditions of accepted uploads, nothing of refused ones. Each test runs against
//! the local filesystem and against a real S3-protocol server (moto, started by the test
//! script; `TEST_S3_ENDPOINT`), which the fault test also takes down behind a proxy.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use actix_web::http::{StatusCode, header};
use actix_web::test::TestRequest;
use catalog_core::media::MediaStore;
use catalog_core::models::{Actor, NewProduct, NewVariant};
use catalog_core::repo;
use catalog_core::testing::{FaultProxy, s3_bucket, s3_endpoint};
use common::{Reply, TestApp, User};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use std::io::Cursor;

fn photo(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

/// A `multipart/form-data` body as browsers build it: the file part, then text fields.
fn form(file: Option<(&str, &[u8])>, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----WebKitFormBoundaryCatalogUpload";
    let mut body = Vec::new();
    if let Some((filename, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n\
                 Content-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, user: &User, path: &str, file: Option<(&str, &[u8])>, fields: &[(&str, &str)]) -> Reply {
    let (content_type, body) = form(file, fields);
    let req = TestRequest::post()
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {}", user.token)))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body);
    app.call(req.to_request()).await
}

/// A product of `user`'s organization with its default variant: (product path, variant path).
async fn owner_paths(app: &TestApp, user: &User, sku: &str) -> (String, String) {
    let conn = &mut *app.db.conn().await;
    let new = NewProduct::new(format!("Producto {sku}"), sku);
    let (product, variant) = repo::products::create(
        conn,
        user.org,
        &Actor::system(),
        new,
        Some(NewVariant::new("", rust_decimal::Decimal::ONE)),
    )
    .await
    .unwrap();
    (format!("/api/v1/products/{}/images", product.id), format!("/api/v1/variants/{}/images", variant.unwrap().id))
}

/// Where a test's app stores uploaded files.
#[derive(Debug, Clone, Copy)]
enum Store {
    LocalFiles,
    S3,
}

async fn app_on(store: Store) -> TestApp {
    match store {
        Store::LocalFiles => TestApp::start().await,
        Store::S3 => TestApp::start_with(&s3_bucket(&s3_endpoint()).await).await,
    }
}

fn media_store(app: &TestApp) -> MediaStore {
    MediaStore::from_settings(&app.settings.storage).unwrap()
}

/// Every object the app's store holds.
async fn stored_files(app: &TestApp) -> Vec<String> {
    media_store(app).keys().await.unwrap()
}

/// Keys in the store's outbox (`media_deletions`), and whether all are due now.
async fn scheduled_removals(app: &TestApp) -> (i64, bool) {
    use diesel::sql_types::{BigInt, Bool};
    use diesel_async::RunQueryDsl as _;
    diesel::dsl::sql::<(BigInt, Bool)>(
        "SELECT count(*), coalesce(bool_and(due_at <= now()), false) FROM media_deletions",
    )
    .get_result(&mut *app.db.conn().await)
    .await
    .unwrap()
}

/// `#[test]`s running the suite function of the same name on each store.
macro_rules! on_each_store {
    ($($suite:ident),* $(,)?) => {$(
        mod $suite {
            #[actix_web::test]
            async fn on_local_files() {
                super::$suite(super::Store::LocalFiles).await
            }
            #[actix_web::test]
            async fn on_s3() {
                super::$suite(super::Store::S3).await
            }
        }
    )*};
}

on_each_store!(
    jpg_png_and_webp_uploads_store_four_renditions_and_answer_page_22s_fields,
    every_size_within_page_22s_bounds_gets_renditions_never_enlarged,
    refused_files_get_page_22s_codes_and_leave_nothing_behind,
);

async fn jpg_png_and_webp_uploads_store_four_renditions_and_answer_page_22s_fields(store: Store) {
    let app = app_on(store).await;
    let user = User::admin();
    let store = media_store(&app);
    let (product, variant) = owner_paths(&app, &user, "UP-1").await;
    let mut seen = Vec::new();
    for (path, format, name) in [
        (&product, ImageFormat::Jpeg, "jpg"),
        (&product, ImageFormat::Png, "png"),
        (&product, ImageFormat::WebP, "webp"),
        (&variant, ImageFormat::Jpeg, "jpg"),
    ] {
        let file = photo(1600, 1000, format);
        let r = upload(
            &app,
            &user,
            path,
            Some(("foto.bin", &file)),
            &[("alt_text", "Vista frontal"), ("is_primary", "true")],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        let data = r.data();
        assert_eq!((data["alt_text"].as_str(), data["is_primary"].as_bool()), (Some("Vista frontal"), Some(true)));
        let metadata = &data["metadata"];
        assert_eq!(
            (&metadata["width"], &metadata["height"], &metadata["format"], &metadata["size_bytes"]),
            (&json!(1600), &json!(1000), &json!(name), &json!(file.len())),
            "{name}"
        );
        let sides: Vec<(u64, u64)> = ["original", "large", "medium", "thumb"]
            .iter()
            .map(|size| {
                let rendition = &metadata["renditions"][size];
                (rendition["width"].as_u64().unwrap(), rendition["height"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(sides, [(1600, 1000), (1200, 750), (600, 375), (150, 94)]);
        let url = data["url"].as_str().unwrap();
        let owner_kind = if path.starts_with("/api/v1/products") { "products" } else { "variants" };
        let image_id = data["image_id"].as_str().unwrap();
        assert!(url.starts_with(&format!("http://media.test/{}/{owner_kind}/", user.org)), "{url}");
        assert!(url.ends_with(&format!("/{image_id}_original.jpg")), "{url}");
        for key in metadata["storage_keys"].as_array().unwrap() {
            let key = key.as_str().unwrap();
            assert!(store.exists(key).await.unwrap(), "{key}");
            // Served by the API itself under /media/ (the local run's public base).
            let (status, bytes) = app.call_bytes(TestRequest::get().uri(&format!("/media/{key}")).to_request()).await;
            assert_eq!((status, image::guess_format(&bytes).ok()), (StatusCode::OK, Some(ImageFormat::Jpeg)), "{key}");
            seen.push(key.to_string());
        }
    }
    seen.sort();
    assert_eq!(stored_files(&app).await, seen);
    assert_eq!(scheduled_removals(&app).await.0, 0, "committed images' files are never scheduled for removal");
    // The last primary upload of each owner is its primary; the product lists three images.
    let listed = app.get(&user, &product).await;
    assert_eq!(listed.data()["total_images"], 3);
    let (status, _) = app.call_bytes(TestRequest::get().uri("/media/../../etc/passwd").to_request()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The bounds themselves (200 px, 4000 px), portrait and landscape, each format: every
/// rendition fits its size, none is enlarged, the aspect ratio holds within a pixel, and each
/// stored file decodes to the size the answer states.
async fn every_size_within_page_22s_bounds_gets_renditions_never_enlarged(store: Store) {
    let app = app_on(store).await;
    let user = User::admin();
    let media = media_store(&app);
    let (product, variant) = owner_paths(&app, &user, "UP-S").await;
    let cases = [
        (&product, 200, 200, ImageFormat::Png),
        (&product, 4000, 250, ImageFormat::Jpeg),
        (&product, 900, 1400, ImageFormat::WebP),
        (&variant, 250, 4000, ImageFormat::Png),
        (&variant, 1300, 1300, ImageFormat::Jpeg),
    ];
    for (path, width, height, format) in cases {
        let r = upload(&app, &user, path, Some(("foto", &photo(width, height, format))), &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{width}×{height} {format:?}: {:?}", r.body);
        let metadata = &r.data()["metadata"];
        for (size, max) in [("original", u32::MAX), ("large", 1200), ("medium", 600), ("thumb", 150)] {
            let rendition = &metadata["renditions"][size];
            let side = |name: &str| u32::try_from(rendition[name].as_u64().unwrap()).unwrap();
            let (w, h) = (side("width"), side("height"));
            let expected_long = width.max(height).min(max);
            assert_eq!(w.max(h), expected_long, "{width}×{height} {size}");
            let exact = f64::from(expected_long) * f64::from(width.min(height)) / f64::from(width.max(height));
            assert!((f64::from(w.min(h)) - exact).abs() <= 1.0, "{width}×{height} {size}: {w}×{h}");
            assert_eq!(w >= h, width >= height, "{width}×{height} {size}: orientation kept");
            let url = rendition["url"].as_str().unwrap();
            let key = url.trim_start_matches("http://media.test/");
            let stored = media.get(key).await.unwrap().unwrap();
            let decoded = image::load_from_memory(&stored).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (w, h), "{key}");
        }
    }
    assert_eq!(stored_files(&app).await.len(), cases.len() * 4);
}

async fn refused_files_get_page_22s_codes_and_leave_nothing_behind(store: Store) {
    let app = app_on(store).await;
    let user = User::admin();
    let (product, _) = owner_paths(&app, &user, "UP-2").await;
    let png = photo(400, 400, ImageFormat::Png);
    // The header claims 60,000 × 60,000 px (14 GB decoded).
    let bomb = catalog_core::testing::png_claiming(&photo(300, 300, ImageFormat::Png), 60_000, 60_000);
    let oversized = vec![0xFF; 5 * 1024 * 1024 + 1];
    let cases: [(&str, Vec<u8>, StatusCode, &str); 6] = [
        ("text named .jpg", b"not an image at all".to_vec(), StatusCode::BAD_REQUEST, "INVALID_IMAGE_FORMAT"),
        ("truncated png", png[..png.len() / 2].to_vec(), StatusCode::BAD_REQUEST, "INVALID_IMAGE_FORMAT"),
        ("150 px", photo(150, 150, ImageFormat::Jpeg), StatusCode::UNPROCESSABLE_ENTITY, "IMAGE_TOO_SMALL"),
        ("4001 px", photo(4001, 300, ImageFormat::Png), StatusCode::PAYLOAD_TOO_LARGE, "IMAGE_TOO_LARGE"),
        ("decompression bomb", bomb, StatusCode::PAYLOAD_TOO_LARGE, "IMAGE_TOO_LARGE"),
        ("over 5 MB", oversized, StatusCode::PAYLOAD_TOO_LARGE, "IMAGE_TOO_LARGE"),
    ];
    for (what, file, status, code) in cases {
        let r = upload(&app, &user, &product, Some(("foto.jpg", &file)), &[]).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {:?}", r.body);
    }
    let r = upload(&app, &user, &product, Some(("a.jpg", b"GIF89a\x2c\x01\x2c\x01\0\0\0;")), &[]).await;
    assert_eq!(r.body["error"]["details"]["provided_format"], "gif");
    assert_eq!(r.body["error"]["details"]["allowed_formats"], json!(["jpg", "jpeg", "png", "webp"]));
    let r = upload(&app, &user, &product, Some(("big.jpg", &vec![0; 6 * 1024 * 1024])), &[]).await;
    assert_eq!(r.body["error"]["details"]["max_size_bytes"], 5 * 1024 * 1024);
    let r = upload(&app, &user, &product, None, &[("alt_text", "sin archivo")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "image", "{:?}", r.body);

    // A file that is fine but cannot be added (the product is full) leaves no object either.
    for n in 0..10 {
        let r = app.post(&user, &product, json!({"url": format!("https://cdn.example.com/{n}.jpg")})).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = upload(&app, &user, &product, Some(("ok.jpg", &photo(400, 400, ImageFormat::Jpeg))), &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "MAX_IMAGES_EXCEEDED"));
    assert_eq!(stored_files(&app).await, Vec::<String>::new());
    assert_eq!(scheduled_removals(&app).await.0, 0, "removed at once, nothing left for the worker");
    let listed: Value = app.get(&user, &product).await.body;
    assert_eq!(listed["data"]["total_images"], 10);
}

/// Object storage down during an upload: a clean 503, no row, no object; the files the upload
/// may have written are due for removal at once rather than at the grace's end. Back up, the
/// same upload succeeds.
#[actix_web::test]
async fn an_upload_while_the_store_is_down_is_a_clean_503_and_leaves_nothing() {
    let proxy = FaultProxy::start(s3_endpoint().trim_start_matches("http://").to_string()).await;
    let mut env = s3_bucket(&s3_endpoint()).await;
    env.push(("STORAGE_S3_ENDPOINT".into(), proxy.url()));
    let app = TestApp::start_with(&env).await;
    let user = User::admin();
    let (product, _) = owner_paths(&app, &user, "UP-3").await;
    let file = photo(800, 600, ImageFormat::Jpeg);

    proxy.set_down(true);
    let r = upload(&app, &user, &product, Some(("foto.jpg", &file)), &[]).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"), "{:?}", r.body);
    proxy.set_down(false);
    assert_eq!(app.get(&user, &product).await.data()["total_images"], 0);
    assert_eq!(stored_files(&app).await, Vec::<String>::new());
    assert_eq!(scheduled_removals(&app).await, (4, true), "the four renditions' keys due for removal now");

    let r = upload(&app, &user, &product, Some(("foto.jpg", &file)), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(stored_files(&app).await.len(), 4);
}
