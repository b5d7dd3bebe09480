//! Simulator state as comparable facts: the `/_sim/state` dump flattened into `path = value` lines
//! with times and UUIDs blanked, plus the guest run states and the lock directories of a run.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// Parts of the dump that change on every run whatever the workflow does (finished jobs and
/// tasks are bookkeeping, not state a user sees).
const IGNORED: &[&str] = &["ontap.jobs", "pve.tasks", "ontap.recovery_queue"];

/// Fields that identify an element of an array of objects, in order of preference.
const KEYS: &[&str] = &["vmid", "storage", "path", "name", "userid", "uuid"];

/// Replace date-times of these days (`2026-03-01T12:00:00Z`, `2026-03-01_12:00:00+0000`,
/// `20260301_120000`: what a run stamps into names and fields) and UUIDs with placeholders, so two
/// runs of one workflow compare equal. Older date-times (those of the scenario) stay: they tell
/// the scenario's snapshots and files apart.
pub fn normalize(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(n) = datetime_len(&b[i..]).filter(|_| is_recent(&b[i..])) {
            out.push_str("<TS>");
            i += n;
        } else if let Some(n) = uuid_len(&b[i..]) {
            out.push_str("<UUID>");
            i += n;
        } else if let Some(n) = new_mac_len(&b[i..]) {
            out.push_str("<MAC>");
            i += n;
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A MAC address `vm clone` makes (Proxmox's prefix `BC:24:11`, three random bytes) whose
/// random part differs between runs; the scenario's own MACs end in `00:01:0x` and stay.
fn new_mac_len(b: &[u8]) -> Option<usize> {
    let mac = b.get(..17)?;
    let shape = mac.iter().enumerate().all(|(i, c)| {
        if i % 3 == 2 {
            *c == b':'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    (shape && mac.starts_with(b"BC:24:11:") && !mac[9..].starts_with(b"00:0")).then_some(17)
}

/// Whether the date at the start of `b` (`YYYY-MM-DD` or `YYYYMMDD`) is within two days of today.
fn is_recent(b: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&b[..b.len().min(10)]).replace('-', "");
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(4..6), num(6..8)) else {
        return false;
    };
    let Ok(month) = time::Month::try_from(u8::try_from(m).unwrap_or(0)) else {
        return false;
    };
    let Ok(date) = time::Date::from_calendar_date(y, month, u8::try_from(d).unwrap_or(0)) else {
        return false;
    };
    (date - time::OffsetDateTime::now_utc().date())
        .whole_days()
        .abs()
        <= 2
}

fn digits(b: &[u8], n: usize) -> bool {
    b.len() >= n && b[..n].iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DD[T_ ]HH:MM:SS[.fff][Z|+HHMM|+HH:MM]` or the compact `YYYYMMDD_HHMMSS` at the
/// start of `b`.
fn datetime_len(b: &[u8]) -> Option<usize> {
    if digits(b, 8) && b.get(8) == Some(&b'_') && digits(&b[9..], 6) && !digits(&b[9..], 7) {
        return Some(15);
    }
    let shape = digits(b, 4)
        && b.get(4) == Some(&b'-')
        && digits(&b[5..], 2)
        && b.get(7) == Some(&b'-')
        && digits(b.get(8..)?, 2)
        && matches!(b.get(10), Some(b'T' | b'_' | b' '))
        && digits(b.get(11..)?, 2)
        && b.get(13) == Some(&b':')
        && digits(b.get(14..)?, 2)
        && b.get(16) == Some(&b':')
        && digits(b.get(17..)?, 2);
    if !shape {
        return None;
    }
    let mut n = 19;
    if b.get(n) == Some(&b'.') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    match b.get(n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') if digits(b.get(n + 1..)?, 2) => {
            if b.get(n + 3) == Some(&b':') && digits(b.get(n + 4..).unwrap_or(&[]), 2) {
                n += 6;
            } else if digits(b.get(n + 3..).unwrap_or(&[]), 2) {
                n += 5;
            }
        }
        _ => {}
    }
    Some(n)
}

/// A lower- or upper-case 8-4-4-4-12 hex UUID at the start of `b`.
fn uuid_len(b: &[u8]) -> Option<usize> {
    if b.len() < 36 {
        return None;
    }
    for (i, c) in b[..36].iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        };
        if !ok {
            return None;
        }
    }
    Some(36)
}

/// The dump as a set of normalized `path = value` lines. Arrays of objects are keyed by their
/// identifying field (`guests[100]`, `files[images/100/...]`) and get a `len` line, so that
/// elements that normalize to the same key are still counted.
pub fn facts(dump: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(dump, "", &mut out);
    out
}

fn walk(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if IGNORED.contains(&prefix) {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(v, &p, out);
            }
        }
        Value::Array(items) => {
            out.insert(format!("{prefix}.len = {}", items.len()));
            for (i, item) in items.iter().enumerate() {
                let key = KEYS
                    .iter()
                    .find_map(|k| item.get(k))
                    .map(|k| match k {
                        Value::String(s) => normalize(s),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| i.to_string());
                walk(item, &format!("{prefix}[{key}]"), out);
            }
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            };
            out.insert(format!("{prefix} = {}", normalize(&text)));
        }
    }
}

/// What a run changed: lines that appeared and lines that went away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub added: BTreeSet<String>,
    pub removed: BTreeSet<String>,
}

impl Change {
    pub fn between(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Change {
        Change {
            added: after.difference(before).cloned().collect(),
            removed: before.difference(after).cloned().collect(),
        }
    }

    /// Lines of `self` that `allowed` does not have (what a run did beyond the intended change).
    pub fn beyond(&self, allowed: &Change) -> Change {
        Change {
            added: self.added.difference(&allowed.added).cloned().collect(),
            removed: self.removed.difference(&allowed.removed).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// At most `n` lines of each side, for a failure message.
    pub fn describe(&self, n: usize) -> String {
        let mut s = String::new();
        for (sign, set) in [("+", &self.added), ("-", &self.removed)] {
            for line in set.iter().take(n) {
                s.push_str(&format!("\n      {sign} {line}"));
            }
            if set.len() > n {
                s.push_str(&format!("\n      {sign} ... {} more", set.len() - n));
            }
        }
        s
    }
}

/// What a guest looks like from the outside: run state, QMP state, agent freeze, config lock.
pub fn guest_states(dump: &Value) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for g in dump["pve"]["guests"].as_array().into_iter().flatten() {
        let vmid = g["vmid"].as_u64().unwrap_or(0);
        let state = format!(
            "status={} qmpstatus={} frozen={} lock={}",
            g["status"], g["qmpstatus"], g["agent"]["frozen"], g["lock"]
        );
        out.push((vmid, state));
    }
    out
}

/// Names of objects a run creates that must not outlive a failed run: ONTAP file paths, volume
/// names, Proxmox storage ids and guest ids (each `kind:name`).
pub fn artefacts(dump: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for v in dump["ontap"]["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        out.insert(format!("volume:{name}"));
        for f in v["files"].as_array().into_iter().flatten() {
            out.insert(format!(
                "file:{name}/{}",
                f["path"].as_str().unwrap_or_default()
            ));
        }
    }
    for g in dump["pve"]["guests"].as_array().into_iter().flatten() {
        out.insert(format!("guest:{}", g["vmid"]));
    }
    for s in dump["pve"]["storages"].as_array().into_iter().flatten() {
        out.insert(format!(
            "storage:{}",
            s["storage"].as_str().unwrap_or_default()
        ));
    }
    out
}

/// Every lock file and directory: the entries of the node lock dir (without the coalescing records
/// `<storage>.last`, which hooks keep on purpose) and of the cluster lock dir, named by place.
pub fn lock_entries(lock_dir: &Path, cluster_lock_dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (place, dir) in [("node", lock_dir), ("cluster", cluster_lock_dir)] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if place == "node" && name.ends_with(".last") {
                    continue;
                }
                let kind = if entry.path().is_dir() { "dir" } else { "file" };
                out.insert(format!("{place} {kind} {name}"));
            }
        }
    }
    out
}

/// Lock files under `lock_dir` that someone still holds, and entries left in the cluster lock dir.
pub fn held_locks(lock_dir: &Path, cluster_lock_dir: &Path) -> Vec<String> {
    let mut held = Vec::new();
    if let Ok(entries) = std::fs::read_dir(lock_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            match std::fs::File::open(&path) {
                Ok(file) => match file.try_lock() {
                    Ok(()) => {
                        let _ = file.unlock();
                    }
                    Err(e) => held.push(format!("{} is locked ({e})", path.display())),
                },
                Err(e) => held.push(format!("{} cannot be opened ({e})", path.display())),
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(cluster_lock_dir) {
        for entry in entries.flatten() {
            held.push(format!(
                "cluster lock {} left behind",
                entry.path().display()
            ));
        }
    }
    held
}

/// Today's date as `YYYY-MM-DD`.
#[cfg(test)]
fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[test]
fn normalize_blanks_recent_times_and_uuids_only() {
    let t = today();
    assert_eq!(
        normalize(&format!("proxmox_snapshot_{t}_12:00:00+0000")),
        "proxmox_snapshot_<TS>"
    );
    assert_eq!(
        normalize(&format!("vm-100-disk-0-snapshot-{t}_12:00:00+0000.qcow2")),
        "vm-100-disk-0-snapshot-<TS>.qcow2"
    );
    assert_eq!(
        normalize(&format!("t={t}T12:00:00.123Z u={t}T12:00:00+01:00")),
        "t=<TS> u=<TS>"
    );
    assert_eq!(
        normalize(&format!("ONTAP01_clone_{}_124635", t.replace('-', ""))),
        "ONTAP01_clone_<TS>"
    );
    assert_eq!(
        normalize("proxmox_snapshot_2024-03-13_14:42:47+0000"),
        "proxmox_snapshot_2024-03-13_14:42:47+0000"
    );
    assert_eq!(
        normalize("/api/storage/volumes/0f3a2b1c-aaaa-4bbb-8ccc-0123456789ab/files"),
        "/api/storage/volumes/<UUID>/files"
    );
    assert_eq!(
        normalize("hourly.2026-11-01_0105"),
        "hourly.2026-11-01_0105"
    );
    assert_eq!(
        normalize("vm-100-disk-0.qcow2 ünï"),
        "vm-100-disk-0.qcow2 ünï"
    );
}

#[test]
fn facts_key_arrays_and_count_them() {
    let before = serde_json::json!({"ontap": {"volumes": [
        {"name": "v", "files": [{"path": "a", "size": 1}]}
    ], "jobs": [{"uuid": "x"}]}});
    let after = serde_json::json!({"ontap": {"volumes": [
        {"name": "v", "files": [{"path": "a", "size": 1}, {"path": format!("a-snapshot-{}_12:00:00+0000", today()), "size": 1}]}
    ], "jobs": []}});
    let change = Change::between(&facts(&before), &facts(&after));
    assert_eq!(
        change.added,
        BTreeSet::from([
            "ontap.volumes[v].files.len = 2".to_string(),
            "ontap.volumes[v].files[a-snapshot-<TS>].path = \"a-snapshot-<TS>\"".to_string(),
            "ontap.volumes[v].files[a-snapshot-<TS>].size = 1".to_string(),
        ])
    );
    assert_eq!(
        change.removed,
        BTreeSet::from(["ontap.volumes[v].files.len = 1".to_string()])
    );
    assert!(Change::between(&facts(&before), &facts(&before)).is_empty());
    assert!(change.beyond(&change).is_empty());
}
