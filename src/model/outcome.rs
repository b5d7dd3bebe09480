//! The outcome records of the journal: one per run that changed something (CLI, hook, vzdump,
//! schedule), what identifies "the same thing done again", and what compaction keeps. Pure data;
//! `sys::journal` reads and writes the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Longest error text kept in a record (an error chain names every step; this keeps lines short).
pub const MAX_ERROR_CHARS: usize = 1000;

/// Who started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A command line (`storage create`, `vm prune`, ...).
    Cli,
    /// The guest hookscript.
    Hook,
    /// The vzdump hook.
    Vzdump,
    /// `run <schedule>` (a systemd timer).
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Hook => "hook",
            Trigger::Vzdump => "vzdump",
            Trigger::Schedule => "schedule",
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
}

/// One record. `source` is the hook phase (`post-stop`), the schedule name or the CLI command
/// (`storage create`); `action` is what was done (`storage-snapshot`, `vm-snapshot`, `prune`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339, UTC, whole seconds.
    pub time: String,
    pub node: String,
    pub trigger: Trigger,
    pub source: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub result: Outcome,
    /// The snapshot (storage) or disk set (guest) made or reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The snapshot was not made by this run but reused (hooks coalesce).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What identifies "the same thing done again": its newest record is its last outcome.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub trigger: Trigger,
    pub source: String,
    pub action: String,
    pub vmid: Option<u32>,
    pub storage: Option<String>,
}

impl Record {
    /// A record stamped now, on `node`.
    pub fn now(node: &str, trigger: Trigger, source: &str, action: &str) -> Record {
        Record {
            time: format_time(OffsetDateTime::now_utc()),
            node: node.to_string(),
            trigger,
            source: source.to_string(),
            action: action.to_string(),
            vmid: None,
            storage: None,
            label: None,
            result: Outcome::Ok,
            snapshot: None,
            reused: false,
            error: None,
        }
    }

    /// Mark the record failed with this error (cut to `MAX_ERROR_CHARS`).
    pub fn failed(mut self, error: &str) -> Record {
        self.result = Outcome::Failed;
        self.error = Some(error.chars().take(MAX_ERROR_CHARS).collect());
        self
    }

    pub fn key(&self) -> Key {
        Key {
            trigger: self.trigger,
            source: self.source.clone(),
            action: self.action.clone(),
            vmid: self.vmid,
            storage: self.storage.clone(),
        }
    }

    /// The record's time; None when the field cannot be read.
    pub fn at(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.time, &Rfc3339).ok()
    }
}

/// RFC 3339 in UTC without fractions.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The records of a journal text, skipping lines that are not records.
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The newest record of every key.
pub fn latest(records: &[Record]) -> BTreeMap<Key, &Record> {
    let mut out = BTreeMap::new();
    for r in records {
        out.insert(r.key(), r);
    }
    out
}

/// What compaction keeps, in the original order: the newest record of every key, and the newest
/// records (of any key) that fit into `budget` bytes.
pub fn compacted(records: &[Record], budget: u64) -> Vec<Record> {
    let mut keep = vec![false; records.len()];
    let mut newest: BTreeMap<Key, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        newest.insert(r.key(), i);
    }
    for &i in newest.values() {
        keep[i] = true;
    }
    let mut used: u64 = 0;
    for (i, r) in records.iter().enumerate().rev() {
        let len = serde_json::to_string(r).map_or(0, |s| s.len() as u64 + 1);
        if used + len > budget {
            break;
        }
        used += len;
        keep[i] = true;
    }
    records
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(source: &str, vmid: u32, n: usize) -> Record {
        let mut r = Record::now("pve1", Trigger::Hook, source, "storage-snapshot");
        r.vmid = Some(vmid);
        r.storage = Some("ONTAP01".into());
        r.snapshot = Some(format!("proxmox_snapshot_{n}"));
        r
    }

    #[test]
    fn torn_and_foreign_lines_are_skipped() {
        let text = format!(
            "{}\n{{\"time\":\"2026\nnot json\n{}\n",
            serde_json::to_string(&rec("pre-start", 1, 1)).unwrap(),
            serde_json::to_string(&rec("pre-start", 2, 2)).unwrap()
        );
        let all = parse(&text);
        assert_eq!(
            all.iter().map(|r| r.vmid).collect::<Vec<_>>(),
            vec![Some(1), Some(2)]
        );
    }

    #[test]
    fn long_errors_are_cut() {
        let r = rec("post-stop", 1, 1).failed(&"x".repeat(5000));
        assert_eq!(r.error.unwrap().len(), MAX_ERROR_CHARS);
    }

    #[test]
    fn compaction_keeps_every_keys_newest_and_the_newest_records() {
        let mut all = vec![rec("pre-start", 999, 0).failed("old")];
        all.extend((0..100).map(|n| rec("post-stop", 100, n)));
        let line = serde_json::to_string(&all[100]).unwrap().len() as u64 + 1;
        let kept = compacted(&all, line * 10);
        assert_eq!(kept.len(), 11);
        assert_eq!(kept[0].vmid, Some(999));
        assert_eq!(kept[10].snapshot.as_deref(), Some("proxmox_snapshot_99"));
    }
}
