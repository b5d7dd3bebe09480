//! `vm restore`: with the guest stopped, clone each snapshot file of a set back over its disk
//! (`overwrite_destination`), all disks or one; the snapshot files stay.

use std::thread;

use crate::error::{Error, Result, ResultExt};
use crate::ops::disks::is_disk_key;
use crate::ops::vm::list::{self, FoundFile, FoundSet, Location, Scan};
use crate::ops::vm::{Ctx, RestoreOptions, SnapshotSet};
use crate::ops::Backends;
use crate::pve::GuestStatus;
use crate::sys::signals;

pub(super) fn run(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    opts: &RestoreOptions,
    ctx: &Ctx<'_>,
) -> Result<SnapshotSet> {
    list::check_timestamp(timestamp)?;
    let scan = list::scan(b, vmid, ctx)?;
    let guest = &scan.target.guest;
    let status = b
        .pve()?
        .guest_status(guest)
        .step_with(|| format!("read the status of guest {vmid}"))?;
    check_stopped(vmid, &status)?;
    let set = scan.find_complete(timestamp, "restore")?;

    // Which disks, and each one's snapshot file: all checked before anything is written.
    let wanted = wanted_disks(&scan, opts, vmid)?;
    let pairs = pair_files(set, &wanted, timestamp, opts, vmid)?;

    // Restore concurrently; a signal does not interrupt the overwrite half-way.
    let _shield = signals::shield()?;
    let results = clone_back(&scan, &pairs);
    let restored = check_results(&pairs, results, timestamp, vmid)?;
    Ok(report(set, &restored, opts, vmid))
}

/// Restore overwrites the disks: the guest must be stopped and its config not locked.
fn check_stopped(vmid: u32, status: &GuestStatus) -> Result<()> {
    if status.is_running() {
        let state = match status.qmpstatus.as_deref() {
            Some(q) if q != status.status => format!("{} ({q})", status.status),
            _ => status.status.clone(),
        };
        return Err(Error::Refused(format!(
            "guest {vmid} is {state}: restore overwrites its disks, so it must be stopped first \
             ('qm shutdown {vmid}' or 'pct shutdown {vmid}')"
        )));
    }
    if let Some(lock) = &status.lock {
        return Err(Error::Refused(format!(
            "guest {vmid} is locked ({lock}): restore needs a stopped guest without a config lock"
        )));
    }
    Ok(())
}

/// The disks to restore: the one of `--disk`, else every disk (not the unused volumes).
fn wanted_disks<'a>(scan: &'a Scan, opts: &RestoreOptions, vmid: u32) -> Result<Vec<&'a Location>> {
    let guest = &scan.target.guest;
    Ok(match opts.disk.as_deref() {
        Some(key) => {
            let location = scan.locations.iter().find(|l| l.key == key);
            match location {
                Some(l) => vec![l],
                None if scan.target.config.contains_key(key)
                    && is_disk_key(guest.guest_type, key) =>
                {
                    return Err(Error::Refused(format!(
                        "disk {key} of guest {vmid} is not on an ONTAP-backed storage, so it has \
                         no disk snapshots"
                    )))
                }
                None => {
                    return Err(Error::NotFound {
                        what: format!("disk '{key}' of guest {vmid}"),
                    })
                }
            }
        }
        None => scan.locations.iter().filter(|l| !l.unused).collect(),
    })
}

/// Each wanted disk with its snapshot file of the set; refuses a disk with files of several
/// labels or none.
fn pair_files<'a>(
    set: &'a FoundSet,
    wanted: &[&'a Location],
    timestamp: &str,
    opts: &RestoreOptions,
    vmid: u32,
) -> Result<Vec<(&'a Location, &'a FoundFile)>> {
    let snapshot_of = |l: &Location| -> Option<&FoundFile> {
        set.files
            .iter()
            .find(|f| f.storage == l.storage && f.dir == l.dir && f.source == l.file)
    };
    let mut pairs = Vec::new();
    for l in wanted {
        // Two labels may have a snapshot of this disk from the same second (one vzdump run's
        // phases): restoring either could be the wrong one, so neither is.
        let candidates: Vec<&str> = set
            .files
            .iter()
            .filter(|f| f.storage == l.storage && f.dir == l.dir && f.source == l.file)
            .map(|f| f.name.as_str())
            .collect();
        if candidates.len() > 1 {
            return Err(Error::Refused(format!(
                "snapshot set {timestamp} of guest {vmid} has {} files for disk {} ({}) under \
                 different labels: {}; nothing was restored. Clone the one you want back by hand, \
                 or delete the other files first",
                candidates.len(),
                l.key,
                l.volid,
                candidates.join(", ")
            )));
        }
        let Some(file) = snapshot_of(l) else {
            let expected = crate::model::names::disk_snapshot_file_labeled(
                &l.file,
                &set.timestamp,
                set.label.as_deref(),
            );
            return Err(Error::Refused(format!(
                "snapshot set {timestamp} of guest {vmid} has no file for disk {} ({}): \
                 '{}/{expected}' is missing on storage '{}'; nothing was restored{}",
                l.key,
                l.volid,
                l.dir,
                l.storage,
                if opts.disk.is_none() {
                    " (restore single disks with --disk KEY)"
                } else {
                    ""
                }
            )));
        };
        pairs.push((*l, file));
    }
    Ok(pairs)
}

/// Clone every snapshot file back over its disk, concurrently; one result per pair, in order.
fn clone_back(scan: &Scan, pairs: &[(&Location, &FoundFile)]) -> Vec<Result<()>> {
    thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|(l, f)| {
                let store = &scan.stores[&l.storage];
                s.spawn(move || {
                    store
                        .ontap
                        .clone_file(&store.volume, &f.path(), &l.path(), true)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("the clone request panicked".into())))
            })
            .collect()
    })
}

/// The pairs that were restored; an error naming every failed disk and the ones restored.
fn check_results<'a>(
    pairs: &[(&'a Location, &'a FoundFile)],
    results: Vec<Result<()>>,
    timestamp: &str,
    vmid: u32,
) -> Result<Vec<(&'a Location, &'a FoundFile)>> {
    let mut restored = Vec::new();
    let mut failed = Vec::new();
    for ((l, f), r) in pairs.iter().zip(results) {
        match r {
            Ok(()) => restored.push((*l, *f)),
            Err(e) => failed.push(format!(
                "disk {} ({}) from {}: {e}",
                l.key,
                l.volid,
                f.volid()
            )),
        }
    }
    if !failed.is_empty() {
        let done: Vec<String> = restored.iter().map(|(l, _)| l.key.clone()).collect();
        return Err(Error::Refused(format!(
            "restore of guest {vmid} from snapshot set {timestamp} failed for {}; restored: {}",
            failed.join("; "),
            if done.is_empty() {
                "none".to_string()
            } else {
                done.join(", ")
            }
        )));
    }
    Ok(restored)
}

/// The restored set, with notes on files not restored and disks whose size changed.
fn report(
    set: &FoundSet,
    restored: &[(&Location, &FoundFile)],
    opts: &RestoreOptions,
    vmid: u32,
) -> SnapshotSet {
    let mut out = set.to_snapshot_set(vmid);
    out.disks
        .retain(|d| restored.iter().any(|(_, f)| f.volid() == d.snapshot));
    for f in &set.files {
        if !restored.iter().any(|(_, r)| r.volid() == f.volid()) && opts.disk.is_none() {
            out.notes.push(format!(
                "not restored: {} ({} is not a disk of guest {vmid} now)",
                f.volid(),
                f.disk_volid
            ));
        }
    }
    for (l, f) in restored {
        if l.size.is_some() && f.size.is_some() && l.size != f.size {
            out.notes.push(format!(
                "disk {} changed size since the snapshot; run 'qm rescan --vmid {vmid}' to update \
                 its size in the config",
                l.key
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::double::Double;
    use crate::testing::scenario::{ctx, status, volume_uuid};

    const TS: &str = "2026-01-02_03:04:05+0000";

    /// Guest 102 (stopped) with one set; 100 (running) with a two-disk set.
    fn scenario() -> Double {
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        b.add_file(
            &o1,
            &format!("images/102/vm-102-disk-0-snapshot-{TS}.qcow2"),
            7,
        );
        b.add_file(
            &o1,
            &format!("images/100/vm-100-disk-0-snapshot-{TS}.qcow2"),
            7,
        );
        b.add_file(
            &o1,
            &format!("images/100/vm-100-disk-1-snapshot-{TS}.raw"),
            7,
        );
        b
    }

    fn opts(disk: Option<&str>) -> RestoreOptions {
        RestoreOptions {
            disk: disk.map(str::to_string),
        }
    }

    #[test]
    fn clones_back_over_the_disk_and_keeps_the_snapshot() {
        let b = scenario();
        let set = run(&b, 102, TS, &opts(None), &ctx()).unwrap();
        assert_eq!(set.disks.len(), 1);
        let log = b.calls();
        assert!(
            log.contains(&format!(
            "ontap.clone_file images/102/vm-102-disk-0-snapshot-{TS}.qcow2 -> images/102/vm-102-disk-0.qcow2"
        )),
            "{log:?}"
        );
        let o1 = volume_uuid("ONTAP01");
        assert!(b.has(
            &o1,
            &format!("images/102/vm-102-disk-0-snapshot-{TS}.qcow2")
        ));
        assert!(
            set.notes.iter().any(|n| n.contains("changed size")),
            "{:?}",
            set.notes
        );
    }

    #[test]
    fn two_labels_of_one_second_are_not_guessed_between() {
        let b = scenario();
        b.add_file(
            &volume_uuid("ONTAP01"),
            &format!("images/102/vm-102-disk-0-snapshot-daily-{TS}.qcow2"),
            9,
        );
        let e = run(&b, 102, TS, &opts(None), &ctx()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("different labels"), "{msg}");
        assert!(
            msg.contains(&format!("vm-102-disk-0-snapshot-daily-{TS}.qcow2")),
            "{msg}"
        );
        assert!(msg.contains("nothing was restored"), "{msg}");
        assert!(!b.calls().iter().any(|c| c.starts_with("ontap.clone_file")));
    }

    #[test]
    fn running_guest_is_refused_naming_the_state() {
        let b = scenario();
        let e = run(&b, 100, TS, &opts(None), &ctx()).unwrap_err();
        assert!(e.to_string().contains("guest 100 is running"), "{e}");
        b.world().states.get_mut(&100).unwrap().qmpstatus = Some("paused".into());
        let e = run(&b, 100, TS, &opts(None), &ctx()).unwrap_err();
        assert!(e.to_string().contains("running (paused)"), "{e}");
        assert!(!b.calls().iter().any(|c| c.starts_with("ontap.clone_file")));
    }

    #[test]
    fn incomplete_set_is_refused_naming_the_missing_file() {
        let b = scenario();
        b.world().states.insert(100, status("stopped", true));
        let e = run(&b, 100, TS, &opts(None), &ctx()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("efidisk0"), "{msg}");
        assert!(
            msg.contains(&format!("images/100/vm-100-disk-2-snapshot-{TS}.raw")),
            "{msg}"
        );
        assert!(msg.contains("nothing was restored"), "{msg}");
        assert!(!b.calls().iter().any(|c| c.starts_with("ontap.clone_file")));

        // One disk that is in the set works.
        let set = run(&b, 100, TS, &opts(Some("virtio0")), &ctx()).unwrap();
        assert_eq!(set.disks.len(), 1);
        assert_eq!(set.disks[0].key.as_deref(), Some("virtio0"));
        let clones: Vec<_> = b
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("ontap.clone_file"))
            .collect();
        assert_eq!(clones.len(), 1);
        assert!(
            clones[0].ends_with("-> images/100/vm-100-disk-1.raw"),
            "{clones:?}"
        );
    }

    #[test]
    fn unknown_disk_and_unknown_set() {
        let b = scenario();
        let e = run(&b, 102, TS, &opts(Some("scsi7")), &ctx()).unwrap_err();
        assert!(e.to_string().contains("disk 'scsi7' of guest 102"), "{e}");
        let e = run(&b, 102, "2020-01-01_00:00:00+0000", &opts(None), &ctx()).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }

    #[test]
    fn failed_restore_names_the_disk() {
        let b = scenario();
        b.world().fail_clone = Some("vm-102-disk-0.qcow2".into());
        let e = run(&b, 102, TS, &opts(None), &ctx()).unwrap_err();
        assert!(
            e.to_string()
                .contains("disk scsi0 (ONTAP01:102/vm-102-disk-0.qcow2)"),
            "{e}"
        );
    }
}
