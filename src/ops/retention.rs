//! Retention: which snapshots to keep and which to delete for `--keep-last N` / `--keep-within D`,
//! per label. Pure functions over (name, time, label); the callers decide what may be touched at all.

use std::time::Duration;

use time::OffsetDateTime;

/// A retention rule; both bounds may be given (a snapshot is kept if either keeps it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub keep_last: Option<usize>,
    pub keep_within: Option<Duration>,
}

/// One candidate for pruning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub created: OffsetDateTime,
    pub label: Option<String>,
}

/// Split `items` into (keep, delete), applying `rule` separately within each label group.
pub fn select(items: &[Item], rule: Retention, now: OffsetDateTime) -> (Vec<Item>, Vec<Item>) {
    let _ = (items, rule, now);
    todo!("ops::retention::select")
}

/// Parse `30d`, `12h`, `90m`, `2w`, `45s` (and combinations like `1d12h`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let _ = s;
    todo!("ops::retention::parse_duration")
}
