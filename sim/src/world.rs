//! The simulated world: one ONTAP cluster and one Proxmox VE cluster in memory, behind one lock.
//! The HTTPS listeners, the control API and both API handlers all work on this.

use serde::{Deserialize, Serialize};

use crate::{ontap, pve};

/// A scenario file (JSON): the starting state of both sides. Missing parts take the built-in default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    pub ontap: ontap::Scenario,
    pub pve: pve::Scenario,
}

/// The live state.
#[derive(Debug)]
pub struct World {
    pub ontap: ontap::OntapState,
    pub pve: pve::PveState,
}

impl World {
    pub fn new(scenario: &Scenario) -> World {
        World {
            ontap: ontap::OntapState::new(&scenario.ontap),
            pve: pve::PveState::new(&scenario.pve),
        }
    }
}
