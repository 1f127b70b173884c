//! The published REST contract (`docs/design/09`–`22`, the pages the front ends were written
//! against, and page 03's recipes), checked against the real API: every documented request example is sent with real
//! ids and must be accepted with its documented status; what it sent must show in the answer
//! under the same name; every field of the documented answer must be present with a compatible
//! type; every documented error example is provoked and must answer its status, code and
//! `details` keys; every documented query parameter must be declared in `/openapi.json`.
//!
//! What differs on purpose is listed here: `RECONCILED` (SPEC.md settles it another way) and
//! `NOT_BUILT` (with the reason). A difference in neither list fails the test, and so does an
//! entry in either list that no longer differs, so the lists stay true. The run renders
//! `CONTRACT.md` (one line per documented item); `UPDATE_CONTRACT=1` rewrites it, otherwise the
//! file must match.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "contract/design.rs"]
mod design;

use actix_web::http::Method;
use catalog_core::ids::LocalId;
use common::{Reply, TestApp, User};
use design::Endpoint;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

/// Documented items SPEC.md settles differently: (item, how and why). Matched by prefix of the
/// item's key (`page | endpoint | kind name`).
const RECONCILED: &[(&str, &str)] = &[
    (
        "money",
        "money is a decimal string in answers (`\"49.99\"`), a string or a number in requests (SPEC §4: never binary floating point)",
    ),
    (
        "11-api-options.md | POST /api/v1/options | request values",
        "sent as names, answered as value objects (`{id, value, position}`): variants name their values by id (SPEC §2)",
    ),
    (
        "11-api-options.md | GET /api/v1/options | response .data",
        "a cursor page (`data.edges[].node`, `data.pageInfo`) like every list (SPEC §4); each node carries `values` as objects with `value`",
    ),
    (
        "10-api-variants.md | GET /api/v1/variants/{variantId}/stock | response .data.stock_movements_today",
        STOCK_READ_MODEL,
    ),
    (
        "16-errores-comunes.md | error table | IMAGE_UPLOAD_FAILED",
        "a store that fails an upload answers 503 `SERVICE_UNAVAILABLE` (retry later; nothing of the upload is left behind), not 422: the request was not at fault",
    ),
];

/// Documented items not built yet, with the reason. Keyed like `RECONCILED`; a leading `*`
/// matches a part of the key.
const NOT_BUILT: &[(&str, &str)] = &[];

/// What the stock answers built so far are.
const STOCK_READ_MODEL: &str = "built on the read model the worker keeps from Inventory's events and repairs from \
     its gRPC answer (issue 19; catalog-api/tests/stock.rs, worker tests `inventory_stock_events_keep_a_read_model_that_never_goes_back_in_time`, \
     `stock_resync_repairs_a_model_whose_events_were_lost`): `last_stock_update` says how fresh and `stale` whether \
     Inventory has been silent for longer than STOCK_STALE_AFTER_SECS; `in_transit` comes from the resync only \
     (Inventory's events do not carry it) and `stock_movements_today` is not sent (the catalog consumes no movements)";

/// Error codes of the published table this run cannot provoke, and the test that proves them.
const PROVEN_ELSEWHERE: &[(&str, &str)] = &[
    (
        "INTERNAL_SERVER_ERROR",
        "catalog-core `error::tests::every_error_maps_to_one_http_status_grpc_code_and_code` (500 is never provoked: every failure a request can cause is a 4xx)",
    ),
    (
        "SERVICE_UNAVAILABLE",
        "catalog-core `error::tests::every_error_maps_to_one_http_status_grpc_code_and_code`; `deploy/local/faults.sh` answers it with PostgreSQL stopped",
    ),
];

/// Page 03's recipe rules (Recetas / BOM), each with the test that proves it (`file::function`;
/// the run fails when the function is gone).
const RECIPE_RULES: &[(&str, &str)] = &[
    (
        "a sale deducts quantity × sold × (1 + waste_percentage / 100) of each ingredient, in its unit (the café's latte)",
        "catalog-core/tests/recipes.rs::the_latte_of_page_03_deducts_exactly_the_documented_quantities",
    ),
    (
        "a product without a recipe deducts the sold variant itself",
        "catalog-grpc/tests/grpc.rs::explode_recipe_answers_a_whole_ticket_in_order_and_follows_what_changes_the_trees",
    ),
    (
        "one recipe per organization, product and variant (uk_recipe_product); variant_id optional",
        "catalog-api/tests/recipes.rs::the_latte_of_page_03_through_rest",
    ),
    (
        "yield_quantity: how many units one recipe makes; ingredients may have recipes of their own",
        "catalog-core/tests/recipes.rs::nested_recipes_explode_through_three_levels_with_waste_at_each",
    ),
    (
        "ingredients are variants of the organization, in a unit that converts to theirs (unidad, gramo, ml, kg, litro)",
        "catalog-core/tests/recipes.rs::units_that_do_not_convert_and_foreign_ingredients_are_refused",
    ),
    (
        "RecipeResponse.total_cost: the sum of the ingredients' costs",
        "catalog-api/tests/recipes.rs::the_latte_of_page_03_through_rest",
    ),
];

/// Ids of a rich fixture, built through the API with SPEC.md's names, plus the caller.
struct Fixture {
    user: User,
    local: LocalId,
    ids: HashMap<&'static str, Vec<String>>,
    /// Every error code the run was answered, with its status and `catalog_code`.
    seen: std::sync::Mutex<BTreeMap<String, (u16, String)>>,
}

impl Fixture {
    fn one(&self, kind: &str) -> String {
        self.ids[kind][0].clone()
    }
}

async fn must(app: &TestApp, user: &User, method: Method, path: &str, body: Value) -> Value {
    let reply = app.send(user, method.clone(), path, Some(body)).await;
    assert!(reply.status.is_success(), "fixture {method} {path}: {} {:?}", reply.status, reply.body);
    reply.body["data"].clone()
}

fn id_of(data: &Value) -> String {
    for key in ["id", "product_id"] {
        if let Some(id) = data[key].as_str() {
            return id.to_string();
        }
    }
    if let Some(id) = data["product"]["id"].as_str().or_else(|| data["option"]["id"].as_str()) {
        return id.to_string();
    }
    panic!("no id in {data}")
}

async fn fixture(app: &TestApp) -> Fixture {
    let local = LocalId::generate();
    let user =
        User::new(catalog_core::ids::OrganizationId::generate(), &["catalog:*", "inventory.stock.read"], &[local]);
    let mut ids: HashMap<&'static str, Vec<String>> = HashMap::new();
    let u = &user;
    let brand = must(app, u, Method::POST, "/api/v1/brands", json!({"name": "Sony"})).await;
    ids.insert("brand", vec![id_of(&brand)]);
    let root = id_of(&must(app, u, Method::POST, "/api/v1/collections", json!({"name": "Electronics"})).await);
    let child =
        id_of(&must(app, u, Method::POST, "/api/v1/collections", json!({"name": "Audio", "parent_id": root})).await);
    let third = id_of(&must(app, u, Method::POST, "/api/v1/collections", json!({"name": "Ofertas"})).await);
    ids.insert("collection", vec![root, child, third.clone()]);
    let mut tags = Vec::new();
    for (name, kind) in [("Wireless", "feature"), ("Ergonomic", "feature"), ("Sale", "promotion")] {
        tags.push(id_of(&must(app, u, Method::POST, "/api/v1/tags", json!({"name": name, "type": kind})).await));
    }
    ids.insert("tag", tags);
    let option = must(
        app,
        u,
        Method::POST,
        "/api/v1/options",
        json!({"name": "Acabado", "values": ["Black", "White", "Silver"]}),
    )
    .await;
    let option_id = id_of(&option);
    let value_ids: Vec<String> =
        option["values"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    ids.insert("option", vec![option_id.clone()]);
    let product = must(
        app,
        u,
        Method::POST,
        "/api/v1/products",
        json!({
            "title": "Premium Wireless Headphones", "sku": "HEADPHONE-001", "has_variants": true,
            "brand_id": ids["brand"][0], "collection_ids": [ids["collection"][0]], "tag_ids": [ids["tag"][0]],
            "option_ids": [option_id], "local_id": local.to_string(),
            "variants": [
                {"sku": "HEADPHONE-001-BLACK", "sale_price": "299.99", "option_value_ids": [value_ids[0]]},
                {"sku": "HEADPHONE-001-WHITE", "sale_price": "299.99", "option_value_ids": [value_ids[1]]}
            ]
        }),
    )
    .await;
    let product_id = id_of(&product);
    let variants = app.get(u, &format!("/api/v1/products/{product_id}/variants")).await;
    let variant_ids: Vec<String> = collect_ids(variants.data());
    assert_eq!(variant_ids.len(), 2, "fixture variants: {:?}", variants.body);
    let mut products = vec![product_id.clone()];
    for n in 1..=3 {
        let simple = must(
            app,
            u,
            Method::POST,
            "/api/v1/products",
            json!({"title": format!("Simple {n}"), "sku": format!("SIMPLE-{n}"), "sale_price": "10.00"}),
        )
        .await;
        products.push(id_of(&simple));
    }
    // Disposable variants go to a product without options (no option values to pick).
    let plain =
        must(app, u, Method::POST, "/api/v1/products", json!({"title": "Plain", "sku": "PLAIN", "has_variants": true}))
            .await;
    ids.insert("plain_product", vec![id_of(&plain)]);
    // A leaf collection with a product: what blocks its delete is its products, not children.
    must(app, u, Method::POST, &format!("/api/v1/collections/{third}/products"), json!({"product_ids": [products[1]]}))
        .await;
    ids.insert("product", products);
    ids.insert("variant", variant_ids.clone());
    let image = must(
        app,
        u,
        Method::POST,
        &format!("/api/v1/products/{product_id}/images"),
        json!({"url": "https://cdn.example.com/p/main.jpg", "is_primary": true}),
    )
    .await;
    let second = must(
        app,
        u,
        Method::POST,
        &format!("/api/v1/products/{product_id}/images"),
        json!({"url": "https://cdn.example.com/p/side.jpg"}),
    )
    .await;
    let third = must(
        app,
        u,
        Method::POST,
        &format!("/api/v1/products/{product_id}/images"),
        json!({"url": "https://cdn.example.com/p/top.jpg"}),
    )
    .await;
    ids.insert("image", vec![id_of(&image), id_of(&second), id_of(&third)]);
    let mut variant_images = Vec::new();
    for name in ["black", "black-side", "black-top"] {
        let image = must(
            app,
            u,
            Method::POST,
            &format!("/api/v1/variants/{}/images", variant_ids[0]),
            json!({"url": format!("https://cdn.example.com/v/{name}.jpg")}),
        )
        .await;
        variant_images.push(id_of(&image));
    }
    ids.insert("variant_image", variant_images);
    let tier = must(app, u, Method::POST, "/api/v1/price-tiers", json!({"name": "Wholesale", "priority": 1})).await;
    let tier_id = id_of(&tier);
    let rule = must(
        app,
        u,
        Method::POST,
        &format!("/api/v1/price-tiers/{tier_id}/rules"),
        json!({"variant_id": variant_ids[0], "min_qty": 10, "price": "270.00"}),
    )
    .await;
    must(
        app,
        u,
        Method::POST,
        &format!("/api/v1/price-tiers/{tier_id}/rules"),
        json!({"variant_id": variant_ids[0], "min_qty": 50, "price": "255.00"}),
    )
    .await;
    ids.insert("price_tier", vec![tier_id]);
    ids.insert("rule", vec![id_of(&rule)]);
    Fixture { user, local, ids, seen: Default::default() }
}

fn collect_ids(data: &Value) -> Vec<String> {
    let nodes: Vec<&Value> = match data {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) if map.contains_key("edges") => {
            map["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect()
        }
        Value::Object(map) if map.contains_key("variants") => map["variants"].as_array().unwrap().iter().collect(),
        _ => vec![],
    };
    nodes.into_iter().map(id_of).collect()
}

/// The fixture kind a request field or path parameter names.
fn kind_of(name: &str) -> Option<&'static str> {
    Some(match name {
        "brand_id" | "brandId" => "brand",
        "collection_id" | "collection_ids" | "collectionId" | "parent_id" | "reassign_to" => "collection",
        "tag_id" | "tag_ids" | "tagId" => "tag",
        "product_id" | "product_ids" | "productId" => "product",
        "variant_id" | "variant_ids" | "variantId" => "variant",
        "option_id" | "optionId" => "option",
        "price_tier_id" | "priceTierId" => "price_tier",
        "rule_id" | "ruleId" => "rule",
        "image_id" | "image_ids" | "image_order" | "imageId" => "image",
        "local_id" | "warehouse_id" => "local",
        _ => return None,
    })
}

/// The documented request with its example ids replaced by the fixture's; image ids under a
/// variant's path are the variant's images.
fn substitute(body: &Value, fx: &Fixture, fresh: &HashMap<&'static str, String>, path: &str) -> Value {
    let mut out = body.clone();
    if let Value::Object(map) = &mut out {
        for (key, value) in map.iter_mut() {
            let Some(mut kind) = kind_of(key) else { continue };
            if kind == "image" && path.starts_with("/api/v1/variants") {
                kind = "variant_image";
            }
            let pick = |i: usize| -> String {
                if kind == "local" {
                    return fx.local.to_string();
                }
                if let Some(id) = fresh.get(kind) {
                    if i == 0 {
                        return id.clone();
                    }
                }
                let pool = &fx.ids[kind];
                pool[i.min(pool.len() - 1)].clone()
            };
            match value {
                Value::String(_) => *value = json!(pick(0)),
                Value::Array(items) => {
                    // Distinct ids for a list, skipping a fresh entity's own id where it is the target.
                    let pool = &fx.ids[kind];
                    let skip = fresh.get(kind);
                    let mut available = pool.iter().filter(|id| Some(*id) != skip);
                    for item in items.iter_mut() {
                        if let Some(id) = available.next() {
                            *item = json!(id);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The path with its parameters filled from `targets` (per kind).
fn fill_path(template: &str, targets: &HashMap<&'static str, String>) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => {
                let kind = kind_of(param).unwrap_or_else(|| panic!("unknown path parameter {param}"));
                targets.get(kind).unwrap_or_else(|| panic!("no {kind} for {template}")).clone()
            }
            None => segment.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Default)]
struct Report {
    /// Every documented item, by key, with the findings on it (none = as designed).
    items: BTreeMap<String, Vec<String>>,
    /// The status of an item that conforms other than plainly (reconciled, proven elsewhere).
    statuses: BTreeMap<String, String>,
}

impl Report {
    fn item(&mut self, key: String) {
        self.items.entry(key).or_default();
    }
    fn problem(&mut self, key: String, problem: impl Into<String>) {
        self.items.entry(key).or_default().push(problem.into());
    }
    /// Conforms through a `RECONCILED` rule.
    fn reconciled(&mut self, key: String, rule: &str) {
        let why = RECONCILED.iter().find(|(k, _)| *k == rule).map_or(rule, |(_, why)| why);
        self.status(key, format!("reconciled: {why}"));
    }
    fn status(&mut self, key: String, status: String) {
        self.items.entry(key.clone()).or_default();
        self.statuses.insert(key, status);
    }
}

fn item_key(ep: &Endpoint, what: &str) -> String {
    format!("{} | {} | {what}", ep.page, ep.key())
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            Decimal::from_str(&n.to_string()).ok().or_else(|| n.as_f64().and_then(Decimal::from_f64_retain))
        }
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// Walks a documented example beside the real answer: each documented field must be present with
/// a compatible type.
fn compare_shape(report: &mut Report, ep: &Endpoint, path: &str, doc: &Value, real: &Value) {
    let key = item_key(ep, &format!("response {}", if path.is_empty() { "envelope" } else { path }));
    if path.ends_with(".metadata") {
        // Free JSON: the page's keys are an example of content, not of shape.
        match real {
            Value::Object(_) => report.item(key),
            other => report.problem(key, format!("documented as an object, answered {}", kind_name(other))),
        }
        return;
    }
    match doc {
        Value::Object(fields) => {
            let Value::Object(real_fields) = real else {
                report.problem(key, format!("documented as an object, answered {}", kind_name(real)));
                return;
            };
            report.item(key);
            for (name, doc_value) in fields {
                let child = format!("{path}.{name}");
                match real_fields.get(name) {
                    Some(real_value) => compare_shape(report, ep, &child, doc_value, real_value),
                    None => report.problem(item_key(ep, &format!("response {child}")), "missing from the answer"),
                }
            }
        }
        Value::Array(items) => match real {
            Value::Array(real_items) => {
                report.item(key);
                if let (Some(doc_first), Some(real_first)) = (items.first(), real_items.first()) {
                    compare_shape(report, ep, &format!("{path}[]"), doc_first, real_first);
                }
            }
            other => report.problem(key, format!("documented as a list, answered {}", kind_name(other))),
        },
        Value::Null => report.item(key),
        Value::Bool(_) => match real {
            Value::Bool(_) | Value::Null => report.item(key),
            other => report.problem(key, format!("documented as a boolean, answered {}", kind_name(other))),
        },
        Value::Number(_) => match real {
            Value::Number(_) | Value::Null => report.item(key),
            Value::String(s) if Decimal::from_str(s).is_ok() => report.reconciled(key, "money"),
            other => report.problem(key, format!("documented as a number, answered {}", kind_name(other))),
        },
        Value::String(_) => match real {
            Value::String(_) | Value::Null => report.item(key),
            other => report.problem(key, format!("documented as a string, answered {}", kind_name(other))),
        },
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Where the answer shows a request field: under its own name, or (ids) as the embedded
/// relation's id.
fn shown(data: &Value, field: &str) -> Option<Value> {
    if let Some(value) = data.get(field) {
        return Some(value.clone());
    }
    let relation = |list: &str, id: &str| -> Option<Value> {
        data.get(list)?.as_array().map(|items| Value::Array(items.iter().map(|i| i[id].clone()).collect()))
    };
    match field {
        "collection_ids" => relation("collections", "collection_id"),
        "tag_ids" => relation("tags", "tag_id"),
        "brand_id" => data.get("brand").map(|b| b["brand_id"].clone()),
        _ => None,
    }
}

/// Does the answer's `real` show the sent `sent`? Numbers compare as decimals, lists of ids as
/// sets, objects field by field (the answer may hold more).
fn same(sent: &Value, real: &Value) -> bool {
    match (sent, real) {
        (Value::Number(_), _) | (_, Value::Number(_)) if decimal(sent).is_some() => decimal(sent) == decimal(real),
        (Value::Array(a), Value::Array(b)) => {
            let a: BTreeSet<String> = a.iter().map(Value::to_string).collect();
            let b: BTreeSet<String> = b.iter().map(Value::to_string).collect();
            a == b
        }
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| b.get(k).is_some_and(|r| same(v, r))),
        _ => sent == real,
    }
}

/// Creates a disposable entity of `kind` (for updates and deletes), with SPEC.md's names.
async fn fresh(app: &TestApp, fx: &Fixture, kind: &str, n: usize) -> String {
    let u = &fx.user;
    let product = fx.one("product");
    let plain = fx.one("plain_product");
    let data = match kind {
        "product" => {
            must(app, u, Method::POST, "/api/v1/products", json!({"title": format!("Fresh {n}"), "sku": format!("FRESH-{n}"), "sale_price": "5.00", "local_id": fx.local.to_string()}))
                .await
        }
        "variant" => {
            must(app, u, Method::POST, &format!("/api/v1/products/{plain}/variants"), json!({"sku": format!("FRESH-V-{n}"), "sale_price": "5.00"})).await
        }
        "brand" => must(app, u, Method::POST, "/api/v1/brands", json!({"name": format!("Fresh brand {n}")})).await,
        "collection" => {
            must(app, u, Method::POST, "/api/v1/collections", json!({"name": format!("Fresh collection {n}"), "parent_id": fx.one("collection")})).await
        }
        "tag" => must(app, u, Method::POST, "/api/v1/tags", json!({"name": format!("Fresh tag {n}")})).await,
        "price_tier" => must(app, u, Method::POST, "/api/v1/price-tiers", json!({"name": format!("Fresh tier {n}")})).await,
        "rule" => {
            let tier = fx.one("price_tier");
            let variant = &fx.ids["variant"][1];
            must(app, u, Method::POST, &format!("/api/v1/price-tiers/{tier}/rules"), json!({"variant_id": variant, "min_qty": 1000 + n, "price": "200.00"})).await
        }
        "image" => {
            must(app, u, Method::POST, &format!("/api/v1/products/{product}/images"), json!({"url": format!("https://cdn.example.com/fresh/{n}.jpg")})).await
        }
        other => panic!("no fresh {other}"),
    };
    id_of(&data)
}

/// The entity an endpoint acts on: a fresh one for writes to an existing entity, the fixture's
/// otherwise. Nested paths keep the fixture's parent.
async fn targets(app: &TestApp, fx: &Fixture, ep: &Endpoint, n: usize) -> HashMap<&'static str, String> {
    let mut out: HashMap<&'static str, String> = HashMap::new();
    for kind in ["brand", "collection", "tag", "product", "variant", "option", "price_tier", "rule", "image"] {
        out.insert(kind, fx.one(kind));
    }
    if ep.path.starts_with("/api/v1/variants") {
        out.insert("image", fx.one("variant_image"));
    }
    let params: Vec<&str> = ep.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
    let writes = matches!(ep.method.as_str(), "PUT" | "PATCH" | "DELETE");
    if let (true, Some(last)) = (writes, params.last()) {
        let kind = kind_of(last).unwrap();
        // Images and rules live under the fixture's product and tier; a variant's image under a
        // variant, which `fresh` does not make.
        let is_collection_member_op = ep.path.ends_with("/products") || ep.path.ends_with("/tags");
        let is_reorder = ep.path.ends_with("/reorder");
        let variant_image = kind == "image" && ep.path.starts_with("/api/v1/variants");
        if variant_image && ep.method == "DELETE" {
            // A variant image made for the delete.
            let variant = fx.one("variant");
            let made = must(
                app,
                &fx.user,
                Method::POST,
                &format!("/api/v1/variants/{variant}/images"),
                json!({"url": format!("https://cdn.example.com/v/fresh-{n}.jpg")}),
            )
            .await;
            out.insert("image", id_of(&made));
        } else if !is_collection_member_op && !is_reorder && !variant_image {
            out.insert(kind, fresh(app, fx, kind, n).await);
        }
    }
    out
}

async fn call(app: &TestApp, fx: &Fixture, method: &str, path: &str, body: Option<Value>) -> Reply {
    call_as(app, fx, &fx.user, method, path, body).await
}

async fn call_as(app: &TestApp, fx: &Fixture, user: &User, method: &str, path: &str, body: Option<Value>) -> Reply {
    let reply = app.send(user, Method::from_str(method).unwrap(), path, body).await;
    seen(fx, reply)
}

/// Records the reply's error code, if any, as answered in this run.
fn seen(fx: &Fixture, reply: Reply) -> Reply {
    if !reply.code().is_empty() {
        let number = reply.body["error"]["catalog_code"].as_str().unwrap_or_default().to_string();
        fx.seen.lock().unwrap().insert(reply.code().to_string(), (reply.status.as_u16(), number));
    }
    reply
}

/// `file` sent as page 22's form does: the part `image` and a text field.
async fn upload_file(app: &TestApp, fx: &Fixture, path: &str, file: &[u8]) -> Reply {
    let boundary = "----WebKitFormBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"product-image.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"alt_text\"\r\n\r\nTop view\r\n--{boundary}--\r\n")
            .as_bytes(),
    );
    let request = actix_web::test::TestRequest::post()
        .uri(path)
        .insert_header((actix_web::http::header::AUTHORIZATION, format!("Bearer {}", fx.user.token)))
        .insert_header((actix_web::http::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")))
        .set_payload(body);
    seen(fx, app.call(request.to_request()).await)
}

/// A JPEG photo of `side` × `side` px.
fn jpeg(side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg).unwrap();
    bytes
}

/// Page 22's file upload: a real photo sent as the page's form, answered 201 with the
/// documented metadata.
async fn check_upload(
    app: &TestApp,
    fx: &Fixture,
    ep: &Endpoint,
    targets: &HashMap<&'static str, String>,
    report: &mut Report,
) {
    let key = item_key(ep, "request multipart/form-data upload");
    let reply = upload_file(app, fx, &fill_path(&ep.path, targets), &jpeg(1200)).await;
    let metadata = &reply.body["data"]["metadata"];
    let described = ["width", "height", "format", "size_bytes"].iter().all(|field| metadata.get(field).is_some());
    if reply.status.as_u16() == 201 && described && reply.body["data"]["alt_text"] == "Top view" {
        report.item(key);
    } else {
        report.problem(key, format!("answered {} {}", reply.status.as_u16(), short(&reply.body)));
    }
}

/// Sends a documented request and checks status, echo and shape.
async fn run_success(
    app: &TestApp,
    fx: &Fixture,
    ep: &Endpoint,
    n: usize,
    report: &mut Report,
) -> HashMap<&'static str, String> {
    let targets = targets(app, fx, ep, n).await;
    let path = fill_path(&ep.path, &targets);
    let fresh_targets: HashMap<&'static str, String> = targets
        .iter()
        .filter(|(kind, id)| fx.ids.get(**kind).is_none_or(|pool| !pool.contains(id)))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let mut body = ep.request.as_ref().map(|r| substitute(r, fx, &fresh_targets, &ep.path));
    prepare(app, fx, ep, &path, body.as_mut()).await;
    // Documented `include_*` switches are turned on, so what they embed is checked too.
    let mut includes: Vec<String> =
        ep.query.iter().filter(|q| q.starts_with("include_")).map(|q| format!("{q}=true")).collect();
    if ep.query.iter().any(|q| q == "quantity") {
        // The pages' example quantity: between the fixture's 10- and 50-unit rules' next step.
        includes.push("quantity=25".into());
    }
    let full_path = if includes.is_empty() { path.clone() } else { format!("{path}?{}", includes.join("&")) };
    let reply = call(app, fx, &ep.method, &full_path, body.clone()).await;
    let expected = ep.documented_success_status().unwrap_or(200);
    let status_key = item_key(ep, "status");
    if reply.status.as_u16() != expected {
        report.problem(
            status_key,
            format!("answered {} {} (documented {expected})", reply.status.as_u16(), short(&reply.body)),
        );
        return targets;
    }
    report.item(status_key);
    if let (Some(Value::Object(sent)), false) = (&body, ep.method == "DELETE") {
        let data = reply.data();
        for (field, value) in sent {
            let key = item_key(ep, &format!("request {field}"));
            let documented_in_answer = ep.success().is_some_and(|s| shown(&s.body["data"], field).is_some());
            match shown(data, field) {
                Some(real) if same(value, &real) => report.item(key),
                Some(real) => report.problem(key, format!("sent {value}, answered {real}")),
                None if documented_in_answer => report.problem(key, "accepted but not shown in the answer"),
                None => report.item(key),
            }
        }
    }
    if let Some(doc) = ep.success().filter(|s| !s.body.is_null()) {
        compare_shape(report, ep, "", &doc.body, &reply.body);
    }
    for (method, also) in &ep.also {
        let also_path = fill_path(also, &targets);
        let reply = call(app, fx, method, &also_path, None).await;
        let key = format!("{} | {method} {also} | status", ep.page);
        if reply.status.as_u16() == expected {
            report.item(key);
        } else {
            report.problem(key, format!("answered {} {}", reply.status.as_u16(), short(&reply.body)));
        }
    }
    targets
}

/// State a documented request needs first: members to remove must be members, and a reorder
/// names exactly the owner's images as they are now (earlier sections added some).
async fn prepare(app: &TestApp, fx: &Fixture, ep: &Endpoint, path: &str, body: Option<&mut Value>) {
    if ep.path.ends_with("/reorder") {
        if let Some(Value::Object(fields)) = body {
            let images_path = path.trim_end_matches("/reorder");
            let current = call(app, fx, "GET", images_path, None).await;
            let mut ids: Vec<Value> =
                current.data()["images"].as_array().unwrap().iter().map(|i| i["image_id"].clone()).collect();
            ids.reverse();
            for list in fields.values_mut() {
                *list = Value::Array(ids.clone());
            }
        }
        return;
    }
    if ep.method == "DELETE" && (ep.path.ends_with("/products") || ep.path.ends_with("/tags")) {
        if let Some(body) = body {
            let add = call(app, fx, "POST", path, Some(body.clone())).await;
            assert!(add.status.is_success(), "prepare {path}: {:?}", add.body);
        }
    }
}

fn short(body: &Value) -> String {
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let fields = body["error"]["details"]["fields"].as_array().map(|f| {
        f.iter()
            .map(|e| format!("{}: {}", e["field"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; ")
    });
    match fields {
        Some(f) if !f.is_empty() => format!("{code} ({f})"),
        _ => code.to_string(),
    }
}

/// Provokes each documented error of the endpoint and checks its status, code and details keys.
async fn run_errors(
    app: &TestApp,
    fx: &Fixture,
    ep: &Endpoint,
    targets: &HashMap<&'static str, String>,
    report: &mut Report,
) {
    for example in ep.errors() {
        let code = example.body["error"]["code"].as_str().unwrap_or_default().to_string();
        let key = item_key(ep, &format!("error {} {code}", example.status));
        let Some(reply) = provoke(app, fx, ep, targets, &code, &example.body).await else {
            report.problem(key, "no way to provoke it");
            continue;
        };
        if reply.status.as_u16() != example.status || reply.code() != code {
            report.problem(key, format!("answered {} {}", reply.status.as_u16(), short(&reply.body)));
            continue;
        }
        report.item(key.clone());
        if let Some(Value::Object(details)) = example.body["error"].get("details") {
            for name in details.keys() {
                let detail_key = item_key(ep, &format!("error {code} details.{name}"));
                if reply.body["error"]["details"].get(name).is_some() {
                    report.item(detail_key);
                } else {
                    report.problem(detail_key, "missing from the error's details");
                }
            }
        }
    }
}

/// A value that breaks the named field's documented rule.
fn broken(field: &str) -> Value {
    match field {
        "slug" => json!("Not A Slug!"),
        "name" | "sku" | "title" => json!(""),
        "option_id" | "variant_id" | "brand_id" => json!(uuid::Uuid::now_v7().to_string()),
        "color" => json!("blue-ish"),
        _ => json!(-1),
    }
}

async fn provoke(
    app: &TestApp,
    fx: &Fixture,
    ep: &Endpoint,
    targets: &HashMap<&'static str, String>,
    code: &str,
    example: &Value,
) -> Option<Reply> {
    let path = fill_path(&ep.path, targets);
    let mut body = ep.request.as_ref().map(|r| substitute(r, fx, &HashMap::new(), &ep.path));
    if code.ends_with("_NOT_FOUND") {
        let mut missing = targets.clone();
        let params: Vec<&str> = ep.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let kind = kind_of(params.last()?)?;
        missing.insert(kind, uuid::Uuid::now_v7().to_string());
        return Some(call(app, fx, &ep.method, &fill_path(&ep.path, &missing), body).await);
    }
    if code.ends_with("_EXISTS") {
        // The success run already sent this very request; only the clashing field is kept equal.
        if let Some(Value::Object(fields)) = &mut body {
            let clashing = code.rsplit('_').nth(1).unwrap_or_default().to_lowercase();
            for (name, value) in fields.iter_mut() {
                if ["name", "slug", "sku", "barcode"].contains(&name.as_str()) && *name != clashing {
                    if let Value::String(text) = value {
                        text.push_str(if name == "slug" { "-other" } else { " other" });
                    }
                }
            }
        }
        return Some(call(app, fx, &ep.method, &path, body).await);
    }
    if code == "INVALID_IMAGE_FORMAT" {
        return Some(upload_file(app, fx, &path, b"GIF89a, not a photo").await);
    }
    if code == "IMAGE_TOO_LARGE" {
        return Some(upload_file(app, fx, &path, &vec![0xFF; catalog_core::media::render::MAX_FILE_BYTES + 1]).await);
    }
    if code.starts_with("INVALID_") {
        let mut body = body.unwrap_or_else(|| json!({}));
        for error in example["error"]["details"]["validation_errors"].as_array()? {
            let field = error["field"].as_str()?;
            body[field] = broken(field);
        }
        return Some(call(app, fx, &ep.method, &path, Some(body)).await);
    }
    if code == "VARIANT_HAS_STOCK" {
        // Inventory reports stock of the variant (straight into the read model), and takes it
        // back once the refusal is seen, so the documented delete still succeeds.
        use diesel_async::RunQueryDsl as _;
        // A variant of its own: the documented delete may have removed the target already.
        let plain = fx.one("plain_product");
        let stocked = json!({"sku": "STOCKED-1", "sale_price": "1.00"});
        let created = must(app, &fx.user, Method::POST, &format!("/api/v1/products/{plain}/variants"), stocked).await;
        let variant: catalog_core::ids::VariantId = id_of(&created).parse().ok()?;
        let mut targets = targets.clone();
        targets.insert("variant", variant.to_string());
        let path = fill_path(&ep.path, &targets);
        let conn = &mut *app.db.conn().await;
        let on_hand = catalog_core::stock::Quantities { total: 5.into(), available: 5.into(), ..Default::default() };
        let warehouse = uuid::Uuid::now_v7();
        catalog_core::stock::apply(conn, fx.user.org, variant, warehouse, on_hand, chrono::Utc::now()).await.ok()?;
        let refused = call(app, fx, &ep.method, &path, body).await;
        diesel::sql_query(format!("DELETE FROM variant_stock WHERE warehouse_id = '{warehouse}'"))
            .execute(conn)
            .await
            .ok()?;
        return Some(refused);
    }
    if code == "COLLECTION_HAS_PRODUCTS" {
        let leaf = fx.ids["collection"][2].clone();
        return Some(call(app, fx, "DELETE", &format!("/api/v1/collections/{leaf}"), None).await);
    }
    if code.ends_with("_HAS_VARIANTS")
        || code.ends_with("_HAS_PRODUCTS")
        || code.ends_with("_HAS_CHILDREN")
        || code.ends_with("_HAS_RULES")
    {
        // The fixture's own entity has what blocks the delete.
        let params: Vec<&str> = ep.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let kind = kind_of(params.last()?)?;
        let mut own = targets.clone();
        own.insert(kind, fx.one(kind));
        return Some(call(app, fx, &ep.method, &fill_path(&ep.path, &own), None).await);
    }
    if code == "CIRCULAR_COLLECTION_REFERENCE" {
        // The root collection under its own child.
        let root = fx.one("collection");
        let child = fx.ids["collection"][1].clone();
        return Some(
            call(app, fx, "PUT", &format!("/api/v1/collections/{root}"), Some(json!({"parent_id": child}))).await,
        );
    }
    None
}

/// Each documented query parameter must be a declared parameter of the operation.
fn check_query_params(openapi: &Value, ep: &Endpoint, report: &mut Report) {
    let path = openapi_path(&ep.path);
    let declared: BTreeSet<String> = openapi["paths"][&path][ep.method.to_lowercase()]["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    for name in &ep.query {
        let key = item_key(ep, &format!("query {name}"));
        if declared.contains(name) {
            report.item(key);
        } else {
            report.problem(key, "not a parameter of the operation in /openapi.json");
        }
    }
}

/// `/api/v1/products/{productId}` → the OpenAPI document's spelling of the same path.
fn openapi_path(documented: &str) -> String {
    let mut out = Vec::new();
    let segments: Vec<&str> = documented.split('/').collect();
    let last_param = segments.iter().rposition(|s| s.starts_with('{'));
    for (i, segment) in segments.iter().enumerate() {
        out.push(match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(_) if Some(i) == last_param && segments.len() - 1 == i => "{id}".to_string(),
            Some(param) => match kind_of(param) {
                Some("image") => "{image_id}".into(),
                Some("rule") => "{rule_id}".into(),
                _ => "{id}".into(),
            },
            None => segment.to_string(),
        });
    }
    out.join("/")
}

/// A list entry names items by the start of their key, or with a leading `*` by a part of it.
fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(part) => key.contains(part),
        None => key.starts_with(pattern),
    }
}

fn verdict(report: &Report, key: &str) -> Result<String, String> {
    let problems = &report.items[key];
    let listed =
        |list: &[(&str, &'static str)]| list.iter().find(|(pattern, _)| matches(pattern, key)).map(|(_, why)| *why);
    if problems.is_empty() {
        if let Some(status) = report.statuses.get(key) {
            return Ok(status.clone());
        }
        if listed(NOT_BUILT).is_some() {
            return Err(format!("{key}: listed in NOT_BUILT but now conforms; take it off the list"));
        }
        return Ok("as designed".into());
    }
    if let Some(why) = listed(RECONCILED) {
        return Ok(format!("reconciled: {why}"));
    }
    if let Some(why) = listed(NOT_BUILT) {
        return Ok(format!("not built: {why}"));
    }
    Err(format!("{key}: {}", problems.join("; ")))
}

#[actix_web::test]
async fn the_published_pages_work_against_the_real_api() {
    let app = TestApp::start().await;
    let fx = fixture(&app).await;
    let openapi = app.get(&fx.user, "/openapi.json").await.body;
    let mut report = Report::default();
    for (n, ep) in design::endpoints().iter().enumerate() {
        check_query_params(&openapi, ep, &mut report);
        let targets = run_success(&app, &fx, ep, n, &mut report).await;
        if ep.multipart_request {
            check_upload(&app, &fx, ep, &targets, &mut report).await;
        }
        run_errors(&app, &fx, ep, &targets, &mut report).await;
    }
    provoke_remaining_errors(&app, &fx).await;
    check_error_table(&fx, &mut report);
    check_variables(&mut report);
    check_rate_limits(&mut report);
    check_recipes(&openapi, &mut report);
    let beyond = beyond_the_pages(&openapi);
    let mut failures = Vec::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    for key in report.items.keys() {
        match verdict(&report, key) {
            Ok(status) => lines.push((key.clone(), status)),
            Err(failure) => failures.push(failure),
        }
    }
    for (pattern, _) in RECONCILED.iter().chain(NOT_BUILT) {
        if *pattern != "money" && !report.items.keys().any(|k| matches(pattern, k)) {
            failures.push(format!("list entry {pattern} names no documented item"));
        }
    }
    assert!(failures.is_empty(), "{} differences from the published pages:\n{}", failures.len(), failures.join("\n"));
    let rendered = render(&lines, &beyond);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../CONTRACT.md");
    if std::env::var("UPDATE_CONTRACT").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "CONTRACT.md is out of date: run `UPDATE_CONTRACT=1 cargo nextest run -p catalog-api --test contract` and commit it"
    );
}

/// The table's codes no page example shows: 401, 403, 403 `LOCAL_ACCESS_DENIED`, and a few
/// validation and uniqueness codes of resources whose pages show another one.
async fn provoke_remaining_errors(app: &TestApp, fx: &Fixture) {
    let missing = app.send_raw(None, Method::GET, "/api/v1/products", None, &[]).await;
    fx.seen.lock().unwrap().insert(
        missing.code().to_string(),
        (missing.status.as_u16(), missing.body["error"]["catalog_code"].as_str().unwrap_or_default().to_string()),
    );
    let reader = User::new(fx.user.org, &["catalog.products.read"], &[]);
    call_as(app, fx, &reader, "POST", "/api/v1/brands", Some(json!({"name": "Nope"}))).await;
    let other_local = LocalId::generate().to_string();
    let body = json!({"title": "Elsewhere", "sku": "ELSEWHERE", "sale_price": "1.00", "local_id": other_local});
    call_as(app, fx, &fx.user, "POST", "/api/v1/products", Some(body)).await;
    call(app, fx, "POST", "/api/v1/collections", Some(json!({"name": ""}))).await;
    call(app, fx, "POST", "/api/v1/price-tiers", Some(json!({"name": ""}))).await;
    let product = fx.one("product");
    let missing_image = uuid::Uuid::now_v7();
    let body = json!({"alt_text": "nowhere"});
    call(app, fx, "PUT", &format!("/api/v1/products/{product}/images/{missing_image}"), Some(body)).await;
    // Page 22's smallest photo is 200 px a side.
    let product = fx.one("product");
    upload_file(app, fx, &format!("/api/v1/products/{product}/images"), &jpeg(150)).await;
    // Page 22: the primary image cannot be unset, only replaced.
    let lone = fresh(app, fx, "product", 901).await;
    let body = json!({"url": "https://cdn.example.com/only.jpg"});
    let only = call(app, fx, "POST", &format!("/api/v1/products/{lone}/images"), Some(body)).await;
    let primary = only.data()["image_id"].as_str().unwrap_or_default().to_string();
    let path = format!("/api/v1/products/{lone}/images/{primary}");
    call(app, fx, "PATCH", &path, Some(json!({"is_primary": false}))).await;
    // Page 22's limit: the eleventh image of one product.
    let crowded = fresh(app, fx, "product", 900).await;
    for n in 0..=catalog_core::repo::images::MAX_PRODUCT_IMAGES {
        let body = json!({"url": format!("https://cdn.example.com/crowded/{n}.jpg")});
        call(app, fx, "POST", &format!("/api/v1/products/{crowded}/images"), Some(body)).await;
    }
    // Page 09's example product took this slug.
    let body = json!({"title": "Another mouse", "sku": "MOUSE-002", "slug": "wireless-mouse", "sale_price": "1.00"});
    call(app, fx, "POST", "/api/v1/products", Some(body)).await;
}

/// Page 16's table: each code answered somewhere in the run with its status and number, or
/// proven by another test.
fn check_error_table(fx: &Fixture, report: &mut Report) {
    let seen = fx.seen.lock().unwrap();
    for row in design::error_codes() {
        let key = format!("16-errores-comunes.md | error table | {} ({}, {})", row.code, row.number, row.status);
        match seen.get(&row.code) {
            Some((status, number)) if *status == row.status && *number == row.number => report.item(key),
            Some((status, number)) => report.problem(key, format!("answered {status} with catalog_code {number:?}")),
            None => match PROVEN_ELSEWHERE.iter().find(|(code, _)| *code == row.code) {
                Some((_, by)) => report.status(key, format!("as designed, proven by {by}")),
                None => report.problem(key, "never answered in this run"),
            },
        }
    }
}

/// A path with its parameters unnamed, to compare the pages' names with the service's.
fn shape(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// Operations `/openapi.json` offers that no page documents, as `METHOD /path`.
fn beyond_the_pages(openapi: &Value) -> Vec<String> {
    let mut documented: BTreeSet<(String, String)> =
        design::recipe_routes().into_iter().map(|(method, path)| (method, shape(&path))).collect();
    for ep in design::endpoints() {
        documented.insert((ep.method.clone(), shape(&ep.path)));
        for (method, path) in &ep.also {
            documented.insert((method.clone(), shape(path)));
        }
    }
    let mut out = Vec::new();
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if !documented.contains(&(method.clone(), shape(path))) {
                out.push(format!("{method} {path}"));
            }
        }
    }
    out
}

/// CONTRACT.md: one line per documented item with its status, page by page, then what the
/// service offers beyond the pages.
fn render(lines: &[(String, String)], beyond: &[String]) -> String {
    let mut out = String::from(
        "# CONTRACT — the published design, item by item\n\n\
         Generated by `catalog-api/tests/contract.rs` from `docs/design/` (a copy of the published pages) and \
         the answers of the real API; the test fails when this file is stale \
         (`UPDATE_CONTRACT=1 cargo nextest run -p catalog-api --test contract` rewrites it). Statuses: \
         **as designed** (sent as the page shows, answered as it shows), **reconciled** (SPEC.md settles it \
         otherwise; how and why given), **not built** (why given), **beyond** (offered, not on the pages).\n\n",
    );
    let count = |prefix: &str| lines.iter().filter(|(_, s)| s.starts_with(prefix)).count();
    out.push_str(&format!(
        "{} documented items: {} as designed, {} reconciled, {} not built; {} operations beyond the pages.\n",
        lines.len(),
        count("as designed"),
        count("reconciled"),
        count("not built"),
        beyond.len()
    ));
    let mut page = String::new();
    for (key, status) in lines {
        let mut parts = key.splitn(3, " | ");
        let (this_page, subject, item) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if this_page != page {
            page = this_page.to_string();
            out.push_str(&format!("\n## {page}\n\n| subject | item | status |\n|---|---|---|\n"));
        }
        let cell = |text: &str| text.replace('|', "\\|");
        out.push_str(&format!("| `{}` | {} | {} |\n", cell(subject), cell(item), cell(status)));
    }
    out.push_str("\n## Beyond the pages\n\n| operation | status |\n|---|---|\n");
    for operation in beyond {
        out.push_str(&format!("| `{operation}` | beyond the design |\n"));
    }
    out
}

/// Page 03's recipes: its routes served, the fields of its schemas in `/openapi.json`'s
/// (request bodies and answers), each rule proven by the test named in `RECIPE_RULES`, and the
/// POS call its sale flow makes.
fn check_recipes(openapi: &Value, report: &mut Report) {
    const PAGE: &str = "03-modelo-datos.md";
    let routes = design::recipe_routes();
    assert!(routes.len() >= 3, "page 03 lists its recipe routes: {routes:?}");
    for (method, path) in routes {
        let key = format!("{PAGE} | {method} {path} | route");
        let served = openapi["paths"].as_object().unwrap().iter().any(|(served, operations)| {
            shape(&path) == shape(served) && operations.get(method.to_lowercase()).is_some()
        });
        if served { report.item(key) } else { report.problem(key, "not in /openapi.json") }
    }
    let schemas = &openapi["components"]["schemas"];
    for (class, schema) in [
        ("RecipeIngredientCreate", "IngredientBody"),
        ("RecipeCreate", "CreateRecipe"),
        ("RecipeIngredientResponse", "IngredientView"),
        ("RecipeResponse", "RecipeView"),
    ] {
        let fields = design::recipe_schema_fields(class);
        assert!(!fields.is_empty(), "page 03 defines {class}");
        for field in fields {
            let key = format!("{PAGE} | schema {class} | field {field}");
            match schemas[schema]["properties"].get(&field) {
                Some(_) => report.item(key),
                None => report.problem(key, format!("{schema} has no {field}")),
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (rule, proof) in RECIPE_RULES {
        let key = format!("{PAGE} | rule | {rule}");
        let (file, function) = proof.split_once("::").unwrap();
        let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        match source.contains(&format!("async fn {function}()")) {
            true => report.status(key, format!("as designed, proven by `{proof}`")),
            false => report.problem(key, format!("{proof} does not exist")),
        }
    }
    report.status(
        format!("{PAGE} | sale flow | POS asks catalog_service.get_recipe(org_id, variant_id) per sold item"),
        "reconciled: gRPC `ExplodeRecipe` (proto/catalog.proto) answers a whole ticket in one call with the \
         deductions computed (nested recipes expanded, units converted, waste applied per level); \
         `GET /api/v1/products/{id}/recipe` returns the recipe itself"
            .into(),
    );
}

/// Page 04's variables: each read (under its own name or as an alias of today's), or accepted
/// and ignored with the reason `check-config` gives.
fn check_variables(report: &mut Report) {
    use catalog_core::config::{Reading, env_var};
    for name in design::documented_variables() {
        let key = format!("04-configuracion.md | variable | {name}");
        match env_var(&name).map(|v| v.reading) {
            Some(Reading::Key { .. }) => report.item(key),
            Some(Reading::Alias { of, .. }) => report.status(key, format!("as designed, an alias of `{of}`")),
            Some(Reading::PartOf { of }) => report.status(key, format!("as designed, read with `{of}`")),
            Some(Reading::Ignored { reason }) => {
                report.status(key, format!("reconciled: accepted and ignored — {reason}"))
            }
            None => report.problem(key, "not read"),
        }
    }
}

/// Each page's documented rate limits are the defaults, per kind of request.
fn check_rate_limits(report: &mut Report) {
    let defaults = catalog_core::config::Settings::from_env(Vec::<(String, String)>::new()).unwrap();
    let api = &defaults.api;
    for (page, label, per_minute) in design::rate_limits() {
        let key = format!("{page} | rate limits | {label}: {per_minute}/min per user");
        let configured = match label.as_str() {
            "Lectura" => Some(("API_RATE_LIMIT_READ_PER_MINUTE", api.rate_limit_read_per_minute)),
            "Escritura" => Some(("API_RATE_LIMIT_WRITE_PER_MINUTE", api.rate_limit_write_per_minute)),
            "Cálculo de precios" => Some(("API_RATE_LIMIT_PRICE_PER_MINUTE", api.rate_limit_price_per_minute)),
            "Upload" => Some(("API_RATE_LIMIT_UPLOAD_PER_MINUTE", api.rate_limit_upload_per_minute)),
            _ => None,
        };
        match configured {
            Some((variable, value)) if value == per_minute => {
                report.status(key, format!("as designed, the default of `{variable}`"))
            }
            Some((variable, value)) => report.problem(key, format!("`{variable}` defaults to {value}")),
            None => report.problem(key, "no limit of this kind"),
        }
    }
}
