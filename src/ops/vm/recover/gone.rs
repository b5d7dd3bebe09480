//! A guest Proxmox no longer lists (destroyed, or its config lost): found again through the
//! configuration a volume snapshot of the storage that held its disks recorded.
//!
//! `qm destroy` removes the guest's config and every volume it owns, the disk sets in
//! `images/<vmid>/` included, so only a volume snapshot still holds its disks. Which storage to
//! look in cannot be guessed without reading every storage's snapshots: the user names it
//! (`--storage`), and the snapshot's copy of `.pve-ontap-snapshot/guests/<vmid>.json` (one
//! request) gives the guest's type, node, name and disks.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::model::names as naming;
use crate::ops::disks;
use crate::ops::manifest::{self, GuestRecord};
use crate::ops::vm::list::{self, Scan};
use crate::ops::vm::lookup::{self, Target};
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::pve::Guest;

/// The scan of guest `vmid` for a recovery from snapshot `name`: the live guest when Proxmox
/// lists it; otherwise, with `storage`, the guest as snapshot `name` of that storage recorded it.
/// Returns the scan and whether the guest is gone.
pub(crate) fn scan(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    storage: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<(Scan, bool)> {
    let found = lookup::load(b.pve()?.as_ref(), vmid);
    match (found, storage) {
        (Ok(target), _) => Ok((list::scan_target(b, target, ctx)?, false)),
        (Err(e), Some(storage)) if matches!(e.root(), Error::NotFound { .. }) => {
            let target = recorded(b, vmid, name, storage, ctx)?;
            Ok((list::scan_target(b, target, ctx)?, true))
        }
        (Err(e), None) if matches!(e.root(), Error::NotFound { .. }) => Err(Error::Step {
            step: format!(
                "look up guest {vmid} (to recover a guest that no longer exists, name the \
                 storage that held its disks with --storage; the volume snapshot '{name}' must \
                 hold its recorded configuration)"
            ),
            cause: Box::new(e),
        }),
        (Err(e), _) => Err(e),
    }
}

/// The guest as volume snapshot `name` of `storage` recorded it.
fn recorded(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    storage: &str,
    ctx: &Ctx<'_>,
) -> Result<Target> {
    if naming::parse_timestamp(name).is_some() {
        return Err(Error::Refused(format!(
            "guest {vmid} no longer exists, and '{name}' is a disk set: destroying a guest \
             removes its disk sets with its disks; name a volume snapshot of storage \
             '{storage}' instead (see 'storage list --storage {storage}')"
        )));
    }
    let stores = lookup::resolve_all(b, ctx, &BTreeSet::from([storage.to_string()]))?;
    let store = stores.get(storage).ok_or_else(|| {
        Error::Internal(format!("storage '{storage}' was resolved but is missing"))
    })?;
    let path = manifest::in_snapshot(name, &store.volume_path(&manifest::export_path(vmid)));
    let what = format!(
        "'{path}' on volume '{}' (storage '{storage}')",
        store.volume.name
    );
    match manifest::read_record(store, &path)? {
        Some(record) => target_of(&record, &what),
        None => Err(Error::NotFound {
            what: format!(
                "configuration of guest {vmid} in snapshot '{name}' of storage '{storage}' \
                 (looked for {what}; guest {vmid} no longer exists in Proxmox VE, and only a \
                 snapshot this tool took with its configuration can bring it back)"
            ),
        }),
    }
}

/// A guest as its record describes it (stopped: it does not exist).
fn target_of(record: &GuestRecord, what: &str) -> Result<Target> {
    let guest_type = record.guest_type().ok_or_else(|| {
        Error::Refused(format!(
            "{what} names guest type '{}', neither qemu nor lxc",
            record.guest_type
        ))
    })?;
    let config = record.config.clone();
    let disks = disks::guest_disks(guest_type, &config);
    Ok(Target {
        guest: Guest {
            vmid: record.vmid,
            node: record.node.clone(),
            guest_type,
            name: record.name.clone(),
            status: "stopped".into(),
        },
        config,
        disks,
    })
}
