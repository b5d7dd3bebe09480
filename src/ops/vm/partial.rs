//! The record of a disk snapshot run in progress, so that a set left incomplete by a run that died
//! (SIGKILL, OOM, power loss) is reported as incomplete instead of as a valid snapshot.
//!
//! `vm create` writes `<state dir>/partial/<vmid>-<timestamp>.json` (its pid and start time, the
//! files it will make) before the window opens and removes it when the run ended: with every clone
//! made, or with every clone it made deleted again. A record whose process is gone names an
//! orphaned set; `vm list` shows that set as incomplete, `vm restore` refuses it, `vm delete` and
//! `vm prune` remove it with its record. Node-local (no request, nothing in the window): the next
//! `vm` command for the guest on the node that ran the dead run sees it.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sys::process;

/// The records' directory below the state directory.
pub(crate) const DIR: &str = "partial";

/// One run's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub vmid: u32,
    pub timestamp: String,
    pub pid: u32,
    /// Start time of the process (clock ticks since boot): a reused pid is not the run.
    pub start_time: u64,
    /// Volume ids of the clones the run makes.
    pub files: Vec<String>,
}

fn path(dir: &Path, vmid: u32, timestamp: &str) -> PathBuf {
    dir.join(format!("{vmid}-{timestamp}.json"))
}

/// Write the record of this process's run (before its window opens).
pub(crate) fn begin(dir: &Path, vmid: u32, timestamp: &str, files: Vec<String>) -> Result<()> {
    let pid = std::process::id();
    let record = Record {
        vmid,
        timestamp: timestamp.to_string(),
        pid,
        start_time: process::process_start_time(pid).unwrap_or(0),
        files,
    };
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let file = path(dir, vmid, timestamp);
    let text = serde_json::to_string(&record)
        .map_err(|e| Error::Internal(format!("cannot encode the run record: {e}")))?;
    // Written whole under another name, then renamed: a reader never sees half a record.
    let tmp = dir.join(format!(".{vmid}-{timestamp}.{pid}.tmp"));
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, &file))
        .map_err(|e| Error::io("write the run record", &file, e))
}

/// Remove the record of a set (the run ended, or the set was deleted).
pub(crate) fn end(dir: &Path, vmid: u32, timestamp: &str) {
    let file = path(dir, vmid, timestamp);
    match fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => log::warn!("could not remove the run record '{}': {e}", file.display()),
    }
}

/// A record without any file of its set is dropped only this long after it was written: a clone
/// request the dead run had sent may still land (ONTAP finishes a job whose client went away).
const FILELESS_KEPT: Duration = Duration::from_secs(600);

/// Drop the record of a dead run that made no file at all, once no late clone can land any more.
pub(crate) fn end_fileless(dir: &Path, vmid: u32, timestamp: &str) {
    let file = path(dir, vmid, timestamp);
    let old = fs::metadata(&file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= FILELESS_KEPT);
    if old {
        end(dir, vmid, timestamp);
    }
}

/// Records of this guest whose run is gone (orphaned sets), oldest first.
pub(crate) fn orphaned(dir: &Path, vmid: u32) -> Vec<Record> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{vmid}-");
    let mut out: Vec<Record> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".json")
        })
        .filter_map(|e| {
            let text = fs::read_to_string(e.path()).ok()?;
            match serde_json::from_str::<Record>(&text) {
                Ok(r) if r.vmid == vmid => Some(r),
                _ => {
                    log::warn!("ignoring unreadable run record '{}'", e.path().display());
                    None
                }
            }
        })
        .filter(|r| !process::process_alive(r.pid, r.start_time))
        .collect();
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    out
}

/// What `vm list` says about an orphaned set with `found` of the record's files.
pub(crate) fn describe(r: &Record, found: usize) -> String {
    format!(
        "incomplete: the run that made it (pid {}) ended before it finished, {found} of {} \
         clones exist and the guest may have been resumed or thawed before they ended; not a \
         valid snapshot, remove it with 'vm delete --vm {} --snapshot {}'",
        r.pid,
        r.files.len(),
        r.vmid,
        r.timestamp
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_orphaned_only_when_its_process_is_gone() {
        let dir = std::env::temp_dir().join(format!("pos-partial-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ts = "2026-05-01_10:20:30+0000";
        begin(
            &dir,
            100,
            ts,
            vec!["ONTAP01:100/a".into(), "ONTAP01:100/b".into()],
        )
        .unwrap();
        // This process runs: not orphaned.
        assert!(orphaned(&dir, 100).is_empty());
        // The same record from a process that is gone.
        let mut r: Record =
            serde_json::from_str(&fs::read_to_string(path(&dir, 100, ts)).unwrap()).unwrap();
        r.start_time += 1;
        fs::write(path(&dir, 100, ts), serde_json::to_string(&r).unwrap()).unwrap();
        let found = orphaned(&dir, 100);
        assert_eq!(found, vec![r.clone()]);
        assert!(orphaned(&dir, 10).is_empty());
        let text = describe(&found[0], 1);
        assert!(text.starts_with("incomplete:"), "{text}");
        assert!(text.contains("1 of 2 clones"), "{text}");
        assert!(
            text.contains(&format!("vm delete --vm 100 --snapshot {ts}")),
            "{text}"
        );
        end(&dir, 100, ts);
        assert!(orphaned(&dir, 100).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
