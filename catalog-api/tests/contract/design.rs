//! Reads the published REST pages (`docs/design/09`–`22`, a copy of `../shared/design/`) into
//! endpoints: method and path, documented query parameters, request example and response
//! examples with their statuses. Only the parts of a page before "Eventos Publicados" are REST.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The pages that document REST resources.
pub const REST_PAGES: &[&str] = &[
    "09-api-products.md",
    "10-api-variants.md",
    "11-api-options.md",
    "18-api-brands.md",
    "19-api-collections.md",
    "20-api-tags.md",
    "21-api-price-tiers.md",
    "22-api-images.md",
];

#[derive(Debug, Clone)]
pub struct Example {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub page: String,
    pub method: String,
    /// As documented, with `{productId}`-style placeholders.
    pub path: String,
    /// Further method/path pairs the same section documents (`/activate` and `/deactivate`).
    pub also: Vec<(String, String)>,
    pub query: Vec<String>,
    pub request: Option<Value>,
    /// The request is a multipart form (documented as fields, not JSON).
    pub multipart_request: bool,
    pub responses: Vec<Example>,
}

impl Endpoint {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
    pub fn success(&self) -> Option<&Example> {
        self.responses.iter().find(|r| r.status < 300)
    }
    pub fn documented_success_status(&self) -> Option<u16> {
        self.responses.iter().map(|r| r.status).find(|s| *s < 300)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Example> {
        self.responses.iter().filter(|r| r.status >= 400)
    }
}

pub fn design_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/design")
}

/// Every endpoint of the REST pages, in page order.
pub fn endpoints() -> Vec<Endpoint> {
    REST_PAGES
        .iter()
        .flat_map(|page| {
            let text = std::fs::read_to_string(design_dir().join(page)).expect("design page");
            let mut endpoints = parse_page(page, &text);
            borrow_similar(&mut endpoints);
            endpoints
        })
        .collect()
}

/// The variant-image sections say "similar to the product's": they take the product image
/// section's request and success status.
fn borrow_similar(endpoints: &mut [Endpoint]) {
    let shape = |e: &Endpoint| {
        let tail: Vec<&str> = e.path.split('/').skip(5).collect();
        (e.method.clone(), tail.join("/"))
    };
    for i in 0..endpoints.len() {
        let needs_request = endpoints[i].request.is_none() && matches!(endpoints[i].method.as_str(), "POST" | "PUT");
        let needs_answer = endpoints[i].responses.is_empty();
        if !needs_request && !needs_answer {
            continue;
        }
        let wanted = shape(&endpoints[i]);
        let Some(model) = endpoints.iter().find(|e| e.path != endpoints[i].path && shape(e) == wanted).cloned() else {
            continue;
        };
        if needs_request {
            endpoints[i].request = model.request.clone();
        }
        if needs_answer {
            // The status only: the body names the other owner (`product_id`).
            endpoints[i].responses =
                model.success().map(|s| Example { status: s.status, body: Value::Null }).into_iter().collect();
        }
    }
}

fn method_and_path(line: &str) -> Option<(String, String)> {
    let line = line.trim().trim_matches('`').trim();
    let (method, path) = line.split_once(' ')?;
    let known = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    (known.contains(&method) && path.starts_with("/api/")).then(|| (method.to_string(), path.trim().to_string()))
}

/// The status a "**Response Success (201 Created):**" / "**Response 200 OK**:" label names.
fn label_status(line: &str) -> Option<u16> {
    if !line.starts_with("**Response") {
        return None;
    }
    line.split(|c: char| !c.is_ascii_digit()).find(|part| part.len() == 3).and_then(|s| s.parse().ok())
}

pub fn parse_page(page: &str, text: &str) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = Vec::new();
    let mut pending: Option<&'static str> = None;
    let mut pending_status = 0u16;
    let mut in_query_table = false;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with("## Eventos") || trimmed.starts_with("## Permisos") {
            break;
        }
        let starts_block = trimmed.starts_with("### ")
            || trimmed.starts_with("## ")
            || trimmed.starts_with("**Response")
            || trimmed.starts_with("**Request");
        if starts_block && pending == Some("response") {
            // A status documented without an example body ("**Response 201 Created**: ...").
            if let Some(last) = out.last_mut() {
                last.responses.push(Example { status: pending_status, body: Value::Null });
            }
            pending = None;
        }
        if let Some(heading) = trimmed.strip_prefix("### ").or_else(|| trimmed.strip_prefix("## ")) {
            if let Some((method, path)) = method_and_path(heading) {
                // Page 11 names its endpoints in headings.
                push_endpoint(&mut out, page, method, path);
            }
            in_query_table = false;
            continue;
        }
        if trimmed == "```http" {
            let mut first = true;
            for inner in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
                if inner.trim().starts_with("HTTP/1.1 ") && pending == Some("response") {
                    // "204 No Content": a documented answer without a body.
                    pending = None;
                    if let Some(last) = out.last_mut() {
                        last.responses.push(Example { status: pending_status, body: Value::Null });
                    }
                    continue;
                }
                if let Some((method, path)) = method_and_path(inner) {
                    if first {
                        push_endpoint(&mut out, page, method, path);
                        first = false;
                    } else if let Some(last) = out.last_mut() {
                        last.also.push((method, path));
                    }
                }
            }
            continue;
        }
        if trimmed.starts_with("**Query Parameters") {
            in_query_table = true;
            continue;
        }
        if in_query_table {
            if let Some(name) = trimmed.strip_prefix("| `").and_then(|rest| rest.split('`').next()) {
                if let Some(last) = out.last_mut() {
                    last.query.push(name.to_string());
                }
                continue;
            }
            if trimmed.starts_with('|') || trimmed.is_empty() {
                continue;
            }
            in_query_table = false;
        }
        if trimmed.starts_with("**Request Body") {
            pending = Some("request");
            if trimmed.contains("Multipart") && !trimmed.contains("JSON") {
                if let Some(last) = out.last_mut() {
                    last.multipart_request = true;
                }
            }
            continue;
        }
        if let Some(status) = label_status(trimmed) {
            pending = Some("response");
            pending_status = status;
            continue;
        }
        if trimmed == "```json" {
            let mut block = String::new();
            for inner in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
                block.push_str(inner);
                block.push('\n');
            }
            let Some(last) = out.last_mut() else { continue };
            let parsed = serde_json::from_str::<Value>(&block);
            match (pending.take(), parsed) {
                (Some("request"), Ok(body)) => {
                    // Multipart pages show the form's fields as a JSON-ish block; a JSON body
                    // documented after it wins.
                    last.request = Some(body);
                }
                (Some("response"), Ok(body)) => last.responses.push(Example { status: pending_status, body }),
                (Some(kind), Err(err)) => panic!("{page} / {}: the {kind} example is not JSON: {err}", last.key()),
                _ => {}
            }
            continue;
        }
        if trimmed.starts_with("```") {
            // Another kind of block (bash, python, multipart forms): skipped whole.
            let multipart = pending == Some("request");
            for inner in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
            }
            if multipart {
                pending = None;
            }
        }
    }
    out
}

fn push_endpoint(out: &mut Vec<Endpoint>, page: &str, method: String, path: String) {
    out.push(Endpoint {
        page: page.to_string(),
        method,
        path,
        also: Vec::new(),
        query: Vec::new(),
        request: None,
        multipart_request: false,
        responses: Vec::new(),
    });
}

/// One row of the published error table (page 16): HTTP status, number, code.
#[derive(Debug, Clone)]
pub struct ErrorCode {
    pub status: u16,
    pub number: String,
    pub code: String,
}

pub fn error_codes() -> Vec<ErrorCode> {
    let text = std::fs::read_to_string(design_dir().join("16-errores-comunes.md")).expect("error page");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(|c| c.trim().trim_matches('`')).collect();
            // | 400 | `CAT-1001` | INVALID_PRODUCT_DATA | Product | ... |
            let status = cells.get(1)?.parse().ok()?;
            let number = cells.get(2).filter(|n| n.starts_with("CAT-"))?.to_string();
            let code = cells.get(3)?.trim_end_matches('`').to_string();
            Some(ErrorCode { status, number, code })
        })
        .collect()
}
/// The environment variables page 04 documents (`NAME=value` lines of its shell blocks).
pub fn documented_variables() -> Vec<String> {
    let text = std::fs::read_to_string(design_dir().join("04-configuracion.md")).expect("configuration page");
    let mut names: Vec<String> = Vec::new();
    let mut in_shell = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = trimmed == "```bash";
            continue;
        }
        if !in_shell {
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else { continue };
        let is_name =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_name && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// The per-user rate limits a page's "Rate Limiting" section documents: (page, label, per
/// minute), e.g. ("09-api-products.md", "Escritura", 20).
pub fn rate_limits() -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    for page in REST_PAGES {
        let text = std::fs::read_to_string(design_dir().join(page)).expect("design page");
        let mut in_section = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("## ") {
                in_section = trimmed == "## Rate Limiting";
                continue;
            }
            // - **Lectura**: 100 requests/minuto por usuario
            let Some(rest) = trimmed.strip_prefix("- **").filter(|_| in_section) else { continue };
            let Some((label, rest)) = rest.split_once("**:") else { continue };
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                out.push((page.to_string(), label.to_string(), n));
            }
        }
    }
    out
}

/// Page 03's recipe routes (its "API Endpoints" section: `# METHOD /path` comments).
pub fn recipe_routes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(design_dir().join("03-modelo-datos.md")).expect("data model page");
    let section = text.split("### API Endpoints").nth(1).unwrap_or_default().split("### ").next().unwrap_or_default();
    section.lines().filter_map(|line| method_and_path(line.trim_start_matches('#').trim())).collect()
}

/// The fields of page 03's pydantic `class {name}(BaseModel)`, in order.
pub fn recipe_schema_fields(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(design_dir().join("03-modelo-datos.md")).expect("data model page");
    let header = format!("class {name}(BaseModel):");
    let Some(body) = text.split(header.as_str()).nth(1) else { return Vec::new() };
    body.lines()
        .skip(1)
        .take_while(|line| line.starts_with("    "))
        .filter_map(|line| line.trim().split_once(':').map(|(field, _)| field.to_string()))
        .collect()
}
