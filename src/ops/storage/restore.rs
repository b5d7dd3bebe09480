//! `storage restore`: whole-volume SnapRestore, planned first (the newer snapshots ONTAP discards)
//! and guarded: refused while guests run (unless forced), clones or unexpired snapshots are in the way.

use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::ops::resolve::{resolve, Resolved};
use crate::ops::Backends;

use super::{
    clones_of, created, discards_phrase, find_snapshot, guests_on_storages, locked_until,
    on_volume, parse_time, snapshots, storages_on_volume, validate_snapshot_name, RestoreOptions,
    RestorePlan, RestoreReport,
};

/// Requests: the resolution, the snapshots listing, the Proxmox storages, the guest list and the
/// config of each running guest, the clones query. Nothing changes.
pub(super) fn plan(
    b: &dyn Backends,
    storage: &str,
    name: &str,
    opts: &RestoreOptions,
) -> Result<RestorePlan> {
    plan_resolved(b, storage, name, opts).map(|(_, plan)| plan)
}

/// Requests: those of `plan`, then the restore PATCH (and its job).
pub(super) fn restore(
    b: &dyn Backends,
    storage: &str,
    name: &str,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let (r, plan) = plan_resolved(b, storage, name, opts)?;
    if let Some(confirmed) = &opts.confirmed_discards {
        let unconfirmed: Vec<&str> = plan
            .discarded_snapshots
            .iter()
            .filter(|s| !confirmed.contains(s))
            .map(String::as_str)
            .collect();
        if !unconfirmed.is_empty() {
            return Err(Error::Refused(format!(
                "snapshot(s) {} of storage '{storage}' appeared after the confirmation and are \
                 newer than '{name}': the restore would discard them too; nothing was changed, \
                 run the restore again to confirm the new list",
                quoted(&unconfirmed)
            )));
        }
    }
    if !plan.running_guests.is_empty() {
        log::warn!(
            "restoring storage '{storage}' under running guests {} (--force)",
            plan.running_guests.join(", ")
        );
    }
    if !plan.discarded_snapshots.is_empty() {
        log::warn!(
            "restoring storage '{storage}' to snapshot '{name}' discards {}",
            discards_phrase(&plan.discarded_snapshots)
        );
    }

    if plan.snapmirror_references.is_empty() {
        r.ontap
            .restore_volume(&r.volume.uuid, name)
            .step_with(|| on_volume(&r, &format!("restore snapshot '{name}'")))?;
    } else {
        log::warn!(
            "restoring storage '{storage}' past SnapMirror reference snapshot(s) {} \
             (--discard-snapmirror-references): resynchronise those relationships afterwards",
            plan.snapmirror_references.join(", ")
        );
        r.ontap
            .restore_volume_forced(&r.volume.svm_name, &r.volume.name, name)
            .step_with(|| {
                on_volume(
                    &r,
                    &format!("restore snapshot '{name}' (volume snapshot restore -force)"),
                )
            })?;
    }
    log::info!("storage '{storage}' restored to snapshot '{name}'");
    Ok(RestoreReport {
        storage: plan.storage,
        volume: plan.volume,
        snapshot: plan.snapshot,
        discarded_snapshots: plan.discarded_snapshots,
        running_guests: plan.running_guests,
        notes: plan.notes,
    })
}

fn plan_resolved(
    b: &dyn Backends,
    storage: &str,
    name: &str,
    opts: &RestoreOptions,
) -> Result<(Resolved, RestorePlan)> {
    validate_snapshot_name(name)?;
    let r = resolve(b, storage)?;
    let before = snapshots(&r)?;
    let target = find_snapshot(&r, &before, name)?;

    // A volume SnapRestore discards every snapshot newer than the target (oldest first here).
    let target_time = created(&target);
    let newer: Vec<&str> = before
        .iter()
        .filter(|s| s.name != target.name && created(s) > target_time)
        .map(|s| s.name.as_str())
        .collect();

    // ONTAP cannot discard a newer snapshot that is still locked (snapshot locking).
    let now = OffsetDateTime::now_utc();
    if let Some((s, until)) = before
        .iter()
        .filter(|s| newer.contains(&s.name.as_str()))
        .find_map(|s| locked_until(s, now).map(|t| (s, t)))
    {
        return Err(Error::Refused(format!(
            "storage '{storage}' cannot be restored to '{name}': a restore discards every newer \
             snapshot, and ONTAP cannot discard the newer snapshot '{}': it is locked until {until} \
             (snapshot locking). To get guests back from '{name}' without discarding anything, \
             mount it as a storage: `pve-ontap-snapshot storage mount --storage {storage} \
             --snapshot {name}`; nothing was changed",
            s.name
        )));
    }

    let pve = b.pve()?;
    let storages = storages_on_volume(pve.as_ref(), &r)?;
    let running = guests_on_storages(pve.as_ref(), &storages, |g| g.status == "running")?;
    let running_labels: Vec<String> = running.iter().map(|g| g.label()).collect();
    let mut notes = Vec::new();
    if !running.is_empty() {
        if !opts.force {
            return Err(Error::Refused(format!(
                "guests with a disk on {} are running: {}; a restore reverts every disk on volume \
                 '{}' under them. Stop them first, or pass --force to restore anyway",
                storages_phrase(&storages),
                running_labels.join(", "),
                r.volume.name
            )));
        }
        notes.push(format!(
            "restoring under running guests {} (--force): they see their disks change underneath",
            running_labels.join(", ")
        ));
    }

    // ONTAP refuses to revert past a snapshot that backs a FlexClone.
    let clones = clones_of(&r)?;
    let blocking: Vec<String> = clones
        .iter()
        .filter(|v| {
            v.parent_snapshot
                .as_deref()
                .is_some_and(|p| newer.contains(&p))
        })
        .map(|v| {
            format!(
                "'{}' (from snapshot '{}')",
                v.name,
                v.parent_snapshot.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if !blocking.is_empty() {
        return Err(Error::Refused(format!(
            "FlexClone volume(s) {} depend on snapshots newer than '{name}' of storage '{storage}', \
             which a restore would discard; unmount those clone storages first \
             (`pve-ontap-snapshot storage unmount --storage <clone storage>`)",
            blocking.join(", ")
        )));
    }

    // ... and past a snapshot that has not expired yet.
    let locked: Vec<String> = before
        .iter()
        .filter(|s| newer.contains(&s.name.as_str()))
        .filter_map(|s| {
            let t = s.expiry_time.as_deref()?;
            (parse_time(t)? > now).then(|| format!("'{}' (expires at {t})", s.name))
        })
        .collect();
    if !locked.is_empty() {
        return Err(Error::Refused(format!(
            "snapshot(s) {} of storage '{storage}' are newer than '{name}' and have not expired; a \
             restore would have to discard them, which ONTAP refuses before their expiry",
            locked.join(", ")
        )));
    }

    // ... and, through REST, past a snapshot that SnapMirror uses as its reference: `1638480`
    // "Failed to promote snapshot ... because one or more newer snapshots are currently used as a
    // reference snapshot for data protection operations." (ONTAP swagger 9.19.1, volume PATCH
    // table). The CLI's `volume snapshot restore -force` restores anyway and the relationships
    // fail until resynchronised (netapp.ontap na_ontap_volume.py `force_restore` documentation).
    let snapmirror: Vec<String> = before
        .iter()
        .filter(|s| newer.contains(&s.name.as_str()))
        .filter(|s| s.owners.iter().any(|o| is_snapmirror_owner(o)))
        .map(|s| s.name.clone())
        .collect();
    if !snapmirror.is_empty() {
        let names = quoted(&snapmirror.iter().map(String::as_str).collect::<Vec<_>>());
        if !opts.discard_snapmirror_references {
            return Err(Error::Refused(format!(
                "snapshot(s) {names} of storage '{storage}' are newer than '{name}' and are \
                 SnapMirror references (owners: snapmirror); a restore discards them and breaks \
                 those SnapMirror relationships until they are resynchronised. Nothing was \
                 changed; pass --discard-snapmirror-references to restore anyway (ONTAP's \
                 `volume snapshot restore -force`)"
            )));
        }
        notes.push(format!(
            "discarding SnapMirror reference snapshot(s) {names} \
             (--discard-snapmirror-references): resynchronise the SnapMirror relationships of \
             volume '{}' afterwards",
            r.volume.name
        ));
    }

    let plan = RestorePlan {
        storage: r.storage.storage.clone(),
        volume: r.volume.name.clone(),
        snapshot: name.to_string(),
        discarded_snapshots: newer.iter().map(|s| s.to_string()).collect(),
        running_guests: running_labels,
        snapmirror_references: snapmirror,
        notes,
    };
    Ok((r, plan))
}

/// An `owners` entry of SnapMirror: `snapmirror` (a reference snapshot) or `snapmirror_dependent`
/// (ONTAP swagger `snapshot.owners` enum).
fn is_snapmirror_owner(owner: &str) -> bool {
    owner == "snapmirror" || owner == "snapmirror_dependent"
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "storage 'A'" or "storages 'A', 'B' (all on this volume)".
fn storages_phrase(ids: &[String]) -> String {
    match ids {
        [one] => format!("storage '{one}'"),
        _ => format!(
            "storages {} (all on this volume)",
            quoted(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        ),
    }
}
