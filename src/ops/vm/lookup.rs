//! The lookups every VM command starts with: the guest and its config, which of its storages are
//! ONTAP-backed (each resolved once), where each disk's file lives, and one listing per directory.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;

use crate::error::{Error, Result, ResultExt};
use crate::ontap::FileInfo;
use crate::ops::disks::{self, Disk, GuestDisks};
use crate::ops::resolve::Resolved;
use crate::ops::vm::{Ctx, SkippedDisk};
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, Pve, StorageConfig};

/// A guest, its config and the disks in it.
pub(crate) struct Target {
    pub guest: Guest,
    pub config: GuestConfig,
    pub disks: GuestDisks,
}

/// `guests()` (one call for the whole cluster) and the guest's config.
pub(crate) fn load(pve: &dyn Pve, vmid: u32) -> Result<Target> {
    let guest = pve.guest(vmid).map_err(|e| match e {
        Error::NotFound { .. } => crate::pve::unlisted_guest(vmid),
        e => Error::Step {
            step: format!("look up guest {vmid} in the cluster's guest list"),
            cause: Box::new(e),
        },
    })?;
    let config = pve
        .guest_config(&guest)
        .step_with(|| format!("read the config of guest {vmid}"))?;
    let disks = disks::guest_disks(guest.guest_type, &config);
    Ok(Target {
        guest,
        config,
        disks,
    })
}

/// What a storage is to the VM commands.
pub(crate) enum Kind {
    /// An nfs storage with an ONTAP section in the config.
    Ontap(Box<StorageConfig>),
    /// Anything else; the reason says why it is not used.
    Other(String),
}

/// Classify storages with one `GET /storage` and the config's ONTAP sections.
pub(crate) fn classify(
    b: &dyn Backends,
    pve: &dyn Pve,
    ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, Kind>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let all = pve.storages().step("list the Proxmox storages")?;
    ids.iter()
        .map(|id| {
            let kind = match all.iter().find(|s| &s.storage == id) {
                // pve-storage `src/PVE/API2/Storage/Config.pm` `index` lists a storage only with
                // Datastore.Audit or Datastore.AllocateSpace on it: an ONTAP storage of the
                // config missing here is a missing privilege, not a storage to skip.
                None if b.ontap(id).is_ok() => {
                    return Err(Error::Refused(format!(
                        "storage '{id}' has an ONTAP section in the config, but Proxmox VE does \
                         not list it to this account: it needs Datastore.Audit (or \
                         Datastore.AllocateSpace) on /storage/{id}"
                    )))
                }
                None => Kind::Other(format!(
                    "storage '{id}' is not defined in Proxmox (or not visible to this user)"
                )),
                Some(s) if s.storage_type != "nfs" => Kind::Other(format!(
                    "storage '{id}' is of type {}, not an ONTAP NFS storage",
                    s.storage_type
                )),
                Some(s) => match b.ontap(id) {
                    Ok(_) => Kind::Ontap(Box::new(s.clone())),
                    Err(e) => Kind::Other(format!("storage '{id}' is not ONTAP-backed: {e}")),
                },
            };
            Ok((id.clone(), kind))
        })
        .collect()
}

/// Resolve each storage once (concurrently when there are several).
pub(crate) fn resolve_all(
    b: &dyn Backends,
    ctx: &Ctx<'_>,
    ids: &BTreeSet<String>,
) -> Result<BTreeMap<String, Resolved>> {
    let resolve = ctx.resolve;
    let results: Vec<(String, Result<Resolved>)> = thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| (id.clone(), s.spawn(move || resolve(b, id))))
            .collect();
        handles
            .into_iter()
            .map(|(id, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("resolution panicked".into())));
                (id, r)
            })
            .collect()
    });
    let mut out = BTreeMap::new();
    for (id, r) in results {
        let resolved = r.step_with(|| format!("resolve storage '{id}' to its ONTAP volume"))?;
        out.insert(id, resolved);
    }
    Ok(out)
}

/// Where one disk's file is on its ONTAP volume.
pub(crate) struct Placed<'a> {
    pub disk: &'a Disk,
    pub store: &'a Resolved,
    /// Directory relative to the volume root (`images/100`, `pve/images/105`).
    pub dir: String,
    pub file: String,
}

impl Placed<'_> {
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.file)
    }

    /// Volume id of a file next to this disk (`ONTAP01:100/<file>`).
    pub fn sibling_volid(&self, file: &str) -> String {
        sibling_volid(&self.disk.volume.storage, &self.dir, file)
    }

    /// `scsi0 (ONTAP01:100/vm-100-disk-0.qcow2)`.
    pub fn describe(&self) -> String {
        format!("disk {} ({})", self.disk.key, self.disk.volume)
    }
}

/// `ONTAP01` + `images/100` + file → `ONTAP01:100/file` (the directory's last part is the owner).
pub(crate) fn sibling_volid(storage: &str, dir: &str, file: &str) -> String {
    let owner = dir.rsplit('/').next().unwrap_or(dir);
    format!("{storage}:{owner}/{file}")
}

/// Place each disk on its resolved store; disks whose volume name is not an image file are returned
/// as skipped.
pub(crate) fn place<'a>(
    disks: impl IntoIterator<Item = &'a Disk>,
    stores: &'a BTreeMap<String, Resolved>,
) -> (Vec<Placed<'a>>, Vec<SkippedDisk>) {
    let mut placed = Vec::new();
    let mut skipped = Vec::new();
    for disk in disks {
        let Some(store) = stores.get(&disk.volume.storage) else {
            continue;
        };
        match disk.volume.image_file() {
            Some(img) => placed.push(Placed {
                disk,
                store,
                dir: store.images_dir(img.owner),
                file: img.file,
            }),
            None => skipped.push(SkippedDisk {
                key: disk.key.clone(),
                volume: disk.volume.to_string(),
                reason: format!(
                    "volume name '{}' is not an image file (<vmid>/<file>)",
                    disk.volume.volname
                ),
            }),
        }
    }
    (placed, skipped)
}

/// Directory listings keyed by (volume uuid, directory); a missing directory lists as empty.
#[derive(Default)]
pub(crate) struct Listings(BTreeMap<DirKey, Vec<FileInfo>>);

impl Listings {
    pub fn get(&self, store: &Resolved, dir: &str) -> &[FileInfo] {
        self.0
            .get(&(store.volume.uuid.clone(), dir.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    pub fn find(&self, store: &Resolved, dir: &str, name: &str) -> Option<&FileInfo> {
        self.get(store, dir).iter().find(|f| f.name == name)
    }
}

/// (volume uuid, directory).
type DirKey = (String, String);

/// One `list_dir` per distinct (volume, directory), concurrently.
pub(crate) fn list_dirs<'a>(
    dirs: impl IntoIterator<Item = (&'a Resolved, String)>,
) -> Result<Listings> {
    let mut unique: BTreeMap<DirKey, &Resolved> = BTreeMap::new();
    for (store, dir) in dirs {
        unique
            .entry((store.volume.uuid.clone(), dir))
            .or_insert(store);
    }
    let results: Vec<(DirKey, Result<Vec<FileInfo>>)> = thread::scope(|s| {
        let handles: Vec<_> = unique
            .iter()
            .map(|(key, store)| {
                let (uuid, dir) = key.clone();
                let store = *store;
                (
                    key.clone(),
                    s.spawn(move || match store.ontap.list_dir(&uuid, &dir) {
                        Err(e) if matches!(e.root(), Error::NotFound { .. }) => Ok(Vec::new()),
                        r => r.step_with(|| {
                            format!(
                                "list directory '{dir}' on volume '{}' (storage '{}')",
                                store.volume.name, store.storage.storage
                            )
                        }),
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(key, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("directory listing panicked".into())));
                (key, r)
            })
            .collect()
    });
    let mut out = Listings::default();
    for (key, r) in results {
        out.0.insert(key, r?);
    }
    Ok(out)
}

/// `scsi1 (local-lvm:vm-101-disk-1): reason; ...` for messages.
pub(crate) fn describe_skipped(skipped: &[SkippedDisk]) -> String {
    skipped
        .iter()
        .map(|s| format!("{} ({}): {}", s.key, s.volume, s.reason))
        .collect::<Vec<_>>()
        .join("; ")
}
