//! `AUTH_MODE=grpc`: every (uncached) token is verified by the Auth Service.

use super::breaker::CircuitBreaker;
use super::pb::auth_service_client::AuthServiceClient;
use super::pb::{VerifyTokenRequest, VerifyTokenResponse};
use super::principal::Principal;
use crate::config::AuthSettings;
use crate::error::{Error, Result};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The retry delay (`AUTH_GRPC_RETRY_DELAY_MS`) doubles per attempt up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(crate) struct GrpcVerifier {
    client: AuthServiceClient<Channel>,
    timeout: Duration,
    retries: u32,
    backoff_start: Duration,
    pub(crate) breaker: CircuitBreaker,
}

/// How one attempt ended.
enum Attempt {
    Verified(Principal),
    Refused(String),
    /// Worth another attempt (UNAVAILABLE, DEADLINE_EXCEEDED, transport errors, our timeout).
    Transient(String),
    /// The service answered with an error that retrying will not fix.
    Failed(String),
}

impl GrpcVerifier {
    /// Connects lazily: the process starts (and reports not ready) while Auth is down. Must be
    /// called inside a Tokio runtime.
    pub(crate) fn new(settings: &AuthSettings) -> Result<Self> {
        let timeout = Duration::from_secs(settings.grpc_timeout_secs.max(1));
        let url = format!("http://{}:{}", settings.grpc_host, settings.grpc_port);
        let endpoint = Endpoint::from_shared(url).map_err(|e| Error::InvalidArgument {
            field: "AUTH_GRPC_HOST",
            message: format!("not a usable host: {e}"),
        })?;
        let channel = endpoint.connect_timeout(timeout).tcp_nodelay(true).connect_lazy();
        Ok(Self {
            client: AuthServiceClient::new(channel),
            timeout,
            retries: settings.grpc_retries,
            backoff_start: Duration::from_millis(settings.grpc_retry_delay_ms),
            breaker: CircuitBreaker::new(
                settings.breaker_failure_threshold,
                Duration::from_secs(settings.breaker_recovery_secs),
            ),
        })
    }

    pub(crate) async fn verify(&self, token: &str) -> Result<Principal> {
        if !self.breaker.permit() {
            return Err(Error::Unavailable("auth service circuit open".into()));
        }
        let mut attempt = 0;
        loop {
            match self.attempt(token).await {
                Attempt::Verified(principal) => {
                    self.breaker.record_success();
                    return Ok(principal);
                }
                Attempt::Refused(reason) => {
                    self.breaker.record_success();
                    return Err(Error::Unauthorized(reason));
                }
                Attempt::Transient(detail) if attempt < self.retries => {
                    let delay = self.backoff_start.saturating_mul(1 << attempt.min(10)).min(BACKOFF_MAX);
                    tracing::debug!(attempt, error = %detail, "auth service call failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Attempt::Transient(detail) | Attempt::Failed(detail) => {
                    self.breaker.record_failure();
                    tracing::warn!(error = %detail, "auth service unavailable");
                    return Err(Error::Unavailable(format!("auth service: {detail}")));
                }
            }
        }
    }

    async fn attempt(&self, token: &str) -> Attempt {
        let mut request = tonic::Request::new(VerifyTokenRequest { token: token.to_string() });
        request.set_timeout(self.timeout);
        let mut client = self.client.clone();
        match tokio::time::timeout(self.timeout, client.verify_token(request)).await {
            Err(_) => Attempt::Transient("timed out".into()),
            Ok(Err(status)) => classify(&status),
            Ok(Ok(response)) => match principal_from(response.into_inner()) {
                Ok(principal) => Attempt::Verified(principal),
                Err(reason) => Attempt::Refused(reason),
            },
        }
    }
}

fn classify(status: &Status) -> Attempt {
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied | Code::InvalidArgument | Code::NotFound => {
            Attempt::Refused("token refused".into())
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
            Attempt::Transient(format!("{:?}: {}", status.code(), status.message()))
        }
        code => Attempt::Failed(format!("{code:?}: {}", status.message())),
    }
}

/// Validates the Auth Service's answer; the reason is safe to show the caller.
fn principal_from(response: VerifyTokenResponse) -> Result<Principal, String> {
    if !response.active {
        return Err("user is not active".into());
    }
    let (Ok(user_id), Ok(organization_id)) = (response.user_id.parse(), response.organization_id.parse()) else {
        tracing::warn!("auth service returned a user or organization id that is not a UUID");
        return Err("token carries no valid identity".into());
    };
    let locals = response
        .locals
        .iter()
        .filter_map(|raw| {
            let parsed = raw.parse().ok();
            if parsed.is_none() {
                tracing::warn!(local = %raw, "ignoring a local id that is not a UUID");
            }
            parsed
        })
        .collect();
    Ok(Principal {
        user_id,
        organization_id,
        email: response.email,
        permissions: response.permissions,
        locals,
        roles: Vec::new(),
    })
}
