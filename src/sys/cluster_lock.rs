//! The cluster-wide lock of a storage: a directory in pmxcfs's lock folder (`/etc/pve/priv/lock`),
//! taken, refreshed, proven ours and released the way Proxmox's own `cfs_lock` expects.
//!
//! # What pmxcfs does (pve-cluster `src/pmxcfs/memdb.c`, `dcdb.c`, `cfs-plug-memdb.c`, `README`)
//! - `mkdir` of `priv/lock/<name>` goes through the corosync-ordered state machine: exactly one
//!   node's `mkdir` succeeds (`memdb_mkdir`, `-EEXIST` for the others). The entry records the
//!   node id of the writer and the writer's time as mtime.
//! - Nothing expires by itself. A contender sends an *unlock request* by setting the directory's
//!   times to 0 (`utime(0, 0)`, `cfs_plug_memdb_utimens`); the node with the lowest id deletes the
//!   entry only if it has seen the same entry checksum for more than 120 s (`memdb_lock_expired`,
//!   `CFS_LOCK_TIMEOUT`). Each node measures that age on its own clock from when it first saw the
//!   checksum; every change of the entry changes the checksum and restarts the clock.
//! - A refresh is `utime(0, now)`. `memdb_mtime` accepts it for a lock directory only when the new
//!   mtime is not older than the current one *and the writer is the node that wrote the entry*,
//!   otherwise `EACCES`.
//! - Without quorum pmxcfs is read-only: writes fail and every mode bit `w` is cleared
//!   (`tree_entry_stat`: 0777 quorate, 0555 not).
//! - pmxcfs is mounted without `use_ino`: `st_ino` is libfuse's node id for the *path*, which
//!   stays the same on this node when another node removes and re-creates the directory; the
//!   mtime has one-second resolution. Neither can tell two generations of the lock apart.
//!
//! # Why a lock we hold is provably ours
//! 1. Our `mkdir` succeeded, so at that moment the entry was created by us (point 1 above).
//! 2. Another generation of the entry can only exist after ours was deleted: by our own `rmdir`,
//!    or by pmxcfs after 120 s without a change, or by a foreign `rmdir` (not by this tool: it
//!    only removes a directory it has just proven to be its own, see 5).
//! 3. A new generation created by *another node* carries that node's id as writer, so our next
//!    refresh fails with `EACCES` (point 3 above). A new generation created on *this node* would pass
//!    the writer check, but every process of the tool takes the storage's node-local flock before
//!    the cluster lock and keeps it until after the release, so no other process of the tool on
//!    this node can have created it while we hold the flock.
//! 4. Hence: a successful refresh proves that the entry is ours and gives it 120 s more.
//!    A failed refresh (any error) means ownership is in doubt: the lock counts as lost from then
//!    on, the holder stops before its next irreversible step, and the directory is never removed
//!    by us; pmxcfs expires it 120 s after our last successful refresh.
//! 5. Release = a refresh immediately followed by `rmdir`. The refresh restarted the 120 s clock,
//!    so the entry cannot expire and be re-created in the few microseconds before the `rmdir`.
//!
//! Waiters poll once a second (each unlock request is a cluster-wide message; Proxmox's
//! `cfs_lock` polls the same way). A node that belongs to a cluster (`corosync.conf` exists)
//! but whose `/etc/pve` is not a FUSE mount refuses with Proxmox's words "cluster file system
//! not online" instead of running without the lock.
//!
//! # Emulation (a lock folder that is not pmxcfs: tests, a standalone host)
//! A plain directory has no writer check, so the emulation keeps pmxcfs's rules with two
//! stand-ins: every operation on the folder (mkdir, expiry check and delete, refresh, release)
//! runs under an flock of `<priv>/.pve-ontap-snapshot-lock-emulation`, as memdb's operations run
//! under its mutex; and each holder stamps its generation into the mtime's nanoseconds, so the
//! writer check becomes "the mtime is still the one we set". The expiry is measured from the mtime.

use std::collections::HashMap;
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// pmxcfs deletes a lock this long after its last change, on an unlock request (`CFS_LOCK_TIMEOUT`).
pub const EXPIRY: Duration = Duration::from_secs(120);
/// How often a held lock is refreshed (a quarter of the expiry).
pub const REFRESH: Duration = Duration::from_secs(30);
/// How often a waiter retries (and sends an unlock request); Proxmox's `cfs_lock` uses 1 s.
pub const POLL: Duration = Duration::from_secs(1);
/// Proxmox's wording when `/etc/pve` is not mounted (pve-cluster `PVE/Cluster.pm` `$cfs_lock`).
pub const NOT_ONLINE: &str = "cluster file system not online";

/// Where a node keeps the cluster's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The pmxcfs mount point, `/etc/pve`.
    pub pve_dir: PathBuf,
    /// The local copy of the cluster's corosync config, `/etc/corosync/corosync.conf`; pmxcfs keeps
    /// it in sync (`dcdb_sync_corosync_conf`), so it exists on a cluster node even when pmxcfs is down.
    pub corosync_conf: PathBuf,
}

impl Site {
    /// The lock folder, `<pve_dir>/priv/lock`.
    pub fn lock_dir(&self) -> PathBuf {
        self.pve_dir.join("priv/lock")
    }

    /// This node's name: the target of `/etc/pve/local` (a link to `nodes/<node>` on every Proxmox
    /// node), else the host name up to the first dot, as `PVE::INotify::nodename` gives it.
    pub fn node_name(&self) -> String {
        fs::read_link(self.pve_dir.join("local"))
            .ok()
            .and_then(|t| t.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_else(host_name)
    }

    /// Whether this node belongs to a cluster.
    pub fn in_cluster(&self) -> bool {
        self.corosync_conf.exists() || self.pve_dir.join("corosync.conf").exists()
    }

    /// What backs the lock folder here (see the module comment for the rules).
    pub fn backing(&self) -> Result<Backing> {
        if on_fuse(&self.pve_dir) {
            return Ok(Backing::Pmxcfs);
        }
        if self.in_cluster() {
            return Err(not_online(&self.pve_dir));
        }
        if self.pve_dir.join("priv").is_dir() {
            Ok(Backing::Emulated)
        } else {
            Ok(Backing::Absent)
        }
    }

    /// Whether the cluster is quorate, as pmxcfs shows it (owner `w` bit of `/etc/pve`); None on a
    /// host without `/etc/pve`.
    pub fn quorate(&self) -> Option<bool> {
        let m = fs::metadata(&self.pve_dir).ok()?;
        Some(m.permissions().mode() & 0o200 != 0)
    }
}

fn not_online(pve_dir: &Path) -> Error {
    Error::Refused(format!(
        "{NOT_ONLINE}: this node belongs to a cluster (corosync.conf exists) but '{}' is not \
         mounted; start pve-cluster (systemctl start pve-cluster) and retry",
        pve_dir.display()
    ))
}

/// What the lock folder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// pmxcfs (FUSE): it expires locks and checks the writer itself.
    Pmxcfs,
    /// A plain directory: the emulation of the module comment.
    Emulated,
    /// No `<pve_dir>/priv`: not a Proxmox node, no cluster to coordinate with.
    Absent,
}

/// Times of the lock (tests shorten them; production uses the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub expiry: Duration,
    pub refresh: Duration,
    pub poll: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            expiry: EXPIRY,
            refresh: REFRESH,
            poll: POLL,
        }
    }
}

/// A held cluster lock: refreshed in the background, released on drop when still provably ours.
#[derive(Debug)]
pub struct ClusterLock {
    owner: Arc<Owner>,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl ClusterLock {
    /// Take `<site>/priv/lock/<name>` until `deadline`; `purpose` goes into the holder note.
    /// `Ok(None)` when the backing is `Absent`.
    pub fn acquire(
        site: &Site,
        name: &str,
        purpose: &str,
        deadline: Instant,
        timing: &Timing,
    ) -> Result<Option<ClusterLock>> {
        let backing = site.backing()?;
        Self::acquire_on(site, backing, name, purpose, deadline, timing)
    }

    /// `acquire` with the backing given (unit tests pretend to be on pmxcfs).
    pub fn acquire_on(
        site: &Site,
        backing: Backing,
        name: &str,
        purpose: &str,
        deadline: Instant,
        timing: &Timing,
    ) -> Result<Option<ClusterLock>> {
        if backing == Backing::Absent {
            return Ok(None);
        }
        let dir = site.lock_dir();
        // Proxmox: `mkdir $lockdir; die "pve cluster filesystem not online.\n" if !-d $lockdir`.
        // (Without quorum pmxcfs refuses the mkdir even when the folder exists: only a missing
        // folder counts.)
        if let Err(e) = fs::DirBuilder::new().mode(0o700).create(&dir) {
            if !dir.is_dir() && backing == Backing::Emulated {
                return Err(Error::io("create cluster lock directory", &dir, e));
            }
        }
        if !dir.is_dir() {
            return Err(not_online(&site.pve_dir));
        }
        let folder = Folder {
            dir: dir.clone(),
            backing,
            expiry: timing.expiry,
        };
        let path = dir.join(name);
        let started = Instant::now();
        let mut announced = false;
        let generation = loop {
            let last_error = match folder.try_create(&path) {
                Ok(generation) => break generation,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    folder.unlock_request(&path);
                    None
                }
                // pmxcfs without quorum is read-only; Proxmox keeps trying until its timeout.
                Err(e) => Some(e),
            };
            if !announced {
                announced = true;
                log::info!(
                    "waiting for cluster lock '{}' held by {}",
                    path.display(),
                    holder(&path, timing, None)
                );
            }
            let now = Instant::now();
            if now >= deadline {
                let holder = match (&last_error, site.quorate()) {
                    (Some(_), Some(false)) => format!(
                        "nobody: no quorum, the cluster file system is read-only ({})",
                        last_error
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                    _ => holder(&path, timing, last_error.as_ref()),
                };
                return Err(Error::Lock {
                    path,
                    holder,
                    waited: started.elapsed(),
                });
            }
            thread::sleep(timing.poll.min(deadline - now));
        };
        let owner = Arc::new(Owner {
            folder,
            path,
            state: Mutex::new(State::Owned(generation)),
        });
        owner.write_note(&site.node_name(), purpose);
        registry_add(&owner);
        let (stop, stopped) = mpsc::channel::<()>();
        let refresher = {
            let (o, every) = (Arc::clone(&owner), timing.refresh);
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

    /// Err when the lock is no longer provably ours (a refresh failed) or its holder's time limit
    /// has passed: stop before doing anything irreversible.
    pub fn check_held(&self) -> Result<()> {
        self.owner.check()
    }
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        registry_remove(&self.owner);
        self.owner.release();
    }
}

/// The lock folder with the backing's rules.
#[derive(Debug)]
struct Folder {
    dir: PathBuf,
    backing: Backing,
    expiry: Duration,
}

/// A generation of the lock directory: on pmxcfs the writer check stands for it (None), in the
/// emulation the mtime we set.
type Generation = Option<SystemTime>;

impl Folder {
    /// The emulation's stand-in for memdb's mutex (None on pmxcfs).
    fn serialise(&self) -> std::io::Result<Option<File>> {
        if self.backing == Backing::Pmxcfs {
            return Ok(None);
        }
        let parent = self.dir.parent().unwrap_or(&self.dir);
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(parent.join(".pve-ontap-snapshot-lock-emulation"))?;
        f.lock()?;
        Ok(Some(f))
    }

    fn try_create(&self, path: &Path) -> std::io::Result<Generation> {
        let _m = self.serialise()?;
        fs::DirBuilder::new().mode(0o700).create(path)?;
        self.stamp(path)
    }

    /// Set the mtime to now (the refresh); in the emulation with our generation in the low bits of
    /// the nanoseconds (within a millisecond of now), read back as the file system stores it.
    fn stamp(&self, path: &Path) -> std::io::Result<Generation> {
        let now = SystemTime::now();
        if self.backing == Backing::Pmxcfs {
            set_dir_times(path, UNIX_EPOCH, now)?;
            return Ok(None);
        }
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let nanos = (since.subsec_nanos() & !GENERATION_MASK) | generation_bits();
        set_dir_times(
            path,
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(since.as_secs(), nanos),
        )?;
        Ok(Some(fs::metadata(path)?.modified()?))
    }

    /// The emulation's writer check: the mtime is still the one we set.
    fn still_ours(&self, path: &Path, generation: Generation) -> bool {
        match generation {
            None => true,
            Some(mark) => fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t == mark),
        }
    }

    /// Ask for the removal of an expired lock (pmxcfs decides; the emulation decides the same way).
    fn unlock_request(&self, path: &Path) {
        if self.backing == Backing::Pmxcfs {
            let _ = set_dir_times(path, UNIX_EPOCH, UNIX_EPOCH);
            return;
        }
        let Ok(_m) = self.serialise() else {
            return;
        };
        if let Some(age) = age(path).filter(|a| *a > self.expiry) {
            if fs::remove_dir(path).is_ok() {
                log::warn!(
                    "removed stale cluster lock '{}' (unchanged for {}s, expiry {}s)",
                    path.display(),
                    age.as_secs(),
                    self.expiry.as_secs()
                );
            }
        }
    }

    /// Refresh if still ours: Ok(new generation), Err when ownership is in doubt.
    fn refresh(&self, path: &Path, generation: Generation) -> std::io::Result<Generation> {
        let _m = self.serialise()?;
        if !self.still_ours(path, generation) {
            return Err(std::io::Error::new(
                ErrorKind::PermissionDenied,
                "the lock directory is another holder's",
            ));
        }
        self.stamp(path)
    }

    /// Refresh (the proof), then remove at once.
    /// Prove (refresh), run `before` (the holder note goes while the lock is still ours, so no
    /// other holder can have written it), then remove.
    fn remove(
        &self,
        path: &Path,
        generation: Generation,
        before: impl FnOnce(),
    ) -> std::io::Result<()> {
        let _m = self.serialise()?;
        if !self.still_ours(path, generation) {
            return Err(std::io::Error::new(
                ErrorKind::PermissionDenied,
                "the lock directory is another holder's",
            ));
        }
        self.stamp(path)?;
        before();
        fs::remove_dir(path)
    }
}

/// The low bits of the nanoseconds that carry a holder's generation in the emulation.
const GENERATION_MASK: u32 = 0xF_FFFF;

/// A value that differs between holders and between the generations of one holder: the pid and a
/// per-process counter (never 0, which a fresh `mkdir` time could also have).
fn generation_bits() -> u32 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let v = (u64::from(std::process::id()) * 7919 + n * 104_729) % u64::from(GENERATION_MASK);
    u32::try_from(v + 1).unwrap_or(1)
}

#[derive(Debug, Clone, Copy)]
enum State {
    Owned(Generation),
    /// The holder's time limit passed: still refreshed and released, but `check` fails.
    Abandoned(Generation),
    /// Ownership in doubt (a refresh failed) or released: never removed by us again.
    Lost,
}

#[derive(Debug)]
struct Owner {
    folder: Folder,
    path: PathBuf,
    state: Mutex<State>,
}

impl Owner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self) -> Result<()> {
        match *self.state() {
            State::Owned(_) => Ok(()),
            State::Abandoned(_) => Err(Error::Refused(format!(
                "stopped before the next change: the time limit passed while holding cluster lock \
                 '{}'",
                self.path.display()
            ))),
            State::Lost => Err(Error::Refused(format!(
                "lost cluster lock '{}' (a refresh failed: not refreshed in time, or removed or \
                 taken by another node); nothing more is changed",
                self.path.display()
            ))),
        }
    }

    fn abandon(&self) {
        let mut s = self.state();
        if let State::Owned(g) = *s {
            *s = State::Abandoned(g);
        }
    }

    fn refresh(&self) -> bool {
        let mut s = self.state();
        let (g, abandoned) = match *s {
            State::Owned(g) => (g, false),
            State::Abandoned(g) => (g, true),
            State::Lost => return false,
        };
        match self.folder.refresh(&self.path, g) {
            Ok(g) => {
                *s = if abandoned {
                    State::Abandoned(g)
                } else {
                    State::Owned(g)
                };
                true
            }
            Err(e) => {
                log::warn!(
                    "lost cluster lock '{}': refresh failed ({e}); it is left for pmxcfs to expire",
                    self.path.display()
                );
                *s = State::Lost;
                false
            }
        }
    }

    fn release(&self) {
        let mut s = self.state();
        let g = match *s {
            State::Owned(g) | State::Abandoned(g) => g,
            State::Lost => return,
        };
        *s = State::Lost;
        let note = note_path(&self.path);
        let removed = self.folder.remove(&self.path, g, || {
            let _ = fs::remove_file(&note);
        });
        if let Err(e) = removed {
            log::warn!(
                "did not remove cluster lock '{}': ownership not proven ({e}); it expires by itself",
                self.path.display()
            );
        }
    }

    /// Who holds the lock, for waiters on every node: `<name>.holder` next to the directory (a lock
    /// directory must stay empty: pmxcfs cannot delete a non-empty one when it expires).
    fn write_note(&self, node: &str, purpose: &str) {
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let text = format!(
            "pid {} on node {node} since {since}: {purpose}\n",
            std::process::id(),
        );
        let note = note_path(&self.path);
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&note)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            log::warn!("could not write holder note '{}': {e}", note.display());
        }
    }
}

fn refresh_loop(owner: &Owner, every: Duration, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        if !owner.refresh() {
            return;
        }
    }
}

fn note_path(lock: &Path) -> PathBuf {
    let mut s = lock.as_os_str().to_os_string();
    s.push(".holder");
    PathBuf::from(s)
}

/// The host name up to the first dot (`PVE::INotify::nodename`).
fn host_name() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let short = host.trim().split('.').next().unwrap_or_default();
    if short.is_empty() {
        "unknown".to_string()
    } else {
        short.to_string()
    }
}

/// Who holds `path`, for a waiter's message.
fn holder(path: &Path, timing: &Timing, err: Option<&std::io::Error>) -> String {
    if let Some(e) = err {
        return format!("nobody known: creating the lock directory failed ({e})");
    }
    let mut note = String::new();
    let _ = File::open(note_path(path)).and_then(|mut f| f.read_to_string(&mut note));
    let note = note.trim();
    let who = if note.is_empty() {
        "another process or node".to_string()
    } else {
        note.to_string()
    };
    let changed = age(path)
        .filter(|a| *a < Duration::from_secs(365 * 86400))
        .map(|a| format!(", last refreshed {}s ago", a.as_secs()))
        .unwrap_or_default();
    format!(
        "{who} (lock directory exists{changed}; it expires {}s after its last refresh)",
        timing.expiry.as_secs()
    )
}

fn set_dir_times(path: &Path, accessed: SystemTime, modified: SystemTime) -> std::io::Result<()> {
    File::open(path)?.set_times(
        FileTimes::new()
            .set_accessed(accessed)
            .set_modified(modified),
    )
}

fn age(path: &Path) -> Option<Duration> {
    let mtime = fs::metadata(path).ok()?.modified().ok()?;
    Some(SystemTime::now().duration_since(mtime).unwrap_or_default())
}

/// Cluster locks of this process by scope (the worker of a bounded hook action), so that the
/// action's supervisor can mark them abandoned at its time limit.
static REGISTRY: Mutex<Vec<(u64, Arc<Owner>)>> = Mutex::new(Vec::new());

thread_local! {
    static SCOPE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn registry() -> std::sync::MutexGuard<'static, Vec<(u64, Arc<Owner>)>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry_add(owner: &Arc<Owner>) {
    registry().push((SCOPE.with(std::cell::Cell::get), Arc::clone(owner)));
}

fn registry_remove(owner: &Arc<Owner>) {
    registry().retain(|(_, o)| !Arc::ptr_eq(o, owner));
}

/// Tag the cluster locks this thread takes from now on with `scope`.
pub fn set_scope(scope: u64) {
    SCOPE.with(|s| s.set(scope));
}

/// The time limit of `scope` passed: its locks stay held and refreshed (its ONTAP request in
/// flight keeps the protection) but `check_held` fails, so the worker changes nothing more and
/// releases them when it returns. Returns the paths concerned.
pub fn abandon_scope(scope: u64) -> Vec<PathBuf> {
    registry()
        .iter()
        .filter(|(s, _)| *s == scope)
        .map(|(_, o)| {
            o.abandon();
            o.path.clone()
        })
        .collect()
}

/// Whether `path` is on a FUSE filesystem (pmxcfs is mounted as `fuse` on /etc/pve).
pub fn on_fuse(path: &Path) -> bool {
    let Ok(path) = fs::canonicalize(path) else {
        return false;
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let mut best: HashMap<usize, bool> = HashMap::new();
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let mount = unescape_mount(mount);
        if path.starts_with(&mount) {
            best.insert(mount.len(), fstype.starts_with("fuse"));
        }
    }
    best.iter()
        .max_by_key(|(len, _)| **len)
        .is_some_and(|(_, fuse)| *fuse)
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);

    impl Tmp {
        fn new(tag: &str) -> Tmp {
            let p = std::env::temp_dir().join(format!(
                "pos-clock-{tag}-{}-{:?}",
                std::process::id(),
                thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(p.join("etc/pve/priv")).unwrap();
            Tmp(p)
        }

        fn site(&self) -> Site {
            Site {
                pve_dir: self.0.join("etc/pve"),
                corosync_conf: self.0.join("etc/corosync/corosync.conf"),
            }
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::set_permissions(self.0.join("etc/pve"), fs::Permissions::from_mode(0o755));
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    fn fast() -> Timing {
        Timing {
            expiry: Duration::from_millis(400),
            refresh: Duration::from_secs(3600),
            poll: Duration::from_millis(20),
        }
    }

    fn take(site: &Site, name: &str, purpose: &str, ms: u64, t: &Timing) -> Result<ClusterLock> {
        ClusterLock::acquire(site, name, purpose, soon(ms), t).map(|l| l.unwrap())
    }

    #[test]
    fn a_host_without_pve_priv_has_no_cluster_lock() {
        let t = Tmp::new("absent");
        fs::remove_dir(t.0.join("etc/pve/priv")).unwrap();
        assert_eq!(t.site().backing().unwrap(), Backing::Absent);
        assert!(ClusterLock::acquire(&t.site(), "x", "p", soon(10), &fast())
            .unwrap()
            .is_none());
        assert!(!t.site().lock_dir().exists());
    }

    #[test]
    fn a_cluster_node_without_mounted_pmxcfs_fails_closed() {
        let t = Tmp::new("offline");
        fs::create_dir_all(t.0.join("etc/corosync")).unwrap();
        fs::write(t.0.join("etc/corosync/corosync.conf"), "totem {}\n").unwrap();
        fs::remove_dir(t.0.join("etc/pve/priv")).unwrap();
        let e = ClusterLock::acquire(&t.site(), "x", "p", soon(10), &fast()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("cluster file system not online"), "{msg}");
        assert!(
            msg.contains(&t.site().pve_dir.display().to_string()),
            "{msg}"
        );
        assert!(!t.site().lock_dir().exists(), "nothing created");
    }

    #[test]
    fn quorum_is_read_from_the_write_bit_of_pve_dir() {
        let t = Tmp::new("quorum");
        assert_eq!(t.site().quorate(), Some(true));
        fs::set_permissions(t.0.join("etc/pve"), fs::Permissions::from_mode(0o555)).unwrap();
        assert_eq!(t.site().quorate(), Some(false));
        fs::remove_dir_all(t.0.join("etc")).unwrap();
        assert_eq!(t.site().quorate(), None);
    }

    #[test]
    fn contention_names_the_holder_and_release_leaves_nothing() {
        let t = Tmp::new("busy");
        let site = t.site();
        let held = take(
            &site,
            "pve-ontap-snapshot-S1",
            "storage restore",
            1000,
            &fast(),
        )
        .unwrap();
        let e = take(&site, "pve-ontap-snapshot-S1", "other", 100, &fast()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("pve-ontap-snapshot-S1 within"), "{msg}");
        assert!(
            msg.contains(&format!(
                "held by pid {} on node {} since ",
                std::process::id(),
                site.node_name()
            )),
            "{msg}"
        );
        assert!(
            msg.contains(": storage restore (lock directory exists"),
            "{msg}"
        );
        held.check_held().unwrap();
        drop(held);
        let left: Vec<_> = fs::read_dir(site.lock_dir()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        take(&site, "pve-ontap-snapshot-S1", "again", 100, &fast()).unwrap();
    }

    #[test]
    fn an_expired_lock_taken_over_by_another_holder_is_never_removed_by_the_first() {
        let t = Tmp::new("expired");
        let site = t.site();
        let first = take(&site, "L", "first", 1000, &fast()).unwrap();
        // The first holder stalls past the expiry; a second holder's unlock request removes it.
        thread::sleep(Duration::from_millis(500));
        let second = take(&site, "L", "second", 2000, &fast()).unwrap();
        // Same path, new generation: the first holder's proof fails and it leaves the lock alone.
        assert!(!first.owner.refresh());
        let e = first.check_held().unwrap_err();
        assert!(e.to_string().starts_with("lost cluster lock"), "{e}");
        drop(first);
        assert!(second.path().is_dir(), "the second holder's lock must stay");
        second.check_held().unwrap();
        assert!(second.owner.refresh());
        drop(second);
        assert!(!site.lock_dir().join("L").exists());
    }

    #[test]
    fn a_holder_that_lost_its_lock_unnoticed_leaves_the_new_holders_lock_and_note() {
        let t = Tmp::new("unnoticed");
        let site = t.site();
        let first = take(&site, "N", "first", 1000, &fast()).unwrap();
        thread::sleep(Duration::from_millis(500));
        let second = take(&site, "N", "second", 2000, &fast()).unwrap();
        // The first never refreshed since: it only finds out at its release.
        drop(first);
        assert!(second.path().is_dir());
        let note = fs::read_to_string(note_path(second.path())).unwrap();
        assert!(note.trim_end().ends_with(": second"), "{note}");
        drop(second);
        assert_eq!(fs::read_dir(site.lock_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_recreated_without_expiry_is_not_ours_either() {
        let t = Tmp::new("recreated");
        let site = t.site();
        let l = take(&site, "R", "p", 1000, &fast()).unwrap();
        fs::remove_dir(l.path()).unwrap();
        fs::create_dir(l.path()).unwrap();
        let path = l.path().to_path_buf();
        drop(l);
        assert!(
            path.is_dir(),
            "a directory whose ownership is in doubt stays"
        );
    }

    #[test]
    fn the_refresher_keeps_a_stalled_holder_alive() {
        let t = Tmp::new("refresh");
        let site = t.site();
        let timing = Timing {
            refresh: Duration::from_millis(50),
            ..fast()
        };
        let l = take(&site, "F", "p", 1000, &timing).unwrap();
        thread::sleep(Duration::from_millis(900));
        // More than twice the expiry has passed, but refreshes kept it young.
        let e = take(&site, "F", "q", 300, &timing).unwrap_err();
        assert!(e.to_string().contains("held by pid"), "{e}");
        l.check_held().unwrap();
    }

    #[test]
    fn an_abandoned_scope_stops_changes_but_keeps_the_lock_until_its_worker_returns() {
        let t = Tmp::new("abandon");
        let site = t.site();
        let (tx, rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let s2 = site.clone();
        let worker = thread::spawn(move || {
            set_scope(991);
            let l = take(&s2, "A", "hook", 1000, &fast()).unwrap();
            tx.send(()).unwrap();
            go_rx.recv().unwrap();
            let checked = l.check_held();
            drop(l);
            checked
        });
        rx.recv().unwrap();
        assert!(abandon_scope(992).is_empty());
        assert_eq!(abandon_scope(991), vec![site.lock_dir().join("A")]);
        assert!(
            site.lock_dir().join("A").is_dir(),
            "kept while the worker runs"
        );
        go_tx.send(()).unwrap();
        let e = worker.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("time limit passed"), "{e}");
        assert!(
            !site.lock_dir().join("A").exists(),
            "released by the worker"
        );
    }

    #[test]
    fn on_pmxcfs_waiters_poll_once_a_second() {
        let t = Tmp::new("poll");
        let site = t.site();
        let timing = Timing::default();
        let held = ClusterLock::acquire_on(&site, Backing::Pmxcfs, "P", "h", soon(1000), &timing)
            .unwrap()
            .unwrap();
        let s2 = site.clone();
        let started = Instant::now();
        let waiter = thread::spawn(move || {
            let l = ClusterLock::acquire_on(&s2, Backing::Pmxcfs, "P", "w", soon(5000), &timing)
                .unwrap()
                .unwrap();
            let took = started.elapsed();
            drop(l);
            took
        });
        thread::sleep(Duration::from_millis(200));
        drop(held);
        let took = waiter.join().unwrap();
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_millis(2500),
            "{took:?}"
        );
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/etc/pve"), "/etc/pve");
    }
}
