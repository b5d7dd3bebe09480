//! The workflows: what each command and hook does, decided here over the `Pve` and `Ontap` traits.
//! This layer never builds URLs; the clients never decide policy.

use std::sync::Arc;

use crate::error::Result;
use crate::ontap::Ontap;
use crate::ops::window::Guard;
use crate::pve::Pve;

pub mod clock;
pub mod disks;
pub mod guardian;
pub mod manifest;
pub mod parallel;
pub mod quiesce;
pub mod rescan;
pub mod resolve;
pub mod status;
pub mod storage;
pub mod vm;
pub mod window;

/// Access to the two APIs. The live implementation connects lazily (a hook phase with no action
/// never opens a connection); tests pass fakes or clients pointed at the simulator.
pub trait Backends: Send + Sync {
    /// The Proxmox VE client.
    fn pve(&self) -> Result<Arc<dyn Pve>>;
    /// The ONTAP client for the cluster that exports this Proxmox storage (its config section).
    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>>;
    /// What arms a guardian for each pause, freeze or shutdown window.
    fn guard(&self) -> Result<Arc<dyn Guard>>;
}
