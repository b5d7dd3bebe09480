//! `storage delete` (one snapshot, refused while a FlexClone depends on it or it has not expired)
//! and `storage prune` (retention over the tool's own snapshots, per label).

use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::model::names::STORAGE_SNAPSHOT_PREFIX;
use crate::model::retention::{self, Item};
use crate::ontap::{Snapshot, SnapshotBatch, Volume};
use crate::ops::parallel;
use crate::ops::resolve::{path_below, resolve, Resolved};
use crate::ops::Backends;

use super::{
    clones_from, clones_of, created, find_snapshot, locked_until, on_volume, parse_time, row,
    snapshots, validate_label, validate_snapshot_name, ProtectedSnapshot, PruneOptions,
    PruneReport, SnapshotRow,
};

/// Requests: the resolution, the snapshots listing, the clones query, the delete (and its job).
/// A refusal because of clones also lists the Proxmox storages to name the one to unmount.
pub(super) fn delete(b: &dyn Backends, storage: &str, name: &str) -> Result<SnapshotRow> {
    validate_snapshot_name(name)?;
    let r = resolve(b, storage)?;
    let snaps = snapshots(&r)?;
    let snap = find_snapshot(&r, &snaps, name)?;
    let clones = clones_of(&r)?;
    let dependent: Vec<&Volume> = clones
        .iter()
        .filter(|v| v.parent_snapshot.as_deref() == Some(name))
        .collect();
    if !dependent.is_empty() {
        return Err(Error::Refused(clone_refusal(b, &r, name, &dependent)));
    }
    if let Some(until) = locked_until(&snap, OffsetDateTime::now_utc()) {
        return Err(Error::Refused(format!(
            "snapshot '{name}' is locked until {until} (ONTAP snapshot locking): nobody, this tool \
             included, can delete it before then; it goes once the lock has expired (storage \
             '{storage}')"
        )));
    }
    if let Some(expiry) = unexpired(&snap, OffsetDateTime::now_utc()) {
        return Err(Error::Refused(format!(
            "snapshot '{name}' of storage '{storage}' expires at {expiry}; ONTAP does not allow \
             deleting it before then"
        )));
    }
    r.ontap
        .delete_snapshot(&r.volume.uuid, &snap.uuid)
        .step_with(|| on_volume(&r, &format!("delete snapshot '{name}'")))?;
    Ok(row(&r, &snap, Vec::new()))
}

/// The expiry time when it lies in the future.
fn unexpired(s: &Snapshot, now: OffsetDateTime) -> Option<&str> {
    let expiry = s.expiry_time.as_deref()?;
    parse_time(expiry).filter(|t| *t > now).map(|_| expiry)
}

/// "snapshot X of storage S is the parent of FlexClone volume(s) C (Proxmox storage P); unmount ...".
fn clone_refusal(b: &dyn Backends, r: &Resolved, name: &str, clones: &[&Volume]) -> String {
    let storages = clone_storages(b, clones);
    let list = clones
        .iter()
        .map(|v| match storages.iter().find(|(vol, _)| *vol == v.name) {
            Some((_, id)) => format!("'{}' (Proxmox storage '{id}')", v.name),
            None => format!("'{}'", v.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let how = match storages.first() {
        Some((_, id)) => format!("`pve-ontap-snapshot storage unmount --storage {id}`"),
        None => "`pve-ontap-snapshot storage unmount --storage <clone storage>`".to_string(),
    };
    format!(
        "snapshot '{name}' of storage '{}' is the parent of FlexClone volume(s) {list}; unmount the \
         clone storage first ({how}), then delete the snapshot",
        r.storage.storage
    )
}

/// (clone volume, Proxmox storage id) for the nfs storages exporting the clones' junctions.
/// Best effort: only used to make a refusal more helpful.
fn clone_storages(b: &dyn Backends, clones: &[&Volume]) -> Vec<(String, String)> {
    let Ok(storages) = b.pve().and_then(|p| p.storages()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in clones {
        let Some(junction) = v.nas_path.as_deref() else {
            continue;
        };
        for s in &storages {
            let exports_clone = s.storage_type == "nfs"
                && s.export
                    .as_deref()
                    .is_some_and(|e| path_below(junction, e).is_some());
            if exports_clone {
                out.push((v.name.clone(), s.storage.clone()));
            }
        }
    }
    out
}

/// Requests: the resolution, the snapshots listing, the clones query (only when something is to be
/// deleted), then the ONTAP version and one query-based DELETE for every snapshot to delete (one
/// job; ONTAP before 9.11.1: one delete per snapshot); none with `--dry-run`.
pub(super) fn prune(b: &dyn Backends, storage: &str, opts: &PruneOptions) -> Result<PruneReport> {
    if let Some(label) = &opts.label {
        validate_label(label)?;
    }
    let r = resolve(b, storage)?;
    let now = OffsetDateTime::now_utc();
    let every = snapshots(&r)?;
    let snaps: Vec<Snapshot> = every
        .iter()
        .filter(|s| s.name.starts_with(STORAGE_SNAPSHOT_PREFIX))
        .filter(|s| opts.label.is_none() || label_of(s) == opts.label.as_deref())
        .cloned()
        .collect();
    let mut items = Vec::new();
    let mut undated = Vec::new();
    for s in &snaps {
        match created(s) {
            Some(t) => items.push(Item {
                name: s.name.clone(),
                created: t,
                label: label_of(s).map(str::to_string),
            }),
            None => undated.push(s.name.clone()),
        }
    }
    let (keep, delete) = retention::select(&items, opts.retention, now);
    let mut kept: Vec<String> = keep.into_iter().map(|i| i.name).collect();
    kept.extend(undated);

    let clones = if delete.is_empty() {
        Vec::new()
    } else {
        clones_of(&r)?
    };
    let mut protected = Vec::new();
    let mut to_delete = Vec::new();
    for item in delete {
        let Some(snap) = snaps.iter().find(|s| s.name == item.name) else {
            continue;
        };
        let dependent = clones_from(&clones, &snap.name);
        let reason = if !dependent.is_empty() {
            Some(format!(
                "FlexClone volume(s) {} depend on it",
                dependent.join(", ")
            ))
        } else if let Some(t) = locked_until(snap, now) {
            Some(format!("locked until {t} (snapshot locking)"))
        } else {
            unexpired(snap, now).map(|t| format!("expires at {t}"))
        };
        match reason {
            Some(reason) => {
                log::info!("keeping snapshot '{}': {reason}", snap.name);
                kept.push(snap.name.clone());
                protected.push(ProtectedSnapshot {
                    name: snap.name.clone(),
                    reason,
                });
            }
            None => to_delete.push(snap),
        }
    }

    let deleted = if opts.dry_run {
        to_delete.iter().map(|s| s.name.clone()).collect()
    } else {
        delete_many(&r, storage, &to_delete, &every)?
    };
    kept.sort_by_key(|n| snaps.iter().position(|s| &s.name == n));
    Ok(PruneReport {
        storage: r.storage.storage.clone(),
        kept,
        deleted,
        dry_run: opts.dry_run,
        protected,
    })
}

/// Snapshot deletes in flight at once when they go one by one: ONTAP runs each as a job; a few in
/// parallel keep a large prune short without crowding the cluster (NetApp suggests 1–4
/// concurrent requests).
const PRUNE_PARALLEL: usize = 4;

/// Delete `snaps` (of the volume whose snapshots are `every`): all in one query-based request
/// where ONTAP takes it (one job; every snapshot tried; each refusal reported), else one by one.
fn delete_many(
    r: &Resolved,
    storage: &str,
    snaps: &[&Snapshot],
    every: &[Snapshot],
) -> Result<Vec<String>> {
    if snaps.len() < 2 {
        return delete_all(r, storage, snaps);
    }
    let newest = snaps
        .iter()
        .max_by_key(|s| created(s))
        .map(|s| s.create_time.clone())
        .unwrap_or_default();
    let batch = SnapshotBatch {
        names: snaps.iter().map(|s| s.name.clone()).collect(),
        all_names: every.iter().map(|s| s.name.clone()).collect(),
        newest_create_time: newest,
        min_prefix: STORAGE_SNAPSHOT_PREFIX.len(),
    };
    let outcome = r
        .ontap
        .delete_snapshots(&r.volume.uuid, &batch)
        .step_with(|| on_volume(r, &format!("delete {} snapshots", snaps.len())))?;
    let Some(outcome) = outcome else {
        return delete_all(r, storage, snaps);
    };
    for name in &outcome.deleted {
        log::info!("deleted snapshot '{name}' of storage '{storage}'");
    }
    if outcome.failed.is_empty() {
        return Ok(outcome.deleted);
    }
    let failed: Vec<String> = outcome
        .failed
        .iter()
        .map(|(name, why)| format!("'{name}': {why}"))
        .collect();
    Err(Error::Refused(format!(
        "prune storage '{storage}': ONTAP did not delete {} of {} snapshots: {} ({} deleted)",
        outcome.failed.len(),
        snaps.len(),
        failed.join("; "),
        outcome.deleted.len()
    )))
}

/// Delete `snaps` one by one with up to `PRUNE_PARALLEL` requests in flight. After the first
/// failure no new delete starts; the error says which snapshots were deleted before it.
fn delete_all(r: &Resolved, storage: &str, snaps: &[&Snapshot]) -> Result<Vec<String>> {
    let slots = parallel::map_until_error(snaps, PRUNE_PARALLEL, |snap| {
        let result = r
            .ontap
            .delete_snapshot(&r.volume.uuid, &snap.uuid)
            .step_with(|| on_volume(r, &format!("delete snapshot '{}'", snap.name)));
        if result.is_ok() {
            log::info!("deleted snapshot '{}' of storage '{storage}'", snap.name);
        }
        result
    });
    let mut deleted = Vec::new();
    let mut first_error = None;
    for (snap, slot) in snaps.iter().zip(slots) {
        match slot {
            Some(Ok(())) => deleted.push(snap.name.clone()),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        None => Ok(deleted),
        Some(e) => {
            let done = if deleted.is_empty() {
                "nothing was deleted".to_string()
            } else {
                format!("already deleted: {}", deleted.join(", "))
            };
            Err(e).step(format!("prune storage '{storage}' ({done})"))
        }
    }
}

fn label_of(s: &Snapshot) -> Option<&str> {
    s.snapmirror_label.as_deref().filter(|l| !l.is_empty())
}
