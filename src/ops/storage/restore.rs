//! `storage restore`: whole-volume SnapRestore, guarded: refused while guests with a disk on the
//! storage run (unless forced) or while a FlexClone depends on a newer snapshot; safety snapshot first.

use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::ops::resolve::resolve;
use crate::ops::Backends;

use super::{
    check_snapshot_limit, clones_of, created, find_snapshot, guests_on_storages, on_volume,
    parse_time, snapshots, storages_on_volume, take_snapshot, validate_snapshot_name,
    RestoreOptions, RestoreReport,
};

/// Requests: the resolution, the snapshots listing, the guest list and the config of each running
/// guest, the clones query, the safety snapshot (unless disabled), the restore PATCH (and its job),
/// and a snapshots listing afterwards to report what the restore discarded.
pub(super) fn restore(
    b: &dyn Backends,
    storage: &str,
    name: &str,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    validate_snapshot_name(name)?;
    let r = resolve(b, storage)?;
    let before = snapshots(&r)?;
    let target = find_snapshot(&r, &before, name)?;

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
        let note = format!(
            "restoring under running guests {} (--force): they see their disks change underneath",
            running_labels.join(", ")
        );
        log::warn!("{note}");
        notes.push(note);
    }

    // ONTAP refuses to revert past a snapshot that backs a FlexClone.
    let target_time = created(&target);
    let newer: Vec<&str> = before
        .iter()
        .filter(|s| s.name != target.name && created(s) > target_time)
        .map(|s| s.name.as_str())
        .collect();
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
    let now = OffsetDateTime::now_utc();
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
            "snapshot(s) {} of storage '{storage}' are newer than '{name}' and have not expired; a              restore would have to discard them, which ONTAP refuses before their expiry",
            locked.join(", ")
        )));
    }

    let safety_step = "take a safety snapshot before the restore (or pass --no-safety-snapshot)";
    let safety = if opts.safety_snapshot {
        check_snapshot_limit(&r).step(safety_step)?;
        let s = take_snapshot(
            &r,
            &format!("safety snapshot before restore to {name}"),
            None,
            None,
        )
        .step(safety_step)?;
        log::info!("safety snapshot '{}' taken", s.name);
        Some(s)
    } else {
        None
    };

    if let Err(e) = r.ontap.restore_volume(&r.volume.uuid, name) {
        let mut step = on_volume(&r, &format!("restore snapshot '{name}'"));
        if let Some(s) = &safety {
            // The volume is unchanged; remove the safety snapshot so nothing is left half-done.
            match r.ontap.delete_snapshot(&r.volume.uuid, &s.uuid) {
                Ok(()) => step.push_str(&format!(
                    " (the volume is unchanged; safety snapshot '{}' was removed again)",
                    s.name
                )),
                Err(de) => step.push_str(&format!(
                    " (safety snapshot '{}' is left behind: removing it failed: {de})",
                    s.name
                )),
            }
        }
        return Err(e).step(step);
    }
    log::info!("storage '{storage}' restored to snapshot '{name}'");

    let after = r.ontap.snapshots(&r.volume.uuid);
    let discarded: Vec<String> = match &after {
        Ok(after) => newer
            .iter()
            .chain(safety.as_ref().map(|s| s.name.as_str()).iter())
            .filter(|n| !after.iter().any(|s| &s.name == *n))
            .map(|n| n.to_string())
            .collect(),
        Err(e) => {
            notes.push(format!(
                "could not list the snapshots after the restore: {e}"
            ));
            Vec::new()
        }
    };
    if let Some(s) = &safety {
        if discarded.contains(&s.name) {
            let note = format!(
                "ONTAP discarded the safety snapshot '{}' with the other snapshots newer than '{name}'",
                s.name
            );
            log::warn!("{note}");
            notes.push(note);
        }
    }
    if !discarded.is_empty() {
        log::warn!(
            "the restore discarded snapshots newer than '{name}': {}",
            discarded.join(", ")
        );
    }
    Ok(RestoreReport {
        storage: r.storage.storage.clone(),
        volume: r.volume.name.clone(),
        snapshot: name.to_string(),
        safety_snapshot: safety.map(|s| s.name),
        discarded_snapshots: discarded,
        running_guests: if running.is_empty() {
            Vec::new()
        } else {
            running_labels
        },
        notes,
    })
}

/// "storage 'A'" or "storages 'A', 'B' (all on this volume)".
fn storages_phrase(ids: &[String]) -> String {
    match ids {
        [one] => format!("storage '{one}'"),
        _ => format!(
            "storages {} (all on this volume)",
            ids.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
