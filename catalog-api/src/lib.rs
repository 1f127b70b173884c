//! The catalog's REST API (`/api/v1`, actix-web, port 8002) for the web and mobile front ends.
//! Handlers translate HTTP into core calls; `catalog-core` decides.

pub mod caller;
pub mod context;
pub mod error;
pub mod idempotency;
pub mod imports;
pub mod openapi;
pub mod rate;
pub mod reads;
pub mod reply;
pub mod routes;
pub mod state;
pub mod views;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, middleware, web};
use catalog_core::ops::{self, OpsState};
use context::HttpMetrics;
use state::ApiState;
use utoipa_swagger_ui::SwaggerUi;

/// Everything the app needs, shared by all workers.
#[derive(Clone)]
pub struct AppParts {
    pub state: web::Data<ApiState>,
    pub ops: web::Data<OpsState>,
    pub metrics: web::Data<HttpMetrics>,
}

/// The whole application; `main` serves it and tests drive it in-process.
pub fn app(
    parts: AppParts,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = parts.state.settings.api.body_limit_bytes;
    let cors = cors(&parts.state.settings.api);
    App::new()
        .app_data(parts.state)
        .app_data(parts.ops)
        .app_data(parts.metrics)
        .app_data(web::JsonConfig::default().limit(body_limit).error_handler(error::json_error))
        .app_data(web::PayloadConfig::default().limit(body_limit))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .wrap(middleware::Compress::default())
        .wrap(middleware::from_fn(context::middleware))
        // Outermost: a preflight is answered before authentication, which it never carries.
        .wrap(middleware::Condition::new(cors.is_some(), cors.unwrap_or_default()))
        .configure(ops::configure)
        .service(
            web::scope("/api/v1")
                .wrap(middleware::from_fn(idempotency::middleware))
                .wrap(middleware::from_fn(reads::middleware))
                .configure(routes::configure),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .route("/openapi.json", web::get().to(openapi_json))
        .route("/asyncapi.json", web::get().to(asyncapi))
        .route("/media/{key:.*}", web::get().to(routes::images::media))
        .route(
            "/docs",
            web::get().to(|| async {
                actix_web::HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish()
            }),
        )
        .default_service(web::to(error::not_found))
}

/// The OpenAPI document, serialized once per process on first request.
async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(openapi::document_bytes())
}

/// The AsyncAPI 3.0 document of the events published and consumed (beside `/openapi.json`).
async fn asyncapi(state: web::Data<state::ApiState>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(catalog_core::asyncapi::for_settings(&state.settings.rabbitmq))
}

/// CORS for the configured origins (`API_CORS_ORIGINS`, comma-separated); `None` when there are
/// none, so no CORS header is ever sent and browsers keep other sites out.
fn cors(api: &catalog_core::config::ApiSettings) -> Option<actix_cors::Cors> {
    let origins: Vec<&str> = api.cors_origins.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return None;
    }
    let cors = origins.into_iter().fold(actix_cors::Cors::default(), |cors, origin| cors.allowed_origin(origin));
    Some(
        cors.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                "authorization",
                "content-type",
                "if-match",
                "idempotency-key",
                "x-request-id",
                "x-tenant-id",
                "x-organization-id",
                catalog_core::db::replicas::READ_AFTER_HEADER,
                api.tenant_header_name.as_str(),
            ])
            .expose_headers([
                "etag",
                "x-request-id",
                "idempotent-replayed",
                "retry-after",
                catalog_core::db::replicas::READ_AFTER_HEADER,
            ])
            .max_age(600),
    )
}
