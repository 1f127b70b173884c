//! A stand-in for the Auth Service (another team's system) in tests: a real gRPC server on
//! `127.0.0.1:<free port>` implementing `proto/auth.proto`, answering from registered tokens.
//! Stops when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::pb::auth_service_server::{AuthService, AuthServiceServer};
use super::pb::{VerifyTokenRequest, VerifyTokenResponse};
use super::principal::Principal;
use crate::ids::UserId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct State {
    tokens: Mutex<HashMap<String, VerifyTokenResponse>>,
    calls: AtomicU64,
    fail_next: AtomicU32,
    delay: Mutex<Duration>,
    traceparents: Mutex<Vec<Option<String>>>,
}

struct Service(Arc<State>);

#[tonic::async_trait]
impl AuthService for Service {
    async fn verify_token(
        &self,
        request: Request<VerifyTokenRequest>,
    ) -> Result<Response<VerifyTokenResponse>, Status> {
        let state = &self.0;
        state.calls.fetch_add(1, Ordering::SeqCst);
        let traceparent = request.metadata().get(crate::telemetry::TRACEPARENT).and_then(|v| v.to_str().ok());
        state.traceparents.lock().unwrap().push(traceparent.map(str::to_string));
        let delay = *state.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let failing = state.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing {
            return Err(Status::unavailable("auth stub: induced failure"));
        }
        let found = state.tokens.lock().unwrap().get(&request.into_inner().token).cloned();
        found.map(Response::new).ok_or_else(|| Status::unauthenticated("invalid token"))
    }
}

pub struct AuthStub {
    addr: SocketAddr,
    state: Arc<State>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl AuthStub {
    /// Starts the server; it is accepting connections when this returns.
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let routes = tonic::service::Routes::new(AuthServiceServer::new(Service(state.clone())));
        let (addr, shutdown) = crate::testing::serve_grpc(routes).await;
        Self { addr, state, _shutdown: shutdown }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `AUTH_MODE`, `AUTH_GRPC_HOST` and `AUTH_GRPC_PORT` pointing at this stub.
    pub fn settings_env(&self) -> Vec<(String, String)> {
        vec![
            ("AUTH_MODE".into(), "grpc".into()),
            ("AUTH_GRPC_HOST".into(), self.addr.ip().to_string()),
            ("AUTH_GRPC_PORT".into(), self.addr.port().to_string()),
        ]
    }

    /// `token` verifies to `response` from now on.
    pub fn register(&self, token: impl Into<String>, response: VerifyTokenResponse) {
        self.state.tokens.lock().unwrap().insert(token.into(), response);
    }

    /// `token` verifies to this (active) principal.
    pub fn register_principal(&self, token: impl Into<String>, principal: &Principal) {
        self.register(token, response_for(principal));
    }

    /// Marks every registered token of the user active or not.
    pub fn set_active(&self, user: UserId, active: bool) {
        let user = user.to_string();
        for response in self.state.tokens.lock().unwrap().values_mut() {
            if response.user_id == user {
                response.active = active;
            }
        }
    }

    /// VerifyToken calls received so far (failed ones included).
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The `traceparent` metadata of each call received, in order.
    pub fn traceparents(&self) -> Vec<Option<String>> {
        self.state.traceparents.lock().unwrap().clone()
    }

    /// The next `n` calls answer UNAVAILABLE.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every call waits this long before answering (timeouts).
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

/// The Auth Service's answer for an active principal.
pub fn response_for(principal: &Principal) -> VerifyTokenResponse {
    VerifyTokenResponse {
        user_id: principal.user_id.to_string(),
        organization_id: principal.organization_id.to_string(),
        email: principal.email.clone(),
        permissions: principal.permissions.clone(),
        locals: principal.locals.iter().map(ToString::to_string).collect(),
        active: true,
        first_name: "Test".into(),
        last_name: "User".into(),
    }
}
