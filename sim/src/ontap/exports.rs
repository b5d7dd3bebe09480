//! The NFS side of the cluster: which files a data LIF serves below an export path, and guest
//! writes through such a mount; this is the `Exports` view the Proxmox side reads storages through.

use super::state::OntapState;
use super::tree;
use crate::pve::exports::{ExportedFile, Exports};

impl OntapState {
    /// The files below `export` on the SVM that owns the data LIF `server` (None: no such export).
    pub fn exported_files(&self, server: &str, export: &str) -> Option<Vec<ExportedFile>> {
        let (vol, dir) = self.resolve_export(server, export)?;
        if !vol.tree.is_dir(&dir) {
            return None;
        }
        let cut = if dir.is_empty() { 0 } else { dir.len() + 1 };
        Some(
            vol.tree
                .below(&dir)
                .filter_map(|(path, node)| match node.kind {
                    tree::Kind::File { size, generation } => Some(ExportedFile {
                        path: path[cut..].to_string(),
                        size,
                        generation,
                    }),
                    tree::Kind::Directory => None,
                })
                .collect(),
        )
    }

    /// Bump the content generation of these files (relative to the export); returns how many
    /// existed.
    pub fn write_files(&mut self, server: &str, export: &str, paths: &[String]) -> usize {
        // jobs that are due land first, so a write after a clone never goes to the old tree
        self.tick();
        let Some((vol, dir)) = self
            .resolve_export(server, export)
            .map(|(v, d)| (v.uuid.clone(), d))
        else {
            return 0;
        };
        let now = self.now();
        let Some(vol) = self.volume_mut(&vol) else {
            return 0;
        };
        paths
            .iter()
            .filter_map(|p| tree::normalize(p))
            .filter(|p| {
                let full = if dir.is_empty() {
                    p.clone()
                } else {
                    format!("{dir}/{p}")
                };
                vol.tree.write(&full, now)
            })
            .count()
    }
}

impl Exports for OntapState {
    fn exported_files(&self, server: &str, export: &str) -> Option<Vec<ExportedFile>> {
        OntapState::exported_files(self, server, export)
    }

    fn write_files(&mut self, server: &str, export: &str, paths: &[String]) -> usize {
        OntapState::write_files(self, server, export, paths)
    }
}
