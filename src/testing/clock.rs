//! `ManualClock`: a clock that stands still until a test (or a wait for the next second) moves
//! it, so that names made from it are known in advance and nothing sleeps.

use std::sync::Mutex;

use time::OffsetDateTime;

use crate::ops::clock::Clock;

pub(crate) struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn at(time: OffsetDateTime) -> ManualClock {
        ManualClock(Mutex::new(time))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jumps to the start of the next second at once.
    fn wait_for_next_second(&self) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let next = *now + time::Duration::seconds(1);
        *now = next.replace_nanosecond(0).unwrap_or(next);
    }
}
