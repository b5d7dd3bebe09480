//! The outcome journal file: one JSON line per run that changed something, kept in a small local
//! file below the state directory that `status` reads. Writing it never blocks or fails the run.
//!
//! Why this shape: hooks fail open, so without a record a hook that fails every night leaves only
//! syslog lines behind. Each record is one `write(2)` of one line to a file opened with `O_APPEND`,
//! so concurrent hooks never interleave or lose records and no lock is needed to append; a reader
//! skips a line torn by a crash. The file is bounded: once it exceeds `MAX_BYTES`, the writer that
//! notices takes a non-blocking `flock` on `journal.lock` (a busy lock means another writer is at
//! it: skip) and replaces the file (temp file + rename) by the newest record of every key plus the
//! newest records up to half the bound, so the last outcome of a phase that ran a year ago survives.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::model::outcome::{compacted, parse, Record};

/// The journal file below the state directory.
pub const FILE: &str = "journal.jsonl";
/// The lock file taken (never waited for) while the journal is compacted.
pub const LOCK_FILE: &str = "journal.lock";
/// Above this size the journal is compacted.
pub const MAX_BYTES: u64 = 256 * 1024;

/// This node's name as Proxmox uses it: the short host name.
pub fn node_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| h.trim().split('.').next().map(str::to_string))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The journal of one state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    pub fn new(state_dir: &Path) -> Journal {
        Journal {
            dir: state_dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Append `record`; a failure is logged as a warning and otherwise ignored (the run that
    /// writes it has done its work and must not fail because of the journal).
    pub fn append(&self, record: &Record) {
        if let Err(e) = self.try_append(record) {
            log::warn!(
                "could not write the outcome journal '{}' (status will not show this run): {e}",
                self.path().display()
            );
        }
    }

    /// Append `record`, then compact if the file grew beyond `MAX_BYTES`.
    pub fn try_append(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&self.dir)?;
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(self.path())?;
        file.write_all(line.as_bytes())?;
        let size = file.metadata()?.len();
        drop(file);
        if size > MAX_BYTES {
            self.compact()?;
        }
        Ok(())
    }

    /// Every readable record, oldest first; a missing journal is empty, unreadable lines are skipped.
    pub fn read(&self) -> io::Result<Vec<Record>> {
        match fs::read_to_string(self.path()) {
            Ok(text) => Ok(parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Shrink the journal if no other writer is doing so. Records appended between our read and
    /// the rename are detected by the size and the read is redone (bounded).
    fn compact(&self) -> io::Result<()> {
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o640)
            .open(self.dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(()),
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let path = self.path();
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        for _ in 0..3 {
            let mut text = String::new();
            File::open(&path)?.read_to_string(&mut text)?;
            if text.len() as u64 <= MAX_BYTES {
                return Ok(());
            }
            let kept = compacted(&parse(&text), MAX_BYTES / 2);
            let mut out = String::new();
            for r in &kept {
                out.push_str(&serde_json::to_string(r).map_err(io::Error::other)?);
                out.push('\n');
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o640)
                .open(&tmp)?;
            f.write_all(out.as_bytes())?;
            f.sync_all()?;
            drop(f);
            if fs::metadata(&path)?.len() == text.len() as u64 {
                fs::rename(&tmp, &path)?;
                return Ok(());
            }
        }
        let _ = fs::remove_file(&tmp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{latest, Outcome, Trigger};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Tmp(PathBuf);
    impl Tmp {
        fn new() -> Tmp {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "pve-ontap-snapshot-journal-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            Tmp(dir)
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
            let _ = fs::remove_file(&self.0);
        }
    }

    fn rec(source: &str, vmid: u32, n: usize) -> Record {
        let mut r = Record::now("pve1", Trigger::Hook, source, "storage-snapshot");
        r.vmid = Some(vmid);
        r.storage = Some("ONTAP01".into());
        r.snapshot = Some(format!("proxmox_snapshot_{n}"));
        r
    }

    #[test]
    fn appends_and_reads_back_in_order_creating_the_directory() {
        let tmp = Tmp::new();
        let j = Journal::new(&tmp.0.join("state"));
        assert!(j.read().unwrap().is_empty());
        j.try_append(&rec("post-stop", 100, 1)).unwrap();
        j.try_append(&rec("post-stop", 100, 2).failed("ONTAP said no"))
            .unwrap();
        let all = j.read().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].result, Outcome::Failed);
        assert_eq!(all[1].error.as_deref(), Some("ONTAP said no"));
        let latest = latest(&all);
        assert_eq!(latest.len(), 1);
        assert_eq!(
            latest.values().next().unwrap().snapshot.as_deref(),
            Some("proxmox_snapshot_2")
        );
        let mode = fs::metadata(j.path()).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o640);
    }

    #[test]
    fn the_journal_stays_bounded_and_keeps_every_keys_last_outcome() {
        let tmp = Tmp::new();
        let j = Journal::new(&tmp.0);
        // An old outcome of a phase that never runs again, then many of another.
        j.try_append(&rec("pre-start", 999, 0).failed("old failure"))
            .unwrap();
        for n in 0..3000 {
            j.try_append(&rec("post-stop", 100 + (n % 7) as u32, n))
                .unwrap();
        }
        let size = fs::metadata(j.path()).unwrap().len();
        assert!(size <= MAX_BYTES + 4096, "{size}");
        let all = j.read().unwrap();
        let latest = latest(&all);
        let old = latest
            .values()
            .find(|r| r.vmid == Some(999))
            .expect("the old outcome survives compaction");
        assert_eq!(old.error.as_deref(), Some("old failure"));
        assert_eq!(
            all.last().unwrap().snapshot.as_deref(),
            Some("proxmox_snapshot_2999")
        );
        assert!(!tmp.0.join(format!("{FILE}.tmp")).exists());
    }

    #[test]
    fn concurrent_writers_lose_no_record_below_the_bound() {
        let tmp = Tmp::new();
        let j = Journal::new(&tmp.0);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let j = j.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        j.try_append(&rec("post-stop", t, n)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(j.read().unwrap().len(), 400);
    }

    #[test]
    fn a_failing_journal_only_warns() {
        let tmp = Tmp::new();
        fs::write(&tmp.0, "a file where the directory should be").unwrap();
        let j = Journal::new(&tmp.0);
        assert!(j.try_append(&rec("post-stop", 1, 1)).is_err());
        j.append(&rec("post-stop", 1, 1)); // must not panic or fail
    }
}
