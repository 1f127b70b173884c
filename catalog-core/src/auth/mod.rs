//! Authentication shared by the processes (SPEC §5).
//!
//! [`Authenticator::authenticate`] turns a bearer token into a [`Principal`], verified per
//! `AUTH_MODE`:
//! - `grpc` (default): the Auth Service's `AuthService.VerifyToken`, with a per-call timeout
//!   (`AUTH_GRPC_TIMEOUT`), retries on transient failures (`AUTH_GRPC_RETRIES`) and a circuit
//!   breaker;
//! - `jwt`: RS256 tokens verified in process with the Auth Service's public key
//!   (`JWT_PUBLIC_KEY_PATH`), no network hop;
//! - `dev`: HS256 tokens signed with `AUTH_DEV_SECRET` — for the local run only (no Auth
//!   Service needed; mint tokens with `catalog-api dev-token`). Never enable it in a deployment.
//!
//! Verifications are cached in Redis by a hash of the whole token; deactivated users
//! ([`Authenticator::deactivate_user`]) are refused in every mode, cached or not.

mod authenticator;
mod grpc;
mod local;
pub mod pb;
mod principal;
#[cfg(feature = "testing")]
pub mod stub;

pub use authenticator::{AuthStats, Authenticator};
pub use principal::{Action, CATALOG_ALL, LOCAL_ACCESS_ALL, Principal, Resource};

use crate::error::{Error, Result};
use crate::ids::{LocalId, OrganizationId, UserId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// Claims of the Auth Service's 15-minute access tokens (SPEC §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub user_id: UserId,
    pub email: String,
    pub organization_id: OrganizationId,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub locals: Vec<LocalId>,
    pub exp: i64,
    pub iat: i64,
}

/// Signs an HS256 token for the local development auth mode (`AUTH_MODE=dev`). Never used when
/// a real Auth Service or its public key is configured.
pub fn mint_dev_token(secret: &str, claims: &Claims) -> Result<String> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .map_err(|e| Error::internal_from("cannot sign dev token", &e))
}
