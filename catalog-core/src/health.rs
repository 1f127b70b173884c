//! Liveness and readiness from real dependency checks.
//!
//! Live: the process runs. Ready: the dependencies the process cannot work without answer.
//! PostgreSQL is required everywhere; Redis never is (a cache); RabbitMQ only for the worker
//! (the API and gRPC server write events to the outbox, not to the broker).

use crate::cache::{self, RedisPool};
use crate::config::{RabbitSettings, SecretUrl};
use crate::db::{self, PgPool};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub ok: bool,
    pub required: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub ready: bool,
    pub checks: Vec<CheckResult>,
}

#[derive(Clone)]
pub struct HealthChecker {
    pub postgres: PgPool,
    pub redis: Option<RedisPool>,
    /// (host, port) of the broker and whether readiness needs it.
    pub rabbitmq: Option<(String, u16, bool)>,
    /// Problems background work reports (a worker's queue topology); each is required.
    conditions: Vec<(&'static str, Condition)>,
}

/// A problem found by background work that readiness must report until it is mended.
#[derive(Clone, Default)]
pub struct Condition(Arc<Mutex<Option<String>>>);

impl Condition {
    pub fn fail(&self, problem: String) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(problem);
    }

    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn problem(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl HealthChecker {
    pub fn new(postgres: PgPool) -> Self {
        Self { postgres, redis: None, rabbitmq: None, conditions: Vec::new() }
    }

    pub fn with_redis(mut self, redis: RedisPool) -> Self {
        self.redis = Some(redis);
        self
    }

    pub fn with_rabbitmq(mut self, settings: &RabbitSettings, required: bool) -> Self {
        let (host, port) = broker_address(settings);
        self.rabbitmq = Some((host, port, required));
        self
    }

    /// Readiness also requires `condition` to hold.
    pub fn with_condition(mut self, name: &'static str, condition: Condition) -> Self {
        self.conditions.push((name, condition));
        self
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn report(&self) -> HealthReport {
        let postgres = timed("postgres", true, db::ping(&self.postgres));
        let redis = async {
            match &self.redis {
                Some(pool) => Some(timed("redis", false, cache::ping(pool)).await),
                None => None,
            }
        };
        let rabbit = async {
            match &self.rabbitmq {
                Some((host, port, required)) => {
                    let addr = format!("{host}:{port}");
                    let connect = async {
                        tokio::net::TcpStream::connect(&addr)
                            .await
                            .map(|_| ())
                            .map_err(|e| crate::Error::Unavailable(e.to_string()))
                    };
                    Some(timed("rabbitmq", *required, connect).await)
                }
                None => None,
            }
        };
        let (postgres, redis, rabbit) = tokio::join!(postgres, redis, rabbit);
        let conditions = self.conditions.iter().map(|(name, condition)| {
            let error = condition.problem();
            CheckResult { name, ok: error.is_none(), required: true, latency_ms: 0, error }
        });
        let checks: Vec<CheckResult> = std::iter::once(postgres).chain(redis).chain(rabbit).chain(conditions).collect();
        HealthReport { ready: checks.iter().all(|c| c.ok || !c.required), checks }
    }
}

async fn timed(name: &'static str, required: bool, check: impl Future<Output = crate::Result<()>>) -> CheckResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check).await;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    };
    CheckResult { name, ok: error.is_none(), required, latency_ms: started.elapsed().as_millis() as u64, error }
}

/// The broker's host and port, from `RABBITMQ_URL` when set.
fn broker_address(settings: &RabbitSettings) -> (String, u16) {
    let from_url = settings.url.as_ref().and_then(|url: &SecretUrl| {
        let rest = url.expose().split_once("://")?.1;
        let host_port = rest.rsplit_once('@').map_or(rest, |(_, hp)| hp);
        let host_port = host_port.split(['/', '?']).next()?;
        match host_port.rsplit_once(':') {
            Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
            None => Some((host_port.to_string(), 5672)),
        }
    });
    from_url.unwrap_or_else(|| (settings.host.clone(), settings.port))
}
