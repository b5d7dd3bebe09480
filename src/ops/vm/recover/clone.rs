//! `vm clone`: a new QEMU guest from a snapshot (disk set or storage snapshot) of another one —
//! its disks file clones named as Proxmox names them for the new guest, its configuration the
//! recorded one (or the current one, said so) with new MACs, created through the Proxmox API.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::error::{Error, Result, ResultExt};
use crate::model::names as naming;
use crate::ops::resolve::Resolved;
use crate::ops::vm::list::Scan;
use crate::ops::vm::recover::find::{self, each, snapshot_path};
use crate::ops::vm::recover::newconfig::{self, Entropy};
use crate::ops::vm::recover::plan::{DiskNow, SnapFile};
use crate::ops::vm::recover::{gone, lock_all, show, CloneOptions, RecoveredDisk, Recovery};
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::pve::{Guest, GuestType};
use crate::sys::paths::Paths;
use crate::sys::signals;

/// How long the create and start tasks may take.
const TASK_WAIT: Duration = Duration::from_secs(120);

/// One file to clone for the new guest.
pub(crate) struct Copy<'a> {
    pub key: String,
    pub store: &'a Resolved,
    pub storage: String,
    /// Volume-relative source (may be inside `.snapshot/`).
    pub source: String,
    /// Volume-relative destination.
    pub destination: String,
    pub volid: String,
    pub size: Option<u64>,
}

/// The snapshot's files as clone sources: (file as it stands for a disk, its source path).
pub(crate) struct Sources<'a> {
    pub kind: &'static str,
    pub storages: Vec<String>,
    pub created: String,
    pub files: Vec<(SnapFile, String, &'a Resolved)>,
}

/// Read the snapshot's files (a set's files, or a storage snapshot's copy of the directories).
pub(crate) fn sources<'a>(scan: &'a Scan, name: &str) -> Result<Sources<'a>> {
    if naming::parse_timestamp(name).is_some() {
        let set = scan.find_complete(name, "use")?;
        let files = set
            .files
            .iter()
            .map(|f| {
                (
                    SnapFile {
                        storage: f.storage.clone(),
                        dir: f.dir.clone(),
                        name: f.source.clone(),
                        size: f.size,
                    },
                    f.path(),
                    &scan.stores[&f.storage],
                )
            })
            .collect();
        let mut storages: Vec<String> = set.files.iter().map(|f| f.storage.clone()).collect();
        storages.dedup();
        return Ok(Sources {
            kind: "disk set",
            storages,
            created: set.timestamp.clone(),
            files,
        });
    }
    let found = find::find(scan, name)?;
    let own = find::snapshot_files(scan, &found)?;
    let files = own
        .into_iter()
        .map(|f| {
            let store = found.on[&f.storage].0;
            let src = snapshot_path(name, &format!("{}/{}", f.dir, f.name));
            (f, src, store)
        })
        .collect();
    Ok(Sources {
        kind: "storage",
        storages: found.storages(),
        created: found.create_time(),
        files,
    })
}

/// The first `vm-<vmid>-disk-<n>.<ext>` whose `vm-<vmid>-disk-<n>` no file in `taken` uses, in
/// any format (pve-storage `find_free_diskname` counts a number as used whatever the
/// extension); the name is added to `taken`.
pub(crate) fn new_file_name(vmid: u32, ext: &str, taken: &mut BTreeSet<String>) -> String {
    let mut n = 0;
    loop {
        let stem = format!("vm-{vmid}-disk-{n}");
        let used = taken.iter().any(|t| {
            t.strip_prefix(&stem)
                .is_some_and(|rest| rest.starts_with('.'))
        });
        if !used {
            let name = format!("{stem}.{ext}");
            taken.insert(name.clone());
            return name;
        }
        n += 1;
    }
}

/// The extension of a disk file (`qcow2`, `raw`, `vmdk`).
pub(crate) fn extension(file: &str) -> &str {
    file.rsplit_once('.').map_or("raw", |(_, e)| e)
}

/// (volume uuid, directory) pairs.
pub(crate) type DirSet = BTreeSet<(String, String)>;

/// Files already in the new guest's images directories (a directory that does not exist lists
/// as empty and is marked to be created).
pub(crate) fn taken_names(stores: &[&Resolved], vmid: u32) -> Result<(BTreeSet<String>, DirSet)> {
    let listings = each(stores, |s| {
        let dir = s.images_dir(vmid);
        match s.ontap.list_dir(&s.volume.uuid, &dir) {
            Ok(files) => Ok(Some(files)),
            Err(e) if matches!(e.root(), Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).step_with(|| format!("list '{dir}' on volume '{}'", s.volume.name)),
        }
    });
    let mut taken = BTreeSet::new();
    let mut missing_dirs = BTreeSet::new();
    for (s, l) in stores.iter().zip(listings) {
        match l? {
            Some(files) => taken.extend(files.into_iter().map(|f| f.name)),
            None => {
                missing_dirs.insert((s.volume.uuid.clone(), s.images_dir(vmid)));
            }
        }
    }
    Ok((taken, missing_dirs))
}

/// Make the directories and clone the files; on a failure remove what was made and name the disk.
pub(crate) fn make_files(copies: &[Copy<'_>], dirs: &DirSet, what: &str) -> Result<()> {
    let mut made_dirs = Vec::new();
    for (uuid, dir) in dirs {
        let store = copies
            .iter()
            .find(|c| &c.store.volume.uuid == uuid)
            .map(|c| c.store);
        if let Some(store) = store {
            if let Err(e) = store.ontap.create_directory(uuid, dir) {
                remove_dirs(&made_dirs);
                return Err(Error::Step {
                    step: format!(
                        "{what}: create directory '{dir}' on volume '{}'",
                        store.volume.name
                    ),
                    cause: Box::new(e),
                });
            }
            made_dirs.push((store, dir.clone()));
        }
    }
    let results = each(copies, |c| {
        c.store
            .ontap
            .clone_file(&c.store.volume, &c.source, &c.destination, false)
    });
    let failed: Vec<String> = copies
        .iter()
        .zip(&results)
        .filter_map(|(c, r)| {
            r.as_ref()
                .err()
                .map(|e| format!("disk {} ({} from {}): {e}", c.key, c.volid, c.source))
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    // A clone whose answer was lost may have been made: every destination goes.
    let made: Vec<&Copy<'_>> = copies.iter().collect();
    let left = remove_files(&made);
    remove_dirs(&made_dirs);
    Err(Error::Refused(format!(
        "{what} failed for {}; the files made were removed{}",
        failed.join("; "),
        if left.is_empty() {
            String::new()
        } else {
            format!(" except {}", left.join(", "))
        }
    )))
}

/// Delete files this run made or may have made (one that is not there is fine); returns those
/// that stayed.
pub(crate) fn remove_files(made: &[&Copy<'_>]) -> Vec<String> {
    each(made, |c| {
        match c
            .store
            .ontap
            .delete_file(&c.store.volume.uuid, &c.destination)
        {
            Err(e) if !matches!(e.root(), Error::NotFound { .. }) => {
                Err(format!("{} ({e})", c.volid))
            }
            _ => Ok(()),
        }
    })
    .into_iter()
    .filter_map(|r| r.err())
    .collect()
}

fn remove_dirs(dirs: &[(&Resolved, String)]) {
    for (store, dir) in dirs {
        if let Err(e) = store.ontap.delete_file(&store.volume.uuid, dir) {
            log::warn!("could not remove directory '{dir}': {e}");
        }
    }
}

pub(crate) fn run(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    opts: &CloneOptions,
    paths: &Paths,
    ctx: &Ctx<'_>,
    entropy: &dyn Entropy,
) -> Result<Recovery> {
    let new_vmid = opts.new_vmid;
    // ---- Lookups. ----
    let pve = b.pve()?;
    let (scan, gone) = gone::scan(b, vmid, name, opts.storage.as_deref(), ctx)?;
    // A guest that no longer exists may come back under its own VMID.
    if new_vmid == vmid && !gone {
        return Err(Error::Usage(format!(
            "--new-vmid {new_vmid} is the guest itself; give an unused VMID"
        )));
    }
    if gone && opts.current_config {
        return Err(Error::Usage(format!(
            "guest {vmid} no longer exists, so it has no current configuration; leave out \
             --current-config"
        )));
    }
    if scan.target.guest.guest_type == GuestType::Lxc {
        return Err(Error::Refused(format!(
            "guest {vmid} is a container: Proxmox's API creates a container only by unpacking a \
             template or a backup into its root disk (pct create needs 'ostemplate'), never on an \
             existing disk as it is, so a container cannot be cloned from a snapshot. Restore it \
             in place ('vm restore'), or attach its disk to a helper guest ('vm attach')"
        )));
    }
    if let Some(g) = pve
        .guests()
        .step("list the cluster's guests")?
        .iter()
        .find(|g| g.vmid == new_vmid)
    {
        return Err(Error::Refused(format!(
            "VMID {new_vmid} is in use ({} {new_vmid} on node '{}'); choose a free one",
            if g.guest_type == GuestType::Qemu {
                "VM"
            } else {
                "CT"
            },
            g.node
        )));
    }
    let src = sources(&scan, name)?;
    let (source_config, config_source, mut notes) = if opts.current_config {
        (
            scan.target.config.clone(),
            "current",
            vec!["configuration: the guest's current one (--current-config)".to_string()],
        )
    } else {
        match show::read(&scan, name) {
            Ok(c) => (
                c.config,
                "snapshot",
                vec![format!(
                    "configuration: as recorded with the snapshot (taken {})",
                    c.created
                )],
            ),
            Err(e) if matches!(e.root(), Error::NotFound { .. }) => (
                scan.target.config.clone(),
                "current",
                vec![format!(
                    "configuration: the guest's CURRENT one, because the snapshot recorded none \
                     ({e})"
                )],
            ),
            Err(e) => return Err(e),
        }
    };
    let disks: Vec<DiskNow> = find::disks_of(&scan, &source_config);
    let mut missing = Vec::new();
    let mut chosen: Vec<(&DiskNow, &(SnapFile, String, &Resolved))> = Vec::new();
    for d in &disks {
        match src
            .files
            .iter()
            .find(|(f, _, _)| f.storage == d.storage && f.dir == d.dir && f.name == d.file)
        {
            Some(f) => chosen.push((d, f)),
            None => missing.push(format!("disk {} ({})", d.key, d.volid)),
        }
    }
    if !missing.is_empty() && !opts.skip_missing {
        return Err(Error::Refused(format!(
            "snapshot '{name}' of guest {vmid} has no file for {}; nothing was made \
             (--skip-missing makes the guest without them)",
            missing.join(", ")
        )));
    }
    if chosen.is_empty() {
        return Err(Error::Refused(format!(
            "snapshot '{name}' holds no disk of guest {vmid}; nothing was made"
        )));
    }
    let mut stores: Vec<&Resolved> = Vec::new();
    for (_, (_, _, s)) in &chosen {
        if !stores.iter().any(|x| x.volume.uuid == s.volume.uuid) {
            stores.push(*s);
        }
    }
    let (mut taken, missing_dirs) = taken_names(&stores, new_vmid)?;
    let copies: Vec<Copy<'_>> = chosen
        .iter()
        .map(|(d, (f, source, store))| {
            let file = new_file_name(new_vmid, extension(&f.name), &mut taken);
            Copy {
                key: d.key.clone(),
                store,
                storage: d.storage.clone(),
                source: source.clone(),
                destination: format!("{}/{file}", store.images_dir(new_vmid)),
                volid: format!("{}:{new_vmid}/{file}", d.storage),
                size: f.size,
            }
        })
        .collect();
    let volumes: BTreeMap<String, String> = copies
        .iter()
        .map(|c| (c.key.clone(), c.volid.clone()))
        .collect();
    // A guest that no longer exists and comes back under its own VMID is itself again: its
    // name, MAC addresses and SMBIOS UUID.
    let itself = gone && new_vmid == vmid;
    let new_name = match (&opts.name, itself) {
        (Some(n), _) => Some(n.clone()),
        (None, true) => source_config.get("name").cloned(),
        (None, false) => None,
    };
    let identity = if itself {
        newconfig::Identity::Keep
    } else {
        newconfig::Identity::New
    };
    let built = newconfig::build(
        GuestType::Qemu,
        &source_config,
        &volumes,
        new_name.as_deref(),
        (identity, entropy),
    );
    notes.extend(built.notes);
    let node = scan.target.guest.node.clone();

    // ---- Changes. ----
    let storages: Vec<String> = copies.iter().map(|c| c.storage.clone()).collect();
    let _locks = lock_all(paths, &storages, &format!("vm clone {vmid} -> {new_vmid}"))?;
    let _shield = signals::shield()?;
    let what = format!("clone of guest {vmid} from snapshot '{name}' to new guest {new_vmid}");
    make_files(&copies, &missing_dirs, &what)?;
    if let Err(e) = pve.create_vm(&node, new_vmid, &built.config, TASK_WAIT) {
        // A lost answer may hide a VM Proxmox made after all: this run made it, so it goes.
        let vm = match pve.guests() {
            Ok(all) => all.into_iter().find(|g| g.vmid == new_vmid),
            Err(_) => None,
        };
        let vm_note = match vm.map(|g| pve.destroy_vm(&g, TASK_WAIT)) {
            Some(Err(d)) => format!("; VM {new_vmid} was made and could not be removed: {d}"),
            Some(Ok(())) => format!("; VM {new_vmid} was removed again"),
            None => String::new(),
        };
        let made: Vec<&Copy<'_>> = copies.iter().collect();
        let left = remove_files(&made);
        let dirs: Vec<(&Resolved, String)> = missing_dirs
            .iter()
            .filter_map(|(uuid, dir)| {
                stores
                    .iter()
                    .find(|s| &s.volume.uuid == uuid)
                    .map(|s| (*s, dir.clone()))
            })
            .collect();
        remove_dirs(&dirs);
        return Err(Error::Step {
            step: format!(
                "{what}: create VM {new_vmid} on node '{node}' through the Proxmox API (the \
                 cloned files were removed{}{vm_note})",
                if left.is_empty() {
                    String::new()
                } else {
                    format!(" except {}", left.join(", "))
                }
            ),
            cause: Box::new(e),
        });
    }
    let new_guest = Guest {
        vmid: new_vmid,
        node: node.clone(),
        guest_type: GuestType::Qemu,
        name: built.config.get("name").cloned(),
        status: "stopped".into(),
    };
    if opts.start {
        match pve.start(&new_guest, TASK_WAIT) {
            Ok(()) => notes.push(format!("guest {new_vmid} was started (--start)")),
            Err(e) => notes.push(format!("guest {new_vmid} was made but did not start: {e}")),
        }
    } else {
        notes.push(format!(
            "guest {new_vmid} is stopped; start it with 'qm start {new_vmid}' on node {node}"
        ));
    }
    Ok(Recovery {
        vmid,
        snapshot: name.to_string(),
        kind: src.kind,
        storages: src.storages,
        created: src.created,
        action: "cloned".into(),
        disks: copies
            .iter()
            .map(|c| RecoveredDisk {
                key: c.key.clone(),
                volume: c.volid.clone(),
                source: c.source.clone(),
                size_before: None,
                size: c.size,
            })
            .collect(),
        kept: None,
        new_vmid: Some(new_vmid),
        config_source: Some(config_source.into()),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_numbers_are_free_in_every_format() {
        let mut taken: BTreeSet<String> = ["vm-102-disk-0.qcow2", "vm-102-disk-0-snapshot-x.qcow2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(new_file_name(102, "raw", &mut taken), "vm-102-disk-1.raw");
        assert_eq!(new_file_name(102, "raw", &mut taken), "vm-102-disk-2.raw");
        assert_eq!(extension("a.b.qcow2"), "qcow2");
    }
}
