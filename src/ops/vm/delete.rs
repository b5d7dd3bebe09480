//! `vm delete`: remove the clone files of one snapshot set (the disks are not touched).

use crate::error::{Error, Result};
use crate::ops::manifest;
use crate::ops::vm::list::{self, FoundFile, FoundSet, Scan};
use crate::ops::vm::{partial, Ctx, SnapshotSet};
use crate::ops::Backends;
use crate::sys::signals;

/// Deletes the set made at `timestamp`. Files of one second made under different labels share a
/// set: then `label` must say which to delete (nothing is deleted on a guess).
pub(super) fn run(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    label: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<SnapshotSet> {
    list::check_timestamp(timestamp)?;
    let scan = list::scan(b, vmid, ctx)?;
    let set = scan.find(timestamp)?;
    let mut labels: Vec<Option<&str>> = set.files.iter().map(|f| f.label.as_deref()).collect();
    labels.sort();
    labels.dedup();
    let show = |l: &Option<&str>| l.map_or("(no label)".to_string(), |l| format!("'{l}'"));
    match label {
        Some(wanted) if !labels.contains(&Some(wanted)) => Err(Error::NotFound {
            what: format!(
                "files with label '{wanted}' in disk snapshot set '{timestamp}' of guest {vmid} \
                 (its labels: {})",
                labels.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
        }),
        None if labels.len() > 1 => Err(Error::Refused(format!(
            "disk snapshot set '{timestamp}' of guest {vmid} holds files of several labels ({}): \
             choose one with --label",
            labels.iter().map(show).collect::<Vec<_>>().join(", ")
        ))),
        _ => {
            let chosen = label.or(labels.first().copied().flatten());
            delete_labelled(&scan, set, chosen)?;
            let mut report = set.to_snapshot_set(vmid);
            report.label = chosen.map(str::to_string);
            report.disks.retain(|d| {
                set.files
                    .iter()
                    .any(|f| f.volid() == d.snapshot && f.label.as_deref() == chosen)
            });
            Ok(report)
        }
    }
}

/// Delete the files of a set that carry `label` (a prune of one label must not take the files
/// another label made in the same second); a signal does not stop it half-way. On failure the
/// error names each file that is left (the others are gone).
pub(crate) fn delete_labelled(scan: &Scan, set: &FoundSet, label: Option<&str>) -> Result<()> {
    delete_files(scan, set, |f| f.label.as_deref() == label)?;
    // The whole set is gone: so is the record of the dead run that made it.
    let whole = set.files.iter().all(|f| f.label.as_deref() == label);
    if let (Some(dir), Some(_), true) = (&scan.partial_dir, &set.partial, whole) {
        partial::end(dir, scan.target.guest.vmid, &set.timestamp);
    }
    Ok(())
}

fn delete_files(scan: &Scan, set: &FoundSet, wanted: impl Fn(&FoundFile) -> bool) -> Result<()> {
    let _shield = signals::shield()?;
    let mut failures = Vec::new();
    for file in set.files.iter().filter(|f| wanted(f)) {
        let store = &scan.stores[&file.storage];
        if let Err(e) = store.ontap.delete_file(&store.volume.uuid, &file.path()) {
            failures.push(format!("{}: {e}", file.volid()));
        }
    }
    // The set is gone when no file of another label shares its second: so is its configuration.
    if failures.is_empty() && set.files.iter().all(&wanted) {
        let mut storages: Vec<&str> = set.files.iter().map(|f| f.storage.as_str()).collect();
        storages.sort();
        storages.dedup();
        let stores = storages.iter().map(|s| &scan.stores[*s]);
        let vmid = scan.target.guest.vmid;
        for left in manifest::remove_set(stores, vmid, &set.timestamp) {
            log::warn!(
                "configuration of removed disk set {} left behind: {left}",
                set.timestamp
            );
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "could not delete every file of disk snapshot set {} of guest {}: {}",
            set.timestamp,
            scan.target.guest.vmid,
            failures.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::double::Double;
    use crate::testing::scenario::{ctx, volume_uuid};

    #[test]
    fn deletes_one_set_only() {
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        let (t1, t2) = ("2024-03-13_14:42:47+0000", "2026-01-02_03:04:05+0000");
        for t in [t1, t2] {
            b.add_file(
                &o1,
                &format!("images/100/vm-100-disk-0-snapshot-{t}.qcow2"),
                1,
            );
            b.add_file(
                &o1,
                &format!("images/100/vm-100-disk-1-snapshot-{t}.raw"),
                1,
            );
        }
        let set = run(&b, 100, t1, None, &ctx()).unwrap();
        assert_eq!(set.disks.len(), 2);
        let left = b.snapshot_files(&o1);
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|f| f.contains(t2)), "{left:?}");
        // The disks themselves are untouched.
        assert!(b.has(&o1, "images/100/vm-100-disk-0.qcow2"));
    }

    #[test]
    fn unknown_set_is_not_found_and_changes_nothing() {
        let b = Double::vm();
        let e = run(&b, 100, "2020-01-01_00:00:00+0000", None, &ctx()).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("guest 100"), "{e}");
        assert!(!b.calls().iter().any(|c| c.starts_with("ontap.delete_file")));
        let e = run(&b, 100, "latest", None, &ctx()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_set_shared_by_two_labels_needs_a_label_and_loses_only_its_files() {
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        let t = "2026-01-02_03:04:05+0000";
        for label in ["a", "b"] {
            b.add_file(
                &o1,
                &format!("images/100/vm-100-disk-0-snapshot-{label}-{t}.qcow2"),
                1,
            );
        }
        let e = run(&b, 100, t, None, &ctx()).unwrap_err();
        assert!(e.to_string().contains("--label"), "{e}");
        assert_eq!(b.snapshot_files(&o1).len(), 2, "nothing deleted");
        let e = run(&b, 100, t, Some("c"), &ctx()).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        let set = run(&b, 100, t, Some("a"), &ctx()).unwrap();
        assert_eq!(set.label.as_deref(), Some("a"));
        assert_eq!(set.disks.len(), 1);
        let left = b.snapshot_files(&o1);
        assert_eq!(left.len(), 1);
        assert!(left[0].contains("-snapshot-b-"), "{left:?}");
    }
}
