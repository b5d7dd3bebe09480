//! Test support shared by every unit test: one double of the Proxmox VE and ONTAP APIs and the
//! scenarios it starts from. Compiled only for tests.

pub mod double;
pub mod scenario;
