//! Running as a Proxmox hook: the guest hookscript (`<vmid> <phase>`) and the vzdump hook
//! (`<phase> [<mode> <vmid>]`), the phase policies, deferred work and scheduled runs.

pub mod policy;
