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
use catalog_core::repo::bulk::{self, BulkOutcome, BulkProduct, ErrorPolicy, RowAction, RowResult};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Rows of 1,000 products with their variants take a few MB of JSON.
const BODY_LIMIT_BYTES: usize = 32 * 1024 * 1024;

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
    /// Each row as `POST /api/v1/products` takes it; matched by its SKU, then by its variants'.
    #[schema(value_type = Vec<CreateProduct>)]
    pub products: Vec<Value>,
    /// Validate and report what would happen, writing nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// `all_or_nothing` (default) or `per_row`.
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
/// product's tags and memberships (option values are not taken in bulk yet).
/// Under `all_or_nothing`, one failing row answers 400 naming every failing field as
/// `products[i].field`, and nothing is written.
#[utoipa::path(post, path = "/api/v1/products/bulk", tag = "products", request_body = BulkRequest, params(BulkArgs), responses((status = 200, body = BulkOutcome), (status = 400, description = "INVALID_PRODUCT_DATA"), (status = 409)))]
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
    let dry_run = args.dry_run.or(body.dry_run).unwrap_or(false);
    let rows = body.products.into_iter().map(|row| parse_row(&caller, row)).collect();
    let org = caller.org();
    let outcome = bulk::upsert(&mut *state.conn().await?, org, &caller.actor, rows, policy, dry_run).await?;
    if policy == ErrorPolicy::AllOrNothing && outcome.failed > 0 {
        let fields = outcome
            .results
            .iter()
            .flat_map(|r| {
                r.errors.iter().map(|e| FieldError::new(format!("products[{}].{}", r.index, e.field), &e.message))
            })
            .collect();
        return Err(Error::validation(Entity::Product, fields).into());
    }
    if outcome.committed {
        let updated = outcome.results.iter().filter(|r| r.action == RowAction::Updated);
        let products: Vec<_> = updated.clone().filter_map(|r| r.product_id).collect();
        let variants: Vec<_> = updated.flat_map(|r| r.variant_ids.iter().copied()).collect();
        state.catalog.invalidate_variants(org, &variants, &products).await;
    }
    Ok(reply::ok(outcome))
}

/// One row → what the core upserts, or the row's field errors.
pub(crate) fn parse_row(caller: &Caller, row: Value) -> Result<BulkProduct, Vec<FieldError>> {
    let slug_given = row.get("slug").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let tags_given = row.get("tag_ids").is_some();
    let collections_given = row.get("collection_ids").is_some();
    let input: CreateProduct = serde_json::from_value(row).map_err(|e| vec![FieldError::new("body", e.to_string())])?;
    let ParsedCreate { new, default_variant, variant_rows, tag_ids, collection_ids, option_ids } =
        parse_create(caller, input).map_err(field_errors)?;
    let mut unsupported = Vec::new();
    if !option_ids.is_empty() || variant_rows.iter().any(|(_, values)| !values.is_empty()) {
        unsupported.push(FieldError::new("option_ids", "not taken by bulk calls yet"));
    }
    if !unsupported.is_empty() {
        return Err(unsupported);
    }
    let variants = default_variant.into_iter().chain(variant_rows.into_iter().map(|(v, _)| v)).collect();
    Ok(BulkProduct {
        product: new,
        slug_given,
        variants,
        tag_ids: tags_given.then_some(tag_ids),
        collection_ids: collections_given.then_some(collection_ids),
    })
}

fn field_errors(err: ApiError) -> Vec<FieldError> {
    match err.0 {
        Error::Validation { fields, .. } => fields,
        Error::Forbidden { message, .. } => vec![FieldError::new("local_id", message)],
        other => vec![FieldError::new("body", other.public_message())],
    }
}
