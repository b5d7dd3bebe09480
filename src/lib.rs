//! pve-ontap-snapshot: ONTAP volume snapshots and per-VM file-clone snapshots for Proxmox VE.
//! `src/main.rs` is thin; the modules below hold everything, data flowing CLI → config → ops → clients → http.
//!
//! Layers, each importing only those below it: `app`/`cli`/`logging` → `hook` → `ops`, `config` →
//! `pve`, `ontap` → `http` → `sys`, `model`, `error`, `secret`, `output`.

// The command line and the hooks' entry points.
pub mod app;
pub mod cli;
pub mod logging;

// Hooks, workflows and the configuration.
pub mod config;
pub mod hook;
pub mod ops;

// API clients and their transport.
pub mod http;
pub mod ontap;
pub mod pve;

// Leaves.
pub mod error;
pub mod model;
pub mod output;
pub mod secret;
pub mod sys;

#[cfg(test)]
pub(crate) mod props;
#[cfg(test)]
pub(crate) mod testing;
