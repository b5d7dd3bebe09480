//! The lookups of every recovery command: which of the guest's storages hold a storage snapshot
//! of that name (one filtered request per volume), and the snapshot's copy of the guest's
//! directories (one listing per directory), matched against the guest's disks now.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;

use crate::error::{Error, Result, ResultExt};
use crate::ontap::{FileInfo, Snapshot};
use crate::ops::resolve::Resolved;
use crate::ops::vm::list::Scan;
use crate::ops::vm::recover::plan::{self, DiskNow, Plan, SnapFile};

/// At most this many requests of one command in flight at once.
pub(crate) const IN_FLIGHT: usize = 8;

/// Run `f` over `items` on up to `IN_FLIGHT` threads; results in item order.
pub(crate) fn each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for (chunk_no, chunk) in items.chunks(IN_FLIGHT).enumerate() {
        let results: Vec<Option<R>> = thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|i| s.spawn(|| f(i))).collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        for (i, r) in results.into_iter().enumerate() {
            out[chunk_no * IN_FLIGHT + i] = r;
        }
    }
    out.into_iter()
        .map(|r| r.ok_or_else(|| Error::Internal("a worker thread panicked".into())))
        .collect::<Result<Vec<R>>>()
        .unwrap_or_else(|_| Vec::new())
}

/// A storage snapshot found on some of the guest's storages.
pub(crate) struct Found<'s> {
    pub name: String,
    /// Storage id → its store and the snapshot record (storages on one volume share it).
    pub on: BTreeMap<String, (&'s Resolved, Snapshot)>,
}

impl Found<'_> {
    pub fn storages(&self) -> Vec<String> {
        self.on.keys().cloned().collect()
    }

    pub fn create_time(&self) -> String {
        self.on
            .values()
            .map(|(_, s)| s.create_time.clone())
            .min()
            .unwrap_or_default()
    }

    pub fn label(&self) -> Option<String> {
        self.on
            .values()
            .find_map(|(_, s)| s.snapmirror_label.clone())
    }
}

/// A snapshot name as ONTAP allows it, and one that cannot leave `.snapshot/<name>/`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.len() > 255 {
        return Err(Error::Usage(format!(
            "invalid snapshot name '{name}': a volume snapshot name or a set timestamp"
        )));
    }
    Ok(())
}

/// Look the snapshot up by name on each of the guest's volumes (one request per volume).
pub(crate) fn find<'s>(scan: &'s Scan, name: &str) -> Result<Found<'s>> {
    check_name(name)?;
    // One lookup per volume; storages sharing a volume share the answer.
    let mut by_volume: BTreeMap<String, Vec<(&String, &Resolved)>> = BTreeMap::new();
    for (id, store) in &scan.stores {
        by_volume
            .entry(store.volume.uuid.clone())
            .or_default()
            .push((id, store));
    }
    let groups: Vec<Vec<(&String, &Resolved)>> = by_volume.into_values().collect();
    let answers = each(&groups, |g| {
        let store = g[0].1;
        match store.ontap.snapshot(&store.volume.uuid, name) {
            Ok(s) => Ok(Some(s)),
            Err(e) if matches!(e.root(), Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).step_with(|| {
                format!(
                    "look up snapshot '{name}' of volume '{}' (storage '{}')",
                    store.volume.name, g[0].0
                )
            }),
        }
    });
    let mut on = BTreeMap::new();
    for (g, answer) in groups.iter().zip(answers) {
        if let Some(snapshot) = answer? {
            for (id, store) in g {
                on.insert((*id).clone(), (*store, snapshot.clone()));
            }
        }
    }
    if on.is_empty() {
        let vmid = scan.target.guest.vmid;
        let storages: Vec<&str> = scan.stores.keys().map(String::as_str).collect();
        return Err(Error::NotFound {
            what: format!(
                "snapshot '{name}' as a disk set of guest {vmid} or a volume snapshot of its \
                 storages ({}); see 'vm list --vm {vmid}'",
                storages.join(", ")
            ),
        });
    }
    Ok(Found {
        name: name.to_string(),
        on,
    })
}

/// `.snapshot/<name>/<dir>`: where a snapshot keeps a directory of the active file system.
pub(crate) fn snapshot_path(name: &str, volume_path: &str) -> String {
    format!(".snapshot/{name}/{volume_path}")
}

/// The files of the snapshot in the guest's own images directories and in the directories its
/// disks live in (one listing per directory, read inside the snapshot).
pub(crate) fn snapshot_files(scan: &Scan, found: &Found<'_>) -> Result<Vec<SnapFile>> {
    let vmid = scan.target.guest.vmid;
    let mut dirs: BTreeSet<(String, String)> = BTreeSet::new();
    for (id, (store, _)) in &found.on {
        dirs.insert((id.clone(), store.images_dir(vmid)));
    }
    for l in &scan.locations {
        if found.on.contains_key(&l.storage) {
            dirs.insert((l.storage.clone(), l.dir.clone()));
        }
    }
    let dirs: Vec<(String, String)> = dirs.into_iter().collect();
    let listings = each(&dirs, |(id, dir)| {
        let (store, _) = &found.on[id];
        let path = snapshot_path(&found.name, dir);
        match store.ontap.list_dir(&store.volume.uuid, &path) {
            Ok(files) => Ok(files),
            Err(e) if matches!(e.root(), Error::NotFound { .. }) => Ok(Vec::<FileInfo>::new()),
            Err(e) => Err(e).step_with(|| {
                format!(
                    "list '{path}' on volume '{}' (storage '{id}')",
                    store.volume.name
                )
            }),
        }
    });
    let mut own: Vec<SnapFile> = Vec::new();
    let mut seen = BTreeSet::new();
    for ((id, dir), listing) in dirs.iter().zip(listings) {
        let (store, _) = &found.on[id];
        for f in listing? {
            if f.file_type != "file" {
                continue;
            }
            // Two storages on one volume list the same files once.
            if !seen.insert((store.volume.uuid.clone(), dir.clone(), f.name.clone())) {
                continue;
            }
            own.push(SnapFile {
                storage: id.clone(),
                dir: dir.clone(),
                name: f.name,
                size: f.size,
            });
        }
    }
    Ok(own)
}

/// The disks of a config placed on the scanned stores; disks on other storages (or that are no
/// image files) get an empty `dir`, so that no snapshot file matches them.
pub(crate) fn disks_of(scan: &Scan, config: &crate::pve::GuestConfig) -> Vec<DiskNow> {
    let guest_type = scan.target.guest.guest_type;
    let disks = crate::ops::disks::guest_disks(guest_type, config);
    disks
        .disks
        .iter()
        .map(|d| {
            let now = scan
                .locations
                .iter()
                .find(|l| l.key == d.key && l.volid == d.volume.to_string());
            let placed = scan
                .stores
                .get(&d.volume.storage)
                .zip(d.volume.image_file())
                .map(|(store, img)| (store.images_dir(img.owner), img.file));
            let (dir, file) = placed.unwrap_or_else(|| (String::new(), d.volume.volname.clone()));
            DiskNow {
                key: d.key.clone(),
                volid: d.volume.to_string(),
                storage: d.volume.storage.clone(),
                dir,
                file,
                size: now.and_then(|l| l.size),
            }
        })
        .collect()
}

/// The guest's disks now, the snapshot's files, matched (`only`: one disk key).
pub(crate) fn plan_for(scan: &Scan, found: &Found<'_>, only: Option<&str>) -> Result<Plan> {
    let vmid = scan.target.guest.vmid;
    let own = snapshot_files(scan, found)?;
    let mut disks = disks_of(scan, &scan.target.config);
    if let Some(key) = only {
        disks.retain(|d| d.key == key);
        if disks.is_empty() {
            return Err(Error::NotFound {
                what: format!("disk '{key}' of guest {vmid}"),
            });
        }
    }
    let known: Vec<(String, String, String)> = scan
        .locations
        .iter()
        .map(|l| (l.storage.clone(), l.dir.clone(), l.file.clone()))
        .collect();
    let mut p = plan::plan(&disks, &own, &known);
    if only.is_some() {
        p.extra.clear();
    }
    Ok(p)
}
