//! `status`: the facts of one configured storage, read from ONTAP once per volume (the resolution's
//! volume query already carries the counts, space and locking; one snapshots listing adds the ages).
//! What the facts mean (ages, problems) is decided in `model::status`.

use crate::error::ResultExt;
use crate::model::names::STORAGE_SNAPSHOT_PREFIX;
use crate::model::status::{Facts, SnapFact, VolumeFacts};
use crate::ops::resolve::resolve;
use crate::ops::storage::{created, on_volume};
use crate::ops::Backends;

/// Requests: the resolution (Proxmox storage, LIF, volume) and one snapshots listing. A failure
/// is not an error of `status`: it becomes the storage's `Facts::Failed`, a problem line.
pub fn storage_facts(b: &dyn Backends, storage: &str) -> Facts {
    match read(b, storage) {
        Ok(f) => Facts::Read(f),
        Err(e) => Facts::Failed(e.to_string()),
    }
}

fn read(b: &dyn Backends, storage: &str) -> crate::error::Result<VolumeFacts> {
    let r = resolve(b, storage)?;
    let snaps = r
        .ontap
        .snapshots(&r.volume.uuid)
        .step_with(|| on_volume(&r, "list the snapshots"))?;
    let count = r.volume.snapshot_count.unwrap_or(snaps.len() as u64);
    let snapshots = snaps
        .iter()
        .filter(|s| s.name.starts_with(STORAGE_SNAPSHOT_PREFIX))
        .filter_map(|s| {
            Some(SnapFact {
                name: s.name.clone(),
                label: s.snapmirror_label.clone().filter(|l| !l.is_empty()),
                created: created(s)?,
                lock_expiry: s.snaplock_expiry_time.clone(),
            })
        })
        .collect();
    Ok(VolumeFacts {
        volume: r.volume.name.clone(),
        snapshot_count: count,
        snapshot_bytes: r.volume.snapshot_used,
        used_bytes: r.volume.used,
        size_bytes: r.volume.size,
        locking_enabled: r.volume.snapshot_locking_enabled,
        snapshots,
    })
}
