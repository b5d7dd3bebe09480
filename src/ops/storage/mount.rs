//! `storage mount` (a snapshot as a FlexClone volume registered as a new Proxmox nfs storage) and
//! `storage unmount` (remove such a storage and its clone volume). Nothing is left half-made.

use time::macros::format_description;
use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::model::storage::clone_storage_id;
use crate::ontap::client::literal;
use crate::ontap::{NewFlexClone, Ontap, Volume};
use crate::ops::resolve::{resolve, validate_storage_id, Resolved};
use crate::ops::Backends;
use crate::pve::{NewNfsStorage, Pve, StorageConfig};

use super::{
    find_snapshot, guests_on_storages, on_volume, snapshots, validate_snapshot_name, MountOptions,
    MountReport, UnmountReport,
};

/// ONTAP's longest volume name.
const MAX_VOLUME_NAME: usize = 203;

/// Requests: the resolution, the snapshots listing, the Proxmox storage list, one volumes query
/// for the SVM's names and junctions, the FlexClone POST (and its job), an export-policy PATCH
/// only when the clone did not get the parent's, and the Proxmox storage POST.
pub(super) fn mount(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &MountOptions,
) -> Result<MountReport> {
    validate_snapshot_name(snapshot)?;
    if let Some(name) = &opts.name {
        validate_storage_id(name)?;
    }
    let r = resolve(b, storage)?;
    let snaps = snapshots(&r)?;
    find_snapshot(&r, &snaps, snapshot)?;

    // Pick both names before creating anything.
    let pve = b.pve()?;
    let names = pick_names(pve.as_ref(), &r, storage, opts)?;
    let clone = create_clone(&r, &names, snapshot)?;
    log::info!(
        "FlexClone volume '{}' created at {}",
        names.clone_name,
        names.junction
    );

    // Everything after this point undoes the clone on failure.
    let export_policy = match register(pve.as_ref(), &r, &clone, &names) {
        Ok(policy) => policy,
        Err(e) => {
            let cleanup = undo(pve.as_ref(), &r, &clone, &names);
            return Err(e).step(format!(
                "mount snapshot '{snapshot}' of storage '{storage}' ({cleanup})"
            ));
        }
    };

    let notes = config_notes(b, storage, &names.storage_id);
    Ok(MountReport {
        storage: names.storage_id,
        parent_storage: storage.to_string(),
        snapshot: snapshot.to_string(),
        volume: names.clone_name,
        junction_path: names.junction,
        server: names.server,
        export: names.export,
        export_policy,
        notes,
    })
}

/// What a mount creates, named before anything is created.
struct MountNames {
    /// The new Proxmox storage.
    storage_id: String,
    /// The FlexClone volume.
    clone_name: String,
    /// `/<clone_name>`.
    junction: String,
    /// The junction, plus the parent storage's path below its volume.
    export: String,
    /// The NFS server of the parent storage.
    server: String,
}

/// The first free `<ID>-CLONE[-n]` storage id (or `--name`, refused when taken) from one Proxmox
/// storage list, and a clone volume name free as a name and a junction on the SVM (one query).
fn pick_names(
    pve: &dyn Pve,
    r: &Resolved,
    storage: &str,
    opts: &MountOptions,
) -> Result<MountNames> {
    let existing = pve
        .storages()
        .step("list the Proxmox storages to pick the clone storage id")?;
    let taken = |id: &str| existing.iter().any(|s| s.storage.eq_ignore_ascii_case(id));
    let storage_id = match &opts.name {
        Some(name) if taken(name) => {
            return Err(Error::Refused(format!(
            "Proxmox storage '{name}' already exists; choose another --name (nothing was created)"
        )))
        }
        Some(name) => name.clone(),
        None => clone_storage_id(storage, taken),
    };
    let svm_volumes = r
        .ontap
        .volumes(&[("svm.name", literal(&r.volume.svm_name).as_str())])
        .step_with(|| {
            format!(
                "list the volumes of SVM '{}' to pick a unique clone name",
                r.volume.svm_name
            )
        })?;
    let clone_name = clone_volume_name(&r.volume.name, OffsetDateTime::now_utc(), |n| {
        let junction = format!("/{n}");
        svm_volumes.iter().any(|v| {
            v.name.eq_ignore_ascii_case(n)
                || v.nas_path
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(&junction))
        })
    });
    let junction = format!("/{clone_name}");
    let export = if r.prefix.is_empty() {
        junction.clone()
    } else {
        format!("{junction}/{}", r.prefix)
    };
    Ok(MountNames {
        storage_id,
        clone_name,
        junction,
        export,
        server: r.storage.server.clone().unwrap_or_default(),
    })
}

/// Create the FlexClone volume; when that fails, remove a clone the call may have left.
fn create_clone(r: &Resolved, names: &MountNames, snapshot: &str) -> Result<Volume> {
    let clone_name = &names.clone_name;
    let created = r.ontap.create_flexclone(&NewFlexClone {
        name: clone_name.clone(),
        svm_name: r.volume.svm_name.clone(),
        parent_volume: r.volume.name.clone(),
        parent_snapshot: snapshot.to_string(),
        nas_path: names.junction.clone(),
        export_policy: r.volume.export_policy.clone(),
    });
    created.or_else(|e| {
        // The clone may exist although the call failed (its job's answer was lost, or a
        // step after the POST failed); the name was free before, so any such volume is ours.
        let cleanup = remove_unfinished_clone(r.ontap.as_ref(), &r.volume.svm_name, clone_name);
        Err(e).step_with(|| {
            on_volume(
                r,
                &format!(
                    "create FlexClone volume '{clone_name}' from snapshot '{snapshot}'{cleanup}"
                ),
            )
        })
    })
}

/// Give the clone the parent's export policy (when it did not inherit it) and add the Proxmox
/// storage; returns the clone's export policy.
fn register(
    pve: &dyn Pve,
    r: &Resolved,
    clone: &Volume,
    names: &MountNames,
) -> Result<Option<String>> {
    let MountNames {
        storage_id,
        clone_name,
        export,
        server,
        ..
    } = names;
    let mut policy = clone.export_policy.clone();
    if let Some(parent_policy) = &r.volume.export_policy {
        if policy.as_deref() != Some(parent_policy.as_str()) {
            r.ontap
                .set_export_policy(&clone.uuid, parent_policy)
                .step_with(|| {
                    format!("set export policy '{parent_policy}' on clone volume '{clone_name}'")
                })?;
            policy = Some(parent_policy.clone());
        }
    }
    pve.create_nfs_storage(&NewNfsStorage {
        storage: storage_id.clone(),
        server: server.clone(),
        export: export.clone(),
        content: r.storage.content.clone(),
        options: r.storage.options.clone(),
        nodes: r.storage.nodes.clone(),
        more: r.storage.clone_options.clone(),
    })
    .step_with(|| format!("add nfs storage '{storage_id}' ({server}:{export}) to Proxmox VE"))?;
    Ok(policy)
}

/// Undo a mount that failed after the clone was created: the Proxmox storage (if this run added
/// it), then the clone volume. Returns what happened, with the commands to finish by hand.
fn undo(pve: &dyn Pve, r: &Resolved, clone: &Volume, names: &MountNames) -> String {
    let storage_id = &names.storage_id;
    let clone_name = &names.clone_name;
    // The storage id was free before: a storage by that name now is the one this run
    // added (its answer may have been lost); it goes before the volume behind it.
    let storage_note = match pve.storage(storage_id) {
        Ok(_) => match pve.delete_storage(storage_id) {
            Ok(()) => format!(", Proxmox storage '{storage_id}' was removed again"),
            Err(de) => format!(
                ", removing Proxmox storage '{storage_id}' again failed ({de}): remove it \
                 with `pvesm remove {storage_id}`"
            ),
        },
        Err(_) => String::new(),
    };
    match remove_clone_volume(r.ontap.as_ref(), clone) {
        Ok(_) if storage_note.is_empty() => {
            format!("clone volume '{clone_name}' was deleted again, nothing is left")
        }
        Ok(_) => format!("clone volume '{clone_name}' was deleted again{storage_note}"),
        Err(ce) => format!(
            "deleting clone volume '{clone_name}' again failed too ({ce}); delete it on \
             ONTAP: `volume unmount -vserver {svm} -volume {clone_name}; volume offline \
             -vserver {svm} -volume {clone_name}; volume delete -vserver {svm} -volume \
             {clone_name}`{storage_note}",
            svm = r.volume.svm_name
        ),
    }
}

/// A note (also logged) when the configuration cannot reach the new storage's ONTAP yet.
fn config_notes(b: &dyn Backends, storage: &str, storage_id: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if b.ontap(storage_id).is_err() {
        notes.push(format!(
            "the configuration has no ONTAP section for '{storage_id}'; add one (a copy of \
             [{storage}]) before `storage unmount --storage {storage_id}`"
        ));
    }
    for note in &notes {
        log::warn!("{note}");
    }
    notes
}

/// `<volume>_clone_<YYYYmmdd_HHMMSS>` (UTC), else with `_2`, `_3`, ... (the first one not taken);
/// only `[A-Za-z0-9_]`, at most 203 characters.
fn clone_volume_name(parent: &str, now: OffsetDateTime, taken: impl Fn(&str) -> bool) -> String {
    let ts = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]_[hour][minute][second]"
        ))
        .unwrap_or_default();
    let make = |n: u32| {
        let suffix = match n {
            1 => format!("_clone_{ts}"),
            n => format!("_clone_{ts}_{n}"),
        };
        let keep = MAX_VOLUME_NAME.saturating_sub(suffix.len());
        let base: String = parent.chars().take(keep).collect();
        format!("{base}{suffix}")
    };
    (1u32..)
        .map(make)
        .find(|n| !taken(n))
        .unwrap_or_else(|| make(1))
}

/// After a failed FlexClone create: delete the clone volume `name` if it exists after all.
/// Returns what to add to the error message.
fn remove_unfinished_clone(ontap: &dyn Ontap, svm: &str, name: &str) -> String {
    let found = ontap.volumes(&[
        ("name", literal(name).as_str()),
        ("svm.name", literal(svm).as_str()),
    ]);
    match found.map(|v| v.into_iter().find(|v| v.name == name)) {
        Ok(None) => String::new(),
        Ok(Some(clone)) => match remove_clone_volume(ontap, &clone) {
            Ok(_) => " (the clone volume was made after all and deleted again)".to_string(),
            Err(e) => format!(
                " (the clone volume was made after all; deleting it failed: {e}; delete it on                  ONTAP: `volume unmount -vserver {svm} -volume {name}; volume offline -vserver                  {svm} -volume {name}; volume delete -vserver {svm} -volume {name}`)"
            ),
        },
        Err(e) => format!(
            " (whether the clone volume was made is unknown: {e}; look for volume '{name}' on              SVM {svm})"
        ),
    }
}

/// Unjunction and delete a clone volume: with `force` (skip the recovery queue) from ONTAP 9.12,
/// else without it and then purged from the recovery queue when the client can. Returns notes.
fn remove_clone_volume(ontap: &dyn Ontap, clone: &Volume) -> Result<Vec<String>> {
    let force = ontap
        .version()
        .ok()
        .flatten()
        .is_some_and(|v| v.at_least(9, 12));
    ontap
        .unmount_volume(&clone.uuid)
        .step_with(|| format!("unjunction clone volume '{}'", clone.name))?;
    delete_unjunctioned(ontap, clone, force)
}

fn delete_unjunctioned(ontap: &dyn Ontap, clone: &Volume, force: bool) -> Result<Vec<String>> {
    ontap
        .delete_volume(&clone.uuid, force)
        .step_with(|| format!("delete clone volume '{}'", clone.name))?;
    let mut notes = Vec::new();
    if !force {
        match ontap.purge_recovery_queue(&clone.svm_name, &clone.name) {
            Ok(true) => {}
            Ok(false) => notes.push(format!(
                "ONTAP before 9.12 keeps deleted volume '{name}' in the volume recovery queue (12 \
                 hours by default) as '{name}_<dsid>'; find it with `volume recovery-queue show \
                 -vserver {svm} -volume {name}_*` and purge exactly that entry with `volume \
                 recovery-queue purge -vserver {svm} -volume {name}_<dsid>` to release its parent \
                 snapshot at once",
                name = clone.name,
                svm = clone.svm_name,
            )),
            Err(e) => notes.push(format!(
                "purging deleted volume '{}' from the recovery queue failed: {e}",
                clone.name
            )),
        }
    }
    Ok(notes)
}

/// Requests: the resolution, the guest list and every guest's config (a clone storage in use by a
/// guest is refused), the ONTAP version, the Proxmox storage DELETE, the unjunction PATCH and the
/// volume DELETE (each with its job).
pub(super) fn unmount(b: &dyn Backends, storage: &str) -> Result<UnmountReport> {
    let r = resolve(b, storage)?;
    if !r.volume.is_flexclone {
        return Err(Error::Refused(format!(
            "storage '{storage}' is backed by volume '{}', which is not a FlexClone: not a clone \
             storage made by mount; nothing was changed",
            r.volume.name
        )));
    }
    let pve = b.pve()?;
    let users = guests_on_storages(pve.as_ref(), &[storage.to_string()], |_| true)?;
    if !users.is_empty() {
        let list: Vec<String> = users
            .iter()
            .map(|g| format!("{} ({})", g.label(), g.disks.join(", ")))
            .collect();
        return Err(Error::Refused(format!(
            "guests still use disks on clone storage '{storage}': {}; detach or move those disks \
             first (nothing was changed)",
            list.join("; ")
        )));
    }
    let force = r
        .ontap
        .version()
        .step("read the ONTAP version")?
        .is_some_and(|v| v.at_least(9, 12));

    pve.delete_storage(storage)
        .step_with(|| format!("remove storage '{storage}' from Proxmox VE"))?;
    if let Err(e) = r.ontap.unmount_volume(&r.volume.uuid) {
        let rollback = match pve.create_nfs_storage(&readd_spec(&r.storage)) {
            Ok(()) => format!("storage '{storage}' was added back to Proxmox VE; nothing changed"),
            Err(pe) => format!(
                "adding storage '{storage}' back to Proxmox VE failed too ({pe}); the clone volume \
                 '{}' still exists",
                r.volume.name
            ),
        };
        return Err(e).step(format!(
            "unjunction clone volume '{}' of storage '{storage}' ({rollback})",
            r.volume.name
        ));
    }
    let mut notes = delete_unjunctioned(r.ontap.as_ref(), &r.volume, force).map_err(|e| {
        Error::Step {
            step: format!(
                "unmount storage '{storage}': the Proxmox storage is removed and clone volume '{}' \
                 is unjunctioned but still exists; delete it on ONTAP with `volume offline -vserver \
                 {svm} -volume {v}; volume delete -vserver {svm} -volume {v}`",
                r.volume.name,
                svm = r.volume.svm_name,
                v = r.volume.name
            ),
            cause: Box::new(e),
        }
    })?;
    let mount_path = r
        .storage
        .path
        .clone()
        .unwrap_or_else(|| format!("/mnt/pve/{storage}"));
    notes.push(format!(
        "Proxmox does not unmount removed storages: on every node that used it, run `umount \
         {mount_path}` (a stale NFS mount otherwise stays)"
    ));
    for note in &notes {
        log::warn!("{note}");
    }
    if let Some(parent) = &r.volume.parent_snapshot {
        let note = format!(
            "parent snapshot '{parent}' of volume '{}' stays",
            r.volume.parent_volume.as_deref().unwrap_or("?")
        );
        log::info!("{note}");
        notes.push(note);
    }
    Ok(UnmountReport {
        storage: storage.to_string(),
        volume: r.volume.name.clone(),
        parent_snapshot: r.volume.parent_snapshot.clone(),
        parent_volume: r.volume.parent_volume.clone(),
        mount_path,
        notes,
    })
}

/// The `POST /storage` that recreates a removed nfs storage as it was.
fn readd_spec(s: &StorageConfig) -> NewNfsStorage {
    NewNfsStorage {
        storage: s.storage.clone(),
        server: s.server.clone().unwrap_or_default(),
        export: s.export.clone().unwrap_or_default(),
        content: s.content.clone(),
        options: s.options.clone(),
        nodes: s.nodes.clone(),
        more: s.clone_options.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn clone_volume_names_are_valid_and_unique() {
        let at = datetime!(2026-11-10 12:34:56 +02:00);
        assert_eq!(
            clone_volume_name("ONTAP01", at, |_| false),
            "ONTAP01_clone_20261110_103456"
        );
        assert_eq!(
            clone_volume_name("ONTAP01", at, |n| n == "ONTAP01_clone_20261110_103456"),
            "ONTAP01_clone_20261110_103456_2"
        );
        let long = "v".repeat(250);
        let n = clone_volume_name(&long, at, |_| false);
        assert_eq!(n.len(), MAX_VOLUME_NAME);
        assert!(n.ends_with("_clone_20261110_103456"));
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
}
