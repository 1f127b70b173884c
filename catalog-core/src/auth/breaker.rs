//! A small circuit breaker: after `threshold` consecutive failures the Auth Service is not
//! called for `open_for`; then one trial call decides whether to close again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Self { threshold: threshold.max(1), open_for, state: Mutex::new(State::Closed { failures: 0 }) }
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
                tracing::warn!(open_for_secs = self.open_for.as_secs_f64(), "auth service circuit opened");
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
        let breaker = CircuitBreaker::new(3, Duration::from_millis(20));
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
