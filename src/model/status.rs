//! What `status` reports, computed from plain facts: per storage (ONTAP's volume and this tool's
//! snapshots) and per guest, the newest snapshot of each label and its age, the last outcome of
//! every hook phase and schedule (from the journal), capacity, and the list of problems.
//!
//! Pure: the caller gathers the facts (or, offline, only the journal) and passes the time.
//! A problem is one line that names the item, what is wrong and the numbers; `status` exits 1 when
//! there is any, so Nagios/Icinga/Checkmk-style checks can call it directly.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::capacity::{self, Capacity, Verdict};
use super::outcome::{self, Outcome, Record, Trigger};

/// ONTAP's limit of snapshots per volume.
pub const SNAPSHOT_LIMIT: u64 = 1023;

/// One of this tool's snapshots, as ONTAP reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFact {
    pub name: String,
    pub label: Option<String>,
    pub created: OffsetDateTime,
    /// `snaplock_expiry_time`, when the snapshot is locked.
    pub lock_expiry: Option<String>,
}

/// What ONTAP says about the volume of a storage (one volume read, one snapshots listing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeFacts {
    pub volume: String,
    /// Every snapshot of the volume, this tool's or not (ONTAP's limit counts them all).
    pub snapshot_count: u64,
    /// `space.snapshot.used`.
    pub snapshot_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub size_bytes: Option<u64>,
    /// `snapshot_locking_enabled` (ONTAP 9.12.1+); None when ONTAP does not report it.
    pub locking_enabled: Option<bool>,
    /// This tool's snapshots.
    pub snapshots: Vec<SnapFact>,
}

/// The facts of one storage, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    Read(VolumeFacts),
    /// Reading ONTAP (or resolving the storage) failed; the error text.
    Failed(String),
    /// `--offline`: only the journal was read.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageInput {
    pub storage: String,
    pub facts: Facts,
    pub capacity: Capacity,
}

/// What a max-age rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `--max-age`: every storage and guest of the report that has (had) the label; if none has,
    /// that is the problem.
    Any,
    /// A schedule's storage: it must have a fresh snapshot of the label.
    Storage(String),
    /// A schedule's guest: it must have a fresh disk set of the label.
    Guest(u32),
}

/// "The newest snapshot labelled `label` must be younger than `max_age`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxAge {
    pub scope: Scope,
    pub label: String,
    pub max_age: Duration,
    /// Where the rule comes from (`--max-age`, `[schedule:hourly] max-age`).
    pub origin: String,
}

/// Everything `evaluate` needs.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub now: OffsetDateTime,
    pub storages: Vec<StorageInput>,
    /// Guests with a policy (`[hook:<vmid>]`, `[vzdump:<vmid>]`, a schedule's `vms`).
    pub guests: Vec<u32>,
    pub journal: Vec<Record>,
    pub rules: Vec<MaxAge>,
    pub offline: bool,
}

/// The newest snapshot of one label on one storage or guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelStatus {
    /// `""` for snapshots without a label.
    pub label: String,
    pub newest: String,
    /// RFC 3339.
    pub created: String,
    pub created_unix: i64,
    pub age_seconds: u64,
    /// When the newest snapshot is locked (tamperproof) until; None when not locked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
    /// Snapshots with this label.
    pub count: usize,
    /// `ontap` or `journal` (offline, or disk sets of a guest).
    pub seen_in: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageStatus {
    pub storage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
    pub snapshot_limit: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locking_enabled: Option<bool>,
    /// `ok`, `warn` or `refuse` (what the capacity guard would do before a snapshot now);
    /// `unknown` when ONTAP was not read.
    pub capacity: &'static str,
    pub labels: Vec<LabelStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestStatus {
    pub vmid: u32,
    pub labels: Vec<LabelStatus>,
}

/// The last outcome of one thing the hooks, schedules or commands do (a journal key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStatus {
    pub trigger: Trigger,
    /// Phase, schedule name or command.
    pub source: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub node: String,
    pub time: String,
    pub time_unix: i64,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last run of the same key that succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_unix: Option<i64>,
}

impl RunStatus {
    /// `hook post-stop guest 100 storage ONTAP01`: what the run was, for problem lines.
    pub fn what(&self) -> String {
        let mut s = format!("{} {}", self.trigger.as_str(), self.source);
        if let Some(vmid) = self.vmid {
            s.push_str(&format!(" guest {vmid}"));
        }
        if let Some(storage) = &self.storage {
            s.push_str(&format!(" storage {storage}"));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub time: String,
    pub time_unix: i64,
    pub offline: bool,
    pub storages: Vec<StorageStatus>,
    pub guests: Vec<GuestStatus>,
    pub runs: Vec<RunStatus>,
    /// One line per stale or failing item; `status` exits 1 when not empty.
    pub problems: Vec<String>,
}

/// Parse `hourly=2h,daily=26h` (the `--max-age` value).
pub fn parse_max_age(value: &str, origin: &str) -> Result<Vec<MaxAge>, String> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (label, duration) = part.split_once('=').ok_or_else(|| {
            format!("{origin}: '{part}' is not LABEL=DURATION (e.g. hourly=2h,daily=26h)")
        })?;
        let label = label.trim();
        if label.is_empty() {
            return Err(format!("{origin}: '{part}' has no label before '='"));
        }
        let max_age = super::retention::parse_duration(duration.trim())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "{origin}: '{}' is not a duration for label '{label}' (use e.g. 90m, 2h, 1d12h)",
                    duration.trim()
                )
            })?;
        out.push(MaxAge {
            scope: Scope::Any,
            label: label.to_string(),
            max_age,
            origin: origin.to_string(),
        });
    }
    if out.is_empty() {
        return Err(format!(
            "{origin}: no LABEL=DURATION given (e.g. hourly=2h,daily=26h)"
        ));
    }
    Ok(out)
}

/// `3d4h`, `2h05m`, `12m`, `40s`: an age in its two largest units.
pub fn age_text(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

fn age_of(now: OffsetDateTime, at: OffsetDateTime) -> u64 {
    u64::try_from((now - at).whole_seconds()).unwrap_or(0)
}

fn label_of(l: &Option<String>) -> String {
    l.clone().unwrap_or_default()
}

fn shown(label: &str) -> String {
    if label.is_empty() {
        "(no label)".to_string()
    } else {
        format!("'{label}'")
    }
}

/// Newest snapshot per label from ONTAP's list.
fn labels_from_ontap(now: OffsetDateTime, snaps: &[SnapFact]) -> Vec<LabelStatus> {
    let mut by: BTreeMap<String, (usize, &SnapFact)> = BTreeMap::new();
    for s in snaps {
        let e = by.entry(label_of(&s.label)).or_insert((0, s));
        e.0 += 1;
        if (s.created, &s.name) > (e.1.created, &e.1.name) {
            e.1 = s;
        }
    }
    by.into_iter()
        .map(|(label, (count, s))| LabelStatus {
            label,
            newest: s.name.clone(),
            created: outcome::format_time(s.created),
            created_unix: s.created.unix_timestamp(),
            age_seconds: age_of(now, s.created),
            locked_until: s.lock_expiry.clone(),
            count,
            seen_in: "ontap",
            max_age_seconds: None,
            stale: false,
        })
        .collect()
}

/// Newest successful snapshot per label from journal records (offline storages, guests).
fn labels_from_journal<'a>(
    now: OffsetDateTime,
    records: impl Iterator<Item = &'a Record>,
) -> Vec<LabelStatus> {
    let mut by: BTreeMap<String, (usize, &Record, OffsetDateTime)> = BTreeMap::new();
    for r in records {
        let (Some(_), Some(at), Outcome::Ok) = (&r.snapshot, r.at(), r.result) else {
            continue;
        };
        let e = by.entry(label_of(&r.label)).or_insert((0, r, at));
        e.0 += 1;
        if at >= e.2 {
            e.1 = r;
            e.2 = at;
        }
    }
    by.into_iter()
        .map(|(label, (count, r, at))| LabelStatus {
            label,
            newest: r.snapshot.clone().unwrap_or_default(),
            created: outcome::format_time(at),
            created_unix: at.unix_timestamp(),
            age_seconds: age_of(now, at),
            locked_until: None,
            count,
            seen_in: "journal",
            max_age_seconds: None,
            stale: false,
        })
        .collect()
}

/// The report: statuses, then the problems in a stable order (storages, guests, runs).
pub fn evaluate(inputs: &Inputs) -> Report {
    let now = inputs.now;
    let mut problems = Vec::new();
    let mut storages: Vec<StorageStatus> = Vec::new();
    for s in &inputs.storages {
        let mut st = StorageStatus {
            storage: s.storage.clone(),
            volume: None,
            snapshot_count: None,
            snapshot_limit: SNAPSHOT_LIMIT,
            snapshot_bytes: None,
            used_bytes: None,
            size_bytes: None,
            locking_enabled: None,
            capacity: "unknown",
            labels: Vec::new(),
            error: None,
        };
        match &s.facts {
            Facts::Read(v) => {
                st.volume = Some(v.volume.clone());
                st.snapshot_count = Some(v.snapshot_count);
                st.snapshot_bytes = v.snapshot_bytes;
                st.used_bytes = v.used_bytes;
                st.size_bytes = v.size_bytes;
                st.locking_enabled = v.locking_enabled;
                st.labels = labels_from_ontap(now, &v.snapshots);
                let verdict = capacity::check(
                    &s.capacity,
                    &s.storage,
                    &v.volume,
                    Some(v.snapshot_count),
                    v.used_bytes,
                    v.size_bytes,
                );
                st.capacity = verdict.as_str();
                match verdict {
                    Verdict::Ok => {}
                    Verdict::Warn(m) | Verdict::Refuse(m) => problems.push(m),
                }
            }
            Facts::Failed(e) => {
                problems.push(format!(
                    "storage {}: could not read its ONTAP volume: {e}",
                    s.storage
                ));
                st.error = Some(e.clone());
            }
            Facts::Offline => {
                st.labels = labels_from_journal(
                    now,
                    inputs.journal.iter().filter(|r| {
                        r.storage.as_deref() == Some(s.storage.as_str())
                            && r.action == "storage-snapshot"
                    }),
                );
            }
        }
        storages.push(st);
    }

    let mut guests: Vec<GuestStatus> = inputs
        .guests
        .iter()
        .map(|&vmid| GuestStatus {
            vmid,
            labels: labels_from_journal(
                now,
                inputs
                    .journal
                    .iter()
                    .filter(|r| r.vmid == Some(vmid) && r.action == "vm-snapshot"),
            ),
        })
        .collect();

    apply_rules(inputs, &mut storages, &mut guests, &mut problems);

    let runs = runs(&inputs.journal);
    for r in runs.iter().filter(|r| r.result == Outcome::Failed) {
        if r.trigger == Trigger::Cli {
            continue; // the person who ran it saw the error
        }
        problems.push(format!(
            "{}: {} failed at {}: {}",
            r.what(),
            r.action,
            r.time,
            r.error.as_deref().unwrap_or("no error recorded")
        ));
    }

    Report {
        time: outcome::format_time(now),
        time_unix: now.unix_timestamp(),
        offline: inputs.offline,
        storages,
        guests,
        runs,
        problems,
    }
}

fn check_label(
    what: &str,
    labels: &mut [LabelStatus],
    rule: &MaxAge,
    problems: &mut Vec<String>,
    required: bool,
) -> bool {
    let max = rule.max_age.as_secs();
    match labels.iter_mut().find(|l| l.label == rule.label) {
        Some(l) => {
            l.max_age_seconds = Some(l.max_age_seconds.map_or(max, |m| m.min(max)));
            if l.age_seconds > max {
                l.stale = true;
                problems.push(format!(
                    "{what}: newest {} snapshot {} is {} old (max-age {} from {})",
                    shown(&rule.label),
                    l.newest,
                    age_text(l.age_seconds),
                    age_text(max),
                    rule.origin
                ));
            }
            true
        }
        None if required => {
            problems.push(format!(
                "{what}: no {} snapshot at all (max-age {} from {})",
                shown(&rule.label),
                age_text(max),
                rule.origin
            ));
            false
        }
        None => false,
    }
}

fn apply_rules(
    inputs: &Inputs,
    storages: &mut [StorageStatus],
    guests: &mut [GuestStatus],
    problems: &mut Vec<String>,
) {
    for rule in &inputs.rules {
        match &rule.scope {
            Scope::Storage(id) => {
                if let Some(st) = storages.iter_mut().find(|s| &s.storage == id) {
                    if st.error.is_none() {
                        let what = format!("storage {id}");
                        check_label(&what, &mut st.labels, rule, problems, true);
                    }
                }
            }
            Scope::Guest(vmid) => {
                if let Some(g) = guests.iter_mut().find(|g| g.vmid == *vmid) {
                    let what = format!("guest {vmid}");
                    check_label(&what, &mut g.labels, rule, problems, true);
                }
            }
            Scope::Any => {
                let mut found = false;
                for st in storages.iter_mut().filter(|s| s.error.is_none()) {
                    let what = format!("storage {}", st.storage);
                    found |= check_label(&what, &mut st.labels, rule, problems, false);
                }
                for g in guests.iter_mut() {
                    let what = format!("guest {}", g.vmid);
                    found |= check_label(&what, &mut g.labels, rule, problems, false);
                }
                let readable = storages.iter().any(|s| s.error.is_none()) || !guests.is_empty();
                if !found && readable {
                    problems.push(format!(
                        "no {} snapshot on any storage or guest shown (max-age {} from {})",
                        shown(&rule.label),
                        age_text(rule.max_age.as_secs()),
                        rule.origin
                    ));
                }
            }
        }
    }
}

/// The last outcome of every journal key, with its last success, in a stable order.
pub fn runs(records: &[Record]) -> Vec<RunStatus> {
    let mut last_ok: BTreeMap<outcome::Key, &Record> = BTreeMap::new();
    for r in records.iter().filter(|r| r.result == Outcome::Ok) {
        last_ok.insert(r.key(), r);
    }
    outcome::latest(records)
        .into_iter()
        .map(|(key, r)| {
            let ok = last_ok.get(&key);
            RunStatus {
                trigger: r.trigger,
                source: r.source.clone(),
                action: r.action.clone(),
                vmid: r.vmid,
                storage: r.storage.clone(),
                label: r.label.clone(),
                node: r.node.clone(),
                time: r.time.clone(),
                time_unix: r.at().map_or(0, OffsetDateTime::unix_timestamp),
                result: r.result,
                snapshot: r.snapshot.clone(),
                reused: r.reused,
                error: r.error.clone(),
                last_success: ok.map(|o| o.time.clone()),
                last_success_unix: ok.and_then(|o| o.at()).map(OffsetDateTime::unix_timestamp),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00:00 UTC);

    fn snap(name: &str, label: Option<&str>, hours_ago: i64) -> SnapFact {
        SnapFact {
            name: name.into(),
            label: label.map(str::to_string),
            created: NOW - time::Duration::hours(hours_ago),
            lock_expiry: None,
        }
    }

    fn facts(snaps: Vec<SnapFact>, count: u64) -> Facts {
        Facts::Read(VolumeFacts {
            volume: "vol1".into(),
            snapshot_count: count,
            snapshot_bytes: Some(4096),
            used_bytes: Some(10),
            size_bytes: Some(100),
            locking_enabled: Some(false),
            snapshots: snaps,
        })
    }

    fn storage(id: &str, facts: Facts) -> StorageInput {
        StorageInput {
            storage: id.into(),
            facts,
            capacity: Capacity::default(),
        }
    }

    fn record(trigger: Trigger, source: &str, action: &str, hours_ago: i64, ok: bool) -> Record {
        let mut r = Record::now("pve1", trigger, source, action);
        r.time = outcome::format_time(NOW - time::Duration::hours(hours_ago));
        r.node = "pve1".into();
        if !ok {
            r = r.failed("ONTAP POST failed with HTTP 500");
        }
        r
    }

    fn inputs(storages: Vec<StorageInput>, journal: Vec<Record>, rules: Vec<MaxAge>) -> Inputs {
        Inputs {
            now: NOW,
            storages,
            guests: vec![100],
            journal,
            rules,
            offline: false,
        }
    }

    #[test]
    fn newest_per_label_with_age_and_no_problem_when_fresh() {
        let report = evaluate(&inputs(
            vec![storage(
                "ONTAP01",
                facts(
                    vec![
                        snap("a", Some("hourly"), 3),
                        snap("b", Some("hourly"), 1),
                        snap("c", None, 30),
                    ],
                    3,
                ),
            )],
            vec![],
            parse_max_age("hourly=2h", "--max-age").unwrap(),
        ));
        let labels = &report.storages[0].labels;
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[0].label, "");
        assert_eq!(labels[1].newest, "b");
        assert_eq!(labels[1].age_seconds, 3600);
        assert_eq!(labels[1].count, 2);
        assert_eq!(labels[1].max_age_seconds, Some(7200));
        assert!(!labels[1].stale);
        assert_eq!(report.storages[0].capacity, "ok");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn stale_labels_and_missing_labels_are_problems() {
        let report = evaluate(&inputs(
            vec![storage(
                "ONTAP01",
                facts(vec![snap("a", Some("hourly"), 5)], 1),
            )],
            vec![],
            [
                parse_max_age("hourly=2h", "--max-age").unwrap(),
                vec![MaxAge {
                    scope: Scope::Storage("ONTAP01".into()),
                    label: "daily".into(),
                    max_age: Duration::from_secs(26 * 3600),
                    origin: "[schedule:daily] max-age".into(),
                }],
                parse_max_age("weekly=8d", "--max-age").unwrap(),
            ]
            .concat(),
        ));
        assert_eq!(
            report.problems,
            vec![
                "storage ONTAP01: newest 'hourly' snapshot a is 5h00m old (max-age 2h00m from --max-age)",
                "storage ONTAP01: no 'daily' snapshot at all (max-age 1d2h from [schedule:daily] max-age)",
                "no 'weekly' snapshot on any storage or guest shown (max-age 8d0h from --max-age)",
            ]
        );
        assert!(report.storages[0].labels[0].stale);
    }

    #[test]
    fn a_failed_hook_is_a_problem_until_it_succeeds_again() {
        let mut j = vec![
            record(Trigger::Hook, "post-stop", "storage-snapshot", 3, true),
            record(Trigger::Hook, "post-stop", "storage-snapshot", 2, false),
            record(Trigger::Cli, "storage create", "storage-snapshot", 1, false),
        ];
        let report = evaluate(&inputs(vec![], j.clone(), vec![]));
        assert_eq!(report.runs.len(), 2);
        let hook = report
            .runs
            .iter()
            .find(|r| r.trigger == Trigger::Hook)
            .unwrap();
        assert_eq!(hook.result, Outcome::Failed);
        assert_eq!(hook.last_success.as_deref(), Some("2026-12-01T09:00:00Z"));
        assert_eq!(
            report.problems,
            vec![
                "hook post-stop: storage-snapshot failed at 2026-12-01T10:00:00Z: ONTAP POST \
                 failed with HTTP 500"
            ]
        );
        j.push(record(
            Trigger::Hook,
            "post-stop",
            "storage-snapshot",
            0,
            true,
        ));
        assert!(evaluate(&inputs(vec![], j, vec![])).problems.is_empty());
    }

    #[test]
    fn unreadable_storages_and_capacity_are_problems() {
        let report = evaluate(&inputs(
            vec![
                storage("ONTAP01", Facts::Failed("HTTP 401".into())),
                storage("ONTAP02", facts(vec![], 1000)),
            ],
            vec![],
            vec![],
        ));
        assert_eq!(report.storages[0].capacity, "unknown");
        assert_eq!(report.storages[1].capacity, "refuse");
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        assert!(report.problems[0].contains("ONTAP01: could not read"));
        assert!(
            report.problems[1].contains("holds 1000 snapshots"),
            "{}",
            report.problems[1]
        );
    }

    #[test]
    fn offline_and_guest_labels_come_from_the_journal() {
        let mut made = record(Trigger::Schedule, "hourly", "storage-snapshot", 1, true);
        made.storage = Some("ONTAP01".into());
        made.label = Some("hourly".into());
        made.snapshot = Some("proxmox_snapshot_x".into());
        let mut set = record(Trigger::Hook, "pre-start", "vm-snapshot", 30, true);
        set.vmid = Some(100);
        set.label = Some("hook".into());
        set.snapshot = Some("2026-11-30_06:00:00+0000".into());
        let mut i = inputs(
            vec![storage("ONTAP01", Facts::Offline)],
            vec![made, set],
            parse_max_age("hook=1d", "--max-age").unwrap(),
        );
        i.offline = true;
        let report = evaluate(&i);
        assert_eq!(report.storages[0].labels[0].newest, "proxmox_snapshot_x");
        assert_eq!(report.storages[0].labels[0].seen_in, "journal");
        assert_eq!(report.guests[0].labels[0].age_seconds, 30 * 3600);
        assert_eq!(
            report.problems,
            vec![
                "guest 100: newest 'hook' snapshot 2026-11-30_06:00:00+0000 is 1d6h old \
                 (max-age 1d0h from --max-age)"
            ]
        );
    }

    #[test]
    fn max_age_values_are_checked() {
        assert_eq!(
            parse_max_age("hourly=2h, daily=1d2h", "--max-age")
                .unwrap()
                .iter()
                .map(|r| (r.label.as_str(), r.max_age.as_secs()))
                .collect::<Vec<_>>(),
            vec![("hourly", 7200), ("daily", 93600)]
        );
        for bad in ["", "hourly", "=2h", "hourly=2", "hourly=0s", "hourly=soon"] {
            let e = parse_max_age(bad, "--max-age").unwrap_err();
            assert!(e.starts_with("--max-age: "), "{e}");
        }
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(age_text(40), "40s");
        assert_eq!(age_text(12 * 60 + 5), "12m");
        assert_eq!(age_text(2 * 3600 + 5 * 60), "2h05m");
        assert_eq!(age_text(3 * 86_400 + 4 * 3600 + 59), "3d4h");
    }
}
