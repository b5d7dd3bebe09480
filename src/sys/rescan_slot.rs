//! One detached rescan waiter per guest: the slot files that let a second request join a waiting
//! process, and how that process is started (own session; its own systemd unit where systemd runs).
//!
//! Slot of guest N in the node-local lock directory:
//! - `rescan-N.lock`: flocked by the waiter for its whole life, holding its pid. A request that
//!   finds it locked joins that waiter; otherwise it starts one.
//! - `rescan-N.requests`: one byte appended per request. The waiter notes the size before each
//!   `qm rescan` and rescans once more when it grew meanwhile, so no joined request is lost.
//!
//! A request (record, then look for a waiter) and the waiter's decision to end (no new request
//! since its last rescan, then remove both files) each run under an flock of the lock directory
//! itself, so a request either is seen by the waiter or finds no waiter and starts one. A waiter
//! that finds the slot taken ends at once; so at most one waiter per guest runs, every request is
//! followed by a rescan, and nothing stays behind.
//!
//! Starting it: where systemd runs (`/run/systemd/system` exists), `systemd-run` makes the waiter
//! a transient service of its own: another cgroup than the calling `pvedaemon`/`pvescheduler`, so a
//! restart of that service does not kill it, with `RuntimeMaxSec` as a second bound on its life.
//! Elsewhere it is started through `setsid` (util-linux), in a session of its own without a
//! terminal.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// The slot files of guest `vmid` below `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub lock: PathBuf,
    pub requests: PathBuf,
}

impl Slot {
    pub fn new(dir: &Path, vmid: u32) -> Slot {
        Slot {
            lock: dir.join(format!("rescan-{vmid}.lock")),
            requests: dir.join(format!("rescan-{vmid}.requests")),
        }
    }

    /// Record a request and find the waiter that will serve it: Some(pid) to join, None when the
    /// caller must start one.
    pub fn request(&self) -> Result<Option<u32>> {
        let _gate = self.gate()?;
        self.add_request()?;
        self.holder()
    }

    /// The waiter ends unless a request came after `seen`: Ok(None) when it ended (slot files
    /// removed, slot given up), Ok(Some(held)) to rescan once more.
    pub fn finish(&self, held: Held, seen: u64) -> Result<Option<Held>> {
        let _gate = self.gate()?;
        if self.requests() > seen {
            return Ok(Some(held));
        }
        drop(held);
        Ok(None)
    }

    /// The flock of the lock directory that orders requests against a waiter's end.
    fn gate(&self) -> Result<File> {
        let dir = self.lock.parent().unwrap_or(Path::new("/"));
        fs::create_dir_all(dir).map_err(|e| Error::io("create lock directory", dir, e))?;
        let f = File::open(dir).map_err(|e| Error::io("open lock directory", dir, e))?;
        f.lock().map_err(|e| Error::io("lock", dir, e))?;
        Ok(f)
    }

    /// Record one request; the waiter rescans at least once after it.
    fn add_request(&self) -> Result<()> {
        if let Some(dir) = self.requests.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create lock directory", dir, e))?;
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.requests)
            .and_then(|mut f| f.write_all(b"."))
            .map_err(|e| Error::io("record a rescan request in", &self.requests, e))
    }

    /// How many requests were recorded so far.
    pub fn requests(&self) -> u64 {
        fs::metadata(&self.requests).map(|m| m.len()).unwrap_or(0)
    }

    /// The pid of the waiter holding the slot, or None when nobody does.
    pub fn holder(&self) -> Result<Option<u32>> {
        let mut file = match File::open(&self.lock) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open rescan slot", &self.lock, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                Ok(Some(s.trim().parse().unwrap_or(0)))
            }
            Err(TryLockError::Error(e)) => Err(Error::io("probe rescan slot", &self.lock, e)),
        }
    }

    /// Take the slot for this process (the waiter): Ok(None) when another waiter holds it.
    pub fn take(&self) -> Result<Option<Held>> {
        if let Some(dir) = self.lock.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create lock directory", dir, e))?;
        }
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&self.lock)
                .map_err(|e| Error::io("open rescan slot", &self.lock, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io("lock rescan slot", &self.lock, e))
                }
            }
            // The previous waiter may have removed the file between our open and our lock.
            let same = match (file.metadata(), fs::metadata(&self.lock)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let pid = std::process::id();
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{pid}"))
                .map_err(|e| Error::io("write pid into rescan slot", &self.lock, e))?;
            return Ok(Some(Held {
                slot: self.clone(),
                _file: file,
            }));
        }
    }
}

/// The slot while a waiter holds it; dropping it removes the slot files, then unlocks.
#[derive(Debug)]
pub struct Held {
    slot: Slot,
    _file: File,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.slot.requests);
        let _ = fs::remove_file(&self.slot.lock);
    }
}

/// How the waiter was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A transient systemd service of this name.
    Unit(String),
    /// A process in its own session.
    Process(u32),
}

/// Start `exe args...` detached (see the module comment); `root` is the system root (`/`, or the
/// test root), `unit` the systemd unit name, `lifetime` the bound on its life.
pub fn start_detached(
    root: &Path,
    exe: &Path,
    args: &[String],
    unit: &str,
    lifetime: Duration,
    safe_path: &str,
) -> Result<Started> {
    if let Some(systemd_run) = crate::sys::process::systemd_run(root) {
        let out = Command::new(&systemd_run)
            .arg(format!("--unit={unit}"))
            .args(["--collect", "--quiet", "--service-type=exec"])
            .arg(format!(
                "--property=RuntimeMaxSec={}",
                lifetime.as_secs() + 60
            ))
            .arg(format!("--setenv=PATH={safe_path}"))
            .arg("--setenv=LC_ALL=C")
            .arg("--")
            .arg(exe)
            .args(args)
            .env_clear()
            .env("PATH", safe_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::io("run", &systemd_run, e))?;
        if out.status.success() {
            return Ok(Started::Unit(unit.to_string()));
        }
        log::warn!(
            "'{} --unit={unit}' failed ({}): starting the waiter in its own session instead",
            systemd_run.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut cmd = crate::sys::process::in_own_session(exe);
    let child = cmd
        .args(args)
        .env_clear()
        .env("PATH", safe_path)
        .env("LC_ALL", "C")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("start the deferred rescan", exe, e))?;
    Ok(Started::Process(child.id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pos-slot-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn one_waiter_per_guest_and_nothing_left_behind() {
        let d = tmp("one");
        let slot = Slot::new(&d, 100);
        assert_eq!(slot.holder().unwrap(), None);
        let held = slot.take().unwrap().unwrap();
        assert_eq!(slot.holder().unwrap(), Some(std::process::id()));
        // A second waiter for the same guest does not start; another guest's does.
        assert!(slot.take().unwrap().is_none());
        let other = Slot::new(&d, 101).take().unwrap().unwrap();
        // Requests while the waiter holds the slot join it.
        assert_eq!(slot.request().unwrap(), Some(std::process::id()));
        assert_eq!(slot.request().unwrap(), Some(std::process::id()));
        assert_eq!(slot.requests(), 2);
        // A request after the rescan started keeps the waiter for one more round.
        let held = slot.finish(held, 1).unwrap().expect("one more rescan");
        assert!(slot.finish(held, 2).unwrap().is_none());
        drop(other);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0, "slot files removed");
        assert_eq!(slot.holder().unwrap(), None);
        // Without a waiter a request is told to start one.
        assert_eq!(slot.request().unwrap(), None);
        assert_eq!(slot.requests(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_slot_file_removed_under_a_waiter_is_not_taken_twice() {
        let d = tmp("race");
        let slot = Slot::new(&d, 7);
        // Someone opened the file of a waiter that then ended and removed it.
        let stale = File::create(&slot.lock).unwrap();
        fs::remove_file(&slot.lock).unwrap();
        stale.lock().unwrap();
        let held = slot.take().unwrap().unwrap();
        assert!(slot.lock.is_file());
        drop(held);
        drop(stale);
        fs::remove_dir_all(&d).unwrap();
    }
}
