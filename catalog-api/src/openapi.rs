//! The OpenAPI document, assembled from every resource module's own `Doc`, served at
//! `/openapi.json` and browsable at `/docs` (Swagger UI vendored into the binary: no internet).
//!
//! It is written for client generators as much as for people: `deploy/local/client.sh`
//! generates a Python client from it with a generator nobody here wrote (openapi-python-client)
//! and runs the README's walk-through with it, failing on any generator warning and on any
//! answer the generated models cannot read. Besides the assembly, this module holds what the
//! document says that no handler type does: the `If-Match` header and the shapes of the answers handlers build by hand (pages, nested lists, counts).

pub mod accepts;

use crate::routes::options::OptionBody;
use crate::routes::products::CreateProduct;
use crate::routes::transfer::{ImportJob, LineResult};
use crate::views::{
    BrandView, CollectionView, PriceTierView, ProductImageView, ProductView, RuleView, TagView, VariantImageView,
    VariantView,
};
use catalog_core::db::replicas::READ_AFTER_COOKIE;
use catalog_core::ids::{BrandId, CollectionId, ImageId, PriceTierId, ProductId, VariantId};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// `catalog_core::db::replicas::READ_AFTER_HEADER` as documented (HTTP matches it in any case).
const READ_AFTER_HEADER: &str = "X-Catalog-Read-After";

#[derive(OpenApi)]
#[openapi(
    info(title = "Catalog Service REST API", description = "Products, variants, options, brands, collections, tags, images and volume price tiers of the ERP's catalog. Every request needs `Authorization: Bearer <token>`; every answer uses the `{status, statusCode, data|error, timestamp, path, requestId}` envelope."),
    security(("bearer" = [])),
)]
struct Root;

pub fn document() -> utoipa::openapi::OpenApi {
    let doc = assembled();
    let Ok(value) = serde_json::to_value(&doc) else { return doc };
    // The unit tests check that utoipa's model keeps every word of what is added.
    serde_json::from_value(describe_what_every_operation_shares(value)).unwrap_or(doc)
}

/// The document as served at `/openapi.json` and printed by `catalog-api openapi`: [`document`]
/// plus what utoipa's model cannot carry — links (its `Link` writes `operation_id`, not the
/// specification's `operationId`), the rules across a request's fields (`not`, `if`,
/// `anyOf`) and the schemas of [`accepts::json_only_schemas`].
pub fn document_json() -> Value {
    let mut value = serde_json::to_value(document()).unwrap_or(Value::Null);
    link_creates_to_their_operations(&mut value);
    if let Some(schemas) = value.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        declare_field_rules(schemas);
        // A form part's name travels in its `Content-Disposition` header, where HTTP allows no
        // control character: the multipart parser refuses such a body whole (400).
        if let Some(form) = schemas.get_mut("ImportForm").and_then(Value::as_object_mut) {
            form.insert("propertyNames".into(), json!({ "pattern": r"^[^\u0000-\u0008\u000a-\u001f\u007f]*$" }));
        }
        schemas.extend(accepts::json_only_schemas().into_iter().map(|(name, schema)| (name.to_string(), schema)));
    }
    value
}

/// [`document_json`] serialized, built once per process when first asked for. Each actix worker
/// used to hold its own `Value` tree of it from start-up: ~13 MB of resident memory per worker
/// for a document few clients ever fetch.
pub fn document_bytes() -> &'static [u8] {
    static DOCUMENT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_vec(&document_json()).unwrap_or_default())
}

/// OpenAPI links from each create (`201`) to the operations that take the new row's id, so a
/// client or a stateful fuzzer (schemathesis) reaches the rows it created. Targets: the paths
/// under the create's path with one more parameter (`POST /brands` → `/brands/{id}`, `POST
/// /products` → `/products/{id}/tags`, `POST /price-tiers/{id}/rules` →
/// `/price-tiers/{id}/rules/{rule_id}`) and under the top-level resource of the same name
/// (`POST /products/{id}/variants` → `/variants/{id}/activate`). The new id is `data.id`; the
/// target's other path parameters are the create's own, in order.
fn link_creates_to_their_operations(value: &mut Value) {
    let Some(paths) = value.get("paths").and_then(Value::as_object) else { return };
    let params = |path: &str| -> Vec<String> {
        path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).map(str::to_string).collect()
    };
    let shape = |path: &str| -> String {
        path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
    };
    let mut links: Vec<(String, Map<String, Value>)> = Vec::new();
    for (path, item) in paths {
        if item.pointer("/post/responses/201").is_none() {
            continue;
        }
        let resource = path.rsplit('/').next().unwrap_or_default();
        let prefixes = [format!("{}/{{}}", shape(path)), format!("/api/v1/{resource}/{{}}")];
        let own = params(path);
        // Under a prefix, with exactly the parameters it fills: the create's own and the new id.
        let takes_the_new_id = |target: &str| {
            let (target_shape, count) = (shape(target), params(target).len());
            let under = |prefix: &str| target_shape == prefix || target_shape.starts_with(&format!("{prefix}/"));
            (under(&prefixes[0]) && count == own.len() + 1) || (under(&prefixes[1]) && count == 1)
        };
        let mut found = Map::new();
        for (target, operations) in paths.iter().filter(|(target, _)| takes_the_new_id(target)) {
            let target_params = params(target);
            let Some((new_id, others)) = target_params.split_last() else { continue };
            let mut parameters: Map<String, Value> = others
                .iter()
                .zip(&own)
                .map(|(name, source)| (name.clone(), json!(format!("$request.path.{source}"))))
                .collect();
            parameters.insert(new_id.clone(), json!("$response.body#/data/id"));
            for (method, operation) in operations.as_object().into_iter().flatten() {
                let Some(operation_id) = operation.get("operationId").and_then(Value::as_str) else { continue };
                found.insert(
                    format!("{}_{operation_id}", method.to_uppercase()),
                    json!({ "operationId": operation_id, "parameters": parameters }),
                );
            }
        }
        if !found.is_empty() {
            links.push((path.clone(), found));
        }
    }
    for (path, found) in links {
        let pointer = format!("/paths/{}/post/responses/201", path.replace('~', "~0").replace('/', "~1"));
        if let Some(response) = value.pointer_mut(&pointer) {
            response["links"] = Value::Object(found);
        }
    }
}

/// The modules' own documents, merged.
fn assembled() -> utoipa::openapi::OpenApi {
    let mut doc = Root::openapi();
    use crate::routes::*;
    for part in [
        brands::Doc::openapi(),
        products::Doc::openapi(),
        bulk::Doc::openapi(),
        variants::Doc::openapi(),
        images::Doc::openapi(),
        options::Doc::openapi(),
        collections::Doc::openapi(),
        tags::Doc::openapi(),
        price_tiers::Doc::openapi(),
        recipes::Doc::openapi(),
        stock::Doc::openapi(),
        transfer::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    doc
}

// ---------------------------------------------------------------------------------------------
// What operations name in their annotations
// ---------------------------------------------------------------------------------------------

/// `If-Match`, on every write that checks it (`params(crate::openapi::IfMatch)`); those answer
/// the new `ETag`.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The `ETag` last read (`"3"`, `W/"3"` or `3`): the write is refused with 412
    /// `VERSION_MISMATCH` when the row has changed since, or when the value names no version.
    /// Absent or `*`: no check.
    #[param(rename = "If-Match", nullable = false)]
    pub if_match: Option<String>,
}

/// The file to import, as the request body: UTF-8 text, not empty (a file in another encoding is refused
/// with 400 naming `file`).
#[derive(ToSchema)]
#[schema(value_type = String, pattern = r"[\s\S]")]
pub struct ImportFile(pub Vec<u8>);

/// Where a page sits: pass `endCursor` as `after` for the next page, `startCursor` as `before`
/// for the previous one.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// `null` on an empty page.
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
    /// Rows matching the filters over all pages (absent where a list does not count them).
    #[schema(nullable = false)]
    pub total_count: Option<i64>,
}

/// A cursor page (`data.edges[].{cursor,node}`, `data.pageInfo`) of `$node`, and its edge.
macro_rules! page {
    ($(#[$doc:meta])* $page:ident, $edge:ident, $node:ident) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        pub struct $page {
            pub edges: Vec<$edge>,
            #[serde(rename = "pageInfo")]
            pub page_info: PageInfo,
        }

        /// One row of a page with its cursor (`after`/`before` take it).
        #[derive(ToSchema)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }
    };
}

page!(
    /// A page of brands.
    BrandPage, BrandEdge, BrandView
);
page!(
    /// A page of collections.
    CollectionPage, CollectionEdge, CollectionView
);
page!(
    /// A page of options with their values.
    OptionPage, OptionEdge, OptionBody
);
page!(
    /// A page of products, relations embedded.
    ProductPage, ProductEdge, ProductView
);
page!(
    /// A page of price tiers.
    PriceTierPage, PriceTierEdge, PriceTierView
);
page!(
    /// A page of price tier rules.
    RulePage, RuleEdge, RuleView
);
page!(
    /// A page of tags.
    TagPage, TagEdge, TagView
);
page!(
    /// A page of variants.
    VariantPage, VariantEdge, VariantView
);

/// The product a variant list belongs to.
#[derive(ToSchema)]
pub struct ProductRef {
    pub product_id: ProductId,
    pub name: String,
    pub sku: String,
}

/// A product's variants as the pages show them (`{product, variants, total_variants}`), with
/// the same page as `edges`/`pageInfo`.
#[derive(ToSchema)]
pub struct ProductVariants {
    pub product: ProductRef,
    /// Variants matching the filters over all pages.
    pub total_variants: i64,
    /// The page's variants (the `edges`' nodes).
    pub variants: Vec<VariantView>,
    pub edges: Vec<VariantEdge>,
    #[serde(rename = "pageInfo")]
    pub page_info: PageInfo,
}

/// The tier a rule page belongs to.
#[derive(ToSchema)]
pub struct RulesTier {
    pub price_tier_id: PriceTierId,
    pub id: PriceTierId,
    pub name: String,
    pub slug: String,
}

/// A tier's rules: `{price_tier, rules: {edges, pageInfo}}`.
#[derive(ToSchema)]
pub struct TierRules {
    pub price_tier: RulesTier,
    pub rules: RulePage,
}

/// A price tier with its rules (unless `include_rules=false`).
#[derive(ToSchema)]
pub struct PriceTierDetails {
    #[serde(flatten)]
    pub tier: PriceTierView,
    /// Absent with `include_rules=false`.
    #[schema(nullable = false)]
    pub rules: Option<Vec<RuleView>>,
}

/// A tag and a page of the products carrying it.
#[derive(ToSchema)]
pub struct TagProducts {
    pub tag: TagView,
    pub products: ProductPage,
}

/// What `POST /products/{id}/tags` did, and the product's tags after it.
#[derive(ToSchema)]
pub struct ProductTagsAdded {
    pub product_id: ProductId,
    /// Tags newly linked (already linked ones are not counted).
    pub tags_added: usize,
    pub tags_count: usize,
    pub tags: Vec<TagView>,
}

/// What `DELETE /products/{id}/tags` did, and the product's tags after it.
#[derive(ToSchema)]
pub struct ProductTagsRemoved {
    pub product_id: ProductId,
    pub tags_removed: usize,
    pub tags_count: usize,
    pub tags: Vec<TagView>,
}

/// What `POST /collections/{id}/products` did, and the collection after it.
#[derive(ToSchema)]
pub struct CollectionProductsAdded {
    pub collection_id: CollectionId,
    /// Products newly linked (already linked ones are not counted).
    pub products_added: usize,
    /// The collection's live products after the change.
    pub products_count: i64,
    pub collection: CollectionView,
}

/// What `DELETE /collections/{id}/products` did, and the collection after it.
#[derive(ToSchema)]
pub struct CollectionProductsRemoved {
    pub collection_id: CollectionId,
    pub products_removed: usize,
    pub products_count: i64,
    pub collection: CollectionView,
}

/// A collection with, when asked for, its sub-collections and the first page of its products.
#[derive(ToSchema)]
pub struct CollectionDetails {
    #[serde(flatten)]
    pub collection: CollectionView,
    /// With `include_children=true` only.
    #[schema(nullable = false)]
    pub children: Option<Vec<CollectionView>>,
    /// With `include_products=true` only.
    #[schema(nullable = false)]
    pub products: Option<ProductPage>,
}

/// The brand a variant's product carries.
#[derive(ToSchema)]
pub struct BrandRef {
    pub brand_id: BrandId,
    pub name: String,
    pub slug: String,
}

/// The product of a variant read with `include_product=true`.
#[derive(ToSchema)]
pub struct VariantProduct {
    pub product_id: ProductId,
    pub name: String,
    pub sku: String,
    pub brand: Option<BrandRef>,
}

/// A variant as the pages show it, with its product when asked for.
#[derive(ToSchema)]
pub struct VariantDetails {
    #[serde(flatten)]
    pub variant: VariantView,
    /// With `include_product=true` only.
    #[schema(nullable = false)]
    pub product: Option<VariantProduct>,
}

/// A product's images by position.
#[derive(ToSchema)]
pub struct ProductImages {
    pub product_id: ProductId,
    pub total_images: usize,
    pub images: Vec<ProductImageView>,
}

/// A variant's images by position.
#[derive(ToSchema)]
pub struct VariantImages {
    pub variant_id: VariantId,
    pub total_images: usize,
    pub images: Vec<VariantImageView>,
}

/// An image's place after a reorder.
#[derive(ToSchema)]
pub struct ImagePosition {
    pub image_id: ImageId,
    pub position: i32,
}

/// A product's images after a reorder.
#[derive(ToSchema)]
pub struct ProductImagesReordered {
    pub product_id: ProductId,
    pub images_reordered: usize,
    pub new_order: Vec<ImagePosition>,
    pub images: Vec<ProductImageView>,
}

/// A variant's images after a reorder.
#[derive(ToSchema)]
pub struct VariantImagesReordered {
    pub variant_id: VariantId,
    pub images_reordered: usize,
    pub new_order: Vec<ImagePosition>,
    pub images: Vec<VariantImageView>,
}

/// A row of `POST /products/bulk`: a product as `POST /products` takes it, plus its options by
/// name and its images. Each of its `variants` may list `images` the same way.
#[derive(ToSchema)]
pub struct BulkRow {
    #[serde(flatten)]
    pub product: CreateProduct,
    /// The product's options by name, in order (matched case-insensitively, created when
    /// missing); instead of `option_ids`.
    pub options: Option<Vec<String>>,
    /// When given, exactly the product's images, in this order (matched by URL).
    #[schema(nullable = false)]
    pub images: Option<Vec<BulkImage>>,
}

/// An image of a bulk row: its URL, or the URL with its alt text and primary flag.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BulkImage {
    Url(String),
    Image {
        /// Also accepted as `image_url`.
        url: String,
        alt: Option<String>,
        /// The primary image; by default the first.
        is_primary: Option<bool>,
    },
}

/// An import job with a page of its per-line results.
#[derive(ToSchema)]
pub struct ImportJobDetails {
    #[serde(flatten)]
    pub job: ImportJob,
    /// Up to 1,000 results by line, after `after_line`.
    pub results: Vec<LineResult>,
}

// ---------------------------------------------------------------------------------------------
// What every operation shares
// ---------------------------------------------------------------------------------------------

/// Each operation's annotations name its payload and its own errors; what they all share is
/// added here, once, so the document matches what the API sends: the success envelope around
/// each JSON payload, the error envelope with the statuses any request can meet, the path's id
/// parameters (every `{…}` segment is an id), `Idempotency-Key` on POSTs, the `ETag` header's
/// meaning, the request field aliases serde accepts, and which answer fields are always sent.
fn describe_what_every_operation_shares(mut value: Value) -> Value {
    if let Some(schemas) = value.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("ErrorEnvelope".into(), error_envelope());
        declare_aliases(schemas);
        declare_decimals(schemas);
    }
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            document_put_alias(item);
            if path.ends_with("/activate") || path.ends_with("/deactivate") {
                document_patch_alias(item);
            }
            for (method, operation) in item.iter_mut() {
                let Some(operation) = operation.as_object_mut() else { continue };
                declare_path_ids(path, operation);
                query_values_are_never_null(operation);
                qualify_operation_id(operation);
                let post = method == "post";
                if post {
                    declare_idempotency_key(operation);
                }
                let writes = matches!(method.as_str(), "post" | "put" | "patch" | "delete");
                if method == "get" {
                    declare_read_after(operation);
                }
                let responses = operation.entry("responses").or_insert_with(|| json!({}));
                let Some(responses) = responses.as_object_mut() else { continue };
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('2') {
                        wrap_in_envelope(response);
                        describe_headers(response, post, writes);
                    } else {
                        response["content"] = error_content();
                    }
                }
                for (status, description) in shared_errors(writes) {
                    responses.entry(status.clone()).or_insert_with(|| {
                        let mut response = json!({ "description": description, "content": error_content() });
                        if status == "429" {
                            response["headers"] = json!({ "Retry-After": {
                                "description": "Seconds to wait before trying again.",
                                "schema": { "type": "integer" }
                            }});
                        }
                        response
                    });
                }
            }
        }
    }
    mark_always_sent(&mut value);
    value
}

/// Every partial update (PATCH) also answers PUT with the same semantics (the seed's clients
/// use PUT); the document says so instead of leaving PUT undeclared.
fn document_put_alias(item: &mut Map<String, Value>) {
    if item.contains_key("put") {
        return;
    }
    let Some(mut put) = item.get("patch").cloned() else { return };
    if let Some(id) = put.get("operationId").and_then(Value::as_str) {
        put["operationId"] = json!(format!("{id}_put"));
    }
    let summary = put.get("summary").and_then(Value::as_str).unwrap_or_default().to_string();
    put["summary"] = json!(format!("{summary} (PUT: the same partial update as PATCH)").trim_start().to_string());
    item.insert("put".into(), put);
}

/// Operation ids are the handlers' names (`create`, `update`), repeated across resources; client
/// generators name models after them, so each is prefixed with its tag (`brands_create`).
fn qualify_operation_id(operation: &mut Map<String, Value>) {
    let tag = operation.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).map(|t| t.replace('-', "_"));
    let (Some(tag), Some(id)) = (tag, operation.get("operationId").and_then(Value::as_str)) else { return };
    if !id.starts_with(&format!("{tag}_")) {
        let qualified = format!("{tag}_{id}");
        operation.insert("operationId".into(), json!(qualified));
    }
}

/// Activation routes answer PATCH (the pages' verb) as well as POST (SPEC.md's).
fn document_patch_alias(item: &mut Map<String, Value>) {
    if item.contains_key("patch") {
        return;
    }
    let Some(mut patch) = item.get("post").cloned() else { return };
    if let Some(id) = patch.get("operationId").and_then(Value::as_str) {
        patch["operationId"] = json!(format!("{id}_patch"));
    }
    item.insert("patch".into(), patch);
}

fn declare_path_ids(path: &str, operation: &mut Map<String, Value>) {
    let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
    let Some(parameters) = parameters.as_array_mut() else { return };
    for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        let declared = parameters.iter().any(|p| p["in"] == "path" && p["name"] == name);
        if !declared {
            parameters.push(json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string", "format": "uuid" }
            }));
        }
    }
}

/// Every POST under `/api/v1` goes through the idempotency middleware (`crate::idempotency`).
fn declare_idempotency_key(operation: &mut Map<String, Value>) {
    let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
    let Some(parameters) = parameters.as_array_mut() else { return };
    if parameters.iter().any(|p| p["in"] == "header" && p["name"] == crate::idempotency::HEADER) {
        return;
    }
    parameters.push(json!({
        "name": crate::idempotency::HEADER,
        "in": "header",
        "required": false,
        "description": "Makes the POST safe to retry: the same key with the same request within 24 h gets the first answer again (`Idempotent-Replayed: true`) and writes nothing; with another request it is 409 `IDEMPOTENCY_KEY_REUSED`, and while the first one runs 409 `IDEMPOTENCY_KEY_IN_PROGRESS`.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 }
    }));
}

/// The read-your-writes position a GET may bring (see `crate::reads`): with read replicas
/// configured, reads after it are served only by a replica that has replayed that far.
fn declare_read_after(operation: &mut Map<String, Value>) {
    let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
    let Some(parameters) = parameters.as_array_mut() else { return };
    parameters.push(json!({
        "name": READ_AFTER_HEADER,
        "in": "header",
        "required": false,
        "description": format!("The `{READ_AFTER_HEADER}` of this client's last write (the `{READ_AFTER_COOKIE}` cookie carries the same): the read then never sees an older version than that write. A value that is not a position is ignored; without one, a read-replica answer may lag by up to `DATABASE_READ_MAX_LAG_MS`."),
        "schema": { "type": "string" }
    }));
}

/// The `ETag` a success declares (annotations name it: `headers(("ETag" = String))`) always
/// carries the row's version; a POST's answer may be a replay; a write tells its writer where
/// to read from next (only where read replicas are configured).
fn describe_headers(response: &mut Value, post: bool, writes: bool) {
    if let Some(etag) = response.get_mut("headers").and_then(|h| h.get_mut("ETag")) {
        *etag = json!({
            "description": "Always sent: the row's version, quoted (`\"3\"`); send it back as `If-Match` on the next write.",
            "schema": { "type": "string" }
        });
    }
    if post {
        let Some(response) = response.as_object_mut() else { return };
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        headers[crate::idempotency::REPLAYED_HEADER] = json!({
            "description": "`true` when this is the recorded answer to an earlier request with the same `Idempotency-Key`.",
            "schema": { "type": "string", "enum": ["true"] }
        });
    }
    if writes {
        let Some(response) = response.as_object_mut() else { return };
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        headers[READ_AFTER_HEADER] = json!({
            "description": "Sent where read replicas are configured: the primary's position after this write (`16/B374D848`). Send it back on GETs as this header so they read this write or a newer version.",
            "schema": { "type": "string" }
        });
        headers["Set-Cookie"] = json!({
            "description": format!("With `{READ_AFTER_HEADER}`: `{READ_AFTER_COOKIE}=<position>; Max-Age=<DATABASE_READ_AFTER_WRITE_SECS>; Path=/; HttpOnly; SameSite=Lax`, so a browser's next reads see this write without handling the header."),
            "schema": { "type": "string" }
        });
    }
}

/// JSON payloads are answered inside the success envelope; files (CSV, JSON Lines) as they are.
fn wrap_in_envelope(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else { return };
    let Some(media) = content.get_mut("application/json") else { return };
    let data = media.get("schema").cloned().unwrap_or_else(|| json!({}));
    media["schema"] = json!({
        "type": "object",
        "required": ["status", "statusCode", "data", "timestamp", "path", "requestId"],
        "properties": {
            "status": { "type": "string", "enum": ["success"] },
            "statusCode": { "type": "integer" },
            "data": data,
            "timestamp": { "type": "string", "format": "date-time" },
            "path": { "type": "string" },
            "requestId": { "type": "string" }
        }
    });
}

fn error_content() -> Value {
    json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } })
}

fn error_envelope() -> Value {
    json!({
        "type": "object",
        "required": ["status", "statusCode", "error", "timestamp", "path", "requestId"],
        "properties": {
            "status": { "type": "string", "enum": ["error"] },
            "statusCode": { "type": "integer" },
            "error": {
                "type": "object",
                "required": ["code", "type", "catalog_code", "message", "details"],
                "properties": {
                    "code": { "type": "string", "example": "PRODUCT_NOT_FOUND" },
                    "type": { "type": "string", "description": "The same as `code` (the pages' name)." },
                    "catalog_code": {
                        "type": ["string", "null"],
                        "description": "The published error table's number (`CAT-3001`), when it has one.",
                        "example": "CAT-3001"
                    },
                    "message": { "type": "string" },
                    "details": {
                        "type": "object",
                        "description": "Per code: `fields` and `validation_errors` (each failing field), `expected_version`/`current_version` (412), the clashing value and `existing_<entity>_id` (409), dependents' counts and a `suggestion`, `retry_after_secs` (429)."
                    }
                }
            },
            "timestamp": { "type": "string", "format": "date-time" },
            "path": { "type": "string" },
            "requestId": { "type": "string" }
        }
    })
}

/// Statuses any request can meet, whatever its resource.
fn shared_errors(writes: bool) -> Vec<(String, &'static str)> {
    let mut errors = vec![
        ("400", "invalid input: `error.details.fields` names every failing field"),
        ("401", "UNAUTHORIZED: missing, invalid or expired token"),
        ("403", "FORBIDDEN: missing permission or tenant header mismatch"),
        ("404", "not found (another organization's resources read as missing)"),
        ("429", "RATE_LIMITED"),
        ("503", "SERVICE_UNAVAILABLE: a dependency is down"),
    ];
    if writes {
        errors.extend([
            ("409", "conflict: duplicate, in use, or Idempotency-Key reused / in progress"),
            ("412", "VERSION_MISMATCH: If-Match names an older version"),
            ("413", "PAYLOAD_TOO_LARGE"),
        ]);
    }
    errors.into_iter().map(|(status, description)| (status.to_string(), description)).collect()
}

/// Other names request bodies accept for a field (serde aliases, the pages' spellings), which
/// utoipa does not see: `(schema, alias, field)`. The unit test below sends each alias to its
/// request type, so an alias removed from the code cannot stay in the document.
const BODY_ALIASES: &[(&str, &str, &str)] = &[
    ("CreateProduct", "name", "title"),
    ("CreateProduct", "price", "sale_price"),
    ("CreateProduct", "tax", "tax_rate"),
    ("UpdateProduct", "name", "title"),
    ("UpdateProduct", "sale_price", "base_price"),
    ("UpdateProduct", "price", "base_price"),
    ("CreateVariant", "price", "sale_price"),
    ("CreateVariant", "tax", "tax_rate"),
    ("UpdateVariant", "price", "sale_price"),
    ("UpdateVariant", "tax", "tax_rate"),
    ("CreateCollection", "sort_order", "position"),
    ("UpdateCollection", "sort_order", "position"),
    ("CreateOptionValue", "name", "value"),
    ("UpdateOptionValue", "name", "value"),
    ("CreateRule", "min_quantity", "min_qty"),
    ("UpdateRule", "min_quantity", "min_qty"),
    ("CreateTag", "tag_type", "type"),
    ("UpdateTag", "tag_type", "type"),
    ("CreateImage", "image_url", "url"),
    ("CreateImage", "alt_text", "alt"),
    ("UpdateImage", "image_url", "url"),
    ("UpdateImage", "alt_text", "alt"),
    ("ReorderImages", "image_order", "image_ids"),
];

fn declare_aliases(schemas: &mut Map<String, Value>) {
    for (schema, alias, field) in BODY_ALIASES {
        let Some(properties) = schemas.get_mut(*schema).and_then(|s| s.get_mut("properties")) else { continue };
        let Some(properties) = properties.as_object_mut() else { continue };
        let Some(mut property) = properties.get(*field).cloned() else { continue };
        if properties.contains_key(*alias) {
            continue;
        }
        property["description"] = json!(format!("Another name for `{field}` (send one of the two)."));
        properties.insert((*alias).to_string(), property);
    }
}

/// A query string cannot carry `null`: an absent parameter is how it says "none".
fn query_values_are_never_null(operation: &mut Map<String, Value>) {
    let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { return };
    for parameter in parameters.iter_mut().filter(|p| p["in"] == "query") {
        if let Some(schema) = parameter.get_mut("schema") {
            drop_null(schema);
        }
    }
}

fn drop_null(schema: &mut Value) {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types[0].clone();
        }
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.retain(|v| !v.is_null());
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema.get_mut(key).and_then(Value::as_array_mut) {
            branches.retain(|b| b.get("type") != Some(&json!("null")));
            branches.iter_mut().for_each(drop_null);
        }
    }
}

/// Names a request may use for one field: the first is the field, the others its aliases or
/// (`base_price`) a field that must say the same. At most one of them may be sent; where the
/// field is required, one of them must be.
const SAME_FIELD: &[(&str, &[&str])] = &[
    ("CreateProduct", &["title", "name"]),
    ("CreateProduct", &["sale_price", "price", "base_price"]),
    ("CreateProduct", &["tax_rate", "tax"]),
    ("UpdateProduct", &["title", "name"]),
    ("UpdateProduct", &["base_price", "sale_price", "price"]),
    ("CreateVariant", &["sale_price", "price"]),
    ("CreateVariant", &["tax_rate", "tax"]),
    ("UpdateVariant", &["sale_price", "price"]),
    ("UpdateVariant", &["tax_rate", "tax"]),
    ("CreateCollection", &["position", "sort_order"]),
    ("UpdateCollection", &["position", "sort_order"]),
    ("CreateOptionValue", &["value", "name"]),
    ("UpdateOptionValue", &["value", "name"]),
    ("CreateRule", &["min_qty", "min_quantity"]),
    ("UpdateRule", &["min_qty", "min_quantity"]),
    ("CreateTag", &["type", "tag_type"]),
    ("UpdateTag", &["type", "tag_type"]),
    ("CreateImage", &["url", "image_url"]),
    ("CreateImage", &["alt", "alt_text"]),
    ("UpdateImage", &["url", "image_url"]),
    ("UpdateImage", &["alt", "alt_text"]),
    ("ReorderImages", &["image_ids", "image_order"]),
];

/// Request schemas with both `status` and the pages' `is_active`, which must agree when both are
/// sent: the spellings of `status` that `is_active: true` agrees with (`false` agrees with the
/// inactive ones; any other status, e.g. `archived`, with neither).
const STATUS_AND_FLAG: &[&str] =
    &["CreateBrand", "UpdateBrand", "CreateCollection", "UpdateCollection", "CreateProduct", "UpdateProduct"];

/// Where `status`/`is_active` agreement is said only in the type's description: beside
/// `CreateProduct`'s forty properties the two `const`/`enum` branches made schemathesis's
/// coverage phase take over 20 minutes on `POST /products` (57 s without them, measured
/// 2026-12-04). The API still refuses a disagreeing pair, naming `is_active`.
const STATUS_AND_FLAG_IN_WORDS: &[&str] = &["CreateProduct"];

/// What a request must satisfy across its fields, as far as JSON Schema can say it (it cannot
/// compare two values: `default_min_stock ≤ default_max_stock` stays in words).
fn declare_field_rules(schemas: &mut Map<String, Value>) {
    // Every forbidden combination of one schema goes into a single `not: {anyOf}`: the same
    // meaning as one `not` per rule, and the form schemathesis's canonicalizer can still
    // generate from (five separate `not`s on `CreateProduct` left it unable to).
    let mut forbidden: std::collections::BTreeMap<&str, Vec<Value>> = std::collections::BTreeMap::new();
    for (name, names) in SAME_FIELD {
        let Some(schema) = schemas.get_mut(*name) else { continue };
        let required = schema.get_mut("required").and_then(Value::as_array_mut).is_some_and(|required| {
            let before = required.len();
            required.retain(|r| !names.contains(&r.as_str().unwrap_or_default()));
            required.len() != before
        });
        if required {
            add_rules(
                schema,
                vec![json!({ "anyOf": names.iter().map(|n| json!({ "required": [n] })).collect::<Vec<_>>() })],
            );
        }
        forbidden.entry(*name).or_default().extend(
            names
                .iter()
                .enumerate()
                .flat_map(|(i, a)| names[i + 1..].iter().map(move |b| json!({ "required": [a, b] }))),
        );
    }
    for name in STATUS_AND_FLAG.iter().filter(|name| !STATUS_AND_FLAG_IN_WORDS.contains(name)) {
        let Some(schema) = schemas.get(*name) else { continue };
        let spellings: Vec<String> = schema
            .pointer("/properties/status/enum")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let (active, inactive) = spellings_by_state(&spellings);
        let disagreeing = |flag: bool, agreeing: &[String]| {
            json!({
                "required": ["status", "is_active"],
                "properties": { "is_active": { "const": flag }, "status": { "type": "string", "not": { "enum": agreeing } } }
            })
        };
        forbidden.entry(name).or_default().extend([disagreeing(true, &active), disagreeing(false, &inactive)]);
    }
    for (name, branches) in forbidden {
        if let Some(schema) = schemas.get_mut(name) {
            add_rules(schema, vec![json!({ "not": { "anyOf": branches } })]);
        }
    }
    // `option_id` and `option_value` come together or not at all (`null` counts as absent).
    // Positive branches rather than `dependentRequired`, which schemathesis cannot generate
    // inside another body (`CreateProduct.variants`).
    if let Some(schema) = schemas.get_mut("CreateVariant") {
        let neither = json!({ "properties": { "option_id": { "type": "null" }, "option_value": { "type": "null" } } });
        add_rules(schema, vec![json!({ "anyOf": [{ "required": ["option_id", "option_value"] }, neither] })]);
    }
    // A simple product needs its price; a product with variants (listed, or declared with
    // `has_variants` to add them later) prices each variant. Not said here: `variants` need
    // `has_variants` true or absent; the type's description says it in words (more branches
    // made schemathesis's coverage phase run for minutes on this one operation).
    if let Some(schema) = schemas.get_mut("CreateProduct") {
        // Present and not `null` (`required` alone is met by `"price": null`).
        let given =
            |field: &str| json!({ "required": [field], "properties": { field: { "type": ["string", "number"] } } });
        let priced = json!({ "anyOf": [
            given("sale_price"),
            given("price"),
            given("base_price"),
            { "required": ["variants"], "properties": { "variants": { "minItems": 1 } } },
            { "required": ["has_variants"], "properties": { "has_variants": { "const": true } } },
        ]});
        add_rules(schema, vec![priced]);
    }
}

/// Which `status` spellings mean active and which inactive, as the core parses them.
fn spellings_by_state(spellings: &[String]) -> (Vec<String>, Vec<String>) {
    use catalog_core::models::{ActiveStatus, ProductStatus};
    let state = |s: &str| match (ActiveStatus::parse(s), ProductStatus::parse(s)) {
        (Some(ActiveStatus::Active), _) | (_, Some(ProductStatus::Active)) => Some(true),
        (Some(ActiveStatus::Inactive), _) | (_, Some(ProductStatus::Inactive)) => Some(false),
        _ => None,
    };
    let of = |wanted: bool| spellings.iter().filter(|s| state(s) == Some(wanted)).cloned().collect();
    (of(true), of(false))
}

fn add_rules(schema: &mut Value, rules: Vec<Value>) {
    let Some(object) = schema.as_object_mut() else { return };
    let all_of = object.entry("allOf").or_insert_with(|| json!([]));
    if let Some(all_of) = all_of.as_array_mut() {
        all_of.extend(rules);
    }
}

/// Decimal fields of `catalog_core` models, which utoipa renders as plain strings: `(schema,
/// fields)`. The API's own types say `format = "decimal"` in their annotations.
const DECIMAL_FIELDS: &[(&str, &[&str])] = &[
    (
        "Variant",
        &[
            "sale_price",
            "cost_price",
            "compare_at_price",
            "tax_rate",
            "weight",
            "dim_length",
            "dim_width",
            "dim_height",
        ],
    ),
    ("PriceTierRule", &["price"]),
    ("VariantSummary", &["base_price"]),
];

fn declare_decimals(schemas: &mut Map<String, Value>) {
    for (schema, fields) in DECIMAL_FIELDS {
        for field in *fields {
            if let Some(property) =
                schemas.get_mut(*schema).and_then(|s| s.pointer_mut(&format!("/properties/{field}")))
            {
                property["format"] = json!("decimal");
            }
        }
    }
}

/// In answers serde writes every `Option` field, as `null` when empty, unless it is skipped
/// (`skip_serializing_if`); utoipa marks them all optional. In the schemas only answers use,
/// each nullable property is marked required: a generated client then reads `str | None`
/// instead of "maybe absent". A field skipped when empty must say `#[schema(nullable = false)]`
/// (absent, never `null`), which keeps it optional.
fn mark_always_sent(doc: &mut Value) {
    let (mut requests, mut responses) = (BTreeSet::new(), BTreeSet::new());
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for operation in paths.values().filter_map(Value::as_object).flat_map(|item| item.values()) {
            for key in ["requestBody", "parameters"] {
                refs_in(&operation[key], &mut requests);
            }
            refs_in(&operation["responses"], &mut responses);
        }
    }
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    let requests = with_referenced(schemas, requests);
    let responses = with_referenced(schemas, responses);
    for name in responses.difference(&requests) {
        if let Some(schema) = schemas.get_mut(name) {
            require_nullable(schema);
        }
    }
}

/// The component names `value` refers to (`$ref: #/components/schemas/<name>`).
fn refs_in(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) =
                map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.insert(name.to_string());
            }
            map.values().for_each(|v| refs_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

/// `names` and every schema they refer to, transitively.
fn with_referenced(schemas: &Map<String, Value>, names: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = names.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut found = BTreeSet::new();
        if let Some(schema) = schemas.get(&name) {
            refs_in(schema, &mut found);
        }
        todo.extend(found.into_iter().filter(|n| !seen.contains(n)));
    }
    seen
}

fn require_nullable(schema: &mut Value) {
    if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        parts.iter_mut().for_each(require_nullable);
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    let nullable: Vec<String> = properties.iter().filter(|(_, s)| is_nullable(s)).map(|(k, _)| k.clone()).collect();
    if nullable.is_empty() {
        return;
    }
    let Some(object) = schema.as_object_mut() else { return };
    let required = object.entry("required").or_insert_with(|| json!([]));
    let Some(required) = required.as_array_mut() else { return };
    for name in nullable {
        if !required.iter().any(|r| r == name.as_str()) {
            required.push(json!(name));
        }
    }
}

fn is_nullable(schema: &Value) -> bool {
    let typed_null = match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    typed_null
        || ["oneOf", "anyOf"]
            .iter()
            .any(|key| schema.get(*key).and_then(Value::as_array).is_some_and(|items| items.iter().any(is_nullable)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{collections, images, options, price_tiers, products, tags, variants};
    use serde::de::DeserializeOwned;

    fn accepts<T: DeserializeOwned>(body: Value) -> bool {
        serde_json::from_value::<T>(body).is_ok()
    }

    /// The served document links creates to the operations that take the new id, with the
    /// specification's `operationId` (utoipa's own model would write `operation_id`).
    #[test]
    fn creates_link_to_the_operations_that_take_their_ids() {
        let doc = document_json();
        let link = |path: &str, name: &str| doc["paths"][path]["post"]["responses"]["201"]["links"][name].clone();
        assert_eq!(
            link("/api/v1/brands", "GET_brands_get"),
            json!({ "operationId": "brands_get", "parameters": { "id": "$response.body#/data/id" } })
        );
        assert_eq!(
            link("/api/v1/products/{id}/variants", "GET_variants_get_nested")["parameters"],
            json!({ "product_id": "$request.path.id", "id": "$response.body#/data/id" })
        );
        // Every link names an operation the document has.
        let ids: Vec<Value> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .flat_map(|item| item.as_object().into_iter().flat_map(|ops| ops.values()))
            .map(|op| op["operationId"].clone())
            .collect();
        for item in doc["paths"].as_object().into_iter().flat_map(|paths| paths.values()) {
            for (_, target) in item["post"]["responses"]["201"]["links"].as_object().into_iter().flatten() {
                assert!(ids.contains(&target["operationId"]), "{target}");
            }
        }
    }

    #[test]
    fn every_documented_alias_is_accepted_by_its_request_type() {
        for (schema, alias, field) in BODY_ALIASES {
            let body = json!({ *alias: null });
            let accepted = match *schema {
                "CreateProduct" => accepts::<products::CreateProduct>(body),
                "UpdateProduct" => accepts::<products::UpdateProduct>(body),
                "CreateVariant" => accepts::<variants::CreateVariant>(body),
                "UpdateVariant" => accepts::<variants::UpdateVariant>(body),
                "CreateCollection" => accepts::<collections::CreateCollection>(body),
                "UpdateCollection" => accepts::<collections::UpdateCollection>(body),
                "CreateOptionValue" => accepts::<options::CreateOptionValue>(body),
                "UpdateOptionValue" => accepts::<options::UpdateOptionValue>(body),
                "CreateRule" => accepts::<price_tiers::CreateRule>(body),
                "UpdateRule" => accepts::<price_tiers::UpdateRule>(body),
                "CreateTag" => accepts::<tags::CreateTag>(body),
                "UpdateTag" => accepts::<tags::UpdateTag>(body),
                "CreateImage" => accepts::<images::CreateImage>(body),
                "UpdateImage" => accepts::<images::UpdateImage>(body),
                "ReorderImages" => accepts::<images::ReorderImages>(body),
                other => panic!("no request type for {other}"),
            };
            assert!(accepted, "{schema} does not accept `{alias}` (documented as another name for `{field}`)");
        }
    }

    #[test]
    fn reads_take_and_writes_answer_the_read_after_position() {
        assert!(READ_AFTER_HEADER.eq_ignore_ascii_case(catalog_core::db::replicas::READ_AFTER_HEADER));
        let doc = document_json();
        let (mut reads, mut writes) = (0, 0);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if method == "get" {
                    let takes = operation["parameters"].as_array().into_iter().flatten();
                    assert_eq!(takes.filter(|p| p["name"] == READ_AFTER_HEADER).count(), 1, "GET {path}");
                    reads += 1;
                    continue;
                }
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.starts_with('2') {
                        let headers = &response["headers"];
                        assert!(
                            headers[READ_AFTER_HEADER].is_object() && headers["Set-Cookie"].is_object(),
                            "{method} {path} {status}"
                        );
                        writes += 1;
                    }
                }
            }
        }
        assert!(reads > 20 && writes > 20, "{reads} reads, {writes} write answers");
    }

    #[test]
    fn utoipa_s_model_keeps_everything_the_document_adds() {
        let value = describe_what_every_operation_shares(serde_json::to_value(assembled()).unwrap());
        let kept: utoipa::openapi::OpenApi = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(kept).unwrap(), value);
    }

    #[test]
    fn aliases_and_decimal_formats_name_existing_fields() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (schema, alias, field) in BODY_ALIASES {
            let properties = &schemas[*schema]["properties"];
            assert!(properties[*field].is_object(), "{schema}.{field}");
            assert!(properties[*alias].is_object(), "{schema}.{alias}");
        }
        for (schema, fields) in DECIMAL_FIELDS {
            for field in *fields {
                assert_eq!(schemas[*schema]["properties"][*field]["format"], "decimal", "{schema}.{field}");
            }
        }
    }
}
