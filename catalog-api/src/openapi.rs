//! The OpenAPI document, assembled from every resource module's own `Doc`, served at
//! `/openapi.json` and browsable at `/docs` (Swagger UI vendored into the binary: no internet).

use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Catalog Service REST API", description = "Products, variants, options, brands, collections, tags, images and volume price tiers of the ERP's catalog. Every request needs `Authorization: Bearer <token>`; every answer uses the `{status, statusCode, data|error, timestamp, path, requestId}` envelope."),
    security(("bearer" = [])),
)]
struct Root;

pub fn document() -> utoipa::openapi::OpenApi {
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
        transfer::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    describe_what_every_operation_shares(doc)
}

/// Each operation's annotations name its payload and its own errors; what they all share is
/// added here, once, so the document matches what the API sends: the success envelope around
/// each payload, the error envelope with the statuses any request can meet, and the path's id
/// parameters (every `{…}` segment is an id).
fn describe_what_every_operation_shares(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else { return doc };
    if let Some(schemas) = value.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("ErrorEnvelope".into(), error_envelope());
    }
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            document_put_alias(item);
            for (method, operation) in item.iter_mut() {
                let Some(operation) = operation.as_object_mut() else { continue };
                declare_path_ids(path, operation);
                let responses = operation.entry("responses").or_insert_with(|| json!({}));
                let Some(responses) = responses.as_object_mut() else { continue };
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('2') {
                        wrap_in_envelope(response);
                    } else {
                        response["content"] = error_content();
                    }
                }
                let writes = matches!(method.as_str(), "post" | "put" | "patch" | "delete");
                for (status, description) in shared_errors(writes) {
                    responses
                        .entry(status)
                        .or_insert_with(|| json!({ "description": description, "content": error_content() }));
                }
            }
        }
    }
    serde_json::from_value(value).unwrap_or(doc)
}

/// Every partial update (PATCH) also answers PUT with the same semantics (the seed's clients
/// use PUT); the document says so instead of leaving PUT undeclared.
fn document_put_alias(item: &mut serde_json::Map<String, Value>) {
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

fn declare_path_ids(path: &str, operation: &mut serde_json::Map<String, Value>) {
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

fn wrap_in_envelope(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else { return };
    for media in content.values_mut() {
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
                "required": ["code", "message", "details"],
                "properties": {
                    "code": { "type": "string", "example": "PRODUCT_NOT_FOUND" },
                    "message": { "type": "string" },
                    "details": { "type": "object" }
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
