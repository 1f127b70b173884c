//! `Idempotency-Key` on POST: a client that lost an answer resends the same request with the
//! same key and gets the first response again (`Idempotent-Replayed: true`) instead of a second
//! write. The same key with a different request is refused (409 `IDEMPOTENCY_KEY_REUSED`), and
//! while the first request still runs a retry gets 409 `IDEMPOTENCY_KEY_IN_PROGRESS`. A server
//! error is not recorded, so its retry runs again. Keys are per organization, for 24 hours.

use crate::caller::Caller;
use crate::error::ApiError;
use crate::imports;
use crate::routes::{self, BodyReading, transfer};
use crate::state::ApiState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use catalog_core::error::Error;
use catalog_core::ids::OrganizationId;
use catalog_core::repo::idempotency::{self, Claim, StoredResponse};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
const MAX_KEY_LEN: usize = 255;
/// Response headers that belong to the answer (the others describe this transfer).
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::ETAG, header::LOCATION];

/// The key of a POST that carries one; `Err` for a key that is empty, too long or not text.
fn key_of(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER).filter(|_| req.method() == Method::POST) else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError(Error::InvalidArgument {
            field: HEADER,
            message: format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        }));
    }
    Ok(Some(key.to_string()))
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match key_of(&req) {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(err) => return Ok(refuse(req, err)),
    };
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(refuse(req, ApiError(Error::Internal("ApiState missing".into()))));
    };
    let (req, org, fingerprint) = match identify(req, &state).await {
        Ok(identified) => identified,
        Err((req, err)) => return Ok(req.into_response(err.error_response())),
    };
    let claim = match state.conn().await {
        Ok(mut conn) => idempotency::claim(&mut conn, org, &key, &fingerprint).await.map_err(ApiError),
        Err(err) => Err(err),
    };
    match claim {
        Ok(Claim::Claimed) => {}
        Ok(Claim::Replay(stored)) => return Ok(req.into_response(replay(stored))),
        Ok(Claim::InProgress) => {
            let message = "a request with this Idempotency-Key is still running; retry later";
            return Ok(refuse(req, conflict("IDEMPOTENCY_KEY_IN_PROGRESS", message)));
        }
        Ok(Claim::Mismatch) => {
            let message = "this Idempotency-Key was used for a different request";
            return Ok(refuse(req, conflict("IDEMPOTENCY_KEY_REUSED", message)));
        }
        Err(err) => return Ok(refuse(req, err)),
    }

    let claimed = Claimed { state: &state, org, key: &key, fingerprint: &fingerprint };
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(err) => {
            claimed.release().await;
            return Err(err);
        }
    };
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        claimed.release().await;
        return Err(ApiError(Error::Internal("could not read the response body".into())).into());
    };
    if head.status().is_server_error() {
        claimed.release().await;
    } else {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| Some((name.to_string(), head.headers().get(name)?.to_str().ok()?.to_string())))
            .collect();
        let stored = StoredResponse { status: head.status().as_u16(), headers, body: bytes.to_vec() };
        claimed.record(&stored).await;
    }
    Ok(ServiceResponse::new(request, head.set_body(BoxBody::new(bytes))))
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError(Error::Conflict { code, message: message.into(), field: Some(HEADER), key: Vec::new() })
}

fn refuse(req: ServiceRequest, err: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(err.error_response())
}

/// Authenticates the caller (once: the handler's `Caller` is this one, see
/// `Caller::from_request`) and reads the body, to fingerprint the request: buffered up to the
/// route's own limit, or, for an upload, spooled to disk and hashed (the handler takes the file).
async fn identify(
    mut req: ServiceRequest,
    state: &ApiState,
) -> Result<(ServiceRequest, OrganizationId, Vec<u8>), (ServiceRequest, actix_web::Error)> {
    let caller = match req.extract::<Caller>().await {
        Ok(caller) => caller,
        Err(err) => return Err((req, err.into())),
    };
    let body = match routes::body_reading(req.path()) {
        BodyReading::Spooled => match transfer::spool(req.take_payload(), imports::MAX_UPLOAD_BYTES).await {
            Ok(spooled) => {
                let digest = web::Bytes::from(spooled.sha256.clone());
                req.extensions_mut().insert(spooled);
                digest
            }
            Err(err) => return Err((req, ApiError(err).into())),
        },
        BodyReading::Buffered(limit) => {
            let limit = limit.unwrap_or(state.settings.api.body_limit_bytes);
            let payload = match req.extract::<web::Payload>().await {
                Ok(payload) => payload,
                Err(err) => return Err((req, err)),
            };
            match payload.to_bytes_limited(limit).await {
                Ok(Ok(body)) => {
                    req.set_payload(Payload::from(body.clone()));
                    body
                }
                Ok(Err(err)) => return Err((req, err)),
                Err(_) => {
                    let err = Error::PayloadTooLarge(format!("request bodies up to {limit} bytes"));
                    return Err((req, ApiError(err).into()));
                }
            }
        }
    };
    let fingerprint = idempotency::fingerprint(
        caller.principal.user_id,
        req.method().as_str(),
        req.path(),
        req.query_string(),
        &body,
    );
    let org = caller.org();
    req.extensions_mut().insert(caller);
    Ok((req, org, fingerprint))
}

/// A key this request claimed. Failing to record the outcome is logged, not answered: the
/// request itself succeeded, and an unrecorded claim frees itself after a while.
struct Claimed<'a> {
    state: &'a ApiState,
    org: OrganizationId,
    key: &'a str,
    fingerprint: &'a [u8],
}

impl Claimed<'_> {
    async fn record(&self, response: &StoredResponse) {
        let outcome = match self.state.conn().await {
            Ok(mut conn) => idempotency::record(&mut conn, self.org, self.key, self.fingerprint, response).await,
            Err(err) => Err(err.0),
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "could not record the response of an idempotent request");
        }
    }

    async fn release(&self) {
        let outcome = match self.state.conn().await {
            Ok(mut conn) => idempotency::release(&mut conn, self.org, self.key, self.fingerprint).await,
            Err(err) => Err(err.0),
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "could not release an idempotency key");
        }
    }
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    for (name, value) in stored.headers {
        response.insert_header((name, value));
    }
    response.insert_header((REPLAYED_HEADER, "true"));
    response.body(stored.body)
}
