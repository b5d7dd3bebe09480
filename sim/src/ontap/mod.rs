//! The simulated ONTAP cluster: state (SVMs, LIFs, volumes with file trees, snapshots, FlexClones,
//! jobs) and the REST handlers under `/api/`.
//!
//! Layout: `scenario` (the scenario file and the built-in default), `state` + `tree` + `clock`
//! (the live cluster), `router` + `auth` + `params` (request handling), `fields` + `filter` +
//! `collection` (ONTAP's query language and paging), one module per resource (`cluster`,
//! `volumes`, `snapshots`, `files`, `clone`, `cli`), `jobs` (asynchronous operations) and
//! `errors` (ONTAP error bodies).

mod auth;
mod cli;
mod clock;
mod clone;
mod cluster;
mod collection;
mod errors;
mod fields;
mod filedata;
mod files;
mod filter;
mod jobs;
mod params;
mod router;
mod scenario;
mod snapshots;
mod state;
mod tree;
mod volumes;

#[cfg(test)]
mod tests;

pub use errors::ApiError;
pub use scenario::{
    parse_size, Account, FileSpec, LifSpec, Role, Scenario, Size, SnapshotSpec, SvmSpec, VolumeSpec,
};
pub use state::OntapState;

/// One file below an NFS export, as Proxmox sees it through the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Path relative to the export, e.g. `images/100/vm-100-disk-0.qcow2`.
    pub path: String,
    pub size: u64,
    /// Content generation (bumped by every simulated guest write).
    pub generation: u64,
}

/// Serve one ONTAP REST request (`/api/...`).
pub fn handle(
    shared: &crate::world::Shared,
    req: &crate::http::Request,
    job_fault: Option<&crate::world::JobFault>,
) -> crate::http::Response {
    let reply = {
        let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut world.ontap;
        state.tick();
        router::route(state, req, job_fault)
    };
    let mut response = match reply {
        jobs::Reply::Done(r) => r,
        jobs::Reply::Wait(w) => jobs::wait(shared, w),
    };
    if req.method.eq_ignore_ascii_case("HEAD") {
        response.body.clear();
    }
    response
}
