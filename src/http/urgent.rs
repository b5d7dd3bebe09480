//! Urgent polling while a guest is paused or frozen: inside that window every poll of a task or job
//! waits a short fixed interval, so a wait ends within a few milliseconds of its event.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The poll interval inside a pause or freeze window. With a round trip of a few to tens of
/// milliseconds a poll then lands at most one round trip plus this after the event.
pub const URGENT_POLL: Duration = Duration::from_millis(5);

/// How long one wait polls at `URGENT_POLL` before it falls back to its gentle backoff: a pause
/// task or clone job ends in well under a second; one that hangs must not be hammered.
pub const URGENT_SPAN: Duration = Duration::from_secs(3);

/// Open windows in this process (a command pauses or freezes its guests from several threads).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// While a value lives, polls in the whole process are urgent (see `delay`).
#[derive(Debug)]
#[must_use = "the window is urgent only while the guard lives"]
pub struct Urgent(());

impl Urgent {
    /// A pause or freeze window opens.
    pub fn begin() -> Urgent {
        OPEN.fetch_add(1, Ordering::SeqCst);
        Urgent(())
    }
}

impl Drop for Urgent {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a pause or freeze window is open.
pub fn is_open() -> bool {
    OPEN.load(Ordering::SeqCst) > 0
}

/// The delay of the next poll of a wait that started at `started` and would otherwise sleep
/// `gentle`: `URGENT_POLL` inside a window (for the first `URGENT_SPAN` of the wait), else `gentle`.
pub fn delay(gentle: Duration, started: Instant) -> Duration {
    if is_open() && started.elapsed() < URGENT_SPAN {
        gentle.min(URGENT_POLL)
    } else {
        gentle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Windows opened by other tests of this binary only ever make polls shorter, which every
    // test allows; this one asserts only what its own guards guarantee.
    #[test]
    fn polls_are_short_while_a_window_is_open_and_only_for_a_while() {
        let gentle = Duration::from_millis(400);
        let now = Instant::now();
        let long_ago = now - URGENT_SPAN - Duration::from_millis(1);
        {
            let _a = Urgent::begin();
            let b = Urgent::begin();
            assert!(is_open());
            assert_eq!(delay(gentle, now), URGENT_POLL);
            assert_eq!(
                delay(Duration::from_millis(1), now),
                Duration::from_millis(1)
            );
            assert_eq!(delay(gentle, long_ago), gentle);
            drop(b);
            assert_eq!(delay(gentle, now), URGENT_POLL);
        }
    }
}
