//! The lock of a storage: the node-local flock `<lock_dir>/<storage>.lock`, then the cluster lock
//! `pve-ontap-snapshot-<storage>`; several storages are locked in name order. Released on drop.
//!
//! Node lock: an exclusive `flock`, polled quickly against a deadline (it costs nothing outside
//! this node); the holder writes its pid, start time and purpose into the file for contenders. The
//! file is removed while still locked on release, so no lock file outlives its holder; a contender
//! that locked a file removed meanwhile sees that the path no longer names it and opens it again.
//! The cluster lock (see `cluster_lock`) is only tried while holding the node lock: that is what
//! makes a successful refresh of the cluster lock a proof of ownership.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys::cluster_lock::{ClusterLock, Site, Timing};

/// Prefix of the tool's cluster lock directories (distinct from Proxmox's own `storage-<id>`).
pub const CLUSTER_LOCK_PREFIX: &str = "pve-ontap-snapshot-";

const POLL_FIRST: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(200);

/// Where a node's locks live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// Node-local lock directory (`/run/lock/pve-ontap-snapshot`).
    pub node_dir: PathBuf,
    pub site: Site,
}

/// The lock file of a storage in the node-local lock directory.
pub fn node_lock_path(lock_dir: &Path, storage: &str) -> PathBuf {
    lock_dir.join(format!("{storage}.lock"))
}

/// An exclusive node-local lock, held until dropped.
#[derive(Debug)]
pub struct NodeLock {
    file: File,
    path: PathBuf,
}

impl NodeLock {
    /// Take the lock at `path` (creating the file and its directory), waiting until `deadline`.
    /// `purpose` is written into the file for contenders (e.g. `hook vmid=100 phase=post-stop`).
    pub fn acquire(path: &Path, purpose: &str, deadline: Instant) -> Result<NodeLock> {
        Self::acquire_on(path, None, purpose, deadline)
    }

    /// `acquire`, naming this node in the holder line (`pid N on node X since ...`).
    pub fn acquire_on(
        path: &Path,
        node: Option<&str>,
        purpose: &str,
        deadline: Instant,
    ) -> Result<NodeLock> {
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io("create lock directory", dir, e))?;
        }
        let started = Instant::now();
        let mut poll = POLL_FIRST;
        let mut announced = false;
        let file = loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::io("open lock file", path, e))?;
            match file.try_lock() {
                Ok(()) if names(path, &file) => break file,
                // Locked a file its holder removed on release: open the path again.
                Ok(()) => continue,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
            if !announced {
                announced = true;
                log::info!(
                    "waiting for lock '{}' held by {}",
                    path.display(),
                    holder_of(path)
                );
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Lock {
                    path: path.to_path_buf(),
                    holder: holder_of(path),
                    waited: started.elapsed(),
                });
            }
            thread::sleep(poll.min(deadline - now));
            poll = (poll * 2).min(POLL_MAX);
        };
        let mut lock = NodeLock {
            file,
            path: path.to_path_buf(),
        };
        lock.write_holder(node, purpose)
            .map_err(|e| Error::io("write holder into lock file", path, e))?;
        Ok(lock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_holder(&mut self, node: Option<&str>, purpose: &str) -> std::io::Result<()> {
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let on = node.map(|n| format!(" on node {n}")).unwrap_or_default();
        writeln!(
            self.file,
            "pid {}{on} since {since}: {purpose}",
            std::process::id()
        )?;
        self.file.flush()
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        // Remove the file while it is still ours, then let the flock go with the descriptor.
        if names(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Whether `path` still names the open `file`.
fn names(path: &Path, file: &File) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Who holds a node lock, as written into the file by the holder.
fn holder_of(path: &Path) -> String {
    let mut s = String::new();
    let read = File::open(path).and_then(|mut f| f.read_to_string(&mut s));
    match read {
        Ok(_) if !s.trim().is_empty() => s.trim().to_string(),
        _ => "an unknown process (no holder written into the lock file yet)".to_string(),
    }
}

/// Whether nobody holds the flock (a missing file or directory counts as free).
pub fn lock_is_free(path: &Path) -> Result<bool> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io("open config lock", path, e)),
    };
    match file.try_lock() {
        // Dropping the file releases the lock at once.
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(Error::io("probe config lock", path, e)),
    }
}

/// The node lock and (on a Proxmox node) the cluster lock of one storage; released on drop, the
/// cluster lock first.
#[derive(Debug)]
pub struct StorageLock {
    cluster: Option<ClusterLock>,
    node: NodeLock,
}

impl StorageLock {
    /// Take both locks of `storage`, waiting until `deadline` for each.
    pub fn acquire(
        places: &Places,
        storage: &str,
        purpose: &str,
        deadline: Instant,
        timing: &Timing,
    ) -> Result<Self> {
        let node = NodeLock::acquire_on(
            &node_lock_path(&places.node_dir, storage),
            Some(&places.site.node_name()),
            purpose,
            deadline,
        )?;
        let cluster = ClusterLock::acquire(
            &places.site,
            &format!("{CLUSTER_LOCK_PREFIX}{storage}"),
            purpose,
            deadline,
            timing,
        )?;
        Ok(StorageLock { cluster, node })
    }

    /// Err when the cluster lock was lost; check right before an irreversible step.
    pub fn check_held(&self) -> Result<()> {
        match &self.cluster {
            Some(c) => c.check_held(),
            None => Ok(()),
        }
    }

    pub fn node_path(&self) -> &Path {
        self.node.path()
    }

    pub fn cluster_path(&self) -> Option<&Path> {
        self.cluster.as_ref().map(ClusterLock::path)
    }
}

impl Drop for StorageLock {
    fn drop(&mut self) {
        // The cluster lock goes first: it is only ever held under the node lock.
        drop(self.cluster.take());
    }
}

/// The locks of several storages, taken in name order (so two commands that need the same
/// storages never wait for each other crosswise) and released in reverse order.
#[derive(Debug)]
pub struct StorageLocks {
    held: Vec<StorageLock>,
}

impl StorageLocks {
    pub fn acquire(
        places: &Places,
        storages: &[String],
        purpose: &str,
        deadline: Instant,
        timing: &Timing,
    ) -> Result<Self> {
        let mut names: Vec<&String> = storages.iter().collect();
        names.sort();
        names.dedup();
        let mut held = Vec::with_capacity(names.len());
        for storage in names {
            held.push(StorageLock::acquire(
                places, storage, purpose, deadline, timing,
            )?);
        }
        Ok(StorageLocks { held })
    }

    pub fn check_held(&self) -> Result<()> {
        self.held.iter().try_for_each(StorageLock::check_held)
    }
}

impl Drop for StorageLocks {
    fn drop(&mut self) {
        while let Some(l) = self.held.pop() {
            drop(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "pos-slock-{tag}-{}-{:?}",
                std::process::id(),
                thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(p.join("etc/pve/priv")).unwrap();
            TempDir(p)
        }

        fn places(&self) -> Places {
            Places {
                node_dir: self.0.join("run"),
                site: Site {
                    pve_dir: self.0.join("etc/pve"),
                    corosync_conf: self.0.join("etc/corosync/corosync.conf"),
                },
            }
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn node_lock_excludes_names_the_holder_and_leaves_no_file() {
        let t = TempDir::new("node");
        let path = node_lock_path(&t.0.join("locks"), "ONTAP01");
        let held = NodeLock::acquire(&path, "hook vmid=100 phase=post-stop", soon(1000)).unwrap();
        let content = fs::read_to_string(&path).unwrap();
        assert!(content.starts_with(&format!("pid {} since ", std::process::id())));
        assert!(content
            .trim_end()
            .ends_with(": hook vmid=100 phase=post-stop"));
        let e = NodeLock::acquire(&path, "other", soon(50)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("could not lock {} within", path.display())),
            "{msg}"
        );
        assert!(msg.contains("hook vmid=100 phase=post-stop"), "{msg}");
        assert_eq!(e.exit_code(), 1);
        drop(held);
        assert!(!path.exists(), "the lock file goes with its holder");
        let again = NodeLock::acquire(&path, "second", soon(1000)).unwrap();
        assert!(fs::read_to_string(again.path())
            .unwrap()
            .contains(": second"));
    }

    #[test]
    fn node_lock_serialises_threads_across_file_removals() {
        let t = TempDir::new("serial");
        let path = Arc::new(node_lock_path(&t.0, "S1"));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (path, inside, max, barrier) =
                    (path.clone(), inside.clone(), max.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..5 {
                        let _l = NodeLock::acquire(&path, &format!("t{i}"), soon(60_000)).unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
        assert!(!path.exists());
    }

    #[test]
    fn storages_are_locked_in_name_order_and_released_on_unwind() {
        let t = TempDir::new("multi");
        let places = t.places();
        let p2 = places.clone();
        let r = std::panic::catch_unwind(move || {
            let l = StorageLocks::acquire(
                &p2,
                &["B".to_string(), "A".to_string(), "B".to_string()],
                "two",
                soon(1000),
                &Timing::default(),
            )
            .unwrap();
            assert_eq!(l.held.len(), 2);
            assert_eq!(l.held[0].node_path(), p2.node_dir.join("A.lock"));
            let holder = fs::read_to_string(l.held[0].node_path()).unwrap();
            assert!(
                holder.starts_with(&format!(
                    "pid {} on node {} since ",
                    std::process::id(),
                    p2.site.node_name()
                )),
                "{holder}"
            );
            assert!(l.held[1].cluster_path().unwrap().is_dir());
            l.check_held().unwrap();
            panic!("boom");
        });
        assert!(r.is_err());
        let lock_dir = places.site.lock_dir();
        assert_eq!(fs::read_dir(&lock_dir).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&places.node_dir).unwrap().count(), 0);
    }
}
