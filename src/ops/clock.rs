//! The clock the workflows read for snapshot names and expiry times: the system clock in
//! production, a settable one in unit tests (so that no test waits for a new second).

use std::time::Duration;

use time::OffsetDateTime;

/// Wall-clock time, as the workflows see it.
pub trait Clock: Send + Sync {
    /// The current time (UTC).
    fn now(&self) -> OffsetDateTime;
    /// Return once the next whole second has begun (names have one-second resolution).
    fn wait_for_next_second(&self);
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn wait_for_next_second(&self) {
        let rest = 1_000_000_000u64.saturating_sub(u64::from(self.now().nanosecond()));
        std::thread::sleep(Duration::from_nanos(rest) + Duration::from_millis(5));
    }
}
