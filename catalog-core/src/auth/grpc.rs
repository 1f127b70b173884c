//! `AUTH_MODE=grpc`: every (uncached) token is verified by the Auth Service.

use super::pb::auth_service_client::AuthServiceClient;
use super::pb::{VerifyTokenRequest, VerifyTokenResponse};
use super::principal::Principal;
use crate::breaker::{Outcome, PeerCalls};
use crate::config::AuthSettings;
use crate::error::{Error, Result};
use crate::telemetry;
use std::time::Duration;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

pub(crate) struct GrpcVerifier {
    client: AuthServiceClient<Channel>,
    pub(crate) calls: PeerCalls,
    host: String,
    port: u16,
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
            calls: PeerCalls::new(
                "auth service",
                timeout,
                settings.grpc_retries,
                Duration::from_millis(settings.grpc_retry_delay_ms),
            )
            .with_breaker(settings.breaker_failure_threshold, Duration::from_secs(settings.breaker_recovery_secs)),
            host: settings.grpc_host.clone(),
            port: settings.grpc_port,
        })
    }

    pub(crate) async fn verify(&self, token: &str) -> Result<Principal> {
        let span = telemetry::rpc_client_span("auth.AuthService", "VerifyToken", &self.host, self.port);
        let verdict = self
            .calls
            .call(|| async {
                let mut request = tonic::Request::new(VerifyTokenRequest { token: token.to_string() });
                request.set_timeout(self.calls.timeout);
                telemetry::inject_metadata(request.metadata_mut());
                match self.client.clone().verify_token(request).await {
                    Ok(response) => Outcome::Answered(principal_from(response.into_inner())),
                    Err(status) if refuses(status.code()) => Outcome::Answered(Err("token refused".into())),
                    Err(status) => Outcome::of_status(&status),
                }
            })
            .instrument(span)
            .await?;
        verdict.map_err(Error::Unauthorized)
    }
}

/// Codes by which Auth refuses the token (an answer, not a failure).
fn refuses(code: Code) -> bool {
    matches!(code, Code::Unauthenticated | Code::PermissionDenied | Code::InvalidArgument | Code::NotFound)
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
