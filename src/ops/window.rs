//! What a consistency window does to a guest and what guards it: the `Action`, the plan handed to
//! the guardian (`ops::guardian`), the traits that arm and release it, and the default bounds.

use std::time::Duration;

use crate::error::Result;
use crate::pve::Guest;

/// What will actually be done to a guest (decided with every lookup, before anything changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Pause,
    Shutdown,
    Freeze,
}

/// What the guardian brings back for one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub guest: Guest,
    /// What the tool does to the guest (the guardian undoes it: resume, start or thaw).
    pub action: Action,
}

/// Everything one window needs guarding: its guests and its bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardPlan {
    pub watches: Vec<Watch>,
    /// Counted from the moment the guardian is armed (just before the first request that pauses,
    /// freezes or shuts down a guest).
    pub max_pause: Duration,
}

/// How a guardian ended when the tool released it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// It had not acted: the tool ended the window within the bound.
    Quiet,
    /// It had reached the bound first and brought the guests back itself: the window was broken.
    Expired,
}

/// Starts a guardian for a window (the live one a process, tests a double).
pub trait Guard: Send + Sync {
    /// Start a guardian and wait until it watches; an error means no window may open.
    fn arm(&self, plan: &GuardPlan) -> Result<Box<dyn Armed>>;
}

/// A guardian watching one window. Dropping it without `release` closes the pipe: the guardian
/// then undoes at once (the right thing after a panic or an early return).
pub trait Armed: Send {
    /// Whether the guardian has already reached the bound (asks without waiting).
    fn expired(&mut self) -> bool;
    /// The tool has ended the window itself: the guardian exits; says whether it had acted first.
    fn release(self: Box<Self>) -> Released;
}

/// The default bound of a window per action: a freeze a few seconds, as Windows VSS bounds its
/// own freeze to 10 s (writes inside the guest block meanwhile); a pause a minute (the bound on
/// the pause task itself); a shutdown ten minutes (a clean shutdown alone may take the tool's
/// five-minute bound, then the clones).
pub fn default_max_pause(action: Action) -> Duration {
    match action {
        Action::Freeze => Duration::from_secs(10),
        Action::Pause | Action::Nothing => Duration::from_secs(60),
        Action::Shutdown => Duration::from_secs(600),
    }
}

/// `10s`, `2m`, `1m30s`: how the bound is named in messages (whole seconds, as it is given).
pub fn show_bound(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_named_as_given() {
        assert_eq!(show_bound(Duration::from_secs(10)), "10s");
        assert_eq!(show_bound(Duration::from_secs(600)), "10m");
        assert_eq!(show_bound(Duration::from_secs(90)), "1m30s");
        assert!(default_max_pause(Action::Freeze) < default_max_pause(Action::Pause));
        assert!(default_max_pause(Action::Pause) < default_max_pause(Action::Shutdown));
    }
}
