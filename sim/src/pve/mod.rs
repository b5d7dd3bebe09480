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
