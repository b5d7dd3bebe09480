//! pve-ontap-sim: a simulated NetApp ONTAP cluster and Proxmox VE cluster over HTTPS, sharing one state.
//! Library so tests can run it in-process; `main.rs` is the `pve-ontap-sim` binary (DESIGN §7).

pub mod http;
pub mod ontap;
pub mod pve;
pub mod world;
