//! `POST /api/v1/products/bulk`: create or update up to 1,000 products by SKU in one call
//! (catalog_core::repo::bulk decides; this module translates the rows).

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::reply;
use crate::routes::products::{CreateProduct, ParsedCreate, parse_create};
use crate::state::ApiState;
use actix_web::web;
use catalog_core::auth::{Action, Resource};
use catalog_core::error::{Entity, Error, FieldError};
use catalog_core::ids::LocalId;
use catalog_core::repo::bulk::{
    self, BulkImage, BulkOutcome, BulkProduct, ErrorPolicy, OptionRef, RowAction, RowResult,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Rows of 1,000 products with their variants take a few MB of JSON.
pub const BODY_LIMIT_BYTES: usize = 32 * 1024 * 1024;
pub const PATH: &str = "/api/v1/products/bulk";

#[derive(OpenApi)]
#[openapi(paths(upsert), components(schemas(BulkRequest, BulkOutcome, RowResult, RowAction, FieldError)))]
pub struct Doc;

/// Registered before `/products/{id}`, which would otherwise claim the path.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products/bulk")
            .app_data(web::JsonConfig::default().limit(BODY_LIMIT_BYTES).error_handler(crate::error::json_error))
            .route(web::post().to(upsert)),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Each row as `POST /api/v1/products` takes it, plus `options` (option names) and `images`
    /// (on the product and on each variant); matched by its SKU, then by its variants'.
    #[schema(value_type = Vec<crate::openapi::BulkRow>)]
    pub products: Vec<Value>,
    /// Validate and report what would happen, writing nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// `all_or_nothing` (default) or `per_row`.
    #[schema(schema_with = error_policies)]
    pub error_policy: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BulkArgs {
    /// Same as the body's `dry_run`.
    pub dry_run: Option<bool>,
}

/// Creates what is new, updates what changed, leaves the rest untouched; one result per row.
/// Rows omit fields to take their defaults (a matched product keeps its slug); variants a row
/// does not list stay as they are; `tag_ids` and `collection_ids`, when given, replace the
/// product's tags and memberships. `options` (names, created when missing) or `option_ids`
/// declare the product's options; each variant takes its values by `option_value_ids` or, by
/// name, from its `attributes` (`{"Color": "Rojo"}`, values created when missing). A matched
/// variant keeps the option values it was created with. `images` (on the product or a
/// variant: URLs, or `{url, alt, is_primary}`), when given, become exactly the owner's images
/// in that order, matched by URL.
/// Under `all_or_nothing`, one failing row answers 400 naming every failing field as
/// `products[i].field`, and nothing is written.
#[utoipa::path(post, path = "/api/v1/products/bulk", tag = "products", request_body = BulkRequest, params(BulkArgs), responses((status = 200, body = BulkOutcome), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 403, description = "LOCAL_ACCESS_DENIED (all_or_nothing)"), (status = 409)))]
pub async fn upsert(
    caller: Caller,
    state: web::Data<ApiState>,
    args: web::Query<BulkArgs>,
    body: web::Json<BulkRequest>,
) -> ApiResult {
    caller.require(Resource::Products, Action::Create)?;
    caller.require(Resource::Products, Action::Update)?;
    let body = body.into_inner();
    if body.products.len() > bulk::MAX_ROWS {
        return Err(Error::field(Entity::Product, "products", format!("at most {} per call", bulk::MAX_ROWS)).into());
    }
    let policy = match body.error_policy.as_deref().map(str::trim) {
        None | Some("all_or_nothing") => ErrorPolicy::AllOrNothing,
        Some("per_row") => ErrorPolicy::PerRow,
        Some(_) => {
            return Err(Error::field(Entity::Product, "error_policy", "must be all_or_nothing or per_row").into());
        }
    };
    if policy == ErrorPolicy::AllOrNothing {
        // As `POST /products` answers it: the whole request is refused (403), not one row.
        for local in body.products.iter().flat_map(locals_named) {
            caller.require_local(Some(local))?;
        }
    }
    let dry_run = args.dry_run.or(body.dry_run).unwrap_or(false);
    let rows = body.products.into_iter().map(|row| parse_row(&caller, row)).collect();
    let org = caller.org();
    let conn = &mut *state.conn().await?;
    let upsert = bulk::upsert(conn, org, &caller.actor, rows, policy, dry_run);
    // A dry run's events are rolled back: nothing it did makes a cached entry stale.
    let outcome = if dry_run { upsert.await? } else { state.catalog.write(upsert).await? };
    if policy == ErrorPolicy::AllOrNothing && outcome.failed > 0 {
        let fields = outcome
            .results
            .iter()
            .flat_map(|r| {
                // What each error refers to is kept: a batch failing only on missing rows is their 404.
                r.errors.iter().map(|e| FieldError { field: format!("products[{}].{}", r.index, e.field), ..e.clone() })
            })
            .collect();
        return Err(Error::validation(Entity::Product, fields).into());
    }
    Ok(reply::ok(outcome))
}

fn error_policies() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::openapi::accepts::one_of(&["all_or_nothing", "per_row"])
}

/// The locals a row names: its `local_id` and the `warehouse_id` of its default variant or of
/// its variants (malformed ids are the row's field errors, reported with the rest).
fn locals_named(row: &Value) -> Vec<LocalId> {
    let id = |value: &Value| value.as_str().and_then(|text| text.trim().parse().ok()).map(LocalId);
    let variants = row.get("variants").and_then(Value::as_array).into_iter().flatten();
    [row.get("local_id"), row.get("warehouse_id")]
        .into_iter()
        .chain(variants.map(|variant| variant.get("warehouse_id")))
        .flatten()
        .filter_map(id)
        .collect()
}

/// One row → what the core upserts, or the row's field errors. Besides `POST /products`'s
/// fields a row may name its options (`options`: names, created when missing, in order) and
/// list images (`images`, on the product and on each variant).
pub(crate) fn parse_row(caller: &Caller, mut row: Value) -> Result<BulkProduct, Vec<FieldError>> {
    let slug_given = row.get("slug").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let tags_given = row.get("tag_ids").is_some();
    let collections_given = row.get("collection_ids").is_some();
    let option_ids_given = row.get("option_ids").is_some();
    let option_names = row.as_object_mut().and_then(|r| r.remove("options"));
    let mut image_errors = Vec::new();
    let images = take_images(&mut row, "images", &mut image_errors);
    let variant_images: Vec<Option<Vec<BulkImage>>> = match row.get_mut("variants").and_then(Value::as_array_mut) {
        Some(variants) => variants
            .iter_mut()
            .enumerate()
            .map(|(i, variant)| take_images(variant, &format!("variants[{i}].images"), &mut image_errors))
            .collect(),
        None => Vec::new(),
    };
    let input: CreateProduct = serde_json::from_value(row).map_err(|e| vec![FieldError::new("body", e.to_string())])?;
    let parsed = parse_create(caller, input).map_err(field_errors);
    let ParsedCreate { new, default_variant, variant_rows, tag_ids, collection_ids, option_ids } = match parsed {
        Ok(parsed) if image_errors.is_empty() => parsed,
        Ok(_) => return Err(image_errors),
        Err(mut errors) => {
            errors.extend(image_errors);
            return Err(errors);
        }
    };
    let options = match option_names {
        None | Some(Value::Null) => option_ids_given.then(|| option_ids.into_iter().map(OptionRef::Id).collect()),
        Some(_) if option_ids_given => {
            return Err(vec![FieldError::new("options", "give options or option_ids, not both")]);
        }
        Some(Value::Array(names)) => Some(
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| match name {
                    Value::String(name) => Ok(OptionRef::Name(name)),
                    _ => Err(FieldError::new(format!("options[{i}]"), "must be an option name")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| vec![e])?,
        ),
        Some(_) => return Err(vec![FieldError::new("options", "must be a list of option names")]),
    };
    let (variant_rows, option_value_ids): (Vec<_>, Vec<_>) = variant_rows.into_iter().unzip();
    Ok(BulkProduct {
        product: new,
        slug_given,
        variants: default_variant.into_iter().chain(variant_rows).collect(),
        tag_ids: tags_given.then_some(tag_ids),
        collection_ids: collections_given.then_some(collection_ids),
        options,
        option_value_ids,
        images,
        variant_images,
    })
}

/// Removes `row.images` and reads it: each image a URL, or `{url, alt, is_primary}`.
fn take_images(row: &mut Value, field: &str, errors: &mut Vec<FieldError>) -> Option<Vec<BulkImage>> {
    let listed = row.as_object_mut()?.remove("images")?;
    let Value::Array(listed) = listed else {
        errors.push(FieldError::new(field, "must be a list of images"));
        return None;
    };
    let mut images = Vec::with_capacity(listed.len());
    for (i, image) in listed.into_iter().enumerate() {
        let text = |v: &Value| v.as_str().map(str::to_string);
        match image {
            Value::String(url) => images.push(BulkImage { url, alt: None, is_primary: false }),
            Value::Object(fields) => {
                let url = fields.get("url").or_else(|| fields.get("image_url")).and_then(text);
                let alt = fields.get("alt").and_then(text);
                let is_primary = fields.get("is_primary").and_then(Value::as_bool).unwrap_or(false);
                if let Some(unknown) =
                    fields.keys().find(|k| !["url", "image_url", "alt", "is_primary"].contains(&k.as_str()))
                {
                    errors.push(FieldError::new(format!("{field}[{i}].{unknown}"), "is not a field of an image"));
                }
                images.push(BulkImage { url: url.unwrap_or_default(), alt, is_primary });
            }
            _ => errors.push(FieldError::new(format!("{field}[{i}]"), "must be a URL or an object with a url")),
        }
    }
    Some(images)
}

fn field_errors(err: ApiError) -> Vec<FieldError> {
    match err.0 {
        Error::Validation { fields, .. } => fields,
        Error::Forbidden { message, .. } => vec![FieldError::new("local_id", message)],
        other => vec![FieldError::new("body", other.public_message())],
    }
}
