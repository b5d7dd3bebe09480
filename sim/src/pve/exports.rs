//! What Proxmox sees of ONTAP: the files below an NFS export (`server:export` of an nfs storage)
//! and guest writes through that mount; the only link between the two simulated APIs.

/// One file below an NFS export, as Proxmox sees it through the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Path relative to the export, e.g. `images/100/vm-100-disk-0.qcow2`.
    pub path: String,
    pub size: u64,
    /// Content generation (bumped by every simulated guest write).
    pub generation: u64,
}

/// The NFS exports a storage of type `nfs` mounts (implemented by the simulated ONTAP cluster).
pub trait Exports {
    /// The files below `export` served by the data LIF `server` (None: no such export, the mount
    /// fails).
    fn exported_files(&self, server: &str, export: &str) -> Option<Vec<ExportedFile>>;

    /// Bump the content generation of these files (relative to the export); returns how many
    /// existed.
    fn write_files(&mut self, server: &str, export: &str, paths: &[String]) -> usize;
}
