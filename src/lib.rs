//! pve-ontap-snapshot: ONTAP volume snapshots and per-VM file-clone snapshots for Proxmox VE.
//! `src/main.rs` is thin; the modules below hold everything, data flowing CLI → config → ops → clients → http.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod hook;
pub mod http;
pub mod lock;
#[path = "sys/cluster_lock.rs"]
pub mod cluster_lock;
#[path = "sys/seams.rs"]
pub mod seams;
#[path = "sys/rescan_slot.rs"]
pub mod rescan_slot;
#[path = "sys/storage_lock.rs"]
pub mod storage_lock;
pub mod logging;
pub mod ontap;
pub mod ops;
pub mod output;
pub mod paths;
#[cfg(test)]
pub(crate) mod props;
pub mod pve;
pub mod secret;
