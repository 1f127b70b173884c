//! `/api/v1/options` and `/api/v1/options/{id}/values`: option definitions (Color, Talla) with
//! their ordered values. Values belong to their option: a value change moves the option's
//! version, which is the `ETag` value routes answer and the `If-Match` they check.

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::state::ApiState;
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{OptionId, OptionValueId, OrganizationId};
use catalog_core::models::{NewProductOption, OptionValue, ProductOption, ProductOptionChanges};
use catalog_core::repo::{check_version, options};
use catalog_core::validate::Check;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, list_values, add_value, update_value, delete_value),
    components(schemas(CreateOption, UpdateOption, CreateOptionValue, UpdateOptionValue, OptionBody, OptionValue))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/options").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/options/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/options/{id}/values").route(web::get().to(list_values)).route(web::post().to(add_value)),
        )
        .service(
            web::resource("/options/{id}/values/{value_id}")
                .route(web::patch().to(update_value))
                .route(web::put().to(update_value))
                .route(web::delete().to(delete_value)),
        );
}

const NAME_MAX: usize = 100;
const VALUE_MAX: usize = 100;
/// More values than any real option has; keeps one create to a sane multi-row insert.
const VALUES_MAX: usize = 1000;
const POSITION_MAX: i64 = 1_000_000;

/// An option as answered: its fields plus its values in display order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionBody {
    #[serde(flatten)]
    pub option: ProductOption,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOption {
    #[schema(schema_with = accepts::required_text::<NAME_MAX>, required = true)]
    pub name: Option<String>,
    /// Display order among options (default 0).
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// The values in display order; repeated values (case-insensitively) are refused.
    #[schema(schema_with = accepts::distinct_texts::<VALUES_MAX, VALUE_MAX>)]
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOption {
    #[schema(schema_with = accepts::present_text::<NAME_MAX>)]
    pub name: Option<String>,
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOptionValue {
    #[serde(alias = "name")]
    #[schema(schema_with = accepts::required_text::<VALUE_MAX>, required = true)]
    pub value: Option<String>,
    /// Default: after the last value.
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOptionValue {
    #[serde(alias = "name")]
    #[schema(schema_with = accepts::present_text::<VALUE_MAX>)]
    pub value: Option<String>,
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even if products declare the option (it is removed from them).
    #[serde(default)]
    pub force: bool,
}

/// Blank, too long and repeated (case-insensitively) values, all reported under `values`.
fn check_values(check: &mut Check, values: &[String]) -> Vec<String> {
    if values.len() > VALUES_MAX {
        check.fail("values", format!("must list at most {VALUES_MAX} values"));
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut repeated = Vec::new();
    let mut out = Vec::with_capacity(values.len());
    for raw in values {
        if let Some(value) = check.required_text("values", Some(raw), VALUE_MAX) {
            if !seen.insert(value.to_lowercase()) && !repeated.contains(&value) {
                repeated.push(value.clone());
            }
            out.push(value);
        }
    }
    if !repeated.is_empty() {
        check.fail("values", format!("repeated values: {}", repeated.join(", ")));
    }
    out
}

/// The options with their values, from one values query for the lot.
async fn with_values(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    found: Vec<ProductOption>,
) -> Result<Vec<OptionBody>, ApiError> {
    let ids: Vec<OptionId> = found.iter().map(|o| o.id).collect();
    let mut by_option: HashMap<OptionId, Vec<OptionValue>> = HashMap::new();
    for value in options::list_values(conn, org, &ids).await? {
        by_option.entry(value.option_id).or_default().push(value);
    }
    Ok(found
        .into_iter()
        .map(|option| {
            let values = by_option.remove(&option.id).unwrap_or_default();
            OptionBody { option, values }
        })
        .collect())
}

/// One option with its values.
async fn with_own_values(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    option: ProductOption,
) -> Result<OptionBody, ApiError> {
    let values = options::list_values(conn, org, &[option.id]).await?;
    Ok(OptionBody { option, values })
}

/// List options (each with its values), oldest first.
#[utoipa::path(get, path = "/api/v1/options", tag = "options", params(PageArgs), responses((status = 200, body = crate::openapi::OptionPage)))]
pub async fn list(caller: Caller, state: web::Data<ApiState>, args: web::Query<PageArgs>) -> ApiResult {
    caller.require(Resource::Options, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let conn = &mut *state.conn().await?;
    let mut found = options::list(conn, caller.org(), &page).await?;
    let bodies = with_values(conn, caller.org(), std::mem::take(&mut found.items)).await?;
    let page = found.with_items(bodies);
    Ok(reply::ok(reply::connection(page, |o| o.option.id.as_uuid())))
}

#[utoipa::path(post, path = "/api/v1/options", tag = "options", request_body = CreateOption, responses((status = 201, body = OptionBody, headers(("ETag" = String))), (status = 400), (status = 409, description = "OPTION_NAME_EXISTS")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateOption>) -> ApiResult {
    caller.require(Resource::Options, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::ProductOption);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let values = check_values(&mut check, body.values.as_deref().unwrap_or_default());
    check.finish()?;
    let new = NewProductOption {
        id: OptionId::generate(),
        organization_id: caller.org(),
        name: name.unwrap_or_default(),
        position: position.unwrap_or(0),
    };
    let (option, values) = state
        .catalog
        .write(options::create(&mut *state.conn().await?, caller.org(), &caller.actor, new, &values))
        .await?;
    let version = option.version;
    Ok(reply::created(OptionBody { option, values }, version))
}

#[utoipa::path(get, path = "/api/v1/options/{id}", tag = "options", params(("id" = uuid::Uuid, Path, description = "The option's id")), responses((status = 200, body = OptionBody, headers(("ETag" = String))), (status = 404)))]
pub async fn get(caller: Caller, state: web::Data<ApiState>, id: web::Path<OptionId>) -> ApiResult {
    caller.require(Resource::Options, Action::Read)?;
    let conn = &mut *state.conn().await?;
    let option = options::get(conn, caller.org(), *id).await?;
    let body = with_own_values(conn, caller.org(), option).await?;
    let version = body.option.version;
    Ok(reply::ok_versioned(body, version))
}

/// Renames or moves an option; its values have their own routes.
#[utoipa::path(patch, path = "/api/v1/options/{id}", tag = "options", request_body = UpdateOption, params(("id" = uuid::Uuid, Path, description = "The option's id"), crate::openapi::IfMatch), responses((status = 200, body = OptionBody, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409), (status = 412)))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<OptionId>,
    body: web::Json<UpdateOption>,
) -> ApiResult {
    caller.require(Resource::Options, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::ProductOption);
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), NAME_MAX));
    let position = check.int("position", body.position, 0, POSITION_MAX);
    check.finish()?;
    let changes = ProductOptionChanges { name: name.flatten(), position };
    let body = {
        let conn = &mut *state.conn().await?;
        let option =
            state.catalog.write(options::update(conn, caller.org(), &caller.actor, *id, expected, changes)).await?;
        with_own_values(conn, caller.org(), option).await?
    };
    // Cached product details and variants carry option names: drop the organization's cache.
    let version = body.option.version;
    Ok(reply::ok_versioned(body, version))
}

#[utoipa::path(delete, path = "/api/v1/options/{id}", tag = "options", params(("id" = uuid::Uuid, Path, description = "The option's id"), DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "OPTION_IN_USE")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<OptionId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Options, Action::Delete)?;
    state
        .catalog
        .write(options::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force))
        .await?;
    Ok(reply::no_content())
}

/// The option's values in display order (not paged: an option has a handful). The `ETag` is
/// the option's version, for `If-Match` on value changes.
#[utoipa::path(get, path = "/api/v1/options/{id}/values", tag = "options", params(("id" = uuid::Uuid, Path, description = "The option's id")), responses((status = 200, body = Vec<OptionValue>, headers(("ETag" = String))), (status = 404)))]
pub async fn list_values(caller: Caller, state: web::Data<ApiState>, id: web::Path<OptionId>) -> ApiResult {
    caller.require(Resource::Options, Action::Read)?;
    let conn = &mut *state.conn().await?;
    let option = options::get(conn, caller.org(), *id).await?;
    let values = options::list_values(conn, caller.org(), &[option.id]).await?;
    Ok(reply::ok_versioned(values, option.version))
}

/// Adds a value; answers it with the option's new version as `ETag`.
#[utoipa::path(post, path = "/api/v1/options/{id}/values", tag = "options", request_body = CreateOptionValue, params(("id" = uuid::Uuid, Path, description = "The option's id"), crate::openapi::IfMatch), responses((status = 201, body = OptionValue, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409, description = "OPTION_VALUE_EXISTS"), (status = 412)))]
pub async fn add_value(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<OptionId>,
    body: web::Json<CreateOptionValue>,
) -> ApiResult {
    caller.require(Resource::Options, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::OptionValue);
    let value = check.required_text("value", body.value.as_deref(), VALUE_MAX);
    let position = check.int("position", body.position, 0, POSITION_MAX);
    check.finish()?;
    let conn = &mut *state.conn().await?;
    if expected.is_some() {
        let option = options::get(conn, caller.org(), *id).await?;
        check_version(expected, option.version)?;
    }
    let value = state
        .catalog
        .write(options::add_value(conn, caller.org(), &caller.actor, *id, value.unwrap_or_default(), position))
        .await?;
    let option = options::get(conn, caller.org(), *id).await?;
    Ok(reply::created(value, option.version))
}

/// The option (404 `OPTION_NOT_FOUND`), the caller's `If-Match` against it (412), and the value,
/// which must be one of this option's (else 404 `OPTION_VALUE_NOT_FOUND`).
async fn value_of(
    conn: &mut catalog_core::db::PgConn,
    org: OrganizationId,
    option_id: OptionId,
    value_id: OptionValueId,
    expected: Option<i32>,
) -> Result<OptionValue, ApiError> {
    let option = options::get(conn, org, option_id).await?;
    check_version(expected, option.version)?;
    let values = options::list_values(conn, org, &[option.id]).await?;
    values.into_iter().find(|v| v.id == value_id).ok_or(ApiError(Error::NotFound(Entity::OptionValue)))
}

/// Renames and/or moves a value of this option.
#[utoipa::path(patch, path = "/api/v1/options/{id}/values/{value_id}", tag = "options", request_body = UpdateOptionValue, params(crate::openapi::IfMatch), responses((status = 200, body = OptionValue, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409, description = "OPTION_VALUE_EXISTS"), (status = 412)))]
pub async fn update_value(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(OptionId, OptionValueId)>,
    body: web::Json<UpdateOptionValue>,
) -> ApiResult {
    caller.require(Resource::Options, Action::Update)?;
    let expected = if_match(&req)?;
    let (option_id, value_id) = path.into_inner();
    let body = body.into_inner();
    let mut check = Check::new(Entity::OptionValue);
    let value = body.value.as_deref().map(|v| check.required_text("value", Some(v), VALUE_MAX));
    let position = check.int("position", body.position, 0, POSITION_MAX);
    check.finish()?;
    let (value, version) = {
        let conn = &mut *state.conn().await?;
        value_of(conn, caller.org(), option_id, value_id, expected).await?;
        let value = state
            .catalog
            .write(options::update_value(conn, caller.org(), &caller.actor, value_id, value.flatten(), position))
            .await?;
        (value, options::get(conn, caller.org(), option_id).await?.version)
    };
    // Variants record their values by name in cached details.
    Ok(reply::ok_versioned(value, version))
}

/// Removes a value of this option; refused (409 `OPTION_VALUE_IN_USE`) while variants use it.
#[utoipa::path(delete, path = "/api/v1/options/{id}/values/{value_id}", tag = "options", params(crate::openapi::IfMatch), responses((status = 204), (status = 404), (status = 409, description = "OPTION_VALUE_IN_USE"), (status = 412)))]
pub async fn delete_value(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(OptionId, OptionValueId)>,
) -> ApiResult {
    caller.require(Resource::Options, Action::Update)?;
    let expected = if_match(&req)?;
    let (option_id, value_id) = path.into_inner();
    {
        let conn = &mut *state.conn().await?;
        value_of(conn, caller.org(), option_id, value_id, expected).await?;
        state.catalog.write(options::delete_value(conn, caller.org(), &caller.actor, value_id)).await?;
    }
    Ok(reply::no_content())
}
