//! The storage commands (DESIGN §3): create, list, delete, restore, mount, unmount, show, prune of
//! ONTAP volume snapshots behind one Proxmox storage.

use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::ontap::Volume;
use crate::ops::retention::Retention;
use crate::ops::Backends;

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `snapmirror_label` (also the retention group).
    pub label: Option<String>,
    /// Expiry from now (ONTAP `expiry_time`).
    pub expiry: Option<Duration>,
    /// fs-freeze the running guests with a disk on this storage around the snapshot.
    pub freeze: bool,
}

/// One snapshot as the commands report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRow {
    pub storage: String,
    pub volume: String,
    pub name: String,
    pub uuid: String,
    pub create_time: String,
    pub size: Option<u64>,
    pub label: Option<String>,
    pub expiry_time: Option<String>,
    pub comment: Option<String>,
    /// Made by this tool (or the original): name starts with `proxmox_snapshot_`.
    pub managed: bool,
    /// FlexClone volumes created from this snapshot.
    pub clones: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore even while guests with a disk on the storage run.
    pub force: bool,
    /// Take a safety snapshot first (default true).
    pub safety_snapshot: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub storage: String,
    pub volume: String,
    pub snapshot: String,
    pub safety_snapshot: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MountOptions {
    /// Proxmox storage id for the clone (default `<ID>-CLONE`, made unique).
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountReport {
    pub storage: String,
    pub parent_storage: String,
    pub snapshot: String,
    pub volume: String,
    pub junction_path: String,
    pub server: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmountReport {
    pub storage: String,
    pub volume: String,
    pub parent_snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowReport {
    pub storage: String,
    pub server: Option<String>,
    pub export: Option<String>,
    pub volume: Volume,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub retention: Retention,
    /// Only snapshots with this label (else every label group separately).
    pub label: Option<String>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub storage: String,
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    pub dry_run: bool,
}

pub fn create(b: &dyn Backends, storage: &str, opts: &CreateOptions) -> Result<SnapshotRow> {
    let _ = (b, storage, opts);
    todo!("ops::storage::create")
}

pub fn list(b: &dyn Backends, storage: &str, all: bool) -> Result<Vec<SnapshotRow>> {
    let _ = (b, storage, all);
    todo!("ops::storage::list")
}

pub fn delete(b: &dyn Backends, storage: &str, snapshot: &str) -> Result<SnapshotRow> {
    let _ = (b, storage, snapshot);
    todo!("ops::storage::delete")
}

/// The caller has already obtained `--yes` or a terminal confirmation.
pub fn restore(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let _ = (b, storage, snapshot, opts);
    todo!("ops::storage::restore")
}

pub fn mount(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &MountOptions,
) -> Result<MountReport> {
    let _ = (b, storage, snapshot, opts);
    todo!("ops::storage::mount")
}

pub fn unmount(b: &dyn Backends, storage: &str) -> Result<UnmountReport> {
    let _ = (b, storage);
    todo!("ops::storage::unmount")
}

pub fn show(b: &dyn Backends, storage: &str) -> Result<ShowReport> {
    let _ = (b, storage);
    todo!("ops::storage::show")
}

pub fn prune(b: &dyn Backends, storage: &str, opts: &PruneOptions) -> Result<PruneReport> {
    let _ = (b, storage, opts);
    todo!("ops::storage::prune")
}
