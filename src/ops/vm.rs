//! The VM commands (DESIGN §3): per-guest disk snapshots as ONTAP file clones next to each disk —
//! create (minimal pause window), list, delete, restore, prune — for QEMU VMs and LXC containers.

use serde::Serialize;

use crate::error::Result;
use crate::ops::quiesce::Consistency;
use crate::ops::retention::Retention;
use crate::ops::Backends;

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub consistency: Consistency,
    pub label: Option<String>,
    /// Disks on non-ONTAP storages are an error instead of being skipped.
    pub strict: bool,
    /// Run `qm rescan` / `pct rescan` afterwards (deferred while the config is locked).
    pub rescan: bool,
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

pub fn create(b: &dyn Backends, vmid: u32, opts: &CreateOptions) -> Result<SnapshotSet> {
    let _ = (b, vmid, opts);
    todo!("ops::vm::create")
}

pub fn list(b: &dyn Backends, vmid: u32) -> Result<Vec<SnapshotSet>> {
    let _ = (b, vmid);
    todo!("ops::vm::list")
}

pub fn delete(b: &dyn Backends, vmid: u32, timestamp: &str) -> Result<SnapshotSet> {
    let _ = (b, vmid, timestamp);
    todo!("ops::vm::delete")
}

/// The caller has already obtained `--yes` or a terminal confirmation.
pub fn restore(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    opts: &RestoreOptions,
) -> Result<SnapshotSet> {
    let _ = (b, vmid, timestamp, opts);
    todo!("ops::vm::restore")
}

pub fn prune(
    b: &dyn Backends,
    vmid: u32,
    retention: Retention,
    label: Option<&str>,
    dry_run: bool,
) -> Result<PruneReport> {
    let _ = (b, vmid, retention, label, dry_run);
    todo!("ops::vm::prune")
}
