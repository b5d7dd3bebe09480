//! The VM commands (`vm ...`): per-guest disk snapshots as ONTAP file clones next to each disk —
//! create (minimal pause window), list, delete, restore, prune — for QEMU VMs and LXC containers.
//!
//! A snapshot set is every `<stem>-snapshot-[<label>-]<ts>.<ext>` file (`model::names`) with one
//! timestamp in the guest's images directories on the ONTAP storages of its disks; the original
//! tool's files (no label) are sets too. Submodules: `lookup` (guest, disks, storages, listings),
//! `create`, `list`, `delete`, `restore`, `prune`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::retention::Retention;
use crate::ops::quiesce::Consistency;
use crate::ops::rescan::RescanMode;
use crate::ops::resolve::Resolved;
use crate::ops::Backends;
use crate::sys::paths::Paths;

mod create;
mod delete;
mod list;
mod lookup;
mod partial;
mod prune;
mod restore;

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub consistency: Consistency,
    pub label: Option<String>,
    /// Disks on non-ONTAP storages are an error instead of being skipped.
    pub strict: bool,
    /// Run `qm rescan` / `pct rescan` afterwards (deferred while the config is locked).
    pub rescan: bool,
    /// Bound on the pause, freeze or shutdown window (None: the default of the action).
    pub max_pause: Option<Duration>,
}

/// One disk of a snapshot set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotDisk {
    /// Config key (`scsi0`, `efidisk0`, `rootfs`, `mp0`, ...); None for a set found only by name.
    pub key: Option<String>,
    pub storage: String,
    /// Volume id of the disk, e.g. `ONTAP01:100/vm-100-disk-0.qcow2`.
    pub disk: String,
    /// Volume id of the snapshot file.
    pub snapshot: String,
    pub size: Option<u64>,
}

/// A disk that was not snapshotted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedDisk {
    pub key: String,
    pub volume: String,
    pub reason: String,
}

/// All disk snapshots of one guest taken at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSet {
    pub vmid: u32,
    /// `YYYY-mm-dd_HH:MM:SS+0000`.
    pub timestamp: String,
    pub label: Option<String>,
    pub disks: Vec<SnapshotDisk>,
    pub skipped: Vec<SkippedDisk>,
    /// Human notes (e.g. "guest was stopped, cloned without suspend").
    pub notes: Vec<String>,
    /// Why the set is not a valid snapshot (a run that died before it finished made it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Only this disk (config key).
    pub disk: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub vmid: u32,
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    pub dry_run: bool,
}

/// What the workflows take from the environment; tests replace the clock, the signal check and
/// the storage resolution.
pub(crate) struct Ctx<'a> {
    pub now: OffsetDateTime,
    /// `Some("SIGTERM")` once a shielded signal arrived.
    pub interrupt: &'a (dyn Fn() -> Option<String> + Sync),
    pub resolve: fn(&dyn Backends, &str) -> Result<Resolved>,
    /// How often the pause window checks for signals while clones run.
    pub poll: Duration,
    /// Where the records of runs in progress live (`partial`); None: no records.
    pub partial_dir: Option<PathBuf>,
}

impl Ctx<'static> {
    fn live() -> Ctx<'static> {
        Ctx {
            now: OffsetDateTime::now_utc(),
            interrupt: &crate::sys::signals::interrupted,
            resolve: crate::ops::resolve::resolve,
            poll: Duration::from_millis(50),
            partial_dir: Paths::detect().ok().map(|p| p.state_dir.join(partial::DIR)),
        }
    }
}

/// Snapshot every ONTAP-backed disk of a guest (file clones next to the disks), with the pause or
/// freeze window holding nothing but the clone requests; then, with `opts.rescan`, register them
/// with a rescan using the default paths (`create_with_rescan` takes the configured ones).
pub fn create(b: &dyn Backends, vmid: u32, opts: &CreateOptions) -> Result<SnapshotSet> {
    create_with_rescan(b, vmid, opts, &Paths::default(), RescanMode::Auto)
}

/// `create`, with the rescan (when `opts.rescan`) using these paths (`qm`, `pct`, node marker,
/// config lock directories) and deferred as `mode` says.
pub fn create_with_rescan(
    b: &dyn Backends,
    vmid: u32,
    opts: &CreateOptions,
    paths: &Paths,
    mode: RescanMode,
) -> Result<SnapshotSet> {
    create::run(b, vmid, opts, (paths, mode), &Ctx::live())
}

/// The guest's snapshot sets, newest first.
pub fn list(b: &dyn Backends, vmid: u32) -> Result<Vec<SnapshotSet>> {
    Ok(list::scan(b, vmid, &Ctx::live())?.snapshot_sets())
}

/// Delete one snapshot set's files.
pub fn delete(b: &dyn Backends, vmid: u32, timestamp: &str) -> Result<SnapshotSet> {
    delete::run(b, vmid, timestamp, None, &Ctx::live())
}

/// `delete` of the files of one label only (a set shared by several labels needs it).
pub fn delete_label(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    label: Option<&str>,
) -> Result<SnapshotSet> {
    delete::run(b, vmid, timestamp, label, &Ctx::live())
}

/// Clone a set's files back over the disks of the stopped guest.
/// The caller has already obtained `--yes` or a terminal confirmation.
pub fn restore(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    opts: &RestoreOptions,
) -> Result<SnapshotSet> {
    restore::run(b, vmid, timestamp, opts, &Ctx::live())
}

/// Apply retention to the guest's snapshot sets (per label, or only `label`).
pub fn prune(
    b: &dyn Backends,
    vmid: u32,
    retention: Retention,
    label: Option<&str>,
    dry_run: bool,
) -> Result<PruneReport> {
    prune::run(b, vmid, retention, label, dry_run, &Ctx::live())
}
pub mod recover;
