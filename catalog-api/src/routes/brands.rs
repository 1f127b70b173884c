//! `/api/v1/brands`: the pattern every resource module follows — lenient request shapes,
//! `Check` for all-fields validation, the permission check first, the repository call, cache
//! invalidation after commit, the envelope with `ETag`.

use crate::caller::Caller;
use crate::error::ApiResult;
use crate::reply::{self, PageArgs, if_match};
use crate::state::ApiState;
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::Entity;
use catalog_core::ids::BrandId;
use catalog_core::models::{ActiveStatus, Brand, BrandChanges, NewBrand};
use catalog_core::repo::brands;
use catalog_core::validate::{Check, nullable};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(paths(list, create, get, update, delete), components(schemas(CreateBrand, UpdateBrand, Brand)))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/brands").route(web::get().to(list)).route(web::post().to(create))).service(
        web::resource("/brands/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::put().to(update))
            .route(web::delete().to(delete)),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBrand {
    pub name: Option<String>,
    /// Generated from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    /// `active` (default) or `inactive`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBrand {
    pub name: Option<String>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub logo_url: Option<Option<String>>,
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even if products use the brand (they are detached).
    #[serde(default)]
    pub force: bool,
}

/// List brands, oldest first.
#[utoipa::path(get, path = "/api/v1/brands", tag = "brands", params(PageArgs), responses((status = 200, description = "A page of brands")))]
pub async fn list(caller: Caller, state: web::Data<ApiState>, args: web::Query<PageArgs>) -> ApiResult {
    caller.require(Resource::Brands, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let found = brands::list(&mut *state.conn().await?, caller.org(), &page).await?;
    Ok(reply::ok(reply::connection(found, |b| b.id.as_uuid())))
}

#[utoipa::path(post, path = "/api/v1/brands", tag = "brands", request_body = CreateBrand, responses((status = 201, body = Brand), (status = 400), (status = 409)))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateBrand>) -> ApiResult {
    caller.require(Resource::Brands, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Brand);
    let name = check.required_text("name", body.name.as_deref(), 200);
    let slug = check.slug("slug", body.slug.as_deref());
    let description = check.text("description", body.description.as_deref(), 5000);
    let logo_url = check.url("logo_url", body.logo_url.as_deref());
    let status = check.choice("status", body.status.as_deref(), ActiveStatus::parse, &ActiveStatus::expected());
    check.finish()?;
    let new = NewBrand {
        id: BrandId::generate(),
        organization_id: caller.org(),
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        description,
        logo_url,
        status: status.unwrap_or(ActiveStatus::Active),
    };
    let brand = brands::create(&mut *state.conn().await?, caller.org(), &caller.actor, new).await?;
    Ok(reply::created(&brand, brand.version))
}

#[utoipa::path(get, path = "/api/v1/brands/{id}", tag = "brands", responses((status = 200, body = Brand), (status = 404)))]
pub async fn get(caller: Caller, state: web::Data<ApiState>, id: web::Path<BrandId>) -> ApiResult {
    caller.require(Resource::Brands, Action::Read)?;
    let brand = brands::get(&mut *state.conn().await?, caller.org(), *id).await?;
    Ok(reply::ok_versioned(&brand, brand.version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/brands/{id}", tag = "brands", request_body = UpdateBrand, responses((status = 200, body = Brand), (status = 404), (status = 409), (status = 412)))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<BrandId>,
    body: web::Json<UpdateBrand>,
) -> ApiResult {
    caller.require(Resource::Brands, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Brand);
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), 200));
    let slug = body.slug.as_deref().map(|s| check.slug("slug", Some(s)));
    let description = body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), 5000)));
    let logo_url = body.logo_url.map(|u| u.and_then(|u| check.url("logo_url", Some(&u))));
    let status = check.choice("status", body.status.as_deref(), ActiveStatus::parse, &ActiveStatus::expected());
    check.finish()?;
    let changes = BrandChanges { name: name.flatten(), slug: slug.flatten(), description, logo_url, status };
    let brand = brands::update(&mut *state.conn().await?, caller.org(), &caller.actor, *id, expected, changes).await?;
    // Product details embed their brand: drop the organization's cached products.
    state.catalog.cache.invalidate_organization(caller.org()).await;
    Ok(reply::ok_versioned(&brand, brand.version))
}

#[utoipa::path(delete, path = "/api/v1/brands/{id}", tag = "brands", params(DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "BRAND_HAS_PRODUCTS")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<BrandId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Brands, Action::Delete)?;
    brands::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force).await?;
    state.catalog.cache.invalidate_organization(caller.org()).await;
    Ok(reply::no_content())
}
