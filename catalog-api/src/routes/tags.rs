//! `/api/v1/tags`: tags and the products carrying them. Tagging a product is done on the
//! product (`/products/{id}/tags`).

use crate::caller::Caller;
use crate::error::{ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, PageArgs, if_match};
use crate::routes::collections::product_page;
use crate::state::ApiState;
use crate::views::{TagView, count_of};
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::db::PgConn;
use catalog_core::error::Entity;
use catalog_core::ids::OrganizationId;
use catalog_core::ids::TagId;
use catalog_core::models::{NewTag, Tag, TagChanges, TagType, max_chars};
use catalog_core::repo::tags;
use catalog_core::validate::{Check, nullable};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(paths(list, create, get, update, delete, list_products), components(schemas(CreateTag, UpdateTag, TagView)))]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tags").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/tags/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/tags/{id}/products").route(web::get().to(list_products)));
}

/// The `tags` columns hold at most 100 characters.
const NAME_MAX: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTag {
    #[schema(schema_with = accepts::required_text::<NAME_MAX>, required = true)]
    pub name: Option<String>,
    /// Generated from the name when absent.
    #[schema(schema_with = accepts::slug::<NAME_MAX>)]
    pub slug: Option<String>,
    /// `category`, `feature`, `promotion` or `custom` (default).
    #[serde(rename = "type", alias = "tag_type")]
    #[schema(schema_with = accepts::choice::<TagType>)]
    pub tag_type: Option<String>,
    /// A hex colour, `#RGB` or `#RRGGBB`.
    #[schema(schema_with = accepts::color)]
    pub color: Option<String>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTag {
    #[schema(schema_with = accepts::present_text::<NAME_MAX>)]
    pub name: Option<String>,
    /// Empty: generated again from the name.
    #[schema(schema_with = accepts::slug::<NAME_MAX>)]
    pub slug: Option<String>,
    #[serde(rename = "type", alias = "tag_type")]
    #[schema(schema_with = accepts::choice::<TagType>)]
    pub tag_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::color)]
    pub color: Option<Option<String>>,
    /// Replaces the tag's metadata.
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListFilter {
    /// Only tags of this type.
    #[serde(rename = "type", alias = "tag_type")]
    #[param(rename = "type")]
    #[param(schema_with = accepts::choice::<TagType>)]
    pub tag_type: Option<String>,
    /// Part of the name, case-insensitive. (Tags have no active state: no `is_active`.)
    #[param(schema_with = accepts::text::<200>)]
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even if products carry the tag (it is removed from them).
    #[serde(default)]
    pub force: bool,
}

fn slug(check: &mut Check, value: Option<&str>) -> Option<String> {
    let slug = check.slug("slug", value)?;
    if slug.len() > NAME_MAX {
        check.fail("slug", format!("must be at most {NAME_MAX} characters"));
        return None;
    }
    Some(slug)
}

fn color(check: &mut Check, value: Option<&str>) -> Option<String> {
    let color = check.text("color", value, max_chars::COLOR)?;
    let hex = color.strip_prefix('#').unwrap_or_default();
    if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        check.fail("color", "must be a hex colour such as #1E88E5");
        return None;
    }
    Some(color)
}

/// The tag as the pages show it, with its live product count.
async fn view(conn: &mut PgConn, org: OrganizationId, tag: Tag) -> ApiResult<TagView> {
    let counts = tags::product_counts(conn, org, &[tag.id]).await?;
    let count = count_of(&counts, &tag.id);
    Ok(TagView::new(tag, Some(count)))
}

/// List tags, oldest first, with their product counts; `type` and `search` (name) filter.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(PageArgs, ListFilter), responses((status = 200, body = crate::openapi::TagPage), (status = 400)))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    args: web::Query<PageArgs>,
    filter: web::Query<ListFilter>,
) -> ApiResult {
    caller.require(Resource::Tags, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let mut check = Check::new(Entity::Tag);
    let tag_type = check.choice("type", filter.tag_type.as_deref(), TagType::parse, &TagType::expected());
    let search = check.text("search", filter.search.as_deref(), max_chars::SEARCH);
    check.finish()?;
    let named = catalog_core::repo::ListFilter { search, is_active: None };
    let conn = &mut *state.conn().await?;
    let found = tags::list(conn, caller.org(), &page, tag_type, &named).await?;
    let ids: Vec<TagId> = found.items.iter().map(|t| t.id).collect();
    let counts = tags::product_counts(conn, caller.org(), &ids).await?;
    let found = found.map(|t| {
        let count = count_of(&counts, &t.id);
        TagView::new(t, Some(count))
    });
    Ok(reply::ok(reply::connection(found, |t| t.tag_id.as_uuid())))
}

#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = CreateTag, responses((status = 201, body = TagView, headers(("ETag" = String))), (status = 400), (status = 409, description = "TAG_NAME_EXISTS or TAG_SLUG_EXISTS")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateTag>) -> ApiResult {
    caller.require(Resource::Tags, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Tag);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let slug = slug(&mut check, body.slug.as_deref());
    let tag_type = check.choice("type", body.tag_type.as_deref(), TagType::parse, &TagType::expected());
    let color = color(&mut check, body.color.as_deref());
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let new = NewTag {
        metadata,
        id: TagId::generate(),
        organization_id: caller.org(),
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        tag_type: tag_type.unwrap_or(TagType::Custom),
        color,
    };
    let conn = &mut *state.conn().await?;
    let tag = state
        .catalog
        .write(tags::create(conn, caller.org(), &caller.actor, new))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = tag.version;
    Ok(reply::created(TagView::new(tag, Some(0)), version))
}

#[utoipa::path(get, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = uuid::Uuid, Path, description = "The tag's id")), responses((status = 200, body = TagView, headers(("ETag" = String))), (status = 404)))]
pub async fn get(caller: Caller, state: web::Data<ApiState>, id: web::Path<TagId>) -> ApiResult {
    caller.require(Resource::Tags, Action::Read)?;
    let conn = &mut *state.conn().await?;
    let tag = tags::get(conn, caller.org(), *id).await?;
    let version = tag.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), tag).await?, version))
}

/// Partial update; send `If-Match` with the `ETag` you read to avoid overwriting someone else.
#[utoipa::path(patch, path = "/api/v1/tags/{id}", tag = "tags", request_body = UpdateTag, params(("id" = uuid::Uuid, Path, description = "The tag's id"), crate::openapi::IfMatch), responses((status = 200, body = TagView, headers(("ETag" = String))), (status = 400), (status = 404), (status = 409), (status = 412)))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<TagId>,
    body: web::Json<UpdateTag>,
) -> ApiResult {
    caller.require(Resource::Tags, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Tag);
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), NAME_MAX));
    // An empty slug asks the repository to derive it again from the name.
    let slug =
        body.slug.as_deref().map(|s| if s.trim().is_empty() { Some(String::new()) } else { slug(&mut check, Some(s)) });
    let tag_type = check.choice("type", body.tag_type.as_deref(), TagType::parse, &TagType::expected());
    let color = body.color.map(|c| c.and_then(|c| color(&mut check, Some(&c))));
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let changes = TagChanges { name: name.flatten(), slug: slug.flatten(), tag_type, color, metadata };
    let conn = &mut *state.conn().await?;
    let tag = state
        .catalog
        .write(tags::update(conn, caller.org(), &caller.actor, *id, expected, changes))
        .await
        .explained(conn, caller.org())
        .await?;
    // Product details embed their tags: drop the organization's cached products.
    let version = tag.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), tag).await?, version))
}

#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = uuid::Uuid, Path, description = "The tag's id"), DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "TAG_HAS_PRODUCTS")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<TagId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Tags, Action::Delete)?;
    state.catalog.write(tags::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force)).await?;
    Ok(reply::no_content())
}

/// The tag and a page of the live products carrying it (product id order):
/// `{tag, products: {edges, pageInfo}}`.
#[utoipa::path(get, path = "/api/v1/tags/{id}/products", tag = "tags", params(("id" = uuid::Uuid, Path, description = "The tag's id"), PageArgs), responses((status = 200, body = crate::openapi::TagProducts), (status = 404)))]
pub async fn list_products(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<TagId>,
    args: web::Query<PageArgs>,
) -> ApiResult {
    caller.require(Resource::Tags, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let conn = &mut *state.conn().await?;
    let ids = tags::product_ids_for_tag(conn, caller.org(), *id, &page).await?;
    let tag = tags::get(conn, caller.org(), *id).await?;
    let tag = view(conn, caller.org(), tag).await?;
    Ok(reply::ok(json!({ "tag": tag, "products": product_page(&state, caller.org(), ids).await? })))
}
