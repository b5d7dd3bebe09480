//! `storage list` (the tool's snapshots, or all with `--all`, with the FlexClones made from each)
//! and `storage show` (the backing volume's metadata).

use crate::error::{Result, ResultExt};
use crate::model::names::STORAGE_SNAPSHOT_PREFIX;
use crate::ops::resolve::resolve;
use crate::ops::Backends;

use super::{clones_from, clones_of, on_volume, row, snapshots, ShowReport, SnapshotRow};

/// Requests: the resolution, one snapshots listing, one volumes query for the clones of the volume
/// (skipped when no snapshot is listed).
pub(super) fn list(b: &dyn Backends, storage: &str, all: bool) -> Result<Vec<SnapshotRow>> {
    let r = resolve(b, storage)?;
    let snaps: Vec<_> = snapshots(&r)?
        .into_iter()
        .filter(|s| all || s.name.starts_with(STORAGE_SNAPSHOT_PREFIX))
        .collect();
    if snaps.is_empty() {
        return Ok(Vec::new());
    }
    let clones = clones_of(&r)?;
    Ok(snaps
        .iter()
        .map(|s| row(&r, s, clones_from(&clones, &s.name)))
        .collect())
}

/// Requests: the resolution (whose volume query already carries every field shown), the clones
/// query, and a snapshots listing only when ONTAP does not report `snapshot_count` (before 9.10).
pub(super) fn show(b: &dyn Backends, storage: &str) -> Result<ShowReport> {
    let r = resolve(b, storage)?;
    let clones = clones_of(&r)?.into_iter().map(|v| v.name).collect();
    let mut volume = r.volume.clone();
    if volume.snapshot_count.is_none() {
        let n = r
            .ontap
            .snapshots(&volume.uuid)
            .step_with(|| on_volume(&r, "count the snapshots"))?
            .len();
        volume.snapshot_count = Some(n as u64);
    }
    Ok(ShowReport {
        storage: r.storage.storage.clone(),
        server: r.storage.server.clone(),
        export: r.storage.export.clone(),
        prefix: r.prefix.clone(),
        volume,
        clones,
    })
}
