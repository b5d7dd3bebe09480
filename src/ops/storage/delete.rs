//! `storage delete` (one snapshot, refused while a FlexClone depends on it or it has not expired)
//! and `storage prune` (retention over the tool's own snapshots, per label).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::model::names::STORAGE_SNAPSHOT_PREFIX;
use crate::model::retention::{self, Item};
use crate::ontap::{Snapshot, Volume};
use crate::ops::resolve::{path_below, resolve, Resolved};
use crate::ops::Backends;

use super::{
    clones_from, clones_of, created, find_snapshot, on_volume, parse_time, row, snapshots,
    validate_label, validate_snapshot_name, ProtectedSnapshot, PruneOptions, PruneReport,
    SnapshotRow,
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
/// deleted), then one delete per snapshot (none with `--dry-run`).
pub(super) fn prune(b: &dyn Backends, storage: &str, opts: &PruneOptions) -> Result<PruneReport> {
    if let Some(label) = &opts.label {
        validate_label(label)?;
    }
    let r = resolve(b, storage)?;
    let now = OffsetDateTime::now_utc();
    let snaps: Vec<Snapshot> = snapshots(&r)?
        .into_iter()
        .filter(|s| s.name.starts_with(STORAGE_SNAPSHOT_PREFIX))
        .filter(|s| opts.label.is_none() || label_of(s) == opts.label.as_deref())
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
        delete_all(&r, storage, &to_delete)?
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

/// Snapshot deletes in flight at once: ONTAP runs each as a job; a few in parallel keep a large
/// prune short without crowding the cluster (NetApp suggests 1–4 concurrent requests).
const PRUNE_PARALLEL: usize = 4;

/// Delete `snaps` with up to `PRUNE_PARALLEL` requests in flight. After the first failure no new
/// delete starts; the error says which snapshots were deleted before it.
fn delete_all(r: &Resolved, storage: &str, snaps: &[&Snapshot]) -> Result<Vec<String>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<()>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PRUNE_PARALLEL.min(snaps.len()) {
            scope.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(snap) = snaps.get(i) else { break };
                let result = r
                    .ontap
                    .delete_snapshot(&r.volume.uuid, &snap.uuid)
                    .step_with(|| on_volume(r, &format!("delete snapshot '{}'", snap.name)));
                match &result {
                    Ok(()) => log::info!("deleted snapshot '{}' of storage '{storage}'", snap.name),
                    Err(_) => failed.store(true, Ordering::SeqCst),
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut deleted = Vec::new();
    let mut first_error = None;
    for (i, result) in results {
        match result {
            Ok(()) => deleted.push(snaps[i].name.clone()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
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
