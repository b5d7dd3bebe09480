//! Schedules on a cluster: the period a run belongs to, and the schedule's snapshot or disk set
//! already made in that period by another node (then this node skips it).
//!
//! The config is cluster-wide, so the schedule's timer runs on every node. Periods are aligned to
//! the Unix epoch (UTC): with `period = 1h` (the timer template's `OnCalendar=hourly`) the nodes'
//! runs of 10:00 (plus the timer's random delay, and a late catch-up run of a node that was down)
//! all fall into [10:00, 11:00) and find the snapshot the first of them made. Times come from the
//! snapshot's `create_time` (ONTAP's clock) or the disk set's timestamp (the node's clock); both are
//! NTP-synchronised on a Proxmox cluster, and a run right at a boundary at worst makes one more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ops::storage::SnapshotRow;
use crate::ops::vm::SnapshotSet;

/// The period `now` falls into: `[start, start + period)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl Period {
    pub fn of(now: SystemTime, period: Duration) -> Period {
        let len = period.as_secs().max(1);
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let start = UNIX_EPOCH + Duration::from_secs(secs - secs % len);
        let start = OffsetDateTime::from(start);
        Period {
            start,
            end: start + Duration::from_secs(len),
        }
    }

    fn contains(&self, t: OffsetDateTime) -> bool {
        self.start <= t && t < self.end
    }

    /// `2026-12-01T10:00:00Z..2026-12-01T11:00:00Z`, for log lines.
    pub fn show(&self) -> String {
        let f = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        format!("{}..{}", f(self.start), f(self.end))
    }
}

/// The newest snapshot of this tool with `label` created within `period`, if any.
pub fn storage_snapshot_of<'a>(
    rows: &'a [SnapshotRow],
    label: &str,
    period: &Period,
) -> Option<&'a SnapshotRow> {
    rows.iter()
        .filter(|r| r.managed && r.label.as_deref() == Some(label))
        .filter_map(|r| {
            OffsetDateTime::parse(&r.create_time, &Rfc3339)
                .ok()
                .filter(|t| period.contains(*t))
                .map(|t| (t, r))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, r)| r)
}

/// The newest disk set with `label` taken within `period`, if any.
pub fn disk_set_of<'a>(
    sets: &'a [SnapshotSet],
    label: &str,
    period: &Period,
) -> Option<&'a SnapshotSet> {
    sets.iter()
        .filter(|s| s.label.as_deref() == Some(label))
        .filter_map(|s| {
            set_time(&s.timestamp)
                .filter(|t| period.contains(*t))
                .map(|t| (t, s))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, s)| s)
}

/// A disk set's timestamp `YYYY-mm-dd_HH:MM:SS+0000` as a time.
fn set_time(ts: &str) -> Option<OffsetDateTime> {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]_[hour]:[minute]:[second][offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(ts, &f).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::policy::DEFAULT_PERIOD;

    fn at(rfc: &str) -> SystemTime {
        OffsetDateTime::parse(rfc, &Rfc3339).unwrap().into()
    }

    fn row(name: &str, label: &str, created: &str, managed: bool) -> SnapshotRow {
        SnapshotRow {
            storage: "S".into(),
            volume: "v".into(),
            name: name.into(),
            uuid: name.into(),
            create_time: created.into(),
            size: None,
            label: Some(label.into()),
            expiry_time: None,
            lock_expiry: None,
            comment: None,
            managed,
            clones: vec![],
            notes: vec![],
        }
    }

    fn set(ts: &str, label: &str) -> SnapshotSet {
        SnapshotSet {
            vmid: 100,
            timestamp: ts.into(),
            label: Some(label.into()),
            disks: vec![],
            skipped: vec![],
            notes: vec![],
            partial: None,
        }
    }

    #[test]
    fn periods_are_aligned_to_the_epoch() {
        let p = Period::of(at("2026-12-01T10:37:12Z"), DEFAULT_PERIOD);
        assert_eq!(p.show(), "2026-12-01T10:00:00Z..2026-12-01T11:00:00Z");
        let d = Period::of(at("2026-12-01T10:37:12Z"), Duration::from_secs(86400));
        assert_eq!(d.show(), "2026-12-01T00:00:00Z..2026-12-02T00:00:00Z");
    }

    #[test]
    fn only_a_managed_snapshot_of_the_label_within_the_period_counts() {
        let p = Period::of(at("2026-12-01T10:37:12Z"), DEFAULT_PERIOD);
        let rows = vec![
            row("before", "hourly", "2026-12-01T09:59:59Z", true),
            row("other-label", "daily", "2026-12-01T10:01:00Z", true),
            row("foreign", "hourly", "2026-12-01T10:02:00Z", false),
            row("after", "hourly", "2026-12-01T11:00:00Z", true),
        ];
        assert!(storage_snapshot_of(&rows, "hourly", &p).is_none());
        let mut rows = rows;
        rows.push(row("mine", "hourly", "2026-12-01T10:00:00Z", true));
        rows.push(row("mine2", "hourly", "2026-12-01T10:05:00+00:00", true));
        assert_eq!(
            storage_snapshot_of(&rows, "hourly", &p).unwrap().name,
            "mine2"
        );
    }

    #[test]
    fn disk_sets_are_found_by_label_and_timestamp() {
        let p = Period::of(at("2026-12-01T10:37:12Z"), DEFAULT_PERIOD);
        let sets = vec![
            set("2026-12-01_09:59:59+0000", "hourly"),
            set("2026-12-01_10:10:00+0000", "daily"),
        ];
        assert!(disk_set_of(&sets, "hourly", &p).is_none());
        let sets = vec![set("2026-12-01_10:10:00+0000", "hourly")];
        assert_eq!(
            disk_set_of(&sets, "hourly", &p).unwrap().timestamp,
            "2026-12-01_10:10:00+0000"
        );
    }
}
