//! Operating-system plumbing: node and cluster locks, signals, detached processes, default paths.
//! No workflow decisions here; the layers above say what to lock, run or wait for.

pub mod lock;
pub mod paths;
pub mod process;
pub mod signals;
