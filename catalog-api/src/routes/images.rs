//! Images (by URL) of products and of variants: `/api/v1/products/{id}/images` and
//! `/api/v1/variants/{id}/images`, five routes each.
//!
//! - Permissions: reading needs `read` on the owner's resource; every write (add, change,
//!   delete, reorder) needs `update` on it — an image is part of its product or variant, so
//!   whoever may edit the owner may edit its pictures (`create`/`delete` are about owners).
//! - Images have no `version` column: answers carry no `ETag` and `If-Match` is not checked.
//! - An image id under another owner (of the same organization or not) is `IMAGE_NOT_FOUND`;
//!   a missing or foreign owner is `PRODUCT_NOT_FOUND` / `VARIANT_NOT_FOUND`.
//! - Lists are the owner's whole set by position (an owner has few images): no pagination.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::openapi::accepts;
use crate::reply;
use crate::state::{ApiState, PooledConn};
use crate::views::{ProductImageView, VariantImageView};
use actix_web::http::header::{CONTENT_TYPE, ETAG, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{ImageId, ProductId, VariantId};
use catalog_core::media::upload::{self, StoredImage};
use catalog_core::media::{UploadOwner, render};
use catalog_core::models::{ImageChanges, NewProductImage, NewVariantImage, ProductImage, VariantImage};
use catalog_core::repo::images::{self, IMAGE_EVENT_VERSION};
use catalog_core::repo::{products, variants};
use catalog_core::validate::{Check, nullable};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_product_images,
        add_product_image,
        update_product_image,
        delete_product_image,
        reorder_product_images,
        list_variant_images,
        add_variant_image,
        update_variant_image,
        delete_variant_image,
        reorder_variant_images
    ),
    components(schemas(CreateImage, ImageUpload, UpdateImage, ReorderImages, ProductImageView, VariantImageView))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `reorder` before `{image_id}`: the first resource whose pattern matches answers.
    cfg.service(
        web::resource("/products/{id}/images")
            .route(web::get().to(list_product_images))
            .route(web::post().to(add_product_image)),
    )
    .service(web::resource("/products/{id}/images/reorder").route(web::put().to(reorder_product_images)))
    .service(
        web::resource("/products/{id}/images/{image_id}")
            .route(web::patch().to(update_product_image))
            .route(web::put().to(update_product_image))
            .route(web::delete().to(delete_product_image)),
    )
    .service(
        web::resource("/variants/{id}/images")
            .route(web::get().to(list_variant_images))
            .route(web::post().to(add_variant_image)),
    )
    .service(web::resource("/variants/{id}/images/reorder").route(web::put().to(reorder_variant_images)))
    .service(
        web::resource("/variants/{id}/images/{image_id}")
            .route(web::patch().to(update_variant_image))
            .route(web::put().to(update_variant_image))
            .route(web::delete().to(delete_variant_image)),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImage {
    /// Absolute http(s) URL, at most 2048 characters.
    #[serde(alias = "image_url")]
    #[schema(schema_with = accepts::required_url, required = true)]
    pub url: Option<String>,
    /// At most 500 characters.
    #[serde(alias = "alt_text")]
    #[schema(schema_with = accepts::text::<ALT_MAX>)]
    pub alt: Option<String>,
    /// 0 or more; absent appends after the last image.
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// Makes it the owner's only primary image. The owner's first image is primary anyway.
    pub is_primary: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

/// An image file upload, as an HTML form or `fetch` with `FormData` sends it (page 22).
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; the handler streams the parts.
pub struct ImageUpload {
    /// jpg, png or webp, up to 5 MB, 200–4000 px a side.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// At most 500 characters.
    alt_text: Option<String>,
    /// 0 or more; absent appends after the last image.
    position: Option<i64>,
    /// Makes it the owner's only primary image.
    is_primary: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateImage {
    #[serde(default, alias = "image_url", deserialize_with = "nullable")]
    #[schema(schema_with = accepts::required_url)]
    pub url: Option<Option<String>>,
    #[serde(default, alias = "alt_text", deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<ALT_MAX>)]
    pub alt: Option<Option<String>>,
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// `true` unsets the previous primary; `false` on the primary is refused (422
    /// `PRIMARY_IMAGE_REQUIRED`): make another image primary instead.
    pub is_primary: Option<bool>,
    /// Replaces the image's metadata.
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderImages {
    /// Every one of the owner's image ids exactly once, in the new order (`image_order` in the
    /// pages).
    #[serde(alias = "image_order")]
    #[schema(schema_with = accepts::ids, required = true)]
    pub image_ids: Option<Vec<String>>,
}

/// The validated fields of a new image.
struct NewImage {
    url: String,
    alt: Option<String>,
    /// Negative appends (the repository's convention).
    position: i32,
    is_primary: bool,
    metadata: Option<Value>,
}

const ALT_MAX: usize = 500;

/// A whole upload request: page 22's 5 MB file plus room for the form around it. (The file's
/// own limit is checked as it streams; this bounds what a retry's fingerprint buffers.)
pub const UPLOAD_BODY_LIMIT_BYTES: usize = render::MAX_FILE_BYTES + 64 * 1024;

/// `/api/v1/{products|variants}/{id}/images`: where files are uploaded.
pub fn is_upload_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["", "api", "v1", "products" | "variants", _, "images"])
}
const POSITION_MAX: i64 = i32::MAX as i64;

fn check_create(body: CreateImage) -> Result<NewImage, ApiError> {
    let mut check = Check::new(Entity::Image);
    if body.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
        check.fail("url", "is required");
    }
    let url = check.url("url", body.url.as_deref());
    let alt = check.text("alt", body.alt.as_deref(), ALT_MAX);
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    Ok(NewImage {
        url: url.unwrap_or_default(),
        alt,
        position: position.unwrap_or(-1),
        is_primary: body.is_primary.unwrap_or(false),
        metadata,
    })
}

fn check_update(body: UpdateImage) -> Result<ImageChanges, ApiError> {
    let mut check = Check::new(Entity::Image);
    let url = match body.url {
        None => None,
        Some(url) if url.as_deref().is_none_or(|u| u.trim().is_empty()) => {
            check.fail("url", "is required");
            None
        }
        Some(url) => check.url("url", url.as_deref()),
    };
    let alt = body.alt.map(|a| a.and_then(|a| check.text("alt", Some(&a), ALT_MAX)));
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    Ok(ImageChanges { url, alt, position, is_primary: body.is_primary, metadata })
}

/// `image_ids` parsed; the repository checks they are exactly the owner's images.
fn check_reorder(body: ReorderImages) -> Result<Vec<ImageId>, ApiError> {
    let mut check = Check::new(Entity::Image);
    let Some(raw) = body.image_ids else {
        check.fail("image_ids", "is required");
        check.finish()?;
        return Ok(Vec::new());
    };
    let ids: Vec<ImageId> = raw.iter().filter_map(|id| id.trim().parse().ok()).collect();
    if ids.len() != raw.len() {
        check.fail("image_ids", "must be UUIDs");
    }
    check.finish()?;
    Ok(ids)
}

/// What `POST .../images` carried: an image by URL (JSON, page 22's second form) or a file.
enum Body {
    Url(NewImage),
    File(ImageForm),
}

/// A `multipart/form-data` upload (page 22's first form): the file part `image` and the
/// optional fields `alt_text`, `position` and `is_primary`.
struct ImageForm {
    file: Vec<u8>,
    fields: FormFields,
}

struct FormFields {
    alt: Option<String>,
    position: i32,
    is_primary: bool,
}

impl FormFields {
    /// The new row's fields once the file is stored.
    fn stored(&self, stored: &StoredImage) -> NewImage {
        NewImage {
            url: stored.url.clone(),
            alt: self.alt.clone(),
            position: self.position,
            is_primary: self.is_primary,
            metadata: Some(stored.metadata.clone()),
        }
    }
}

/// The body as its Content-Type says: a form with a file, or JSON naming a URL.
async fn read_body(req: &HttpRequest, payload: web::Payload, json_limit: usize) -> Result<Body, ApiError> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "multipart/form-data" => Ok(Body::File(read_form(req.headers(), payload).await?)),
        "application/json" => {
            let bytes = payload
                .to_bytes_limited(json_limit)
                .await
                .map_err(|_| Error::PayloadTooLarge(format!("request body larger than {json_limit} bytes")))?
                .map_err(|e| Error::InvalidArgument { field: "body", message: e.to_string() })?;
            let body: CreateImage = serde_json::from_slice(&bytes).map_err(|e| crate::error::body_error(&e))?;
            Ok(Body::Url(check_create(body)?))
        }
        _ => Err(ApiError(Error::InvalidArgument {
            field: "body",
            message: "expected Content-Type: application/json (an image by URL) or multipart/form-data (a file)".into(),
        })),
    }
}

/// Reads the form part by part; the file is taken up to page 22's 5 MB and refused (413
/// `IMAGE_TOO_LARGE`) as soon as it passes it, without reading the rest.
async fn read_form(headers: &HeaderMap, payload: web::Payload) -> Result<ImageForm, ApiError> {
    let bad_form =
        |e: actix_multipart::MultipartError| Error::InvalidArgument { field: "body", message: e.to_string() };
    // The file is most of the body: sized once from the request's length, it is not copied
    // over and over (nor left with twice the room it needs) as it grows.
    let expected_file_bytes = headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<usize>().ok())
        .map_or(0, |length| length.min(render::MAX_FILE_BYTES + 1));
    let mut form = actix_multipart::Multipart::new(headers, payload);
    let mut check = Check::new(Entity::Image);
    let (mut file, mut alt, mut position, mut is_primary) = (None, None, None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad_form)?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" || name == "file" {
            let mut bytes = Vec::with_capacity(expected_file_bytes);
            while let Some(chunk) = field.next().await {
                bytes.extend_from_slice(&chunk.map_err(bad_form)?);
                if bytes.len() > render::MAX_FILE_BYTES {
                    return Err(ApiError(upload::file_too_large(bytes.len())));
                }
            }
            file = Some(bytes);
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.next().await {
            text.extend_from_slice(&chunk.map_err(bad_form)?);
            if text.len() > 4 * ALT_MAX {
                return Err(ApiError(Error::field(Entity::Image, name, "is too long")));
            }
        }
        let text = String::from_utf8_lossy(&text).trim().to_string();
        match name.as_str() {
            "alt_text" | "alt" => alt = check.text("alt", Some(&text), ALT_MAX),
            "position" => match text.parse::<i64>() {
                Ok(n) => position = check.int("position", Some(n), 0, POSITION_MAX),
                Err(_) => check.fail("position", "must be a whole number"),
            },
            "is_primary" => match text.as_str() {
                "true" | "1" => is_primary = Some(true),
                "false" | "0" | "" => is_primary = Some(false),
                _ => check.fail("is_primary", "must be true or false"),
            },
            other => check.fail(other, "is not a field of an image upload (image, alt_text, position, is_primary)"),
        }
    }
    if file.is_none() {
        check.fail("image", "is required: send the file as the multipart/form-data part `image`");
    }
    check.finish()?;
    let fields = FormFields { alt, position: position.unwrap_or(-1), is_primary: is_primary.unwrap_or(false) };
    Ok(ImageForm { file: file.unwrap_or_default(), fields })
}

/// `GET /media/{key}`: an uploaded image's file, public like a CDN's (what the local run's
/// `STORAGE_PUBLIC_BASE_URL` points at; production serves the bucket through a CDN instead).
/// Keys hold a random image id, and a file never changes once written.
pub async fn media(state: web::Data<ApiState>, key: web::Path<String>) -> ApiResult {
    let Some(bytes) = state.uploads.store().get(&key).await? else {
        return Err(ApiError(Error::NotFound(Entity::Image)));
    };
    let content_type = match key.rsplit_once('.').map(|(_, extension)| extension) {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        _ => "application/octet-stream",
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(bytes))
}

/// 201 in the envelope, without the `ETag` `reply::created` adds: images are unversioned.
fn created(image: impl Serialize) -> HttpResponse {
    let mut response = reply::created(image, IMAGE_EVENT_VERSION);
    response.headers_mut().remove(ETAG);
    response
}

/// The product's image `image_id`; 404 `PRODUCT_NOT_FOUND` for a missing or foreign product,
/// `IMAGE_NOT_FOUND` for an image that is not this product's.
async fn product_image(
    conn: &mut PooledConn<'_>,
    caller: &Caller,
    product_id: ProductId,
    image_id: ImageId,
) -> Result<ProductImage, ApiError> {
    let owned = images::list_product_images(conn, caller.org(), &[product_id]).await?;
    if let Some(image) = owned.into_iter().find(|i| i.id == image_id) {
        return Ok(image);
    }
    products::get(conn, caller.org(), product_id).await?;
    Err(ApiError(Error::NotFound(Entity::Image)))
}

/// Same as [`product_image`] for a variant, whose product id the cache invalidation needs.
async fn variant_image(
    conn: &mut PooledConn<'_>,
    caller: &Caller,
    variant_id: VariantId,
    image_id: ImageId,
) -> Result<(ProductId, VariantImage), ApiError> {
    let variant = variants::get(conn, caller.org(), variant_id).await?;
    let owned = images::list_variant_images(conn, caller.org(), &[variant_id]).await?;
    let image = owned.into_iter().find(|i| i.id == image_id).ok_or(ApiError(Error::NotFound(Entity::Image)))?;
    Ok((variant.product_id, image))
}

// ---------------------------------------------------------------------------------------------
// Product images

/// The product's images by position.
#[utoipa::path(get, path = "/api/v1/products/{id}/images", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    responses((status = 200, body = crate::openapi::ProductImages), (status = 403, description = "FORBIDDEN"), (status = 404, description = "PRODUCT_NOT_FOUND")))]
pub async fn list_product_images(caller: Caller, state: web::Data<ApiState>, id: web::Path<ProductId>) -> ApiResult {
    caller.require(Resource::Products, Action::Read)?;
    let conn = &mut state.conn().await?;
    let found = images::list_product_images(conn, caller.org(), &[*id]).await?;
    if found.is_empty() {
        // No images, or no such product: only the latter is a 404.
        products::get(conn, caller.org(), *id).await?;
    }
    let images: Vec<ProductImageView> = found.into_iter().map(Into::into).collect();
    Ok(reply::ok(json!({ "product_id": *id, "total_images": images.len(), "images": images })))
}

/// Adds an image; the product's first image, or one sent with `is_primary`, becomes primary.
#[utoipa::path(post, path = "/api/v1/products/{id}/images", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    request_body(description = "An image by URL (JSON), or a file (multipart form, part `image`)", content((CreateImage = "application/json"), (ImageUpload = "multipart/form-data"))),
    responses((status = 201, body = ProductImageView), (status = 400, description = "INVALID_IMAGE_DATA, INVALID_IMAGE_FORMAT"), (status = 403, description = "FORBIDDEN (needs catalog.products.update)"), (status = 404, description = "PRODUCT_NOT_FOUND"), (status = 413, description = "IMAGE_TOO_LARGE"), (status = 422, description = "IMAGE_TOO_SMALL, MAX_IMAGES_EXCEEDED"), (status = 503, description = "SERVICE_UNAVAILABLE (object storage)")))]
pub async fn add_product_image(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let (org, actor, product_id) = (caller.org(), &caller.actor, *id);
    // A missing product is answered before its file is read.
    products::get(&mut *state.conn().await?, org, product_id).await?;
    let row = |new: NewImage, id: ImageId| NewProductImage {
        metadata: new.metadata,
        id,
        organization_id: org,
        product_id,
        url: new.url,
        alt: new.alt,
        position: new.position,
        is_primary: new.is_primary,
    };
    // The body is read (and a file rendered and stored) before a connection is taken: a slow
    // upload must not hold one of the pool's few connections.
    let image = match read_body(&req, payload, state.settings.api.body_limit_bytes).await? {
        Body::Url(new) => {
            let conn = &mut state.conn().await?;
            let write = images::add_product_image(conn, org, actor, product_id, row(new, ImageId::generate()));
            state.catalog.write(write).await?
        }
        Body::File(form) => {
            let owner = UploadOwner { kind: "products", id: product_id.into() };
            let upload = state.uploads.upload(org, owner, form.file, async |stored: &StoredImage| {
                let conn = &mut state.pg.get().await?;
                let row = row(form.fields.stored(stored), stored.id);
                images::add_product_image(conn, org, actor, product_id, row).await
            });
            state.catalog.write(upload).await?
        }
    };
    Ok(created(ProductImageView::from(image)))
}

/// Partial update. Images are unversioned: no `ETag`, `If-Match` is not checked.
#[utoipa::path(patch, path = "/api/v1/products/{id}/images/{image_id}", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Product id"), ("image_id" = uuid::Uuid, Path, description = "Image id")),
    request_body = UpdateImage,
    responses((status = 200, body = ProductImageView), (status = 400, description = "INVALID_IMAGE_DATA"), (status = 403, description = "FORBIDDEN"), (status = 404, description = "PRODUCT_NOT_FOUND, IMAGE_NOT_FOUND"), (status = 422, description = "PRIMARY_IMAGE_REQUIRED (is_primary false on the primary)")))]
pub async fn update_product_image(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(ProductId, ImageId)>,
    body: web::Json<UpdateImage>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let (product_id, image_id) = path.into_inner();
    let changes = check_update(body.into_inner())?;
    let conn = &mut state.conn().await?;
    product_image(conn, &caller, product_id, image_id).await?;
    let image =
        state.catalog.write(images::update_product_image(conn, caller.org(), &caller.actor, image_id, changes)).await?;
    Ok(reply::ok(ProductImageView::from(image)))
}

/// Deleting the primary image promotes the lowest-position remaining one.
#[utoipa::path(delete, path = "/api/v1/products/{id}/images/{image_id}", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Product id"), ("image_id" = uuid::Uuid, Path, description = "Image id")),
    responses((status = 204), (status = 403, description = "FORBIDDEN"), (status = 404, description = "PRODUCT_NOT_FOUND, IMAGE_NOT_FOUND")))]
pub async fn delete_product_image(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(ProductId, ImageId)>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let (product_id, image_id) = path.into_inner();
    let conn = &mut state.conn().await?;
    product_image(conn, &caller, product_id, image_id).await?;
    state.catalog.write(images::delete_product_image(conn, caller.org(), &caller.actor, image_id)).await?;
    Ok(reply::no_content())
}

/// Positions 0..n in the order given, the first becoming the primary (page 14); answers the
/// images in their new order.
#[utoipa::path(put, path = "/api/v1/products/{id}/images/reorder", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    request_body = ReorderImages,
    responses((status = 200, body = crate::openapi::ProductImagesReordered), (status = 400, description = "INVALID_IMAGE_DATA (image_ids must name each of the product's images once)"), (status = 403, description = "FORBIDDEN"), (status = 404, description = "PRODUCT_NOT_FOUND")))]
pub async fn reorder_product_images(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<ProductId>,
    body: web::Json<ReorderImages>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Update)?;
    let ordered = check_reorder(body.into_inner())?;
    let found = state
        .catalog
        .write(images::reorder_product_images(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ordered))
        .await?;
    let images: Vec<ProductImageView> = found.into_iter().map(Into::into).collect();
    Ok(reply::ok(reordered("product_id", *id, images, |i| (i.image_id, i.image.position))))
}

// ---------------------------------------------------------------------------------------------
// Variant images

/// The variant's images by position.
#[utoipa::path(get, path = "/api/v1/variants/{id}/images", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Variant id")),
    responses((status = 200, body = crate::openapi::VariantImages), (status = 403, description = "FORBIDDEN"), (status = 404, description = "VARIANT_NOT_FOUND")))]
pub async fn list_variant_images(caller: Caller, state: web::Data<ApiState>, id: web::Path<VariantId>) -> ApiResult {
    caller.require(Resource::Variants, Action::Read)?;
    let conn = &mut state.conn().await?;
    let found = images::list_variant_images(conn, caller.org(), &[*id]).await?;
    if found.is_empty() {
        variants::get(conn, caller.org(), *id).await?;
    }
    let images: Vec<VariantImageView> = found.into_iter().map(Into::into).collect();
    Ok(reply::ok(json!({ "variant_id": *id, "total_images": images.len(), "images": images })))
}

/// Adds an image; the variant's first image, or one sent with `is_primary`, becomes primary.
#[utoipa::path(post, path = "/api/v1/variants/{id}/images", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Variant id")),
    request_body(description = "An image by URL (JSON), or a file (multipart form, part `image`)", content((CreateImage = "application/json"), (ImageUpload = "multipart/form-data"))),
    responses((status = 201, body = VariantImageView), (status = 400, description = "INVALID_IMAGE_DATA, INVALID_IMAGE_FORMAT"), (status = 403, description = "FORBIDDEN (needs catalog.variants.update)"), (status = 404, description = "VARIANT_NOT_FOUND"), (status = 413, description = "IMAGE_TOO_LARGE"), (status = 422, description = "IMAGE_TOO_SMALL, MAX_IMAGES_EXCEEDED"), (status = 503, description = "SERVICE_UNAVAILABLE (object storage)")))]
pub async fn add_variant_image(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let (org, actor, variant_id) = (caller.org(), &caller.actor, *id);
    variants::get(&mut *state.conn().await?, org, variant_id).await?;
    let row = |new: NewImage, id: ImageId| NewVariantImage {
        metadata: new.metadata,
        id,
        organization_id: org,
        variant_id,
        url: new.url,
        alt: new.alt,
        position: new.position,
        is_primary: new.is_primary,
    };
    // As for products: no connection is held while the body is read and a file rendered.
    let image = match read_body(&req, payload, state.settings.api.body_limit_bytes).await? {
        Body::Url(new) => {
            let conn = &mut state.conn().await?;
            let write = images::add_variant_image(conn, org, actor, variant_id, row(new, ImageId::generate()));
            state.catalog.write(write).await?
        }
        Body::File(form) => {
            let owner = UploadOwner { kind: "variants", id: variant_id.into() };
            let upload = state.uploads.upload(org, owner, form.file, async |stored: &StoredImage| {
                let conn = &mut state.pg.get().await?;
                let row = row(form.fields.stored(stored), stored.id);
                images::add_variant_image(conn, org, actor, variant_id, row).await
            });
            state.catalog.write(upload).await?
        }
    };
    Ok(created(VariantImageView::from(image)))
}

/// Partial update. Images are unversioned: no `ETag`, `If-Match` is not checked.
#[utoipa::path(patch, path = "/api/v1/variants/{id}/images/{image_id}", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Variant id"), ("image_id" = uuid::Uuid, Path, description = "Image id")),
    request_body = UpdateImage,
    responses((status = 200, body = VariantImageView), (status = 400, description = "INVALID_IMAGE_DATA"), (status = 403, description = "FORBIDDEN"), (status = 404, description = "VARIANT_NOT_FOUND, IMAGE_NOT_FOUND"), (status = 422, description = "PRIMARY_IMAGE_REQUIRED (is_primary false on the primary)")))]
pub async fn update_variant_image(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(VariantId, ImageId)>,
    body: web::Json<UpdateImage>,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let (variant_id, image_id) = path.into_inner();
    let changes = check_update(body.into_inner())?;
    let conn = &mut state.conn().await?;
    variant_image(conn, &caller, variant_id, image_id).await?;
    let image =
        state.catalog.write(images::update_variant_image(conn, caller.org(), &caller.actor, image_id, changes)).await?;
    Ok(reply::ok(VariantImageView::from(image)))
}

/// Deleting the primary image promotes the lowest-position remaining one.
#[utoipa::path(delete, path = "/api/v1/variants/{id}/images/{image_id}", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Variant id"), ("image_id" = uuid::Uuid, Path, description = "Image id")),
    responses((status = 204), (status = 403, description = "FORBIDDEN"), (status = 404, description = "VARIANT_NOT_FOUND, IMAGE_NOT_FOUND")))]
pub async fn delete_variant_image(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(VariantId, ImageId)>,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let (variant_id, image_id) = path.into_inner();
    let conn = &mut state.conn().await?;
    variant_image(conn, &caller, variant_id, image_id).await?;
    state.catalog.write(images::delete_variant_image(conn, caller.org(), &caller.actor, image_id)).await?;
    Ok(reply::no_content())
}

/// Positions 0..n in the order given, the first becoming the primary (page 14); answers the
/// images in their new order.
#[utoipa::path(put, path = "/api/v1/variants/{id}/images/reorder", tag = "images",
    params(("id" = uuid::Uuid, Path, description = "Variant id")),
    request_body = ReorderImages,
    responses((status = 200, body = crate::openapi::VariantImagesReordered), (status = 400, description = "INVALID_IMAGE_DATA (image_ids must name each of the variant's images once)"), (status = 403, description = "FORBIDDEN"), (status = 404, description = "VARIANT_NOT_FOUND")))]
pub async fn reorder_variant_images(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<VariantId>,
    body: web::Json<ReorderImages>,
) -> ApiResult {
    caller.require(Resource::Variants, Action::Update)?;
    let ordered = check_reorder(body.into_inner())?;
    let conn = &mut state.conn().await?;
    variants::get(conn, caller.org(), *id).await?;
    let found =
        state.catalog.write(images::reorder_variant_images(conn, caller.org(), &caller.actor, *id, &ordered)).await?;
    let images: Vec<VariantImageView> = found.into_iter().map(Into::into).collect();
    Ok(reply::ok(reordered("variant_id", *id, images, |i| (i.image_id, i.image.position))))
}

/// A reorder's answer as the pages show it (`images_reordered`, `new_order`), with the images.
fn reordered<T: Serialize>(
    owner_key: &str,
    owner: impl Serialize,
    images: Vec<T>,
    position: impl Fn(&T) -> (ImageId, i32),
) -> Value {
    let new_order: Vec<Value> = images
        .iter()
        .map(|image| {
            let (image_id, position) = position(image);
            json!({ "image_id": image_id, "position": position })
        })
        .collect();
    json!({ owner_key: owner, "images_reordered": images.len(), "new_order": new_order, "images": images })
}
