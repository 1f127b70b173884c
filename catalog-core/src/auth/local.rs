//! `AUTH_MODE=jwt` (RS256, the Auth Service's public key) and `AUTH_MODE=dev` (HS256 with
//! `AUTH_DEV_SECRET`): tokens verified in process, no network hop.

use super::Claims;
use crate::error::{Error, Result};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Tolerated clock difference with the token issuer.
const LEEWAY_SECS: u64 = 5;

pub(crate) struct LocalVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl LocalVerifier {
    /// Reads the PEM public key once; a missing or bad file fails at start, naming the variable.
    pub(crate) fn rs256(public_key_path: Option<&str>) -> Result<Self> {
        let bad = |message: String| Error::InvalidArgument { field: "JWT_PUBLIC_KEY_PATH", message };
        let path = public_key_path.ok_or_else(|| bad("is required when AUTH_MODE=jwt".into()))?;
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read {path}: {e}")))?;
        let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| bad(format!("{path} is not an RSA public key: {e}")))?;
        Ok(Self { key, validation: validation(Algorithm::RS256) })
    }

    pub(crate) fn hs256_dev(secret: &str) -> Result<Self> {
        if secret.is_empty() {
            return Err(Error::InvalidArgument {
                field: "AUTH_DEV_SECRET",
                message: "is required when AUTH_MODE=dev".into(),
            });
        }
        Ok(Self { key: DecodingKey::from_secret(secret.as_bytes()), validation: validation(Algorithm::HS256) })
    }

    pub(crate) fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map(|data| data.claims).map_err(|e| {
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => "invalid token signature",
                ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
                _ => "invalid token",
            };
            Error::Unauthorized(reason.into())
        })
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    // `exp` is required and enforced (the default); the Auth Service sets no audience.
    validation.set_required_spec_claims(&["exp"]);
    validation.validate_exp = true;
    validation.validate_aud = false;
    validation.leeway = LEEWAY_SECS;
    validation
}
