//! The authenticated caller: bearer token verified (Auth Service, local RS256 or dev mode),
//! organization taken from the token and checked against the tenant header, the per-user rate
//! limit of the request's kind applied (`rate`). Handlers then ask for permissions and local access explicitly.

use crate::error::ApiError;
use crate::state::ApiState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use catalog_core::auth::{Action, Principal, Resource};
use catalog_core::error::Error;
use catalog_core::ids::{LocalId, OrganizationId};
use catalog_core::models::Actor;
use std::future::Future;
use std::pin::Pin;

#[derive(Clone)]
pub struct Caller {
    pub principal: Principal,
    pub actor: Actor,
}

impl Caller {
    pub fn org(&self) -> OrganizationId {
        self.principal.organization_id
    }

    /// 403 unless the caller holds `catalog.{resource}.{action}` (or a module-level grant).
    pub fn require(&self, resource: Resource, action: Action) -> Result<(), ApiError> {
        if self.principal.allows(resource, action) {
            Ok(())
        } else {
            Err(ApiError(Error::Forbidden {
                code: "FORBIDDEN",
                message: format!(
                    "missing permission {}",
                    format_args!("catalog.{}.{}", resource.as_str(), action.as_str())
                ),
            }))
        }
    }

    /// 403 `LOCAL_ACCESS_DENIED` when the request names a local the user may not act for.
    pub fn require_local(&self, local: Option<LocalId>) -> Result<(), ApiError> {
        match local {
            Some(local) if !self.principal.may_use_local(local) => Err(ApiError(Error::Forbidden {
                code: "LOCAL_ACCESS_DENIED",
                message: format!("no access to local {local}"),
            })),
            _ => Ok(()),
        }
    }
}

const ORGANIZATION_HEADER: &str = "X-Organization-ID";

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Middleware that authenticated the request already (idempotency) left the caller here.
        if let Some(caller) = req.extensions().get::<Caller>() {
            let caller = caller.clone();
            return Box::pin(async move { Ok(caller) });
        }
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<ApiState>>()
                .ok_or_else(|| ApiError(Error::Internal("ApiState missing".into())))?;
            let token = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError(Error::Unauthorized("missing bearer token".into())))?;
            let principal = state.auth.authenticate(token).await?;

            for header in [state.settings.api.tenant_header_name.as_str(), ORGANIZATION_HEADER] {
                if let Some(value) = req.headers().get(header) {
                    let matches = value.to_str().ok().and_then(|v| v.trim().parse::<OrganizationId>().ok())
                        == Some(principal.organization_id);
                    if !matches {
                        return Err(ApiError(Error::Forbidden {
                            code: "FORBIDDEN",
                            message: format!("{header} does not match the token's organization"),
                        }));
                    }
                }
            }
            state.check_rate(&principal, crate::rate::Kind::of(req.method(), req.path()))?;
            let correlation_id = crate::context::current().request_id;
            let actor = Actor { user_id: Some(principal.user_id), correlation_id: Some(correlation_id) };
            Ok(Caller { principal, actor })
        })
    }
}
