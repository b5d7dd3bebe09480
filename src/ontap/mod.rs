//! NetApp ONTAP: the domain types and the `Ontap` trait the workflows use, plus the REST client behind it.
//! Fields, paging, jobs, retries and error codes stay inside this module; callers see finished results.

use serde::Serialize;

use crate::error::Result;

mod bulk;
pub mod client;
mod connection;
mod errors;
mod fields;
mod filedata;
mod jobs;
mod paging;
mod request;

pub use bulk::SnapshotDeletes;
pub use client::OntapClient;
pub use connection::Connection;

/// ONTAP release as reported by `/api/cluster?fields=version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OntapVersion {
    pub generation: u32,
    pub major: u32,
    pub minor: u32,
}

impl OntapVersion {
    pub const fn new(generation: u32, major: u32, minor: u32) -> Self {
        OntapVersion {
            generation,
            major,
            minor,
        }
    }

    /// At least `generation.major` (e.g. `at_least(9, 12)` for volume delete `force`).
    pub fn at_least(&self, generation: u32, major: u32) -> bool {
        (self.generation, self.major) >= (generation, major)
    }
}

/// An SVM reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Svm {
    pub name: String,
    pub uuid: String,
}

/// A volume with the fields the tool asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Volume {
    pub name: String,
    pub uuid: String,
    pub svm_name: String,
    pub svm_uuid: String,
    /// Junction path; None when not mounted.
    pub nas_path: Option<String>,
    pub export_policy: Option<String>,
    pub is_flexclone: bool,
    pub parent_volume: Option<String>,
    pub parent_snapshot: Option<String>,
    pub state: Option<String>,
    pub style: Option<String>,
    pub size: Option<u64>,
    pub used: Option<u64>,
    pub available: Option<u64>,
    pub snapshot_count: Option<u64>,
    pub comment: Option<String>,
    /// `space.snapshot.used`: bytes held by the volume's snapshots.
    pub snapshot_used: Option<u64>,
    /// `snapshot_locking_enabled` (ONTAP 9.12.1+; None when ONTAP does not report it).
    pub snapshot_locking_enabled: Option<bool>,
}

/// A snapshot of a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub name: String,
    pub uuid: String,
    /// ISO-8601 with offset, as ONTAP reports it.
    pub create_time: String,
    pub comment: Option<String>,
    pub snapmirror_label: Option<String>,
    pub expiry_time: Option<String>,
    /// `snaplock_expiry_time`: locked (tamperproof) until then; None when not locked.
    pub snaplock_expiry_time: Option<String>,
    /// e.g. `volume_clone` when a FlexClone depends on it.
    pub owners: Vec<String>,
    pub size: Option<u64>,
}

/// What `POST .../snapshots` creates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NewSnapshot {
    pub name: String,
    pub comment: Option<String>,
    pub snapmirror_label: Option<String>,
    /// ISO-8601.
    pub expiry_time: Option<String>,
    /// ISO-8601: lock the snapshot until then (volumes with snapshot locking, ONTAP 9.12.1+).
    pub snaplock_expiry_time: Option<String>,
}

/// Many snapshots of one volume to delete at once (`Ontap::delete_snapshots`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotBatch {
    /// The names to delete.
    pub names: Vec<String>,
    /// Every snapshot name the volume has (the ones to delete among them): a name pattern is only
    /// used where it reaches nothing else.
    pub all_names: Vec<String>,
    /// The `create_time` of the newest snapshot to delete, as ONTAP reported it: nothing newer is
    /// ever selected (a snapshot made after the listing cannot match).
    pub newest_create_time: String,
    /// Patterns cover at least this many leading characters (e.g. the tool's name prefix).
    pub min_prefix: usize,
}

/// What `POST /storage/volumes` creates for a FlexClone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFlexClone {
    pub name: String,
    pub svm_name: String,
    pub parent_volume: String,
    pub parent_snapshot: String,
    pub nas_path: String,
    pub export_policy: Option<String>,
}

/// One entry of a directory listing (`/storage/volumes/{uuid}/files/{path}`), `.` and `..` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    pub name: String,
    /// `file`, `directory`, ...
    pub file_type: String,
    pub size: Option<u64>,
}

/// The ONTAP calls the workflows make. Every mutating call waits for its job (bounded) and returns the
/// finished result; transient answers (volume busy, EBUSY, a dropped GET) are retried inside.
pub trait Ontap: Send + Sync {
    /// `GET /api/cluster?fields=version`; `Ok(None)` when the account may not read it (403).
    fn version(&self) -> Result<Option<OntapVersion>>;
    /// The SVM owning the data LIF with this IP (`/api/network/ip/interfaces?ip.address=`).
    /// `Ok(None)`: no such LIF. `Err` with HTTP 403 inside: the account may not look (caller falls back).
    fn svm_by_lif(&self, ip: &str) -> Result<Option<Svm>>;
    /// Volumes matching the filters (field=value pairs as ONTAP query filters), full `Volume` fields.
    fn volumes(&self, filters: &[(&str, &str)]) -> Result<Vec<Volume>>;
    /// One volume by uuid.
    fn volume(&self, uuid: &str) -> Result<Volume>;
    /// Every snapshot of a volume (all pages).
    fn snapshots(&self, volume_uuid: &str) -> Result<Vec<Snapshot>>;
    /// One snapshot by name; `Error::NotFound` when the volume has none of that name.
    fn snapshot(&self, volume_uuid: &str, name: &str) -> Result<Snapshot>;
    /// Create a snapshot, wait for the job, and return it as ONTAP now reports it.
    fn create_snapshot(&self, volume_uuid: &str, snapshot: &NewSnapshot) -> Result<Snapshot>;
    /// Delete a snapshot by uuid and wait for the job.
    fn delete_snapshot(&self, volume_uuid: &str, snapshot_uuid: &str) -> Result<()>;
    /// Delete many snapshots of one volume in as few requests as ONTAP allows (query-based
    /// DELETE, one job per request, every record tried), waiting for the jobs; each name is
    /// reported deleted or failed with ONTAP's reason. `Ok(None)`: this ONTAP offers no such
    /// request (before 9.11.1, or it refused the query) and nothing was deleted — delete one by one.
    fn delete_snapshots(
        &self,
        volume_uuid: &str,
        batch: &SnapshotBatch,
    ) -> Result<Option<SnapshotDeletes>>;
    /// Volume SnapRestore (`PATCH ?restore_to.snapshot.name=`) and wait for the job.
    fn restore_volume(&self, volume_uuid: &str, snapshot_name: &str) -> Result<()>;
    /// The CLI's `volume snapshot restore -force true` (private CLI passthrough) and wait for the
    /// job: restores even when newer snapshots are SnapMirror references, which the REST PATCH
    /// refuses (`1638480`). Those relationships then fail until they are resynchronised.
    fn restore_volume_forced(&self, svm: &str, volume_name: &str, snapshot: &str) -> Result<()>;
    /// Create a FlexClone volume, wait for the job, return the new volume.
    fn create_flexclone(&self, clone: &NewFlexClone) -> Result<Volume>;
    /// `PATCH nas.export_policy.name`.
    fn set_export_policy(&self, volume_uuid: &str, policy: &str) -> Result<()>;
    /// Unjunction (`PATCH nas.path = ""`).
    fn unmount_volume(&self, volume_uuid: &str) -> Result<()>;
    /// `DELETE /storage/volumes/{uuid}` (with `force=true` to skip the recovery queue on 9.12+ when asked).
    fn delete_volume(&self, volume_uuid: &str, force: bool) -> Result<()>;
    /// Purge a deleted volume from its SVM's volume recovery queue (needed below ONTAP 9.12, where
    /// `delete_volume` cannot pass `force`): only the entry `<volume_name>_<dsid>` of the deletion
    /// just made, never another volume whose name starts the same. `Ok(true)` when purged,
    /// `Ok(false)` when this client does not offer it: the caller then tells the user how to do it.
    fn purge_recovery_queue(&self, svm: &str, volume_name: &str) -> Result<bool>;
    /// File clone inside one volume (paths relative to the volume root; a source may be under
    /// `.snapshot/<name>/`), waiting for the job.
    fn clone_file(
        &self,
        volume: &Volume,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<()>;
    /// Directory listing (relative path, "" for the volume root); `Error::NotFound` when missing.
    fn list_dir(&self, volume_uuid: &str, path: &str) -> Result<Vec<FileInfo>>;
    /// Delete one file (relative path).
    fn delete_file(&self, volume_uuid: &str, path: &str) -> Result<()>;
    /// Write `data` (at most 1 MB) from the start of a file, creating it and missing directories;
    /// a longer old file keeps its tail (readers must know where their data ends).
    fn write_file(&self, volume_uuid: &str, path: &str, data: &[u8]) -> Result<()>;
    /// Read a whole file of at most `max` bytes; `Error::NotFound` when it does not exist.
    fn read_file(&self, volume_uuid: &str, path: &str, max: usize) -> Result<Vec<u8>>;
    /// Create a directory (and missing parents); an existing one is fine.
    fn create_directory(&self, volume_uuid: &str, path: &str) -> Result<()>;
}

#[cfg(test)]
mod sim_tests;
