//! The OpenAPI document, assembled from every resource module's own `Doc`, served at
//! `/openapi.json` and browsable at `/docs` (Swagger UI vendored into the binary: no internet).

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
        variants::Doc::openapi(),
        images::Doc::openapi(),
        options::Doc::openapi(),
        collections::Doc::openapi(),
        tags::Doc::openapi(),
        price_tiers::Doc::openapi(),
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
