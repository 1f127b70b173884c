//! `/api/v1/brands`: the pattern every resource module follows — lenient request shapes,
//! `Check` for all-fields validation, the permission check first, the repository call, cache
//! invalidation after commit, the envelope with `ETag`.

use crate::caller::Caller;
use crate::error::{ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::routes::{NamedListArgs, active_status};
use crate::state::ApiState;
use crate::views::{BrandView, count_of};
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::error::Entity;
use catalog_core::ids::BrandId;
use catalog_core::models::{ActiveStatus, BrandChanges, NewBrand};
use catalog_core::repo::brands;
use catalog_core::validate::{Check, nullable};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(paths(list, create, get, update, delete), components(schemas(CreateBrand, UpdateBrand, BrandView)))]
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

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 5000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBrand {
    #[schema(schema_with = accepts::required_text::<NAME_MAX>, required = true)]
    pub name: Option<String>,
    /// Generated from the name when absent.
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[schema(schema_with = accepts::text::<DESCRIPTION_MAX>)]
    pub description: Option<String>,
    #[schema(schema_with = accepts::url)]
    pub logo_url: Option<String>,
    #[schema(schema_with = accepts::url)]
    pub website: Option<String>,
    /// `active` (default) or `inactive`.
    #[schema(schema_with = accepts::choice::<ActiveStatus>)]
    pub status: Option<String>,
    /// The pages' spelling of `status` (default true).
    pub is_active: Option<bool>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBrand {
    #[schema(schema_with = accepts::present_text::<NAME_MAX>)]
    pub name: Option<String>,
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<DESCRIPTION_MAX>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::url)]
    pub logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::url)]
    pub website: Option<Option<String>>,
    #[schema(schema_with = accepts::choice::<ActiveStatus>)]
    pub status: Option<String>,
    pub is_active: Option<bool>,
    /// Replaces the brand's metadata.
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even if products use the brand (they are detached).
    #[serde(default)]
    pub force: bool,
}

/// List brands, oldest first, with their product counts.
#[utoipa::path(get, path = "/api/v1/brands", tag = "brands", params(PageArgs, NamedListArgs), responses((status = 200, body = crate::openapi::BrandPage)))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    page: web::Query<PageArgs>,
    args: web::Query<NamedListArgs>,
) -> ApiResult {
    caller.require(Resource::Brands, Action::Read)?;
    let page = page.request(&state.settings.pagination)?;
    let filter = args.filter(Entity::Brand)?;
    let conn = &mut *state.conn().await?;
    let found = brands::list(conn, caller.org(), &filter, &page).await?;
    let ids: Vec<BrandId> = found.items.iter().map(|b| b.id).collect();
    let counts = brands::product_counts(conn, caller.org(), &ids).await?;
    let found = found.map(|b| {
        let count = count_of(&counts, &b.id);
        BrandView::new(b, Some(count))
    });
    Ok(reply::ok(reply::connection(found, |b| b.brand_id.as_uuid())))
}

/// The brand as the pages show it, with its live product count.
async fn view(
    conn: &mut catalog_core::db::PgConn,
    org: catalog_core::ids::OrganizationId,
    brand: catalog_core::models::Brand,
) -> ApiResult<BrandView> {
    let counts = brands::product_counts(conn, org, &[brand.id]).await?;
    let count = count_of(&counts, &brand.id);
    Ok(BrandView::new(brand, Some(count)))
}

#[utoipa::path(post, path = "/api/v1/brands", tag = "brands", request_body = CreateBrand, responses((status = 201, body = BrandView, headers(("ETag" = String))), (status = 400), (status = 409)))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateBrand>) -> ApiResult {
    caller.require(Resource::Brands, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Brand);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let slug = check.slug("slug", body.slug.as_deref());
    let description = check.text("description", body.description.as_deref(), DESCRIPTION_MAX);
    let logo_url = check.url("logo_url", body.logo_url.as_deref());
    let website = check.url("website", body.website.as_deref());
    let status = active_status(&mut check, body.status.as_deref(), body.is_active);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let new = NewBrand {
        metadata,
        website,
        id: BrandId::generate(),
        organization_id: caller.org(),
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        description,
        logo_url,
        status: status.unwrap_or(ActiveStatus::Active),
    };
    let conn = &mut *state.conn().await?;
    let brand = state
        .catalog
        .write(brands::create(conn, caller.org(), &caller.actor, new))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = brand.version;
    Ok(reply::created(BrandView::new(brand, Some(0)), version))
}

#[utoipa::path(get, path = "/api/v1/brands/{id}", tag = "brands", responses((status = 200, body = BrandView, headers(("ETag" = String))), (status = 404)))]
pub async fn get(caller: Caller, state: web::Data<ApiState>, id: web::Path<BrandId>) -> ApiResult {
    caller.require(Resource::Brands, Action::Read)?;
    let conn = &mut *state.conn().await?;
    let brand = brands::get(conn, caller.org(), *id).await?;
    let version = brand.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), brand).await?, version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/brands/{id}", tag = "brands", request_body = UpdateBrand, params(crate::openapi::IfMatch), responses((status = 200, body = BrandView, headers(("ETag" = String))), (status = 404), (status = 409), (status = 412)))]
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
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), NAME_MAX));
    let slug = body.slug.as_deref().map(|s| check.slug("slug", Some(s)));
    let description = body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), DESCRIPTION_MAX)));
    let logo_url = body.logo_url.map(|u| u.and_then(|u| check.url("logo_url", Some(&u))));
    let website = body.website.map(|u| u.and_then(|u| check.url("website", Some(&u))));
    let status = active_status(&mut check, body.status.as_deref(), body.is_active);
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let changes =
        BrandChanges { name: name.flatten(), slug: slug.flatten(), description, logo_url, status, website, metadata };
    let conn = &mut *state.conn().await?;
    let brand = state
        .catalog
        .write(brands::update(conn, caller.org(), &caller.actor, *id, expected, changes))
        .await
        .explained(conn, caller.org())
        .await?;
    // Product details embed their brand: drop the organization's cached products.
    let version = brand.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), brand).await?, version))
}

#[utoipa::path(delete, path = "/api/v1/brands/{id}", tag = "brands", params(DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "BRAND_HAS_PRODUCTS")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<BrandId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Brands, Action::Delete)?;
    state
        .catalog
        .write(brands::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force))
        .await?;
    Ok(reply::no_content())
}
