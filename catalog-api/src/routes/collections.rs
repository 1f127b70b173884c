//! `/api/v1/collections`: the per-organization collection tree, its products, and re-parenting
//! (a cycle is a 400 on `parent_id`).

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::reply::{self, Connection, PageArgs, if_match};
use crate::state::ApiState;
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{CollectionId, OrganizationId, ProductId};
use catalog_core::models::{ActiveStatus, Collection, CollectionChanges, NewCollection, Product};
use catalog_core::pagination::Page;
use catalog_core::repo::collections::{self, CollectionNode};
use catalog_core::repo::products;
use catalog_core::validate::{Check, nullable};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, tree, get, update, delete, list_products, add_products, remove_products, remove_product),
    components(schemas(CreateCollection, UpdateCollection, ProductIds, CollectionTreeNode, Collection))
)]
pub struct Doc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/collections").route(web::get().to(list)).route(web::post().to(create)))
        // Before `/collections/{id}`, which would otherwise take `tree` for an id.
        .service(web::resource("/collections/tree").route(web::get().to(tree)))
        .service(
            web::resource("/collections/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/collections/{id}/products")
                .route(web::get().to(list_products))
                .route(web::post().to(add_products))
                .route(web::delete().to(remove_products)),
        )
        .service(web::resource("/collections/{id}/products/{product_id}").route(web::delete().to(remove_product)));
}

const NAME_MAX: usize = 200;
const POSITION_MAX: i64 = 1_000_000;
/// Products one request may link or unlink.
const PRODUCT_IDS_MAX: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    pub name: Option<String>,
    /// Generated from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    /// `active` (default) or `inactive`.
    pub status: Option<String>,
    /// Order among its siblings (default 0).
    pub position: Option<i64>,
    /// The parent collection; absent for a root.
    pub parent_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    pub name: Option<String>,
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<Option<String>>,
    pub status: Option<String>,
    pub position: Option<i64>,
    /// Moves the collection: a collection id, or `null` to make it a root. Its own
    /// descendants are refused (400: cycle).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
}

/// Products to link or unlink; every id must be a live product of the organization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIds {
    pub product_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListFilter {
    /// `root` for top-level collections, or a collection id for its children.
    pub parent_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even with sub-collections (they move up to this collection's parent).
    #[serde(default)]
    pub force: bool,
}

/// A collection with its sub-collections, each level by position then name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionTreeNode {
    #[serde(flatten)]
    pub collection: Collection,
    #[schema(no_recursion)]
    pub children: Vec<CollectionTreeNode>,
}

impl From<CollectionNode> for CollectionTreeNode {
    fn from(node: CollectionNode) -> Self {
        Self { collection: node.collection, children: node.children.into_iter().map(Self::from).collect() }
    }
}

/// A page of products from a page of their ids: one `get_many`, answered in the page's order.
/// Shared with `/tags/{id}/products`.
pub(crate) async fn product_page(
    conn: &mut PgConn,
    org: OrganizationId,
    ids: Page<ProductId>,
) -> Result<Connection<Product>, ApiError> {
    let mut found: HashMap<ProductId, Product> =
        products::get_many(conn, org, &ids.items).await?.into_iter().map(|p| (p.id, p)).collect();
    // A product deleted between the two reads simply drops out of the page.
    let items: Vec<Product> = ids.items.iter().filter_map(|id| found.remove(id)).collect();
    let page = Page { items, has_next: ids.has_next, has_previous: ids.has_previous };
    Ok(reply::connection(page, |p| p.id.as_uuid()))
}

/// Validates a `product_ids` list: present, not empty, not too long, every entry a UUID.
fn product_ids(check: &mut Check, ids: Option<&[String]>) -> Vec<ProductId> {
    let Some(ids) = ids else {
        check.fail("product_ids", "is required");
        return Vec::new();
    };
    if ids.is_empty() || ids.len() > PRODUCT_IDS_MAX {
        check.fail("product_ids", format!("must list between 1 and {PRODUCT_IDS_MAX} product ids"));
        return Vec::new();
    }
    let parsed: Vec<Option<ProductId>> = ids.iter().map(|raw| raw.trim().parse().ok()).collect();
    let bad: Vec<&str> = ids.iter().zip(&parsed).filter(|(_, p)| p.is_none()).map(|(raw, _)| raw.as_str()).collect();
    if !bad.is_empty() {
        check.fail("product_ids", format!("not UUIDs: {}", bad.join(", ")));
    }
    parsed.into_iter().flatten().collect()
}

/// List collections, oldest first; `parent_id=root` or `parent_id=<id>` narrows to one level.
#[utoipa::path(get, path = "/api/v1/collections", tag = "collections", params(PageArgs, ListFilter), responses((status = 200, description = "A page of collections"), (status = 400)))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    args: web::Query<PageArgs>,
    filter: web::Query<ListFilter>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let parent = match filter.parent_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) if raw.eq_ignore_ascii_case("root") || raw.eq_ignore_ascii_case("null") => Some(None),
        Some(raw) => {
            let mut check = Check::new(Entity::Collection);
            let id = check.id::<CollectionId>("parent_id", Some(raw));
            check.finish()?;
            Some(id)
        }
    };
    let found = collections::list(&mut *state.conn().await?, caller.org(), &page, parent).await?;
    Ok(reply::ok(reply::connection(found, |c| c.id.as_uuid())))
}

/// The organization's whole collection tree.
#[utoipa::path(get, path = "/api/v1/collections/tree", tag = "collections", responses((status = 200, body = Vec<CollectionTreeNode>)))]
pub async fn tree(caller: Caller, state: web::Data<ApiState>) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let roots = collections::tree(&mut *state.conn().await?, caller.org()).await?;
    Ok(reply::ok(roots.into_iter().map(CollectionTreeNode::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/collections", tag = "collections", request_body = CreateCollection, responses((status = 201, body = Collection), (status = 400), (status = 409, description = "COLLECTION_SLUG_EXISTS")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateCollection>) -> ApiResult {
    caller.require(Resource::Collections, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Collection);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let slug = check.slug("slug", body.slug.as_deref());
    let description = check.text("description", body.description.as_deref(), 5000);
    let image_url = check.url("image_url", body.image_url.as_deref());
    let status = check.choice("status", body.status.as_deref(), ActiveStatus::parse, &ActiveStatus::expected());
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let parent_id = check.id::<CollectionId>("parent_id", body.parent_id.as_deref().filter(|p| !p.trim().is_empty()));
    check.finish()?;
    let new = NewCollection {
        id: CollectionId::generate(),
        organization_id: caller.org(),
        parent_id,
        name: name.unwrap_or_default(),
        slug: slug.unwrap_or_default(),
        description,
        image_url,
        status: status.unwrap_or(ActiveStatus::Active),
        position: position.unwrap_or(0),
    };
    let collection = collections::create(&mut *state.conn().await?, caller.org(), &caller.actor, new).await?;
    Ok(reply::created(&collection, collection.version))
}

#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 200, body = Collection), (status = 404)))]
pub async fn get(caller: Caller, state: web::Data<ApiState>, id: web::Path<CollectionId>) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let collection = collections::get(&mut *state.conn().await?, caller.org(), *id).await?;
    Ok(reply::ok_versioned(&collection, collection.version))
}

/// Partial update, re-parenting included (`parent_id`: an id, or `null` for a root).
#[utoipa::path(patch, path = "/api/v1/collections/{id}", tag = "collections", request_body = UpdateCollection, params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 200, body = Collection), (status = 400, description = "Invalid data, or a cycle on parent_id"), (status = 404), (status = 409), (status = 412)))]
pub async fn update(
    caller: Caller,
    state: web::Data<ApiState>,
    req: HttpRequest,
    id: web::Path<CollectionId>,
    body: web::Json<UpdateCollection>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Update)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Collection);
    let name = body.name.as_deref().map(|n| check.required_text("name", Some(n), NAME_MAX));
    let slug = body.slug.as_deref().map(|s| check.slug("slug", Some(s)));
    let description = body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), 5000)));
    let image_url = body.image_url.map(|u| u.and_then(|u| check.url("image_url", Some(&u))));
    let status = check.choice("status", body.status.as_deref(), ActiveStatus::parse, &ActiveStatus::expected());
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let parent_id = match body.parent_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) if raw.trim().is_empty() => Some(None),
        Some(Some(raw)) => check.id::<CollectionId>("parent_id", Some(&raw)).map(Some),
    };
    if parent_id == Some(Some(*id)) {
        check.fail("parent_id", "a collection cannot be its own parent");
    }
    check.finish()?;
    let changes = CollectionChanges {
        parent_id,
        name: name.flatten(),
        slug: slug.flatten(),
        description,
        image_url,
        status,
        position,
    };
    let collection =
        collections::update(&mut *state.conn().await?, caller.org(), &caller.actor, *id, expected, changes).await?;
    // Product details embed their collections: drop the organization's cached products.
    state.catalog.cache.invalidate_organization(caller.org()).await;
    Ok(reply::ok_versioned(&collection, collection.version))
}

#[utoipa::path(delete, path = "/api/v1/collections/{id}", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id"), DeleteArgs), responses((status = 204), (status = 404), (status = 409, description = "COLLECTION_HAS_CHILDREN")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Delete)?;
    collections::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, args.force).await?;
    state.catalog.cache.invalidate_organization(caller.org()).await;
    Ok(reply::no_content())
}

/// The collection's live products, a page at a time (product id order).
#[utoipa::path(get, path = "/api/v1/collections/{id}/products", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id"), PageArgs), responses((status = 200, description = "A page of products"), (status = 404)))]
pub async fn list_products(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    args: web::Query<PageArgs>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let conn = &mut *state.conn().await?;
    let ids = collections::product_ids(conn, caller.org(), *id, &page).await?;
    Ok(reply::ok(product_page(conn, caller.org(), ids).await?))
}

/// Drops the cached details of products whose collection links changed. Their variants'
/// cached cards do not embed collections, so only the products go.
async fn invalidate_products(state: &ApiState, org: OrganizationId, ids: &[ProductId]) {
    state.catalog.invalidate_variants(org, &[], ids).await;
}

/// Links products (already linked ones are left alone); answers the collection.
#[utoipa::path(post, path = "/api/v1/collections/{id}/products", tag = "collections", request_body = ProductIds, params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 200, body = Collection), (status = 400, description = "Unknown product ids, named under product_ids"), (status = 404)))]
pub async fn add_products(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    body: web::Json<ProductIds>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Update)?;
    let mut check = Check::new(Entity::Collection);
    let ids = product_ids(&mut check, body.product_ids.as_deref());
    check.finish()?;
    let collection =
        collections::add_products(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ids).await?;
    invalidate_products(&state, caller.org(), &ids).await;
    Ok(reply::ok_versioned(&collection, collection.version))
}

/// Unlinks products (ids not linked are ignored).
#[utoipa::path(delete, path = "/api/v1/collections/{id}/products", tag = "collections", request_body = ProductIds, params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 204), (status = 400), (status = 404)))]
pub async fn remove_products(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    body: web::Json<ProductIds>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Update)?;
    let mut check = Check::new(Entity::Collection);
    let ids = product_ids(&mut check, body.product_ids.as_deref());
    check.finish()?;
    collections::remove_products(&mut *state.conn().await?, caller.org(), &caller.actor, *id, &ids).await?;
    invalidate_products(&state, caller.org(), &ids).await;
    Ok(reply::no_content())
}

/// Unlinks one product; a product of the organization that is not linked is a no-op.
#[utoipa::path(delete, path = "/api/v1/collections/{id}/products/{product_id}", tag = "collections", responses((status = 204), (status = 404, description = "COLLECTION_NOT_FOUND or PRODUCT_NOT_FOUND")))]
pub async fn remove_product(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<(CollectionId, ProductId)>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Update)?;
    let (id, product_id) = path.into_inner();
    collections::remove_products(&mut *state.conn().await?, caller.org(), &caller.actor, id, &[product_id])
        .await
        .map_err(|e| match e {
            // The product is named by the path, not a body field: missing is a 404.
            Error::Validation { .. } => Error::NotFound(Entity::Product),
            other => other,
        })?;
    invalidate_products(&state, caller.org(), &[product_id]).await;
    Ok(reply::no_content())
}
