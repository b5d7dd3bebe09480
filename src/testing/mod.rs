//! Test support shared by every unit test: one double of the Proxmox VE and ONTAP APIs, the
//! scenarios it starts from and a settable clock. Compiled only for tests.

pub mod clock;
pub mod double;
pub mod scenario;
