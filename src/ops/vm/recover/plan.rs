//! Which file of a storage snapshot goes back over which disk: the guest's disks now matched by
//! file name against the snapshot's copy of their directories, with every mismatch named.

use serde::Serialize;

use crate::model::names as naming;

/// A disk of the guest now (a config key with an image file on an ONTAP storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskNow {
    pub key: String,
    /// Volume id as in the config.
    pub volid: String,
    pub storage: String,
    /// Directory relative to the volume root (`images/100`).
    pub dir: String,
    pub file: String,
    /// Size of the file now; None when it is missing.
    pub size: Option<u64>,
}

/// A file in a snapshot's copy of one of the guest's directories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapFile {
    pub storage: String,
    /// Directory relative to the volume root, as in the active file system (`images/100`).
    pub dir: String,
    pub name: String,
    pub size: Option<u64>,
}

/// One disk and the file that would replace it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub disk: DiskNow,
    pub file: SnapFile,
}

impl Pair {
    /// The sizes differ (both known).
    pub fn resized(&self) -> bool {
        matches!((self.disk.size, self.file.size), (Some(a), Some(b)) if a != b)
    }
}

/// The outcome of matching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub pairs: Vec<Pair>,
    /// Disks in the config without a file in the snapshot.
    pub missing: Vec<DiskNow>,
    /// Disk images in the snapshot's copy of the guest's own directory that are no disk of the
    /// guest now (removed or detached since).
    pub extra: Vec<SnapFile>,
}

impl Plan {
    pub fn resized(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter().filter(|p| p.resized())
    }
}

/// A file name Proxmox takes for a disk image on a dir/nfs storage (`qm rescan` picks up only
/// these extensions: pve-storage `PVE::Storage::Plugin::list_images` matches `raw|qcow2|vmdk`).
pub fn is_image_file(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e);
    matches!(ext, Some("raw" | "qcow2" | "vmdk"))
}

/// Match `disks` (all disks of the guest, or only the one asked for) against the snapshot's
/// files. `own` are the files found in the snapshot's copy of the guest's own images
/// directories; `known` are the file names of every disk and `unused` volume the guest has now
/// (so that a detached-but-kept volume is not reported as extra).
pub fn plan(disks: &[DiskNow], own: &[SnapFile], known: &[(String, String, String)]) -> Plan {
    let mut out = Plan::default();
    for d in disks {
        let found = own
            .iter()
            .find(|f| f.storage == d.storage && f.dir == d.dir && f.name == d.file);
        match found {
            Some(f) => out.pairs.push(Pair {
                disk: d.clone(),
                file: f.clone(),
            }),
            None => out.missing.push(d.clone()),
        }
    }
    for f in own {
        let is_known = known
            .iter()
            .any(|(s, dir, name)| s == &f.storage && dir == &f.dir && name == &f.name);
        if !is_known
            && is_image_file(&f.name)
            && naming::parse_disk_snapshot_name(&f.name).is_none()
        {
            out.extra.push(f.clone());
        }
    }
    out
}

/// How the user chose to treat each kind of mismatch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Choices {
    /// Disks without a file in the snapshot stay as they are.
    pub skip_missing: bool,
    /// Images in the snapshot that are no disk of the guest now are left in the snapshot.
    pub skip_extra: bool,
    /// Disks whose size differs are restored to the snapshot's size.
    pub resize: bool,
}

/// The lines of a refusal, one per mismatch the choices do not cover (empty: go ahead).
pub fn unresolved(plan: &Plan, choices: Choices) -> Vec<String> {
    let mut lines = Vec::new();
    if !choices.skip_missing {
        for d in &plan.missing {
            lines.push(format!(
                "disk {} ({}) is not in the snapshot (--skip-missing leaves it as it is)",
                d.key, d.volid
            ));
        }
    }
    if !choices.skip_extra {
        for f in &plan.extra {
            lines.push(format!(
                "'{}/{}' on storage '{}' is in the snapshot but no disk of the guest now \
                 (--skip-extra leaves it there; 'vm attach' brings it back as an unused disk)",
                f.dir, f.name, f.storage
            ));
        }
    }
    if !choices.resize {
        for p in plan.resized() {
            lines.push(format!(
                "disk {} ({}) has {} bytes now and {} in the snapshot (--resize restores the \
                 snapshot's size)",
                p.disk.key,
                p.disk.volid,
                p.disk.size.unwrap_or_default(),
                p.file.size.unwrap_or_default()
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(key: &str, file: &str, size: u64) -> DiskNow {
        DiskNow {
            key: key.into(),
            volid: format!("ONTAP01:100/{file}"),
            storage: "ONTAP01".into(),
            dir: "images/100".into(),
            file: file.into(),
            size: Some(size),
        }
    }

    fn snap(name: &str, size: u64) -> SnapFile {
        SnapFile {
            storage: "ONTAP01".into(),
            dir: "images/100".into(),
            name: name.into(),
            size: Some(size),
        }
    }

    fn known(names: &[&str]) -> Vec<(String, String, String)> {
        names
            .iter()
            .map(|n| ("ONTAP01".into(), "images/100".into(), n.to_string()))
            .collect()
    }

    #[test]
    fn matches_by_name_and_names_every_mismatch() {
        let disks = [
            disk("scsi0", "vm-100-disk-0.qcow2", 10),
            disk("scsi1", "vm-100-disk-1.raw", 20),
            disk("efidisk0", "vm-100-disk-2.raw", 1),
        ];
        let own = [
            snap("vm-100-disk-0.qcow2", 10),
            snap("vm-100-disk-1.raw", 15),
            snap("vm-100-disk-7.raw", 5),
            snap("vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2", 10),
            snap("notes.txt", 1),
            snap("vm-100-disk-9.raw", 3),
        ];
        let p = plan(
            &disks,
            &own,
            &known(&[
                "vm-100-disk-0.qcow2",
                "vm-100-disk-1.raw",
                "vm-100-disk-2.raw",
                "vm-100-disk-9.raw",
            ]),
        );
        assert_eq!(p.pairs.len(), 2);
        assert_eq!(p.missing.len(), 1);
        assert_eq!(p.missing[0].key, "efidisk0");
        assert_eq!(p.extra.len(), 1);
        assert_eq!(p.extra[0].name, "vm-100-disk-7.raw");
        let resized: Vec<_> = p.resized().map(|p| p.disk.key.as_str()).collect();
        assert_eq!(resized, ["scsi1"]);

        let lines = unresolved(&p, Choices::default());
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("efidisk0"), "{lines:?}");
        assert!(lines[1].contains("vm-100-disk-7.raw"), "{lines:?}");
        assert!(lines[2].contains("20 bytes now and 15"), "{lines:?}");
        let all = Choices {
            skip_missing: true,
            skip_extra: true,
            resize: true,
        };
        assert!(unresolved(&p, all).is_empty());
        let some = Choices {
            skip_missing: true,
            ..Choices::default()
        };
        assert_eq!(unresolved(&p, some).len(), 2);
    }

    #[test]
    fn image_extensions_are_those_proxmox_lists() {
        assert!(is_image_file("vm-1-disk-0.raw"));
        assert!(is_image_file("x.vmdk"));
        assert!(!is_image_file("guests.json"));
        assert!(!is_image_file("raw"));
    }
}
