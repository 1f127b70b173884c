//! Pauses between reconnection attempts.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(200);
/// Low on purpose: a dependency's return must be noticed within seconds (RELIABILITY.md
/// promises recovery within 10 s), and one attempt every 2 s costs a broker or a database
/// nothing.
const LONGEST: Duration = Duration::from_secs(2);

/// 200 ms, doubling up to 2 s; `reset` after a success starts over.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Backoff {
    /// The pause to take now; the following one doubles.
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(LONGEST);
        pause
    }

    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u128> = (0..6).map(|_| backoff.pause().as_millis()).collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 2000, 2000]);
        backoff.reset();
        assert_eq!(backoff.pause(), FIRST);
    }
}
