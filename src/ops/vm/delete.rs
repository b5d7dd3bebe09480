//! `vm delete`: remove the clone files of one snapshot set (the disks are not touched).

use crate::error::{Error, Result};
use crate::ops::signals;
use crate::ops::vm::list::{self, FoundFile, FoundSet, Scan};
use crate::ops::vm::{Ctx, SnapshotSet};
use crate::ops::Backends;

pub(super) fn run(
    b: &dyn Backends,
    vmid: u32,
    timestamp: &str,
    ctx: &Ctx<'_>,
) -> Result<SnapshotSet> {
    list::check_timestamp(timestamp)?;
    let scan = list::scan(b, vmid, ctx)?;
    let set = scan.find(timestamp)?;
    delete_set(&scan, set)?;
    Ok(set.to_snapshot_set(vmid))
}

/// Delete every file of a set; a signal does not stop it half-way. On failure the error names
/// each file that is left (the others are gone).
pub(crate) fn delete_set(scan: &Scan, set: &FoundSet) -> Result<()> {
    delete_files(scan, set, |_| true)
}

/// Delete the files of a set that carry `label` (a prune of one label must not take the files
/// another label made in the same second).
pub(crate) fn delete_labelled(scan: &Scan, set: &FoundSet, label: Option<&str>) -> Result<()> {
    delete_files(scan, set, |f| f.label.as_deref() == label)
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
    use crate::ops::vm::fake::{self, ctx, volume_uuid};

    #[test]
    fn deletes_one_set_only() {
        let b = fake::scenario();
        let o1 = volume_uuid("ONTAP01");
        let (t1, t2) = ("2024-03-13_14:42:47+0000", "2026-01-02_03:04:05+0000");
        for t in [t1, t2] {
            b.ontap.add_file(
                &o1,
                &format!("images/100/vm-100-disk-0-snapshot-{t}.qcow2"),
                1,
            );
            b.ontap.add_file(
                &o1,
                &format!("images/100/vm-100-disk-1-snapshot-{t}.raw"),
                1,
            );
        }
        let set = run(&b, 100, t1, &ctx()).unwrap();
        assert_eq!(set.disks.len(), 2);
        let left = b.ontap.snapshot_files(&o1);
        assert_eq!(left.len(), 2);
        assert!(left.iter().all(|f| f.contains(t2)), "{left:?}");
        // The disks themselves are untouched.
        assert!(b.ontap.has(&o1, "images/100/vm-100-disk-0.qcow2"));
    }

    #[test]
    fn unknown_set_is_not_found_and_changes_nothing() {
        let b = fake::scenario();
        let e = run(&b, 100, "2020-01-01_00:00:00+0000", &ctx()).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("guest 100"), "{e}");
        assert!(!b.pve.calls().iter().any(|c| c.starts_with("delete")));
        let e = run(&b, 100, "latest", &ctx()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
