//! Simulated guest writes: a guest's disk files on nfs storages change content, which Proxmox can
//! only do through the NFS mount, i.e. through ONTAP's `Exports` (used by `/_sim/guests/<vmid>/write`).

use std::collections::BTreeMap;
use std::time::Instant;

use super::exports::Exports;
use super::state::PveState;
use super::volumes;
use crate::world::World;

/// `POST /_sim/guests/<vmid>/write`: bump the content generation of every disk file of the guest
/// (through the ONTAP side); returns how many files changed, or why not (unknown guest).
/// Disks are the volumes of the guest's disk keys (not CD-ROMs, not `unusedN`) on nfs storages.
pub fn guest_write(world: &mut World, vmid: u32) -> Result<usize, String> {
    let World { pve, ontap } = world;
    write_disks(pve, ontap, vmid)
}

/// The guest's disk files, grouped by the export they live on, each written through `exports`.
fn write_disks(
    state: &mut PveState,
    exports: &mut dyn Exports,
    vmid: u32,
) -> Result<usize, String> {
    state.advance(Instant::now());
    let guest = state
        .guests
        .get(&vmid)
        .ok_or_else(|| format!("guest {vmid} does not exist"))?;
    let mut by_export: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (_, volid) in guest.disk_volids() {
        let Some((sid, volname)) = volumes::parse_volid(&volid) else {
            continue;
        };
        let Some(storage) = state.storage(sid).filter(|s| s.storage_type == "nfs") else {
            continue;
        };
        let Ok(volumes::VolName::Image { owner, name }) = volumes::parse_file_volname(volname)
        else {
            continue;
        };
        let dir = volumes::content_subdir(&storage.options, "images");
        let server = storage.option("server").unwrap_or_default();
        let export = storage.option("export").unwrap_or_default();
        by_export
            .entry((server, export))
            .or_default()
            .push(format!("{dir}/{owner}/{name}"));
    }
    Ok(by_export
        .iter()
        .map(|((server, export), paths)| exports.write_files(server, export, paths))
        .sum())
}
