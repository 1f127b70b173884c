//! Authentication shared by the processes: token claims as the Auth Service issues them.

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
        .map_err(|e| Error::Internal(format!("cannot sign dev token: {e}")))
}
