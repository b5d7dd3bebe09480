//! The simulated ONTAP cluster: state (SVMs, LIFs, volumes with file trees, snapshots, FlexClones,
//! jobs) and the REST handlers under `/api/`.

use serde::{Deserialize, Serialize};

/// The ONTAP part of a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {}

/// One file below an NFS export, as Proxmox sees it through the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Path relative to the export, e.g. `images/100/vm-100-disk-0.qcow2`.
    pub path: String,
    pub size: u64,
    /// Content generation (bumped by every simulated guest write).
    pub generation: u64,
}

#[derive(Debug, Default)]
pub struct OntapState {}

impl OntapState {
    pub fn new(_scenario: &Scenario) -> OntapState {
        OntapState {}
    }

    /// The files below `export` on the SVM that owns the data LIF `server` (None: no such export).
    /// Used by the Proxmox side to list storage content.
    pub fn exported_files(&self, server: &str, export: &str) -> Option<Vec<ExportedFile>> {
        let _ = (server, export);
        None
    }

    /// Bump the content generation of these files (paths relative to the export); returns how many
    /// existed. Used for `POST /_sim/guests/<vmid>/write`.
    pub fn write_files(&mut self, server: &str, export: &str, paths: &[String]) -> usize {
        let _ = (server, export, paths);
        0
    }
}

impl OntapState {
    /// The cluster admin account of the scenario: (user, password).
    pub fn admin_credentials(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

/// Serve one ONTAP REST request (`/api/...`).
pub fn handle(
    shared: &crate::world::Shared,
    req: &crate::http::Request,
    job_fault: Option<&crate::world::JobFault>,
) -> crate::http::Response {
    let _ = (shared, req, job_fault);
    crate::http::Response::json(
        501,
        &serde_json::json!({"error": {"message": "not implemented", "code": "3"}}),
    )
}

impl OntapState {
    /// The whole ONTAP state as JSON, for `GET /_sim/state`.
    pub fn dump(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}
