//! Read replicas from the REST side (see `catalog_core::db::replicas`): a GET or HEAD runs
//! read-only, after the position its caller brings (`X-Catalog-Read-After` header, else the
//! `catalog_read_after` cookie); a successful write answers with the primary's position in both,
//! so its writer's next reads never see an older version. Without replicas this only marks GETs.

use crate::state::ApiState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use catalog_core::db::replicas::{self, Lsn, READ_AFTER_COOKIE, READ_AFTER_HEADER};

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let after = req
            .headers()
            .get(READ_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| cookie(&req, READ_AFTER_COOKIE))
            .and_then(|text| text.parse::<Lsn>().ok());
        return replicas::read_only(after, next.call(req)).await;
    }
    let state = req.app_data::<web::Data<ApiState>>().cloned();
    let mut response = next.call(req).await?;
    let Some(state) = state.filter(|s| s.catalog.reads.enabled() && response.status().is_success()) else {
        return Ok(response);
    };
    match state.catalog.reads.primary_position().await {
        Ok(Some(position)) => {
            let text = position.to_string();
            if let Ok(value) = HeaderValue::from_str(&text) {
                response.headers_mut().insert(HeaderName::from_static(READ_AFTER_HEADER), value);
            }
            let max_age = state.settings.database.read_after_write_secs;
            let cookie = format!("{READ_AFTER_COOKIE}={text}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Ok(None) => {}
        // Without the position the writer's next read may see a replica's older version: say so.
        Err(e) => tracing::warn!(error = %e, "cannot read the primary's WAL position after a write"),
    }
    Ok(response)
}

/// A cookie's value from the request's `Cookie` headers (actix-web's cookie support is not
/// compiled in for this one value).
fn cookie(req: &ServiceRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}
