//! The simulated Proxmox VE cluster: state (nodes, storages, guests with configs, run states, guest
//! agents, tasks, users and tokens) and the API handlers under `/api2/json/`.

use serde::{Deserialize, Serialize};

/// The Proxmox part of a scenario.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {}

#[derive(Debug, Default)]
pub struct PveState {}

impl PveState {
    pub fn new(_scenario: &Scenario) -> PveState {
        PveState {}
    }
}

impl PveState {
    /// The password account of the scenario: (userid, password).
    pub fn root_credentials(&self) -> (String, String) {
        (String::new(), String::new())
    }

    /// Ids of the `nfs` storages (each gets an ONTAP section in the written config).
    pub fn nfs_storage_ids(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Serve one Proxmox VE API request (`/api2/json/...`).
pub fn handle(
    shared: &crate::world::Shared,
    req: &crate::http::Request,
    job_fault: Option<&crate::world::JobFault>,
) -> crate::http::Response {
    let _ = (shared, req, job_fault);
    crate::http::Response::json(501, &serde_json::json!({"data": null}))
}

/// `POST /_sim/guests/<vmid>/write`: bump the content generation of every disk file of the guest
/// (through the ONTAP side); returns how many files changed, or why not (unknown guest).
pub fn guest_write(world: &mut crate::world::World, vmid: u32) -> Result<usize, String> {
    let _ = (world, vmid);
    Err("not implemented".into())
}

impl PveState {
    /// The API token of the scenario: (token id `USER@REALM!TOKENID`, secret).
    pub fn api_token(&self) -> (String, String) {
        (String::new(), String::new())
    }

    /// The whole Proxmox state as JSON, for `GET /_sim/state`.
    pub fn dump(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}
