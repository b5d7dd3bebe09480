//! The storage-snapshot half of `vm list`: every volume snapshot of the storages holding the
//! guest's disks, from one snapshot listing per volume. Which disks a snapshot holds needs a
//! directory read inside that snapshot, so it is done only when asked (`--contents`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::ontap::Snapshot;
use crate::ops::resolve::Resolved;
use crate::ops::vm::list::Scan;
use crate::ops::vm::recover::find::{self, each, Found};

/// One volume snapshot as seen from a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageSnapshotEntry {
    /// Always `storage` (disk sets are `disk set`).
    pub kind: &'static str,
    pub name: String,
    /// Creation time as ONTAP reports it.
    pub time: String,
    /// The snapshot's SnapMirror label (what this tool's `--label` sets).
    pub label: Option<String>,
    /// The guest's storages whose volume has this snapshot.
    pub storages: Vec<String>,
    /// With `--contents`: the guest's disks (and former disks) whose files the snapshot holds;
    /// `None` when not read.
    pub disks: Option<Vec<ContainedDisk>>,
}

/// A disk file found in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainedDisk {
    /// The config key of the disk now; None for a file that is no disk of the guest now.
    pub key: Option<String>,
    pub storage: String,
    pub file: String,
    pub size: Option<u64>,
}

/// Every snapshot of the guest's volumes (one listing each), newest first; with `contents`,
/// only those holding a disk file of the guest, with the disks.
pub(crate) fn entries(scan: &Scan, contents: bool) -> Result<Vec<StorageSnapshotEntry>> {
    let mut volumes: BTreeMap<String, (&Resolved, Vec<String>)> = BTreeMap::new();
    for (id, store) in &scan.stores {
        volumes
            .entry(store.volume.uuid.clone())
            .or_insert((store, Vec::new()))
            .1
            .push(id.clone());
    }
    let volumes: Vec<(&Resolved, Vec<String>)> = volumes.into_values().collect();
    let listed = each(&volumes, |(store, ids)| {
        crate::error::ResultExt::step_with(store.ontap.snapshots(&store.volume.uuid), || {
            format!(
                "list the snapshots of volume '{}' (storage '{}')",
                store.volume.name,
                ids.join("', '")
            )
        })
    });
    // Snapshot name → (storages, snapshot records by storage).
    let mut by_name: BTreeMap<String, BTreeMap<String, (&Resolved, Snapshot)>> = BTreeMap::new();
    for ((store, ids), list) in volumes.iter().zip(listed) {
        for s in list? {
            let on = by_name.entry(s.name.clone()).or_default();
            for id in ids {
                on.insert(id.clone(), (*store, s.clone()));
            }
        }
    }
    let found: Vec<Found<'_>> = by_name
        .into_iter()
        .map(|(name, on)| Found { name, on })
        .collect();
    let disks: Vec<Option<Vec<ContainedDisk>>> = if contents {
        each(&found, |f| find::plan_for(scan, f, None))
            .into_iter()
            .map(|p| {
                p.map(|p| {
                    let mut d: Vec<ContainedDisk> = p
                        .pairs
                        .iter()
                        .map(|pair| ContainedDisk {
                            key: Some(pair.disk.key.clone()),
                            storage: pair.file.storage.clone(),
                            file: pair.file.name.clone(),
                            size: pair.file.size,
                        })
                        .collect();
                    d.extend(p.extra.iter().map(|f| ContainedDisk {
                        key: None,
                        storage: f.storage.clone(),
                        file: f.name.clone(),
                        size: f.size,
                    }));
                    Some(d)
                })
            })
            .collect::<Result<_>>()?
    } else {
        found.iter().map(|_| None).collect()
    };
    let mut out: Vec<StorageSnapshotEntry> = found
        .iter()
        .zip(disks)
        .filter(|(_, d)| d.as_ref().is_none_or(|d| !d.is_empty()))
        .map(|(f, disks)| StorageSnapshotEntry {
            kind: "storage",
            name: f.name.clone(),
            time: f.create_time(),
            label: f.label(),
            storages: f.storages(),
            disks,
        })
        .collect();
    out.sort_by(|a, b| {
        let ka = crate::ops::vm::recover::time_key(&a.time);
        let kb = crate::ops::vm::recover::time_key(&b.time);
        kb.cmp(&ka).then(b.name.cmp(&a.name))
    });
    Ok(out)
}
