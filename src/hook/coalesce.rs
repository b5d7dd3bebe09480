//! Coalescing: a storage snapshot a hook asks for is skipped when one taken after the hook
//! started already exists, so twenty guests stopping together cost one or two ONTAP snapshots.
//!
//! The hook started at T0 (local clock). Holding the storage lock, it reuses a snapshot of the same
//! storage, made by this tool (name prefix) with the same label, when either
//! 1. the node's record says a holder of this lock *asked ONTAP for it* at or after T0 — the record
//!    (`<lock_dir>/<storage>.last`, written under the lock after every create) carries the local
//!    time taken just before the create request, so the comparison is on one clock, exact to the
//!    nanosecond, and the snapshot's point in time is certainly after T0; or
//! 2. ONTAP's `create_time` is at least T0 + `CLOCK_SKEW` (for snapshots made elsewhere: another node,
//!    the CLI). `create_time` has whole-second resolution and comes from ONTAP's clock; with both
//!    clocks NTP-synchronised the allowance keeps the check on the safe side: a snapshot is never
//!    reused unless it was certainly taken after T0, at the price of an extra snapshot sometimes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ops::storage::SnapshotRow;

/// Allowance for ONTAP's clock against the node's (and the second resolution of `create_time`).
pub const CLOCK_SKEW: Duration = Duration::from_secs(2);

/// What the last create under a storage's lock on this node asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Local time taken just before the create request was sent.
    pub requested: SystemTime,
    pub label: String,
    pub uuid: String,
    pub name: String,
}

/// `<lock_dir>/<storage>.last`.
pub fn record_path(lock_dir: &Path, storage: &str) -> PathBuf {
    lock_dir.join(format!("{storage}.last"))
}

impl Record {
    /// Read the record; None when absent or unreadable (then only rule 2 applies).
    pub fn read(path: &Path) -> Option<Record> {
        let text = fs::read_to_string(path).ok()?;
        let mut requested = None;
        let (mut label, mut uuid, mut name) = (None, None, None);
        for field in text.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "requested_ns" => {
                    let ns: u64 = v.parse().ok()?;
                    requested = Some(UNIX_EPOCH + Duration::from_nanos(ns));
                }
                "label" => label = Some(v.to_string()),
                "uuid" => uuid = Some(v.to_string()),
                "name" => name = Some(v.to_string()),
                _ => {}
            }
        }
        Some(Record {
            requested: requested?,
            label: label?,
            uuid: uuid?,
            name: name?,
        })
    }

    /// Write the record (call only while holding the storage's node lock).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let ns = self
            .requested
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let tmp = path.with_extension("last.tmp");
        fs::write(
            &tmp,
            format!(
                "requested_ns={ns} label={} uuid={} name={}\n",
                self.label, self.uuid, self.name
            ),
        )?;
        fs::rename(&tmp, path)
    }
}

/// Why a snapshot may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Rule 1: this node's record.
    Recorded,
    /// Rule 2: ONTAP's create_time.
    CreateTime,
}

/// The snapshot to reuse instead of creating one, if any (see the module comment for the rules).
pub fn reusable<'a>(
    rows: &'a [SnapshotRow],
    record: Option<&Record>,
    label: &str,
    t0: SystemTime,
) -> Option<(&'a SnapshotRow, Basis)> {
    let ours = |r: &&SnapshotRow| r.managed && r.label.as_deref() == Some(label);
    if let Some(rec) = record.filter(|rec| rec.label == label && rec.requested >= t0) {
        if let Some(row) = rows.iter().filter(ours).find(|r| r.uuid == rec.uuid) {
            return Some((row, Basis::Recorded));
        }
    }
    let bound = OffsetDateTime::from(t0) + CLOCK_SKEW;
    rows.iter()
        .filter(ours)
        .filter_map(|r| {
            OffsetDateTime::parse(&r.create_time, &Rfc3339)
                .ok()
                .filter(|c| *c >= bound)
                .map(|c| (c, r))
        })
        .max_by_key(|(c, _)| *c)
        .map(|(_, r)| (r, Basis::CreateTime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, uuid: &str, create_time: &str, label: Option<&str>) -> SnapshotRow {
        SnapshotRow {
            storage: "ONTAP01".into(),
            volume: "ONTAP01".into(),
            name: name.into(),
            uuid: uuid.into(),
            create_time: create_time.into(),
            size: None,
            label: label.map(str::to_string),
            expiry_time: None,
            lock_expiry: None,
            comment: None,
            managed: name.starts_with("proxmox_snapshot_"),
            clones: vec![],
            notes: vec![],
        }
    }

    fn at(s: &str) -> SystemTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap().into()
    }

    #[test]
    fn the_record_decides_on_the_local_clock() {
        let t0 = at("2026-11-01T10:00:05.500Z");
        // ONTAP stamps the snapshot one second *before* T0 (clock skew, whole seconds) ...
        let rows = vec![row(
            "proxmox_snapshot_a",
            "u1",
            "2026-11-01T10:00:04Z",
            Some("hook"),
        )];
        let rec = Record {
            requested: at("2026-11-01T10:00:05.600Z"),
            label: "hook".into(),
            uuid: "u1".into(),
            name: "proxmox_snapshot_a".into(),
        };
        // ... but the request went out after T0 on this node's clock: reuse.
        let (r, basis) = reusable(&rows, Some(&rec), "hook", t0).unwrap();
        assert_eq!((r.uuid.as_str(), basis), ("u1", Basis::Recorded));

        // Requested before T0: not reusable, whatever ONTAP says.
        let early = Record {
            requested: at("2026-11-01T10:00:05.400Z"),
            ..rec.clone()
        };
        assert_eq!(reusable(&rows, Some(&early), "hook", t0), None);
        // Another label, or the snapshot is gone: not reusable.
        assert_eq!(reusable(&rows, Some(&rec), "other", t0), None);
        let gone = vec![row(
            "proxmox_snapshot_b",
            "u2",
            "2026-11-01T10:00:04Z",
            Some("hook"),
        )];
        assert_eq!(reusable(&gone, Some(&rec), "hook", t0), None);
    }

    #[test]
    fn create_time_needs_the_skew_allowance() {
        let t0 = at("2026-11-01T10:00:05.500Z");
        let rows = vec![
            row(
                "proxmox_snapshot_a",
                "u1",
                "2026-11-01T10:00:06Z",
                Some("hook"),
            ),
            row(
                "proxmox_snapshot_b",
                "u2",
                "2026-11-01T12:00:08+02:00",
                Some("hook"),
            ),
            row(
                "proxmox_snapshot_c",
                "u3",
                "2026-11-01T10:00:30Z",
                Some("daily"),
            ),
            row("hourly.2026-11-01_1000", "u4", "2026-11-01T10:00:40Z", None),
            row("proxmox_snapshot_d", "u5", "not a time", Some("hook")),
        ];
        // a: only 0.5 s after T0 — within the allowance, not trusted. b: 2.5 s after (offset
        // honoured). c: other label. hourly: not ours.
        let (r, basis) = reusable(&rows, None, "hook", t0).unwrap();
        assert_eq!((r.uuid.as_str(), basis), ("u2", Basis::CreateTime));
        assert_eq!(reusable(&rows[..1], None, "hook", t0), None);
        assert_eq!(reusable(&rows, None, "weekly", t0), None);
    }

    #[test]
    fn records_round_trip() {
        let dir = std::env::temp_dir().join(format!("pos-coalesce-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = record_path(&dir, "ONTAP01");
        assert_eq!(Record::read(&path), None);
        let rec = Record {
            requested: UNIX_EPOCH + Duration::from_nanos(1_790_000_000_123_456_789),
            label: "hook".into(),
            uuid: "8f1c-..".into(),
            name: "proxmox_snapshot_2026-09-22_00:53:20+0000".into(),
        };
        rec.write(&path).unwrap();
        assert_eq!(Record::read(&path), Some(rec));
        fs::write(&path, "garbage").unwrap();
        assert_eq!(Record::read(&path), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
