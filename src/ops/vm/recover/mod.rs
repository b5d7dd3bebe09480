//! Guest recovery from any snapshot (disk set or volume snapshot): restore one guest from a
//! storage snapshot without touching the others, show the configuration a snapshot recorded,
//! clone a new guest from a snapshot, attach one disk of a snapshot to a helper guest.
//!
//! Every command does all its lookups first, takes the storage lock of each storage it changes,
//! and removes what it made when a step fails, naming the disk.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result, ResultExt};
use crate::ops::rescan::{self, RescanMode};
use crate::ops::Backends;
use crate::pve::Guest;
use crate::sys::cluster_lock::Timing;
use crate::sys::lock::StorageLocks;
use crate::sys::paths::Paths;

mod attach;
mod clone;
mod find;
mod gone;
mod list;
pub mod newconfig;
pub mod plan;
mod restore;
mod show;

pub use list::{ContainedDisk, StorageSnapshotEntry};
pub use restore::PRE_RESTORE;
pub use show::ShownConfig;

use super::Ctx;

/// How long a recovery command waits for a storage lock held by someone else.
pub const LOCK_WAIT: Duration = Duration::from_secs(60);

/// What a recovery command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub vmid: u32,
    pub snapshot: String,
    /// `storage` or `disk set`.
    pub kind: &'static str,
    pub storages: Vec<String>,
    /// When the snapshot was taken.
    pub created: String,
    /// `restored`, `cloned`, `attached`, `detached`.
    pub action: String,
    pub disks: Vec<RecoveredDisk>,
    /// Time stamp of the `pre-restore` disk set that keeps the disks as they were.
    pub kept: Option<String>,
    /// The guest made (clone) or changed (attach/detach).
    pub new_vmid: Option<u32>,
    /// `snapshot` or `current`: which configuration a clone got.
    pub config_source: Option<String>,
    pub notes: Vec<String>,
}

/// One disk a recovery command wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveredDisk {
    /// Config key (of the guest restored, or of the guest made or changed).
    pub key: String,
    /// Volume id written.
    pub volume: String,
    /// Where it came from, relative to the volume root.
    pub source: String,
    pub size_before: Option<u64>,
    pub size: Option<u64>,
}

/// Options of `vm restore` from a storage snapshot.
#[derive(Debug, Clone, Default)]
pub struct StorageRestoreOptions {
    pub disk: Option<String>,
    pub choices: plan::Choices,
    /// Do not keep the current disks as a `pre-restore` set.
    pub no_keep: bool,
    pub rescan: bool,
}

/// Options of `vm clone`.
#[derive(Debug, Clone, Default)]
pub struct CloneOptions {
    pub new_vmid: u32,
    pub name: Option<String>,
    pub start: bool,
    /// Disks not in the snapshot are left out of the new guest.
    pub skip_missing: bool,
    /// Use the guest's configuration now even when the snapshot recorded one.
    pub current_config: bool,
    /// The storage whose volume snapshot holds a guest that no longer exists.
    pub storage: Option<String>,
}

/// Refuse unless the guest is stopped and not locked (restore and attach write its files).
pub(crate) fn ensure_stopped(b: &dyn Backends, guest: &Guest, why: &str) -> Result<()> {
    let vmid = guest.vmid;
    let status = b
        .pve()?
        .guest_status(guest)
        .step_with(|| format!("read the status of guest {vmid}"))?;
    if status.is_running() {
        let state = match status.qmpstatus.as_deref() {
            Some(q) if q != status.status => format!("{} ({q})", status.status),
            _ => status.status.clone(),
        };
        return Err(Error::Refused(format!(
            "guest {vmid} is {state}: {why}, so it must be stopped first ('qm shutdown {vmid}' \
             or 'pct shutdown {vmid}')"
        )));
    }
    if let Some(lock) = &status.lock {
        return Err(Error::Refused(format!(
            "guest {vmid} is locked ({lock}): {why}, so it needs a stopped guest without a \
             config lock"
        )));
    }
    Ok(())
}

/// Sort key of an ONTAP time stamp (offsets differ between clusters).
pub(crate) fn time_key(t: &str) -> i128 {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos())
        .unwrap_or_default()
}

/// The storage locks (node + cluster) of `storages`, taken in name order.
pub(crate) fn lock_all(paths: &Paths, storages: &[String], purpose: &str) -> Result<StorageLocks> {
    StorageLocks::acquire(
        &paths.places(),
        storages,
        purpose,
        Instant::now() + LOCK_WAIT,
        &Timing::default(),
    )
}

/// Where rescans and locks live, and whether to rescan.
pub struct Env<'a> {
    pub paths: &'a Paths,
    pub rescan: RescanMode,
}

/// The storage snapshots of the guest's storages (see `list::entries`).
pub fn storage_snapshots(
    b: &dyn Backends,
    vmid: u32,
    contents: bool,
) -> Result<(Vec<super::SnapshotSet>, Vec<StorageSnapshotEntry>)> {
    let ctx = Ctx::live();
    let scan = super::list::scan(b, vmid, &ctx)?;
    let storage = list::entries(&scan, contents)?;
    Ok((scan.snapshot_sets(), storage))
}

/// `vm restore` from a storage snapshot, then the rescan that refreshes Proxmox's sizes.
pub fn restore_storage(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    opts: &StorageRestoreOptions,
    env: &Env<'_>,
) -> Result<Recovery> {
    let ctx = Ctx::live();
    let mut out = restore::run(b, vmid, name, opts, env.paths, &ctx)?;
    if opts.rescan {
        rescan_note(b, vmid, env, &mut out.notes);
    }
    Ok(out)
}

fn rescan_note(b: &dyn Backends, vmid: u32, env: &Env<'_>, notes: &mut Vec<String>) {
    let guest = match b.pve().and_then(|p| p.guest(vmid)) {
        Ok(g) => g,
        Err(e) => {
            notes.push(format!("rescan skipped: {e}"));
            return;
        }
    };
    match rescan::rescan(env.paths, &guest, env.rescan) {
        Ok(o) => notes.push(o.note()),
        Err(e) => notes.push(format!(
            "rescan failed ({e}); run '{} rescan --vmid {vmid}' on node {}",
            rescan::command_for(env.paths, guest.guest_type).display(),
            guest.node
        )),
    }
}

/// `vm show-config`: the configuration a snapshot recorded for the guest.
pub fn show_config(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    storage: Option<&str>,
) -> Result<ShownConfig> {
    show::run(b, vmid, name, storage, &Ctx::live())
}

/// `vm clone`: a new guest from a snapshot of this one.
pub fn clone(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    opts: &CloneOptions,
    env: &Env<'_>,
) -> Result<Recovery> {
    clone::run(
        b,
        vmid,
        name,
        opts,
        env.paths,
        &Ctx::live(),
        &newconfig::SystemEntropy,
    )
}

/// `vm attach`: one disk of a snapshot as an unused disk of a helper guest.
pub fn attach(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    disk: &str,
    helper: u32,
    env: &Env<'_>,
) -> Result<Recovery> {
    attach::attach(b, vmid, name, disk, helper, env.paths, &Ctx::live())
}

/// `vm detach`: remove an attached disk (`unusedN`) from the helper and delete its file.
pub fn detach(b: &dyn Backends, helper: u32, key: &str, env: &Env<'_>) -> Result<Recovery> {
    attach::detach(b, helper, key, env.paths, &Ctx::live())
}
