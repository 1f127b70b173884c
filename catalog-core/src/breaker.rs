//! Calls to another team's service (Auth, Inventory): each bounded by a timeout, transient
//! failures retried with a doubling delay, and a circuit breaker — after `threshold`
//! consecutive failed calls the service is not called for `open_for`; then one trial call
//! decides whether to close again.

use crate::error::{Error, Result};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tonic::{Code, Status};

/// The retry delay doubles per attempt up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How one attempt at a call ended.
pub(crate) enum Outcome<T> {
    /// The service answered (a refusal is an answer too): the breaker closes.
    Answered(T),
    /// Worth another attempt (UNAVAILABLE, DEADLINE_EXCEEDED, transport errors, our timeout).
    Transient(String),
    /// The service answered with an error that retrying will not fix.
    Failed(String),
}

impl<T> Outcome<T> {
    /// A gRPC error status as a transient or a final failure.
    pub(crate) fn of_status(status: &Status) -> Self {
        let detail = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
                Outcome::Transient(detail)
            }
            _ => Outcome::Failed(detail),
        }
    }
}

/// The resilience policy for one peer service.
#[derive(Debug)]
pub(crate) struct PeerCalls {
    peer: &'static str,
    pub(crate) timeout: Duration,
    retries: u32,
    backoff_start: Duration,
    pub(crate) breaker: CircuitBreaker,
}

impl PeerCalls {
    pub(crate) fn new(peer: &'static str, timeout: Duration, retries: u32, backoff_start: Duration) -> Self {
        Self { peer, timeout, retries, backoff_start, breaker: CircuitBreaker::new(peer, 5, Duration::from_secs(10)) }
    }

    pub(crate) fn with_breaker(mut self, threshold: u32, open_for: Duration) -> Self {
        self.breaker = CircuitBreaker::new(self.peer, threshold, open_for);
        self
    }

    /// Runs `attempt` until it is answered, fails for good or runs out of retries; a call that
    /// never got an answer is `Unavailable`.
    pub(crate) async fn call<T, Fut>(&self, mut attempt: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: Future<Output = Outcome<T>>,
    {
        if !self.breaker.permit() {
            return Err(Error::Unavailable(format!("{} circuit open", self.peer)));
        }
        let mut retry = 0;
        loop {
            let outcome = tokio::time::timeout(self.timeout, attempt())
                .await
                .unwrap_or_else(|_| Outcome::Transient("timed out".into()));
            match outcome {
                Outcome::Answered(answer) => {
                    self.breaker.record_success();
                    return Ok(answer);
                }
                Outcome::Transient(detail) if retry < self.retries => {
                    let delay = self.backoff_start.saturating_mul(1 << retry.min(10)).min(BACKOFF_MAX);
                    tracing::debug!(peer = self.peer, retry, error = %detail, "call failed, retrying");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Outcome::Transient(detail) | Outcome::Failed(detail) => {
                    self.breaker.record_failure();
                    tracing::warn!(peer = self.peer, error = %detail, "service unavailable");
                    return Err(Error::Unavailable(format!("{}: {detail}", self.peer)));
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is in flight; everyone else fails fast until it reports. A trial whose
    /// caller vanished (request cancelled) is replaced after `open_for`.
    HalfOpen {
        trial_started: Instant,
    },
}

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    peer: &'static str,
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub(crate) fn new(peer: &'static str, threshold: u32, open_for: Duration) -> Self {
        Self { peer, threshold: threshold.max(1), open_for, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is always valid (plain copies), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go out now.
    pub(crate) fn permit(&self) -> bool {
        let mut state = self.state();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { trial_started: now };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { trial_started } if now.duration_since(trial_started) >= self.open_for => {
                *state = State::HalfOpen { trial_started: now };
                true
            }
            State::HalfOpen { .. } => false,
        }
    }

    /// The service answered (a refusal is an answer too).
    pub(crate) fn record_success(&self) {
        *self.state() = State::Closed { failures: 0 };
    }

    /// The service could not be reached or failed.
    pub(crate) fn record_failure(&self) {
        let mut state = self.state();
        let now = Instant::now();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
            State::Closed { .. } | State::HalfOpen { .. } => {
                tracing::warn!(peer = self.peer, open_for_secs = self.open_for.as_secs_f64(), "circuit opened");
                State::Open { until: now + self.open_for }
            }
            open @ State::Open { .. } => open,
        };
    }

    pub(crate) fn is_open(&self) -> bool {
        !matches!(*self.state(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_allows_one_trial() {
        let breaker = CircuitBreaker::new("test", 3, Duration::from_millis(20));
        for _ in 0..2 {
            assert!(breaker.permit());
            breaker.record_failure();
        }
        assert!(breaker.permit());
        breaker.record_success();
        for _ in 0..3 {
            assert!(breaker.permit());
            breaker.record_failure();
        }
        assert!(!breaker.permit(), "open");
        std::thread::sleep(Duration::from_millis(25));
        assert!(breaker.permit(), "half-open trial");
        assert!(!breaker.permit(), "only one trial at a time");
        breaker.record_failure();
        assert!(!breaker.permit(), "a failed trial re-opens");
        std::thread::sleep(Duration::from_millis(25));
        assert!(breaker.permit());
        breaker.record_success();
        assert!(breaker.permit() && breaker.permit(), "closed again");
    }
}
