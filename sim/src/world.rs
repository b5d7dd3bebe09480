//! The simulated world: one ONTAP cluster and one Proxmox VE cluster in memory, behind one lock,
//! plus what every handler gets from the server (`Shared`) and which listener a request came in on.

use std::sync::Mutex;
use std::time::Duration;

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

    /// Finish the ONTAP jobs and Proxmox tasks whose time has come (the handlers do this on every
    /// request), so state read from outside is what a client asking now would see.
    pub fn settle(&mut self) {
        self.ontap.tick();
        self.pve.advance(std::time::Instant::now());
    }

    /// Both sides as JSON (`GET /_sim/state`): `{"ontap": {...}, "pve": {...}}`, settled first.
    pub fn dump(&mut self) -> serde_json::Value {
        self.settle();
        serde_json::json!({"ontap": self.ontap.dump(), "pve": self.pve.dump()})
    }
}

/// Shared by all connections of both listeners.
#[derive(Debug)]
pub struct Shared {
    /// Lock only for short state changes; never sleep while holding it.
    pub world: Mutex<World>,
    /// The scenario the world started from (for `/_sim/reset`).
    pub scenario: Scenario,
    /// `--latency-ms`: added to every API response (not to `/_sim/`).
    pub latency: Duration,
}

impl Shared {
    /// A fresh world built from `scenario`.
    pub fn new(scenario: Scenario, latency: Duration) -> Shared {
        Shared {
            world: Mutex::new(World::new(&scenario)),
            scenario,
            latency,
        }
    }

    /// Lock the world (recovering from a handler that panicked while holding it).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Put the world back to the scenario it started from.
    pub fn reset_world(&self) {
        *self.lock() = World::new(&self.scenario);
    }
}

/// Which of the two listeners a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Ontap,
    Pve,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Ontap => "ontap",
            Api::Pve => "pve",
        }
    }
}
