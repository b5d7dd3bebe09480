//! `vm restore --snapshot <storage snapshot>`: each disk of the stopped guest replaced by its file
//! in the volume snapshot (file clone from `.snapshot/<name>/`, `overwrite_destination`); the
//! current disks first kept as a `pre-restore` disk set, and put back if an overwrite fails.

use crate::error::{Error, Result};
use crate::model::names as naming;
use crate::ops::manifest;
use crate::ops::resolve::Resolved;
use crate::ops::vm::list::{self, Scan};
use crate::ops::vm::recover::find::{self, each, snapshot_path};
use crate::ops::vm::recover::plan::{self, Pair};
use crate::ops::vm::recover::{
    ensure_stopped, lock_all, RecoveredDisk, Recovery, StorageRestoreOptions,
};
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::sys::paths::Paths;
use crate::sys::signals;

/// The label of the set that keeps the disks as they were before a restore.
pub const PRE_RESTORE: &str = "pre-restore";

struct Step<'a> {
    pair: &'a Pair,
    store: &'a Resolved,
    /// Volume-relative paths.
    source: String,
    disk: String,
    keep: Option<String>,
}

pub(crate) fn run(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    opts: &StorageRestoreOptions,
    paths: &Paths,
    ctx: &Ctx<'_>,
) -> Result<Recovery> {
    // ---- Lookups: nothing changes before all of them succeeded. ----
    let scan = list::scan(b, vmid, ctx)?;
    ensure_stopped(b, &scan.target.guest, "restore overwrites its disks")?;
    let found = find::find(&scan, name)?;
    let p = find::plan_for(&scan, &found, opts.disk.as_deref())?;
    let problems = plan::unresolved(&p, opts.choices);
    if !problems.is_empty() {
        return Err(Error::Refused(format!(
            "snapshot '{name}' does not match guest {vmid} as it is now; nothing was restored:\n  {}",
            problems.join("\n  ")
        )));
    }
    if p.pairs.is_empty() {
        return Err(Error::Refused(format!(
            "snapshot '{name}' holds no disk of guest {vmid}; nothing was restored"
        )));
    }
    let ts = naming::timestamp(ctx.now);
    let steps = prepare(
        &scan,
        &found.on,
        &p.pairs,
        name,
        (!opts.no_keep).then_some(&ts),
    )?;

    let storages: Vec<String> = steps.iter().map(|s| s.pair.disk.storage.clone()).collect();
    let _locks = lock_all(paths, &storages, &format!("vm restore {vmid}"))?;

    // ---- Changes: keep, overwrite; undo on failure. ----
    let _shield = signals::shield()?;
    // The `pre-restore` set's configuration first, as for every disk set.
    let record = match (opts.no_keep, steps.first()) {
        (false, Some(first)) => {
            let t = &scan.target;
            Some(manifest::SetRecord::write(
                first.store,
                &t.guest,
                &t.config,
                &ts,
            )?)
        }
        _ => None,
    };
    let forget = || record.iter().for_each(manifest::SetRecord::remove);
    if !opts.no_keep {
        keep_all(&steps, vmid).inspect_err(|_| forget())?;
    }
    let results = each(&steps, |s| {
        s.store
            .ontap
            .clone_file(&s.store.volume, &s.source, &s.disk, true)
    });
    let failed: Vec<String> = steps
        .iter()
        .zip(&results)
        .filter_map(|(s, r)| {
            r.as_ref().err().map(|e| {
                format!(
                    "disk {} ({}) from {}: {e}",
                    s.pair.disk.key, s.pair.disk.volid, s.source
                )
            })
        })
        .collect();
    if !failed.is_empty() {
        let (error, kept) = undo(&steps, &results, vmid, name, &failed, opts.no_keep);
        if !kept {
            forget();
        }
        return Err(error);
    }

    let mut notes = Vec::new();
    for d in &p.missing {
        notes.push(format!(
            "disk {} ({}) is not in the snapshot and was left as it is",
            d.key, d.volid
        ));
    }
    for f in &p.extra {
        notes.push(format!(
            "'{}/{}' on storage '{}' is in the snapshot but no disk of the guest now; not restored",
            f.dir, f.name, f.storage
        ));
    }
    if p.resized().next().is_some() {
        notes.push(format!(
            "some disks changed size; Proxmox's sizes are refreshed by 'qm rescan --vmid {vmid}'"
        ));
    }
    Ok(Recovery {
        vmid,
        snapshot: name.to_string(),
        kind: "storage",
        storages: found.storages(),
        created: found.create_time(),
        action: "restored".into(),
        disks: steps
            .iter()
            .map(|s| RecoveredDisk {
                key: s.pair.disk.key.clone(),
                volume: s.pair.disk.volid.clone(),
                source: s.source.clone(),
                size_before: s.pair.disk.size,
                size: s.pair.file.size,
            })
            .collect(),
        kept: (!opts.no_keep).then(|| ts.clone()),
        new_vmid: None,
        config_source: None,
        notes,
    })
}

/// Paths of every clone, and the keep-file names checked against what exists.
fn prepare<'a>(
    scan: &'a Scan,
    on: &'a std::collections::BTreeMap<String, (&'a Resolved, crate::ontap::Snapshot)>,
    pairs: &'a [Pair],
    name: &str,
    keep_ts: Option<&String>,
) -> Result<Vec<Step<'a>>> {
    let vmid = scan.target.guest.vmid;
    let mut steps = Vec::new();
    for pair in pairs {
        let (store, _) = &on[&pair.disk.storage];
        let keep = keep_ts.map(|ts| {
            format!(
                "{}/{}",
                pair.disk.dir,
                naming::disk_snapshot_file_labeled(&pair.disk.file, ts, Some(PRE_RESTORE))
            )
        });
        if let (Some(ts), Some(_)) = (keep_ts, &keep) {
            if scan.sets.iter().any(|s| {
                &s.timestamp == ts
                    && s.files
                        .iter()
                        .any(|f| f.dir == pair.disk.dir && f.source == pair.disk.file)
            }) {
                return Err(Error::Refused(format!(
                    "guest {vmid} already has a disk set {ts} for disk {}; wait a second and \
                     run the restore again",
                    pair.disk.key
                )));
            }
        }
        steps.push(Step {
            pair,
            store,
            source: snapshot_path(name, &format!("{}/{}", pair.file.dir, pair.file.name)),
            disk: format!("{}/{}", pair.disk.dir, pair.disk.file),
            keep,
        });
    }
    Ok(steps)
}

/// Clone every disk to its `pre-restore` file; on a failure remove the ones made.
fn keep_all(steps: &[Step<'_>], vmid: u32) -> Result<()> {
    let results = each(steps, |s| match &s.keep {
        Some(keep) => s
            .store
            .ontap
            .clone_file(&s.store.volume, &s.disk, keep, false),
        None => Ok(()),
    });
    let failed: Vec<String> = steps
        .iter()
        .zip(&results)
        .filter_map(|(s, r)| {
            r.as_ref()
                .err()
                .map(|e| format!("disk {} ({}): {e}", s.pair.disk.key, s.pair.disk.volid))
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    // A clone whose answer was lost may have been made: every keep file goes.
    let all: Vec<Result<()>> = steps.iter().map(|_| Ok(())).collect();
    let leftovers = remove_kept(steps, &all);
    Err(Error::Refused(format!(
        "keeping the current disks of guest {vmid} as a '{PRE_RESTORE}' set failed for {}; \
         nothing was restored{}",
        failed.join("; "),
        describe_leftovers(&leftovers)
    )))
}

/// Delete the keep files of the steps whose keep clone may have been made (a file that is not
/// there is fine); returns those left behind.
fn remove_kept(steps: &[Step<'_>], made: &[Result<()>]) -> Vec<String> {
    let doomed: Vec<&Step<'_>> = steps
        .iter()
        .zip(made)
        .filter(|(_, r)| r.is_ok())
        .map(|(s, _)| s)
        .collect();
    let results = each(&doomed, |s| match &s.keep {
        Some(keep) => match s.store.ontap.delete_file(&s.store.volume.uuid, keep) {
            Err(e) if !matches!(e.root(), Error::NotFound { .. }) => {
                Err(format!("{keep} on storage '{}' ({e})", s.pair.disk.storage))
            }
            _ => Ok(()),
        },
        None => Ok(()),
    });
    results.into_iter().filter_map(|r| r.err()).collect()
}

fn describe_leftovers(left: &[String]) -> String {
    if left.is_empty() {
        String::new()
    } else {
        format!("; could not remove: {}", left.join(", "))
    }
}

/// After a failed overwrite: put the kept files back over every disk this run touched, then
/// remove them; without keep files only name what was and was not restored. The error, and
/// whether keep files are left (their set's configuration stays with them).
fn undo(
    steps: &[Step<'_>],
    results: &[Result<()>],
    vmid: u32,
    name: &str,
    failed: &[String],
    no_keep: bool,
) -> (Error, bool) {
    if no_keep {
        let done: Vec<&str> = steps
            .iter()
            .zip(results)
            .filter(|(_, r)| r.is_ok())
            .map(|(s, _)| s.pair.disk.key.as_str())
            .collect();
        let error = Error::Refused(format!(
            "restore of guest {vmid} from snapshot '{name}' failed for {}; restored (without a \
             '{PRE_RESTORE}' set, as asked): {}",
            failed.join("; "),
            if done.is_empty() {
                "none".to_string()
            } else {
                done.join(", ")
            }
        ));
        return (error, false);
    }
    // Every disk is put back, also those whose clone failed (a failed job may have written).
    let back = each(steps, |s| match &s.keep {
        Some(keep) => s
            .store
            .ontap
            .clone_file(&s.store.volume, keep, &s.disk, true),
        None => Ok(()),
    });
    let not_back: Vec<String> = steps
        .iter()
        .zip(&back)
        .filter_map(|(s, r)| {
            r.as_ref().err().map(|e| {
                format!(
                    "disk {} could not be put back from {} ({e})",
                    s.pair.disk.key,
                    s.keep.as_deref().unwrap_or_default()
                )
            })
        })
        .collect();
    if !not_back.is_empty() {
        let error = Error::Refused(format!(
            "restore of guest {vmid} from snapshot '{name}' failed for {}; putting the disks \
             back failed too: {}; the '{PRE_RESTORE}' files are kept (restore them with 'vm \
             restore --vm {vmid} --snapshot <their time>')",
            failed.join("; "),
            not_back.join("; ")
        ));
        return (error, true);
    }
    let all_ok: Vec<Result<()>> = steps.iter().map(|_| Ok(())).collect();
    let leftovers = remove_kept(steps, &all_ok);
    let error = Error::Refused(format!(
        "restore of guest {vmid} from snapshot '{name}' failed for {}; every disk was put back \
         as it was{}",
        failed.join("; "),
        describe_leftovers(&leftovers)
    ));
    (error, !leftovers.is_empty())
}
