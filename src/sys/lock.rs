//! Locks: the node-local lock per storage (std `File::lock` with a deadline) and the pmxcfs cluster lock.
//! Both are released on drop, also while unwinding from a panic.
//!
//! Node lock: `<lock_dir>/<storage>.lock`, an exclusive `flock` polled against a deadline; the holder
//! writes its pid and purpose into the file so that a timed-out contender can name it.
//!
//! Cluster lock (pmxcfs semantics, pve-cluster `PVE/Cluster.pm` and `pmxcfs/memdb.c`): a directory `<cluster_lock_dir>/pve-ontap-snapshot-<storage>`
//! created with `mkdir` (atomic cluster-wide on pmxcfs), refreshed every 30 s by setting its mtime
//! to now from a background thread, removed with `rmdir`. On a real cluster a contender asks pmxcfs to
//! drop an expired lock (120 s after the last refresh) by setting the directory's times to 0; pmxcfs
//! checks the expiry itself. On any other filesystem (tests, a node without pmxcfs) the contender
//! emulates that: a lock directory whose mtime is more than 120 s old is stale and removed.

use std::cell::Cell;
use std::fs::{self, File, FileTimes, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::sys::paths::Paths;

/// pmxcfs forgets a lock this long after it was created or last refreshed.
pub const CLUSTER_LOCK_EXPIRY: Duration = Duration::from_secs(120);
/// How often a held cluster lock is refreshed (well inside the expiry).
pub const CLUSTER_LOCK_REFRESH: Duration = Duration::from_secs(30);
/// Prefix of the tool's cluster lock directories (distinct from Proxmox's own `storage-<id>`).
pub const CLUSTER_LOCK_PREFIX: &str = "pve-ontap-snapshot-";

const POLL_FIRST: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(200);

/// Sleep before the next attempt, never past the deadline; false when the deadline has passed.
fn pause(poll: &mut Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    thread::sleep((*poll).min(deadline - now));
    *poll = (*poll * 2).min(POLL_MAX);
    true
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
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io("create lock directory", dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;
        let started = Instant::now();
        let mut poll = POLL_FIRST;
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
            }
            if !announced {
                announced = true;
                log::info!(
                    "waiting for lock '{}' held by {}",
                    path.display(),
                    holder_of(path)
                );
            }
            if !pause(&mut poll, deadline) {
                return Err(Error::Lock {
                    path: path.to_path_buf(),
                    holder: holder_of(path),
                    waited: started.elapsed(),
                });
            }
        }
        let mut lock = NodeLock {
            file,
            path: path.to_path_buf(),
        };
        lock.write_holder(purpose)
            .map_err(|e| Error::io("write holder into lock file", path, e))?;
        Ok(lock)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_holder(&mut self, purpose: &str) -> std::io::Result<()> {
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        writeln!(
            self.file,
            "pid {} since {since}: {purpose}",
            std::process::id()
        )?;
        self.file.flush()
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        // Clear the holder before the flock goes away with the descriptor.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
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

/// How the cluster lock behaves (tests shorten the times; production uses the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterLockOptions {
    pub expiry: Duration,
    pub refresh: Duration,
    /// Whether the directory is on pmxcfs (then pmxcfs expires locks); None = look at the mounts.
    pub pmxcfs: Option<bool>,
}

impl Default for ClusterLockOptions {
    fn default() -> Self {
        ClusterLockOptions {
            expiry: CLUSTER_LOCK_EXPIRY,
            refresh: CLUSTER_LOCK_REFRESH,
            pmxcfs: None,
        }
    }
}

/// A cluster-wide lock directory, refreshed while held and removed on drop.
#[derive(Debug)]
pub struct ClusterLock {
    owner: Arc<Ownership>,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl ClusterLock {
    /// Take the lock `<dir>/<name>`, waiting until `deadline`. `Ok(None)` when `dir`'s parent does not
    /// exist (not a Proxmox node: there is no cluster to coordinate with).
    pub fn acquire(
        dir: &Path,
        name: &str,
        deadline: Instant,
        opts: &ClusterLockOptions,
    ) -> Result<Option<ClusterLock>> {
        if !dir.parent().is_some_and(Path::is_dir) {
            return Ok(None);
        }
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create cluster lock directory", dir, e)),
        }
        if !dir.is_dir() {
            return Err(Error::Refused(format!(
                "'{}' is not a directory: is the Proxmox cluster filesystem (pmxcfs) online?",
                dir.display()
            )));
        }
        let pmxcfs = opts.pmxcfs.unwrap_or_else(|| on_fuse(dir));
        let path = dir.join(name);
        let started = Instant::now();
        let mut poll = POLL_FIRST;
        let mut announced = false;
        let mut last_error: Option<std::io::Error>;
        loop {
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    last_error = None;
                    if pmxcfs {
                        // An unlock request: pmxcfs removes the lock if it has expired.
                        let _ = set_dir_times(&path, UNIX_EPOCH, UNIX_EPOCH);
                    } else if let Some(age) = dir_age(&path).filter(|a| *a > opts.expiry) {
                        match fs::remove_dir(&path) {
                            Ok(()) => {
                                log::warn!(
                                    "removed stale cluster lock '{}' (not refreshed for {}s, \
                                     expiry {}s)",
                                    path.display(),
                                    age.as_secs(),
                                    opts.expiry.as_secs()
                                );
                                continue;
                            }
                            Err(e) if e.kind() == ErrorKind::NotFound => continue,
                            Err(e) => last_error = Some(e),
                        }
                    }
                }
                // pmxcfs without quorum is read-only (EACCES); Proxmox keeps trying until its deadline.
                Err(e) => last_error = Some(e),
            }
            if !announced {
                announced = true;
                log::info!(
                    "waiting for cluster lock '{}' held by {}",
                    path.display(),
                    cluster_holder(&path, opts, None)
                );
            }
            if !pause(&mut poll, deadline) {
                return Err(Error::Lock {
                    holder: cluster_holder(&path, opts, last_error.as_ref()),
                    path,
                    waited: started.elapsed(),
                });
            }
        }
        let owner = Arc::new(Ownership::new(path, pmxcfs)?);
        held().push((SCOPE.with(Cell::get), Arc::clone(&owner)));
        let (stop, stopped) = mpsc::channel::<()>();
        let refresher = {
            let (o, every) = (Arc::clone(&owner), opts.refresh);
            thread::Builder::new()
                .name("cluster-lock-refresh".into())
                .spawn(move || refresh_loop(&o, every, &stopped))
                .map_err(|e| {
                    Error::io("start the refresh thread of cluster lock", &owner.path, e)
                })?
        };
        Ok(Some(ClusterLock {
            owner,
            stop: Some(stop),
            refresher: Some(refresher),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.owner.path
    }

    /// Err when the lock was lost (a refresh failed, or the directory is no longer ours): stop before
    /// doing anything irreversible.
    pub fn check_held(&self) -> Result<()> {
        if !self.owner.owned() {
            return Err(Error::Refused(format!(
                "lost cluster lock '{}' (not refreshed in time or removed by another node)",
                self.owner.path.display()
            )));
        }
        Ok(())
    }
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        held().retain(|(_, o)| !Arc::ptr_eq(o, &self.owner));
        self.owner.release();
    }
}

/// Cluster locks held by this process, with the scope of the thread that took them. A hook that
/// gives up at its timeout exits without running the holders' `Drop`, and a lock directory left
/// behind would block every other hook of the storage until pmxcfs expires it;
/// `release_held_cluster_locks` removes them first.
static HELD: Mutex<Vec<(u64, Arc<Ownership>)>> = Mutex::new(Vec::new());

thread_local! {
    static SCOPE: Cell<u64> = const { Cell::new(0) };
}

fn held() -> std::sync::MutexGuard<'static, Vec<(u64, Arc<Ownership>)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tag the cluster locks this thread takes from now on with `scope` (a worker of a bounded action).
pub fn set_lock_scope(scope: u64) {
    SCOPE.with(|s| s.set(scope));
}

/// Remove every cluster lock directory still held under `scope` (call before giving up on a worker
/// that may still hold some); returns the paths released.
pub fn release_held_cluster_locks(scope: u64) -> Vec<PathBuf> {
    let owners: Vec<Arc<Ownership>> = {
        let mut held = held();
        let (mine, rest): (Vec<_>, Vec<_>) = held.drain(..).partition(|(s, _)| *s == scope);
        *held = rest;
        mine.into_iter().map(|(_, o)| o).collect()
    };
    owners
        .into_iter()
        .filter(|o| o.release())
        .map(|o| o.path.clone())
        .collect()
}

/// Whether the lock directory is still the one we created. pmxcfs never reuses an inode number; on
/// other filesystems (emulation) an inode may come back at once, so the mtime we last set counts too.
#[derive(Debug)]
struct Ownership {
    path: PathBuf,
    pmxcfs: bool,
    /// (inode, mtime as read back after our last create or refresh); None once lost.
    mark: Mutex<Option<(u64, SystemTime)>>,
}

impl Ownership {
    fn new(path: PathBuf, pmxcfs: bool) -> Result<Ownership> {
        let m = fs::metadata(&path).map_err(|e| Error::io("inspect cluster lock", &path, e))?;
        let mtime = m.modified().unwrap_or(UNIX_EPOCH);
        Ok(Ownership {
            path,
            pmxcfs,
            mark: Mutex::new(Some((m.ino(), mtime))),
        })
    }

    fn matches(&self, mark: (u64, SystemTime)) -> bool {
        fs::metadata(&self.path).is_ok_and(|m| {
            m.is_dir()
                && m.ino() == mark.0
                && (self.pmxcfs || m.modified().is_ok_and(|t| t == mark.1))
        })
    }

    fn owned(&self) -> bool {
        let mut mark = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        match *mark {
            Some(m) if self.matches(m) => true,
            _ => {
                *mark = None;
                false
            }
        }
    }

    /// Remove the directory if it is still ours; it is not ours afterwards either way.
    fn release(&self) -> bool {
        let mut mark = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        let ours = mark.is_some_and(|m| self.matches(m));
        *mark = None;
        if !ours {
            return false;
        }
        match fs::remove_dir(&self.path) {
            Ok(()) => true,
            Err(e) => {
                if e.kind() != ErrorKind::NotFound {
                    log::warn!(
                        "could not release cluster lock '{}': {e}",
                        self.path.display()
                    );
                }
                false
            }
        }
    }

    /// Set the directory's mtime to now; false (and lost from then on) when it is not ours or fails.
    fn refresh(&self) -> bool {
        let mut mark = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        let refreshed = match *mark {
            Some(m) if self.matches(m) => {
                set_dir_times(&self.path, UNIX_EPOCH, SystemTime::now()).is_ok()
                    && fs::metadata(&self.path)
                        .and_then(|md| md.modified())
                        .map(|t| *mark = Some((m.0, t)))
                        .is_ok()
            }
            _ => false,
        };
        if !refreshed {
            *mark = None;
        }
        refreshed
    }
}

fn refresh_loop(owner: &Ownership, every: Duration, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        if !owner.refresh() {
            log::warn!(
                "lost cluster lock '{}': refresh failed",
                owner.path.display()
            );
            return;
        }
    }
}

fn set_dir_times(path: &Path, accessed: SystemTime, modified: SystemTime) -> std::io::Result<()> {
    let dir = File::open(path)?;
    dir.set_times(
        FileTimes::new()
            .set_accessed(accessed)
            .set_modified(modified),
    )
}

/// How long ago the lock directory was created or refreshed.
fn dir_age(path: &Path) -> Option<Duration> {
    let mtime = fs::metadata(path).ok()?.modified().ok()?;
    Some(SystemTime::now().duration_since(mtime).unwrap_or_default())
}

fn cluster_holder(path: &Path, opts: &ClusterLockOptions, err: Option<&std::io::Error>) -> String {
    if let Some(e) = err {
        return format!(
            "nobody known: creating the lock directory failed ({e}); without quorum the Proxmox \
             cluster filesystem is read-only"
        );
    }
    let age = dir_age(path)
        .filter(|a| *a < Duration::from_secs(365 * 86400))
        .map(|a| format!(", last refreshed {}s ago", a.as_secs()))
        .unwrap_or_default();
    format!(
        "another process or node (lock directory exists{age}; it expires {}s after its last refresh)",
        opts.expiry.as_secs()
    )
}

/// Whether `path` is on a FUSE filesystem (pmxcfs is mounted as `fuse` on /etc/pve).
fn on_fuse(path: &Path) -> bool {
    let Ok(path) = fs::canonicalize(path) else {
        return false;
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let mut best: Option<(usize, bool)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let mount = unescape_mount(mount);
        if path.starts_with(&mount) && best.is_none_or(|(len, _)| mount.len() >= len) {
            best = Some((mount.len(), fstype.starts_with("fuse")));
        }
    }
    best.is_some_and(|(_, fuse)| fuse)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
    pub fn acquire(paths: &Paths, storage: &str, purpose: &str, deadline: Instant) -> Result<Self> {
        Self::acquire_with(
            paths,
            storage,
            purpose,
            deadline,
            &ClusterLockOptions::default(),
        )
    }

    pub fn acquire_with(
        paths: &Paths,
        storage: &str,
        purpose: &str,
        deadline: Instant,
        opts: &ClusterLockOptions,
    ) -> Result<Self> {
        let node = NodeLock::acquire(&node_lock_path(&paths.lock_dir, storage), purpose, deadline)?;
        let cluster = ClusterLock::acquire(
            &paths.cluster_lock_dir,
            &format!("{CLUSTER_LOCK_PREFIX}{storage}"),
            deadline,
            opts,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Barrier;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "pos-lock-{tag}-{}-{:?}",
                std::process::id(),
                thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
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

    fn emulated() -> ClusterLockOptions {
        ClusterLockOptions {
            pmxcfs: Some(false),
            ..ClusterLockOptions::default()
        }
    }

    #[test]
    fn node_lock_excludes_and_names_the_holder_on_timeout() {
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
        assert!(
            msg.contains(&format!("held by pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("hook vmid=100 phase=post-stop"), "{msg}");
        assert_eq!(e.exit_code(), 1);

        drop(held);
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        let again = NodeLock::acquire(&path, "second", soon(1000)).unwrap();
        assert!(fs::read_to_string(again.path())
            .unwrap()
            .contains(": second"));
    }

    #[test]
    fn node_lock_serialises_threads() {
        let t = TempDir::new("serial");
        let path = Arc::new(node_lock_path(&t.0, "S1"));
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (path, inside, max, barrier) =
                    (path.clone(), inside.clone(), max.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let _l = NodeLock::acquire(&path, &format!("t{i}"), soon(60_000)).unwrap();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cluster_lock_needs_an_existing_parent() {
        let t = TempDir::new("noparent");
        let dir = t.0.join("missing/lock");
        let l = ClusterLock::acquire(&dir, "x", soon(100), &emulated()).unwrap();
        assert!(l.is_none());
        assert!(!dir.exists());
    }

    #[test]
    fn cluster_lock_contention_timeout_and_release() {
        let t = TempDir::new("cluster");
        let dir = t.0.join("lock");
        let name = "pve-ontap-snapshot-ONTAP01";
        let held = ClusterLock::acquire(&dir, name, soon(1000), &emulated())
            .unwrap()
            .unwrap();
        assert!(dir.join(name).is_dir());
        held.check_held().unwrap();

        let e = ClusterLock::acquire(&dir, name, soon(50), &emulated()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&dir.join(name).display().to_string()), "{msg}");
        assert!(msg.contains("held by another process or node"), "{msg}");
        assert!(msg.contains("expires 120s after its last refresh"), "{msg}");

        drop(held);
        assert!(!dir.join(name).exists());
        let again = ClusterLock::acquire(&dir, name, soon(1000), &emulated()).unwrap();
        assert!(again.is_some());
    }

    #[test]
    fn stale_cluster_lock_is_removed_by_the_contender() {
        let t = TempDir::new("stale");
        let dir = t.0.join("lock");
        let path = dir.join("pve-ontap-snapshot-ONTAP01");
        fs::create_dir_all(&path).unwrap();
        let old = SystemTime::now() - Duration::from_secs(200);
        set_dir_times(&path, old, old).unwrap();
        let l = ClusterLock::acquire(&dir, "pve-ontap-snapshot-ONTAP01", soon(2000), &emulated())
            .unwrap()
            .unwrap();
        // The directory is ours now: fresh mtime.
        assert!(dir_age(&path).unwrap() < Duration::from_secs(120));
        l.check_held().unwrap();

        // A lock refreshed recently is not stale.
        drop(l);
        fs::create_dir_all(&path).unwrap();
        let recent = SystemTime::now() - Duration::from_secs(100);
        set_dir_times(&path, recent, recent).unwrap();
        assert!(
            ClusterLock::acquire(&dir, "pve-ontap-snapshot-ONTAP01", soon(50), &emulated())
                .is_err()
        );
        assert!(path.is_dir());
    }

    #[test]
    fn cluster_lock_is_refreshed_while_held() {
        let t = TempDir::new("refresh");
        let dir = t.0.join("lock");
        let opts = ClusterLockOptions {
            refresh: Duration::from_millis(20),
            ..emulated()
        };
        let l = ClusterLock::acquire(&dir, "r", soon(1000), &opts)
            .unwrap()
            .unwrap();
        let mtime = || fs::metadata(l.path()).unwrap().modified().unwrap();
        let first = mtime();
        let until = Instant::now() + Duration::from_secs(20);
        while mtime() == first && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(mtime() > first, "never refreshed");
        l.check_held().unwrap();
    }

    #[test]
    fn lost_cluster_lock_is_detected_and_not_removed() {
        let t = TempDir::new("lost");
        let dir = t.0.join("lock");
        let l = ClusterLock::acquire(&dir, "x", soon(1000), &emulated())
            .unwrap()
            .unwrap();
        // Another contender removed it as stale and took it.
        fs::remove_dir(l.path()).unwrap();
        fs::create_dir(l.path()).unwrap();
        let e = l.check_held().unwrap_err();
        assert!(e.to_string().contains("lost cluster lock"), "{e}");
        let path = l.path().to_path_buf();
        drop(l);
        assert!(path.is_dir(), "the other holder's lock must stay");
    }

    #[test]
    fn both_locks_are_released_when_a_panic_unwinds() {
        let t = TempDir::new("panic");
        let paths = Paths {
            lock_dir: t.0.join("run"),
            cluster_lock_dir: t.0.join("lock"),
            ..Paths::default()
        };
        let p2 = paths.clone();
        let r = std::panic::catch_unwind(move || {
            let l = StorageLock::acquire_with(&p2, "ONTAP01", "panicky", soon(1000), &emulated())
                .unwrap();
            assert!(l.cluster_path().unwrap().is_dir());
            panic!("boom");
        });
        assert!(r.is_err());
        assert!(!paths
            .cluster_lock_dir
            .join("pve-ontap-snapshot-ONTAP01")
            .exists());
        let l =
            StorageLock::acquire_with(&paths, "ONTAP01", "after", soon(100), &emulated()).unwrap();
        assert_eq!(l.node_path(), paths.lock_dir.join("ONTAP01.lock"));
    }

    #[test]
    fn held_cluster_locks_can_be_released_before_exit() {
        let t = TempDir::new("release");
        let dir = t.0.join("lock");
        set_lock_scope(77);
        let l = ClusterLock::acquire(&dir, "pve-ontap-snapshot-rel", soon(1000), &emulated())
            .unwrap()
            .unwrap();
        let path = l.path().to_path_buf();
        assert!(release_held_cluster_locks(78).is_empty());
        let released = release_held_cluster_locks(77);
        assert!(released.contains(&path), "{released:?}");
        assert!(!path.exists());
        assert!(l.check_held().is_err());
        // Another holder takes it; the first holder's drop leaves it alone.
        let other = ClusterLock::acquire(&dir, "pve-ontap-snapshot-rel", soon(1000), &emulated())
            .unwrap()
            .unwrap();
        drop(l);
        assert!(path.is_dir());
        drop(other);
        assert!(!path.exists());
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/etc/pve"), "/etc/pve");
    }
}
