//! Guest recovery from any snapshot: restore one guest from a storage snapshot, clone a new guest
//! from a snapshot, attach one disk of a snapshot to a helper guest.

pub mod newconfig;
pub mod plan;
