//! Storage → volume resolution (DESIGN §3): Proxmox storage id → nfs server + export → SVM by data
//! LIF → volume by junction path on that SVM (export below a junction: volume + path prefix).

use std::sync::Arc;

use crate::error::Result;
use crate::ontap::{Ontap, Volume};
use crate::ops::Backends;
use crate::pve::StorageConfig;

/// A Proxmox storage and the ONTAP volume behind it.
#[derive(Clone)]
pub struct Resolved {
    pub storage: StorageConfig,
    pub volume: Volume,
    /// Path of the export inside the volume, "" when the export is the junction itself,
    /// else e.g. `pve/images` (no leading or trailing slash).
    pub prefix: String,
    /// The ONTAP client for this storage's cluster.
    pub ontap: Arc<dyn Ontap>,
}

impl Resolved {
    /// A path relative to the export → the same path relative to the volume root.
    pub fn volume_path(&self, export_relative: &str) -> String {
        let rel = export_relative.trim_start_matches('/');
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// The images directory of a guest relative to the volume root (honours `content-dirs images=`).
    pub fn images_dir(&self, vmid: u32) -> String {
        let dir = self
            .storage
            .content_dirs
            .as_deref()
            .and_then(|cd| {
                cd.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| k.trim() == "images")
                    .map(|(_, v)| v.trim().trim_matches('/').to_string())
            })
            .unwrap_or_else(|| "images".to_string());
        self.volume_path(&format!("{dir}/{vmid}"))
    }
}

/// Resolve a Proxmox storage id to its ONTAP volume. Errors name the storage and what did not match
/// (unknown storage, not `nfs`, no config section, no LIF, no volume at that junction).
pub fn resolve(backends: &dyn Backends, storage_id: &str) -> Result<Resolved> {
    let _ = (backends, storage_id);
    todo!("ops::resolve::resolve")
}
