//! `/api/v1/collections`: the per-organization collection tree, its products, and re-parenting
//! (a cycle is a 400 on `parent_id`).

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult, Explained};
use crate::openapi::accepts;
use crate::reply::{self, Connection, PageArgs, if_match};
use crate::routes::{NamedListArgs, active_status, flag};
use crate::state::ApiState;
use crate::views::{CollectionView, ProductView};
use actix_web::{HttpRequest, web};
use catalog_core::auth::{Action, Resource};
use catalog_core::db::PgConn;
use catalog_core::error::{Entity, Error};
use catalog_core::ids::{CollectionId, OrganizationId, ProductId};
use catalog_core::models::{ActiveStatus, Collection, CollectionChanges, NewCollection};
use catalog_core::pagination::{Page, PageRequest};
use catalog_core::repo::collections::{self, CollectionNode, OnDelete};
use catalog_core::validate::{Check, nullable};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, tree, get, update, delete, list_products, add_products, remove_products, remove_product),
    components(schemas(CreateCollection, UpdateCollection, ProductIds, CollectionTreeNode, CollectionView))
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
const DESCRIPTION_MAX: usize = 5000;
const POSITION_MAX: i64 = 1_000_000;
/// Sub-collections `include_children` embeds.
const CHILDREN_MAX: i64 = 1000;
/// Products one request may link or unlink.
const PRODUCT_IDS_MAX: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    #[schema(schema_with = accepts::required_text::<NAME_MAX>, required = true)]
    pub name: Option<String>,
    /// Generated from the name when absent.
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[schema(schema_with = accepts::text::<DESCRIPTION_MAX>)]
    pub description: Option<String>,
    #[schema(schema_with = accepts::url)]
    pub image_url: Option<String>,
    /// `active` (default) or `inactive`.
    #[schema(schema_with = accepts::choice::<ActiveStatus>)]
    pub status: Option<String>,
    /// The pages' spelling of `status` (default true).
    pub is_active: Option<bool>,
    /// Order among its siblings (default 0); the pages call it `sort_order`.
    #[serde(alias = "sort_order")]
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// The parent collection; absent (or blank) for a root.
    #[schema(schema_with = accepts::id_or_blank)]
    pub parent_id: Option<String>,
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    #[schema(schema_with = accepts::present_text::<NAME_MAX>)]
    pub name: Option<String>,
    #[schema(schema_with = accepts::slug::<200>)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::text::<DESCRIPTION_MAX>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::url)]
    pub image_url: Option<Option<String>>,
    #[schema(schema_with = accepts::choice::<ActiveStatus>)]
    pub status: Option<String>,
    pub is_active: Option<bool>,
    #[serde(alias = "sort_order")]
    #[schema(schema_with = accepts::int::<0, POSITION_MAX>)]
    #[serde(default, deserialize_with = "catalog_core::validate::whole_number")]
    pub position: Option<i64>,
    /// Replaces the collection's metadata.
    #[schema(schema_with = accepts::metadata)]
    pub metadata: Option<Value>,
    /// Moves the collection: a collection id, or `null` to make it a root. Its own
    /// descendants are refused (400: cycle).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = accepts::id)]
    pub parent_id: Option<Option<String>>,
}

/// Products to link or unlink; every id must be a live product of the organization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIds {
    #[schema(schema_with = accepts::some_ids::<PRODUCT_IDS_MAX>, required = true)]
    pub product_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ParentFilter {
    /// `root` (or `null`) for top-level collections, or a collection id for its children.
    #[param(schema_with = accepts::parent_filter)]
    pub parent_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteArgs {
    /// Delete even with sub-collections (they move up to this collection's parent) or products
    /// (they are unlinked).
    #[serde(default)]
    pub force: bool,
    /// Another collection that takes this one's sub-collections and products.
    #[param(schema_with = accepts::id_or_blank)]
    pub reassign_to: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct GetArgs {
    /// Embed the live sub-collections (`children`). Default false.
    #[param(schema_with = accepts::flag)]
    pub include_children: Option<String>,
    /// Embed the first page of the collection's products (`products`). Default false.
    #[param(schema_with = accepts::flag)]
    pub include_products: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TreeArgs {
    /// Levels below the roots to include (default 3; 1 = roots only).
    #[param(schema_with = accepts::int::<1, 100>)]
    pub max_depth: Option<i64>,
    /// Product counts on every node (default true).
    #[param(schema_with = accepts::flag)]
    pub include_counts: Option<String>,
}

/// A collection with its sub-collections, each level by position then name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionTreeNode {
    #[serde(flatten)]
    pub collection: CollectionView,
    #[schema(no_recursion)]
    pub children: Vec<CollectionTreeNode>,
}

impl CollectionTreeNode {
    fn new(
        node: CollectionNode,
        depth_left: i64,
        counts: &HashMap<CollectionId, (i64, i64)>,
        with_counts: bool,
    ) -> Self {
        let count = with_counts.then(|| counts.get(&node.collection.id).copied().unwrap_or((0, 0)));
        let children = if depth_left > 1 {
            node.children.into_iter().map(|c| Self::new(c, depth_left - 1, counts, with_counts)).collect()
        } else {
            Vec::new()
        };
        Self { collection: CollectionView::new(node.collection, count), children }
    }
}

fn node_ids(nodes: &[CollectionNode], out: &mut Vec<CollectionId>) {
    for node in nodes {
        out.push(node.collection.id);
        node_ids(&node.children, out);
    }
}

/// A page of products from a page of their ids, as the pages show products (relations
/// embedded): one cached batch read, answered in the page's order. Shared with
/// `/tags/{id}/products`.
pub(crate) async fn product_page(
    state: &ApiState,
    org: OrganizationId,
    ids: Page<ProductId>,
) -> Result<Connection<ProductView>, ApiError> {
    let found = state.catalog.product_details(org, &ids.items).await?;
    // A product deleted between the two reads simply drops out of the page.
    let items: Vec<ProductView> = found.into_iter().flatten().map(ProductView::from).collect();
    let page = ids.with_items(items);
    Ok(reply::connection(page, |p| p.product_id.as_uuid()))
}

/// Collections with their counts (two statements for any number).
async fn views(conn: &mut PgConn, org: OrganizationId, rows: Vec<Collection>) -> Result<Vec<CollectionView>, ApiError> {
    let ids: Vec<CollectionId> = rows.iter().map(|c| c.id).collect();
    let counts = collections::counts(conn, org, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let count = counts.get(&c.id).copied().unwrap_or((0, 0));
            CollectionView::new(c, Some(count))
        })
        .collect())
}

async fn view(conn: &mut PgConn, org: OrganizationId, row: Collection) -> Result<CollectionView, ApiError> {
    let mut one = views(conn, org, vec![row]).await?;
    one.pop().ok_or(ApiError(Error::NotFound(Entity::Collection)))
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

/// List collections, oldest first, with their counts; `parent_id=root` or `parent_id=<id>`
/// narrows to one level, `search` and `is_active` filter.
#[utoipa::path(get, path = "/api/v1/collections", tag = "collections", params(PageArgs, ParentFilter, NamedListArgs), responses((status = 200, body = crate::openapi::CollectionPage), (status = 400)))]
pub async fn list(
    caller: Caller,
    state: web::Data<ApiState>,
    args: web::Query<PageArgs>,
    filter: web::Query<ParentFilter>,
    named: web::Query<NamedListArgs>,
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
    let named = named.filter(Entity::Collection)?;
    let conn = &mut *state.conn().await?;
    let found = collections::list(conn, caller.org(), &page, parent, &named).await?;
    let mut found = found;
    let items = views(conn, caller.org(), std::mem::take(&mut found.items)).await?;
    Ok(reply::ok(reply::connection(found.with_items(items), |c| c.collection_id.as_uuid())))
}

/// The organization's collection tree, `max_depth` levels deep (default 3), with product
/// counts unless `include_counts=false`.
#[utoipa::path(get, path = "/api/v1/collections/tree", tag = "collections", params(TreeArgs), responses((status = 200, body = Vec<CollectionTreeNode>), (status = 400)))]
pub async fn tree(caller: Caller, state: web::Data<ApiState>, args: web::Query<TreeArgs>) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let mut check = Check::new(Entity::Collection);
    let max_depth = check.int("max_depth", args.max_depth, 1, 100).unwrap_or(3);
    let with_counts = flag(&mut check, "include_counts", args.include_counts.as_deref()).unwrap_or(true);
    check.finish()?;
    let conn = &mut *state.conn().await?;
    let roots = collections::tree(conn, caller.org()).await?;
    let counts = if with_counts {
        let mut ids = Vec::new();
        node_ids(&roots, &mut ids);
        collections::counts(conn, caller.org(), &ids).await?
    } else {
        HashMap::new()
    };
    let nodes: Vec<CollectionTreeNode> = roots
        .into_iter()
        .map(|root| CollectionTreeNode::new(root, i64::from(max_depth), &counts, with_counts))
        .collect();
    Ok(reply::ok(nodes))
}

#[utoipa::path(post, path = "/api/v1/collections", tag = "collections", request_body = CreateCollection, responses((status = 201, body = CollectionView, headers(("ETag" = String))), (status = 400), (status = 409, description = "COLLECTION_SLUG_EXISTS")))]
pub async fn create(caller: Caller, state: web::Data<ApiState>, body: web::Json<CreateCollection>) -> ApiResult {
    caller.require(Resource::Collections, Action::Create)?;
    let body = body.into_inner();
    let mut check = Check::new(Entity::Collection);
    let name = check.required_text("name", body.name.as_deref(), NAME_MAX);
    let slug = check.slug("slug", body.slug.as_deref());
    let description = check.text("description", body.description.as_deref(), DESCRIPTION_MAX);
    let image_url = check.url("image_url", body.image_url.as_deref());
    let status = active_status(&mut check, body.status.as_deref(), body.is_active);
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let parent_id = check.id::<CollectionId>("parent_id", body.parent_id.as_deref().filter(|p| !p.trim().is_empty()));
    let metadata = check.object("metadata", body.metadata);
    check.finish()?;
    let new = NewCollection {
        metadata,
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
    let conn = &mut *state.conn().await?;
    let collection = state
        .catalog
        .write(collections::create(conn, caller.org(), &caller.actor, new))
        .await
        .explained(conn, caller.org())
        .await?;
    let version = collection.version;
    Ok(reply::created(CollectionView::new(collection, Some((0, 0))), version))
}

/// The collection with its counts; `include_children` embeds its sub-collections,
/// `include_products` the first page of its products.
#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id"), GetArgs), responses((status = 200, body = crate::openapi::CollectionDetails, headers(("ETag" = String))), (status = 404)))]
pub async fn get(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    args: web::Query<GetArgs>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let mut check = Check::new(Entity::Collection);
    let with_children = flag(&mut check, "include_children", args.include_children.as_deref()).unwrap_or(false);
    let with_products = flag(&mut check, "include_products", args.include_products.as_deref()).unwrap_or(false);
    check.finish()?;
    let conn = &mut *state.conn().await?;
    let collection = collections::get(conn, caller.org(), *id).await?;
    let version = collection.version;
    let mut answer = serde_json::to_value(view(conn, caller.org(), collection).await?)
        .map_err(|e| ApiError(Error::internal_from("encoding a collection", &e)))?;
    if with_children {
        let children = collections::list(
            conn,
            caller.org(),
            &PageRequest::first(CHILDREN_MAX),
            Some(Some(*id)),
            &Default::default(),
        )
        .await?;
        answer["children"] = json!(views(conn, caller.org(), children.items).await?);
    }
    if with_products {
        let page = PageArgs::default().request(&state.settings.pagination)?;
        let ids = collections::product_ids(conn, caller.org(), *id, &page).await?;
        answer["products"] = json!(product_page(&state, caller.org(), ids).await?);
    }
    Ok(reply::ok_versioned(answer, version))
}

/// Partial update, re-parenting included (`parent_id`: an id, or `null` for a root).
#[utoipa::path(patch, path = "/api/v1/collections/{id}", tag = "collections", request_body = UpdateCollection, params(("id" = uuid::Uuid, Path, description = "The collection's id"), crate::openapi::IfMatch), responses((status = 200, body = CollectionView, headers(("ETag" = String))), (status = 400, description = "Invalid data, or a cycle on parent_id"), (status = 404), (status = 409), (status = 412)))]
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
    let description = body.description.map(|d| d.and_then(|d| check.text("description", Some(&d), DESCRIPTION_MAX)));
    let image_url = body.image_url.map(|u| u.and_then(|u| check.url("image_url", Some(&u))));
    let status = active_status(&mut check, body.status.as_deref(), body.is_active);
    let position = check.int("position", body.position, 0, POSITION_MAX);
    let metadata = check.object("metadata", body.metadata);
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
        metadata,
    };
    let conn = &mut *state.conn().await?;
    let collection = state
        .catalog
        .write(collections::update(conn, caller.org(), &caller.actor, *id, expected, changes))
        .await
        .explained(conn, caller.org())
        .await?;
    // Product details embed their collections: drop the organization's cached products.
    let version = collection.version;
    Ok(reply::ok_versioned(view(conn, caller.org(), collection).await?, version))
}

#[utoipa::path(delete, path = "/api/v1/collections/{id}", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id"), DeleteArgs), responses((status = 204), (status = 404), (status = 400, description = "CIRCULAR_COLLECTION_REFERENCE (reassign_to under itself)"), (status = 409, description = "COLLECTION_HAS_CHILDREN, COLLECTION_HAS_PRODUCTS")))]
pub async fn delete(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    args: web::Query<DeleteArgs>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Delete)?;
    let mut check = Check::new(Entity::Collection);
    let heir = check.id::<CollectionId>("reassign_to", args.reassign_to.as_deref().filter(|r| !r.trim().is_empty()));
    if heir == Some(*id) {
        check.fail("reassign_to", "must be another collection");
    }
    check.finish()?;
    let on_delete = match (heir, args.force) {
        (Some(heir), _) => OnDelete::ReassignTo(heir),
        (None, true) => OnDelete::Force,
        (None, false) => OnDelete::Refuse,
    };
    state
        .catalog
        .write(collections::delete(&mut *state.conn().await?, caller.org(), &caller.actor, *id, on_delete))
        .await?;
    Ok(reply::no_content())
}

/// The collection's live products, a page at a time (product id order).
#[utoipa::path(get, path = "/api/v1/collections/{id}/products", tag = "collections", params(("id" = uuid::Uuid, Path, description = "The collection's id"), PageArgs), responses((status = 200, body = crate::openapi::ProductPage), (status = 404)))]
pub async fn list_products(
    caller: Caller,
    state: web::Data<ApiState>,
    id: web::Path<CollectionId>,
    args: web::Query<PageArgs>,
) -> ApiResult {
    caller.require(Resource::Collections, Action::Read)?;
    let page = args.request(&state.settings.pagination)?;
    let ids = collections::product_ids(&mut *state.conn().await?, caller.org(), *id, &page).await?;
    Ok(reply::ok(product_page(&state, caller.org(), ids).await?))
}

/// What a membership change did: `products_added` or `products_removed`, and the collection's
/// live product count after it.
async fn membership_answer(
    conn: &mut PgConn,
    org: OrganizationId,
    collection: Collection,
    changed_key: &str,
    changed: usize,
) -> ApiResult {
    let version = collection.version;
    let view = view(conn, org, collection).await?;
    let answer = json!({
        "collection_id": view.collection_id,
        changed_key: changed,
        "products_count": view.products_count.unwrap_or(0),
        "collection": view,
    });
    Ok(reply::ok_versioned(answer, version))
}

/// Links products (already linked ones are left alone); answers how many were linked and the
/// collection's product count.
#[utoipa::path(post, path = "/api/v1/collections/{id}/products", tag = "collections", request_body = ProductIds, params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 200, body = crate::openapi::CollectionProductsAdded, headers(("ETag" = String))), (status = 400, description = "Unknown product ids, named under product_ids"), (status = 404)))]
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
    let conn = &mut *state.conn().await?;
    let (collection, added) =
        state.catalog.write(collections::add_products_reporting(conn, caller.org(), &caller.actor, *id, &ids)).await?;
    membership_answer(conn, caller.org(), collection, "products_added", added.len()).await
}

/// Unlinks products (ids not linked are ignored); answers how many were unlinked and the
/// collection's product count.
#[utoipa::path(delete, path = "/api/v1/collections/{id}/products", tag = "collections", request_body = ProductIds, params(("id" = uuid::Uuid, Path, description = "The collection's id")), responses((status = 200, body = crate::openapi::CollectionProductsRemoved, headers(("ETag" = String))), (status = 400), (status = 404)))]
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
    let conn = &mut *state.conn().await?;
    let (collection, removed) = state
        .catalog
        .write(collections::remove_products_reporting(conn, caller.org(), &caller.actor, *id, &ids))
        .await?;
    membership_answer(conn, caller.org(), collection, "products_removed", removed.len()).await
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
    state
        .catalog
        .write(collections::remove_products(&mut *state.conn().await?, caller.org(), &caller.actor, id, &[product_id]))
        .await
        .map_err(|e| match e {
            // The product is named by the path, not a body field: missing is a 404.
            Error::Validation { .. } => Error::NotFound(Entity::Product),
            other => other,
        })?;
    Ok(reply::no_content())
}
