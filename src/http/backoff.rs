//! Polling delays for jobs, tasks and retries: doubling from a start value up to a cap, never
//! sleeping past a deadline, and short fixed polls while a pause or freeze window is open.

use std::time::{Duration, Instant};

use super::urgent;

/// Doubling delays: `start`, `2*start`, ... capped at `cap`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    /// When the wait began (an urgent window shortens only the first seconds of a wait).
    started: Instant,
}

impl Backoff {
    pub fn new(start: Duration, cap: Duration) -> Backoff {
        Backoff {
            next: start.min(cap),
            cap,
            started: Instant::now(),
        }
    }

    /// For polling jobs and tasks: 50 ms doubling to 1 s.
    pub fn polling() -> Backoff {
        Backoff::new(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// For retrying transient failures: 200 ms doubling to 2 s.
    pub fn retrying() -> Backoff {
        Backoff::new(Duration::from_millis(200), Duration::from_secs(2))
    }

    /// The next delay (and advance).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        d
    }

    /// Sleeps for the next delay (`urgent::URGENT_POLL` while a pause or freeze window is open),
    /// cut short at `deadline`. Returns false (without sleeping) when the deadline has already
    /// passed, so the caller stops.
    pub fn wait(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let delay = urgent::delay(self.next_delay(), self.started).min(deadline - now);
        std::thread::sleep(delay);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::polling();
        let ms: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        let mut r = Backoff::retrying();
        let ms: Vec<u128> = (0..6).map(|_| r.next_delay().as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 2000, 2000]);
    }

    #[test]
    fn inside_a_window_a_poll_waits_only_a_few_milliseconds() {
        let _window = urgent::Urgent::begin();
        let mut b = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        let start = Instant::now();
        assert!(b.wait(Instant::now() + Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_start_above_the_cap_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn waiting_stops_at_the_deadline() {
        let mut b = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        // The deadline is already over: no sleep at all.
        assert!(!b.wait(Instant::now()));
        // A near deadline cuts the hour-long delay short (the test would hang otherwise).
        assert!(b.wait(Instant::now() + Duration::from_millis(20)));
    }
}
