//! Taking and sizing snapshots of a volume: a new snapshot captures the current file tree (names
//! unique per volume, at most 1023 per volume), and each holds the bytes newer states no longer share.

use time::OffsetDateTime;

use super::errors::ApiError;
use super::state::{OntapState, Snapshot, Volume};
use super::tree::{Kind, Tree};

/// At most this many snapshots per volume.
pub const MAX_SNAPSHOTS: usize = 1023;

fn exclusive_bytes(tree: &Tree, newer: &Tree) -> u64 {
    tree.files()
        .filter(|(path, size, generation)| {
            !matches!(newer.get(path).map(|n| &n.kind),
                Some(Kind::File { size: s, generation: g }) if s == size && g == generation)
        })
        .map(|(_, size, _)| size)
        .sum()
}

/// Per snapshot (oldest first): the bytes it holds that the next newer state no longer shares.
pub fn sizes(v: &Volume) -> Vec<u64> {
    (0..v.snapshots.len())
        .map(|i| {
            let newer = v.snapshots.get(i + 1).map(|s| &s.tree).unwrap_or(&v.tree);
            exclusive_bytes(&v.snapshots[i].tree, newer)
        })
        .collect()
}

/// Add a snapshot capturing the volume's current tree (checks name uniqueness and the limit).
/// Returns its uuid.
pub fn insert_snapshot(
    state: &mut OntapState,
    vol: &str,
    uuid: String,
    name: String,
    comment: Option<String>,
    label: Option<String>,
    expiry: Option<OffsetDateTime>,
) -> Result<String, ApiError> {
    let now = state.now();
    let v = state
        .volume_mut(vol)
        .ok_or_else(|| ApiError::volume_not_found(vol))?;
    if v.snapshot_by_name(&name).is_some() {
        return Err(ApiError::new(
            409,
            525059,
            format!(
                "A snapshot with the specified name already exists: \"{name}\" on volume \"{}\".",
                v.name
            ),
        )
        .with_target("name"));
    }
    if v.snapshots.len() >= MAX_SNAPSHOTS {
        return Err(ApiError::new(
            400,
            525062,
            format!(
                "Cannot exceed maximum number of snapshots ({MAX_SNAPSHOTS}) on volume \"{}\".",
                v.name
            ),
        ));
    }
    v.snapshots.push(Snapshot {
        uuid: uuid.clone(),
        name,
        create_time: now,
        comment,
        snapmirror_label: label,
        expiry_time: expiry,
        snaplock_expiry_time: None,
        static_owners: Vec::new(),
        tree: v.tree.clone(),
    });
    Ok(uuid)
}
